//! The checkpoint key: Ed25519 through OpenSSL, dedicated to the registry (never the SP's
//! SAML key). The running SP holds the private key and signs checkpoints; verifiers need
//! only the public key, kept away from the log directory.

use openssl::pkey::{Id, PKey, Private, Public};
use openssl::sign::{Signer, Verifier};

use super::{hex, AuditError};

/// The private key that signs checkpoints and "pruned up to" statements.
#[derive(Clone)]
pub struct CheckpointKey {
    key: PKey<Private>,
    id: String,
}

/// The public half: checks checkpoint signatures.
#[derive(Clone)]
pub struct CheckpointVerifier {
    key: PKey<Public>,
    id: String,
}

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for CheckpointVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointVerifier")
            .field("id", &self.id)
            .finish()
    }
}

fn key_id(public_der: &[u8]) -> String {
    let digest = crate::dsig::sha256(public_der);
    hex(digest.get(..8).unwrap_or(&digest))
}

fn err(what: &str) -> AuditError {
    AuditError(format!("checkpoint key: {what}"))
}

impl CheckpointKey {
    /// A new random Ed25519 key.
    pub fn generate() -> Result<CheckpointKey, AuditError> {
        let key = PKey::generate_ed25519().map_err(|_| err("generation failed"))?;
        CheckpointKey::from_key(key)
    }

    /// Reads a PKCS#8 PEM Ed25519 private key.
    pub fn from_pem(pem: &[u8]) -> Result<CheckpointKey, AuditError> {
        let key = PKey::private_key_from_pem(pem).map_err(|_| err("not a PEM private key"))?;
        if key.id() != Id::ED25519 {
            return Err(err("not an Ed25519 key"));
        }
        CheckpointKey::from_key(key)
    }

    fn from_key(key: PKey<Private>) -> Result<CheckpointKey, AuditError> {
        let der = key
            .public_key_to_der()
            .map_err(|_| err("cannot encode the public key"))?;
        Ok(CheckpointKey {
            id: key_id(&der),
            key,
        })
    }

    /// The private key, PKCS#8 PEM (store it readable by the SP only).
    pub fn private_pem(&self) -> Result<Vec<u8>, AuditError> {
        self.key
            .private_key_to_pem_pkcs8()
            .map_err(|_| err("cannot encode"))
    }

    /// The public key, SPKI PEM (give it to whoever verifies the registry).
    pub fn public_pem(&self) -> Result<Vec<u8>, AuditError> {
        self.key
            .public_key_to_pem()
            .map_err(|_| err("cannot encode"))
    }

    /// The verifier of this key.
    pub fn verifier(&self) -> Result<CheckpointVerifier, AuditError> {
        CheckpointVerifier::from_pem(&self.public_pem()?)
    }

    /// A short fingerprint of the public key (first 8 bytes of SHA-256 of its DER, hex).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AuditError> {
        let mut signer =
            Signer::new_without_digest(&self.key).map_err(|_| err("signer unavailable"))?;
        signer
            .sign_oneshot_to_vec(message)
            .map_err(|_| err("signing failed"))
    }
}

impl CheckpointVerifier {
    /// Reads an Ed25519 public key (SPKI PEM), or the public half of a private key PEM.
    pub fn from_pem(pem: &[u8]) -> Result<CheckpointVerifier, AuditError> {
        let key = match PKey::public_key_from_pem(pem) {
            Ok(k) => k,
            Err(_) => {
                let private = CheckpointKey::from_pem(pem)?;
                let der = private
                    .key
                    .public_key_to_der()
                    .map_err(|_| err("cannot encode the public key"))?;
                PKey::public_key_from_der(&der).map_err(|_| err("cannot decode"))?
            }
        };
        if key.id() != Id::ED25519 {
            return Err(err("not an Ed25519 key"));
        }
        let der = key
            .public_key_to_der()
            .map_err(|_| err("cannot encode the public key"))?;
        Ok(CheckpointVerifier {
            id: key_id(&der),
            key,
        })
    }

    /// The key's fingerprint (as in checkpoint entries).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        Verifier::new_without_digest(&self.key)
            .and_then(|mut v| v.verify_oneshot(signature, message))
            .unwrap_or(false)
    }
}
