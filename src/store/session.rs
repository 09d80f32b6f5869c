//! What the web integrations keep server-side besides pending logins: user sessions, the
//! one-time hand-offs between the ACS and the browser, and pending logouts. One small
//! key-value trait with expiry ([`SessionStore`]); an in-memory default
//! ([`MemorySessionStore`]); Redis implements it too (feature `redis`).

use std::collections::HashMap;
use std::sync::Mutex;

use super::StoreError;
use crate::time::Timestamp;

/// A key-value store with expiry for the integration's server-side state. Values are
/// JSON text; keys are prefixed by purpose (`sess:`, `handoff:`, `logout:`,
/// `nameid:`) and never contain a raw cookie value (cookies are stored as SHA-256 hashes).
///
/// Calls are synchronous and short (the in-memory store takes a mutex); an
/// implementation over the network must bound its own latency.
pub trait SessionStore: Send + Sync {
    /// Stores `value` under `key` until `expires` (`now` is the caller's clock, for a
    /// time-to-live), replacing any previous value.
    fn put(
        &self,
        key: &str,
        value: &str,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// The value under `key`, if present and not expired.
    fn get(&self, key: &str, now: Timestamp) -> Result<Option<String>, StoreError>;
    /// Removes and returns the value under `key`, if present and not expired. Atomic: of
    /// two concurrent calls, at most one gets the value.
    fn take(&self, key: &str, now: Timestamp) -> Result<Option<String>, StoreError>;
    /// Removes `key` (no error if absent).
    fn remove(&self, key: &str) -> Result<(), StoreError>;
    /// Whether a call can block its thread on I/O (a network store: `true`, the
    /// default). The async integrations (axum extractors, the gateway) run the calls of
    /// a store that says `false` (in memory, a mutex held for a map lookup) on the
    /// request's own task instead of handing them to the blocking thread pool. Return
    /// `false` only when every call is short and never waits on I/O.
    fn may_block(&self) -> bool {
        true
    }
}

/// Sweep expired entries every this many writes.
const SWEEP_EVERY: u64 = 512;

/// A [`SessionStore`] in a mutex-protected map, for one process. Bounded: when
/// `capacity` live entries are stored, new keys are refused (fail closed).
#[derive(Debug)]
pub struct MemorySessionStore {
    inner: Mutex<Entries>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<String, (Timestamp, String)>,
    writes: u64,
}

impl MemorySessionStore {
    /// A store holding at most `capacity` live entries.
    pub fn new(capacity: usize) -> Self {
        MemorySessionStore {
            inner: Mutex::new(Entries::default()),
            capacity,
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Entries>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError("session store poisoned".into()))
    }
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        MemorySessionStore::new(200_000)
    }
}

impl SessionStore for MemorySessionStore {
    fn put(
        &self,
        key: &str,
        value: &str,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut e = self.lock()?;
        e.writes = e.writes.wrapping_add(1);
        if e.writes % SWEEP_EVERY == 0 || e.map.len() >= self.capacity {
            e.map.retain(|_, (exp, _)| *exp > now);
        }
        if e.map.len() >= self.capacity && !e.map.contains_key(key) {
            return Err(StoreError("session store full".into()));
        }
        e.map.insert(key.to_owned(), (expires, value.to_owned()));
        Ok(())
    }

    fn get(&self, key: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        let e = self.lock()?;
        Ok(match e.map.get(key) {
            Some((exp, v)) if *exp > now => Some(v.clone()),
            _ => None,
        })
    }

    fn take(&self, key: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        let mut e = self.lock()?;
        Ok(match e.map.remove(key) {
            Some((exp, v)) if exp > now => Some(v),
            _ => None,
        })
    }

    fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.lock()?.map.remove(key);
        Ok(())
    }

    fn may_block(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_expiry_take_and_capacity() {
        let s = MemorySessionStore::new(2);
        let t0 = Timestamp::from_unix_seconds(4_000_000_000);
        s.put("a", "1", t0.plus_seconds(10), t0).unwrap();
        assert_eq!(s.get("a", t0).unwrap().as_deref(), Some("1"));
        assert_eq!(s.get("a", t0.plus_seconds(10)).unwrap(), None);
        assert_eq!(s.take("a", t0).unwrap().as_deref(), Some("1"));
        assert_eq!(s.take("a", t0).unwrap(), None);
        s.put("b", "2", t0.plus_seconds(10), t0).unwrap();
        s.put("c", "3", t0.plus_seconds(10), t0).unwrap();
        assert!(s.put("d", "4", t0.plus_seconds(10), t0).is_err(), "full");
        s.put("c", "5", t0.plus_seconds(10), t0).unwrap();
        s.remove("b").unwrap();
        s.put("d", "4", t0.plus_seconds(10), t0).unwrap();
        assert!(
            !s.may_block(),
            "in memory: called inline by the async integrations"
        );
    }
}
