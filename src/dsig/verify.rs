//! Verification of one enveloped signature, after the structural policy has been applied.

use roxmltree::{Node, NodeType};

use super::{
    decode_base64_ws, DigestAlgorithm, DsigError, SignatureAlgorithm, VerificationKey, DSIG_NS,
    ENVELOPED, EXC_C14N,
};
use crate::xml::{c14n, C14nOptions};

/// What verification requires beyond the fixed allow-lists.
#[derive(Clone, Copy, Debug)]
pub struct VerifyPolicy {
    /// Minimum RSA modulus size. Default 2048.
    pub min_rsa_bits: u32,
    /// The ID attribute's (unqualified) name. Default `ID`.
    pub id_attribute: &'static str,
    /// Accept `URI=""` (the whole document) when the signed element is the document
    /// element. Off for protocol messages; on for metadata, which some federations sign
    /// that way.
    pub allow_whole_document: bool,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        VerifyPolicy {
            min_rsa_bits: 2048,
            id_attribute: "ID",
            allow_whole_document: false,
        }
    }
}

/// What a verified signature used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureInfo {
    /// The signature algorithm.
    pub algorithm: SignatureAlgorithm,
    /// The digest algorithm of the reference.
    pub digest: DigestAlgorithm,
    /// Index, in the key list given, of the key that verified.
    pub key_index: usize,
}

fn is_ds<'a>(node: &Node<'a, '_>, local: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(DSIG_NS)
        && node.tag_name().name() == local
}

fn element_children<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(|c| c.is_element())
}

/// The `ds:Signature` direct child of `element`, if any; more than one is an error.
pub fn find_signature<'a, 'i>(element: Node<'a, 'i>) -> Result<Option<Node<'a, 'i>>, DsigError> {
    let mut found = None;
    for child in element_children(element) {
        if is_ds(&child, "Signature") {
            if found.is_some() {
                return Err(DsigError::Malformed(
                    "more than one signature on one element",
                ));
            }
            found = Some(child);
        }
    }
    Ok(found)
}

/// The `PrefixList` of an `ec:InclusiveNamespaces` child of `node`, if any.
fn inclusive_prefixes<'a>(node: Node<'a, '_>) -> Result<Vec<&'a str>, DsigError> {
    let mut out = Vec::new();
    for child in element_children(node) {
        if child.tag_name().namespace() == Some(EXC_C14N)
            && child.tag_name().name() == "InclusiveNamespaces"
        {
            if !out.is_empty() {
                return Err(DsigError::Malformed("repeated InclusiveNamespaces"));
            }
            out.extend(
                child
                    .attribute("PrefixList")
                    .unwrap_or("")
                    .split_ascii_whitespace(),
            );
            if out.len() > 32 {
                return Err(DsigError::Malformed("InclusiveNamespaces too long"));
            }
        } else {
            return Err(DsigError::Malformed("unexpected element in a c14n method"));
        }
    }
    Ok(out)
}

/// Verifies `signature`, which must be a direct child of `signed`, against `keys`.
///
/// Checks, in order: the Signature/SignedInfo shape (no Object, Manifest or
/// RetrievalMethod; KeyInfo ignored), the c14n and signature algorithms, exactly one
/// Reference whose URI is `#` + the signed element's ID, transforms exactly
/// [enveloped-signature, exc-c14n], the digest algorithm, the key size, the digest, then
/// the RSA signature with each key in turn. `scratch` is reused for canonical bytes.
pub fn verify_enveloped(
    signed: Node<'_, '_>,
    signature: Node<'_, '_>,
    keys: &[VerificationKey],
    policy: &VerifyPolicy,
    scratch: &mut Vec<u8>,
) -> Result<SignatureInfo, DsigError> {
    if keys.is_empty() {
        return Err(DsigError::NoKey);
    }
    if signature.parent() != Some(signed) || !is_ds(&signature, "Signature") {
        return Err(DsigError::Malformed(
            "signature is not a child of the signed element",
        ));
    }

    // Signature: SignedInfo, SignatureValue, KeyInfo? and nothing else.
    let mut parts = element_children(signature);
    let signed_info = parts.next().filter(|n| is_ds(n, "SignedInfo"));
    let signature_value = parts.next().filter(|n| is_ds(n, "SignatureValue"));
    let (Some(signed_info), Some(signature_value)) = (signed_info, signature_value) else {
        return Err(DsigError::Malformed(
            "expected SignedInfo then SignatureValue",
        ));
    };
    for rest in parts {
        if !is_ds(&rest, "KeyInfo") {
            return Err(DsigError::Malformed("unexpected element in Signature"));
        }
    }

    // SignedInfo: CanonicalizationMethod, SignatureMethod, Reference.
    let mut si = element_children(signed_info);
    let (Some(c14n_method), Some(sig_method)) = (si.next(), si.next()) else {
        return Err(DsigError::Malformed("incomplete SignedInfo"));
    };
    if !is_ds(&c14n_method, "CanonicalizationMethod") || !is_ds(&sig_method, "SignatureMethod") {
        return Err(DsigError::Malformed("unexpected SignedInfo content"));
    }
    let references: Vec<Node<'_, '_>> = si.collect();
    if c14n_method.attribute("Algorithm") != Some(EXC_C14N) {
        return Err(DsigError::Algorithm);
    }
    let si_prefixes = inclusive_prefixes(c14n_method)?;
    let algorithm = sig_method
        .attribute("Algorithm")
        .and_then(SignatureAlgorithm::from_uri)
        .ok_or(DsigError::Algorithm)?;
    if element_children(sig_method).next().is_some() {
        return Err(DsigError::Algorithm); // HMACOutputLength and friends
    }
    let [reference] = references.as_slice() else {
        return Err(DsigError::Reference);
    };
    if !is_ds(reference, "Reference") {
        return Err(DsigError::Malformed("unexpected SignedInfo content"));
    }

    // The reference must name the signed element itself.
    let uri = reference.attribute("URI").ok_or(DsigError::Reference)?;
    let whole_document = uri.is_empty();
    if whole_document {
        let is_document_element = signed
            .parent()
            .is_some_and(|p| p.node_type() == NodeType::Root);
        if !(policy.allow_whole_document && is_document_element) {
            return Err(DsigError::Reference);
        }
    } else {
        let id = signed
            .attribute(policy.id_attribute)
            .ok_or(DsigError::Reference)?;
        if id.is_empty() || uri.strip_prefix('#') != Some(id) {
            return Err(DsigError::Reference);
        }
    }

    // Transforms, DigestMethod, DigestValue.
    let mut rc = element_children(*reference);
    let transforms = rc
        .next()
        .filter(|t| is_ds(t, "Transforms"))
        .ok_or(DsigError::Transforms)?;
    let (Some(digest_method), Some(digest_value), None) = (rc.next(), rc.next(), rc.next()) else {
        return Err(DsigError::Malformed(
            "Reference must hold Transforms, DigestMethod, DigestValue",
        ));
    };
    if !is_ds(&digest_method, "DigestMethod") || !is_ds(&digest_value, "DigestValue") {
        return Err(DsigError::Malformed(
            "Reference must hold Transforms, DigestMethod, DigestValue",
        ));
    }
    let mut tr = element_children(transforms);
    let (Some(t1), Some(t2), None) = (tr.next(), tr.next(), tr.next()) else {
        return Err(DsigError::Transforms);
    };
    if !is_ds(&t1, "Transform")
        || !is_ds(&t2, "Transform")
        || t1.attribute("Algorithm") != Some(ENVELOPED)
        || t2.attribute("Algorithm") != Some(EXC_C14N)
        || element_children(t1).next().is_some()
    {
        return Err(DsigError::Transforms);
    }
    let ref_prefixes = inclusive_prefixes(t2).map_err(|_| DsigError::Transforms)?;
    let digest = digest_method
        .attribute("Algorithm")
        .and_then(DigestAlgorithm::from_uri)
        .ok_or(DsigError::Algorithm)?;
    let expected_digest = crate::xml::text(digest_value)
        .and_then(|t| decode_base64_ws(&t))
        .filter(|d| d.len() == digest.len())
        .ok_or(DsigError::Malformed("bad DigestValue"))?;
    let signature_bytes = crate::xml::text(signature_value)
        .and_then(|t| decode_base64_ws(&t))
        .ok_or(DsigError::Malformed("bad SignatureValue"))?;

    // Keys: size policy, then the RSA length must match the signature length.
    if let Some(weak) = keys.iter().find(|k| k.bits() < policy.min_rsa_bits) {
        if keys.iter().all(|k| k.bits() < policy.min_rsa_bits) {
            return Err(DsigError::WeakKey { bits: weak.bits() });
        }
    }

    // Digest of the signed element without its signature.
    scratch.clear();
    let apex = if whole_document {
        signed.parent().unwrap_or(signed)
    } else {
        signed
    };
    c14n::canonicalize(
        apex,
        &C14nOptions {
            exclude: Some(signature.id()),
            inclusive_prefixes: &ref_prefixes,
        },
        scratch,
    );
    let actual = digest.digest(scratch);
    if actual.len() != expected_digest.len() || !openssl::memcmp::eq(&actual, &expected_digest) {
        return Err(DsigError::DigestMismatch);
    }

    // The signature over the canonical SignedInfo.
    scratch.clear();
    c14n::canonicalize(
        signed_info,
        &C14nOptions {
            exclude: None,
            inclusive_prefixes: &si_prefixes,
        },
        scratch,
    );
    for (key_index, key) in keys.iter().enumerate() {
        if key.bits() < policy.min_rsa_bits || signature_bytes.len() * 8 != key.bits() as usize {
            continue;
        }
        if key.verify(algorithm, scratch, &signature_bytes) {
            return Ok(SignatureInfo {
                algorithm,
                digest,
                key_index,
            });
        }
    }
    Err(DsigError::Invalid)
}
