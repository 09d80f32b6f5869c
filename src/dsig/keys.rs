//! Keys: trusted verification keys (parsed once, from metadata certificates) and the
//! signing key of the SP (or of the test IdP).

use std::fmt;

use openssl::pkey::{PKey, Private, Public};
use openssl::x509::{X509Ref, X509};

use super::SignatureAlgorithm;
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
    key: PKey<Public>,
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
                Some(format!("{k}={v}"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        Ok(VerificationKey {
            bits: rsa.size() * 8,
            key,
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
    pub fn verify(&self, alg: SignatureAlgorithm, data: &[u8], signature: &[u8]) -> bool {
        let Ok(mut v) = openssl::sign::Verifier::new(alg.digest(), &self.key) else {
            return false;
        };
        v.verify_oneshot(signature, data).unwrap_or(false)
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
