//! The OP as the relying party trusts it: out of a trust chain validated by the
//! foundation ([`super::resolve_trust_chain`]: statements, expiry, metadata policy,
//! trust marks the anchor lists), never from an unverified document.

use super::rp_error::RpError;
use super::rp_types::Provider;
use super::{resolve_trust_chain, ChainOptions, FederationFetcher, TrustAnchor, TrustChain};
use crate::time::Timestamp;

/// The entity type of an OpenID Provider in a trust chain.
pub const OPENID_PROVIDER: &str = "openid_provider";

impl Provider {
    /// The OP of a validated chain (its `openid_provider` metadata after the policy): for
    /// chains kept in a [`super::TrustChainCache`].
    pub fn from_trust_chain(chain: &TrustChain) -> Result<Provider, RpError> {
        let metadata = serde_json::Value::Object(chain.metadata.clone());
        Provider::from_trusted_metadata(chain.entity_id(), &metadata)
    }
}

/// Resolves and validates the trust chain of `op_id` to one of `anchors` (trust marks
/// required as `opts` says: by default one the anchor lists), then the [`Provider`].
/// A refusal of the chain is [`RpError::TrustChain`] with the foundation's reason.
pub fn resolve_provider(
    op_id: &str,
    anchors: &[TrustAnchor],
    fetcher: &dyn FederationFetcher,
    now: Timestamp,
    opts: &ChainOptions,
) -> Result<Provider, RpError> {
    let chain = resolve_trust_chain(op_id, OPENID_PROVIDER, anchors, fetcher, now, opts)
        .map_err(RpError::TrustChain)?;
    Provider::from_trust_chain(&chain)
}
