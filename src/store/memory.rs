//! In-memory stores: the embedded default, for one process.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::{PendingStore, ReplayCache, StoreError};
use crate::ids::RequestId;
use crate::pending::PendingLogin;
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
        if self.ops.is_multiple_of(SWEEP_EVERY) || self.entries.len() >= capacity {
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

/// A [`PendingStore`] in a mutex-protected map, bounded by `capacity` live entries (when
/// full, new logins are refused: fail closed) and, through
/// [`PendingStore::put_for_client`], by a number of pending logins per client (past it,
/// the client's oldest are evicted).
#[derive(Debug)]
pub struct MemoryPendingStore {
    inner: Mutex<Pending>,
    capacity: usize,
}

#[derive(Debug)]
struct Pending {
    map: Map<PendingLogin>,
    /// Request IDs of each client's pending logins, oldest first (entries already taken
    /// or expired are dropped lazily).
    clients: HashMap<String, VecDeque<String>>,
}

impl Pending {
    /// [`Map::maybe_sweep`], and the client queues with it.
    fn maybe_sweep(&mut self, now: Timestamp, capacity: usize) {
        self.map.ops = self.map.ops.wrapping_add(1);
        if self.map.ops.is_multiple_of(SWEEP_EVERY) || self.map.entries.len() >= capacity {
            let entries = &mut self.map.entries;
            entries.retain(|_, (exp, _)| *exp > now);
            self.clients.retain(|_, q| {
                q.retain(|id| entries.contains_key(id));
                !q.is_empty()
            });
        }
    }
}

impl MemoryPendingStore {
    /// A store holding at most `capacity` pending logins.
    pub fn new(capacity: usize) -> Self {
        MemoryPendingStore {
            inner: Mutex::new(Pending {
                map: Map::new(),
                clients: HashMap::new(),
            }),
            capacity,
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Pending>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError("pending store poisoned".into()))
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
        let mut st = self.lock()?;
        st.maybe_sweep(now, self.capacity);
        if st.map.entries.len() >= self.capacity {
            return Err(StoreError("too many pending logins".into()));
        }
        st.map.entries.insert(
            pending.request_id().as_str().to_owned(),
            (pending.expires(), pending),
        );
        Ok(())
    }

    fn put_for_client(
        &self,
        pending: PendingLogin,
        client: &str,
        per_client_cap: usize,
    ) -> Result<(), StoreError> {
        let now = pending.issue_instant();
        let cap = per_client_cap.max(1);
        let mut guard = self.lock()?;
        guard.maybe_sweep(now, self.capacity);
        let st = &mut *guard;
        let entries = &mut st.map.entries;
        let queue = st.clients.entry(client.to_owned()).or_default();
        // Forget what was taken or expired, then evict this client's oldest.
        queue.retain(|id| entries.get(id).is_some_and(|(exp, _)| *exp > now));
        while queue.len() >= cap {
            match queue.pop_front() {
                Some(old) => {
                    entries.remove(&old);
                }
                None => break,
            }
        }
        if entries.len() >= self.capacity {
            if queue.is_empty() {
                st.clients.remove(client);
            }
            return Err(StoreError("too many pending logins".into()));
        }
        let id = pending.request_id().as_str().to_owned();
        queue.push_back(id.clone());
        entries.insert(id, (pending.expires(), pending));
        Ok(())
    }

    fn take(&self, id: &RequestId, now: Timestamp) -> Result<Option<PendingLogin>, StoreError> {
        let mut st = self.lock()?;
        Ok(match st.map.entries.remove(id.as_str()) {
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

    fn pending(id: &str, at: Timestamp) -> PendingLogin {
        use crate::ids::{EntityId, RelayState};
        PendingLogin::from_parts(
            RequestId::new(id),
            EntityId::new("https://idp.test"),
            at,
            at.plus_seconds(60),
            crate::SpidLevel::L2,
            crate::Comparison::Minimum,
            "https://sp.test/acs",
            0,
            RelayState::new("rs"),
        )
    }

    #[test]
    fn pending_store_bounds_each_client_and_evicts_its_oldest() {
        let s = MemoryPendingStore::new(10);
        let t0 = Timestamp::from_unix_seconds(4_000_000_000);
        s.put_for_client(pending("_other", t0), "b", 3).unwrap();
        for i in 0..100 {
            s.put_for_client(pending(&format!("_f{i}"), t0), "a", 3)
                .unwrap();
        }
        // The flood kept only its three newest; the other client's login is untouched.
        for i in 0..97 {
            assert_eq!(s.take(&RequestId::new(format!("_f{i}")), t0).unwrap(), None);
        }
        for i in 97..100 {
            assert!(s
                .take(&RequestId::new(format!("_f{i}")), t0)
                .unwrap()
                .is_some());
        }
        assert!(s.take(&RequestId::new("_other"), t0).unwrap().is_some());
        // Taken entries no longer count against the client.
        for i in 0..3 {
            s.put_for_client(pending(&format!("_g{i}"), t0), "a", 3)
                .unwrap();
        }
        assert!(s.take(&RequestId::new("_g0"), t0).unwrap().is_some());
        s.put_for_client(pending("_g3", t0), "a", 3).unwrap();
        assert!(s.take(&RequestId::new("_g1"), t0).unwrap().is_some());
        // The global bound still fails closed.
        let full = MemoryPendingStore::new(2);
        full.put_for_client(pending("_x", t0), "x", 5).unwrap();
        full.put_for_client(pending("_y", t0), "y", 5).unwrap();
        assert!(full.put_for_client(pending("_z", t0), "z", 5).is_err());
    }
}
