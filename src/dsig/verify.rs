//! Verification of one enveloped signature, after the structural policy has been applied,
//! and the proof of it: a [`Verified`] node, which only this module can make.

use std::borrow::Cow;

use crate::xml::{Node, NodeId, NodeType};

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

/// An element whose content a verified signature covers: the proof that a value was read
/// from signed data.
///
/// Only this module makes one: [`verify_enveloped`] for the element an enveloped signature
/// signs, `VerifiedDocument::root` (in `binding::redirect`) for a message whose bytes an HTTP-Redirect signature
/// covers, and the methods below for the element children of a `Verified` (the digest of
/// an element covers its whole subtree). The enveloped `ds:Signature` itself, which the
/// digest leaves out, is never handed out: [`Verified::children`] skips it. The checks
/// that read values from a message take `Verified`, so reading from a node that no
/// signature covers does not compile.
///
/// Zero-cost: a `Copy` pair of the node and the id of the excluded signature; no
/// allocation, no walk beyond the one the read itself does.
///
/// Crate-visible (it holds parser nodes); its compile-fail tests, which show that a plain
/// node is not a `Verified` and that none can be made outside this module, run on the
/// `spid_sp::fuzzing::tree` re-export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified<'a, 'i> {
    node: Node<'a, 'i>,
    /// The enveloped signature the digest left out: a direct child of `node`, set on the
    /// signed element only.
    excluded: Option<NodeId>,
}

impl<'a, 'i: 'a> Verified<'a, 'i> {
    /// The signed element, the enveloped signature its digest left out.
    pub(super) fn signed(node: Node<'a, 'i>, signature: Node<'a, 'i>) -> Self {
        Verified {
            node,
            excluded: Some(signature.id()),
        }
    }

    /// An element whose every byte a signature covers (no signature left out).
    pub(crate) fn covered(node: Node<'a, 'i>) -> Self {
        Verified {
            node,
            excluded: None,
        }
    }

    /// Whether this element is `(namespace, local)` (matched by namespace URI, never by
    /// prefix).
    pub fn is(self, namespace: &str, local: &str) -> bool {
        is_named(&self.node, namespace, local)
    }

    /// The value of the unqualified attribute `name`, as parsed (not trimmed).
    pub fn attribute(self, name: &str) -> Option<&'a str> {
        self.node.attribute(name)
    }

    /// The value of the attribute `name` in `namespace` (e.g. `xml:lang`), as parsed.
    pub fn attribute_ns(self, namespace: &str, name: &str) -> Option<&'a str> {
        self.node.attribute((namespace, name))
    }

    /// The text of a leaf element, as [`crate::xml::text`] reads it (comments never split
    /// it); `None` if the element has element children.
    pub fn text(self) -> Option<Cow<'a, str>> {
        crate::xml::text(self.node)
    }

    /// The element children, in document order, without the enveloped signature.
    pub fn children(self) -> impl Iterator<Item = Verified<'a, 'i>> {
        let excluded = self.excluded;
        self.node
            .children()
            .filter(move |c| c.is_element() && Some(c.id()) != excluded)
            .map(Verified::covered)
    }

    /// The element children named `(namespace, local)`, in document order (never the
    /// enveloped signature).
    pub fn children_named(
        self,
        namespace: &'static str,
        local: &'static str,
    ) -> impl Iterator<Item = Verified<'a, 'i>> {
        let excluded = self.excluded;
        self.node
            .children()
            .filter(move |c| is_named(c, namespace, local) && Some(c.id()) != excluded)
            .map(Verified::covered)
    }

    /// The first element child named `(namespace, local)` (never the enveloped signature).
    pub fn child(self, namespace: &str, local: &str) -> Option<Verified<'a, 'i>> {
        self.node
            .children()
            .find(|c| is_named(c, namespace, local) && Some(c.id()) != self.excluded)
            .map(Verified::covered)
    }

    /// Whether the element has an element child (the enveloped signature not counted).
    pub fn has_element_children(self) -> bool {
        self.children().next().is_some()
    }
}

/// A verified enveloped signature: what it used, and the element it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedSignature<'a, 'i> {
    info: SignatureInfo,
    element: Verified<'a, 'i>,
}

impl<'a, 'i> VerifiedSignature<'a, 'i> {
    /// The algorithms and the key that verified.
    pub fn info(&self) -> SignatureInfo {
        self.info
    }

    /// The signed element, to read its values from.
    pub fn element(&self) -> Verified<'a, 'i> {
        self.element
    }
}

/// An element named `(namespace, local)`.
fn is_named(node: &Node<'_, '_>, namespace: &str, local: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == local
        && node.tag_name().namespace() == Some(namespace)
}

pub(super) fn is_ds<'a>(node: &Node<'a, '_>, local: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(DSIG_NS)
        && node.tag_name().name() == local
}

pub(super) fn element_children<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
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
pub(super) fn inclusive_prefixes<'a>(node: Node<'a, '_>) -> Result<Vec<&'a str>, DsigError> {
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

/// Verifies `signature`, which must be a direct child of `signed`, against `keys`, and
/// returns the proof that `signed` is covered.
///
/// Checks, in order: the Signature/SignedInfo shape (no Object, Manifest or
/// RetrievalMethod; KeyInfo ignored), the c14n and signature algorithms, exactly one
/// Reference whose URI is `#` + the signed element's ID, transforms exactly
/// [enveloped-signature, exc-c14n], the digest algorithm, the key size, the digest, then
/// the RSA signature with each key in turn. `scratch` is reused for canonical bytes.
pub fn verify_enveloped<'a, 'i>(
    signed: Node<'a, 'i>,
    signature: Node<'a, 'i>,
    keys: &[VerificationKey],
    policy: &VerifyPolicy,
    scratch: &mut Vec<u8>,
) -> Result<VerifiedSignature<'a, 'i>, DsigError> {
    verify_with(
        signed,
        signature,
        keys,
        policy,
        scratch,
        |apex, reference, scratch| check_digest(apex, signature, reference, scratch),
    )
}

/// Canonical bytes shared by the two references of a both-signed message.
///
/// [`verify_enclosing`] canonicalizes the enclosing element's reference (the Response's)
/// watching an enclosed element (the Assertion, a direct child) and its enveloped
/// signature, and keeps the bytes; [`verify_enclosed`] then digests the enclosed element's
/// byte ranges in them, without a second canonicalization, when
/// [`c14n::Watched::apex_ranges`] proves them identical to its own canonical form, and
/// canonicalizes it on its own otherwise. Every check runs as in [`verify_enveloped`], in
/// the same order; only where the canonical bytes come from differs.
pub(crate) struct SharedC14n<'a, 'i> {
    /// The enclosing reference's canonical bytes, kept until the enclosed one is checked.
    canonical: Vec<u8>,
    /// The canonical SignedInfo (apart, so that `canonical` survives).
    signed_info: Vec<u8>,
    /// The enclosed element and its signature, and what the enclosing pass saw of them.
    watched: Option<(Node<'a, 'i>, Node<'a, 'i>, c14n::Watched)>,
    /// How the enclosed reference was digested: `Some(true)` from the shared bytes (read
    /// by the tests only).
    #[cfg_attr(not(test), allow(dead_code))]
    used_shared: Option<bool>,
}

impl<'a, 'i> SharedC14n<'a, 'i> {
    /// Buffers for a message of `len` bytes.
    pub(crate) fn with_capacity(len: usize) -> Self {
        SharedC14n {
            canonical: Vec::with_capacity(len),
            signed_info: Vec::with_capacity(2048),
            watched: None,
            used_shared: None,
        }
    }

    /// Whether [`verify_enclosed`] digested the shared bytes (`None`: it did not digest).
    #[cfg(test)]
    pub(crate) fn used_shared(&self) -> Option<bool> {
        self.used_shared
    }
}

/// [`verify_enveloped`] for an element that encloses another signed element, `enclosed`
/// (considered only when it is a direct child of `signed` with a `ds:Signature` child),
/// keeping the canonical bytes in `shared` for [`verify_enclosed`].
pub(crate) fn verify_enclosing<'a, 'i>(
    signed: Node<'a, 'i>,
    signature: Node<'a, 'i>,
    enclosed: Option<Node<'a, 'i>>,
    keys: &[VerificationKey],
    policy: &VerifyPolicy,
    shared: &mut SharedC14n<'a, 'i>,
) -> Result<VerifiedSignature<'a, 'i>, DsigError> {
    let SharedC14n {
        canonical,
        signed_info,
        watched,
        ..
    } = shared;
    *watched = None;
    let watch = enclosed
        .filter(|e| e.parent() == Some(signed) && *e != signature)
        .and_then(|e| Some((e, find_signature(e).ok()??)));
    verify_with(
        signed,
        signature,
        keys,
        policy,
        signed_info,
        |apex, reference, _| {
            canonical.clear();
            let seen = c14n::canonicalize_watching(
                apex,
                &C14nOptions {
                    exclude: Some(signature.id()),
                    inclusive_prefixes: &reference.prefixes,
                },
                watch.map(|(element, sig)| c14n::Watch {
                    element: element.id(),
                    excluded: sig.id(),
                }),
                canonical,
            );
            compare_digest(reference, &reference.digest.digest(canonical))?;
            *watched = watch.map(|(element, sig)| (element, sig, seen));
            Ok(())
        },
    )
}

/// [`verify_enveloped`] for the element [`verify_enclosing`] watched: its digest is taken
/// over the shared canonical bytes when they provably are its canonical form, otherwise
/// (another element, another signature, an `InclusiveNamespaces` list, a rendering that
/// depends on its context, the enclosing element unsigned) over its own canonicalization.
pub(crate) fn verify_enclosed<'a, 'i>(
    signed: Node<'a, 'i>,
    signature: Node<'a, 'i>,
    keys: &[VerificationKey],
    policy: &VerifyPolicy,
    shared: &mut SharedC14n<'a, 'i>,
) -> Result<VerifiedSignature<'a, 'i>, DsigError> {
    let SharedC14n {
        canonical,
        signed_info,
        watched,
        used_shared,
    } = shared;
    let watched = watched.take();
    verify_with(
        signed,
        signature,
        keys,
        policy,
        signed_info,
        |apex, reference, _| {
            let parts = watched
                .as_ref()
                .filter(|(element, sig, _)| *element == apex && *sig == signature)
                .and_then(|(_, _, seen)| seen.apex_ranges(&reference.prefixes))
                .and_then(|[a, b]| Some([canonical.get(a)?, canonical.get(b)?]));
            *used_shared = Some(parts.is_some());
            match parts {
                Some(parts) => {
                    #[cfg(debug_assertions)]
                    cross_check(apex, signature, reference, &parts);
                    compare_digest(reference, &reference.digest.digest_parts(&parts))
                }
                None => check_digest(apex, signature, reference, canonical),
            }
        },
    )
}

/// Debug builds (every test run): the shared bytes are the separate canonicalization's.
#[cfg(debug_assertions)]
fn cross_check(
    apex: Node<'_, '_>,
    signature: Node<'_, '_>,
    reference: &Reference<'_>,
    parts: &[&[u8]; 2],
) {
    let mut separate = Vec::new();
    c14n::canonicalize(
        apex,
        &C14nOptions {
            exclude: Some(signature.id()),
            inclusive_prefixes: &reference.prefixes,
        },
        &mut separate,
    );
    debug_assert!(
        separate == parts.concat(),
        "shared c14n bytes differ from the separate canonicalization"
    );
}

/// The checks of [`verify_enveloped`], in its order, with the reference digest checked by
/// `digest(apex, reference, scratch)`; `scratch` then holds the canonical SignedInfo.
fn verify_with<'a, 'i>(
    signed: Node<'a, 'i>,
    signature: Node<'a, 'i>,
    keys: &[VerificationKey],
    policy: &VerifyPolicy,
    scratch: &mut Vec<u8>,
    digest: impl FnOnce(Node<'a, 'i>, &Reference<'a>, &mut Vec<u8>) -> Result<(), DsigError>,
) -> Result<VerifiedSignature<'a, 'i>, DsigError> {
    if keys.is_empty() {
        return Err(DsigError::NoKey);
    }
    if signature.parent() != Some(signed) || !is_ds(&signature, "Signature") {
        return Err(DsigError::Malformed(
            "signature is not a child of the signed element",
        ));
    }
    let parts = signature_parts(signature)?;
    let signed_info = parse_signed_info(parts.signed_info)?;
    let whole_document = check_reference_uri(signed_info.reference, signed, policy)?;
    let reference = parse_reference(signed_info.reference)?;
    let signature_bytes = crate::xml::text(parts.signature_value)
        .and_then(|t| decode_base64_ws(&t))
        .ok_or(DsigError::Malformed("bad SignatureValue"))?;
    check_key_sizes(keys, policy)?;
    let apex = if whole_document {
        signed.parent().unwrap_or(signed)
    } else {
        signed
    };
    digest(apex, &reference, scratch)?;
    let key_index = check_signature_value(
        parts.signed_info,
        &signed_info,
        &signature_bytes,
        keys,
        policy,
        scratch,
    )?;
    Ok(VerifiedSignature {
        info: SignatureInfo {
            algorithm: signed_info.algorithm,
            digest: reference.digest,
            key_index,
        },
        element: Verified::signed(signed, signature),
    })
}

/// The two parts of a `ds:Signature` that verification reads.
struct SignatureParts<'a, 'i> {
    signed_info: Node<'a, 'i>,
    signature_value: Node<'a, 'i>,
}

/// Signature: SignedInfo, SignatureValue, KeyInfo? and nothing else.
fn signature_parts<'a, 'i>(signature: Node<'a, 'i>) -> Result<SignatureParts<'a, 'i>, DsigError> {
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
    Ok(SignatureParts {
        signed_info,
        signature_value,
    })
}

/// What SignedInfo says: its c14n prefixes, the signature algorithm, the one Reference.
pub(super) struct SignedInfo<'a, 'i> {
    pub(super) prefixes: Vec<&'a str>,
    pub(super) algorithm: SignatureAlgorithm,
    pub(super) reference: Node<'a, 'i>,
}

/// SignedInfo: CanonicalizationMethod (exc-c14n), SignatureMethod (on the allow-list, no
/// parameters), exactly one Reference.
fn parse_signed_info<'a, 'i>(signed_info: Node<'a, 'i>) -> Result<SignedInfo<'a, 'i>, DsigError> {
    let mut si = element_children(signed_info);
    let (Some(c14n_method), Some(sig_method)) = (si.next(), si.next()) else {
        return Err(DsigError::Malformed("incomplete SignedInfo"));
    };
    if !is_ds(&c14n_method, "CanonicalizationMethod") || !is_ds(&sig_method, "SignatureMethod") {
        return Err(DsigError::Malformed("unexpected SignedInfo content"));
    }
    let (first_reference, second_reference) = (si.next(), si.next());
    if c14n_method.attribute("Algorithm") != Some(EXC_C14N) {
        return Err(DsigError::Algorithm);
    }
    let prefixes = inclusive_prefixes(c14n_method)?;
    let algorithm = sig_method
        .attribute("Algorithm")
        .and_then(SignatureAlgorithm::from_uri)
        .ok_or(DsigError::Algorithm)?;
    if element_children(sig_method).next().is_some() {
        return Err(DsigError::Algorithm); // HMACOutputLength and friends
    }
    let (Some(reference), None) = (first_reference, second_reference) else {
        return Err(DsigError::Reference);
    };
    if !is_ds(&reference, "Reference") {
        return Err(DsigError::Malformed("unexpected SignedInfo content"));
    }
    Ok(SignedInfo {
        prefixes,
        algorithm,
        reference,
    })
}

/// The reference must name the signed element itself: `#` + its ID, or `""` for the
/// document element when the policy allows it. Returns whether it is the whole document.
fn check_reference_uri(
    reference: Node<'_, '_>,
    signed: Node<'_, '_>,
    policy: &VerifyPolicy,
) -> Result<bool, DsigError> {
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
    Ok(whole_document)
}

/// What the Reference says: its c14n prefixes, the digest algorithm, the expected digest.
pub(super) struct Reference<'a> {
    pub(super) prefixes: Vec<&'a str>,
    pub(super) digest: DigestAlgorithm,
    pub(super) expected: Vec<u8>,
}

/// Reference: Transforms (exactly enveloped-signature then exc-c14n), DigestMethod (on
/// the allow-list), DigestValue (base64 of the algorithm's length).
fn parse_reference<'a>(reference: Node<'a, '_>) -> Result<Reference<'a>, DsigError> {
    const SHAPE: &str = "Reference must hold Transforms, DigestMethod, DigestValue";
    let mut rc = element_children(reference);
    let transforms = rc
        .next()
        .filter(|t| is_ds(t, "Transforms"))
        .ok_or(DsigError::Transforms)?;
    let (Some(digest_method), Some(digest_value), None) = (rc.next(), rc.next(), rc.next()) else {
        return Err(DsigError::Malformed(SHAPE));
    };
    if !is_ds(&digest_method, "DigestMethod") || !is_ds(&digest_value, "DigestValue") {
        return Err(DsigError::Malformed(SHAPE));
    }
    let prefixes = check_transforms(transforms)?;
    let digest = digest_method
        .attribute("Algorithm")
        .and_then(DigestAlgorithm::from_uri)
        .ok_or(DsigError::Algorithm)?;
    let expected = crate::xml::text(digest_value)
        .and_then(|t| decode_base64_ws(&t))
        .filter(|d| d.len() == digest.len())
        .ok_or(DsigError::Malformed("bad DigestValue"))?;
    Ok(Reference {
        prefixes,
        digest,
        expected,
    })
}

/// Transforms: exactly [enveloped-signature (no parameter), exc-c14n]; returns the
/// exc-c14n inclusive prefixes.
fn check_transforms<'a>(transforms: Node<'a, '_>) -> Result<Vec<&'a str>, DsigError> {
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
    inclusive_prefixes(t2).map_err(|_| DsigError::Transforms)
}

/// Key size policy: refused only when no key reaches the minimum (weaker keys are then
/// skipped when verifying).
pub(super) fn check_key_sizes(
    keys: &[VerificationKey],
    policy: &VerifyPolicy,
) -> Result<(), DsigError> {
    if let Some(weak) = keys.iter().find(|k| k.bits() < policy.min_rsa_bits) {
        if keys.iter().all(|k| k.bits() < policy.min_rsa_bits) {
            return Err(DsigError::WeakKey { bits: weak.bits() });
        }
    }
    Ok(())
}

/// The digest of `apex` canonicalized without `signature`, compared in constant time.
pub(super) fn check_digest(
    apex: Node<'_, '_>,
    signature: Node<'_, '_>,
    reference: &Reference<'_>,
    scratch: &mut Vec<u8>,
) -> Result<(), DsigError> {
    scratch.clear();
    c14n::canonicalize(
        apex,
        &C14nOptions {
            exclude: Some(signature.id()),
            inclusive_prefixes: &reference.prefixes,
        },
        scratch,
    );
    compare_digest(reference, &reference.digest.digest(scratch))
}

/// The digest against the reference's DigestValue, in constant time.
fn compare_digest(reference: &Reference<'_>, actual: &[u8]) -> Result<(), DsigError> {
    if actual.len() != reference.expected.len() || !openssl::memcmp::eq(actual, &reference.expected)
    {
        return Err(DsigError::DigestMismatch);
    }
    Ok(())
}

/// The RSA signature over the canonical SignedInfo, tried with each strong enough key of
/// the right length in turn; returns the index of the key that verified.
pub(super) fn check_signature_value(
    signed_info_node: Node<'_, '_>,
    signed_info: &SignedInfo<'_, '_>,
    signature_bytes: &[u8],
    keys: &[VerificationKey],
    policy: &VerifyPolicy,
    scratch: &mut Vec<u8>,
) -> Result<usize, DsigError> {
    scratch.clear();
    c14n::canonicalize(
        signed_info_node,
        &C14nOptions {
            exclude: None,
            inclusive_prefixes: &signed_info.prefixes,
        },
        scratch,
    );
    for (key_index, key) in keys.iter().enumerate() {
        if key.bits() < policy.min_rsa_bits || signature_bytes.len() * 8 != key.bits() as usize {
            continue;
        }
        if key.verify(signed_info.algorithm, scratch, signature_bytes) {
            return Ok(key_index);
        }
    }
    Err(DsigError::Invalid)
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod shared_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml;
    use crate::xml::Limits;

    const DOC: &str = "<r xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" ID=\"r1\">\
        <a>one</a><ds:Signature><ds:SignedInfo/></ds:Signature><b x=\"1\"><c>two</c></b></r>";

    #[test]
    fn verified_children_leave_out_the_enveloped_signature() {
        let doc = xml::parse(DOC, &Limits::MESSAGE).unwrap();
        let root = doc.root_element();
        let sig = find_signature(root).unwrap().unwrap();
        let verified = Verified::signed(root, sig);
        let names: Vec<&str> = verified
            .children()
            .map(|c| c.node.tag_name().name())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert!(verified.child(DSIG_NS, "Signature").is_none());
        assert_eq!(verified.children_named(DSIG_NS, "Signature").count(), 0);
        // Below the signed element nothing is left out.
        let b = verified.children().nth(1).unwrap();
        assert_eq!(b.attribute("x"), Some("1"));
        assert_eq!(b.children().next().unwrap().text().as_deref(), Some("two"));
        assert!(b.has_element_children());
        assert!(!b.children().next().unwrap().has_element_children());
    }

    #[test]
    fn a_signed_element_with_only_its_signature_has_no_verified_children() {
        let doc = xml::parse(
            "<r xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:Signature/></r>",
            &Limits::MESSAGE,
        )
        .unwrap();
        let root = doc.root_element();
        let sig = find_signature(root).unwrap().unwrap();
        assert!(!Verified::signed(root, sig).has_element_children());
    }

    #[test]
    fn the_wrapper_is_no_bigger_than_a_node_and_an_id() {
        assert_eq!(
            std::mem::size_of::<Verified<'_, '_>>(),
            std::mem::size_of::<(Node<'_, '_>, NodeId)>()
        );
    }
}
