//! SPID aggregators and public-service operators (Avviso SPID n.19 v4): the six variants,
//! the aggregator's own data, and the metadata of one aggregated entity.

use std::fmt;

use super::validate::{is_email, is_phone, is_token, is_vat_number};
use super::{BuildResult, MetadataBuildError, SpMetadata};
use crate::config::SpConfig;
use crate::dsig::{self, SignatureAlgorithm, SignatureAnchor};
use crate::time::{Clock, SystemClock, Timestamp};

/// The six aggregator variants of Avviso SPID n.19 v4, each with its activity code (which
/// the aggregated entity's entityID contains), the empty type element of the aggregator's
/// ContactPerson, and AgID's spid-sp-test profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AggregatorKind {
    /// `pub-ag-full`: aggregator of public services, hosting the whole service
    /// (`spid:PublicServicesFullAggregator`).
    PublicFull,
    /// `pub-ag-lite`: aggregator of public services, authentication only
    /// (`spid:PublicServicesLightAggregator`, validation key).
    PublicLite,
    /// `pri-ag-full`: aggregator of private services, hosting the whole service
    /// (`spid:PrivateServicesFullAggregator`, billing contact).
    PrivateFull,
    /// `pri-ag-lite`: aggregator of private services, authentication only
    /// (`spid:PrivateServicesLightAggregator`, billing contact, validation key).
    PrivateLite,
    /// `pub-op-full`: public-service operator (gestore di pubblico servizio) offering its
    /// own public services (`spid:PublicServicesFullOperator`, no aggregated contact).
    OperatorPublicFull,
    /// `pub-op-lite`: public-service operator, authentication only
    /// (`spid:PublicServicesLightOperator`, validation key).
    OperatorPublicLite,
}

impl AggregatorKind {
    /// Every variant.
    pub const ALL: [AggregatorKind; 6] = [
        AggregatorKind::PublicFull,
        AggregatorKind::PublicLite,
        AggregatorKind::PrivateFull,
        AggregatorKind::PrivateLite,
        AggregatorKind::OperatorPublicFull,
        AggregatorKind::OperatorPublicLite,
    ];

    /// The activity code (`pub-ag-full`, `pub-ag-lite`, `pri-ag-full`, `pri-ag-lite`,
    /// `pub-op-full`, `pub-op-lite`): the aggregated entity's entityID contains it.
    pub const fn activity_code(self) -> &'static str {
        match self {
            AggregatorKind::PublicFull => "pub-ag-full",
            AggregatorKind::PublicLite => "pub-ag-lite",
            AggregatorKind::PrivateFull => "pri-ag-full",
            AggregatorKind::PrivateLite => "pri-ag-lite",
            AggregatorKind::OperatorPublicFull => "pub-op-full",
            AggregatorKind::OperatorPublicLite => "pub-op-lite",
        }
    }

    /// The local name of the empty element (namespace `spid:`) in the aggregator's
    /// ContactPerson Extensions.
    pub const fn type_element(self) -> &'static str {
        match self {
            AggregatorKind::PublicFull => "PublicServicesFullAggregator",
            AggregatorKind::PublicLite => "PublicServicesLightAggregator",
            AggregatorKind::PrivateFull => "PrivateServicesFullAggregator",
            AggregatorKind::PrivateLite => "PrivateServicesLightAggregator",
            AggregatorKind::OperatorPublicFull => "PublicServicesFullOperator",
            AggregatorKind::OperatorPublicLite => "PublicServicesLightOperator",
        }
    }

    /// AgID's spid-sp-test `--profile` name (`spid-sp-ag-public-full`, ...).
    pub const fn spid_sp_test_profile(self) -> &'static str {
        match self {
            AggregatorKind::PublicFull => "spid-sp-ag-public-full",
            AggregatorKind::PublicLite => "spid-sp-ag-public-lite",
            AggregatorKind::PrivateFull => "spid-sp-ag-private-full",
            AggregatorKind::PrivateLite => "spid-sp-ag-private-lite",
            AggregatorKind::OperatorPublicFull => "spid-sp-op-public-full",
            AggregatorKind::OperatorPublicLite => "spid-sp-op-public-lite",
        }
    }

    /// Public services (the aggregated entity is a public administration, or the operator
    /// offers public services); else private, with a billing contact.
    pub const fn is_public(self) -> bool {
        !matches!(
            self,
            AggregatorKind::PrivateFull | AggregatorKind::PrivateLite
        )
    }

    /// A "lite" variant: the aggregator contact carries the validation key.
    pub const fn is_lite(self) -> bool {
        matches!(
            self,
            AggregatorKind::PublicLite
                | AggregatorKind::PrivateLite
                | AggregatorKind::OperatorPublicLite
        )
    }

    /// A public-service operator (the organization of the metadata is the operator).
    pub const fn is_operator(self) -> bool {
        matches!(
            self,
            AggregatorKind::OperatorPublicFull | AggregatorKind::OperatorPublicLite
        )
    }

    /// The variant whose activity code is `code`.
    pub fn from_activity_code(code: &str) -> Option<AggregatorKind> {
        AggregatorKind::ALL
            .into_iter()
            .find(|k| k.activity_code() == code)
    }
}

impl fmt::Display for AggregatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.activity_code())
    }
}

/// The aggregator (or public-service operator): its `md:ContactPerson contactType="other"
/// spid:entityType="spid:aggregator"` in every aggregated entity's metadata. One value
/// serves every tenant of the aggregator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Aggregator {
    /// The aggregator's legal name (`md:Company`; for an operator it must equal the
    /// organization name, since the operator is the organization).
    pub company: String,
    /// Institutional mailbox.
    pub email: String,
    /// International format without spaces (`+39...`).
    pub phone: Option<String>,
    /// IPA code, when the aggregator is itself in IPA (a public administration or an
    /// operator listed there).
    pub ipa_code: Option<String>,
    /// VAT number with the country prefix (`IT12345678901`). An aggregator needs it or
    /// the fiscal code; an operator needs both.
    pub vat_number: Option<String>,
    /// The aggregator's fiscal code.
    pub fiscal_code: Option<String>,
    /// DER of the aggregator's certificate, published as `spid:KeyDescriptor
    /// use="spid:validation"` in the "lite" variants (required there, refused in the
    /// "full" ones).
    pub validation_certificate: Option<Vec<u8>>,
}

impl Aggregator {
    /// Checks the aggregator data against `kind`'s rules (the writer runs this first).
    pub fn validate(&self, kind: AggregatorKind) -> Result<(), MetadataBuildError> {
        let bad = MetadataBuildError::Invalid;
        if self.company.trim().is_empty() {
            return Err(MetadataBuildError::Missing("aggregator company name"));
        }
        if !is_email(&self.email) {
            return Err(bad("aggregator email address"));
        }
        if self.phone.as_deref().is_some_and(|p| !is_phone(p)) {
            return Err(bad(
                "aggregator telephone number (international format without spaces, +39...)",
            ));
        }
        if self.ipa_code.as_deref().is_some_and(|v| !is_token(v)) {
            return Err(bad("aggregator ipa code (no spaces)"));
        }
        if self
            .vat_number
            .as_deref()
            .is_some_and(|v| !is_vat_number(v))
        {
            return Err(bad(
                "aggregator vat number (country code then number, no spaces: IT12345678901)",
            ));
        }
        if self.fiscal_code.as_deref().is_some_and(|v| !is_token(v)) {
            return Err(bad("aggregator fiscal code (no spaces)"));
        }
        let present = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
        for req in super::SpProfile::Aggregated(kind)
            .rules()
            .aggregator
            .map_or(&[][..], |r| r.aggregator_identifiers)
        {
            let ok = req.any_of.iter().any(|l| match *l {
                "VATNumber" => present(&self.vat_number),
                "FiscalCode" => present(&self.fiscal_code),
                _ => false,
            });
            if !ok {
                return Err(MetadataBuildError::Missing(req.missing));
            }
        }
        match (&self.validation_certificate, kind.is_lite()) {
            (None, true) => Err(MetadataBuildError::Missing(
                "the aggregator's validation certificate (required by the lite variants)",
            )),
            (Some(_), false) => Err(MetadataBuildError::Aggregator(
                "a validation certificate is only for the lite variants",
            )),
            (Some(der), true) => openssl::x509::X509::from_der(der)
                .map(|_| ())
                .map_err(|_| bad("aggregator validation certificate (not an x.509 der)")),
            (None, false) => Ok(()),
        }
    }
}

impl SpMetadata {
    /// Signed metadata of one aggregated entity ([`SpMetadata::to_xml`] for the
    /// [`SpProfile::Aggregated`](super::SpProfile::Aggregated) profiles): the SP
    /// description is the aggregated entity's (its organization, its contact with the IPA
    /// code or VAT number / fiscal code, its billing data for the private variants), and
    /// `aggregator` adds the aggregator's ContactPerson. The entityID must contain the
    /// profile's activity code as a whole path segment
    /// (`https://aggregator.example.it/pub-ag-full/c_h501`) and no query string.
    pub fn to_xml_aggregated(
        &self,
        config: &SpConfig,
        aggregator: &Aggregator,
    ) -> Result<String, MetadataBuildError> {
        self.to_xml_aggregated_at(config, aggregator, SystemClock.now())
    }

    /// [`SpMetadata::to_xml_aggregated`] with an explicit "now" (only used for
    /// `validUntil`).
    pub fn to_xml_aggregated_at(
        &self,
        config: &SpConfig,
        aggregator: &Aggregator,
        now: Timestamp,
    ) -> Result<String, MetadataBuildError> {
        let unsigned = self.unsigned_xml(config, now, Some(aggregator))?;
        Ok(dsig::sign_enveloped(
            &unsigned,
            config.signing_key(),
            SignatureAlgorithm::RsaSha256,
            SignatureAnchor::First,
        )?)
    }
}

impl SpMetadata {
    /// Everything the writer checks, without signing (a tenant is checked this way when
    /// it loads).
    #[cfg(feature = "config")]
    pub(crate) fn check_writable(
        &self,
        config: &SpConfig,
        aggregator: Option<&Aggregator>,
    ) -> BuildResult<()> {
        self.unsigned_xml(config, Timestamp::from_unix_seconds(0), aggregator)
            .map(drop)
    }
}

/// The entityID rule of the aggregator profiles: the activity code as a path segment, no
/// query string.
pub(super) fn check_entity_id(entity_id: &str, kind: AggregatorKind) -> BuildResult<()> {
    if entity_id.contains('?') {
        return Err(MetadataBuildError::Invalid(
            "entity id (an aggregated entity's entityID has no query string)",
        ));
    }
    if !has_activity_segment(entity_id, kind.activity_code()) {
        return Err(MetadataBuildError::Invalid(
            "entity id (an aggregated entity's entityID contains the activity code as a path segment: https://aggregator.example.it/<activity code>/<entity>)",
        ));
    }
    Ok(())
}

/// Whether the URL's path has `code` as one of its segments.
pub(crate) fn has_activity_segment(url: &str, code: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split_once('/').map_or("", |(_, p)| p);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.split('/').any(|s| s == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_segments() {
        let code = "pub-ag-full";
        assert!(has_activity_segment(
            "https://ag.it/pub-ag-full/c_h501",
            code
        ));
        assert!(has_activity_segment("https://ag.it/spid/pub-ag-full", code));
        assert!(!has_activity_segment(
            "https://pub-ag-full.ag.it/c_h501",
            code
        ));
        assert!(!has_activity_segment("https://ag.it/pub-ag-fuller/x", code));
        assert!(check_entity_id(
            "https://ag.it/pub-ag-full/x?y=1",
            AggregatorKind::PublicFull
        )
        .is_err());
        for k in AggregatorKind::ALL {
            assert_eq!(
                AggregatorKind::from_activity_code(k.activity_code()),
                Some(k)
            );
            assert_eq!(k.is_lite(), k.activity_code().ends_with("-lite"));
        }
    }
}
