//! The relying party's typed refusals.

use super::rp_jose::JoseFault;

/// Why the relying party refused a step of the OpenID Connect flow. Each variant has a
/// stable [`OidcError::code`]; messages carry no token content and no personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
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
    /// The OP's trust chain does not validate (names the failing check).
    #[error("trust chain: {0}")]
    TrustChain(&'static str),
    /// An OpenSSL operation failed while producing a message.
    #[error("cryptographic failure")]
    Crypto,
    /// The pending-login store failed.
    #[error("store: {0}")]
    Store(String),
}

impl OidcError {
    /// A stable, machine-readable code (`oidc.…`).
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::Config(_) => "oidc.config",
            OidcError::Random => "oidc.random",
            OidcError::Malformed(_) => "oidc.malformed",
            OidcError::Algorithm => "oidc.algorithm",
            OidcError::UnknownKey => "oidc.unknown_key",
            OidcError::BadSignature => "oidc.bad_signature",
            OidcError::Decrypt => "oidc.decrypt",
            OidcError::NotEncrypted => "oidc.not_encrypted",
            OidcError::UnknownState => "oidc.unknown_state",
            OidcError::StateMismatch => "oidc.state_mismatch",
            OidcError::IssuerMismatch => "oidc.issuer_mismatch",
            OidcError::WrongAudience => "oidc.wrong_audience",
            OidcError::Expired => "oidc.expired",
            OidcError::NotYetValid => "oidc.not_yet_valid",
            OidcError::NonceMismatch => "oidc.nonce_mismatch",
            OidcError::LevelTooLow => "oidc.level_too_low",
            OidcError::SubjectMismatch => "oidc.subject_mismatch",
            OidcError::OpError(_) => "oidc.op_error",
            OidcError::TokenRefused(_) => "oidc.token_refused",
            OidcError::TrustChain(_) => "oidc.trust_chain",
            OidcError::Crypto => "oidc.crypto",
            OidcError::Store(_) => "oidc.store",
        }
    }

    pub(crate) fn jose(fault: JoseFault, what: &'static str) -> OidcError {
        match fault {
            JoseFault::Malformed => OidcError::Malformed(what),
            JoseFault::Algorithm => OidcError::Algorithm,
            JoseFault::UnknownKey => OidcError::UnknownKey,
            JoseFault::Signature => OidcError::BadSignature,
            JoseFault::Decrypt => OidcError::Decrypt,
            JoseFault::Crypto => OidcError::Crypto,
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
