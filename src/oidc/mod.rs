//! SPID/CIE OpenID Connect Federation (feature `oidc`): the relying party
//! ([`RelyingParty`]), its Entity Configuration, the authorization-code flow and the
//! claims mapped to the same [`crate::Identity`] as SAML. See docs/oidc.md.

mod rp;
mod rp_chain;
mod rp_error;
pub(crate) mod rp_jose;

pub use rp::{
    Callback, FormPost, OidcLogin, OidcRecord, PendingOidcLogin, Provider, RelyingParty, RpConfig,
    RpKey, Tokens, CLIENT_ASSERTION_TYPE, CLOCK_SKEW_SECONDS, FISCAL_NUMBER_CLAIM,
    PENDING_LIFETIME_SECONDS,
};
pub use rp_chain::{resolve_provider, TrustAnchor};
pub use rp_error::OidcError;

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
) -> Result<(), OidcError> {
    let v = serde_json::to_string(pending).map_err(|_| OidcError::Store("encode".into()))?;
    store
        .put(&pending_key(pending.state()), &v, pending.expires(), now)
        .map_err(|e| OidcError::Store(e.to_string()))
}

/// Takes (single use) the pending login of `state`: [`OidcError::UnknownState`] when it
/// expired, was already taken (a replayed callback) or never existed.
pub fn take_pending(
    store: &dyn SessionStore,
    state: &str,
    now: Timestamp,
) -> Result<PendingOidcLogin, OidcError> {
    if state.is_empty() || state.len() > 256 {
        return Err(OidcError::UnknownState);
    }
    let v = store
        .take(&pending_key(state), now)
        .map_err(|e| OidcError::Store(e.to_string()))?
        .ok_or(OidcError::UnknownState)?;
    serde_json::from_str(&v).map_err(|_| OidcError::Store("decode".into()))
}
