//! In-memory stores: the embedded default, for one process.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{PendingStore, ReplayCache, StoreError};
use crate::ids::RequestId;
use crate::sp::PendingLogin;
use crate::time::Timestamp;

/// Sweep expired entries every this many inserts.
const SWEEP_EVERY: u64 = 1024;

/// A [`ReplayCache`] in a mutex-protected map, bounded by `capacity` live entries
/// (when full, new keys are refused: fail closed rather than forget).
#[derive(Debug)]
pub struct MemoryReplayCache {
    inner: Mutex<Map<()>>,
    capacity: usize,
}

#[derive(Debug)]
struct Map<V> {
    entries: HashMap<String, (Timestamp, V)>,
    ops: u64,
}

impl<V> Map<V> {
    fn new() -> Self {
        Map {
            entries: HashMap::new(),
            ops: 0,
        }
    }

    fn maybe_sweep(&mut self, now: Timestamp, capacity: usize) {
        self.ops = self.ops.wrapping_add(1);
        if self.ops % SWEEP_EVERY == 0 || self.entries.len() >= capacity {
            self.entries.retain(|_, (exp, _)| *exp > now);
        }
    }
}

impl MemoryReplayCache {
    /// A cache holding at most `capacity` live entries.
    pub fn new(capacity: usize) -> Self {
        MemoryReplayCache {
            inner: Mutex::new(Map::new()),
            capacity,
        }
    }
}

impl Default for MemoryReplayCache {
    fn default() -> Self {
        MemoryReplayCache::new(1_000_000)
    }
}

impl ReplayCache for MemoryReplayCache {
    fn insert_once(
        &self,
        key: &str,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut map = self
            .inner
            .lock()
            .map_err(|_| StoreError("replay cache poisoned".into()))?;
        map.maybe_sweep(now, self.capacity);
        if let Some((exp, ())) = map.entries.get(key) {
            if *exp > now {
                return Ok(false);
            }
        }
        if map.entries.len() >= self.capacity {
            return Err(StoreError("replay cache full".into()));
        }
        map.entries.insert(key.to_owned(), (expires, ()));
        Ok(true)
    }
}

/// A [`PendingStore`] in a mutex-protected map, bounded by `capacity` live entries.
#[derive(Debug)]
pub struct MemoryPendingStore {
    inner: Mutex<Map<PendingLogin>>,
    capacity: usize,
}

impl MemoryPendingStore {
    /// A store holding at most `capacity` pending logins.
    pub fn new(capacity: usize) -> Self {
        MemoryPendingStore {
            inner: Mutex::new(Map::new()),
            capacity,
        }
    }
}

impl Default for MemoryPendingStore {
    fn default() -> Self {
        MemoryPendingStore::new(100_000)
    }
}

impl PendingStore for MemoryPendingStore {
    fn put(&self, pending: PendingLogin) -> Result<(), StoreError> {
        let now = pending.issue_instant();
        let mut map = self
            .inner
            .lock()
            .map_err(|_| StoreError("pending store poisoned".into()))?;
        map.maybe_sweep(now, self.capacity);
        if map.entries.len() >= self.capacity {
            return Err(StoreError("too many pending logins".into()));
        }
        map.entries.insert(
            pending.request_id().as_str().to_owned(),
            (pending.expires(), pending),
        );
        Ok(())
    }

    fn take(&self, id: &RequestId, now: Timestamp) -> Result<Option<PendingLogin>, StoreError> {
        let mut map = self
            .inner
            .lock()
            .map_err(|_| StoreError("pending store poisoned".into()))?;
        Ok(match map.entries.remove(id.as_str()) {
            Some((exp, p)) if exp > now => Some(p),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_single_use_and_expiry() {
        let c = MemoryReplayCache::new(2);
        let t0 = Timestamp::from_unix_seconds(1000);
        assert!(c.insert_once("a", t0.plus_seconds(10), t0).unwrap());
        assert!(!c.insert_once("a", t0.plus_seconds(10), t0).unwrap());
        assert!(c.insert_once("b", t0.plus_seconds(10), t0).unwrap());
        assert!(
            c.insert_once("c", t0.plus_seconds(10), t0).is_err(),
            "full: fail closed"
        );
        // After expiry the entries are swept and the key may be used again.
        let later = t0.plus_seconds(11);
        assert!(c.insert_once("a", later.plus_seconds(10), later).unwrap());
    }
}
