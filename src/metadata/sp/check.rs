//! Our own rules on any SP metadata file (SPID technical rules and Avviso 29 §4, the CIE
//! federation manual, the eIDAS node's services 99/100, and what AgID's spid-sp-test
//! enforces), reported as a list of problems with stable codes.

use std::fmt;

use openssl::x509::X509;
use roxmltree::Node;

use super::{
    is_email, is_http_url, is_vat_number, truncate, SpProfile, EIDAS_FULL_INDEX,
    EIDAS_MINIMUM_INDEX, NAME_FORMAT_BASIC, NAME_FORMAT_URI, XML_NS,
};
use crate::dsig::{self, KeyError, VerificationKey, VerifyPolicy, DSIG_NS};
use crate::saml::{Binding, CIE_NS, FPA_NS, METADATA_NS, NAMEID_TRANSIENT, PROTOCOL_NS, SPID_NS};
use crate::time::Timestamp;
use crate::xml::{self, Limits};

/// How serious a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Severity {
    /// Breaks a rule: the federation (or its conformance tool) refuses the metadata.
    Error,
    /// Allowed, but wrong for production (plain http, explicit port, ...) or risky.
    Warning,
}

/// One problem found in SP metadata: a stable `code` (for scripts and tests) and a
/// lower-case message for people. Messages quote element and attribute names, never the
/// values of contacts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MetadataProblem {
    /// Stable identifier, e.g. `signature-missing`, `acs-default`.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for MetadataProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level} [{}]: {}", self.code, self.message)
    }
}

/// Checks SP metadata against the rules of `profile` (structure and element order, one
/// default ACS with index 0, attribute names, organization languages, contacts and their
/// extensions, signature present and valid with the certificate embedded in its KeyInfo,
/// certificates RSA ≥ 2048 and not SHA-1 signed). Certificate expiry and `validUntil` need
/// a clock: see [`check_sp_metadata_at`]. An empty list means no problem found.
pub fn check_sp_metadata(xml: &str, profile: SpProfile) -> Vec<MetadataProblem> {
    run(xml, profile, None)
}

/// [`check_sp_metadata`], plus certificate expiry and `validUntil` against `now`.
pub fn check_sp_metadata_at(xml: &str, profile: SpProfile, now: Timestamp) -> Vec<MetadataProblem> {
    run(xml, profile, Some(now))
}

fn run(xml: &str, profile: SpProfile, now: Option<Timestamp>) -> Vec<MetadataProblem> {
    let mut c = Checker {
        profile,
        now,
        problems: Vec::new(),
        checked_certs: Vec::new(),
    };
    if xml.starts_with(|ch: char| ch.is_whitespace()) {
        c.warn(
            "leading-whitespace",
            "the document starts with whitespace (spid-sp-test warns about it)".into(),
        );
    }
    match xml::parse(xml, &Limits::METADATA) {
        Ok(doc) => c.document(doc.root_element()),
        Err(e) => c.err(
            "xml-invalid",
            format!("the document is not usable xml: {e}"),
        ),
    }
    c.problems
}

/// Rank of an element that may appear anywhere among its siblings.
const ANYWHERE: u8 = u8::MAX;

struct Checker {
    profile: SpProfile,
    now: Option<Timestamp>,
    problems: Vec<MetadataProblem>,
    checked_certs: Vec<[u8; 32]>,
}

fn is(node: &Node<'_, '_>, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().name() == local && node.tag_name().namespace() == Some(ns)
}

fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(Node::is_element)
}

fn named<'a, 'i>(node: Node<'a, 'i>, ns: &'static str, local: &'static str) -> Vec<Node<'a, 'i>> {
    elements(node).filter(|c| is(c, ns, local)).collect()
}

fn fpa<'a, 'i>(node: Node<'a, 'i>, local: &'static str) -> Vec<Node<'a, 'i>> {
    named(node, FPA_NS, local)
}

fn md<'a, 'i>(node: Node<'a, 'i>, local: &'static str) -> Vec<Node<'a, 'i>> {
    named(node, METADATA_NS, local)
}

/// Trimmed text of a leaf element (`None` if it has element children).
fn value(node: Node<'_, '_>) -> Option<String> {
    xml::text(node).map(|t| t.trim().to_owned())
}

fn nonempty(node: Node<'_, '_>) -> bool {
    value(node).is_some_and(|v| !v.is_empty())
}

fn display_name(node: &Node<'_, '_>) -> String {
    truncate(node.tag_name().name(), 48)
}

/// The first `ds:KeyInfo/ds:X509Data/ds:X509Certificate` text under `parent`.
fn x509_certificate(parent: Node<'_, '_>) -> Option<String> {
    named(parent, DSIG_NS, "KeyInfo")
        .into_iter()
        .flat_map(|ki| named(ki, DSIG_NS, "X509Data"))
        .flat_map(|d| named(d, DSIG_NS, "X509Certificate"))
        .find_map(value)
        .filter(|v| !v.is_empty())
}

fn has_port(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let after_brackets = host.rsplit_once(']').map_or(host, |(_, h)| h);
    after_brackets.contains(':')
}

impl Checker {
    fn err(&mut self, code: &'static str, message: String) {
        self.problems.push(MetadataProblem {
            code,
            severity: Severity::Error,
            message,
        });
    }

    fn warn(&mut self, code: &'static str, message: String) {
        self.problems.push(MetadataProblem {
            code,
            severity: Severity::Warning,
            message,
        });
    }

    /// Element children of `parent` must be known (`rank` is `Some`) and in non-decreasing
    /// rank order (the XSD sequence); rank [`ANYWHERE`] is allowed at any position.
    fn order(&mut self, parent: Node<'_, '_>, rank: impl Fn(&Node<'_, '_>) -> Option<u8>) {
        let mut last = 0u8;
        let mut reported = false;
        for child in elements(parent) {
            match rank(&child) {
                Some(ANYWHERE) => {}
                None => self.err(
                    "unexpected-element",
                    format!(
                        "unexpected element {} in {}",
                        display_name(&child),
                        display_name(&parent)
                    ),
                ),
                Some(r) if r < last && !reported => {
                    reported = true;
                    self.err(
                        "element-order",
                        format!(
                            "element {} is out of order in {} (the schema fixes the order of children)",
                            display_name(&child),
                            display_name(&parent)
                        ),
                    );
                }
                Some(r) => last = last.max(r),
            }
        }
    }

    fn url(&mut self, code: &'static str, what: &str, url: Option<&str>) {
        let url = url.map(str::trim).unwrap_or_default();
        if url.is_empty() {
            self.err(code, format!("{what} has no url"));
        } else if !is_http_url(url) {
            self.err(code, format!("{what} is not an http(s) url"));
        } else {
            if !url.starts_with("https://") {
                self.warn(
                    "url-not-https",
                    format!("{what} is not https (required in production)"),
                );
            }
            if has_port(url) {
                self.warn(
                    "url-port",
                    format!("{what} has an explicit tcp port (not allowed in production)"),
                );
            }
        }
    }

    fn document(&mut self, root: Node<'_, '_>) {
        if !is(&root, METADATA_NS, "EntityDescriptor") {
            let what = if is(&root, METADATA_NS, "EntitiesDescriptor") {
                "an EntitiesDescriptor aggregate: sp metadata is exactly one EntityDescriptor"
            } else {
                "not an md:EntityDescriptor"
            };
            self.err("not-entity-descriptor", format!("the document is {what}"));
            return;
        }
        self.entity_id(root);
        self.valid_until(root);
        self.order(root, |n| {
            if is(n, DSIG_NS, "Signature") {
                Some(0)
            } else if n.tag_name().namespace() != Some(METADATA_NS) {
                None
            } else {
                match n.tag_name().name() {
                    "Extensions" => Some(1),
                    "SPSSODescriptor" => Some(2),
                    "Organization" => Some(3),
                    "ContactPerson" => Some(4),
                    "AdditionalMetadataLocation" => Some(5),
                    _ => None,
                }
            }
        });
        let signature_cert = self.signature(root);

        let spsso = md(root, "SPSSODescriptor");
        let signing = match spsso.as_slice() {
            [one] => self.sp_sso(*one),
            [] => {
                self.err(
                    "spsso-count",
                    "no SPSSODescriptor: the entity is not a service provider".into(),
                );
                Vec::new()
            }
            _ => {
                self.err(
                    "spsso-count",
                    "more than one SPSSODescriptor (exactly one is allowed)".into(),
                );
                Vec::new()
            }
        };
        if let Some(fp) = signature_cert {
            if !signing.is_empty() && !signing.contains(&fp) {
                self.warn(
                    "signature-certificate-not-listed",
                    "the metadata is signed with a certificate not listed in a KeyDescriptor use=\"signing\"".into(),
                );
            }
        }
        let org_name = self.organization(root);
        self.contacts(root, org_name.as_deref());
    }

    fn entity_id(&mut self, root: Node<'_, '_>) {
        let id = root.attribute("entityID").unwrap_or_default();
        if id.trim().is_empty() {
            self.err(
                "entity-id-missing",
                "the EntityDescriptor has no entityID".into(),
            );
            return;
        }
        if id.len() > 1024 {
            self.err(
                "entity-id-too-long",
                "the entityID is longer than 1024 characters".into(),
            );
        }
        if !id.starts_with("https://") || !is_http_url(id) {
            self.warn(
                "entity-id-not-https",
                "the entityID is not an https url (required in production)".into(),
            );
        } else if has_port(id) {
            self.warn(
                "entity-id-port",
                "the entityID has an explicit tcp port (not allowed in production)".into(),
            );
        }
        if id.contains('?') {
            self.warn("entity-id-query", "the entityID has a query string".into());
        }
    }

    fn valid_until(&mut self, root: Node<'_, '_>) {
        let Some(v) = root.attribute("validUntil") else {
            return;
        };
        match Timestamp::parse(v) {
            Err(_) => self.err(
                "valid-until-invalid",
                "validUntil is not a utc xs:dateTime".into(),
            ),
            Ok(t) => {
                if self.now.is_some_and(|now| t < now) {
                    self.err(
                        "metadata-expired",
                        "validUntil is in the past: the metadata has expired".into(),
                    );
                }
            }
        }
    }

    /// Checks the signature; returns the fingerprint of its embedded certificate.
    fn signature(&mut self, root: Node<'_, '_>) -> Option<[u8; 32]> {
        let sig = match dsig::find_signature(root) {
            Ok(Some(s)) => s,
            Ok(None) => {
                self.err(
                    "signature-missing",
                    "the metadata is not signed (a ds:Signature child of the EntityDescriptor is required)".into(),
                );
                return None;
            }
            Err(e) => {
                self.err("signature-invalid", format!("metadata signature: {e}"));
                return None;
            }
        };
        let Some(b64) = x509_certificate(sig) else {
            self.err(
                "signature-no-certificate",
                "the signature's KeyInfo carries no X509Certificate (AgID's tools verify the metadata with that certificate only)".into(),
            );
            return None;
        };
        let key = self.certificate("the signature certificate", &b64)?;
        let policy = VerifyPolicy {
            min_rsa_bits: 1024,
            id_attribute: "ID",
            allow_whole_document: true,
        };
        let mut scratch = Vec::new();
        if let Err(e) =
            dsig::verify_enveloped(root, sig, std::slice::from_ref(&key), &policy, &mut scratch)
        {
            self.err(
                "signature-invalid",
                format!(
                    "the metadata signature does not verify with its embedded certificate: {e}"
                ),
            );
        }
        Some(*key.fingerprint())
    }

    /// Parses and checks a certificate (once per distinct certificate).
    fn certificate(&mut self, what: &str, b64: &str) -> Option<VerificationKey> {
        let Some(cert) = dsig::decode_base64_ws(b64).and_then(|der| X509::from_der(&der).ok())
        else {
            self.err(
                "certificate-invalid",
                format!("{what} is not a valid base64 der x.509 certificate"),
            );
            return None;
        };
        let key = match VerificationKey::from_x509(&cert) {
            Ok(k) => k,
            Err(KeyError::NotRsa) => {
                self.err(
                    "certificate-not-rsa",
                    format!("{what} does not hold an rsa key (spid and cie sign with rsa)"),
                );
                return None;
            }
            Err(_) => {
                self.err("certificate-invalid", format!("{what} cannot be read"));
                return None;
            }
        };
        if self.checked_certs.contains(key.fingerprint()) {
            return Some(key);
        }
        self.checked_certs.push(*key.fingerprint());
        if key.bits() < 2048 {
            self.err(
                "certificate-weak-key",
                format!(
                    "{what} has a {}-bit rsa key (at least 2048 required)",
                    key.bits()
                ),
            );
        }
        let alg = cert
            .signature_algorithm()
            .object()
            .nid()
            .long_name()
            .unwrap_or("unknown")
            .to_ascii_lowercase();
        if ["sha1", "md5", "md4", "md2"]
            .iter()
            .any(|w| alg.contains(w))
        {
            self.err(
                "certificate-weak-hash",
                format!("{what} is signed with {alg} (sha-256 or stronger required)"),
            );
        }
        if let (Some(now), Some(not_after)) = (self.now, key.not_after()) {
            if not_after < now {
                self.err(
                    "certificate-expired",
                    format!("{what} expired on {}", not_after.date()),
                );
            }
        }
        Some(key)
    }

    /// Checks the SPSSODescriptor; returns the fingerprints of the signing certificates.
    fn sp_sso(&mut self, sso: Node<'_, '_>) -> Vec<[u8; 32]> {
        let cie = self.profile.is_cie();
        if sso.attribute("protocolSupportEnumeration").map(str::trim) != Some(PROTOCOL_NS) {
            self.err(
                "protocol-support",
                format!(
                    "the SPSSODescriptor protocolSupportEnumeration must be exactly {PROTOCOL_NS}"
                ),
            );
        }
        for (attr, code) in [
            ("AuthnRequestsSigned", "authn-requests-signed"),
            ("WantAssertionsSigned", "want-assertions-signed"),
        ] {
            if sso.attribute(attr) != Some("true") {
                self.err(code, format!("the SPSSODescriptor {attr} must be \"true\""));
            }
        }
        self.order(sso, |n| {
            if is(n, DSIG_NS, "Signature") {
                return Some(0);
            }
            if n.tag_name().namespace() != Some(METADATA_NS) {
                return None;
            }
            match n.tag_name().name() {
                "Extensions" => Some(1),
                "KeyDescriptor" => Some(2),
                "Organization" => Some(3),
                "ContactPerson" => Some(4),
                "ArtifactResolutionService" => Some(5),
                "SingleLogoutService" => Some(6),
                "ManageNameIDService" => Some(7),
                "NameIDFormat" => Some(8),
                "AssertionConsumerService" => Some(9),
                "AttributeConsumingService" => Some(10),
                _ => None,
            }
        });

        // KeyDescriptors.
        let mut signing = Vec::new();
        let mut any_signing = false;
        for kd in md(sso, "KeyDescriptor") {
            let usage = kd.attribute("use");
            match usage {
                Some("signing") => any_signing = true,
                Some("encryption") => {}
                None if !cie => {}
                _ => {
                    self.err(
                        "key-descriptor-use",
                        "the KeyDescriptor use must be \"signing\" or \"encryption\"".into(),
                    );
                }
            }
            let what = if usage == Some("encryption") {
                "an encryption certificate"
            } else {
                "a signing certificate"
            };
            match x509_certificate(kd) {
                None => self.err(
                    "key-descriptor-certificate",
                    "a KeyDescriptor has no ds:KeyInfo/ds:X509Data/ds:X509Certificate".into(),
                ),
                Some(b64) => {
                    if let Some(key) = self.certificate(what, &b64) {
                        if usage == Some("signing") {
                            signing.push(*key.fingerprint());
                        }
                    }
                }
            }
        }
        if !any_signing {
            self.err(
                "signing-key-missing",
                "no KeyDescriptor use=\"signing\": the idp could not verify the sp's requests"
                    .into(),
            );
        }

        // SingleLogoutService.
        let slos = md(sso, "SingleLogoutService");
        if slos.is_empty() {
            self.err(
                "slo-missing",
                "no SingleLogoutService (at least one is required)".into(),
            );
        }
        let mut redirect = false;
        for slo in &slos {
            match slo.attribute("Binding").and_then(Binding::from_uri) {
                Some(b) => redirect |= b == Binding::Redirect,
                None => self.err(
                    "slo-binding",
                    "the SingleLogoutService Binding must be HTTP-POST, HTTP-Redirect or SOAP"
                        .into(),
                ),
            }
            self.url(
                "slo-location",
                "a SingleLogoutService Location",
                slo.attribute("Location"),
            );
            if let Some(rl) = slo.attribute("ResponseLocation") {
                self.url(
                    "slo-location",
                    "a SingleLogoutService ResponseLocation",
                    Some(rl),
                );
            }
        }
        if cie && !slos.is_empty() && !redirect {
            self.err(
                "cie-slo-redirect-missing",
                "cie requires a SingleLogoutService with the HTTP-Redirect binding".into(),
            );
        }

        // NameIDFormat.
        let formats = md(sso, "NameIDFormat");
        for f in &formats {
            if value(*f).as_deref() != Some(NAMEID_TRANSIENT) {
                self.err(
                    "nameid-format",
                    format!("the NameIDFormat must be {NAMEID_TRANSIENT}"),
                );
            }
        }
        if cie && formats.len() > 1 {
            self.err(
                "nameid-format-count",
                "cie allows at most one NameIDFormat".into(),
            );
        }

        self.assertion_consumer_services(sso);
        self.attribute_consuming_services(sso);
        signing
    }

    fn assertion_consumer_services(&mut self, sso: Node<'_, '_>) {
        let cie = self.profile.is_cie();
        let acss = md(sso, "AssertionConsumerService");
        if acss.is_empty() {
            self.err(
                "acs-missing",
                "no AssertionConsumerService (at least one is required)".into(),
            );
            return;
        }
        let mut indexes: Vec<u16> = Vec::new();
        let mut defaults: Vec<Option<u16>> = Vec::new();
        for acs in &acss {
            let index = acs
                .attribute("index")
                .and_then(|i| i.trim().parse::<u16>().ok());
            match index {
                None => self.err(
                    "acs-index",
                    "an AssertionConsumerService has no valid index (an unsignedShort)".into(),
                ),
                Some(i) if indexes.contains(&i) => self.err(
                    "acs-index-duplicate",
                    format!("two AssertionConsumerServices have index {i}"),
                ),
                Some(i) => indexes.push(i),
            }
            let binding = acs.attribute("Binding").and_then(Binding::from_uri);
            let ok = match binding {
                Some(Binding::Post) => true,
                Some(Binding::Redirect) => cie,
                _ => false,
            };
            if !ok {
                self.err(
                    "acs-binding",
                    if cie {
                        "the AssertionConsumerService Binding must be HTTP-POST or HTTP-Redirect"
                            .into()
                    } else {
                        "the AssertionConsumerService Binding must be HTTP-POST".into()
                    },
                );
            }
            self.url(
                "acs-location",
                "an AssertionConsumerService Location",
                acs.attribute("Location"),
            );
            if matches!(acs.attribute("isDefault"), Some("true" | "1")) {
                defaults.push(index);
            }
        }
        if cie {
            if defaults.len() > 1 {
                self.err(
                    "acs-default",
                    "more than one AssertionConsumerService has isDefault=\"true\"".into(),
                );
            }
        } else if defaults.len() != 1 {
            self.err(
                "acs-default",
                "exactly one AssertionConsumerService must have isDefault=\"true\"".into(),
            );
        } else if defaults.first() != Some(&Some(0)) {
            self.err(
                "acs-default-index",
                "the default AssertionConsumerService must have index 0".into(),
            );
        }
    }

    fn attribute_consuming_services(&mut self, sso: Node<'_, '_>) {
        let profile = self.profile;
        let services = md(sso, "AttributeConsumingService");
        if services.is_empty() {
            self.err(
                "attribute-service-missing",
                "no AttributeConsumingService (at least one is required)".into(),
            );
        }
        let mut indexes: Vec<u16> = Vec::new();
        for s in &services {
            let index = s
                .attribute("index")
                .and_then(|i| i.trim().parse::<u16>().ok());
            match index {
                None => self.err(
                    "attribute-service-index",
                    "an AttributeConsumingService has no valid index (an unsignedShort)".into(),
                ),
                Some(i) if indexes.contains(&i) => self.err(
                    "attribute-service-index-duplicate",
                    format!("two AttributeConsumingServices have index {i}"),
                ),
                Some(i) => indexes.push(i),
            }
            let label = index.map_or_else(|| "?".to_owned(), |i| i.to_string());
            self.order(*s, |n| {
                if n.tag_name().namespace() != Some(METADATA_NS) {
                    return None;
                }
                match n.tag_name().name() {
                    "ServiceName" => Some(0),
                    "ServiceDescription" => Some(1),
                    "RequestedAttribute" => Some(2),
                    _ => None,
                }
            });
            let names = md(*s, "ServiceName");
            if names.is_empty() || !names.iter().all(|n| nonempty(*n)) {
                self.err(
                    "service-name-missing",
                    format!("attribute service {label} needs a non-empty ServiceName"),
                );
            }
            if names
                .iter()
                .any(|n| n.attribute((XML_NS, "lang")).is_none())
            {
                self.err(
                    "service-name-lang",
                    format!("a ServiceName of attribute service {label} has no xml:lang"),
                );
            }
            let requested = md(*s, "RequestedAttribute");
            if requested.is_empty() {
                self.err(
                    "requested-attribute-missing",
                    format!("attribute service {label} requests no attribute"),
                );
            }
            let mut seen: Vec<&str> = Vec::new();
            for ra in &requested {
                let Some(name) = ra.attribute("Name") else {
                    self.err(
                        "requested-attribute-name-missing",
                        format!("a RequestedAttribute of attribute service {label} has no Name"),
                    );
                    continue;
                };
                let allowed = profile.allowed_attributes(index.unwrap_or(0));
                if !allowed.contains(&name) {
                    let why = match (profile, index) {
                        (SpProfile::CiePublic | SpProfile::CiePrivate, _) => {
                            "cie releases only name, familyName, dateOfBirth and fiscalNumber"
                        }
                        (SpProfile::Eidas, Some(EIDAS_MINIMUM_INDEX)) => {
                            "not in the eidas minimum attribute set"
                        }
                        (SpProfile::Eidas, Some(EIDAS_FULL_INDEX)) => {
                            "not in the eidas full attribute set"
                        }
                        _ => "not a spid attribute name",
                    };
                    self.err(
                        "requested-attribute-not-allowed",
                        format!(
                            "attribute {} in attribute service {label}: {why}",
                            truncate(name, 48)
                        ),
                    );
                }
                if seen.contains(&name) {
                    self.err(
                        "requested-attribute-duplicate",
                        format!(
                            "attribute {} is requested twice in attribute service {label}",
                            truncate(name, 48)
                        ),
                    );
                } else {
                    seen.push(name);
                }
                if let Some(f) = ra.attribute("NameFormat") {
                    if f != NAME_FORMAT_BASIC && f != NAME_FORMAT_URI {
                        self.err(
                            "requested-attribute-name-format",
                            format!("the RequestedAttribute NameFormat must be {NAME_FORMAT_BASIC} or {NAME_FORMAT_URI}"),
                        );
                    }
                }
            }
        }
        if profile == SpProfile::Eidas {
            for (index, set) in [(EIDAS_MINIMUM_INDEX, "minimum"), (EIDAS_FULL_INDEX, "full")] {
                if !indexes.contains(&index) {
                    self.err(
                        "eidas-service-missing",
                        format!(
                            "no AttributeConsumingService {index} (the eidas {set} attribute set)"
                        ),
                    );
                }
            }
        }
    }

    /// Checks the Organization; returns its Italian name.
    fn organization(&mut self, root: Node<'_, '_>) -> Option<String> {
        let orgs = md(root, "Organization");
        let org = match orgs.as_slice() {
            [one] => *one,
            [] => {
                self.err(
                    "organization-count",
                    "no Organization (exactly one is required)".into(),
                );
                return None;
            }
            _ => {
                self.err(
                    "organization-count",
                    "more than one Organization (exactly one is allowed)".into(),
                );
                return None;
            }
        };
        self.order(org, |n| {
            if n.tag_name().namespace() != Some(METADATA_NS) {
                return None;
            }
            match n.tag_name().name() {
                "Extensions" => Some(0),
                "OrganizationName" => Some(1),
                "OrganizationDisplayName" => Some(2),
                "OrganizationURL" => Some(3),
                _ => None,
            }
        });
        let mut langs: Vec<(String, [usize; 3])> = Vec::new();
        for (slot, local) in [
            "OrganizationName",
            "OrganizationDisplayName",
            "OrganizationURL",
        ]
        .into_iter()
        .enumerate()
        {
            let elems = md(org, local);
            if elems.is_empty() {
                self.err(
                    "organization-element-missing",
                    format!("the Organization has no {local}"),
                );
            }
            for e in elems {
                if !nonempty(e) {
                    self.err("organization-empty", format!("an {local} is empty"));
                }
                let Some(lang) = e.attribute((XML_NS, "lang")) else {
                    self.err(
                        "organization-lang-missing",
                        format!("an {local} has no xml:lang"),
                    );
                    continue;
                };
                if local == "OrganizationURL" && !value(e).is_some_and(|u| is_http_url(&u)) {
                    self.warn(
                        "organization-url",
                        format!(
                            "the OrganizationURL ({}) is not an http(s) url",
                            truncate(lang, 8)
                        ),
                    );
                }
                let entry = match langs.iter().position(|(l, _)| l == lang) {
                    Some(i) => langs.get_mut(i),
                    None => {
                        langs.push((lang.to_owned(), [0; 3]));
                        langs.last_mut()
                    }
                };
                if let Some(count) = entry.and_then(|(_, counts)| counts.get_mut(slot)) {
                    *count += 1;
                }
            }
        }
        for (lang, counts) in &langs {
            if counts.iter().any(|&n| n != 1) {
                self.err(
                    "organization-lang-count",
                    format!(
                        "language \"{}\" needs exactly one OrganizationName, OrganizationDisplayName and OrganizationURL",
                        truncate(lang, 8)
                    ),
                );
            }
        }
        if !langs.iter().any(|(l, _)| l == "it") {
            self.err(
                "organization-lang-it",
                "the Organization needs Italian (xml:lang=\"it\") name, display name and url"
                    .into(),
            );
        }
        md(org, "OrganizationName")
            .into_iter()
            .find(|n| n.attribute((XML_NS, "lang")) == Some("it"))
            .and_then(value)
    }

    fn contacts(&mut self, root: Node<'_, '_>, org_name: Option<&str>) {
        let profile = self.profile;
        let cie = profile.is_cie();
        let contacts = md(root, "ContactPerson");
        if contacts.is_empty() {
            self.err(
                "contact-missing",
                "no ContactPerson (one or two are required)".into(),
            );
            return;
        }
        if contacts.len() > 2 {
            self.err(
                "contact-count",
                "more than two ContactPerson elements".into(),
            );
        }
        let (main, allowed): (&str, &[&str]) = if cie {
            ("administrative", &["administrative", "technical"])
        } else {
            ("other", &["other", "billing"])
        };
        let mut mains = 0usize;
        let mut billings = 0usize;
        for c in &contacts {
            let kind = c.attribute("contactType").unwrap_or_default();
            if !allowed.contains(&kind) {
                self.err(
                    "contact-type",
                    format!(
                        "contactType \"{}\" is not allowed for {profile} (expected {})",
                        truncate(kind, 24),
                        allowed.join(" or ")
                    ),
                );
                continue;
            }
            let is_main = kind == main;
            mains += usize::from(is_main);
            billings += usize::from(kind == "billing");
            self.contact_common(*c, kind, is_main, org_name);
            match kind {
                "billing" => self.billing(*c),
                _ if cie => self.cie_extensions(*c, kind == "technical", is_main),
                _ => self.spid_extensions(*c),
            }
        }
        if mains != 1 {
            self.err(
                "contact-main-count",
                format!("exactly one ContactPerson with contactType=\"{main}\" is required"),
            );
        }
        if !cie {
            if profile.is_public() && billings > 0 {
                self.err(
                    "billing-unexpected",
                    "a billing ContactPerson is only for private sps".into(),
                );
            } else if !profile.is_public() && billings != 1 {
                self.err(
                    "billing-missing",
                    "a private sp needs exactly one ContactPerson contactType=\"billing\" with fpa:CessionarioCommittente".into(),
                );
            }
        }
    }

    fn contact_common(&mut self, c: Node<'_, '_>, kind: &str, is_main: bool, org: Option<&str>) {
        let cie = self.profile.is_cie();
        self.order(c, |n| {
            if n.tag_name().namespace() != Some(METADATA_NS) {
                return None;
            }
            match n.tag_name().name() {
                "Extensions" => Some(0),
                "Company" => Some(1),
                "GivenName" => Some(2),
                "SurName" => Some(3),
                "EmailAddress" => Some(4),
                "TelephoneNumber" => Some(5),
                _ => None,
            }
        });
        match md(c, "Extensions").len() {
            1 => {}
            0 => self.err(
                "contact-extensions-missing",
                format!("the {kind} ContactPerson has no Extensions"),
            ),
            _ => self.err(
                "contact-extensions-count",
                format!("the {kind} ContactPerson has more than one Extensions"),
            ),
        }
        let companies = md(c, "Company");
        match companies.as_slice() {
            [] if cie => self.err(
                "contact-company-missing",
                format!("the {kind} ContactPerson needs a Company (cie)"),
            ),
            [] => {}
            [company] => {
                let v = value(*company).unwrap_or_default();
                if v.is_empty() {
                    self.err(
                        "contact-company-empty",
                        format!("the Company of the {kind} ContactPerson is empty"),
                    );
                } else if is_main && org.is_some_and(|o| o != v) {
                    self.err(
                        "contact-company-mismatch",
                        format!("the Company of the {kind} ContactPerson must equal the Italian OrganizationName"),
                    );
                }
            }
            _ => self.err(
                "contact-company-count",
                format!("the {kind} ContactPerson has more than one Company"),
            ),
        }
        let emails = md(c, "EmailAddress");
        if emails.is_empty() {
            self.err(
                "contact-email-missing",
                format!("the {kind} ContactPerson has no EmailAddress"),
            );
        }
        if emails.len() > 1 && !cie {
            self.err(
                "contact-email-count",
                format!("the {kind} ContactPerson has more than one EmailAddress"),
            );
        }
        for e in &emails {
            let v = value(*e).unwrap_or_default();
            let v = v.strip_prefix("mailto:").unwrap_or(&v);
            if !is_email(v) {
                self.err(
                    "contact-email-invalid",
                    format!("an EmailAddress of the {kind} ContactPerson is not a valid address"),
                );
            }
        }
        let phones = md(c, "TelephoneNumber");
        if phones.len() > 1 && !cie {
            self.err(
                "contact-phone-count",
                format!("the {kind} ContactPerson has more than one TelephoneNumber"),
            );
        }
        for p in &phones {
            let v = value(*p).unwrap_or_default();
            if v.is_empty() || v.chars().any(char::is_whitespace) {
                self.err(
                    "contact-phone-invalid",
                    format!("a TelephoneNumber of the {kind} ContactPerson is empty or has spaces"),
                );
            } else if !v.starts_with('+') {
                self.warn(
                    "contact-phone-not-international",
                    format!("a TelephoneNumber of the {kind} ContactPerson has no international prefix (+39...)"),
                );
            }
        }
    }

    fn spid_extensions(&mut self, c: Node<'_, '_>) {
        let public = self.profile.is_public();
        let Some(ext) = md(c, "Extensions").into_iter().next() else {
            return;
        };
        self.order(ext, |n| match n.tag_name().namespace() {
            Some(SPID_NS) => match n.tag_name().name() {
                "IPACode" => Some(0),
                "VATNumber" => Some(1),
                "FiscalCode" => Some(2),
                "Public" | "Private" => Some(3),
                _ => None,
            },
            Some(FPA_NS) if n.tag_name().name() == "CessionarioCommittente" => Some(4),
            Some(FPA_NS | METADATA_NS) => None,
            // Other namespaces: extensions the schema allows anywhere (lax).
            _ => Some(ANYWHERE),
        });
        let spid = |local: &'static str| named(ext, SPID_NS, local);
        for local in ["IPACode", "VATNumber", "FiscalCode", "Public", "Private"] {
            if spid(local).len() > 1 {
                self.err(
                    "spid-extension-repeated",
                    format!("spid:{local} appears more than once"),
                );
            }
        }
        let (want, other) = if public {
            ("Public", "Private")
        } else {
            ("Private", "Public")
        };
        let wanted = spid(want);
        if !spid(other).is_empty() {
            self.err(
                "spid-public-private-mismatch",
                format!(
                    "the contact declares spid:{other} but the profile is {}",
                    self.profile
                ),
            );
        } else if wanted.is_empty() {
            self.err(
                "spid-public-private-missing",
                format!("the contact Extensions need an empty spid:{want}"),
            );
        }
        if wanted
            .iter()
            .chain(spid(other).iter())
            .any(|n| n.has_children())
        {
            self.err(
                "spid-public-private-not-empty",
                "spid:Public / spid:Private must be empty".into(),
            );
        }
        let ipa = spid("IPACode");
        if public {
            if ipa.is_empty() {
                self.err(
                    "ipa-code-missing",
                    "a public sp needs spid:IPACode in its contact".into(),
                );
            } else if !ipa.iter().all(|n| nonempty(*n)) {
                self.err("ipa-code-empty", "spid:IPACode is empty".into());
            }
        } else if !ipa.is_empty() {
            self.err(
                "ipa-code-forbidden",
                "a private sp must not carry spid:IPACode".into(),
            );
        }
        let vats = spid("VATNumber");
        for v in &vats {
            if !value(*v).is_some_and(|v| is_vat_number(&v)) {
                self.err(
                    "vat-number-invalid",
                    "spid:VATNumber must be a country code then the number, no spaces (IT12345678901)".into(),
                );
            }
        }
        let fcs = spid("FiscalCode");
        if !fcs.iter().all(|n| nonempty(*n)) {
            self.err("fiscal-code-empty", "spid:FiscalCode is empty".into());
        }
        if !public && vats.is_empty() && fcs.is_empty() {
            self.err(
                "vat-or-fiscal-code-missing",
                "a private sp needs spid:VATNumber or spid:FiscalCode in its contact".into(),
            );
        }
        for n in elements(ext).filter(|n| n.tag_name().namespace() == Some(SPID_NS)) {
            let local = n.tag_name().name();
            if !["IPACode", "VATNumber", "FiscalCode", "Public", "Private"].contains(&local) {
                self.err(
                    "spid-extension-unsupported",
                    format!(
                        "spid:{} is not part of the {} profile (aggregators are not supported)",
                        truncate(local, 48),
                        self.profile
                    ),
                );
            }
        }
    }

    fn billing(&mut self, c: Node<'_, '_>) {
        let Some(ext) = md(c, "Extensions").into_iter().next() else {
            return;
        };
        let cc = named(ext, FPA_NS, "CessionarioCommittente");
        let [cc] = cc.as_slice() else {
            self.err(
                "billing-cessionario-missing",
                "the billing contact needs exactly one fpa:CessionarioCommittente".into(),
            );
            return;
        };
        let mut complete = true;
        match fpa(*cc, "DatiAnagrafici").first() {
            None => complete = false,
            Some(da) => {
                let vat_ok = fpa(*da, "IdFiscaleIVA").first().is_some_and(|id| {
                    fpa(*id, "IdPaese").iter().any(|n| nonempty(*n))
                        && fpa(*id, "IdCodice").iter().any(|n| nonempty(*n))
                });
                let cf_ok = fpa(*da, "CodiceFiscale").iter().any(|n| nonempty(*n));
                let name_ok = fpa(*da, "Anagrafica").first().is_some_and(|a| {
                    fpa(*a, "Denominazione").iter().any(|n| nonempty(*n))
                        || (fpa(*a, "Nome").iter().any(|n| nonempty(*n))
                            && fpa(*a, "Cognome").iter().any(|n| nonempty(*n)))
                });
                complete &= (vat_ok || cf_ok) && name_ok;
            }
        }
        match fpa(*cc, "Sede").first() {
            None => complete = false,
            Some(sede) => {
                for local in ["Indirizzo", "CAP", "Comune", "Nazione"] {
                    complete &= fpa(*sede, local).iter().any(|n| nonempty(*n));
                }
            }
        }
        if !complete {
            self.err(
                "billing-cessionario-incomplete",
                "fpa:CessionarioCommittente needs DatiAnagrafici (IdFiscaleIVA or CodiceFiscale, Anagrafica) and Sede (Indirizzo, CAP, Comune, Nazione)".into(),
            );
        }
    }

    fn cie_extensions(&mut self, c: Node<'_, '_>, technical: bool, is_main: bool) {
        let public = self.profile.is_public();
        let Some(ext) = md(c, "Extensions").into_iter().next() else {
            return;
        };
        const KNOWN: [&str; 10] = [
            "Public",
            "Private",
            "IPACode",
            "IPACategory",
            "FiscalCode",
            "VATNumber",
            "NACE2Code",
            "Municipality",
            "Province",
            "Country",
        ];
        for n in elements(ext).filter(|n| n.tag_name().namespace() == Some(CIE_NS)) {
            let local = n.tag_name().name();
            if !KNOWN.contains(&local) {
                self.err(
                    "cie-extension-unknown",
                    format!("cie:{} is not a cie contact extension", truncate(local, 48)),
                );
            }
        }
        let cie = |local: &'static str| named(ext, CIE_NS, local);
        let (want, other) = if public {
            ("Public", "Private")
        } else {
            ("Private", "Public")
        };
        if is_main {
            if !cie(other).is_empty() {
                self.err(
                    "cie-public-private-mismatch",
                    format!(
                        "the contact declares cie:{other} but the profile is {}",
                        self.profile
                    ),
                );
            } else if cie(want).is_empty() {
                self.err(
                    "cie-public-private-missing",
                    format!("the administrative contact Extensions need an empty cie:{want}"),
                );
            }
        }
        if cie("Public")
            .iter()
            .chain(cie("Private").iter())
            .any(|n| n.has_children())
        {
            self.err(
                "cie-public-private-not-empty",
                "cie:Public / cie:Private must be empty".into(),
            );
        }
        let mut required: Vec<(&'static str, &'static str)> =
            vec![("Municipality", "cie-municipality-missing")];
        if public && !technical {
            required.push(("IPACode", "cie-ipa-code-missing"));
        }
        if !public {
            required.push(("VATNumber", "cie-vat-number-missing"));
            required.push(("FiscalCode", "cie-fiscal-code-missing"));
            required.push(("NACE2Code", "cie-nace2-code-missing"));
        }
        for (local, code) in required {
            if cie(local).is_empty() {
                self.err(code, format!("the contact Extensions need cie:{local}"));
            }
        }
        for local in KNOWN.iter().skip(2) {
            let found = named(ext, CIE_NS, local);
            if *local != "NACE2Code" && found.len() > 1 {
                self.err(
                    "cie-extension-repeated",
                    format!("cie:{local} appears more than once"),
                );
            }
            if !found.iter().all(|n| nonempty(*n)) {
                self.err("cie-extension-empty", format!("cie:{local} is empty"));
            }
        }
        for v in cie("VATNumber") {
            if !value(v).is_some_and(|v| is_vat_number(&v)) {
                self.err(
                    "vat-number-invalid",
                    "cie:VATNumber must be a country code then the number, no spaces (IT12345678901)".into(),
                );
            }
        }
        for p in cie("Province") {
            let v = value(p).unwrap_or_default();
            if v.len() != 2 || !v.chars().all(|c| c.is_ascii_uppercase()) {
                self.warn(
                    "cie-province-invalid",
                    "cie:Province should be two upper-case letters (EE abroad)".into(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::has_port;

    #[test]
    fn ports() {
        assert!(has_port("https://sp.example.it:8443/x"));
        assert!(!has_port("https://sp.example.it/x:y"));
        assert!(!has_port("https://[::1]/x"));
        assert!(has_port("http://[::1]:80/"));
    }
}
