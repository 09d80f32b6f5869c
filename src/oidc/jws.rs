//! JWS compact serialization (RFC 7515) with the allow-listed algorithms only: RS256,
//! PS256 (salt = 32 bytes, MGF1-SHA-256) and ES256 (P-256, signature as JOSE `r‖s`, 64
//! bytes, never DER). `none`, HS*, everything else, `crit`, `jku`, `x5u` and an embedded
//! `jwk` are refused; the verification key comes only from the caller's trusted JWKS.

use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::{hash, MessageDigest};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};
use serde_json::{Map, Value};

use super::json::{b64d, b64e, object, opt_str};
use super::jwk::{fixed, Jwk, Jwks, KeyType, KeyUse, PrivateJwk};
use super::OidcError;

/// Largest compact JWS or JWE accepted (64 KiB).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
const MAX_HEADER_BYTES: usize = 8 * 1024;

/// The allow-listed JWS algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JwsAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt.
    Ps256,
    /// ECDSA on P-256 with SHA-256 (`r‖s`).
    Es256,
}

impl JwsAlg {
    /// Every allow-listed algorithm.
    pub const ALL: [JwsAlg; 3] = [JwsAlg::Rs256, JwsAlg::Ps256, JwsAlg::Es256];

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            JwsAlg::Rs256 => "RS256",
            JwsAlg::Ps256 => "PS256",
            JwsAlg::Es256 => "ES256",
        }
    }

    /// The algorithm named `name` (exact, case-sensitive), refused when not allow-listed.
    pub fn from_name(name: &str) -> Result<JwsAlg, OidcError> {
        match name {
            "RS256" => Ok(JwsAlg::Rs256),
            "PS256" => Ok(JwsAlg::Ps256),
            "ES256" => Ok(JwsAlg::Es256),
            other => Err(OidcError::alg(other)),
        }
    }

    /// The default algorithm for a key type (RS256 for RSA, ES256 for P-256).
    pub fn default_for(kty: KeyType) -> JwsAlg {
        match kty {
            KeyType::Rsa => JwsAlg::Rs256,
            KeyType::EcP256 => JwsAlg::Es256,
        }
    }

    fn key_type(self) -> KeyType {
        match self {
            JwsAlg::Rs256 | JwsAlg::Ps256 => KeyType::Rsa,
            JwsAlg::Es256 => KeyType::EcP256,
        }
    }
}

/// The protected header of a verified (or to-be-signed) JWS.
#[derive(Clone, Debug, PartialEq)]
pub struct JwsHeader {
    /// The algorithm.
    pub alg: JwsAlg,
    /// The key identifier.
    pub kid: Option<String>,
    /// The media type (`typ`), as written.
    pub typ: Option<String>,
}

/// A verified JWS: its header and payload bytes.
#[derive(Clone, Debug)]
pub struct VerifiedJws {
    /// The protected header.
    pub header: JwsHeader,
    /// The payload.
    pub payload: Vec<u8>,
    /// The `kid` of the trusted key that verified it.
    pub verified_by: String,
}

impl VerifiedJws {
    /// The payload as a JSON object (duplicate members refused).
    pub fn claims(&self) -> Result<Map<String, Value>, OidcError> {
        object(&self.payload, "JWS payload")
    }
}

/// What [`verify`] accepts.
#[derive(Clone, Debug)]
pub struct JwsPolicy {
    /// The algorithms accepted (a subset of [`JwsAlg::ALL`]).
    pub algorithms: Vec<JwsAlg>,
    /// The `typ` required (compared as RFC 7515 §4.1.9 says: case-insensitive, an
    /// omitted `application/` prefix allowed). `None`: any or none.
    pub typ: Option<&'static str>,
}

impl Default for JwsPolicy {
    fn default() -> JwsPolicy {
        JwsPolicy {
            algorithms: JwsAlg::ALL.to_vec(),
            typ: None,
        }
    }
}

impl JwsPolicy {
    /// Every allow-listed algorithm, `typ` required.
    pub fn with_typ(typ: &'static str) -> JwsPolicy {
        JwsPolicy {
            algorithms: JwsAlg::ALL.to_vec(),
            typ: Some(typ),
        }
    }
}

/// Whether a `typ` value matches `expected` (RFC 7515 §4.1.9).
pub(crate) fn typ_matches(value: &str, expected: &str) -> bool {
    let strip = |s: &str| -> String {
        let l = s.to_ascii_lowercase();
        l.strip_prefix("application/")
            .map(str::to_owned)
            .unwrap_or(l)
    };
    strip(value) == strip(expected)
}

/// Splits a compact JWS in three base64url parts (size bound checked).
fn split3(token: &str) -> Result<(&str, &str, &str), OidcError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(OidcError::TooLarge { what: "JWS" });
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok((h, p, s)),
        _ => Err(OidcError::Malformed {
            what: "compact JWS",
        }),
    }
}

/// Checks the header parameters every JOSE header shares: `crit`, `jku`, `x5u`, `jwk`.
pub(crate) fn check_common_header(header: &Map<String, Value>) -> Result<(), OidcError> {
    if header.contains_key("crit") {
        return Err(OidcError::CritRefused);
    }
    for param in ["jku", "x5u", "jwk"] {
        if header.contains_key(param) {
            return Err(OidcError::KeyInHeaderRefused {
                param: match param {
                    "jku" => "jku",
                    "x5u" => "x5u",
                    _ => "jwk",
                },
            });
        }
    }
    Ok(())
}

fn parse_header(b64: &str) -> Result<(JwsHeader, Map<String, Value>), OidcError> {
    if b64.len() > MAX_HEADER_BYTES {
        return Err(OidcError::TooLarge { what: "JWS header" });
    }
    let map = object(&b64d(b64, "JWS header")?, "JWS header")?;
    let alg = opt_str(&map, "alg")?.ok_or(OidcError::Malformed { what: "JWS alg" })?;
    let alg = JwsAlg::from_name(alg)?;
    check_common_header(&map)?;
    let kid = opt_str(&map, "kid")?.map(str::to_owned);
    let typ = opt_str(&map, "typ")?.map(str::to_owned);
    Ok((JwsHeader { alg, kid, typ }, map))
}

/// The header and payload of a JWS **without verifying it**: for reading the `iss` or
/// the embedded `jwks` that select the keys a later [`verify`] uses. The same header
/// rules apply (allow-list, `crit`, key references); the payload must be a JSON object.
pub fn decode_unverified(token: &str) -> Result<(JwsHeader, Map<String, Value>), OidcError> {
    let (h, p, _) = split3(token)?;
    let (header, _) = parse_header(h)?;
    let claims = object(&b64d(p, "JWS payload")?, "JWS payload")?;
    Ok((header, claims))
}

fn check_key_fits(key: &Jwk, alg: JwsAlg) -> Result<(), OidcError> {
    if key.key_type() != alg.key_type() {
        return Err(OidcError::KeyMismatch { reason: "key type" });
    }
    if key.key_use() == Some(KeyUse::Encryption) {
        return Err(OidcError::KeyMismatch {
            reason: "use is enc",
        });
    }
    if let Some(a) = key.alg() {
        if a != alg.name() {
            return Err(OidcError::KeyMismatch { reason: "alg" });
        }
    }
    Ok(())
}

fn select_key<'k>(keys: &'k Jwks, header: &JwsHeader) -> Result<&'k Jwk, OidcError> {
    match &header.kid {
        Some(kid) => keys.get(kid).ok_or(OidcError::UnknownKey),
        None => {
            let mut candidates = keys.keys().iter().filter(|k| {
                k.key_type() == header.alg.key_type() && k.key_use() != Some(KeyUse::Encryption)
            });
            match (candidates.next(), candidates.next()) {
                (Some(k), None) => Ok(k),
                _ => Err(OidcError::UnknownKey),
            }
        }
    }
}

fn verify_raw(key: &Jwk, alg: JwsAlg, input: &[u8], sig: &[u8]) -> Result<bool, OidcError> {
    let pkey = key.pkey();
    match alg {
        JwsAlg::Rs256 | JwsAlg::Ps256 => {
            let mut v = Verifier::new(MessageDigest::sha256(), pkey).map_err(OidcError::crypto)?;
            if alg == JwsAlg::Ps256 {
                v.set_rsa_padding(Padding::PKCS1_PSS)
                    .and_then(|()| v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH))
                    .and_then(|()| v.set_rsa_mgf1_md(MessageDigest::sha256()))
                    .map_err(OidcError::crypto)?;
            }
            v.update(input).map_err(OidcError::crypto)?;
            Ok(v.verify(sig).unwrap_or(false))
        }
        JwsAlg::Es256 => {
            if sig.len() != 64 {
                return Ok(false);
            }
            let (r, s) = sig.split_at(32);
            let r = BigNum::from_slice(r).map_err(OidcError::crypto)?;
            let s = BigNum::from_slice(s).map_err(OidcError::crypto)?;
            let esig = EcdsaSig::from_private_components(r, s).map_err(OidcError::crypto)?;
            let ec = pkey.ec_key().map_err(OidcError::crypto)?;
            let digest = hash(MessageDigest::sha256(), input).map_err(OidcError::crypto)?;
            Ok(esig.verify(&digest, &ec).unwrap_or(false))
        }
    }
}

/// Verifies a compact JWS against the trusted `keys` under `policy`. The key is the one
/// whose `kid` the header names (or, without `kid`, the only key of the right type).
pub fn verify(token: &str, keys: &Jwks, policy: &JwsPolicy) -> Result<VerifiedJws, OidcError> {
    let (h, p, s) = split3(token)?;
    let (header, _) = parse_header(h)?;
    if !policy.algorithms.contains(&header.alg) {
        return Err(OidcError::alg(header.alg.name()));
    }
    if let Some(expected) = policy.typ {
        match &header.typ {
            Some(t) if typ_matches(t, expected) => {}
            _ => return Err(OidcError::WrongType { expected }),
        }
    }
    let key = select_key(keys, &header)?;
    check_key_fits(key, header.alg)?;
    let sig = b64d(s, "JWS signature")?;
    let payload = b64d(p, "JWS payload")?;
    let signing_input_len = h.len() + 1 + p.len();
    let input = token.get(..signing_input_len).ok_or(OidcError::Malformed {
        what: "compact JWS",
    })?;
    if !verify_raw(key, header.alg, input.as_bytes(), &sig)? {
        return Err(OidcError::BadSignature);
    }
    Ok(VerifiedJws {
        header,
        payload,
        verified_by: key.kid().to_owned(),
    })
}

/// Signs `payload` with `key` under `alg` (checked against the key type); the header
/// carries `alg`, the key's `kid` and `typ` when given.
pub fn sign(
    payload: &[u8],
    key: &PrivateJwk,
    alg: JwsAlg,
    typ: Option<&str>,
) -> Result<String, OidcError> {
    if key.key_type() != alg.key_type() {
        return Err(OidcError::KeyMismatch { reason: "key type" });
    }
    let mut header = Map::new();
    header.insert("alg".into(), Value::String(alg.name().into()));
    header.insert("kid".into(), Value::String(key.kid().into()));
    if let Some(t) = typ {
        header.insert("typ".into(), Value::String(t.into()));
    }
    let header = serde_json::to_vec(&Value::Object(header)).map_err(OidcError::crypto)?;
    let input = format!("{}.{}", b64e(&header), b64e(payload));
    let sig = sign_raw(key, alg, input.as_bytes())?;
    Ok(format!("{input}.{}", b64e(&sig)))
}

/// Signs a JSON claims set (see [`sign`]).
pub fn sign_claims(
    claims: &Value,
    key: &PrivateJwk,
    alg: JwsAlg,
    typ: Option<&str>,
) -> Result<String, OidcError> {
    let payload = serde_json::to_vec(claims).map_err(OidcError::crypto)?;
    sign(&payload, key, alg, typ)
}

fn sign_raw(key: &PrivateJwk, alg: JwsAlg, input: &[u8]) -> Result<Vec<u8>, OidcError> {
    let pkey = key.pkey();
    match alg {
        JwsAlg::Rs256 | JwsAlg::Ps256 => {
            let mut s = Signer::new(MessageDigest::sha256(), pkey).map_err(OidcError::crypto)?;
            if alg == JwsAlg::Ps256 {
                s.set_rsa_padding(Padding::PKCS1_PSS)
                    .and_then(|()| s.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH))
                    .and_then(|()| s.set_rsa_mgf1_md(MessageDigest::sha256()))
                    .map_err(OidcError::crypto)?;
            }
            s.update(input).map_err(OidcError::crypto)?;
            s.sign_to_vec().map_err(OidcError::crypto)
        }
        JwsAlg::Es256 => {
            let ec = pkey.ec_key().map_err(OidcError::crypto)?;
            let digest = hash(MessageDigest::sha256(), input).map_err(OidcError::crypto)?;
            let sig = EcdsaSig::sign(&digest, &ec).map_err(OidcError::crypto)?;
            let mut out = fixed(sig.r(), 32)?;
            out.extend(fixed(sig.s(), 32)?);
            Ok(out)
        }
    }
}
