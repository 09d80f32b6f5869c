//! Enveloped signing of a document the SDK wrote itself.

use std::fmt::Write as _;

use super::{
    DigestAlgorithm, DsigError, SignatureAlgorithm, SigningKey, DSIG_NS, ENVELOPED, EXC_C14N,
};
use crate::xml::{self, C14nOptions, Limits};

/// Where the `ds:Signature` goes inside the signed (document) element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureAnchor {
    /// Right after the first child element, which must have this (namespace, local name):
    /// `saml:Issuer` for protocol messages.
    After(&'static str, &'static str),
    /// As the first child (metadata).
    First,
}

/// Signs the document element of `xml` (which must carry an `ID` attribute) with an
/// enveloped signature: exc-c14n, `alg`, SHA-256 digest, `KeyInfo` with the certificate.
/// Returns the signed document.
pub fn sign_enveloped(
    xml: &str,
    key: &SigningKey,
    alg: SignatureAlgorithm,
    anchor: SignatureAnchor,
) -> Result<String, DsigError> {
    sign_element(xml, None, key, alg, anchor)
}

/// Signs the element whose `ID` is `id` (the document element when `None`) with an
/// enveloped signature, as [`sign_enveloped`] does. Sign inner elements first (an
/// Assertion before its Response).
pub fn sign_element(
    xml: &str,
    id: Option<&str>,
    key: &SigningKey,
    alg: SignatureAlgorithm,
    anchor: SignatureAnchor,
) -> Result<String, DsigError> {
    let limits = Limits {
        max_bytes: 16 * 1024 * 1024,
        max_nodes: u32::MAX,
        ..Limits::METADATA
    };
    let doc = xml::parse(xml, &limits).map_err(|_| DsigError::Sign("document does not parse"))?;
    let root = match id {
        None => doc.root_element(),
        Some(id) => doc
            .descendants()
            .find(|n| n.is_element() && n.attribute("ID") == Some(id))
            .ok_or(DsigError::Sign("no element with that ID"))?,
    };
    let id = root
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or(DsigError::Sign("document element has no ID"))?;
    let insert_at = match anchor {
        SignatureAnchor::After(ns, local) => root
            .children()
            .find(|c| c.is_element())
            .filter(|c| c.tag_name().namespace() == Some(ns) && c.tag_name().name() == local)
            .map(|c| c.range().end)
            .ok_or(DsigError::Sign("anchor element missing"))?,
        SignatureAnchor::First => root
            .first_child()
            .map(|c| c.range().start)
            .ok_or(DsigError::Sign("document element is empty"))?,
    };

    let digest_alg = DigestAlgorithm::Sha256;
    let mut canonical = Vec::with_capacity(xml.len());
    xml::canonicalize(root, &C14nOptions::default(), &mut canonical);
    let digest = digest_alg.digest(&canonical);

    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    // Written directly in canonical form, so it is both what is inserted and what is signed.
    let mut signed_info = String::with_capacity(700);
    let _ = write!(
        signed_info,
        "<ds:SignedInfo xmlns:ds=\"{DSIG_NS}\">\
         <ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"></ds:CanonicalizationMethod>\
         <ds:SignatureMethod Algorithm=\"{}\"></ds:SignatureMethod>\
         <ds:Reference URI=\"#{}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"{ENVELOPED}\"></ds:Transform>\
         <ds:Transform Algorithm=\"{EXC_C14N}\"></ds:Transform></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{}\"></ds:DigestMethod>\
         <ds:DigestValue>{}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
        alg.uri(),
        xml::writer::attr(id),
        digest_alg.uri(),
        b64.encode(&*digest),
    );
    let signature_value = key.sign(alg, signed_info.as_bytes())?;

    let mut out = String::with_capacity(xml.len() + signed_info.len() + 2048);
    out.push_str(xml.get(..insert_at).unwrap_or_default());
    let _ = write!(
        out,
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\">{signed_info}<ds:SignatureValue>{}</ds:SignatureValue>\
         <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
         </ds:Signature>",
        b64.encode(signature_value),
        key.certificate_base64(),
    );
    out.push_str(xml.get(insert_at..).unwrap_or_default());
    Ok(out)
}
