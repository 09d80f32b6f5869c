//! Organization and ContactPerson rules, with the contact extensions of each profile.

use crate::xml::Node;

use super::{elements, fpa, md, named, nonempty, value, Checker, ANYWHERE};
use crate::metadata::sp::profile::{
    BillingContact, FamilyId, AGGREGATOR_MARKERS, VALIDATION_KEY_ELEMENT,
};
use crate::metadata::sp::validate::{is_email, is_http_url, is_vat_number, truncate};
use crate::metadata::sp::XML_NS;
use crate::saml::{CIE_NS, FPA_NS, METADATA_NS, SPID_NS};

impl Checker {
    /// Checks the Organization; returns its Italian name.
    pub(super) fn organization(&mut self, root: Node<'_, '_>) -> Option<String> {
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

    pub(super) fn contacts(&mut self, root: Node<'_, '_>, org_name: Option<&str>) {
        let profile = self.profile;
        let rules = self.rules;
        let family = rules.family;
        let contacts = md(root, "ContactPerson");
        if contacts.is_empty() {
            self.err(
                "contact-missing",
                "no ContactPerson (one or two are required)".into(),
            );
            return;
        }
        if let Some(ag) = rules.aggregator {
            self.aggregator_contacts(&contacts, ag, org_name);
            return;
        }
        if contacts.len() > 2 {
            self.err(
                "contact-count",
                "more than two ContactPerson elements".into(),
            );
        }
        let (main, allowed) = (family.main_contact, family.contact_types);
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
                _ if family.id == FamilyId::Cie => {
                    self.cie_extensions(*c, kind == "technical", is_main)
                }
                _ => self.spid_extensions(*c),
            }
        }
        if mains != 1 {
            self.err(
                "contact-main-count",
                format!("exactly one ContactPerson with contactType=\"{main}\" is required"),
            );
        }
        match rules.billing {
            BillingContact::Forbidden if billings > 0 => self.err(
                "billing-unexpected",
                "a billing ContactPerson is only for private sps".into(),
            ),
            BillingContact::Required if billings != 1 => self.err(
                "billing-missing",
                "a private sp needs exactly one ContactPerson contactType=\"billing\" with fpa:CessionarioCommittente".into(),
            ),
            _ => {}
        }
    }

    pub(super) fn contact_common(
        &mut self,
        c: Node<'_, '_>,
        kind: &str,
        is_main: bool,
        org: Option<&str>,
    ) {
        let family = self.rules.family;
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
            [] if family.company_required => self.err(
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
        if emails.len() > 1 && !family.repeated_email_phone {
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
        if phones.len() > 1 && !family.repeated_email_phone {
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

    /// The SPID contact's extensions: the profile's sector marker, required and forbidden
    /// elements, in the family's schema order.
    pub(super) fn spid_extensions(&mut self, c: Node<'_, '_>) {
        let rules = self.rules;
        let family = rules.family;
        let Some(ext) = md(c, "Extensions").into_iter().next() else {
            return;
        };
        self.order(ext, |n| match n.tag_name().namespace() {
            Some(SPID_NS) => family.element(n.tag_name().name()).map(|e| e.rank),
            Some(FPA_NS) if n.tag_name().name() == "CessionarioCommittente" => Some(ANYWHERE - 1),
            Some(FPA_NS | METADATA_NS) => None,
            // Other namespaces: extensions the schema allows anywhere (lax).
            _ => Some(ANYWHERE),
        });
        let spid = |local: &'static str| named(ext, SPID_NS, local);
        for e in family.elements {
            if spid(e.local).len() > 1 && !e.repeatable {
                self.err(
                    "spid-extension-repeated",
                    format!("spid:{} appears more than once", e.local),
                );
            }
        }
        let (want, other) = (rules.sector_marker, rules.other_marker);
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
        self.required_extensions(ext, false);
        // IPACode (where allowed) and FiscalCode must not be empty; VATNumber has a shape.
        let ipa_forbidden = rules.forbidden.iter().any(|f| f.local == "IPACode");
        if !ipa_forbidden && !spid("IPACode").iter().all(|n| nonempty(*n)) {
            self.err("ipa-code-empty", "spid:IPACode is empty".into());
        }
        for v in spid("VATNumber") {
            if !value(v).is_some_and(|v| is_vat_number(&v)) {
                self.err(
                    "vat-number-invalid",
                    "spid:VATNumber must be a country code then the number, no spaces (IT12345678901)".into(),
                );
            }
        }
        if !spid("FiscalCode").iter().all(|n| nonempty(*n)) {
            self.err("fiscal-code-empty", "spid:FiscalCode is empty".into());
        }
        for n in elements(ext).filter(|n| n.tag_name().namespace() == Some(SPID_NS)) {
            let local = n.tag_name().name();
            if family.element(local).is_none() {
                self.err(
                    "spid-extension-unsupported",
                    format!(
                        "spid:{} is not part of the {} profile",
                        truncate(local, 48),
                        self.profile
                    ),
                );
            } else if AGGREGATOR_MARKERS.contains(&local) || local == VALIDATION_KEY_ELEMENT {
                self.err(
                    "aggregator-element-misplaced",
                    format!(
                        "spid:{local} belongs in the aggregator's contact of an aggregator profile, not in this contact ({})",
                        self.profile
                    ),
                );
            }
        }
    }

    /// The profile's required and forbidden contact extensions (a CIE `technical`
    /// contact needs only those marked `technical_too`).
    fn required_extensions(&mut self, ext: Node<'_, '_>, technical: bool) {
        let rules = self.rules;
        let ns = rules.family.ns;
        let has = |local: &'static str| !named(ext, ns, local).is_empty();
        for f in rules.forbidden {
            if has(f.local) {
                self.err(f.code, f.problem.into());
            }
        }
        for req in rules.requirements {
            if (req.technical_too || !technical) && !req.any_of.iter().any(|l| has(l)) {
                self.err(req.code, req.problem.into());
            }
        }
    }

    pub(super) fn billing(&mut self, c: Node<'_, '_>) {
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

    /// The CIE contact's extensions: known elements only, the sector marker in the SP's
    /// own contact, the required ones, no repeated or empty ones.
    fn cie_extensions(&mut self, c: Node<'_, '_>, technical: bool, is_main: bool) {
        let rules = self.rules;
        let family = rules.family;
        let Some(ext) = md(c, "Extensions").into_iter().next() else {
            return;
        };
        for n in elements(ext).filter(|n| n.tag_name().namespace() == Some(CIE_NS)) {
            let local = n.tag_name().name();
            if family.element(local).is_none() {
                self.err(
                    "cie-extension-unknown",
                    format!("cie:{} is not a cie contact extension", truncate(local, 48)),
                );
            }
        }
        let cie = |local: &'static str| named(ext, CIE_NS, local);
        let (want, other) = (rules.sector_marker, rules.other_marker);
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
        if family
            .elements
            .iter()
            .filter(|e| e.marker)
            .flat_map(|e| cie(e.local))
            .any(|n| n.has_children())
        {
            self.err(
                "cie-public-private-not-empty",
                "cie:Public / cie:Private must be empty".into(),
            );
        }
        self.required_extensions(ext, technical);
        for e in family.elements.iter().filter(|e| !e.marker) {
            let found = cie(e.local);
            if !e.repeatable && found.len() > 1 {
                self.err(
                    "cie-extension-repeated",
                    format!("cie:{} appears more than once", e.local),
                );
            }
            if !found.iter().all(|n| nonempty(*n)) {
                self.err("cie-extension-empty", format!("cie:{} is empty", e.local));
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
