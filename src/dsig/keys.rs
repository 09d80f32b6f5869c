//! Keys: trusted verification keys (parsed once, from metadata certificates) and the
//! signing key of the SP (or of the test IdP).

use std::fmt;

use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::x509::{X509Ref, X509};

use super::{DigestAlgorithm, SignatureAlgorithm};
use crate::time::Timestamp;

/// A key or certificate could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a parseable certificate.
    #[error("invalid certificate")]
    Certificate,
    /// Not a parseable private key.
    #[error("invalid private key")]
    PrivateKey,
    /// Not an RSA key (the SPID profile signs with RSA only).
    #[error("not an RSA key")]
    NotRsa,
    /// The private key does not belong to the certificate.
    #[error("private key does not match the certificate")]
    Mismatch,
}

/// A trusted public key, decoded once from a certificate in IdP metadata.
///
/// Certificate validity dates are recorded (for expiry warnings) but not enforced: SAML
/// metadata is the trust anchor, as in the metadata interoperability profile.
#[derive(Clone)]
pub struct VerificationKey {
    rsa: Rsa<Public>,
    bits: u32,
    not_after: Option<Timestamp>,
    fingerprint: [u8; 32],
    subject: String,
}

impl VerificationKey {
    /// From a DER certificate.
    pub fn from_certificate_der(der: &[u8]) -> Result<Self, KeyError> {
        let cert = X509::from_der(der).map_err(|_| KeyError::Certificate)?;
        Self::from_x509(&cert)
    }

    /// From a PEM certificate.
    pub fn from_certificate_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let cert = X509::from_pem(pem).map_err(|_| KeyError::Certificate)?;
        Self::from_x509(&cert)
    }

    /// From base64 DER, as in `ds:X509Certificate` (whitespace allowed).
    pub fn from_certificate_base64(b64: &str) -> Result<Self, KeyError> {
        let der = super::decode_base64_ws(b64).ok_or(KeyError::Certificate)?;
        Self::from_certificate_der(&der)
    }

    /// From a parsed certificate.
    pub fn from_x509(cert: &X509Ref) -> Result<Self, KeyError> {
        let key = cert.public_key().map_err(|_| KeyError::Certificate)?;
        let rsa = key.rsa().map_err(|_| KeyError::NotRsa)?;
        let der = cert.to_der().map_err(|_| KeyError::Certificate)?;
        let digest = openssl::hash::hash(openssl::hash::MessageDigest::sha256(), &der)
            .map_err(|_| KeyError::Certificate)?;
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(&digest);
        let subject = cert
            .subject_name()
            .entries()
            .filter_map(|e| {
                let k = e.object().nid().short_name().ok()?;
                let v = String::from_utf8_lossy(e.data().as_slice());
                Some(format!("{k}={}", crate::printable::printable(&v, 256)))
            })
            .collect::<Vec<_>>()
            .join(", ");
        Ok(VerificationKey {
            bits: rsa.size() * 8,
            rsa,
            not_after: asn1_to_timestamp(cert.not_after()),
            fingerprint,
            subject,
        })
    }

    /// The RSA modulus size in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The certificate's notAfter, if it could be read.
    pub fn not_after(&self) -> Option<Timestamp> {
        self.not_after
    }

    /// SHA-256 of the certificate (DER).
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// The certificate subject, for diagnostics.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Verifies an RSA PKCS#1 v1.5 signature over `data`.
    ///
    /// EMSA-PKCS1-v1_5 by "encode and compare" (RFC 8017 §8.2.2), as OpenSSL's `RSA_verify`
    /// does it: the RSA public operation with type-1 padding checked by OpenSSL, then the
    /// payload must equal `DigestInfo(hash(data))` byte for byte. Done on the RSA key
    /// decoded once, without the EVP context (algorithm fetches) OpenSSL 3 builds per call,
    /// which costs a third of the RSA operation itself.
    pub fn verify(&self, alg: SignatureAlgorithm, data: &[u8], signature: &[u8]) -> bool {
        let size = self.rsa.size() as usize;
        if signature.len() != size {
            return false;
        }
        let mut payload = vec![0u8; size];
        let Ok(len) = self
            .rsa
            .public_decrypt(signature, &mut payload, Padding::PKCS1)
        else {
            return false;
        };
        let (digest_alg, prefix) = pkcs1_digest_info(alg);
        let digest = digest_alg.digest(data);
        let Some((got_prefix, got_digest)) = payload
            .get(..len)
            .and_then(|p| p.split_at_checked(prefix.len()))
        else {
            return false;
        };
        got_prefix == prefix && got_digest == &*digest
    }
}

/// The digest of a signature algorithm and the DER `DigestInfo` header that precedes the
/// hash in its PKCS#1 v1.5 encoding (RFC 8017 §9.2, note 1).
fn pkcs1_digest_info(alg: SignatureAlgorithm) -> (DigestAlgorithm, &'static [u8]) {
    match alg {
        SignatureAlgorithm::RsaSha256 => (
            DigestAlgorithm::Sha256,
            &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
        ),
        SignatureAlgorithm::RsaSha384 => (
            DigestAlgorithm::Sha384,
            &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
        ),
        SignatureAlgorithm::RsaSha512 => (
            DigestAlgorithm::Sha512,
            &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        ),
    }
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("bits", &self.bits)
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl PartialEq for VerificationKey {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

pub(crate) fn asn1_to_timestamp(t: &openssl::asn1::Asn1TimeRef) -> Option<Timestamp> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(t).ok()?;
    Some(Timestamp::from_unix_seconds(
        i64::from(diff.days) * 86_400 + i64::from(diff.secs),
    ))
}

/// A private RSA key with its certificate: what signs requests, metadata and (for the test
/// IdP) responses. `Debug` never prints key material.
#[derive(Clone)]
pub struct SigningKey {
    key: PKey<Private>,
    cert: X509,
    cert_base64: String,
    bits: u32,
}

impl SigningKey {
    /// From a PEM private key (PKCS#8 or PKCS#1) and its PEM certificate.
    pub fn from_pem(key_pem: &[u8], cert_pem: &[u8]) -> Result<Self, KeyError> {
        let key = PKey::private_key_from_pem(key_pem).map_err(|_| KeyError::PrivateKey)?;
        let cert = X509::from_pem(cert_pem).map_err(|_| KeyError::Certificate)?;
        Self::new(key, cert)
    }

    /// From a parsed key and certificate.
    pub fn new(key: PKey<Private>, cert: X509) -> Result<Self, KeyError> {
        let rsa = key.rsa().map_err(|_| KeyError::NotRsa)?;
        let cert_key = cert.public_key().map_err(|_| KeyError::Certificate)?;
        if !key.public_eq(&cert_key) {
            return Err(KeyError::Mismatch);
        }
        use base64::Engine as _;
        let der = cert.to_der().map_err(|_| KeyError::Certificate)?;
        Ok(SigningKey {
            bits: rsa.size() * 8,
            cert_base64: base64::engine::general_purpose::STANDARD.encode(der),
            key,
            cert,
        })
    }

    /// The certificate.
    pub fn certificate(&self) -> &X509Ref {
        &self.cert
    }

    /// The certificate as base64 DER (the `ds:X509Certificate` content).
    pub fn certificate_base64(&self) -> &str {
        &self.cert_base64
    }

    /// The matching verification key.
    pub fn verification_key(&self) -> Result<VerificationKey, KeyError> {
        VerificationKey::from_x509(&self.cert)
    }

    /// The RSA modulus size in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The private key.
    pub fn private_key(&self) -> &PKey<Private> {
        &self.key
    }

    /// Signs `data` (RSA PKCS#1 v1.5).
    pub fn sign(&self, alg: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, super::DsigError> {
        let mut signer = openssl::sign::Signer::new(alg.digest(), &self.key)?;
        Ok(signer.sign_oneshot_to_vec(data)?)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::hash::MessageDigest;

    fn key_and_cert() -> (PKey<Private>, X509) {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut b = openssl::x509::X509Builder::new().unwrap();
        b.set_pubkey(&key).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (key, b.build())
    }

    #[test]
    fn verify_matches_openssl_pkcs1_for_every_algorithm() {
        let (key, cert) = key_and_cert();
        let vk = VerificationKey::from_x509(&cert).unwrap();
        let (other, _) = key_and_cert();
        let data = b"<ds:SignedInfo>...</ds:SignedInfo>";
        for alg in [
            SignatureAlgorithm::RsaSha256,
            SignatureAlgorithm::RsaSha384,
            SignatureAlgorithm::RsaSha512,
        ] {
            let sign = |k: &PKey<Private>, d: &[u8]| {
                let mut s = openssl::sign::Signer::new(alg.digest(), k).unwrap();
                s.sign_oneshot_to_vec(d).unwrap()
            };
            let sig = sign(&key, data);
            assert!(vk.verify(alg, data, &sig));
            assert!(!vk.verify(alg, b"other data", &sig));
            assert!(!vk.verify(alg, data, &sign(&other, data)));
            assert!(!vk.verify(alg, data, sig.get(1..).unwrap()));
            let mut flipped = sig.clone();
            flipped[100] ^= 1;
            assert!(!vk.verify(alg, data, &flipped));
            assert!(!vk.verify(alg, data, &[0xffu8; 256]));
            assert!(!vk.verify(alg, data, &[]));
        }
        // A signature made with one hash never verifies as another.
        let sig256 = {
            let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), &key).unwrap();
            s.sign_oneshot_to_vec(data).unwrap()
        };
        assert!(!vk.verify(SignatureAlgorithm::RsaSha384, data, &sig256));
        assert!(!vk.verify(SignatureAlgorithm::RsaSha512, data, &sig256));
    }

    #[test]
    fn verify_refuses_a_bare_hash_without_digest_info() {
        // PKCS#1 type-1 padding around the hash alone (no DigestInfo): a valid RSA
        // operation, not a valid PKCS#1 v1.5 signature.
        let (key, cert) = key_and_cert();
        let vk = VerificationKey::from_x509(&cert).unwrap();
        let data = b"message";
        let rsa = key.rsa().unwrap();
        let mut sig = vec![0u8; 256];
        let n = rsa
            .private_encrypt(&crate::dsig::sha256(data), &mut sig, Padding::PKCS1)
            .unwrap();
        assert_eq!(n, 256);
        assert!(!vk.verify(SignatureAlgorithm::RsaSha256, data, &sig));
    }
}
