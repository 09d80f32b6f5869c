//! The metadata writer: the unsigned EntityDescriptor, element by element, as the
//! profile's rules ([`super::profile`]) say.

use std::fmt::Write as _;

use super::aggregator::{check_entity_id, Aggregator};
use super::profile::{
    BillingContact, ProfileRules, ENTITY_TYPE_AGGREGATED, ENTITY_TYPE_AGGREGATOR,
    VALIDATION_KEY_ELEMENT, VALIDATION_KEY_USE,
};
use super::validate::{
    field_values, truncate, validate_billing, validate_contact, validate_organization,
};
use super::{
    Billing, BuildResult, Contact, MetadataBuildError, SpMetadata, SpProfile, NAME_FORMAT_BASIC,
};
use crate::config::{AttributeService, SpConfig};
use crate::dsig;
use crate::saml::{Binding, FPA_NS, METADATA_NS, NAMEID_TRANSIENT, PROTOCOL_NS};
use crate::time::Timestamp;
use crate::xml::writer::{attr, text};

impl SpMetadata {
    pub(super) fn unsigned_xml(
        &self,
        config: &SpConfig,
        now: Timestamp,
        aggregator: Option<&Aggregator>,
    ) -> BuildResult<String> {
        let profile = self.profile;
        let rules = profile.rules();
        let entity_id = config.entity_id().as_str();
        let aggregation =
            match (rules.aggregator, aggregator) {
                (Some(ag), Some(a)) => Some((ag, a)),
                (None, None) => None,
                (Some(_), None) => return Err(MetadataBuildError::Aggregator(
                    "an aggregator profile needs the aggregator (SpMetadata::to_xml_aggregated)",
                )),
                (None, Some(_)) => {
                    return Err(MetadataBuildError::Aggregator(
                        "aggregator data given for a profile that is not an aggregator's",
                    ))
                }
            };
        if entity_id.trim().is_empty() {
            return Err(MetadataBuildError::Missing("entity id"));
        }
        if entity_id.len() > 1024 || entity_id.trim() != entity_id {
            return Err(MetadataBuildError::Invalid(
                "entity id (at most 1024 characters, no surrounding spaces)",
            ));
        }
        validate_organization(&self.organization)?;
        if let Some((ag, a)) = aggregation {
            check_entity_id(entity_id, ag.kind)?;
            a.validate(ag.kind)?;
            if ag.aggregator_company_is_organization
                && a.company.trim() != self.organization.name.trim()
            {
                return Err(MetadataBuildError::Invalid(
                    "aggregator company (an operator's company is the organization name)",
                ));
            }
        }
        if aggregation.is_none_or(|(ag, _)| ag.aggregated_contact) {
            validate_contact(profile, &self.contact)?;
        }
        let billing = match (rules.billing, &self.billing) {
            (BillingContact::Required, Some(b)) => {
                validate_billing(b)?;
                Some(b)
            }
            (BillingContact::Required, None) => {
                return Err(MetadataBuildError::Missing(
                    "billing data (required for a private spid sp)",
                ))
            }
            _ => None,
        };
        let services = attribute_services(profile, config)?;
        let slo = config.logout_services();
        if slo.is_empty() {
            return Err(MetadataBuildError::Missing("a single logout service"));
        }
        if rules.family.slo_redirect_required && !slo.iter().any(|s| s.binding == Binding::Redirect)
        {
            return Err(MetadataBuildError::Missing(
                "an http-redirect single logout service (required by cie)",
            ));
        }
        let acs = config.assertion_consumer_services();
        if !acs.iter().any(|a| a.index == 0) {
            return Err(MetadataBuildError::Missing(
                "the assertion consumer service with index 0 (the default)",
            ));
        }
        let mut acs_indexes: Vec<u16> = acs.iter().map(|a| a.index).collect();
        acs_indexes.sort_unstable();
        acs_indexes.dedup();
        if acs_indexes.len() != acs.len() {
            return Err(MetadataBuildError::Invalid(
                "assertion consumer service indexes (must be unique)",
            ));
        }
        if acs.iter().any(|a| a.url.trim().is_empty())
            || slo.iter().any(|s| s.url.trim().is_empty())
        {
            return Err(MetadataBuildError::Invalid("endpoint url (empty)"));
        }

        let mut w = Writer::default();
        w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let mut root = format!(
            "<md:EntityDescriptor xmlns:md=\"{METADATA_NS}\" xmlns:ds=\"{}\"",
            dsig::DSIG_NS
        );
        let family = rules.family;
        let _ = write!(root, " xmlns:{}=\"{}\"", family.prefix, family.ns);
        if billing.is_some() {
            let _ = write!(root, " xmlns:fpa=\"{FPA_NS}\"");
        }
        let _ = write!(
            root,
            " entityID=\"{}\" ID=\"{}\"",
            attr(entity_id),
            document_id(entity_id, profile)
        );
        if let Some(days) = self.valid_for_days {
            let until = now.plus_seconds(i64::from(days).saturating_mul(86_400));
            let _ = write!(root, " validUntil=\"{until}\"");
        }
        root.push('>');
        w.raw(&root);
        w.depth = 1;

        // SPSSODescriptor, children in XSD order.
        w.open(
            "md:SPSSODescriptor",
            &[
                ("protocolSupportEnumeration", PROTOCOL_NS),
                ("AuthnRequestsSigned", "true"),
                ("WantAssertionsSigned", "true"),
            ],
        );
        // The signing key first, then the certificates published for a rollover.
        let certificates = std::iter::once(config.signing_key().certificate_base64()).chain(
            config
                .published_certificates()
                .iter()
                .map(|p| p.certificate_base64()),
        );
        for certificate in certificates {
            w.open("md:KeyDescriptor", &[("use", "signing")]);
            w.open("ds:KeyInfo", &[]);
            w.open("ds:X509Data", &[]);
            w.leaf("ds:X509Certificate", &[], certificate);
            w.close("ds:X509Data");
            w.close("ds:KeyInfo");
            w.close("md:KeyDescriptor");
        }
        for s in slo {
            w.empty(
                "md:SingleLogoutService",
                &[("Binding", s.binding.uri()), ("Location", &s.url)],
            );
        }
        w.leaf("md:NameIDFormat", &[], NAMEID_TRANSIENT);
        let mut sorted_acs: Vec<_> = acs.iter().collect();
        sorted_acs.sort_by_key(|a| a.index);
        for a in sorted_acs {
            let index = a.index.to_string();
            let mut attrs = vec![
                ("Binding", Binding::Post.uri()),
                ("Location", a.url.as_str()),
                ("index", index.as_str()),
            ];
            if a.index == 0 {
                attrs.push(("isDefault", "true"));
            }
            w.empty("md:AssertionConsumerService", &attrs);
        }
        for s in &services {
            let index = s.index.to_string();
            w.open("md:AttributeConsumingService", &[("index", &index)]);
            w.leaf("md:ServiceName", &[("xml:lang", "it")], &s.name);
            for a in &s.attributes {
                w.empty(
                    "md:RequestedAttribute",
                    &[("Name", a.as_str()), ("NameFormat", NAME_FORMAT_BASIC)],
                );
            }
            w.close("md:AttributeConsumingService");
        }
        w.close("md:SPSSODescriptor");

        // Organization: all names, then all display names, then all URLs.
        let org = &self.organization;
        let mut langs: Vec<(&str, &str, &str, &str)> =
            vec![("it", &org.name, &org.display_name, &org.url)];
        if let (Some(n), Some(d), Some(u)) = (&org.name_en, &org.display_name_en, &org.url_en) {
            langs.push(("en", n, d, u));
        }
        w.open("md:Organization", &[]);
        for (lang, name, _, _) in &langs {
            w.leaf("md:OrganizationName", &[("xml:lang", lang)], name);
        }
        for (lang, _, display, _) in &langs {
            w.leaf("md:OrganizationDisplayName", &[("xml:lang", lang)], display);
        }
        for (lang, _, _, url) in &langs {
            w.leaf("md:OrganizationURL", &[("xml:lang", lang)], url);
        }
        w.close("md:Organization");

        match aggregation {
            None => write_sp_contact(&mut w, rules, &self.contact, &org.name, None),
            Some((ag, a)) => {
                write_aggregator_contact(&mut w, ag.type_element, a);
                if ag.aggregated_contact {
                    write_sp_contact(
                        &mut w,
                        rules,
                        &self.contact,
                        &org.name,
                        Some(ENTITY_TYPE_AGGREGATED),
                    );
                }
            }
        }
        if let Some(b) = billing {
            write_billing_contact(&mut w, b);
        }
        w.depth = 0;
        w.raw("\n</md:EntityDescriptor>\n");
        Ok(w.out)
    }
}

/// configuration always yields the same document.
fn document_id(entity_id: &str, profile: SpProfile) -> String {
    let mut input = Vec::with_capacity(entity_id.len() + 20);
    input.extend_from_slice(entity_id.as_bytes());
    input.push(0);
    input.extend_from_slice(profile.spid_sp_test_profile().as_bytes());
    let mut id = String::with_capacity(33);
    id.push('_');
    if let Ok(digest) = openssl::hash::hash(openssl::hash::MessageDigest::sha256(), &input) {
        for b in digest.iter().take(16) {
            let _ = write!(id, "{b:02x}");
        }
    } else {
        // Deterministic by design (reproducible metadata): FNV-1a when SHA-256 is missing.
        let fnv = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
        let _ = write!(id, "{fnv:016x}{:016x}", fnv.rotate_left(32));
    }
    id
}

/// The AttributeConsumingServices to publish, checked against the profile.
fn attribute_services(profile: SpProfile, config: &SpConfig) -> BuildResult<Vec<AttributeService>> {
    let mut services: Vec<AttributeService> = config.attribute_services().to_vec();
    for reserved in profile.rules().reserved_services {
        if !services.iter().any(|s| s.index == reserved.index) {
            services.push(AttributeService {
                index: reserved.index,
                name: reserved.name.to_owned(),
                attributes: reserved.defaults.iter().map(|a| (*a).to_owned()).collect(),
            });
        }
    }
    services.sort_by_key(|s| s.index);
    if services.is_empty() {
        return Err(MetadataBuildError::Missing(
            "an attribute consuming service",
        ));
    }
    for pair in services.windows(2) {
        if let [a, b] = pair {
            if a.index == b.index {
                return Err(MetadataBuildError::Invalid(
                    "attribute consuming service indexes (must be unique)",
                ));
            }
        }
    }
    for s in &services {
        if s.name.trim().is_empty() {
            return Err(MetadataBuildError::Missing(
                "an attribute consuming service name",
            ));
        }
        if s.attributes.is_empty() {
            return Err(MetadataBuildError::Missing(
                "requested attributes in an attribute consuming service",
            ));
        }
        let allowed = profile.allowed_attributes(s.index);
        for (i, a) in s.attributes.iter().enumerate() {
            if !allowed.contains(&a.as_str()) {
                return Err(MetadataBuildError::AttributeNotAllowed {
                    index: s.index,
                    name: truncate(a, 64),
                });
            }
            if s.attributes.iter().take(i).any(|b| b == a) {
                return Err(MetadataBuildError::DuplicateAttribute {
                    index: s.index,
                    name: truncate(a, 64),
                });
            }
        }
    }
    Ok(services)
}

/// An `md:ContactPerson` of `contact_type` (and `spid:entityType`, for the aggregator
/// profiles): `md:Extensions` with what `extensions` writes, then Company, EmailAddress
/// and, when given, TelephoneNumber.
fn write_contact_person(
    w: &mut Writer,
    (contact_type, entity_type): (&str, Option<&str>),
    company: &str,
    email: &str,
    phone: Option<&str>,
    extensions: impl FnOnce(&mut Writer),
) {
    let mut attrs = vec![("contactType", contact_type)];
    if let Some(t) = entity_type {
        attrs.push(("spid:entityType", t));
    }
    w.open("md:ContactPerson", &attrs);
    w.open("md:Extensions", &[]);
    extensions(w);
    w.close("md:Extensions");
    w.leaf("md:Company", &[], company);
    w.leaf("md:EmailAddress", &[], email);
    w.leaf_if("md:TelephoneNumber", phone);
    w.close("md:ContactPerson");
}

/// The SP's own `md:ContactPerson`: the family's main contact type, with the profile's
/// extension elements in document order (the sector marker empty, the others when the
/// contact has a value).
fn write_sp_contact(
    w: &mut Writer,
    rules: &ProfileRules,
    c: &Contact,
    company: &str,
    entity_type: Option<&str>,
) {
    let family = rules.family;
    let phone = c.phone.as_deref();
    write_contact_person(
        w,
        (family.main_contact, entity_type),
        company,
        c.email.trim(),
        phone,
        |w| {
            for local in rules.contact_extensions {
                let name = format!("{}:{local}", family.prefix);
                let Some(element) = family.element(local) else {
                    continue;
                };
                if element.marker {
                    w.empty(&name, &[]);
                }
                if let Some(field) = element.field {
                    for value in field_values(c, field) {
                        w.leaf(&name, &[], value);
                    }
                }
            }
        },
    );
}

/// The aggregator's `md:ContactPerson contactType="other" spid:entityType="spid:aggregator"`:
/// its identifiers, the variant's type element and, for "lite", the validation key.
fn write_aggregator_contact(w: &mut Writer, type_element: &str, a: &Aggregator) {
    let trimmed = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let (ipa, vat, fc) = (
        trimmed(&a.ipa_code),
        trimmed(&a.vat_number),
        trimmed(&a.fiscal_code),
    );
    write_contact_person(
        w,
        ("other", Some(ENTITY_TYPE_AGGREGATOR)),
        a.company.trim(),
        a.email.trim(),
        a.phone.as_deref(),
        |w| {
            w.leaf_if("spid:IPACode", ipa.as_deref());
            w.leaf_if("spid:VATNumber", vat.as_deref());
            w.leaf_if("spid:FiscalCode", fc.as_deref());
            w.empty(&format!("spid:{type_element}"), &[]);
            if let Some(der) = &a.validation_certificate {
                let name = format!("spid:{VALIDATION_KEY_ELEMENT}");
                w.open(&name, &[("use", VALIDATION_KEY_USE)]);
                w.open("ds:KeyInfo", &[]);
                w.open("ds:X509Data", &[]);
                w.leaf("ds:X509Certificate", &[], &crate::b64::encode(der));
                w.close("ds:X509Data");
                w.close("ds:KeyInfo");
                w.close(&name);
            }
        },
    );
}

fn write_billing_contact(w: &mut Writer, b: &Billing) {
    write_contact_person(
        w,
        ("billing", None),
        &b.company_name,
        b.email.trim(),
        None,
        |w| {
            w.open("fpa:CessionarioCommittente", &[]);
            w.open("fpa:DatiAnagrafici", &[]);
            if !b.vat_code.trim().is_empty() {
                w.open("fpa:IdFiscaleIVA", &[]);
                w.leaf("fpa:IdPaese", &[], &b.vat_country);
                w.leaf("fpa:IdCodice", &[], b.vat_code.trim());
                w.close("fpa:IdFiscaleIVA");
            }
            w.leaf_if("fpa:CodiceFiscale", b.fiscal_code.as_deref());
            w.open("fpa:Anagrafica", &[]);
            w.leaf("fpa:Denominazione", &[], &b.company_name);
            w.close("fpa:Anagrafica");
            w.close("fpa:DatiAnagrafici");
            w.open("fpa:Sede", &[]);
            w.leaf("fpa:Indirizzo", &[], &b.address);
            w.leaf_if("fpa:NumeroCivico", b.number.as_deref());
            w.leaf("fpa:CAP", &[], &b.postal_code);
            w.leaf("fpa:Comune", &[], &b.municipality);
            w.leaf_if("fpa:Provincia", b.province.as_deref());
            w.leaf("fpa:Nazione", &[], &b.country);
            w.close("fpa:Sede");
            w.close("fpa:CessionarioCommittente");
        },
    );
}

/// An indenting writer for the few element shapes metadata needs; every value is escaped.
#[derive(Default)]
struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('\n');
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", attr(v));
        }
    }

    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start(name, attrs);
        self.out.push('>');
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.out.push('\n');
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        let _ = write!(self.out, "</{name}>");
    }

    fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], value: &str) {
        self.start(name, attrs);
        let _ = write!(self.out, ">{}</{name}>", text(value));
    }

    /// A [`Writer::leaf`] without attributes, when there is a value.
    fn leaf_if(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.leaf(name, &[], v);
        }
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start(name, attrs);
        self.out.push_str("/>");
    }
}
