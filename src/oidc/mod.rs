//! OpenID Connect Federation for SPID/CIE (feature `oidc`): the protocol vocabulary and
//! its rules, no I/O (docs/oidc.md).
//!
//! - JOSE on the system OpenSSL, allow-listed algorithms only: [`jws`] (RS256, PS256,
//!   ES256), [`jwe`] (RSA-OAEP, RSA-OAEP-256 with A128CBC-HS256, A256CBC-HS512, A256GCM),
//!   [`Jwk`]/[`Jwks`]/[`PrivateJwk`] (RSA and EC P-256, RFC 7638 thumbprints).
//! - OpenID Federation 1.0 as the Italian profile uses it: [`EntityStatement`]s,
//!   trust-chain discovery and validation up to a pinned [`TrustAnchor`]
//!   ([`resolve_trust_chain`]), metadata policy ([`apply_policy`]), trust marks, and a
//!   bounded [`TrustChainCache`]. Statements are fetched through the [`FederationFetcher`]
//!   trait: the application or the test implements it (with `refresh`,
//!   [`HttpFederationFetcher`] does it over HTTPS).
//!
//! Every refusal is an [`OidcError`] with a stable [`OidcError::code`].

mod error;
mod json;
mod jwk;

pub mod jwe;
pub mod jws;

pub use error::OidcError;
pub use jwk::{Jwk, Jwks, KeyType, KeyUse, PrivateJwk, MAX_JWKS_BYTES, MAX_JWKS_KEYS};

mod cache;
mod chain;
#[cfg(feature = "refresh")]
mod http;
mod policy;
mod statement;
mod trust_mark;

pub use cache::TrustChainCache;
pub use chain::{
    resolve_trust_chain, ChainOptions, FederationFetcher, TrustAnchor, TrustChain,
    TrustMarkRequirement,
};
#[cfg(feature = "refresh")]
#[cfg_attr(docsrs, doc(cfg(feature = "refresh")))]
pub use http::HttpFederationFetcher;
pub use policy::{apply_policy, combine_policies, OPERATORS};
pub use statement::{
    EntityStatement, StatementDraft, TrustMarkRef, ENTITY_STATEMENT_TYP, WELL_KNOWN_FEDERATION,
};
pub use trust_mark::{verify_trust_mark, TrustMark, TrustMarkDraft, TRUST_MARK_TYP};

/// Compares two secret values (`state`, `nonce`, PKCE verifiers, token hashes) in
/// constant time for equal lengths; values of different lengths are unequal at once
/// (their length is not the secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn constant_time_eq_handles_lengths() {
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"abcd"));
        assert!(super::constant_time_eq(b"", b""));
    }
}

// The relying party (branch wip-oidcrp): the flow on top of the foundation above.
mod rp;
mod rp_chain;
mod rp_error;
pub(crate) mod rp_jose;
mod rp_types;

pub use rp::{
    RelyingParty, CLIENT_ASSERTION_TYPE, CLOCK_SKEW_SECONDS, FISCAL_NUMBER_CLAIM,
    PENDING_LIFETIME_SECONDS,
};
pub use rp_chain::{resolve_provider, OPENID_PROVIDER};
pub use rp_error::RpError;
pub use rp_types::{
    Callback, FormPost, OidcLogin, OidcRecord, PendingOidcLogin, Provider, RpConfig, RpKey, Tokens,
};
