//! One transaction record: what happened, when, the index fields AgID suggests, and the
//! message as sent or received. Built by the core, written by an [`super::AuditLog`].

use crate::binding::post::decode_post;
use crate::binding::{redirect, Incoming};
use crate::error::{IdpRefusal, LoginError, RejectReason};
use crate::saml::Binding;
use crate::saml::{self, ASSERTION_NS};
use crate::time::Timestamp;
use crate::xml::{self, Limits};

/// Which message a record is about, and its direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum RecordKind {
    /// The SP sent an AuthnRequest.
    AuthnRequestSent,
    /// The SP received a Response to an AuthnRequest.
    ResponseReceived,
    /// The SP sent a LogoutRequest.
    LogoutRequestSent,
    /// The SP received a LogoutResponse to its LogoutRequest.
    LogoutResponseReceived,
    /// The SP received an IdP-initiated LogoutRequest.
    LogoutRequestReceived,
    /// The SP sent a LogoutResponse to an IdP-initiated LogoutRequest.
    LogoutResponseSent,
    /// A CNS smart-card login: the client certificate presented ("Entra con CNS").
    CnsLogin,
    /// An OpenID Connect login (code redeemed, ID token and userinfo checked): the
    /// index fields in [`TransactionRecord::oidc`], no token kept.
    OidcLogin,
}

impl RecordKind {
    /// The stable name (`authn-request-sent`, `response-received`, ...).
    pub fn code(self) -> &'static str {
        match self {
            RecordKind::AuthnRequestSent => "authn-request-sent",
            RecordKind::ResponseReceived => "response-received",
            RecordKind::LogoutRequestSent => "logout-request-sent",
            RecordKind::LogoutResponseReceived => "logout-response-received",
            RecordKind::LogoutRequestReceived => "logout-request-received",
            RecordKind::LogoutResponseSent => "logout-response-sent",
            RecordKind::CnsLogin => "cns-login",
            RecordKind::OidcLogin => "oidc-login",
        }
    }
}

/// What came of the message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "result", rename_all = "kebab-case", deny_unknown_fields)
)]
pub enum Outcome {
    /// A message the SP sent.
    Sent,
    /// A message that passed every check (a completed login or logout).
    Accepted,
    /// The IdP answered with a non-Success status (`ErrorCode nrNN`, user cancelled).
    Refused {
        /// The top-level StatusCode.
        status: String,
        /// The second-level StatusCode, if any.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        sub_status: Option<String>,
        /// The SPID `ErrorCode nrNN` number, if the StatusMessage carries one.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        error_code: Option<u8>,
    },
    /// The message failed a check: the reason's stable code ([`RejectReason::code`]).
    Rejected {
        /// The stable code.
        code: String,
    },
}

impl Outcome {
    /// The outcome of a failed login.
    pub fn of_login_error(error: &LoginError) -> Outcome {
        match error {
            LoginError::Refused(r) => Outcome::refused(r),
            LoginError::Rejected(r) => Outcome::rejected(r),
        }
    }
    /// An IdP refusal.
    pub fn refused(r: &IdpRefusal) -> Outcome {
        Outcome::Refused {
            status: r.status().to_owned(),
            sub_status: r.sub_status().map(str::to_owned),
            error_code: r.error_code(),
        }
    }
    /// A rejection.
    pub fn rejected(r: &RejectReason) -> Outcome {
        Outcome::Rejected {
            code: r.code().to_owned(),
        }
    }
    /// `sent`, `accepted`, `refused` or `rejected`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Accepted => "accepted",
            Outcome::Refused { .. } => "refused",
            Outcome::Rejected { .. } => "rejected",
        }
    }
}

/// How [`Payload::data`] encodes the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum PayloadFormat {
    /// The XML document (as signed and sent, or as received after base64 decoding).
    Xml,
    /// The HTTP-POST field as received, when it did not decode to XML.
    Base64,
    /// The HTTP-Redirect query string as received (signature parameters included).
    Query,
    /// A client certificate chain in PEM (CNS logins).
    Certificate,
}

/// The message itself, in clear (before [`super::ChainedLog`] encrypts it, if set to).
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Payload {
    /// The encoding.
    pub format: PayloadFormat,
    /// The text.
    pub data: String,
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("format", &self.format)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// One transaction: the kind, the outcome, the UTC time, the index fields AgID suggests
/// (serialised under AgID's names, e.g. `AuthnReq_ID`) and the payload.
///
/// For logout records the same index columns hold the LogoutRequest (`AuthnReq_*`) and
/// LogoutResponse (`Resp_*`) values. `verified` says whether the index fields were read
/// from a verified message; for refusals and rejections they are read best-effort from
/// the unverified input and must not be trusted. `Debug` is redacted (no NameID, fiscal
/// code or payload).
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct TransactionRecord {
    /// What message, which direction.
    pub kind: RecordKind,
    /// What came of it.
    pub outcome: Outcome,
    /// When the SP sent or received it (UTC, `YYYY-MM-DDThh:mm:ss.sssZ`).
    pub time: String,
    /// The IdP's entityID (the one the request went to, or the unverified Issuer).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub idp: Option<String>,
    /// The SPID level requested (sent) or obtained (accepted), 1–3.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub level: Option<u8>,
    /// The binding (`post` or `redirect`).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub binding: Option<String>,
    /// The AuthnRequest (or LogoutRequest) ID.
    #[cfg_attr(
        feature = "serde",
        serde(
            rename = "AuthnReq_ID",
            default,
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub authn_req_id: Option<String>,
    /// Its IssueInstant.
    #[cfg_attr(
        feature = "serde",
        serde(
            rename = "AuthnReq_IssueInstant",
            default,
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub authn_req_issue_instant: Option<String>,
    /// The Response (or LogoutResponse) ID.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "Resp_ID", default, skip_serializing_if = "Option::is_none")
    )]
    pub resp_id: Option<String>,
    /// Its IssueInstant.
    #[cfg_attr(
        feature = "serde",
        serde(
            rename = "Resp_IssueInstant",
            default,
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub resp_issue_instant: Option<String>,
    /// Its Issuer.
    #[cfg_attr(
        feature = "serde",
        serde(
            rename = "Resp_Issuer",
            default,
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub resp_issuer: Option<String>,
    /// The Assertion ID.
    #[cfg_attr(
        feature = "serde",
        serde(
            rename = "Assertion_ID",
            default,
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub assertion_id: Option<String>,
    /// The Assertion's Subject NameID (or the LogoutRequest's NameID).
    #[cfg_attr(
        feature = "serde",
        serde(
            rename = "Assertion_subject",
            default,
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub assertion_subject: Option<String>,
    /// The NameID's NameQualifier.
    #[cfg_attr(
        feature = "serde",
        serde(
            rename = "Assertion_subject_NameQualifier",
            default,
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub assertion_subject_name_qualifier: Option<String>,
    /// The fiscal code of an accepted login, when the identity carries one.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub fiscal_code: Option<String>,
    /// Whether the index fields come from a verified message.
    pub verified: bool,
    /// The message as sent or received.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub payload: Option<Payload>,
    /// The OpenID Connect index fields of an [`RecordKind::OidcLogin`] record.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub oidc: Option<OidcIndex>,
}

/// The index of an OpenID Connect login in the registry (LL.GG. OIDC SPID/CIE "Gestione
/// dei log": code, client_id, jti, iss, sub, iat, exp). Tokens themselves are not kept.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct OidcIndex {
    /// The authorization code redeemed (single use, already spent).
    pub code: String,
    /// The RP's `client_id`.
    pub client_id: String,
    /// The `jti` of the client assertion sent to the token endpoint.
    pub jti: String,
    /// The OP (`iss`).
    pub iss: String,
    /// The OP's subject identifier.
    pub sub: String,
    /// The ID token's `iat` (Unix seconds).
    pub iat: i64,
    /// The ID token's `exp` (Unix seconds).
    pub exp: i64,
}

impl std::fmt::Debug for TransactionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionRecord")
            .field("kind", &self.kind)
            .field("outcome", &self.outcome.name())
            .field("time", &self.time)
            .field("idp", &self.idp)
            .field("authn_req_id", &self.authn_req_id)
            .field("resp_id", &self.resp_id)
            .field("assertion_id", &self.assertion_id)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

impl TransactionRecord {
    /// A record of `kind` with `outcome` at `time`; every other field empty.
    pub fn new(kind: RecordKind, outcome: Outcome, time: Timestamp) -> TransactionRecord {
        TransactionRecord {
            kind,
            outcome,
            time: time.to_string(),
            idp: None,
            level: None,
            binding: None,
            authn_req_id: None,
            authn_req_issue_instant: None,
            resp_id: None,
            resp_issue_instant: None,
            resp_issuer: None,
            assertion_id: None,
            assertion_subject: None,
            assertion_subject_name_qualifier: None,
            fiscal_code: None,
            verified: true,
            payload: None,
            oidc: None,
        }
    }

    /// Sets the payload to an XML document.
    pub(crate) fn with_xml(mut self, xml: &str) -> Self {
        self.payload = Some(Payload {
            format: PayloadFormat::Xml,
            data: xml.to_owned(),
        });
        self
    }

    /// Records what was received, as received: the decoded XML when `decoded` is given,
    /// else the raw POST field or Redirect query. Then reads the index fields of that XML
    /// best-effort (unverified).
    pub(crate) fn with_incoming(
        mut self,
        incoming: &Incoming,
        decoded: Option<&str>,
        limits: &Limits,
    ) -> Self {
        let binding = match incoming {
            Incoming::Post { .. } => Binding::Post,
            Incoming::Redirect { .. } => Binding::Redirect,
        };
        self.binding = Some(binding.short_name().into());
        self.payload = Some(match (decoded, incoming) {
            (Some(xml), _) => Payload {
                format: PayloadFormat::Xml,
                data: xml.to_owned(),
            },
            (None, Incoming::Post { message, .. }) => Payload {
                format: PayloadFormat::Base64,
                data: message.clone(),
            },
            (None, Incoming::Redirect { query }) => Payload {
                format: PayloadFormat::Query,
                data: query.clone(),
            },
        });
        if let Some(xml) = decoded {
            self.read_unverified(xml, limits);
        }
        self
    }

    /// Fills the empty index fields from an unverified message, best-effort (anything
    /// unreadable is left empty). Marks the record unverified.
    pub(crate) fn read_unverified(&mut self, xml_text: &str, limits: &Limits) {
        self.verified = false;
        self.fill_from_xml(xml_text, limits);
    }

    /// Fills the empty index fields from `xml_text` (verified or not: the caller says).
    pub(crate) fn fill_from_xml(&mut self, xml_text: &str, limits: &Limits) {
        let Ok(doc) = xml::parse(xml_text, limits) else {
            return;
        };
        let root = doc.root_element();
        let attr = |name: &str| root.attribute(name).map(|v| v.trim().to_owned());
        let is_request = root.tag_name().name().ends_with("Request");
        let id = attr("ID");
        let instant = attr("IssueInstant");
        if is_request {
            fill(&mut self.authn_req_id, id);
            fill(&mut self.authn_req_issue_instant, instant);
        } else {
            fill(&mut self.resp_id, id);
            fill(&mut self.resp_issue_instant, instant);
            fill(&mut self.authn_req_id, attr("InResponseTo"));
        }
        let issuer = saml::children(root, ASSERTION_NS, "Issuer")
            .next()
            .and_then(xml::text)
            .map(|t| t.trim().to_owned());
        fill(&mut self.resp_issuer, issuer);
        let name_id_parent = saml::children(root, ASSERTION_NS, "Assertion")
            .next()
            .map(|a| {
                fill(
                    &mut self.assertion_id,
                    a.attribute("ID").map(|v| v.trim().to_owned()),
                );
                saml::children(a, ASSERTION_NS, "Subject").next()
            })
            .unwrap_or(Some(root));
        if let Some(name_id) =
            name_id_parent.and_then(|p| saml::children(p, ASSERTION_NS, "NameID").next())
        {
            fill(
                &mut self.assertion_subject,
                xml::text(name_id).map(|t| t.trim().to_owned()),
            );
            fill(
                &mut self.assertion_subject_name_qualifier,
                name_id
                    .attribute("NameQualifier")
                    .map(|v| v.trim().to_owned()),
            );
        }
    }
}

/// The record of a message the SP sends (`Sent`): its ID, IssueInstant, IdP, binding,
/// and the signed XML as sent.
pub(crate) fn sent(
    kind: RecordKind,
    time: Timestamp,
    idp: &str,
    binding: Binding,
    id: &str,
    xml: &str,
) -> TransactionRecord {
    let mut r = TransactionRecord::new(kind, Outcome::Sent, time).with_xml(xml);
    r.idp = Some(idp.to_owned());
    r.binding = Some(binding.short_name().into());
    r.authn_req_id = Some(id.to_owned());
    r.authn_req_issue_instant = Some(time.to_string());
    r
}

/// The record of a message received that was refused or rejected: what was received, as
/// received, and its index fields read best-effort (unverified).
pub(crate) fn received(
    kind: RecordKind,
    outcome: Outcome,
    time: Timestamp,
    idp: Option<&str>,
    incoming: &Incoming,
    limits: &Limits,
) -> TransactionRecord {
    let decoded = match incoming {
        Incoming::Post { message, .. } => decode_post(message, limits.max_bytes).ok(),
        Incoming::Redirect { query } => redirect::decode_unverified(query).ok().map(|m| m.xml),
    };
    let mut r = TransactionRecord::new(kind, outcome, time);
    r.idp = idp.map(str::to_owned);
    r = r.with_incoming(incoming, decoded.as_deref(), limits);
    r.verified = false;
    r
}

fn fill(slot: &mut Option<String>, value: Option<String>) {
    if slot.is_none() {
        *slot = value.filter(|v| !v.is_empty());
    }
}
