//! Verification of a `samlp:Response`: structure first (anti-XSW), then signatures, then
//! every SPID rule, reading values only from the verified nodes of the one parsed tree.
//!
//! The order is fixed and documented (it decides which reason a multiply-broken message
//! is rejected for): input and XML limits → pre-verification shape checks (one Response,
//! unique IDs, signatures only where allowed, exactly one Assertion as a direct child,
//! schema structure `check_structure`, Issuer pre-check) → Response signature if present →
//! Status (refusals) → Assertion signature (mandatory) → Response fields → Assertion
//! fields (`checks.rs`).
//!
//! The types carry what was verified: the shape checks see plain nodes (they only look at
//! positions and names, and reject), the Assertion checks take a [`Verified`] Assertion,
//! and the Response-level reads go through a `ResponseEnvelope`, verified when the IdP
//! signed the Response and explicitly `Unverified` when it did not.

pub(crate) mod checks;

use std::borrow::Cow;

use crate::dsig::{self, Verified, VerifyPolicy, DSIG_NS as DS};
use crate::error::IdpRefusal;
use crate::error::{LoginError, RejectReason, Signed};
use crate::identity::Attributes;
use crate::level::{Comparison, SpidLevel};
use crate::metadata::IdentityProvider;
use crate::saml::{self, ASSERTION_NS, ASSERTION_NS as SA, PROTOCOL_NS, PROTOCOL_NS as SP};
use crate::time::Timestamp;
use crate::xml::{self, Document, Limits, Node, XmlError};

/// What the response is checked against: the pending request and the SP's settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expected<'a> {
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub request_id: &'a str,
    pub request_instant: Timestamp,
    pub level: SpidLevel,
    pub comparison: Comparison,
    pub idp: &'a IdentityProvider,
    pub now: Timestamp,
    pub skew_secs: i64,
    /// The request carried `ForceAuthn="true"` (derived as `start_login` does:
    /// [`crate::FederationRules::force_authn`]).
    pub force_authn: bool,
    pub require_response_signature: bool,
    pub min_rsa_bits: u32,
}

/// The values read from a verified Assertion.
#[derive(Clone, Debug)]
pub(crate) struct VerifiedAssertion {
    pub response_id: String,
    pub assertion_id: String,
    pub name_id: String,
    pub name_qualifier: String,
    pub session_index: Option<String>,
    pub authn_instant: Timestamp,
    pub session_not_on_or_after: Option<Timestamp>,
    pub level: SpidLevel,
    pub not_on_or_after: Timestamp,
    pub attributes: Attributes,
}

/// An element of a Response that no signature covers: the Response itself (and its
/// children) when the IdP did not sign it.
///
/// SPID requires only the Assertion signature, so an unsigned Response is accepted unless
/// `require_response_signature` is set. Its fields (ID, Version, IssueInstant,
/// InResponseTo, Destination, Issuer, Status) are then read unverified, and used only as
/// cross-checks: every value that matters to the login (the request it answers, the
/// recipient, the issuer, the subject) is re-checked inside the signed Assertion, and an
/// IdP refusal only ends the login.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Unverified<'a, 'i>(Node<'a, 'i>);

/// The Response element as the Response-level checks read it: [`Verified`] when its
/// signature verified, [`Unverified`] when it carried none. A child keeps its parent's
/// kind (a signed Response's children are covered by its signature, its `ds:Signature`
/// left out).
#[derive(Clone, Copy, Debug)]
pub(crate) enum ResponseEnvelope<'a, 'i> {
    /// The Response signature verified.
    Signed(Verified<'a, 'i>),
    /// No Response signature: read for cross-checks only (see [`Unverified`]).
    Unsigned(Unverified<'a, 'i>),
}

impl<'a, 'i: 'a> ResponseEnvelope<'a, 'i> {
    pub(crate) fn is_signed(self) -> bool {
        matches!(self, ResponseEnvelope::Signed(_))
    }

    /// The value of the unqualified attribute `name`, as parsed.
    pub(crate) fn attribute(self, name: &str) -> Option<&'a str> {
        match self {
            ResponseEnvelope::Signed(v) => v.attribute(name),
            ResponseEnvelope::Unsigned(Unverified(n)) => n.attribute(name),
        }
    }

    /// The text of a leaf element ([`xml::text`]).
    pub(crate) fn text(self) -> Option<Cow<'a, str>> {
        match self {
            ResponseEnvelope::Signed(v) => v.text(),
            ResponseEnvelope::Unsigned(Unverified(n)) => xml::text(n),
        }
    }

    /// The first element child named `(ns, local)`.
    pub(crate) fn child(self, ns: &'static str, local: &'static str) -> Option<Self> {
        self.only_or_first(ns, local, false)
    }

    /// The only element child named `(ns, local)` (a second one is as bad as none).
    pub(crate) fn only_child(self, ns: &'static str, local: &'static str) -> Option<Self> {
        self.only_or_first(ns, local, true)
    }

    fn only_or_first(self, ns: &'static str, local: &'static str, only: bool) -> Option<Self> {
        match self {
            ResponseEnvelope::Signed(v) => {
                let mut it = v.children_named(ns, local);
                let first = it.next()?;
                (!only || it.next().is_none()).then_some(ResponseEnvelope::Signed(first))
            }
            ResponseEnvelope::Unsigned(Unverified(n)) => {
                let mut it = saml::children(n, ns, local);
                let first = it.next()?;
                (!only || it.next().is_none())
                    .then_some(ResponseEnvelope::Unsigned(Unverified(first)))
            }
        }
    }
}

pub(crate) fn reject_xml(e: XmlError) -> RejectReason {
    match e {
        XmlError::Encoding => RejectReason::InputEncoding,
        XmlError::TooLarge { .. } => RejectReason::InputTooLarge,
        other => RejectReason::Xml(other),
    }
}

/// Verifies a Response document against `exp`.
pub(crate) fn verify(
    text: &str,
    limits: &Limits,
    exp: &Expected<'_>,
) -> Result<VerifiedAssertion, LoginError> {
    let doc = xml::parse(text, limits).map_err(reject_xml)?;
    let shape = pre_verification_shape(&doc, exp)?;

    let policy = VerifyPolicy {
        min_rsa_bits: exp.min_rsa_bits,
        ..VerifyPolicy::default()
    };
    // One canonicalization serves both digests when provably byte-identical
    // (`dsig::SharedC14n`); the checks and their order are those of `verify_enveloped`.
    let mut shared = dsig::SharedC14n::with_capacity(text.len());
    let envelope =
        verify_response_signature(shape.response, shape.assertion, exp, &policy, &mut shared)?;
    check_status(envelope, exp)?;
    let assertion = verify_assertion_signature(shape.assertion, exp, &policy, &mut shared)?;
    if exp.require_response_signature && !envelope.is_signed() {
        return Err(RejectReason::ResponseUnsigned.into());
    }

    let response_id = checks::response(envelope, exp)?;
    let mut verified = checks::assertion(assertion, exp)?;
    verified.response_id = response_id;
    Ok(verified)
}

/// The Response and its Assertion as the shape checks found them: plain nodes, whose
/// position only is known good. Values are read from them only after verification,
/// through [`Verified`] and [`ResponseEnvelope`].
struct Shape<'a, 'i> {
    response: Node<'a, 'i>,
    assertion: Option<Node<'a, 'i>>,
}

/// The pre-verification shape checks (anti-XSW), run on purpose before any cryptography:
/// they look at names and positions only, and reject. One `samlp:Response` document
/// element, unique IDs, signatures only where allowed, at most one Assertion (a direct
/// child), schema structure, then the Issuer pre-check (a wrong IdP is named before its
/// keys are tried).
fn pre_verification_shape<'a, 'i>(
    doc: &'a Document<'i>,
    exp: &Expected<'_>,
) -> Result<Shape<'a, 'i>, RejectReason> {
    let root = doc.root_element();
    if !saml::is(&root, PROTOCOL_NS, "Response") {
        return Err(RejectReason::NotAMessage("Response"));
    }
    check_unique_ids(doc)?;
    check_signature_placement(doc, root)?;
    let assertion = single_assertion(doc, root)?;
    check_structure(root)?;
    issuer_precheck(root, assertion, exp)?;
    Ok(Shape {
        response: root,
        assertion,
    })
}

/// The Response signature, verified when present: a [`ResponseEnvelope::Signed`]; an
/// unsigned Response is [`ResponseEnvelope::Unsigned`] (whether that is allowed is
/// decided after the Assertion signature, as before).
fn verify_response_signature<'a, 'i>(
    response: Node<'a, 'i>,
    assertion: Option<Node<'a, 'i>>,
    exp: &Expected<'_>,
    policy: &VerifyPolicy,
    shared: &mut dsig::SharedC14n<'a, 'i>,
) -> Result<ResponseEnvelope<'a, 'i>, RejectReason> {
    let signature = dsig::find_signature(response).map_err(|_| RejectReason::MisplacedSignature)?;
    let Some(signature) = signature else {
        return Ok(ResponseEnvelope::Unsigned(Unverified(response)));
    };
    let keys = exp.idp.keys();
    let verified = dsig::verify_enclosing(response, signature, assertion, keys, policy, shared)
        .map_err(|error| RejectReason::Signature {
            which: Signed::Response,
            error,
        })?;
    Ok(ResponseEnvelope::Signed(verified.element()))
}

/// The Assertion signature, mandatory.
fn verify_assertion_signature<'a, 'i>(
    assertion: Option<Node<'a, 'i>>,
    exp: &Expected<'_>,
    policy: &VerifyPolicy,
    shared: &mut dsig::SharedC14n<'a, 'i>,
) -> Result<Verified<'a, 'i>, RejectReason> {
    let assertion = assertion.ok_or(RejectReason::AssertionCount)?;
    let signature = dsig::find_signature(assertion)
        .map_err(|_| RejectReason::MisplacedSignature)?
        .ok_or(RejectReason::AssertionUnsigned)?;
    let verified = dsig::verify_enclosed(assertion, signature, exp.idp.keys(), policy, shared)
        .map_err(|error| RejectReason::Signature {
            which: Signed::Assertion,
            error,
        })?;
    Ok(verified.element())
}

/// Pre-verification shape check: every `ID`, `Id`, `id` and `xml:id` value in the document
/// is distinct.
pub(crate) fn check_unique_ids(doc: &Document<'_>) -> Result<(), RejectReason> {
    let mut seen = checks::NameSet::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        for attr in node.attributes() {
            let is_id = match attr.namespace() {
                None => matches!(attr.name(), "ID" | "Id" | "id"),
                Some(ns) => ns == "http://www.w3.org/XML/1998/namespace" && attr.name() == "id",
            };
            if is_id && !seen.insert(attr.value()) {
                return Err(RejectReason::DuplicateId);
            }
        }
    }
    Ok(())
}

/// Pre-verification shape check: a `ds:Signature` may only be a direct child of the
/// document element or of an Assertion that is a direct child of it, and at most one per
/// element.
fn check_signature_placement(doc: &Document<'_>, root: Node<'_, '_>) -> Result<(), RejectReason> {
    let mut parents = Vec::with_capacity(2);
    for sig in doc
        .descendants()
        .filter(|n| saml::is(n, dsig::DSIG_NS, "Signature"))
    {
        let parent = sig
            .parent_element()
            .ok_or(RejectReason::MisplacedSignature)?;
        let allowed = parent == root
            || (saml::is(&parent, ASSERTION_NS, "Assertion")
                && parent.parent_element() == Some(root));
        if !allowed || parents.contains(&parent.id()) {
            return Err(RejectReason::MisplacedSignature);
        }
        parents.push(parent.id());
    }
    Ok(())
}

/// Pre-verification shape check: the one Assertion, a direct child of the Response; no
/// encrypted or nested ones, no nested Responses anywhere.
fn single_assertion<'a, 'i>(
    doc: &'a Document<'i>,
    root: Node<'a, 'i>,
) -> Result<Option<Node<'a, 'i>>, RejectReason> {
    let mut found = None;
    for node in doc.descendants().filter(|n| n.is_element() && *n != root) {
        let ns = node.tag_name().namespace();
        let name = node.tag_name().name();
        if ns == Some(ASSERTION_NS) && name == "EncryptedAssertion" {
            return Err(RejectReason::AssertionCount);
        }
        if ns == Some(PROTOCOL_NS) && name == "Response" {
            return Err(RejectReason::AssertionCount);
        }
        if ns == Some(ASSERTION_NS) && name == "Assertion" {
            if node.parent_element() != Some(root) || found.is_some() {
                return Err(RejectReason::AssertionCount);
            }
            found = Some(node);
        }
    }
    Ok(found)
}

/// Where an element may appear in its parent: a set of names in one namespace (an empty
/// set with [`Ns::Other`] = any element outside the SAML assertion and protocol
/// namespaces, XSD's `##other`), at most `max` times in a row.
struct Particle {
    ns: Ns,
    names: &'static [&'static str],
    max: usize,
}

/// An element's namespace as the content models tell them apart, found once per element
/// (the URIs are compared once, not once per particle tried).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    /// SAML assertion ([`SA`]).
    Sa,
    /// SAML protocol ([`SP`]).
    Sp,
    /// XML signature ([`DS`]).
    Ds,
    /// Any other, or none; in a particle: the wildcard.
    Other,
}

impl Ns {
    fn of(node: Node<'_, '_>) -> Ns {
        match node.tag_name().namespace() {
            Some(SA) => Ns::Sa,
            Some(SP) => Ns::Sp,
            Some(DS) => Ns::Ds,
            _ => Ns::Other,
        }
    }
}

const MANY: usize = usize::MAX;

const fn one(ns: Ns, names: &'static [&'static str]) -> Particle {
    Particle { ns, names, max: 1 }
}

const fn many(ns: Ns, names: &'static [&'static str]) -> Particle {
    Particle {
        ns,
        names,
        max: MANY,
    }
}

/// What an element may contain.
#[derive(Clone, Copy)]
enum Content {
    /// Element-only content, as a sequence of particles (whitespace text allowed).
    Elements(&'static [Particle]),
    /// Simple content: text, no child element.
    Text,
    /// Nothing but whitespace.
    Empty,
    /// Not checked here: `ds:Signature` (the signature code checks it), `samlp:Extensions`
    /// and `StatusDetail` (free by the schema), `AttributeValue`, `AuthnContextDecl` and
    /// `SubjectConfirmationData` (`anyType`-like), `saml:Condition` (rejected as an
    /// unsupported condition), foreign elements matched by a wildcard.
    Free,
}

/// `samlp:Response` as SPID profiles it (saml-schema-protocol-2.0 `ResponseType`):
/// Issuer?, ds:Signature?, Extensions?, Status, Assertion (exactly one is enforced by
/// `single_assertion`; minimum counts are left to the field checks, which name them).
const RESPONSE: &[Particle] = &[
    one(Ns::Sa, &["Issuer"]),
    one(Ns::Ds, &["Signature"]),
    one(Ns::Sp, &["Extensions"]),
    one(Ns::Sp, &["Status"]),
    one(Ns::Sa, &["Assertion"]),
];
const STATUS: &[Particle] = &[
    one(Ns::Sp, &["StatusCode"]),
    one(Ns::Sp, &["StatusMessage"]),
    one(Ns::Sp, &["StatusDetail"]),
];
const STATUS_CODE: &[Particle] = &[one(Ns::Sp, &["StatusCode"])];
/// `AssertionType`: Issuer, ds:Signature?, Subject?, Conditions?, Advice?, statements*
/// (SPID: AuthnStatement and AttributeStatement only; `saml:Statement` extensions and
/// `AuthzDecisionStatement` are not understood, so not allowed).
const ASSERTION: &[Particle] = &[
    one(Ns::Sa, &["Issuer"]),
    one(Ns::Ds, &["Signature"]),
    one(Ns::Sa, &["Subject"]),
    one(Ns::Sa, &["Conditions"]),
    one(Ns::Sa, &["Advice"]),
    many(Ns::Sa, &["AuthnStatement", "AttributeStatement"]),
];
/// `SubjectType` with a NameID (SPID: no BaseID, no EncryptedID).
const SUBJECT: &[Particle] = &[
    one(Ns::Sa, &["NameID"]),
    many(Ns::Sa, &["SubjectConfirmation"]),
];
const SUBJECT_CONFIRMATION: &[Particle] = &[
    one(Ns::Sa, &["NameID"]),
    one(Ns::Sa, &["SubjectConfirmationData"]),
];
const CONDITIONS: &[Particle] = &[many(
    Ns::Sa,
    &[
        "AudienceRestriction",
        "OneTimeUse",
        "ProxyRestriction",
        "Condition",
    ],
)];
const AUDIENCES: &[Particle] = &[many(Ns::Sa, &["Audience"])];
const ADVICE: &[Particle] = &[
    many(
        Ns::Sa,
        &[
            "AssertionIDRef",
            "AssertionURIRef",
            "Assertion",
            "EncryptedAssertion",
        ],
    ),
    many(Ns::Other, &[]),
];
const AUTHN_STATEMENT: &[Particle] = &[
    one(Ns::Sa, &["SubjectLocality"]),
    one(Ns::Sa, &["AuthnContext"]),
];
const AUTHN_CONTEXT: &[Particle] = &[
    one(Ns::Sa, &["AuthnContextClassRef"]),
    one(Ns::Sa, &["AuthnContextDecl", "AuthnContextDeclRef"]),
    many(Ns::Sa, &["AuthenticatingAuthority"]),
];
/// `AttributeStatementType` with Attributes only (SPID: no EncryptedAttribute).
const ATTRIBUTE_STATEMENT: &[Particle] = &[many(Ns::Sa, &["Attribute"])];
const ATTRIBUTE: &[Particle] = &[many(Ns::Sa, &["AttributeValue"])];

/// The content model of an element that a particle admitted.
fn content_of(node: Node<'_, '_>, ns: Ns) -> Content {
    let name = node.tag_name().name();
    match ns {
        Ns::Sa => match name {
            "Assertion" => Content::Elements(ASSERTION),
            "Subject" => Content::Elements(SUBJECT),
            "SubjectConfirmation" => Content::Elements(SUBJECT_CONFIRMATION),
            "Conditions" => Content::Elements(CONDITIONS),
            "AudienceRestriction" | "ProxyRestriction" => Content::Elements(AUDIENCES),
            "Advice" => Content::Elements(ADVICE),
            "AuthnStatement" => Content::Elements(AUTHN_STATEMENT),
            "AuthnContext" => Content::Elements(AUTHN_CONTEXT),
            "AttributeStatement" => Content::Elements(ATTRIBUTE_STATEMENT),
            "Attribute" => Content::Elements(ATTRIBUTE),
            "Issuer"
            | "NameID"
            | "Audience"
            | "AuthnContextClassRef"
            | "AuthnContextDeclRef"
            | "AuthenticatingAuthority"
            | "AssertionIDRef"
            | "AssertionURIRef" => Content::Text,
            "OneTimeUse" | "SubjectLocality" => Content::Empty,
            _ => Content::Free,
        },
        Ns::Sp => match name {
            "Response" => Content::Elements(RESPONSE),
            "Status" => Content::Elements(STATUS),
            "StatusCode" => Content::Elements(STATUS_CODE),
            "StatusMessage" => Content::Text,
            _ => Content::Free,
        },
        _ => Content::Free,
    }
}

impl Particle {
    fn admits(&self, ns: Ns, name: &str) -> bool {
        if self.ns == Ns::Other {
            return !matches!(ns, Ns::Sa | Ns::Sp);
        }
        ns == self.ns && self.names.contains(&name)
    }
}

/// Pre-verification shape check, schema-strict structure: every element of the Response is
/// one the SAML 2.0 schemas (saml-schema-protocol-2.0, saml-schema-assertion-2.0, as SPID
/// profiles them) allow at its position — known names in their namespaces, in sequence order, at most as many as
/// allowed — with no text in element-only content and no element in text-only content.
/// Runs before any value is read; absent required elements are left to the field checks
/// that name them (`subject`, `audience`...), so that their codes stay specific.
pub(crate) fn check_structure(root: Node<'_, '_>) -> Result<(), RejectReason> {
    check_content(root, content_of(root, Ns::of(root)))
}

fn check_content(node: Node<'_, '_>, content: Content) -> Result<(), RejectReason> {
    let wrong = || RejectReason::SchemaStructure(static_name(node));
    let model = match content {
        Content::Free => return Ok(()),
        Content::Text if node.children().any(|c| c.is_element()) => return Err(wrong()),
        Content::Text => return Ok(()),
        Content::Empty => {
            let blank = node
                .children()
                .all(|c| c.is_text() && c.text().unwrap_or_default().trim().is_empty());
            return if blank { Ok(()) } else { Err(wrong()) };
        }
        Content::Elements(model) => model,
    };
    let mut at = 0;
    let mut count = 0;
    for child in node.children() {
        if child.is_text() {
            if !child.text().unwrap_or_default().trim().is_empty() {
                return Err(wrong());
            }
            continue;
        }
        if !child.is_element() {
            continue;
        }
        let (ns, name) = (Ns::of(child), child.tag_name().name());
        let (index, particle) = model
            .iter()
            .enumerate()
            .skip(at)
            .find(|(_, p)| p.admits(ns, name))
            .ok_or_else(wrong)?;
        if index != at {
            at = index;
            count = 0;
        }
        count += 1;
        if count > particle.max {
            return Err(wrong());
        }
        check_content(child, content_of(child, ns))?;
    }
    Ok(())
}

/// The local name of a SAML element whose content was checked, as a static string.
fn static_name(node: Node<'_, '_>) -> &'static str {
    const NAMES: &[&str] = &[
        "Response",
        "Status",
        "StatusCode",
        "StatusMessage",
        "Assertion",
        "Issuer",
        "Subject",
        "NameID",
        "SubjectConfirmation",
        "Conditions",
        "AudienceRestriction",
        "ProxyRestriction",
        "Audience",
        "OneTimeUse",
        "Advice",
        "AuthnStatement",
        "SubjectLocality",
        "AuthnContext",
        "AuthnContextClassRef",
        "AuthnContextDeclRef",
        "AuthenticatingAuthority",
        "AttributeStatement",
        "Attribute",
        "AssertionIDRef",
        "AssertionURIRef",
    ];
    let name = node.tag_name().name();
    NAMES
        .iter()
        .find(|n| **n == name)
        .copied()
        .unwrap_or("element")
}

/// The trimmed text of a leaf element; `None` for an element with element children. For
/// plain nodes: the pre-verification Issuer reads only.
pub(crate) fn leaf_text(node: Node<'_, '_>) -> Option<String> {
    trimmed(xml::text(node))
}

/// The trimmed text of a verified leaf element; `None` for an element with element
/// children.
pub(crate) fn verified_text(node: Verified<'_, '_>) -> Option<String> {
    trimmed(node.text())
}

/// A leaf text, trimmed and owned.
pub(crate) fn trimmed(text: Option<Cow<'_, str>>) -> Option<String> {
    text.map(|t| t.trim().to_owned())
}

/// A leaf text, trimmed, borrowed when it can be: for texts only compared or parsed.
pub(crate) fn trimmed_cow(text: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    text.map(|t| match t {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
    })
}

/// Pre-verification: a non-empty Issuer that names another entity than the IdP the request
/// went to is rejected before its keys are tried. Reads unverified text and only rejects;
/// the Issuers are re-checked on the verified nodes (`checks::response`, `checks::assertion`).
fn issuer_precheck(
    root: Node<'_, '_>,
    assertion: Option<Node<'_, '_>>,
    exp: &Expected<'_>,
) -> Result<(), RejectReason> {
    for parent in std::iter::once(root).chain(assertion) {
        if let Some(issuer) = saml::children(parent, ASSERTION_NS, "Issuer").next() {
            let text = trimmed_cow(xml::text(issuer)).unwrap_or_default();
            if !text.is_empty() && text != exp.idp.entity_id().as_str() {
                return Err(RejectReason::IssuerMismatch);
            }
        }
    }
    Ok(())
}

/// Success continues; anything else is the IdP's refusal (after checking it answers the
/// pending request). Reads the Response's Status, verified only if the Response was signed
/// (see [`Unverified`]: a refusal ends the login, it grants nothing).
fn check_status(envelope: ResponseEnvelope<'_, '_>, exp: &Expected<'_>) -> Result<(), LoginError> {
    let status = envelope
        .child(PROTOCOL_NS, "Status")
        .ok_or(RejectReason::ResponseStatus)?;
    let code = status
        .child(PROTOCOL_NS, "StatusCode")
        .ok_or(RejectReason::ResponseStatus)?;
    let value = code
        .attribute("Value")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(RejectReason::ResponseStatus)?;
    if value == saml::STATUS_SUCCESS {
        // A second-level code under Success has no meaning for an authentication answer.
        if code.child(PROTOCOL_NS, "StatusCode").is_some() {
            return Err(RejectReason::ResponseStatus.into());
        }
        return Ok(());
    }
    if envelope.attribute("InResponseTo").map(str::trim) != Some(exp.request_id) {
        return Err(RejectReason::ResponseInResponseTo.into());
    }
    let sub = code
        .child(PROTOCOL_NS, "StatusCode")
        .and_then(|s| s.attribute("Value"));
    let message = status
        .child(PROTOCOL_NS, "StatusMessage")
        .and_then(|m| trimmed(m.text()));
    Err(LoginError::Refused(IdpRefusal::new(
        value,
        sub,
        message.as_deref(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
        xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
        xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" xmlns:x=\"urn:x\">";

    fn structure(body: &str) -> Result<(), RejectReason> {
        let text = format!("{HEAD}{body}</samlp:Response>");
        let doc = xml::parse(&text, &Limits::MESSAGE).unwrap();
        check_structure(doc.root_element())
    }

    #[test]
    fn content_models_accept_what_the_schema_allows() {
        for ok in [
            // A refusal: nested code, message, free StatusDetail.
            "<saml:Issuer>i</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"r\">\
             <samlp:StatusCode Value=\"a\"/></samlp:StatusCode><samlp:StatusMessage>m\
             </samlp:StatusMessage><samlp:StatusDetail><x:Why>any</x:Why></samlp:StatusDetail>\
             </samlp:Status>",
            // Free Extensions; an Assertion with every optional part, in order.
            "<saml:Issuer>i</saml:Issuer><ds:Signature><x:Anything/></ds:Signature>\
             <samlp:Extensions><x:E><x:F/></x:E></samlp:Extensions><samlp:Status>\
             <samlp:StatusCode Value=\"s\"/></samlp:Status><saml:Assertion><saml:Issuer>i\
             </saml:Issuer><saml:Subject><saml:NameID>n</saml:NameID><saml:SubjectConfirmation>\
             <saml:NameID>n</saml:NameID><saml:SubjectConfirmationData><x:Free/>\
             </saml:SubjectConfirmationData></saml:SubjectConfirmation><saml:SubjectConfirmation/>\
             </saml:Subject><saml:Conditions><saml:OneTimeUse> </saml:OneTimeUse>\
             <saml:AudienceRestriction><saml:Audience>a</saml:Audience><saml:Audience>b\
             </saml:Audience></saml:AudienceRestriction><saml:AudienceRestriction/>\
             </saml:Conditions><saml:Advice><saml:AssertionIDRef>r</saml:AssertionIDRef>\
             <x:Other/></saml:Advice><saml:AttributeStatement><saml:Attribute>\
             <saml:AttributeValue><x:Structured/></saml:AttributeValue><saml:AttributeValue>v\
             </saml:AttributeValue></saml:Attribute></saml:AttributeStatement><saml:AuthnStatement>\
             <saml:SubjectLocality/><saml:AuthnContext><saml:AuthnContextClassRef>c\
             </saml:AuthnContextClassRef><saml:AuthnContextDeclRef>d</saml:AuthnContextDeclRef>\
             <saml:AuthenticatingAuthority>x</saml:AuthenticatingAuthority>\
             <saml:AuthenticatingAuthority>y</saml:AuthenticatingAuthority></saml:AuthnContext>\
             </saml:AuthnStatement></saml:Assertion>",
            // Minimum counts are the field checks' business.
            "",
            "<saml:Assertion><saml:Subject/><saml:AuthnStatement/></saml:Assertion>",
        ] {
            assert_eq!(structure(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn content_models_reject_the_rest() {
        for (bad, parent) in [
            ("<x:Thing/>", "Response"),
            ("<samlp:Status/><saml:Issuer>i</saml:Issuer>", "Response"),
            ("<samlp:Extensions/><ds:Signature/>", "Response"),
            ("<samlp:Status/><samlp:Status/>", "Response"),
            ("text", "Response"),
            ("<samlp:Status><samlp:StatusMessage/><samlp:StatusCode/></samlp:Status>", "Status"),
            ("<samlp:Status><samlp:StatusCode><x:Y/></samlp:StatusCode></samlp:Status>", "StatusCode"),
            ("<samlp:Status><samlp:StatusMessage><x:Y/></samlp:StatusMessage></samlp:Status>", "StatusMessage"),
            ("<saml:Assertion><saml:Subject/><saml:Issuer>i</saml:Issuer></saml:Assertion>", "Assertion"),
            ("<saml:Assertion><saml:Statement/></saml:Assertion>", "Assertion"),
            ("<saml:Assertion><saml:AuthzDecisionStatement/></saml:Assertion>", "Assertion"),
            ("<saml:Assertion><saml:AttributeStatement/><saml:Conditions/></saml:Assertion>", "Assertion"),
            ("<saml:Assertion><saml:Subject><saml:EncryptedID/></saml:Subject></saml:Assertion>", "Subject"),
            ("<saml:Assertion><saml:Subject><saml:SubjectConfirmation/><saml:NameID/></saml:Subject></saml:Assertion>", "Subject"),
            ("<saml:Assertion><saml:Subject><saml:SubjectConfirmation><saml:SubjectConfirmationData/><saml:SubjectConfirmationData/></saml:SubjectConfirmation></saml:Subject></saml:Assertion>", "SubjectConfirmation"),
            ("<saml:Assertion><saml:Conditions><saml:Audience>a</saml:Audience></saml:Conditions></saml:Assertion>", "Conditions"),
            ("<saml:Assertion><saml:Conditions><saml:AudienceRestriction><x:A/></saml:AudienceRestriction></saml:Conditions></saml:Assertion>", "AudienceRestriction"),
            ("<saml:Assertion><saml:Conditions><saml:OneTimeUse>x</saml:OneTimeUse></saml:Conditions></saml:Assertion>", "OneTimeUse"),
            ("<saml:Assertion><saml:Advice><saml:Issuer>i</saml:Issuer></saml:Advice></saml:Assertion>", "Advice"),
            ("<saml:Assertion><saml:Advice><x:O/><saml:AssertionIDRef>r</saml:AssertionIDRef></saml:Advice></saml:Assertion>", "Advice"),
            ("<saml:Assertion><saml:AuthnStatement><saml:AuthnContext/><saml:SubjectLocality/></saml:AuthnStatement></saml:Assertion>", "AuthnStatement"),
            ("<saml:Assertion><saml:AuthnStatement><saml:AuthnContext><saml:AuthnContextClassRef>a</saml:AuthnContextClassRef><saml:AuthnContextClassRef>b</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement></saml:Assertion>", "AuthnContext"),
            ("<saml:Assertion><saml:AttributeStatement><saml:EncryptedAttribute/></saml:AttributeStatement></saml:Assertion>", "AttributeStatement"),
            ("<saml:Assertion><saml:AttributeStatement><saml:Attribute><saml:Value/></saml:Attribute></saml:AttributeStatement></saml:Assertion>", "Attribute"),
            ("<saml:Assertion><saml:Issuer>i<x:b/></saml:Issuer></saml:Assertion>", "Issuer"),
        ] {
            assert_eq!(
                structure(bad),
                Err(RejectReason::SchemaStructure(parent)),
                "{bad}"
            );
        }
    }
}
