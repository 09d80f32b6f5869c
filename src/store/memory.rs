//! In-memory stores: the embedded default, for one process.

use std::collections::{BTreeMap, HashMap};
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
    /// Each pending login by request ID, with its expiry and, when stored by
    /// `put_for_client`, its client and its place in that client's index.
    entries: HashMap<String, Slot>,
    /// Each client's pending logins, oldest first: insertion number → request ID. Kept
    /// exact (a `take` removes its entry), so bounding a client costs O(log n) per
    /// login, not a walk over its queue.
    clients: HashMap<String, BTreeMap<u64, String>>,
    /// The next insertion number.
    next: u64,
    ops: u64,
}

#[derive(Debug)]
struct Slot {
    expires: Timestamp,
    login: PendingLogin,
    owner: Option<(String, u64)>,
}

impl Pending {
    /// Every [`SWEEP_EVERY`] inserts, or when full: drops expired entries from the map and
    /// from the client indexes.
    fn maybe_sweep(&mut self, now: Timestamp, capacity: usize) {
        self.ops = self.ops.wrapping_add(1);
        if self.ops.is_multiple_of(SWEEP_EVERY) || self.entries.len() >= capacity {
            let clients = &mut self.clients;
            self.entries.retain(|_, slot| {
                let live = slot.expires > now;
                if !live {
                    if let Some((client, n)) = &slot.owner {
                        unindex(clients, client, *n);
                    }
                }
                live
            });
        }
    }

    /// Removes an entry and its place in its client's index.
    fn remove(&mut self, id: &str) -> Option<Slot> {
        let slot = self.entries.remove(id)?;
        if let Some((client, n)) = &slot.owner {
            unindex(&mut self.clients, client, *n);
        }
        Some(slot)
    }
}

/// Removes insertion `n` from `client`'s index (and the index when it is empty).
fn unindex(clients: &mut HashMap<String, BTreeMap<u64, String>>, client: &str, n: u64) {
    if let Some(index) = clients.get_mut(client) {
        index.remove(&n);
        if index.is_empty() {
            clients.remove(client);
        }
    }
}

impl MemoryPendingStore {
    /// A store holding at most `capacity` pending logins.
    pub fn new(capacity: usize) -> Self {
        MemoryPendingStore {
            inner: Mutex::new(Pending {
                entries: HashMap::new(),
                clients: HashMap::new(),
                next: 0,
                ops: 0,
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
        let id = pending.request_id().as_str().to_owned();
        // A login stored again under the same ID replaces the old one and its place.
        st.remove(&id);
        if st.entries.len() >= self.capacity {
            return Err(StoreError("too many pending logins".into()));
        }
        st.entries.insert(
            id,
            Slot {
                expires: pending.expires(),
                login: pending,
                owner: None,
            },
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
        let mut st = self.lock()?;
        st.maybe_sweep(now, self.capacity);
        let id = pending.request_id().as_str().to_owned();
        st.remove(&id);
        // Evict this client's oldest (expired ones not swept yet count until then:
        // evicting them is harmless).
        while st
            .clients
            .get(client)
            .is_some_and(|index| index.len() >= cap)
        {
            let oldest = st
                .clients
                .get_mut(client)
                .and_then(BTreeMap::pop_first)
                .map(|(_, old)| old);
            match oldest {
                Some(old) => {
                    st.entries.remove(&old);
                }
                None => break,
            }
        }
        if st.clients.get(client).is_some_and(BTreeMap::is_empty) {
            st.clients.remove(client);
        }
        if st.entries.len() >= self.capacity {
            return Err(StoreError("too many pending logins".into()));
        }
        let n = st.next;
        st.next = n.wrapping_add(1);
        st.clients
            .entry(client.to_owned())
            .or_default()
            .insert(n, id.clone());
        st.entries.insert(
            id,
            Slot {
                expires: pending.expires(),
                login: pending,
                owner: Some((client.to_owned(), n)),
            },
        );
        Ok(())
    }

    fn take(&self, id: &RequestId, now: Timestamp) -> Result<Option<PendingLogin>, StoreError> {
        let mut st = self.lock()?;
        Ok(match st.remove(id.as_str()) {
            Some(slot) if slot.expires > now => Some(slot.login),
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

    #[test]
    fn pending_store_client_index_stays_exact_without_walking_the_queue() {
        let cap = 50_000;
        let s = MemoryPendingStore::new(1_000_000);
        let t0 = Timestamp::from_unix_seconds(4_000_000_000);
        // One client at a large cap: each put is a map insert, each take removes its
        // place in the index (nothing is left for a later put to walk over).
        for i in 0..cap {
            s.put_for_client(pending(&format!("_a{i}"), t0), "a", cap)
                .unwrap();
        }
        assert_eq!(s.lock().unwrap().clients["a"].len(), cap);
        for i in 0..cap - 1 {
            assert!(s
                .take(&RequestId::new(format!("_a{i}")), t0)
                .unwrap()
                .is_some());
        }
        {
            let st = s.lock().unwrap();
            assert_eq!(st.clients["a"].len(), 1, "taken logins leave the index");
            assert_eq!(st.entries.len(), 1);
        }
        // At the cap, the oldest still pending is evicted, not a taken one.
        let s2 = MemoryPendingStore::new(100);
        for i in 0..3 {
            s2.put_for_client(pending(&format!("_b{i}"), t0), "b", 3)
                .unwrap();
        }
        assert!(s2.take(&RequestId::new("_b1"), t0).unwrap().is_some());
        s2.put_for_client(pending("_b3", t0), "b", 3).unwrap();
        // "_b0", "_b2", "_b3" are pending: three, at the cap, nothing evicted yet.
        for id in ["_b0", "_b2", "_b3"] {
            assert!(s2.lock().unwrap().entries.contains_key(id), "{id}");
        }
        s2.put_for_client(pending("_b4", t0), "b", 3).unwrap();
        assert_eq!(s2.take(&RequestId::new("_b0"), t0).unwrap(), None);
        for id in ["_b2", "_b3", "_b4"] {
            assert!(s2.take(&RequestId::new(id), t0).unwrap().is_some(), "{id}");
        }
        assert!(
            s2.lock().unwrap().clients.is_empty(),
            "an empty index is dropped"
        );
        // The same ID stored again replaces the old entry and its place.
        s2.put_for_client(pending("_c", t0), "c", 3).unwrap();
        s2.put_for_client(pending("_c", t0), "c", 3).unwrap();
        assert_eq!(s2.lock().unwrap().clients["c"].len(), 1);
        // Expired entries leave the index when swept (the store is full here).
        let s3 = MemoryPendingStore::new(2);
        s3.put_for_client(pending("_d0", t0), "d", 5).unwrap();
        s3.put_for_client(pending("_d1", t0), "d", 5).unwrap();
        let later = t0.plus_seconds(61);
        s3.put_for_client(pending("_e0", later), "e", 5).unwrap();
        let st = s3.lock().unwrap();
        assert!(!st.clients.contains_key("d"), "swept: {:?}", st.clients);
        assert_eq!(st.entries.len(), 1);
    }
}
