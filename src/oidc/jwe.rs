//! JWE compact serialization (RFC 7516) with the allow-listed algorithms only: key
//! management RSA-OAEP (SHA-1) and RSA-OAEP-256; content A128CBC-HS256, A256CBC-HS512
//! (the SPID/CIE reference implementation's default) and A256GCM. RSA1_5, key wrap,
//! `dir`, ECDH-ES, `zip`, `crit` and header key references are refused. Every decryption
//! failure is one error, and a bad wrapped key continues with a random CEK (RFC 7516
//! §11.5) so the failure point does not show.

use openssl::encrypt::{Decrypter, Encrypter};
use openssl::hash::MessageDigest;
use openssl::memcmp;
use openssl::pkey::{PKey, Private, Public};
use openssl::rand::rand_bytes;
use openssl::rsa::Padding;
use openssl::sign::Signer;
use openssl::symm::{decrypt, decrypt_aead, encrypt, encrypt_aead, Cipher};
use serde_json::{Map, Value};

use super::json::{b64d, b64e, object, opt_str};
use super::jwk::{Jwk, KeyType, KeyUse, PrivateJwk};
use super::jws::{check_common_header, MAX_TOKEN_BYTES};
use super::OidcError;

/// The allow-listed key management algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JweAlg {
    /// RSAES-OAEP with SHA-1 and MGF1-SHA-1.
    RsaOaep,
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256.
    RsaOaep256,
}

impl JweAlg {
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            JweAlg::RsaOaep => "RSA-OAEP",
            JweAlg::RsaOaep256 => "RSA-OAEP-256",
        }
    }

    /// The algorithm named `name`, refused when not allow-listed.
    pub fn from_name(name: &str) -> Result<JweAlg, OidcError> {
        match name {
            "RSA-OAEP" => Ok(JweAlg::RsaOaep),
            "RSA-OAEP-256" => Ok(JweAlg::RsaOaep256),
            other => Err(OidcError::alg(other)),
        }
    }

    fn md(self) -> MessageDigest {
        match self {
            JweAlg::RsaOaep => MessageDigest::sha1(),
            JweAlg::RsaOaep256 => MessageDigest::sha256(),
        }
    }
}

/// The allow-listed content encryption algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JweEnc {
    /// AES-128-CBC with HMAC-SHA-256 (RFC 7518 §5.2.3).
    A128CbcHs256,
    /// AES-256-CBC with HMAC-SHA-512 (RFC 7518 §5.2.5).
    A256CbcHs512,
    /// AES-256-GCM.
    A256Gcm,
}

impl JweEnc {
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            JweEnc::A128CbcHs256 => "A128CBC-HS256",
            JweEnc::A256CbcHs512 => "A256CBC-HS512",
            JweEnc::A256Gcm => "A256GCM",
        }
    }

    /// The algorithm named `name`, refused when not allow-listed.
    pub fn from_name(name: &str) -> Result<JweEnc, OidcError> {
        match name {
            "A128CBC-HS256" => Ok(JweEnc::A128CbcHs256),
            "A256CBC-HS512" => Ok(JweEnc::A256CbcHs512),
            "A256GCM" => Ok(JweEnc::A256Gcm),
            other => Err(OidcError::alg(other)),
        }
    }

    fn key_len(self) -> usize {
        match self {
            JweEnc::A128CbcHs256 | JweEnc::A256Gcm => 32,
            JweEnc::A256CbcHs512 => 64,
        }
    }

    fn iv_len(self) -> usize {
        match self {
            JweEnc::A256Gcm => 12,
            _ => 16,
        }
    }
}

/// A decrypted JWE.
#[derive(Clone, Debug)]
pub struct DecryptedJwe {
    /// The key management algorithm.
    pub alg: JweAlg,
    /// The content encryption algorithm.
    pub enc: JweEnc,
    /// The `cty` header (`JWT` for a nested signed token).
    pub cty: Option<String>,
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

/// What [`decrypt_compact`] accepts.
#[derive(Clone, Debug)]
pub struct JwePolicy {
    /// Key management algorithms accepted.
    pub algorithms: Vec<JweAlg>,
    /// Content encryption algorithms accepted.
    pub encryptions: Vec<JweEnc>,
}

impl Default for JwePolicy {
    fn default() -> JwePolicy {
        JwePolicy {
            algorithms: vec![JweAlg::RsaOaep, JweAlg::RsaOaep256],
            encryptions: vec![JweEnc::A128CbcHs256, JweEnc::A256CbcHs512, JweEnc::A256Gcm],
        }
    }
}

fn split5(token: &str) -> Result<[&str; 5], OidcError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(OidcError::TooLarge { what: "JWE" });
    }
    let mut it = token.split('.');
    match (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    ) {
        (Some(a), Some(b), Some(c), Some(d), Some(e), None) => Ok([a, b, c, d, e]),
        _ => Err(OidcError::Malformed {
            what: "compact JWE",
        }),
    }
}

fn cbc_cipher(enc: JweEnc) -> Cipher {
    match enc {
        JweEnc::A256CbcHs512 => Cipher::aes_256_cbc(),
        _ => Cipher::aes_128_cbc(),
    }
}

fn cbc_md(enc: JweEnc) -> MessageDigest {
    match enc {
        JweEnc::A256CbcHs512 => MessageDigest::sha512(),
        _ => MessageDigest::sha256(),
    }
}

/// The RFC 7518 §5.2.2.1 tag: HMAC(MAC_KEY, A ‖ IV ‖ E ‖ AL) truncated to half.
fn cbc_tag(
    enc: JweEnc,
    mac_key: &[u8],
    aad: &[u8],
    iv: &[u8],
    e: &[u8],
) -> Result<Vec<u8>, OidcError> {
    let key = PKey::hmac(mac_key).map_err(OidcError::crypto)?;
    let mut s = Signer::new(cbc_md(enc), &key).map_err(OidcError::crypto)?;
    let al = u64::try_from(aad.len())
        .map_err(OidcError::crypto)?
        .saturating_mul(8)
        .to_be_bytes();
    for part in [aad, iv, e, &al[..]] {
        s.update(part).map_err(OidcError::crypto)?;
    }
    let mut m = s.sign_to_vec().map_err(OidcError::crypto)?;
    m.truncate(mac_key.len());
    Ok(m)
}

/// Content decryption; `Err` only as [`OidcError::DecryptionFailed`].
pub(crate) fn content_decrypt(
    enc: JweEnc,
    cek: &[u8],
    aad: &[u8],
    iv: &[u8],
    e: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>, OidcError> {
    let fail = || OidcError::DecryptionFailed;
    if cek.len() != enc.key_len() || iv.len() != enc.iv_len() {
        return Err(fail());
    }
    match enc {
        JweEnc::A256Gcm => {
            if tag.len() != 16 {
                return Err(fail());
            }
            decrypt_aead(Cipher::aes_256_gcm(), cek, Some(iv), aad, e, tag).map_err(|_| fail())
        }
        JweEnc::A128CbcHs256 | JweEnc::A256CbcHs512 => {
            let (mac_key, enc_key) = cek.split_at(cek.len() / 2);
            let expected = cbc_tag(enc, mac_key, aad, iv, e).map_err(|_| fail())?;
            if tag.len() != expected.len() || !memcmp::eq(tag, &expected) {
                return Err(fail());
            }
            decrypt(cbc_cipher(enc), enc_key, Some(iv), e).map_err(|_| fail())
        }
    }
}

/// Content encryption: (ciphertext, tag).
pub(crate) fn content_encrypt(
    enc: JweEnc,
    cek: &[u8],
    aad: &[u8],
    iv: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), OidcError> {
    match enc {
        JweEnc::A256Gcm => {
            let mut tag = [0u8; 16];
            let e = encrypt_aead(
                Cipher::aes_256_gcm(),
                cek,
                Some(iv),
                aad,
                plaintext,
                &mut tag,
            )
            .map_err(OidcError::crypto)?;
            Ok((e, tag.to_vec()))
        }
        JweEnc::A128CbcHs256 | JweEnc::A256CbcHs512 => {
            let (mac_key, enc_key) = cek.split_at(cek.len() / 2);
            let e = encrypt(cbc_cipher(enc), enc_key, Some(iv), plaintext)
                .map_err(OidcError::crypto)?;
            let tag = cbc_tag(enc, mac_key, aad, iv, &e)?;
            Ok((e, tag))
        }
    }
}

fn unwrap_cek(key: &PKey<Private>, alg: JweAlg, wrapped: &[u8]) -> Option<Vec<u8>> {
    let mut d = Decrypter::new(key).ok()?;
    d.set_rsa_padding(Padding::PKCS1_OAEP).ok()?;
    d.set_rsa_oaep_md(alg.md()).ok()?;
    d.set_rsa_mgf1_md(alg.md()).ok()?;
    let mut out = vec![0u8; d.decrypt_len(wrapped).ok()?];
    let n = d.decrypt(wrapped, &mut out).ok()?;
    out.truncate(n);
    Some(out)
}

fn wrap_cek(key: &PKey<Public>, alg: JweAlg, cek: &[u8]) -> Result<Vec<u8>, OidcError> {
    let mut e = Encrypter::new(key).map_err(OidcError::crypto)?;
    e.set_rsa_padding(Padding::PKCS1_OAEP)
        .and_then(|()| e.set_rsa_oaep_md(alg.md()))
        .and_then(|()| e.set_rsa_mgf1_md(alg.md()))
        .map_err(OidcError::crypto)?;
    let mut out = vec![0u8; e.encrypt_len(cek).map_err(OidcError::crypto)?];
    let n = e.encrypt(cek, &mut out).map_err(OidcError::crypto)?;
    out.truncate(n);
    Ok(out)
}

/// Decrypts a compact JWE with one of our RSA `keys` (chosen by the header's `kid`, or
/// the only RSA key when there is no `kid`).
pub fn decrypt_compact(
    token: &str,
    keys: &[PrivateJwk],
    policy: &JwePolicy,
) -> Result<DecryptedJwe, OidcError> {
    let [h, k, i, c, t] = split5(token)?;
    let header: Map<String, Value> = object(&b64d(h, "JWE header")?, "JWE header")?;
    let alg = JweAlg::from_name(
        opt_str(&header, "alg")?.ok_or(OidcError::Malformed { what: "JWE alg" })?,
    )?;
    let enc = JweEnc::from_name(
        opt_str(&header, "enc")?.ok_or(OidcError::Malformed { what: "JWE enc" })?,
    )?;
    if !policy.algorithms.contains(&alg) {
        return Err(OidcError::alg(alg.name()));
    }
    if !policy.encryptions.contains(&enc) {
        return Err(OidcError::alg(enc.name()));
    }
    check_common_header(&header)?;
    if header.contains_key("zip") {
        return Err(OidcError::ZipRefused);
    }
    let cty = opt_str(&header, "cty")?.map(str::to_owned);
    let mut rsa_keys = keys.iter().filter(|k| k.key_type() == KeyType::Rsa);
    let key = match opt_str(&header, "kid")? {
        Some(kid) => keys.iter().find(|k| k.kid() == kid),
        None => match (rsa_keys.next(), rsa_keys.next()) {
            (Some(k), None) => Some(k),
            _ => None,
        },
    }
    .ok_or(OidcError::UnknownKey)?;
    if key.key_type() != KeyType::Rsa {
        return Err(OidcError::KeyMismatch { reason: "key type" });
    }
    let wrapped = b64d(k, "JWE encrypted key")?;
    let iv = b64d(i, "JWE iv")?;
    let ciphertext = b64d(c, "JWE ciphertext")?;
    let tag = b64d(t, "JWE tag")?;
    // RFC 7516 §11.5: on a bad wrapped key go on with a random CEK, fail at the tag.
    let cek = match unwrap_cek(key.pkey(), alg, &wrapped) {
        Some(cek) if cek.len() == enc.key_len() => cek,
        _ => {
            let mut random = vec![0u8; enc.key_len()];
            rand_bytes(&mut random).map_err(OidcError::crypto)?;
            random
        }
    };
    let plaintext = content_decrypt(enc, &cek, h.as_bytes(), &iv, &ciphertext, &tag)?;
    Ok(DecryptedJwe {
        alg,
        enc,
        cty,
        plaintext,
    })
}

/// Encrypts `plaintext` to the RSA public `recipient` (for the test OP and for request
/// objects an OP asks encrypted). The header carries `alg`, `enc`, the recipient's `kid`
/// and `cty` when given.
pub fn encrypt_compact(
    plaintext: &[u8],
    recipient: &Jwk,
    alg: JweAlg,
    enc: JweEnc,
    cty: Option<&str>,
) -> Result<String, OidcError> {
    if recipient.key_type() != KeyType::Rsa {
        return Err(OidcError::KeyMismatch { reason: "key type" });
    }
    if recipient.key_use() == Some(KeyUse::Signature) {
        return Err(OidcError::KeyMismatch {
            reason: "use is sig",
        });
    }
    let mut header = Map::new();
    header.insert("alg".into(), Value::String(alg.name().into()));
    header.insert("enc".into(), Value::String(enc.name().into()));
    header.insert("kid".into(), Value::String(recipient.kid().into()));
    if let Some(c) = cty {
        header.insert("cty".into(), Value::String(c.into()));
    }
    let header = b64e(&serde_json::to_vec(&Value::Object(header)).map_err(OidcError::crypto)?);
    let mut cek = vec![0u8; enc.key_len()];
    let mut iv = vec![0u8; enc.iv_len()];
    rand_bytes(&mut cek).map_err(OidcError::crypto)?;
    rand_bytes(&mut iv).map_err(OidcError::crypto)?;
    let wrapped = wrap_cek(recipient.pkey(), alg, &cek)?;
    let (e, tag) = content_encrypt(enc, &cek, header.as_bytes(), &iv, plaintext)?;
    Ok(format!(
        "{header}.{}.{}.{}.{}",
        b64e(&wrapped),
        b64e(&iv),
        b64e(&e),
        b64e(&tag)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 7518 Appendix B.1, from tests/data/oidc/rfc7518-b.1-a128cbc-hs256.json.
    #[test]
    fn rfc7518_b1_a128cbc_hs256() {
        let v: Value = serde_json::from_str(include_str!(
            "../../tests/data/oidc/rfc7518-b.1-a128cbc-hs256.json"
        ))
        .unwrap();
        let f = |n: &str| hex(v[n].as_str().unwrap());
        let (e, t) =
            content_encrypt(JweEnc::A128CbcHs256, &f("k"), &f("a"), &f("iv"), &f("p")).unwrap();
        assert_eq!(e, f("e"));
        assert_eq!(t, f("t"));
        let p = content_decrypt(JweEnc::A128CbcHs256, &f("k"), &f("a"), &f("iv"), &e, &t).unwrap();
        assert_eq!(p, f("p"));
        let mut bad = t.clone();
        bad[0] ^= 1;
        assert_eq!(
            content_decrypt(JweEnc::A128CbcHs256, &f("k"), &f("a"), &f("iv"), &e, &bad),
            Err(OidcError::DecryptionFailed)
        );
    }
}
