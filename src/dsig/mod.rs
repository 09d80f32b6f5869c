//! XML-DSig for SAML: enveloped signatures (verify and sign) and the RSA primitives the
//! HTTP-Redirect query signature uses ([`crate::binding::redirect`] decides which octets
//! are signed), narrowed to what the SAML profiles use. The keys themselves,
//! [`crate::SigningKey`] and [`crate::VerificationKey`], are public at the crate root
//! (every configuration needs them).
//!
//! Accepted: exclusive c14n (with `InclusiveNamespaces`), the enveloped-signature transform,
//! RSA PKCS#1 v1.5 with SHA-256/384/512, one same-document `#ID` reference to the element
//! the signature is a direct child of. Everything else (SHA-1, MD5, HMAC, DSA, XPath, XSLT,
//! external URIs, `Object`, `Manifest`, `RetrievalMethod`) is refused before any digest is
//! computed. Keys never come from the message: `KeyInfo` is ignored.
//!
//! The public functions work on text: [`sign_enveloped`] and [`sign_element`] sign a
//! document, [`verify_document`] verifies the enveloped signature of a document element.
//! Inside the crate, verification hands back a verified node, the only proof the SDK's
//! checks accept that a value was read from signed data.
//!
//! This module imports no SAML or SPID type.

pub(crate) mod keys;
mod sign;
pub(crate) mod verify;
mod xades;

pub(crate) use keys::{KeyError, SigningKey, VerificationKey};
pub use sign::{sign_element, sign_enveloped, SignatureAnchor};
pub(crate) use verify::{
    find_signature, verify_enclosed, verify_enclosing, verify_enveloped, SharedC14n, Verified,
};
pub use verify::{SignatureInfo, VerifyPolicy};
pub(crate) use xades::verify_trusted_list_root;
pub use xades::{SIGNED_PROPERTIES_TYPE, XADES_NS};

use crate::xml::{self, Limits};

/// Verifies the enveloped signature of the document element of `xml` against `keys`, with
/// the rules of [`VerifyPolicy`] and the SDK's allow-lists (see the module documentation),
/// after the document passed [`xml::check`] under `limits`.
///
/// On success the signature covers the document element and everything in it except the
/// `ds:Signature` itself: values read afterwards from the document element's subtree are
/// signed, provided the reader sees the same tree. Use limits that refuse comments inside
/// text values ([`Limits::MESSAGE`] does) unless your reader handles them as
/// canonicalization does (comment injection), and read from this same text.
///
/// A document the XML reader refuses is [`DsigError::Malformed`]; [`xml::check`] tells
/// why. A document element without a signature is [`DsigError::Malformed`] too.
pub fn verify_document(
    xml: &str,
    limits: &Limits,
    keys: &[VerificationKey],
    policy: &VerifyPolicy,
) -> Result<SignatureInfo, DsigError> {
    let doc = xml::parse(xml, limits)
        .map_err(|_| DsigError::Malformed("document refused by the XML reader"))?;
    let root = doc.root_element();
    let signature =
        find_signature(root)?.ok_or(DsigError::Malformed("the document element is not signed"))?;
    let verified = verify_enveloped(root, signature, keys, policy, &mut Vec::new())?;
    Ok(verified.info())
}

/// Verifies the signature of a trusted list (ETSI TS 119 612: an enveloped XAdES signature
/// with exactly two References, `URI=""` and the XAdES SignedProperties) on the document
/// element of `xml` against `keys`, after the document passed [`xml::check`] under
/// `limits`. This is the trusted list's own policy: [`verify_document`] and the SAML path
/// keep refusing a second Reference and any `ds:Object`.
pub fn verify_trusted_list(
    xml: &str,
    limits: &Limits,
    keys: &[VerificationKey],
) -> Result<SignatureInfo, DsigError> {
    let doc = xml::parse(xml, limits)
        .map_err(|_| DsigError::Malformed("document refused by the XML reader"))?;
    verify_trusted_list_root(doc.root_element(), keys).map(|(_, info)| info)
}

/// The XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Exclusive c14n without comments.
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// The enveloped-signature transform.
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// A signature algorithm on the allow-list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// `http://www.w3.org/2001/04/xmldsig-more#rsa-sha256` (the default everywhere).
    RsaSha256,
    /// `http://www.w3.org/2001/04/xmldsig-more#rsa-sha384`.
    RsaSha384,
    /// `http://www.w3.org/2001/04/xmldsig-more#rsa-sha512`.
    RsaSha512,
}

impl SignatureAlgorithm {
    /// The algorithm URI.
    pub const fn uri(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            SignatureAlgorithm::RsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
            SignatureAlgorithm::RsaSha512 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        }
    }

    /// The algorithm named by `uri`, if it is on the allow-list.
    pub fn from_uri(uri: &str) -> Option<SignatureAlgorithm> {
        [Self::RsaSha256, Self::RsaSha384, Self::RsaSha512]
            .into_iter()
            .find(|a| a.uri() == uri)
    }

    pub(crate) fn digest(self) -> openssl::hash::MessageDigest {
        match self {
            SignatureAlgorithm::RsaSha256 => openssl::hash::MessageDigest::sha256(),
            SignatureAlgorithm::RsaSha384 => openssl::hash::MessageDigest::sha384(),
            SignatureAlgorithm::RsaSha512 => openssl::hash::MessageDigest::sha512(),
        }
    }
}

/// A digest algorithm on the allow-list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// `http://www.w3.org/2001/04/xmlenc#sha256`.
    Sha256,
    /// `http://www.w3.org/2001/04/xmldsig-more#sha384`.
    Sha384,
    /// `http://www.w3.org/2001/04/xmlenc#sha512`.
    Sha512,
}

/// SHA-256 of `data` through OpenSSL's low-level context: OpenSSL 3's one-shot `SHA256()`
/// (what `openssl::sha::sha256` calls) fetches the algorithm on every call, ~0.35 µs and
/// a lock shared by every thread — more than hashing a session token takes.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = openssl::sha::Sha256::new();
    h.update(data);
    h.finish()
}

impl DigestAlgorithm {
    /// The algorithm URI.
    pub const fn uri(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
            DigestAlgorithm::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
            DigestAlgorithm::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
        }
    }

    /// The algorithm named by `uri`, if it is on the allow-list.
    pub fn from_uri(uri: &str) -> Option<DigestAlgorithm> {
        [Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|a| a.uri() == uri)
    }

    /// The digest of `data`, through OpenSSL's low-level SHA-2 contexts: unlike the EVP
    /// interface (and OpenSSL 3's one-shot `SHA256()`, built on it) they need no algorithm
    /// fetch per call, which costs as much as hashing a 10 KB message.
    pub(crate) fn digest(self, data: &[u8]) -> DigestBytes {
        self.digest_parts(&[data])
    }

    /// The digest of the concatenation of `parts`, hashed in turn (no copy).
    pub(crate) fn digest_parts(self, parts: &[&[u8]]) -> DigestBytes {
        use openssl::sha::{Sha256, Sha384, Sha512};
        match self {
            DigestAlgorithm::Sha256 => {
                let mut h = Sha256::new();
                parts.iter().for_each(|p| h.update(p));
                DigestBytes::Sha256(h.finish())
            }
            DigestAlgorithm::Sha384 => {
                let mut h = Sha384::new();
                parts.iter().for_each(|p| h.update(p));
                DigestBytes::Sha384(h.finish())
            }
            DigestAlgorithm::Sha512 => {
                let mut h = Sha512::new();
                parts.iter().for_each(|p| h.update(p));
                DigestBytes::Sha512(h.finish())
            }
        }
    }

    pub(crate) fn len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 32,
            DigestAlgorithm::Sha384 => 48,
            DigestAlgorithm::Sha512 => 64,
        }
    }
}

/// A digest value, without allocation.
pub(crate) enum DigestBytes {
    Sha256([u8; 32]),
    Sha384([u8; 48]),
    Sha512([u8; 64]),
}

impl std::ops::Deref for DigestBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            DigestBytes::Sha256(d) => d,
            DigestBytes::Sha384(d) => d,
            DigestBytes::Sha512(d) => d,
        }
    }
}

/// Why a signature was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DsigError {
    /// The signature's structure is not the one XML-DSig/SAML allows.
    #[error("malformed signature: {0}")]
    Malformed(&'static str),
    /// A canonicalization, signature or digest algorithm not on the allow-list.
    #[error("signature algorithm not allowed")]
    Algorithm,
    /// Not exactly one Reference, or its URI is not `#` + the signed element's ID.
    #[error("signature reference does not point at the signed element")]
    Reference,
    /// Transforms other than exactly enveloped-signature then exc-c14n.
    #[error("signature transforms not allowed")]
    Transforms,
    /// An RSA key shorter than the policy minimum.
    #[error("signing key too weak ({bits} bits)")]
    WeakKey {
        /// The key size.
        bits: u32,
    },
    /// The digest of the signed element differs from DigestValue.
    #[error("digest mismatch")]
    DigestMismatch,
    /// The signature value does not verify with any trusted key.
    #[error("signature does not verify with any trusted key")]
    Invalid,
    /// No trusted key to verify with (a configuration error, never a reason to skip).
    #[error("no trusted signing key configured")]
    NoKey,
    /// The cryptographic library failed.
    #[error("cryptographic error")]
    Crypto,
    /// The document to sign has no usable shape (signing side).
    #[error("cannot sign: {0}")]
    Sign(&'static str),
}

impl From<crate::ids::RandomError> for DsigError {
    fn from(_: crate::ids::RandomError) -> Self {
        DsigError::Crypto
    }
}

impl From<openssl::error::ErrorStack> for DsigError {
    fn from(_: openssl::error::ErrorStack) -> Self {
        DsigError::Crypto
    }
}

/// Decodes base64 that may contain XML whitespace (as DigestValue, SignatureValue and
/// X509Certificate do); anything else outside the standard alphabet is refused. The text
/// comes from a document already within its size limit, so no further bound applies.
pub fn decode_base64_ws(text: &str) -> Option<Vec<u8>> {
    crate::b64::decode(text, crate::b64::UNBOUNDED).ok()
}
