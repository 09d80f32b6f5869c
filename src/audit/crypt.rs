//! Payloads encrypted at rest to an offline public key: a fresh AES-256-GCM key per
//! record, wrapped with RSA-OAEP (SHA-256). The running SP holds only the public key, so
//! it can append but cannot read what it wrote; index fields stay in clear.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use openssl::encrypt::{Decrypter, Encrypter};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};

use super::{hex, AuditError, Payload};

/// The algorithm name written in every encrypted payload.
const ALG: &str = "RSA-OAEP-256+A256GCM";
/// Bound to every ciphertext (additional authenticated data).
const AAD: &[u8] = b"spid-sp-audit/payload/v1";
/// Smallest offline RSA key accepted.
const MIN_BITS: u32 = 2048;

/// A payload as stored when encryption is on.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptedPayload {
    /// `RSA-OAEP-256+A256GCM`.
    pub alg: String,
    /// Fingerprint of the offline public key.
    pub key_id: String,
    /// The AES key wrapped with RSA-OAEP (base64).
    pub wrapped_key: String,
    /// The GCM nonce (base64, 12 bytes).
    pub iv: String,
    /// The GCM tag (base64, 16 bytes).
    pub tag: String,
    /// The encrypted JSON of the [`Payload`] (base64).
    pub ciphertext: String,
}

/// Encrypts payloads to the offline public key (what the running SP holds).
#[derive(Clone)]
pub struct PayloadEncryptor {
    key: PKey<Public>,
    id: String,
}

/// Decrypts payloads with the offline private key (what the auditor holds, offline).
#[derive(Clone)]
pub struct PayloadDecryptor {
    key: PKey<Private>,
    id: String,
}

impl std::fmt::Debug for PayloadEncryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadEncryptor")
            .field("id", &self.id)
            .finish()
    }
}

impl std::fmt::Debug for PayloadDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadDecryptor")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn err(what: &str) -> AuditError {
    AuditError(format!("payload encryption: {what}"))
}

fn fingerprint(public_der: &[u8]) -> String {
    let d = crate::dsig::sha256(public_der);
    hex(d.get(..8).unwrap_or(&d))
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Result<Vec<u8>, AuditError> {
    STANDARD.decode(text).map_err(|_| err("bad base64"))
}

impl PayloadEncryptor {
    /// Reads the offline RSA public key (SPKI PEM, at least 2048 bits).
    pub fn from_pem(pem: &[u8]) -> Result<PayloadEncryptor, AuditError> {
        let key = PKey::public_key_from_pem(pem).map_err(|_| err("not a PEM public key"))?;
        let rsa = key.rsa().map_err(|_| err("not an RSA key"))?;
        if rsa.size() * 8 < MIN_BITS {
            return Err(err("RSA key shorter than 2048 bits"));
        }
        let der = key.public_key_to_der().map_err(|_| err("cannot encode"))?;
        Ok(PayloadEncryptor {
            id: fingerprint(&der),
            key,
        })
    }

    /// The key's fingerprint.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Encrypts one payload under a fresh AES-256-GCM key.
    pub fn encrypt(&self, payload: &Payload) -> Result<EncryptedPayload, AuditError> {
        let plain = serde_json::to_vec(payload).map_err(|_| err("cannot serialise"))?;
        let mut key = [0u8; 32];
        let mut iv = [0u8; 12];
        crate::ids::fill_random(&mut key).map_err(|_| err("random generator failed"))?;
        crate::ids::fill_random(&mut iv).map_err(|_| err("random generator failed"))?;
        let mut tag = [0u8; 16];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            &key,
            Some(&iv),
            AAD,
            &plain,
            &mut tag,
        )
        .map_err(|_| err("AES-GCM failed"))?;
        let mut enc = Encrypter::new(&self.key).map_err(|_| err("RSA unavailable"))?;
        enc.set_rsa_padding(Padding::PKCS1_OAEP)
            .and_then(|()| enc.set_rsa_oaep_md(MessageDigest::sha256()))
            .and_then(|()| enc.set_rsa_mgf1_md(MessageDigest::sha256()))
            .map_err(|_| err("RSA-OAEP unavailable"))?;
        let len = enc.encrypt_len(&key).map_err(|_| err("RSA-OAEP failed"))?;
        let mut wrapped = vec![0u8; len];
        let n = enc
            .encrypt(&key, &mut wrapped)
            .map_err(|_| err("RSA-OAEP failed"))?;
        wrapped.truncate(n);
        Ok(EncryptedPayload {
            alg: ALG.into(),
            key_id: self.id.clone(),
            wrapped_key: b64(&wrapped),
            iv: b64(&iv),
            tag: b64(&tag),
            ciphertext: b64(&ciphertext),
        })
    }
}

impl PayloadDecryptor {
    /// A new offline RSA key pair (3072 bits). Keep the private half offline.
    pub fn generate() -> Result<PayloadDecryptor, AuditError> {
        let rsa = Rsa::generate(3072).map_err(|_| err("key generation failed"))?;
        let key = PKey::from_rsa(rsa).map_err(|_| err("key generation failed"))?;
        PayloadDecryptor::from_key(key)
    }

    /// Reads the offline RSA private key (PEM).
    pub fn from_pem(pem: &[u8]) -> Result<PayloadDecryptor, AuditError> {
        let key = PKey::private_key_from_pem(pem).map_err(|_| err("not a PEM private key"))?;
        key.rsa().map_err(|_| err("not an RSA key"))?;
        PayloadDecryptor::from_key(key)
    }

    fn from_key(key: PKey<Private>) -> Result<PayloadDecryptor, AuditError> {
        let der = key.public_key_to_der().map_err(|_| err("cannot encode"))?;
        Ok(PayloadDecryptor {
            id: fingerprint(&der),
            key,
        })
    }

    /// The private key, PKCS#8 PEM.
    pub fn private_pem(&self) -> Result<Vec<u8>, AuditError> {
        self.key
            .private_key_to_pem_pkcs8()
            .map_err(|_| err("cannot encode"))
    }

    /// The public key, SPKI PEM (what the SP is configured with).
    pub fn public_pem(&self) -> Result<Vec<u8>, AuditError> {
        self.key
            .public_key_to_pem()
            .map_err(|_| err("cannot encode"))
    }

    /// Decrypts one payload (fails on a wrong key or any altered byte).
    pub fn decrypt(&self, enc: &EncryptedPayload) -> Result<Payload, AuditError> {
        if enc.alg != ALG {
            return Err(err("unknown algorithm"));
        }
        if enc.key_id != self.id {
            return Err(err("encrypted to another key"));
        }
        let wrapped = unb64(&enc.wrapped_key)?;
        let mut dec = Decrypter::new(&self.key).map_err(|_| err("RSA unavailable"))?;
        dec.set_rsa_padding(Padding::PKCS1_OAEP)
            .and_then(|()| dec.set_rsa_oaep_md(MessageDigest::sha256()))
            .and_then(|()| dec.set_rsa_mgf1_md(MessageDigest::sha256()))
            .map_err(|_| err("RSA-OAEP unavailable"))?;
        let len = dec
            .decrypt_len(&wrapped)
            .map_err(|_| err("unwrap failed"))?;
        let mut key = vec![0u8; len];
        let n = dec
            .decrypt(&wrapped, &mut key)
            .map_err(|_| err("unwrap failed"))?;
        key.truncate(n);
        if key.len() != 32 {
            return Err(err("unwrap failed"));
        }
        let iv = unb64(&enc.iv)?;
        let tag = unb64(&enc.tag)?;
        let ct = unb64(&enc.ciphertext)?;
        let plain = decrypt_aead(Cipher::aes_256_gcm(), &key, Some(&iv), AAD, &ct, &tag)
            .map_err(|_| err("authentication failed"))?;
        serde_json::from_slice(&plain).map_err(|_| err("not a payload"))
    }
}
