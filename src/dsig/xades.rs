//! The trusted-list signature policy (ETSI TS 119 612 §5.7, XAdES baseline B): its own
//! path, beside the SAML one, which it does not touch.
//!
//! A trusted list is signed with an enveloped signature whose SignedInfo holds exactly two
//! References: `URI=""` (the whole document; transforms enveloped-signature then
//! exc-c14n) and `#<id>` of type `http://uri.etsi.org/01903#SignedProperties` (the
//! `xades:SignedProperties` inside this very signature's `ds:Object`; transform exc-c14n or
//! none). The SAML path ([`super::verify_enveloped`]) still refuses a second Reference,
//! any `Object`, and `URI=""` on protocol messages.
//!
//! Allowed here and nowhere else: one `ds:Object` holding one `xades:QualifyingProperties`
//! (whose `Target` names this signature), the XAdES reference type. Everything else is as
//! strict as the SAML path: exclusive c14n, RSA-SHA-2, SHA-2 digests, a key of at least
//! 2048 bits from the caller (never from `KeyInfo`), the signed element the document
//! element.

use crate::xml::{Node, NodeType};

use super::verify::{
    check_digest, check_key_sizes, check_signature_value, element_children, inclusive_prefixes,
    is_ds, Reference, SignedInfo, Verified,
};
use super::{
    decode_base64_ws, DigestAlgorithm, DsigError, SignatureAlgorithm, SignatureInfo,
    VerificationKey, VerifyPolicy, ENVELOPED, EXC_C14N,
};

/// The XAdES 1.3.2 namespace.
pub const XADES_NS: &str = "http://uri.etsi.org/01903/v1.3.2#";
/// The Reference type of the XAdES SignedProperties.
pub const SIGNED_PROPERTIES_TYPE: &str = "http://uri.etsi.org/01903#SignedProperties";

/// The policy of trusted lists: RSA of at least 2048 bits, `Id` attributes.
const POLICY: VerifyPolicy = VerifyPolicy {
    min_rsa_bits: 2048,
    id_attribute: "Id",
    allow_whole_document: true,
};

/// Verifies the enveloped XAdES signature of a trusted list whose document element is
/// `root` against `keys`, and returns the verified document element.
pub(crate) fn verify_trusted_list_root<'a, 'i>(
    root: Node<'a, 'i>,
    keys: &[VerificationKey],
) -> Result<(Verified<'a, 'i>, SignatureInfo), DsigError> {
    if keys.is_empty() {
        return Err(DsigError::NoKey);
    }
    if root.parent().map(|p| p.node_type()) != Some(NodeType::Root) {
        return Err(DsigError::Malformed(
            "a trusted list is signed on its document element",
        ));
    }
    let signature = super::find_signature(root)?
        .ok_or(DsigError::Malformed("the document element is not signed"))?;
    let parts = element_children(signature).collect::<Vec<_>>();
    let (signed_info_node, signature_value, object) = signature_shape(&parts)?;
    let signed_properties = qualifying_properties(signature, object)?;
    let (algorithm, prefixes, references) = signed_info(signed_info_node)?;
    let [first, second] = references;
    let (whole, props) = if first.attribute("URI") == Some("") {
        (first, second)
    } else {
        (second, first)
    };
    if whole.attribute("URI") != Some("") {
        return Err(DsigError::Reference);
    }
    let whole_reference = reference(whole, true)?;
    let props_reference = reference(props, false)?;
    if props.attribute("Type") != Some(SIGNED_PROPERTIES_TYPE) {
        return Err(DsigError::Reference);
    }
    let target = props
        .attribute("URI")
        .and_then(|u| u.strip_prefix('#'))
        .ok_or(DsigError::Reference)?;
    if target.is_empty() || signed_properties.attribute(POLICY.id_attribute) != Some(target) {
        return Err(DsigError::Reference);
    }
    let signature_bytes = crate::xml::text(signature_value)
        .and_then(|t| decode_base64_ws(&t))
        .ok_or(DsigError::Malformed("bad SignatureValue"))?;
    check_key_sizes(keys, &POLICY)?;
    let mut scratch = Vec::new();
    let document = root.parent().unwrap_or(root);
    check_digest(document, signature, &whole_reference, &mut scratch)?;
    // The SignedProperties subtree does not contain the signature (it is inside it): the
    // exclusion never applies there.
    check_digest(signed_properties, signature, &props_reference, &mut scratch)?;
    let info = SignedInfo {
        prefixes,
        algorithm,
        reference: whole,
    };
    let key_index = check_signature_value(
        signed_info_node,
        &info,
        &signature_bytes,
        keys,
        &POLICY,
        &mut scratch,
    )?;
    let info = SignatureInfo {
        algorithm: info.algorithm,
        digest: whole_reference.digest,
        key_index,
    };
    Ok((Verified::signed(root, signature), info))
}

/// SignedInfo, SignatureValue, KeyInfo?, exactly one Object: nothing else.
#[allow(clippy::type_complexity)]
fn signature_shape<'a, 'i>(
    parts: &[Node<'a, 'i>],
) -> Result<(Node<'a, 'i>, Node<'a, 'i>, Node<'a, 'i>), DsigError> {
    const SHAPE: &str = "expected SignedInfo, SignatureValue, KeyInfo, Object";
    let (signed_info, signature_value, object) = match parts {
        [si, sv, o] => (*si, *sv, *o),
        [si, sv, ki, o] if is_ds(ki, "KeyInfo") => (*si, *sv, *o),
        _ => return Err(DsigError::Malformed(SHAPE)),
    };
    if !is_ds(&signed_info, "SignedInfo")
        || !is_ds(&signature_value, "SignatureValue")
        || !is_ds(&object, "Object")
    {
        return Err(DsigError::Malformed(SHAPE));
    }
    Ok((signed_info, signature_value, object))
}

/// Object → exactly one QualifyingProperties (Target = `#` + the signature's Id when it
/// has one) → its SignedProperties.
fn qualifying_properties<'a, 'i>(
    signature: Node<'a, 'i>,
    object: Node<'a, 'i>,
) -> Result<Node<'a, 'i>, DsigError> {
    let mut inside = element_children(object);
    let (Some(qp), None) = (inside.next(), inside.next()) else {
        return Err(DsigError::Malformed(
            "Object must hold one QualifyingProperties",
        ));
    };
    if !xades(&qp, "QualifyingProperties") {
        return Err(DsigError::Malformed(
            "Object must hold one QualifyingProperties",
        ));
    }
    if let Some(id) = signature.attribute("Id") {
        if qp.attribute("Target").and_then(|t| t.strip_prefix('#')) != Some(id) {
            return Err(DsigError::Malformed(
                "QualifyingProperties Target is not this signature",
            ));
        }
    }
    let mut sp = element_children(qp).filter(|n| xades(n, "SignedProperties"));
    match (sp.next(), sp.next()) {
        (Some(sp), None) => Ok(sp),
        _ => Err(DsigError::Malformed("expected one SignedProperties")),
    }
}

fn xades(node: &Node<'_, '_>, local: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(XADES_NS)
        && node.tag_name().name() == local
}

/// CanonicalizationMethod (exc-c14n), SignatureMethod (allow-list), exactly two References.
#[allow(clippy::type_complexity)]
fn signed_info<'a, 'i>(
    signed_info: Node<'a, 'i>,
) -> Result<(SignatureAlgorithm, Vec<&'a str>, [Node<'a, 'i>; 2]), DsigError> {
    let children: Vec<_> = element_children(signed_info).collect();
    let [c14n_method, sig_method, r1, r2] = children.as_slice() else {
        return Err(DsigError::Reference);
    };
    if !is_ds(c14n_method, "CanonicalizationMethod")
        || !is_ds(sig_method, "SignatureMethod")
        || !is_ds(r1, "Reference")
        || !is_ds(r2, "Reference")
    {
        return Err(DsigError::Malformed("unexpected SignedInfo content"));
    }
    if c14n_method.attribute("Algorithm") != Some(EXC_C14N) {
        return Err(DsigError::Algorithm);
    }
    let prefixes = inclusive_prefixes(*c14n_method)?;
    let algorithm = sig_method
        .attribute("Algorithm")
        .and_then(SignatureAlgorithm::from_uri)
        .ok_or(DsigError::Algorithm)?;
    if element_children(*sig_method).next().is_some() {
        return Err(DsigError::Algorithm);
    }
    Ok((algorithm, prefixes, [*r1, *r2]))
}

/// A Reference: Transforms (the whole-document one: exactly enveloped-signature then
/// exc-c14n; the SignedProperties one: exactly exc-c14n, or none), DigestMethod,
/// DigestValue.
fn reference<'a>(reference: Node<'a, '_>, whole: bool) -> Result<Reference<'a>, DsigError> {
    const SHAPE: &str = "Reference must hold Transforms, DigestMethod, DigestValue";
    let children: Vec<_> = element_children(reference).collect();
    let (transforms, digest_method, digest_value) = match children.as_slice() {
        [t, m, v] if is_ds(t, "Transforms") => (Some(*t), *m, *v),
        [m, v] if !whole => (None, *m, *v),
        _ => return Err(DsigError::Transforms),
    };
    if !is_ds(&digest_method, "DigestMethod") || !is_ds(&digest_value, "DigestValue") {
        return Err(DsigError::Malformed(SHAPE));
    }
    let algorithms: Vec<_> = transforms
        .map(|t| element_children(t).collect())
        .unwrap_or_default();
    let prefixes = match algorithms.as_slice() {
        [t1, t2]
            if whole
                && is_ds(t1, "Transform")
                && t1.attribute("Algorithm") == Some(ENVELOPED)
                && element_children(*t1).next().is_none()
                && is_ds(t2, "Transform")
                && t2.attribute("Algorithm") == Some(EXC_C14N) =>
        {
            inclusive_prefixes(*t2).map_err(|_| DsigError::Transforms)?
        }
        [t] if !whole && is_ds(t, "Transform") && t.attribute("Algorithm") == Some(EXC_C14N) => {
            inclusive_prefixes(*t).map_err(|_| DsigError::Transforms)?
        }
        [] if !whole && transforms.is_none() => Vec::new(),
        _ => return Err(DsigError::Transforms),
    };
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
