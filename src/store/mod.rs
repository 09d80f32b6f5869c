//! Server-side state: the replay cache (single use of each request and assertion) and the
//! pending-login store. Traits here, in-memory defaults ([`MemoryPendingStore`],
//! [`MemoryReplayCache`], [`MemorySessionStore`]); a Redis
//! implementation lives behind the `redis` feature.

mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod sentinel;
mod session;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::RedisStore;
pub use memory::{MemoryPendingStore, MemoryReplayCache};
pub use session::{MemorySessionStore, SessionStore};

use crate::ids::RequestId;
use crate::pending::PendingLogin;
use crate::time::Timestamp;

pub use crate::error::StoreError;

/// Remembers message identifiers until they expire, so each is accepted once.
pub trait ReplayCache: Send + Sync {
    /// Records `key` until `expires`. Returns `Ok(true)` if it was new (the caller may
    /// proceed), `Ok(false)` if it was already there (a replay). Must be atomic: of two
    /// concurrent calls with the same key, exactly one gets `true`.
    fn insert_once(
        &self,
        key: &str,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Records every key until `expires`. `Ok(true)` if all were new, `Ok(false)` if any
    /// was already there (a replay); on a replay the other keys may or may not have been
    /// recorded (recording more only refuses more). Atomic per key, as
    /// [`ReplayCache::insert_once`]. The default calls `insert_once` for each key in
    /// turn; a networked cache sends them in one round trip.
    fn insert_all_once(
        &self,
        keys: &[&str],
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        for key in keys {
            if !self.insert_once(key, expires, now)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Keeps pending logins (what [`crate::ServiceProvider::start_login`] returned) between
/// the redirect to the IdP and the return to the ACS.
///
/// # Per-client bound
///
/// Anyone can start a login, so a store that is only bounded globally can be filled by
/// one client, and then nobody else can log in. [`PendingStore::put_for_client`] bounds
/// the pending logins of each client instead: past `per_client_cap`, that client's
/// oldest pending logins are evicted (its own logins in flight fail at the ACS with
/// "unknown request"), so a flood costs the flooding source, not the others. The axum
/// integration calls it with a hash of the client's address (see
/// `spid_sp::axum::SpidAuthBuilder::pending_per_client`).
pub trait PendingStore: Send + Sync {
    /// Stores a pending login until its expiry.
    fn put(&self, pending: PendingLogin) -> Result<(), StoreError>;

    /// Stores a pending login of `client` (an opaque, bounded key: the integration passes
    /// a hash, never an address) and evicts that client's oldest pending logins so that
    /// at most `per_client_cap` (at least 1) of them remain. Logins already taken or
    /// expired may still count until the store notices; evicting them is harmless.
    ///
    /// The default implementation ignores the client and calls [`PendingStore::put`]:
    /// a store shared by untrusted clients should override it (the in-memory and Redis
    /// stores do).
    fn put_for_client(
        &self,
        pending: PendingLogin,
        client: &str,
        per_client_cap: usize,
    ) -> Result<(), StoreError> {
        let _ = (client, per_client_cap);
        self.put(pending)
    }
    /// Removes and returns the pending login with this request ID, if it exists and has
    /// not expired. Atomic: a second `take` of the same ID returns `None`.
    fn take(&self, id: &RequestId, now: Timestamp) -> Result<Option<PendingLogin>, StoreError>;
}
