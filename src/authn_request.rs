//! The SPID AuthnRequest.

use std::fmt::Write as _;

use crate::federation::Federation;
use crate::level::{Comparison, SpidLevel};
use crate::saml::{Binding, ASSERTION_NS, NAMEID_ENTITY, NAMEID_TRANSIENT, PROTOCOL_NS, SPID_NS};
use crate::time::Timestamp;
use crate::xml::writer::{attr, text};

/// The identity type a service accepts (`spid:Purpose`, Avviso 18 v2): professional and
/// legal-person identities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Purpose {
    /// `P`: natural person for professional use.
    Professional,
    /// `LP`: legal person.
    LegalPerson,
    /// `PG`: professional use for a legal person.
    LegalPersonProfessional,
    /// `PF`: natural person for professional use, personal identity only.
    NaturalPersonProfessional,
    /// `PX`: any professional or legal-person identity.
    AnyProfessional,
}

impl Purpose {
    /// The `spid:Purpose` value.
    pub const fn code(self) -> &'static str {
        match self {
            Purpose::Professional => "P",
            Purpose::LegalPerson => "LP",
            Purpose::LegalPersonProfessional => "PG",
            Purpose::NaturalPersonProfessional => "PF",
            Purpose::AnyProfessional => "PX",
        }
    }

    /// Parses a `spid:Purpose` value.
    pub fn parse(code: &str) -> Option<Purpose> {
        match code {
            "P" => Some(Purpose::Professional),
            "LP" => Some(Purpose::LegalPerson),
            "PG" => Some(Purpose::LegalPersonProfessional),
            "PF" => Some(Purpose::NaturalPersonProfessional),
            "PX" => Some(Purpose::AnyProfessional),
            _ => None,
        }
    }
}

/// How the IdP is told where to send the Response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcsChoice {
    /// `AssertionConsumerServiceIndex` (preferred by SPID).
    Index(u16),
    /// `AssertionConsumerServiceURL` + `ProtocolBinding` HTTP-POST, for the ACS with this
    /// index (CIE's examples use this form).
    Url(u16),
}

/// The options of one login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginOptions {
    /// The SPID level requested (default L2).
    pub level: SpidLevel,
    /// The comparison (default `minimum`).
    pub comparison: Comparison,
    /// The binding of the request (default HTTP-POST).
    pub binding: Binding,
    /// The ACS (default index 0).
    pub acs: AcsChoice,
    /// The AttributeConsumingService index (default: the first configured one; the eIDAS
    /// node requires 99 or 100).
    pub attribute_service: Option<u16>,
    /// Accept professional / legal-person identities (`spid:Purpose`).
    pub purpose: Option<Purpose>,
}

impl Default for LoginOptions {
    fn default() -> Self {
        LoginOptions {
            level: SpidLevel::L2,
            comparison: Comparison::Minimum,
            binding: Binding::Post,
            acs: AcsChoice::Index(0),
            attribute_service: None,
            purpose: None,
        }
    }
}

/// Everything the XML needs.
pub(crate) struct AuthnRequestData<'a> {
    pub id: &'a str,
    pub issue_instant: Timestamp,
    pub destination: &'a str,
    pub sp_entity_id: &'a str,
    pub federation: Federation,
    pub options: &'a LoginOptions,
    pub acs_url: &'a str,
    pub attribute_service: u16,
}

/// Writes the AuthnRequest XML (unsigned; the binding signs it).
pub(crate) fn write(d: &AuthnRequestData<'_>) -> String {
    let o = d.options;
    let force = d.federation.rules().force_authn_always || o.level >= SpidLevel::L2;
    let mut x = String::with_capacity(1400);
    let _ = write!(
        x,
        "<samlp:AuthnRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\"",
        attr(d.id),
        d.issue_instant,
        attr(d.destination),
    );
    if force {
        x.push_str(" ForceAuthn=\"true\"");
    }
    match o.acs {
        AcsChoice::Index(i) => {
            let _ = write!(x, " AssertionConsumerServiceIndex=\"{i}\"");
        }
        AcsChoice::Url(_) => {
            let _ = write!(
                x,
                " AssertionConsumerServiceURL=\"{}\" ProtocolBinding=\"{}\"",
                attr(d.acs_url),
                Binding::Post.uri()
            );
        }
    }
    let _ = write!(
        x,
        " AttributeConsumingServiceIndex=\"{}\"><saml:Issuer Format=\"{NAMEID_ENTITY}\" NameQualifier=\"{}\">{}</saml:Issuer>",
        d.attribute_service,
        attr(d.sp_entity_id),
        text(d.sp_entity_id),
    );
    if let Some(p) = o.purpose {
        let _ = write!(
            x,
            "<samlp:Extensions xmlns:spid=\"{SPID_NS}\"><spid:Purpose>{}</spid:Purpose></samlp:Extensions>",
            p.code()
        );
    }
    let _ = write!(
        x,
        "<samlp:NameIDPolicy Format=\"{NAMEID_TRANSIENT}\"/><samlp:RequestedAuthnContext Comparison=\"{}\"><saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef></samlp:RequestedAuthnContext></samlp:AuthnRequest>",
        o.comparison.as_str(),
        o.level.uri(),
    );
    x
}
