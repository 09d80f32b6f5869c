//! Our own rules on any SP metadata file (SPID technical rules and Avviso 29 §4, the CIE
//! federation manual, the eIDAS node's services 99/100, and what AgID's spid-sp-test
//! enforces), reported as a list of problems with stable codes. The per-profile rules come
//! from the table in [`super::profile`], which the writer reads too.

mod aggregator;
mod contacts;
mod services;

use std::fmt;

use crate::xml::Node;
use openssl::x509::X509;

use super::profile::ProfileRules;
use super::validate::{is_http_url, truncate};
use super::SpProfile;
use crate::dsig::{self, KeyError, VerificationKey, VerifyPolicy, DSIG_NS};
use crate::saml::{Binding, FPA_NS, METADATA_NS, NAMEID_TRANSIENT, PROTOCOL_NS};
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
        rules: profile.rules(),
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
    rules: &'static ProfileRules,
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
        match self.rules.aggregator {
            None if id.contains('?') => {
                self.warn("entity-id-query", "the entityID has a query string".into());
            }
            None => {}
            Some(ag) => self.aggregated_entity_id(id, ag),
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
        let family = self.rules.family;
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
                None if !family.key_use_required => {}
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
        if family.slo_redirect_required && !slos.is_empty() && !redirect {
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
        if family
            .max_nameid_formats
            .is_some_and(|max| formats.len() > max)
        {
            self.err(
                "nameid-format-count",
                "cie allows at most one NameIDFormat".into(),
            );
        }

        self.assertion_consumer_services(sso);
        self.attribute_consuming_services(sso);
        signing
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
