//! The few JOSE operations the relying party's flow needs, on the system OpenSSL, with a
//! closed list of algorithms: JWS `RS256`/`PS256` (sign and verify), JWE key management
//! `RSA-OAEP`/`RSA-OAEP-256` with content encryption `A256GCM`, `A128CBC-HS256` or
//! `A256CBC-HS512` (decrypt; the test federation encrypts with `RSA-OAEP-256` +
//! `A256GCM`). `none`, `HS*`, `dir`, `RSA1_5` and compression are refused.
//!
//! Stop-gap: the `oidc` foundation (JOSE, JWKS, federation) is built in parallel on the
//! `wip-oidc` branch; when it lands the flow moves onto it and this file shrinks to
//! nothing. It is crate-private, so that move changes no public item.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};
use openssl::symm::Cipher;
use serde_json::{json, Map, Value};

/// The largest compact JWS/JWE accepted (the OP's answers are a few kB).
pub(crate) const MAX_TOKEN: usize = 64 * 1024;

/// Why a JOSE object was refused. Stable codes; no token content in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoseFault {
    /// Not compact serialisation, bad base64url or JSON, or too large.
    Malformed,
    /// An algorithm outside the allow-list (including `none`).
    Algorithm,
    /// No key of the set has the token's `kid` (or the set is empty).
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// Decryption failed (wrong key, tampered ciphertext or tag).
    Decrypt,
    /// OpenSSL failed while producing a token.
    Crypto,
}

pub(crate) fn b64e(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn b64d(text: &str) -> Result<Vec<u8>, JoseFault> {
    if text.len() > MAX_TOKEN {
        return Err(JoseFault::Malformed);
    }
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JoseFault::Malformed)
}

fn json_part(text: &str) -> Result<Map<String, Value>, JoseFault> {
    match serde_json::from_slice::<Value>(&b64d(text)?) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(JoseFault::Malformed),
    }
}

/// An RSA private key with its RFC 7638 thumbprint as `kid`.
#[derive(Clone)]
pub(crate) struct RsaJwk {
    pub(crate) kid: String,
    pub(crate) key: PKey<Private>,
}

impl std::fmt::Debug for RsaJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaJwk")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn public_members(rsa: &Rsa<impl openssl::pkey::HasPublic>) -> (String, String) {
    (b64e(&rsa.n().to_vec()), b64e(&rsa.e().to_vec()))
}

/// RFC 7638 thumbprint (SHA-256) of an RSA public key.
fn thumbprint(n: &str, e: &str) -> Result<String, JoseFault> {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let digest = openssl::sha::sha256(canonical.as_bytes());
    Ok(b64e(&digest))
}

impl RsaJwk {
    pub(crate) fn new(key: PKey<Private>) -> Result<RsaJwk, JoseFault> {
        let rsa = key.rsa().map_err(|_| JoseFault::Algorithm)?;
        if rsa.size() < 256 {
            return Err(JoseFault::Algorithm);
        }
        let (n, e) = public_members(&rsa);
        Ok(RsaJwk {
            kid: thumbprint(&n, &e)?,
            key,
        })
    }

    pub(crate) fn generate(bits: u32) -> Result<RsaJwk, JoseFault> {
        let rsa = Rsa::generate(bits).map_err(|_| JoseFault::Crypto)?;
        RsaJwk::new(PKey::from_rsa(rsa).map_err(|_| JoseFault::Crypto)?)
    }

    /// The public JWK (`kty`, `n`, `e`, `kid`, `use`).
    pub(crate) fn public_jwk(&self, usage: &str) -> Value {
        let (n, e) = match self.key.rsa() {
            Ok(rsa) => public_members(&rsa),
            Err(_) => (String::new(), String::new()),
        };
        json!({"kty": "RSA", "use": usage, "kid": self.kid, "n": n, "e": e})
    }

    /// A compact JWS (`RS256`) of `claims` with header `typ`.
    pub(crate) fn sign(&self, typ: &str, claims: &Value) -> Result<String, JoseFault> {
        let header = json!({"alg": "RS256", "kid": self.kid, "typ": typ});
        let input = format!(
            "{}.{}",
            b64e(header.to_string().as_bytes()),
            b64e(claims.to_string().as_bytes())
        );
        let mut signer =
            Signer::new(MessageDigest::sha256(), &self.key).map_err(|_| JoseFault::Crypto)?;
        let sig = signer
            .sign_oneshot_to_vec(input.as_bytes())
            .map_err(|_| JoseFault::Crypto)?;
        Ok(format!("{input}.{}", b64e(&sig)))
    }

    /// Decrypts a compact JWE addressed to this key; returns the plaintext.
    pub(crate) fn decrypt(&self, token: &str) -> Result<Vec<u8>, JoseFault> {
        decrypt(&self.key, token)
    }
}

/// A public RSA key of a JWKS.
#[derive(Clone)]
pub(crate) struct PublicJwk {
    pub(crate) kid: String,
    pub(crate) key: PKey<Public>,
}

impl std::fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicJwk")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The RSA keys of a JWKS (`{"keys": [...]}`); other key types are skipped, a key
/// without `kid` gets its thumbprint. Keys under 2048 bits are refused.
pub(crate) fn parse_jwks(jwks: &Value) -> Result<Vec<PublicJwk>, JoseFault> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(JoseFault::Malformed)?;
    let mut out = Vec::new();
    for k in keys.iter().take(32) {
        if k.get("kty").and_then(Value::as_str) != Some("RSA") {
            continue;
        }
        let n = k
            .get("n")
            .and_then(Value::as_str)
            .ok_or(JoseFault::Malformed)?;
        let e = k
            .get("e")
            .and_then(Value::as_str)
            .ok_or(JoseFault::Malformed)?;
        let nb = BigNum::from_slice(&b64d(n)?).map_err(|_| JoseFault::Malformed)?;
        let eb = BigNum::from_slice(&b64d(e)?).map_err(|_| JoseFault::Malformed)?;
        let rsa = Rsa::from_public_components(nb, eb).map_err(|_| JoseFault::Malformed)?;
        if rsa.size() < 256 {
            return Err(JoseFault::Algorithm);
        }
        let kid = match k.get("kid").and_then(Value::as_str) {
            Some(kid) => kid.to_owned(),
            None => thumbprint(n, e)?,
        };
        let key = PKey::from_rsa(rsa).map_err(|_| JoseFault::Malformed)?;
        out.push(PublicJwk { kid, key });
    }
    Ok(out)
}

/// A verified JWS: its header and its claims.
#[derive(Debug)]
pub(crate) struct Verified {
    #[allow(dead_code)]
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
}

/// The claims of a compact JWS, unverified: only to learn which keys to verify it with
/// (an Entity Configuration carries its own).
#[cfg_attr(not(feature = "test-idp"), allow(dead_code))]
pub(crate) fn parse_claims_unverified(token: &str) -> Option<Map<String, Value>> {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.as_slice() {
        [_, payload, _] => json_part(payload).ok(),
        _ => None,
    }
}

/// Verifies a compact JWS against `keys` (`RS256` or `PS256`, key chosen by `kid`).
pub(crate) fn verify(token: &str, keys: &[PublicJwk]) -> Result<Verified, JoseFault> {
    if token.len() > MAX_TOKEN {
        return Err(JoseFault::Malformed);
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(JoseFault::Malformed);
    };
    let header = json_part(h)?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let pss = match alg {
        "RS256" => false,
        "PS256" => true,
        _ => return Err(JoseFault::Algorithm),
    };
    if header.contains_key("crit") || header.contains_key("zip") {
        return Err(JoseFault::Algorithm);
    }
    let kid = header.get("kid").and_then(Value::as_str);
    let key = keys
        .iter()
        .find(|k| Some(k.kid.as_str()) == kid)
        .ok_or(JoseFault::UnknownKey)?;
    let sig = b64d(s)?;
    let mut v = Verifier::new(MessageDigest::sha256(), &key.key).map_err(|_| JoseFault::Crypto)?;
    if pss {
        v.set_rsa_padding(Padding::PKCS1_PSS)
            .and_then(|()| v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH))
            .map_err(|_| JoseFault::Crypto)?;
    }
    let signed_input_len = h.len() + 1 + p.len();
    let input = token.get(..signed_input_len).ok_or(JoseFault::Malformed)?;
    if !v
        .verify_oneshot(&sig, input.as_bytes())
        .map_err(|_| JoseFault::Signature)?
    {
        return Err(JoseFault::Signature);
    }
    Ok(Verified {
        header,
        claims: json_part(p)?,
    })
}

fn oaep_md(alg: &str) -> Result<MessageDigest, JoseFault> {
    match alg {
        "RSA-OAEP" => Ok(MessageDigest::sha1()),
        "RSA-OAEP-256" => Ok(MessageDigest::sha256()),
        _ => Err(JoseFault::Algorithm),
    }
}

#[cfg_attr(not(feature = "test-idp"), allow(dead_code))]
/// Encrypts `plaintext` to `to` as a compact JWE (`RSA-OAEP-256` + `A256GCM`, `cty`).
pub(crate) fn encrypt(to: &PublicJwk, cty: &str, plaintext: &[u8]) -> Result<String, JoseFault> {
    use openssl::pkey_ctx::PkeyCtx;
    let header = json!({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": to.kid, "cty": cty});
    let protected = b64e(header.to_string().as_bytes());
    let mut cek = [0u8; 32];
    let mut iv = [0u8; 12];
    openssl::rand::rand_bytes(&mut cek).map_err(|_| JoseFault::Crypto)?;
    openssl::rand::rand_bytes(&mut iv).map_err(|_| JoseFault::Crypto)?;
    let mut ctx = PkeyCtx::new(&to.key).map_err(|_| JoseFault::Crypto)?;
    let mut wrapped = Vec::new();
    ctx.encrypt_init()
        .and_then(|()| ctx.set_rsa_padding(Padding::PKCS1_OAEP))
        .and_then(|()| ctx.set_rsa_oaep_md(openssl::md::Md::sha256()))
        .and_then(|()| ctx.set_rsa_mgf1_md(openssl::md::Md::sha256()))
        .and_then(|()| ctx.encrypt_to_vec(&cek, &mut wrapped))
        .map_err(|_| JoseFault::Crypto)?;
    let mut tag = [0u8; 16];
    let ct = openssl::symm::encrypt_aead(
        Cipher::aes_256_gcm(),
        &cek,
        Some(&iv),
        protected.as_bytes(),
        plaintext,
        &mut tag,
    )
    .map_err(|_| JoseFault::Crypto)?;
    Ok(format!(
        "{protected}.{}.{}.{}.{}",
        b64e(&wrapped),
        b64e(&iv),
        b64e(&ct),
        b64e(&tag)
    ))
}

fn decrypt(key: &PKey<Private>, token: &str) -> Result<Vec<u8>, JoseFault> {
    use openssl::pkey_ctx::PkeyCtx;
    if token.len() > MAX_TOKEN {
        return Err(JoseFault::Malformed);
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [h, k, iv, ct, tag] = parts.as_slice() else {
        return Err(JoseFault::Malformed);
    };
    let header = json_part(h)?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let enc = header.get("enc").and_then(Value::as_str).unwrap_or("");
    if header.contains_key("zip") || header.contains_key("crit") {
        return Err(JoseFault::Algorithm);
    }
    let md = oaep_md(alg)?;
    let cek_len = match enc {
        "A256GCM" => 32,
        "A128CBC-HS256" => 32,
        "A256CBC-HS512" => 64,
        _ => return Err(JoseFault::Algorithm),
    };
    let (wrapped, iv, ct, tag) = (b64d(k)?, b64d(iv)?, b64d(ct)?, b64d(tag)?);
    let mut ctx = PkeyCtx::new(key).map_err(|_| JoseFault::Crypto)?;
    let oaep = if md == MessageDigest::sha1() {
        openssl::md::Md::sha1()
    } else {
        openssl::md::Md::sha256()
    };
    let mut cek = Vec::new();
    ctx.decrypt_init()
        .and_then(|()| ctx.set_rsa_padding(Padding::PKCS1_OAEP))
        .and_then(|()| ctx.set_rsa_oaep_md(oaep))
        .and_then(|()| ctx.set_rsa_mgf1_md(oaep))
        .and_then(|()| ctx.decrypt_to_vec(&wrapped, &mut cek))
        .map_err(|_| JoseFault::Decrypt)?;
    if cek.len() != cek_len {
        return Err(JoseFault::Decrypt);
    }
    let aad = h.as_bytes();
    match enc {
        "A256GCM" => {
            if iv.len() != 12 || tag.len() != 16 {
                return Err(JoseFault::Malformed);
            }
            openssl::symm::decrypt_aead(Cipher::aes_256_gcm(), &cek, Some(&iv), aad, &ct, &tag)
                .map_err(|_| JoseFault::Decrypt)
        }
        _ => cbc_hs_decrypt(enc, &cek, &iv, aad, &ct, &tag),
    }
}

/// RFC 7518 §5.2: AES-CBC + HMAC-SHA2, MAC checked (constant time) before decrypting.
fn cbc_hs_decrypt(
    enc: &str,
    cek: &[u8],
    iv: &[u8],
    aad: &[u8],
    ct: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>, JoseFault> {
    let (md, cipher, half) = match enc {
        "A128CBC-HS256" => (MessageDigest::sha256(), Cipher::aes_128_cbc(), 16),
        "A256CBC-HS512" => (MessageDigest::sha512(), Cipher::aes_256_cbc(), 32),
        _ => return Err(JoseFault::Algorithm),
    };
    let (mac_key, enc_key) = (cek.get(..half), cek.get(half..));
    let (Some(mac_key), Some(enc_key)) = (mac_key, enc_key) else {
        return Err(JoseFault::Decrypt);
    };
    if iv.len() != 16 || tag.len() != half {
        return Err(JoseFault::Malformed);
    }
    let al = u64::try_from(aad.len())
        .ok()
        .and_then(|n| n.checked_mul(8))
        .ok_or(JoseFault::Malformed)?;
    let pkey = PKey::hmac(mac_key).map_err(|_| JoseFault::Crypto)?;
    let mut signer = Signer::new(md, &pkey).map_err(|_| JoseFault::Crypto)?;
    let mut data = Vec::with_capacity(aad.len() + iv.len() + ct.len() + 8);
    data.extend_from_slice(aad);
    data.extend_from_slice(iv);
    data.extend_from_slice(ct);
    data.extend_from_slice(&al.to_be_bytes());
    let mac = signer
        .sign_oneshot_to_vec(&data)
        .map_err(|_| JoseFault::Crypto)?;
    let expected = mac.get(..half).ok_or(JoseFault::Crypto)?;
    if !openssl::memcmp::eq(expected, tag) {
        return Err(JoseFault::Decrypt);
    }
    openssl::symm::decrypt(cipher, enc_key, Some(iv), ct).map_err(|_| JoseFault::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_encrypt_decrypt_round_trip() {
        let k = RsaJwk::generate(2048).unwrap();
        let jwks = parse_jwks(&json!({"keys": [k.public_jwk("sig")]})).unwrap();
        let t = k.sign("JWT", &json!({"a": 1})).unwrap();
        assert_eq!(verify(&t, &jwks).unwrap().claims["a"], 1);
        let mut bad = t.clone();
        bad.push('A');
        assert!(verify(&bad, &jwks).is_err());
        let none = format!("{}.{}.", b64e(br#"{"alg":"none"}"#), b64e(b"{}"));
        assert_eq!(verify(&none, &jwks).unwrap_err(), JoseFault::Algorithm);
        let e = encrypt(jwks.first().unwrap(), "JWT", b"hello").unwrap();
        assert_eq!(k.decrypt(&e).unwrap(), b"hello");
        let other = RsaJwk::generate(2048).unwrap();
        assert_eq!(other.decrypt(&e).unwrap_err(), JoseFault::Decrypt);
    }

    /// RFC 7516 appendix B: AES_128_CBC_HMAC_SHA_256 authenticated decryption (the
    /// content-encryption step with the RFC's CEK, IV, AAD, ciphertext and tag).
    #[test]
    fn rfc7516_appendix_b_cbc_hs256() {
        let cek: Vec<u8> = vec![
            4, 211, 31, 197, 84, 157, 252, 254, 11, 100, 157, 250, 63, 170, 106, 206, 107, 124,
            212, 45, 111, 107, 9, 219, 200, 177, 0, 240, 143, 156, 44, 207,
        ];
        let iv: Vec<u8> = vec![
            3, 22, 60, 12, 43, 67, 104, 105, 108, 108, 105, 99, 111, 116, 104, 101,
        ];
        let aad = b"eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0";
        let ct: Vec<u8> = vec![
            40, 57, 83, 181, 119, 33, 133, 148, 198, 185, 243, 24, 152, 230, 6, 75, 129, 223, 127,
            19, 210, 82, 183, 230, 168, 33, 215, 104, 143, 112, 56, 102,
        ];
        let tag: Vec<u8> = vec![
            83, 73, 191, 98, 104, 205, 211, 128, 201, 189, 199, 133, 32, 38, 194, 85,
        ];
        let pt = cbc_hs_decrypt("A128CBC-HS256", &cek, &iv, aad, &ct, &tag).unwrap();
        assert_eq!(pt, b"Live long and prosper.");
        let mut bad = tag.clone();
        bad[0] ^= 1;
        assert!(cbc_hs_decrypt("A128CBC-HS256", &cek, &iv, aad, &ct, &bad).is_err());
    }
}
