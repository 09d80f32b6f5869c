//! Every refusal of the OIDC layer: one enum, one stable code per variant. Messages name
//! the rule and, where useful, a claim or header name or an entity identifier (an
//! organisation's URL); never a token, a key or a user's data.

/// Why a JOSE object, an entity statement, a trust chain or a trust mark was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The input exceeds a size bound (token, header, JWKS, chain).
    #[error("too large: {what}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
    },
    /// Not a well-formed compact JWS/JWE, base64url or JSON object.
    #[error("malformed {what}")]
    Malformed {
        /// The part that was malformed.
        what: &'static str,
    },
    /// A JSON member name appears twice in a header or claims set.
    #[error("duplicate JSON member in {what}")]
    DuplicateMember {
        /// Header or claims.
        what: &'static str,
    },
    /// The `alg` (or `enc`) is not on the allow-list (`none`, HS*, RSA1_5, unknown...).
    #[error("algorithm refused: {alg}")]
    AlgorithmRefused {
        /// The algorithm name, truncated to 32 characters.
        alg: String,
    },
    /// The header carries `crit`: no extension is understood, so it is refused.
    #[error("critical header extension refused")]
    CritRefused,
    /// The header points at or embeds a key (`jku`, `x5u`, `jwk`): keys come only from
    /// trusted JWKS.
    #[error("header key reference refused: {param}")]
    KeyInHeaderRefused {
        /// The header parameter.
        param: &'static str,
    },
    /// JWE compression (`zip`) is refused (decompression bombs).
    #[error("JWE compression refused")]
    ZipRefused,
    /// The `typ` header is not the expected one.
    #[error("unexpected typ (expected {expected})")]
    WrongType {
        /// The expected media type.
        expected: &'static str,
    },
    /// No trusted key matches the header's `kid` (or no `kid` and several candidates).
    #[error("no trusted key for the token")]
    UnknownKey,
    /// The key's type, curve, size, `use` or `alg` does not fit the algorithm.
    #[error("key does not fit the algorithm: {reason}")]
    KeyMismatch {
        /// Which property.
        reason: &'static str,
    },
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The JWE does not decrypt (one error for every decryption failure).
    #[error("decryption failed")]
    DecryptionFailed,
    /// A JWK is invalid or unsupported where a key is required.
    #[error("invalid JWK: {reason}")]
    InvalidJwk {
        /// Which rule.
        reason: &'static str,
    },
    /// A claim is missing or has the wrong type or value.
    #[error("invalid claim {claim}: {reason}")]
    InvalidClaim {
        /// The claim name.
        claim: &'static str,
        /// Which rule.
        reason: &'static str,
    },
    /// The object has expired (`exp` plus the allowed skew is in the past).
    #[error("expired")]
    Expired,
    /// `iat` is in the future beyond the allowed skew.
    #[error("issued in the future")]
    IssuedInFuture,
    /// A statement's `iss`/`sub` does not link to the next one in the chain.
    #[error("trust chain link broken: {reason}")]
    BrokenLink {
        /// Which link rule.
        reason: &'static str,
    },
    /// The discovery visited an entity twice.
    #[error("trust chain loop at {entity}")]
    Loop {
        /// The entity identifier seen twice.
        entity: String,
    },
    /// The chain would exceed the configured depth or fetch budget.
    #[error("trust chain too deep")]
    TooDeep,
    /// No path from the entity reaches a configured trust anchor.
    #[error("no trust chain to a configured trust anchor for {entity}")]
    UnknownTrustAnchor {
        /// The leaf entity identifier.
        entity: String,
    },
    /// The fetcher could not obtain a statement.
    #[error("fetch failed for {url}: {reason}")]
    Fetch {
        /// The URL requested.
        url: String,
        /// The fetcher's reason (no body).
        reason: String,
    },
    /// Two superiors' metadata policies cannot be combined.
    #[error("metadata policy conflict on {parameter}: {reason}")]
    PolicyConflict {
        /// The metadata parameter.
        parameter: String,
        /// Which combination rule.
        reason: &'static str,
    },
    /// The leaf's metadata violates the resolved policy.
    #[error("metadata policy violation on {parameter}: {reason}")]
    PolicyViolation {
        /// The metadata parameter.
        parameter: String,
        /// Which operator.
        reason: &'static str,
    },
    /// The resolved metadata has no entry for the requested entity type.
    #[error("no {entity_type} metadata")]
    NoMetadata {
        /// The entity type (`openid_provider`, `openid_relying_party`...).
        entity_type: String,
    },
    /// No valid trust mark satisfies the requirement.
    #[error("required trust mark missing")]
    TrustMarkMissing,
    /// A trust mark's issuer is not listed by the trust anchor for its id.
    #[error("trust mark issuer not listed by the trust anchor")]
    TrustMarkIssuerNotListed,
    /// A trust mark is invalid (id/sub mismatch, bad signature, expired).
    #[error("invalid trust mark: {reason}")]
    InvalidTrustMark {
        /// Which rule.
        reason: &'static str,
    },
    /// OpenSSL failed on a local operation (key generation, signing, encryption).
    #[error("crypto failure: {0}")]
    Crypto(String),
}

impl OidcError {
    /// The stable code (logs, metrics, the error page).
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::TooLarge { .. } => "oidc_too_large",
            OidcError::Malformed { .. } => "oidc_malformed",
            OidcError::DuplicateMember { .. } => "oidc_duplicate_member",
            OidcError::AlgorithmRefused { .. } => "oidc_alg_refused",
            OidcError::CritRefused => "oidc_crit_refused",
            OidcError::KeyInHeaderRefused { .. } => "oidc_header_key_refused",
            OidcError::ZipRefused => "oidc_zip_refused",
            OidcError::WrongType { .. } => "oidc_wrong_typ",
            OidcError::UnknownKey => "oidc_unknown_key",
            OidcError::KeyMismatch { .. } => "oidc_key_mismatch",
            OidcError::BadSignature => "oidc_bad_signature",
            OidcError::DecryptionFailed => "oidc_decryption_failed",
            OidcError::InvalidJwk { .. } => "oidc_invalid_jwk",
            OidcError::InvalidClaim { .. } => "oidc_invalid_claim",
            OidcError::Expired => "oidc_expired",
            OidcError::IssuedInFuture => "oidc_issued_in_future",
            OidcError::BrokenLink { .. } => "oidc_chain_broken_link",
            OidcError::Loop { .. } => "oidc_chain_loop",
            OidcError::TooDeep => "oidc_chain_too_deep",
            OidcError::UnknownTrustAnchor { .. } => "oidc_unknown_trust_anchor",
            OidcError::Fetch { .. } => "oidc_fetch_failed",
            OidcError::PolicyConflict { .. } => "oidc_policy_conflict",
            OidcError::PolicyViolation { .. } => "oidc_policy_violation",
            OidcError::NoMetadata { .. } => "oidc_no_metadata",
            OidcError::TrustMarkMissing => "oidc_trust_mark_missing",
            OidcError::TrustMarkIssuerNotListed => "oidc_trust_mark_issuer_unlisted",
            OidcError::InvalidTrustMark { .. } => "oidc_trust_mark_invalid",
            OidcError::Crypto(_) => "oidc_crypto",
        }
    }

    pub(crate) fn crypto(e: impl std::fmt::Display) -> OidcError {
        OidcError::Crypto(e.to_string())
    }

    pub(crate) fn alg(name: &str) -> OidcError {
        OidcError::AlgorithmRefused {
            alg: name.chars().take(32).collect(),
        }
    }
}
