//! What the integration keeps server-side besides pending logins: user sessions, the
//! one-time hand-offs between the ACS and the browser, and pending logouts. One small
//! key-value trait with expiry ([`SessionStore`]); an in-memory default
//! ([`MemorySessionStore`]); a Redis implementation can sit behind the `redis` feature.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::identity::{Attributes, Identity, IdentityKey};
use crate::ids::EntityId;
use crate::level::SpidLevel;
use crate::sp::{SessionInfo, VerifiedLogin};
use crate::store::StoreError;
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
}

/// A logged-in user, as the integration keeps it: the verified identity, the level and
/// what single logout needs. Also an extractor (see the module docs): a handler taking a
/// `Session` only runs for logged-in users.
#[derive(Clone, Debug)]
pub struct Session {
    data: SessionData,
    identity: Identity,
}

/// The stored (JSON) form of a [`Session`].
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct SessionData {
    pub attributes: Attributes,
    pub level: SpidLevel,
    pub info: SessionInfo,
    pub idp_name: Option<String>,
    pub authn_instant: Option<Timestamp>,
    pub created: Timestamp,
    pub expires: Timestamp,
}

impl Session {
    pub(crate) fn from_login(
        login: &VerifiedLogin,
        idp_name: Option<String>,
        now: Timestamp,
        expires: Timestamp,
    ) -> Session {
        Session::from_data(SessionData {
            attributes: login.identity().attributes().clone(),
            level: login.level(),
            info: login.session().clone(),
            idp_name,
            authn_instant: login.authn_instant(),
            created: now,
            expires,
        })
    }

    pub(crate) fn from_data(data: SessionData) -> Session {
        let identity = Identity::from_attributes(data.attributes.clone());
        Session { data, identity }
    }

    pub(crate) fn data(&self) -> &SessionData {
        &self.data
    }

    /// The verified identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }
    /// The key permissions are granted on: the fiscal code, or the eIDAS identifier.
    pub fn key(&self) -> Option<&IdentityKey> {
        self.identity.key()
    }
    /// The level the IdP authenticated the user at.
    pub fn level(&self) -> SpidLevel {
        self.data.level
    }
    /// The IdP's entityID.
    pub fn idp(&self) -> &EntityId {
        &self.data.info.idp
    }
    /// The IdP's display name from its metadata, if any.
    pub fn idp_name(&self) -> Option<&str> {
        self.data.idp_name.as_deref()
    }
    /// The NameID and SessionIndex, for single logout.
    pub fn info(&self) -> &SessionInfo {
        &self.data.info
    }
    /// When the user authenticated at the IdP.
    pub fn authn_instant(&self) -> Option<Timestamp> {
        self.data.authn_instant
    }
    /// When the session was created at the SP.
    pub fn created(&self) -> Timestamp {
        self.data.created
    }
    /// When the session ends.
    pub fn expires(&self) -> Timestamp {
        self.data.expires
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
    }
}
