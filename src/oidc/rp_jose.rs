//! The relying party's narrow view of the JOSE foundation ([`super::jws`],
//! [`super::jwe`], [`super::PrivateJwk`]): the few calls the flow makes, with the
//! algorithms it uses (JWS `RS256` out; in, whatever the foundation's allow-list takes:
//! RS256, PS256, ES256; JWE in: RSA-OAEP(-256) with A128CBC-HS256, A256CBC-HS512,
//! A256GCM; the test federation encrypts with RSA-OAEP-256 + A256GCM).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::jwe::{self, JweAlg, JweEnc, JwePolicy};
use super::jws::{self, JwsAlg, JwsPolicy};
use super::{Jwk, Jwks, KeyType, KeyUse, OidcError, PrivateJwk};

/// The largest token the RP reads.
pub(crate) const MAX_TOKEN: usize = jws::MAX_TOKEN_BYTES;

/// Why a JOSE object was refused (the foundation's error, folded to what the flow
/// distinguishes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoseFault {
    Malformed,
    Algorithm,
    UnknownKey,
    Signature,
    Decrypt,
    Crypto,
}

impl From<OidcError> for JoseFault {
    fn from(e: OidcError) -> JoseFault {
        match e {
            OidcError::TooLarge { .. }
            | OidcError::Malformed { .. }
            | OidcError::DuplicateMember { .. }
            | OidcError::InvalidJwk { .. } => JoseFault::Malformed,
            OidcError::AlgorithmRefused { .. }
            | OidcError::CritRefused
            | OidcError::KeyInHeaderRefused { .. }
            | OidcError::ZipRefused
            | OidcError::WrongType { .. }
            | OidcError::KeyMismatch { .. } => JoseFault::Algorithm,
            OidcError::UnknownKey => JoseFault::UnknownKey,
            OidcError::BadSignature => JoseFault::Signature,
            OidcError::DecryptionFailed => JoseFault::Decrypt,
            _ => JoseFault::Crypto,
        }
    }
}

pub(crate) fn b64e(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A private key of the RP or of the test federation, with its `kid`.
#[derive(Clone)]
pub(crate) struct RsaJwk {
    pub(crate) kid: String,
    pub(crate) key: PrivateJwk,
}

impl std::fmt::Debug for RsaJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaJwk")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl RsaJwk {
    /// An RSA key (at least 2048 bits) from PEM.
    pub(crate) fn from_pem(pem: &[u8]) -> Result<RsaJwk, JoseFault> {
        let key = PrivateJwk::from_pem(pem)?;
        if key.key_type() != KeyType::Rsa {
            return Err(JoseFault::Algorithm);
        }
        Ok(RsaJwk {
            kid: key.kid().to_owned(),
            key,
        })
    }

    pub(crate) fn generate(bits: u32) -> Result<RsaJwk, JoseFault> {
        let key = PrivateJwk::generate_rsa(bits)?;
        Ok(RsaJwk {
            kid: key.kid().to_owned(),
            key,
        })
    }

    /// The same key under another `kid` (the test federation's bad-signature knob).
    #[cfg_attr(not(feature = "test-idp"), allow(dead_code))]
    pub(crate) fn with_kid(&self, kid: &str) -> RsaJwk {
        RsaJwk {
            kid: kid.to_owned(),
            key: self.key.clone().with_kid(kid),
        }
    }

    /// The public JWK with `use` (`sig` or `enc`).
    pub(crate) fn public_jwk(&self, usage: &str) -> Value {
        let u = if usage == "enc" {
            KeyUse::Encryption
        } else {
            KeyUse::Signature
        };
        match self.key.public_jwk() {
            Ok(j) => j.with_use(u).to_value(),
            Err(_) => Value::Null,
        }
    }

    /// A compact JWS (`RS256`) of `claims` with header `typ`.
    pub(crate) fn sign(&self, typ: &str, claims: &Value) -> Result<String, JoseFault> {
        Ok(jws::sign_claims(
            claims,
            &self.key,
            JwsAlg::Rs256,
            Some(typ),
        )?)
    }

    /// Decrypts a compact JWE addressed to this key.
    pub(crate) fn decrypt(&self, token: &str) -> Result<Vec<u8>, JoseFault> {
        let d = jwe::decrypt_compact(
            token,
            std::slice::from_ref(&self.key),
            &JwePolicy::default(),
        )?;
        Ok(d.plaintext)
    }
}

/// The keys of a JWKS value (`{"keys": [...]}`).
pub(crate) fn parse_jwks(jwks: &Value) -> Result<Jwks, JoseFault> {
    Ok(Jwks::from_value(jwks)?)
}

/// A verified JWS's claims.
#[derive(Debug)]
pub(crate) struct Verified {
    pub(crate) claims: Map<String, Value>,
}

/// Verifies a compact JWS against `keys` (the foundation's allow-list, key by `kid`).
pub(crate) fn verify(token: &str, keys: &Jwks) -> Result<Verified, JoseFault> {
    let v = jws::verify(token, keys, &JwsPolicy::default())?;
    Ok(Verified {
        claims: v.claims()?,
    })
}

/// The claims of a compact JWS, unverified (only to find the keys it names for itself).
#[cfg_attr(not(feature = "test-idp"), allow(dead_code))]
pub(crate) fn parse_claims_unverified(token: &str) -> Option<Map<String, Value>> {
    jws::decode_unverified(token).ok().map(|(_, c)| c)
}

/// Encrypts `plaintext` to `to` (`RSA-OAEP-256` + `A256GCM`, `cty`).
#[cfg_attr(not(feature = "test-idp"), allow(dead_code))]
pub(crate) fn encrypt(to: &Jwk, cty: &str, plaintext: &[u8]) -> Result<String, JoseFault> {
    Ok(jwe::encrypt_compact(
        plaintext,
        to,
        JweAlg::RsaOaep256,
        JweEnc::A256Gcm,
        Some(cty),
    )?)
}
