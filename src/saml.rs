//! SAML 2.0 vocabulary: the URIs of namespaces, formats and statuses (the
//! [`crate::Binding`] enum is public at the crate root).

/// `samlp:` protocol namespace.
pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// `saml:` assertion namespace.
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// `md:` metadata namespace.
pub const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// SPID SAML extensions namespace (`spid:`).
pub const SPID_NS: &str = "https://spid.gov.it/saml-extensions";
/// SPID invoicing extensions namespace (`fpa:`).
pub const FPA_NS: &str = "https://spid.gov.it/invoicing-extensions";
/// CIE metadata extensions namespace (`cie:`).
pub const CIE_NS: &str = "https://www.cartaidentita.interno.gov.it/saml-extensions";
/// `xsi:` namespace.
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// NameID format `entity` (Issuers).
pub const NAMEID_ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
/// NameID format `transient` (subjects).
pub const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
/// Subject confirmation method `bearer`.
pub const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
/// Status `Success`.
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
/// Status `Requester`.
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
/// Status `Responder`.
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
/// Status `PartialLogout` (second level).
pub const STATUS_PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";

/// The SAML bindings, for the crate's own paths (public as `spid_sp::Binding`).
pub(crate) use crate::binding_kind::Binding;

/// Element lookup by (namespace URI, local name): the only way the SDK matches XML names.
pub(crate) fn is<'a>(node: &crate::xml::Node<'a, '_>, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().name() == local && node.tag_name().namespace() == Some(ns)
}

/// Element children of `node` named (ns, local).
pub(crate) fn children<'a, 'i: 'a>(
    node: crate::xml::Node<'a, 'i>,
    ns: &'static str,
    local: &'static str,
) -> impl Iterator<Item = crate::xml::Node<'a, 'i>> {
    node.children().filter(move |c| is(c, ns, local))
}
