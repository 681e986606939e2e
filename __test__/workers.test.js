// Worker threads (issue 6): the addon loads in several worker_threads at once and in the main
// thread, and all of them sign (sync and async) and verify concurrently, every output
// checked with node:crypto; a worker terminated while its async work is in flight does not
// take the process down; and the addon loads again in a new worker afterwards.
'use strict'

const crypto = require('node:crypto')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { Worker } = require('node:worker_threads')

const { runRounds } = require('./fixtures/worker-signer')
const H = require('./helpers')
const { buildOrderStr, OrderSigner } = require('..')

const WORKER = path.join(__dirname, 'fixtures', 'worker-signer.js')
const ROOT = path.join(__dirname, '..')

const KEYS = {
  merchantPem: H.pkcs8Pem(H.rsaPair(1024)),
  alipayPem: H.pkcs8Pem(H.rsaPair(1024)),
  // A 4096-bit key makes each signature slow enough that a flood keeps the pool busy.
  slowPem: H.pkcs8Pem(H.rsaPair(4096)),
  md5Key: crypto.randomBytes(16).toString('hex'),
}
const ROUNDS = 25
const CHECKS_PER_ROUND = 9

/** Starts a worker and resolves with its first message; rejects on error or early exit. */
function runWorker(workerData) {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { workerData })
    let message
    w.once('message', (m) => {
      message = m
    })
    w.once('error', reject)
    w.once('exit', (code) => (message !== undefined ? resolve({ message, code }) : reject(new Error(`worker exited ${code} without a message`))))
  })
}

describe('worker_threads', () => {
  test('4 workers and the main thread sign and verify at the same time, all outputs correct', async () => {
    const workers = Array.from({ length: 4 }, (_, i) => runWorker({ mode: 'rounds', rounds: ROUNDS, tag: `W${i}`, keys: KEYS }))
    const main = runRounds({ rounds: ROUNDS, tag: 'MAIN', keys: KEYS })
    const results = await Promise.all([main, ...workers])
    const [mainResult, ...workerResults] = results
    expect(mainResult).toEqual({ checked: ROUNDS * CHECKS_PER_ROUND, wrong: 0, errors: [] })
    for (const { message, code } of workerResults) {
      expect(message).toEqual({ checked: ROUNDS * CHECKS_PER_ROUND, wrong: 0, errors: [] })
      expect(code).toBe(0)
    }
  })

  test('an OrderSigner posted to a worker arrives as a plain empty object: a coded error there, no key', async () => {
    const signer = new OrderSigner({ signType: 'MD5', md5Key: KEYS.md5Key })
    const w = new Worker(
      `const { parentPort } = require('node:worker_threads')
       const m = require(${JSON.stringify(ROOT)})
       parentPort.once('message', (s) => {
         try {
           parentPort.postMessage({ signed: m.buildOrderStr({ a: 'b' }, s, { strict: false }) })
         } catch (e) {
           parentPort.postMessage({ code: e.code, keys: Object.keys(s), inspected: require('node:util').inspect(s) })
         }
       })`,
      { eval: true },
    )
    const reply = new Promise((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
    })
    w.postMessage(signer)
    expect(await reply).toEqual({ code: 'ERR_ALIPAYHK_SIGN_TYPE', keys: [], inspected: '{}' })
    await w.terminate()
  })

  test('terminating workers with async work in flight does not crash; a new worker loads and signs after', async () => {
    for (let round = 0; round < 3; round++) {
      const floods = Array.from({ length: 3 }, () => new Worker(WORKER, { workerData: { mode: 'flood', batch: 16, keys: KEYS } }))
      const inFlight = await Promise.all(
        floods.map(
          (w) =>
            new Promise((resolve, reject) => {
              w.once('message', resolve)
              w.once('error', reject)
            }),
        ),
      )
      for (const m of inFlight) expect(m.inFlight).toBe(48)
      const codes = await Promise.all(floods.map((w) => w.terminate()))
      expect(codes).toEqual([1, 1, 1])
      // The main thread still works, and a fresh worker loads the addon and signs correctly.
      const params = H.validParams({ out_trade_no: `AFTER-${round}` })
      expect(buildOrderStr(params, { signType: 'MD5', md5Key: KEYS.md5Key })).toBe(
        H.refOrderStr(H.refPreSign(params), 'MD5', KEYS.md5Key),
      )
      const { message, code } = await runWorker({ mode: 'rounds', rounds: 2, tag: `NEW${round}`, keys: KEYS })
      expect(message).toEqual({ checked: 2 * CHECKS_PER_ROUND, wrong: 0, errors: [] })
      expect(code).toBe(0)
    }
  })

  test('in a plain node process: terminate mid-work and mid-load, ten times each, then the process exits 0', () => {
    const script = `
      const { Worker } = require('node:worker_threads')
      const keys = JSON.parse(process.env.KEYS)
      ;(async () => {
        for (let i = 0; i < 10; i++) {
          const w = new Worker(${JSON.stringify(WORKER)}, { workerData: { mode: 'flood', batch: 8, keys } })
          await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject) })
          // Terminate at a different moment each time: at once, or after some work finished.
          await new Promise((r) => setTimeout(r, i * 7))
          await w.terminate()
        }
        // Terminate while the addon is still loading in the worker, or just after.
        for (let i = 0; i < 10; i++) {
          const w = new Worker(${JSON.stringify(WORKER)}, { workerData: { mode: 'flood', batch: 4, keys } })
          await new Promise((r) => setTimeout(r, i * 3))
          await w.terminate()
        }
        const w = new Worker(${JSON.stringify(WORKER)}, { workerData: { mode: 'rounds', rounds: 1, tag: 'LAST', keys } })
        const m = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject) })
        process.stdout.write(JSON.stringify(m))
      })().catch((e) => { console.error(e); process.exitCode = 3 })
    `
    const r = spawnSync(process.execPath, ['-e', script], {
      cwd: ROOT,
      env: { ...process.env, KEYS: JSON.stringify(KEYS) },
      encoding: 'utf8',
      timeout: 180000,
    })
    expect(r.error).toBeUndefined()
    expect(r.signal).toBeNull()
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ checked: CHECKS_PER_ROUND, wrong: 0, errors: [] })
  })
})
