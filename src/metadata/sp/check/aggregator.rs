//! The aggregator profiles (Avviso SPID n.19 v4, spid-sp-test's `spid-sp-ag-*` and
//! `spid-sp-op-*`): the activity code in the entityID, the aggregator's and the aggregated
//! entity's `other` contacts told apart by `spid:entityType`, the aggregator's type
//! element and identifiers, the validation key of the "lite" variants.

use crate::xml::Node;

use super::{elements, md, named, nonempty, value, x509_certificate, Checker, ANYWHERE};
use crate::metadata::sp::aggregator::has_activity_segment;
use crate::metadata::sp::profile::{
    AggregatorRules, BillingContact, AGGREGATOR_MARKERS, ENTITY_TYPE_AGGREGATED,
    ENTITY_TYPE_AGGREGATOR, VALIDATION_KEY_ELEMENT, VALIDATION_KEY_USE,
};
use crate::metadata::sp::validate::{is_vat_number, truncate};
use crate::saml::{FPA_NS, METADATA_NS, SPID_NS};

impl Checker {
    /// The entityID of an aggregated entity: the activity code, no query string.
    pub(super) fn aggregated_entity_id(&mut self, id: &str, ag: &AggregatorRules) {
        if id.contains('?') {
            self.err(
                "entity-id-query",
                "an aggregated entity's entityID must not have a query string".into(),
            );
        }
        let code = ag.activity_code;
        if !id.contains(code) {
            self.err(
                "entity-id-activity-code",
                format!("the entityID must contain the activity code \"{code}\""),
            );
        } else if !has_activity_segment(id, code) {
            self.warn(
                "entity-id-activity-code-segment",
                format!("the activity code \"{code}\" should be a whole path segment of the entityID (https://aggregator.example.it/{code}/<entity>)"),
            );
        }
    }

    /// Every ContactPerson of an aggregator profile.
    pub(super) fn aggregator_contacts(
        &mut self,
        contacts: &[Node<'_, '_>],
        ag: &'static AggregatorRules,
        org_name: Option<&str>,
    ) {
        let (mut aggregators, mut aggregated, mut billings) = (0usize, 0usize, 0usize);
        for c in contacts {
            let kind = c.attribute("contactType").unwrap_or_default();
            let entity_type = c.attribute((SPID_NS, "entityType"));
            match (kind, entity_type) {
                ("billing", _) => {
                    billings += 1;
                    self.contact_common(*c, "billing", false, org_name);
                    self.billing(*c);
                }
                ("other", Some(ENTITY_TYPE_AGGREGATOR)) => {
                    aggregators += 1;
                    let is_org = ag.aggregator_company_is_organization;
                    self.contact_common(*c, "aggregator", is_org, org_name);
                    self.company_required(*c, "aggregator");
                    self.aggregator_extensions(*c, ag);
                }
                ("other", Some(ENTITY_TYPE_AGGREGATED)) => {
                    aggregated += 1;
                    let is_org = !ag.aggregator_company_is_organization;
                    self.contact_common(*c, "aggregated", is_org, org_name);
                    self.company_required(*c, "aggregated");
                    self.spid_extensions(*c);
                }
                ("other", None) => self.err(
                    "aggregator-entity-type-missing",
                    format!(
                        "an other ContactPerson of the {} profile needs spid:entityType (spid:aggregator or spid:aggregated)",
                        self.profile
                    ),
                ),
                ("other", Some(_)) => self.err(
                    "aggregator-entity-type-invalid",
                    "spid:entityType must be spid:aggregator or spid:aggregated".into(),
                ),
                _ => self.err(
                    "contact-type",
                    format!(
                        "contactType \"{}\" is not allowed for {} (expected other or billing)",
                        truncate(kind, 24),
                        self.profile
                    ),
                ),
            }
        }
        if aggregators != 1 {
            self.err(
                "aggregator-contact-count",
                "exactly one ContactPerson contactType=\"other\" spid:entityType=\"spid:aggregator\" is required".into(),
            );
        }
        let want = usize::from(ag.aggregated_contact);
        if aggregated != want {
            let message = if ag.aggregated_contact {
                "exactly one ContactPerson contactType=\"other\" spid:entityType=\"spid:aggregated\" is required".to_owned()
            } else {
                format!(
                    "the {} profile has no aggregated entity's ContactPerson (the operator is the organization)",
                    self.profile
                )
            };
            self.err("aggregated-contact-count", message);
        }
        match self.rules.billing {
            BillingContact::Required if billings != 1 => self.err(
                "billing-missing",
                "a private aggregated entity needs exactly one ContactPerson contactType=\"billing\" with fpa:CessionarioCommittente".into(),
            ),
            BillingContact::Forbidden if billings > 0 => self.err(
                "billing-unexpected",
                "a billing ContactPerson is only for the private aggregator variants".into(),
            ),
            _ => {}
        }
    }

    /// spid-sp-test requires a Company in the aggregator's and the aggregated entity's
    /// contacts (test 01.17.03).
    fn company_required(&mut self, c: Node<'_, '_>, who: &str) {
        if md(c, "Company").is_empty() {
            self.err(
                "contact-company-missing",
                format!("the {who} ContactPerson needs a Company"),
            );
        }
    }

    /// The aggregator contact's Extensions: identifiers, exactly the variant's type
    /// element, the validation key for "lite".
    fn aggregator_extensions(&mut self, c: Node<'_, '_>, ag: &AggregatorRules) {
        let family = self.rules.family;
        let Some(ext) = md(c, "Extensions").into_iter().next() else {
            return;
        };
        self.order(ext, |n| match n.tag_name().namespace() {
            Some(SPID_NS) => family.element(n.tag_name().name()).map(|e| e.rank),
            Some(FPA_NS | METADATA_NS) => None,
            _ => Some(ANYWHERE),
        });
        let spid = |local: &'static str| named(ext, SPID_NS, local);
        for n in elements(ext).filter(|n| n.tag_name().namespace() == Some(SPID_NS)) {
            if family.element(n.tag_name().name()).is_none() {
                self.err(
                    "spid-extension-unsupported",
                    format!(
                        "spid:{} is not an aggregator contact extension",
                        truncate(n.tag_name().name(), 48)
                    ),
                );
            }
        }
        for e in family.elements {
            if spid(e.local).len() > 1 {
                self.err(
                    "spid-extension-repeated",
                    format!("spid:{} appears more than once", e.local),
                );
            }
        }
        // The type element: the variant's, and no other sector marker.
        if spid(ag.type_element).is_empty() {
            self.err(
                "aggregator-type-missing",
                format!(
                    "the aggregator contact Extensions need an empty spid:{}",
                    ag.type_element
                ),
            );
        }
        for other in AGGREGATOR_MARKERS
            .iter()
            .chain(["Public", "Private"].iter())
            .filter(|m| **m != ag.type_element)
        {
            if !named(ext, SPID_NS, other).is_empty() {
                self.err(
                    "aggregator-type-mismatch",
                    format!(
                        "the aggregator contact declares spid:{other} but the profile is {} (spid:{})",
                        self.profile, ag.type_element
                    ),
                );
            }
        }
        if spid(ag.type_element).iter().any(|n| n.has_children()) {
            self.err(
                "aggregator-type-not-empty",
                format!("spid:{} must be empty", ag.type_element),
            );
        }
        for req in ag.aggregator_identifiers {
            if !req
                .any_of
                .iter()
                .any(|l| named(ext, SPID_NS, l).first().is_some_and(|n| nonempty(*n)))
            {
                self.err(req.code, req.problem.into());
            }
        }
        for v in spid("VATNumber") {
            if !value(v).is_some_and(|v| is_vat_number(&v)) {
                self.err(
                    "vat-number-invalid",
                    "spid:VATNumber of the aggregator must be a country code then the number, no spaces (IT12345678901)".into(),
                );
            }
        }
        for local in ["IPACode", "FiscalCode"] {
            if !named(ext, SPID_NS, local).iter().all(|n| nonempty(*n)) {
                self.err(
                    "aggregator-identifier-empty",
                    format!("spid:{local} of the aggregator is empty"),
                );
            }
        }
        self.validation_key(ext, ag);
    }

    /// `spid:KeyDescriptor use="spid:validation"`: exactly one in the "lite" variants,
    /// none in the "full" ones.
    fn validation_key(&mut self, ext: Node<'_, '_>, ag: &AggregatorRules) {
        let keys = named(ext, SPID_NS, VALIDATION_KEY_ELEMENT);
        if !ag.validation_key {
            if !keys.is_empty() {
                self.err(
                    "validation-key-unexpected",
                    format!(
                        "spid:KeyDescriptor use=\"{VALIDATION_KEY_USE}\" is only for the lite variants, not {}",
                        self.profile
                    ),
                );
            }
            return;
        }
        let [key] = keys.as_slice() else {
            self.err(
                "validation-key-missing",
                format!(
                    "the aggregator contact of {} needs exactly one spid:KeyDescriptor use=\"{VALIDATION_KEY_USE}\"",
                    self.profile
                ),
            );
            return;
        };
        if key.attribute("use") != Some(VALIDATION_KEY_USE) {
            self.err(
                "validation-key-use",
                format!("the aggregator's spid:KeyDescriptor needs use=\"{VALIDATION_KEY_USE}\""),
            );
        }
        match x509_certificate(*key) {
            None => self.err(
                "validation-key-certificate",
                "the aggregator's spid:KeyDescriptor has no ds:KeyInfo/ds:X509Data/ds:X509Certificate".into(),
            ),
            Some(b64) => {
                let _ = self.certificate("the aggregator's validation certificate", &b64);
            }
        }
    }
}
