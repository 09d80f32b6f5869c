//! The pending OIDC logins in a [`crate::store::SessionStore`]: single use, keyed by a
//! hash of `state`, expiring with the login.

use super::rp::PendingOidcLogin;
use super::rp_error::RpError;
use super::rp_jose;
use crate::store::SessionStore;
use crate::time::Timestamp;

fn pending_key(state: &str) -> String {
    let h = openssl::sha::sha256(state.as_bytes());
    format!("oidc:{}", rp_jose::b64e(&h))
}

/// Keeps `pending` in `store` until it expires, under a hash of its `state`.
pub fn put_pending(
    store: &dyn SessionStore,
    pending: &PendingOidcLogin,
    now: Timestamp,
) -> Result<(), RpError> {
    let v = serde_json::to_string(pending).map_err(|_| RpError::Store("encode".into()))?;
    store
        .put(&pending_key(pending.state()), &v, pending.expires(), now)
        .map_err(|e| RpError::Store(e.to_string()))
}

/// Takes (single use) the pending login of `state`: [`RpError::UnknownState`] when it
/// expired, was already taken (a replayed callback) or never existed.
pub fn take_pending(
    store: &dyn SessionStore,
    state: &str,
    now: Timestamp,
) -> Result<PendingOidcLogin, RpError> {
    if state.is_empty() || state.len() > 256 {
        return Err(RpError::UnknownState);
    }
    let v = store
        .take(&pending_key(state), now)
        .map_err(|e| RpError::Store(e.to_string()))?
        .ok_or(RpError::UnknownState)?;
    serde_json::from_str(&v).map_err(|_| RpError::Store("decode".into()))
}
