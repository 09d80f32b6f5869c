//! The relying party's typed refusals.

use super::rp_jose::JoseFault;

/// Why the relying party refused a step of the OpenID Connect flow. Each variant has a
/// stable [`RpError::code`]; messages carry no token content and no personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RpError {
    /// The RP configuration is unusable (a key, a URL).
    #[error("OIDC relying party configuration: {0}")]
    Config(&'static str),
    /// The system random generator failed (no weaker source is used).
    #[error("random generator failed")]
    Random,
    /// A message is not what the protocol expects (names the message, not its content).
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A JOSE algorithm outside the allow-list (including `none`).
    #[error("algorithm not allowed")]
    Algorithm,
    /// No key of the OP's (or the federation's) key set matches the token's `kid`.
    #[error("unknown signing key")]
    UnknownKey,
    /// A signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// An encrypted token could not be decrypted with the RP's encryption key.
    #[error("cannot decrypt")]
    Decrypt,
    /// The userinfo (or ID token, where required) came unencrypted.
    #[error("token not encrypted")]
    NotEncrypted,
    /// No pending login for this `state`: expired, already used (a replayed callback), or
    /// never issued.
    #[error("unknown or already used state")]
    UnknownState,
    /// The callback's `state` is not the one of the pending login (or of this browser).
    #[error("state mismatch")]
    StateMismatch,
    /// `iss` (callback, ID token, userinfo) is not the OP the login was started with.
    #[error("issuer mismatch")]
    IssuerMismatch,
    /// A token is not addressed to this RP (`aud`/`azp`).
    #[error("wrong audience")]
    WrongAudience,
    /// A token or statement has expired.
    #[error("expired")]
    Expired,
    /// A token is issued in the future (beyond the allowed clock skew).
    #[error("not yet valid")]
    NotYetValid,
    /// The ID token's `nonce` is not the pending login's.
    #[error("nonce mismatch")]
    NonceMismatch,
    /// The ID token's `acr` is missing or below the requested level.
    #[error("authentication level too low")]
    LevelTooLow,
    /// The userinfo `sub` is not the ID token's.
    #[error("subject mismatch")]
    SubjectMismatch,
    /// The OP answered the authorization request with an error (`error` code kept when it
    /// is a plain OAuth code).
    #[error("OP refused the authorization: {0}")]
    OpError(String),
    /// The token endpoint refused (`invalid_grant` for a replayed or unknown code).
    #[error("token endpoint refused: {0}")]
    TokenRefused(String),
    /// The OP's trust chain does not validate (the foundation's reason: expired or
    /// broken chain, bad signature, missing or invalid trust mark…).
    #[error("trust chain: {0}")]
    TrustChain(super::OidcError),
    /// An OpenSSL operation failed while producing a message.
    #[error("cryptographic failure")]
    Crypto,
    /// An OP endpoint could not be reached or answered with an HTTP error (names the
    /// endpoint).
    #[error("OP endpoint unreachable: {0}")]
    Unreachable(&'static str),
    /// The pending-login store failed.
    #[error("store: {0}")]
    Store(String),
}

impl RpError {
    /// A stable, machine-readable code (`oidc.…`).
    pub fn code(&self) -> &'static str {
        match self {
            RpError::Config(_) => "oidc_config",
            RpError::Random => "oidc_random",
            RpError::Malformed(_) => "oidc_malformed",
            RpError::Algorithm => "oidc_algorithm",
            RpError::UnknownKey => "oidc_unknown_key",
            RpError::BadSignature => "oidc_bad_signature",
            RpError::Decrypt => "oidc_decrypt",
            RpError::NotEncrypted => "oidc_not_encrypted",
            RpError::UnknownState => "oidc_unknown_state",
            RpError::StateMismatch => "oidc_state_mismatch",
            RpError::IssuerMismatch => "oidc_issuer_mismatch",
            RpError::WrongAudience => "oidc_wrong_audience",
            RpError::Expired => "oidc_expired",
            RpError::NotYetValid => "oidc_not_yet_valid",
            RpError::NonceMismatch => "oidc_nonce_mismatch",
            RpError::LevelTooLow => "oidc_level_too_low",
            RpError::SubjectMismatch => "oidc_subject_mismatch",
            RpError::OpError(_) => "oidc_op_error",
            RpError::TokenRefused(_) => "oidc_token_refused",
            RpError::TrustChain(_) => "oidc_trust_chain",
            RpError::Crypto => "oidc_crypto",
            RpError::Unreachable(_) => "oidc_unreachable",
            RpError::Store(_) => "oidc_store",
        }
    }

    pub(crate) fn jose(fault: JoseFault, what: &'static str) -> RpError {
        match fault {
            JoseFault::Malformed => RpError::Malformed(what),
            JoseFault::Algorithm => RpError::Algorithm,
            JoseFault::UnknownKey => RpError::UnknownKey,
            JoseFault::Signature => RpError::BadSignature,
            JoseFault::Decrypt => RpError::Decrypt,
            JoseFault::Crypto => RpError::Crypto,
        }
    }

    /// An OAuth error code as sent, if it is a plain code (`[a-z_]`, ≤ 40), else `other`.
    pub(crate) fn oauth_code(code: Option<&str>) -> String {
        match code {
            Some(c)
                if !c.is_empty()
                    && c.len() <= 40
                    && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
            {
                c.to_owned()
            }
            _ => "other".to_owned(),
        }
    }
}
