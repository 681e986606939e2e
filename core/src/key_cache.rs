//! A small bounded cache of parsed keys, so that code written like Alipay's sample
//! (`buildOrderStr(params, pemString)` on every request) does not parse the key every time.
//!
//! Entries are keyed by a SHA-256 digest of the key bytes and what they were parsed as; the
//! cache never keeps a copy of the key text. The least recently used entry goes first.

use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// How many keys a cache holds. A merchant server has one or two; a platform serving many
/// merchants still hits for its busiest ones.
pub const DEFAULT_CAPACITY: usize = 16;

pub struct KeyCache<T> {
    entries: Mutex<Vec<([u8; 32], Arc<T>)>>,
    capacity: usize,
}

impl<T> KeyCache<T> {
    pub const fn new(capacity: usize) -> Self {
        KeyCache {
            entries: Mutex::new(Vec::new()),
            capacity,
        }
    }

    /// The digest an entry is found by: `kind` says what the bytes were parsed as (sign type,
    /// private or public), so the same bytes read two ways are two entries.
    pub fn digest(kind: &str, key: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((kind.len() as u64).to_le_bytes());
        h.update(kind.as_bytes());
        h.update(key);
        h.finalize().into()
    }

    /// The cached value for `digest`, or the result of `parse`, cached when it succeeds.
    /// Parsing happens outside the lock, so one slow parse does not hold up other threads.
    pub fn get_or_insert_with<E>(
        &self,
        digest: [u8; 32],
        parse: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        if let Some(hit) = self.lookup(&digest) {
            return Ok(hit);
        }
        let value = Arc::new(parse()?);
        let mut entries = self.lock();
        if !entries.iter().any(|(d, _)| *d == digest) {
            if entries.len() >= self.capacity {
                entries.pop();
            }
            entries.insert(0, (digest, value.clone()));
        }
        Ok(value)
    }

    fn lookup(&self, digest: &[u8; 32]) -> Option<Arc<T>> {
        let mut entries = self.lock();
        let i = entries.iter().position(|(d, _)| d == digest)?;
        let entry = entries.remove(i);
        let value = entry.1.clone();
        entries.insert(0, entry);
        Some(value)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<([u8; 32], Arc<T>)>> {
        // A panic while holding the lock leaves a consistent Vec: keep using it.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_does_not_parse_again_and_the_oldest_entry_goes_first() {
        let cache: KeyCache<u32> = KeyCache::new(2);
        let parses = std::cell::Cell::new(0);
        let get = |k: &str| {
            *cache
                .get_or_insert_with::<()>(KeyCache::<u32>::digest("RSA", k.as_bytes()), || {
                    parses.set(parses.get() + 1);
                    Ok(k.len() as u32)
                })
                .unwrap()
        };
        get("a");
        get("bb");
        get("a");
        assert_eq!(parses.get(), 2);
        get("ccc"); // evicts "bb", the least recently used
        get("a");
        assert_eq!(parses.get(), 3);
        get("bb");
        assert_eq!(parses.get(), 4);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn errors_are_not_cached() {
        let cache: KeyCache<u32> = KeyCache::new(2);
        let d = KeyCache::<u32>::digest("RSA", b"k");
        assert!(cache
            .get_or_insert_with(d, || Err::<u32, _>("bad"))
            .is_err());
        assert!(cache.is_empty());
    }

    #[test]
    fn the_same_bytes_read_as_another_kind_are_another_entry() {
        assert_ne!(
            KeyCache::<u32>::digest("RSA", b"k"),
            KeyCache::<u32>::digest("RSA2", b"k")
        );
    }
}
