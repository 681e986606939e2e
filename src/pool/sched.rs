//! How the async calls share the libuv pool, per JS thread (the main thread and each worker
//! have their own). Calls wait in a queue; up to `limit` runners, each an `AsyncTask` on the
//! pool, take calls from it in order and do them one after another, handing the outcomes
//! back to the JS thread in small batches (a runner stops for that after about a
//! millisecond of work or 64 calls, or when the queue is empty).
//!
//! Signing is pure CPU: more signatures at once than there are cores only makes every one
//! of them wait for a core. The default limit is the number of cores, but one less than the
//! pool (and at least 1), so that the pool keeps a thread for `fs`, `dns.lookup` and `zlib`
//! however many calls wait. A runner goes straight on to the next call, without a round
//! trip through the event loop per call, and offers its core between calls to a waiting
//! thread, so that the event loop is not kept waiting when the runners fill every core.

use super::Job;
use napi::bindgen_prelude::*;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a runner works before it hands back what it has done.
const BATCH: Duration = Duration::from_millis(1);
/// At most this many calls are handed back at once, so that settling them (a few
/// microseconds each, on the event loop) stays short when each call is cheap (MD5).
const MAX_BATCH: usize = 64;
/// How much work a runner does before it offers its core to a waiting thread.
const YIELD: Duration = Duration::from_micros(200);

/// The libuv pool's size, as libuv reads it (Node's default is 4).
fn pool_size() -> usize {
    std::env::var("UV_THREADPOOL_SIZE")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .map_or(4, |n| n.min(1024))
}

pub fn default_limit() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(pool_size().saturating_sub(1)).max(1)
}

type Queue = Arc<Mutex<VecDeque<Box<dyn Job>>>>;

struct Sched {
    limit: usize,
    runners: usize,
    next_id: u64,
    queue: Queue,
}

thread_local! {
    static SCHED: RefCell<Sched> = RefCell::new(Sched {
        limit: default_limit(),
        runners: 0,
        next_id: 0,
        queue: Arc::default(),
    });
}

fn lock(queue: &Queue) -> MutexGuard<'_, VecDeque<Box<dyn Job>>> {
    // A job never panics while the lock is held (run() is outside it), so a poisoned
    // lock still holds a consistent queue.
    queue.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn next_id() -> u64 {
    SCHED.with(|s| {
        let mut s = s.borrow_mut();
        s.next_id += 1;
        s.next_id
    })
}

pub fn limit() -> usize {
    SCHED.with(|s| s.borrow().limit)
}

/// Sets this thread's limit; more runners start at once if calls are waiting.
pub fn set_limit(env: &Env, limit: usize) {
    SCHED.with(|s| s.borrow_mut().limit = limit);
    start_runners(env);
}

pub(super) fn submit(env: &Env, job: Box<dyn Job>) {
    let queue = SCHED.with(|s| s.borrow().queue.clone());
    lock(&queue).push_back(job);
    start_runners(env);
}

/// Starts runners while calls wait and the limit allows. Nothing is borrowed while napi
/// runs, so a call made from inside (a listener, a getter) finds the state usable.
fn start_runners(env: &Env) {
    loop {
        let queue = SCHED.with(|s| {
            let mut s = s.borrow_mut();
            if s.runners >= s.limit || lock(&s.queue).is_empty() {
                return None;
            }
            s.runners += 1;
            Some(s.queue.clone())
        });
        let Some(queue) = queue else {
            return;
        };
        let runner = Runner {
            queue,
            done: Vec::new(),
            owner: std::thread::current().id(),
        };
        // The runner's own Promise is not needed: its calls settle their own.
        if unsafe { AsyncTask::to_napi_value(env.raw(), AsyncTask::new(runner)) }.is_err() {
            SCHED.with(|s| s.borrow_mut().runners -= 1);
            return;
        }
    }
}

/// A waiting call whose signal fired: out of the queue, rejected with its AbortError.
/// (A call a runner has already taken finishes.)
pub fn abort_waiting(env: &Env, id: u64) {
    let queue = SCHED.with(|s| s.borrow().queue.clone());
    let found = {
        let mut q = lock(&queue);
        q.iter()
            .position(|j| j.id() == id)
            .and_then(|at| q.remove(at))
    };
    if let Some(job) = found {
        job.abandon(env);
    }
}

/// Works through the queue on the pool.
struct Runner {
    queue: Queue,
    done: Vec<Box<dyn Job>>,
    owner: std::thread::ThreadId,
}

impl Task for Runner {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        let start = Instant::now();
        let mut yielded = start;
        while start.elapsed() < BATCH && self.done.len() < MAX_BATCH {
            let Some(mut job) = lock(&self.queue).pop_front() else {
                break;
            };
            job.run();
            self.done.push(job);
            // Between calls, at most every YIELD of work, the core is offered to a thread
            // that is waiting for it (the event loop, when the runners fill every core).
            if yielded.elapsed() >= YIELD {
                std::thread::yield_now();
                yielded = Instant::now();
            }
        }
        Ok(())
    }

    fn resolve(&mut self, env: Env, _: ()) -> Result<()> {
        for job in self.done.drain(..) {
            job.settle(&env);
        }
        Ok(())
    }

    fn finally(self, env: Env) -> Result<()> {
        drop(self);
        start_runners(&env);
        Ok(())
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        // Settled or not (a dying env), this runner no longer counts.
        if std::thread::current().id() == self.owner {
            SCHED.with(|s| {
                let mut s = s.borrow_mut();
                s.runners = s.runners.saturating_sub(1);
            });
        }
    }
}
