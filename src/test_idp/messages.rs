//! The test IdP's side of the protocol: AuthnRequests and logout messages from SPs,
//! verified against the SP's metadata; LogoutRequests and LogoutResponses to SPs.

use std::fmt::Write as _;

use crate::authn_request::Purpose;
use crate::binding::post::decode_post;
use crate::binding::{redirect, Incoming, Outgoing};
use crate::dsig::{self, VerifyPolicy};
use crate::ids::random_token_or_abort as random_token;
use crate::level::{Comparison, SpidLevel};
use crate::response::{check_unique_ids, leaf_text};
use crate::saml::{
    self, Binding, ASSERTION_NS, NAMEID_ENTITY, NAMEID_TRANSIENT, PROTOCOL_NS, SPID_NS,
    STATUS_SUCCESS,
};
use crate::time::Timestamp;
use crate::xml::writer::{attr, text};
use crate::xml::{self, Limits, Node};

use super::sp_metadata::{is_signature, TrustedSp};
use super::{TestIdp, TestIdpError};

/// How far in the past a request's IssueInstant may be.
const MAX_AGE_SECS: i64 = 300;
/// How far in the future (clock skew).
const MAX_SKEW_SECS: i64 = 60;

/// The test IdP refused a message from an SP. `code` is the SPID `ErrorCode` a real IdP
/// would show for it, when there is one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{what}", code.map(|c| format!("ErrorCode nr{c:02}: ")).unwrap_or_default())]
pub struct RequestError {
    /// The SPID error number (`nr04`–`nr18`).
    pub code: Option<u8>,
    /// What is wrong, lower case.
    pub what: &'static str,
}

fn nr(code: u8, what: &'static str) -> RequestError {
    RequestError {
        code: Some(code),
        what,
    }
}

/// A verified AuthnRequest: what the login form and the Response need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthnRequestIn {
    /// The request ID (the Response's `InResponseTo`).
    pub id: String,
    /// The SP's entityID (the Response's `Audience`).
    pub sp: String,
    /// The binding it arrived with.
    pub binding: Binding,
    /// The ACS the Response goes to (HTTP-POST).
    pub acs_url: String,
    /// `AttributeConsumingServiceIndex`, if sent.
    pub attribute_service: Option<u16>,
    /// The attributes of that service in the SP metadata.
    pub requested_attributes: Vec<String>,
    /// The requested level.
    pub level: SpidLevel,
    /// The requested comparison.
    pub comparison: Comparison,
    /// `spid:Purpose`, if sent.
    pub purpose: Option<Purpose>,
    /// `ForceAuthn="true"`.
    pub force_authn: bool,
    /// The RelayState to send back.
    pub relay_state: Option<String>,
}

/// A verified LogoutRequest from an SP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutRequestIn {
    /// The request ID.
    pub id: String,
    /// The SP's entityID.
    pub sp: String,
    /// The binding it arrived with.
    pub binding: Binding,
    /// The NameID to log out.
    pub name_id: String,
    /// The SessionIndex values.
    pub session_indexes: Vec<String>,
    /// The RelayState to send back.
    pub relay_state: Option<String>,
}

/// A verified LogoutResponse from an SP (to an IdP-initiated logout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutResponseIn {
    /// `InResponseTo`: the LogoutRequest it answers.
    pub in_response_to: String,
    /// The SP's entityID.
    pub sp: String,
    /// `Success`.
    pub success: bool,
}

/// A message whose signature verified with the keys of the SP named by its Issuer.
struct Verified<'s> {
    xml: String,
    sp: &'s TrustedSp,
    binding: Binding,
    relay_state: Option<String>,
}

/// The Issuer text of an (unverified) message: only used to pick the SP's keys.
fn issuer_of(xml: &str) -> Result<String, RequestError> {
    let doc = xml::parse(xml, &Limits::MESSAGE).map_err(|_| nr(8, "unreadable xml"))?;
    let issuer = saml::children(doc.root_element(), ASSERTION_NS, "Issuer")
        .next()
        .and_then(leaf_text)
        .filter(|s| !s.is_empty())
        .ok_or(nr(8, "no issuer"));
    issuer
}

fn verify<'s>(sps: &'s [TrustedSp], incoming: &Incoming) -> Result<Verified<'s>, RequestError> {
    let unknown = RequestError {
        code: None,
        what: "the issuer is not a service provider this test idp trusts",
    };
    match incoming {
        Incoming::Post {
            message,
            relay_state,
        } => {
            let xml = decode_post(message, Limits::MESSAGE.max_bytes)
                .map_err(|_| nr(8, "undecodable message"))?;
            let issuer = issuer_of(&xml)?;
            let sp = sps
                .iter()
                .find(|s| s.entity_id() == issuer)
                .ok_or(unknown)?;
            {
                let doc =
                    xml::parse(&xml, &Limits::MESSAGE).map_err(|_| nr(8, "unreadable xml"))?;
                check_unique_ids(&doc).map_err(|_| nr(8, "duplicate ids"))?;
                let root = doc.root_element();
                let sigs: Vec<Node<'_, '_>> = doc.descendants().filter(is_signature).collect();
                let [sig] = sigs.as_slice() else {
                    return Err(nr(7, "the message must carry exactly one signature"));
                };
                if sig.parent_element() != Some(root) {
                    return Err(nr(7, "the signature does not sign the message"));
                }
                dsig::verify_enveloped(
                    root,
                    *sig,
                    sp.keys(),
                    &VerifyPolicy::default(),
                    &mut Vec::new(),
                )
                .map_err(|_| nr(7, "the signature does not verify with the sp metadata"))?;
            }
            Ok(Verified {
                xml,
                sp,
                binding: Binding::Post,
                relay_state: relay_state.clone(),
            })
        }
        Incoming::Redirect { query } => {
            let unverified = redirect::decode_unverified(query)
                .map_err(|_| nr(4, "undecodable redirect parameters"))?;
            let issuer = issuer_of(&unverified.xml)?;
            let sp = sps
                .iter()
                .find(|s| s.entity_id() == issuer)
                .ok_or(unknown)?;
            let msg = redirect::verify_query(query, sp.keys(), 2048).map_err(|e| match e {
                redirect::RedirectError::Missing(_) | redirect::RedirectError::Repeated(_) => {
                    nr(4, "missing or repeated redirect parameters")
                }
                redirect::RedirectError::Signature(_) => nr(
                    5,
                    "the query signature does not verify with the sp metadata",
                ),
                _ => nr(4, "undecodable redirect parameters"),
            })?;
            let doc =
                xml::parse(&msg.xml, &Limits::MESSAGE).map_err(|_| nr(8, "unreadable xml"))?;
            check_unique_ids(&doc).map_err(|_| nr(8, "duplicate ids"))?;
            if doc.descendants().any(|n| is_signature(&n)) {
                return Err(nr(8, "an xml signature inside a redirect message"));
            }
            Ok(Verified {
                xml: msg.xml,
                sp,
                binding: Binding::Redirect,
                relay_state: msg.relay_state,
            })
        }
    }
}

/// ID, Version, IssueInstant window, Destination.
fn common_checks(
    root: Node<'_, '_>,
    destinations: &[&str],
    now: Timestamp,
) -> Result<String, RequestError> {
    if root.attribute("Version") != Some("2.0") {
        return Err(nr(9, "version is not 2.0"));
    }
    let id = root
        .attribute("ID")
        .map(str::trim)
        .filter(|i| !i.is_empty() && i.len() <= 256)
        .ok_or(nr(11, "missing or malformed ID"))?;
    let instant = root
        .attribute("IssueInstant")
        .and_then(|t| Timestamp::parse(t.trim()).ok())
        .ok_or(nr(13, "missing or malformed IssueInstant"))?;
    if instant < now.plus_seconds(-MAX_AGE_SECS) || instant > now.plus_seconds(MAX_SKEW_SECS) {
        return Err(nr(13, "IssueInstant out of the accepted window"));
    }
    let destination = root.attribute("Destination").map(str::trim);
    if !destination.is_some_and(|d| destinations.contains(&d)) {
        return Err(nr(14, "Destination is not this endpoint"));
    }
    if let Some(issuer) = saml::children(root, ASSERTION_NS, "Issuer").next() {
        if issuer
            .attribute("Format")
            .is_some_and(|f| f.trim() != NAMEID_ENTITY)
        {
            return Err(nr(8, "issuer format is not entity"));
        }
    }
    Ok(id.to_owned())
}

impl TestIdp {
    /// Verifies an AuthnRequest (either binding) from one of `sps`, received at
    /// `sso_url`: signature with the SP metadata's keys, then the SPID request rules
    /// (Version, ID, IssueInstant, Destination, ACS, attribute service, NameIDPolicy,
    /// RequestedAuthnContext), each failure with the SPID ErrorCode an IdP would show.
    pub fn verify_authn_request(
        &self,
        sps: &[TrustedSp],
        incoming: &Incoming,
        sso_url: &str,
        now: Timestamp,
    ) -> Result<AuthnRequestIn, RequestError> {
        let v = verify(sps, incoming)?;
        let sp = v.sp;
        let doc = xml::parse(&v.xml, &Limits::MESSAGE).map_err(|_| nr(8, "unreadable xml"))?;
        let root = doc.root_element();
        if !saml::is(&root, PROTOCOL_NS, "AuthnRequest") {
            return Err(nr(8, "not an AuthnRequest"));
        }
        let id = common_checks(root, &[sso_url, self.entity_id()], now)?;
        if matches!(root.attribute("IsPassive"), Some("true" | "1")) {
            return Err(nr(15, "IsPassive is true"));
        }
        let force_authn = matches!(root.attribute("ForceAuthn"), Some("true" | "1"));

        // The ACS: an index, or URL + ProtocolBinding, never both; neither = the default.
        let index = root.attribute("AssertionConsumerServiceIndex");
        let url = root.attribute("AssertionConsumerServiceURL");
        let protocol_binding = root.attribute("ProtocolBinding");
        let acs = match (index, url, protocol_binding) {
            (Some(i), None, None) => {
                let i = i
                    .trim()
                    .parse::<u16>()
                    .map_err(|_| nr(16, "malformed AssertionConsumerServiceIndex"))?;
                sp.assertion_consumer_services()
                    .iter()
                    .find(|a| a.index == i)
                    .ok_or(nr(
                        16,
                        "AssertionConsumerServiceIndex not in the sp metadata",
                    ))?
            }
            (None, Some(u), Some(b)) => {
                if Binding::from_uri(b.trim()) != Some(Binding::Post) {
                    return Err(nr(16, "ProtocolBinding is not HTTP-POST"));
                }
                sp.assertion_consumer_services()
                    .iter()
                    .find(|a| a.location == u.trim())
                    .ok_or(nr(16, "AssertionConsumerServiceURL not in the sp metadata"))?
            }
            (None, None, None) => sp
                .default_acs()
                .ok_or(nr(16, "no assertion consumer service"))?,
            _ => return Err(nr(16, "ACS index and URL/ProtocolBinding mixed")),
        };
        if acs.binding != Binding::Post {
            return Err(nr(16, "the ACS binding is not HTTP-POST"));
        }

        let (attribute_service, requested_attributes) =
            match root.attribute("AttributeConsumingServiceIndex") {
                Some(i) => {
                    let i = i
                        .trim()
                        .parse::<u16>()
                        .map_err(|_| nr(18, "malformed AttributeConsumingServiceIndex"))?;
                    let names = sp.requested_attributes(i).ok_or(nr(
                        18,
                        "AttributeConsumingServiceIndex not in the sp metadata",
                    ))?;
                    (Some(i), names.to_vec())
                }
                None => (None, Vec::new()),
            };

        let transient = saml::children(root, PROTOCOL_NS, "NameIDPolicy")
            .next()
            .and_then(|p| p.attribute("Format"))
            .is_some_and(|f| f.trim() == NAMEID_TRANSIENT);
        if !transient {
            return Err(nr(17, "NameIDPolicy format is not transient"));
        }

        let ctx = saml::children(root, PROTOCOL_NS, "RequestedAuthnContext")
            .next()
            .ok_or(nr(12, "no RequestedAuthnContext"))?;
        let comparison = Comparison::parse(ctx.attribute("Comparison").unwrap_or("exact").trim())
            .ok_or(nr(12, "unknown Comparison"))?;
        let refs: Vec<Node<'_, '_>> =
            saml::children(ctx, ASSERTION_NS, "AuthnContextClassRef").collect();
        let [class_ref] = refs.as_slice() else {
            return Err(nr(12, "not exactly one AuthnContextClassRef"));
        };
        let level = leaf_text(*class_ref)
            .and_then(|t| SpidLevel::from_uri(&t))
            .ok_or(nr(12, "AuthnContextClassRef is not a SPID level"))?;

        let purpose = match saml::children(root, PROTOCOL_NS, "Extensions")
            .flat_map(|e| saml::children(e, SPID_NS, "Purpose"))
            .next()
        {
            Some(p) => Some(
                leaf_text(p)
                    .and_then(|t| Purpose::parse(&t))
                    .ok_or(nr(8, "unknown spid:Purpose"))?,
            ),
            None => None,
        };

        Ok(AuthnRequestIn {
            id,
            sp: sp.entity_id().to_owned(),
            binding: v.binding,
            acs_url: acs.location.clone(),
            attribute_service,
            requested_attributes,
            level,
            comparison,
            purpose,
            force_authn,
            relay_state: v.relay_state,
        })
    }

    /// Verifies an SP's LogoutRequest (either binding) received at `slo_url`.
    pub fn verify_logout_request(
        &self,
        sps: &[TrustedSp],
        incoming: &Incoming,
        slo_url: &str,
        now: Timestamp,
    ) -> Result<LogoutRequestIn, RequestError> {
        let v = verify(sps, incoming)?;
        let doc = xml::parse(&v.xml, &Limits::MESSAGE).map_err(|_| nr(8, "unreadable xml"))?;
        let root = doc.root_element();
        if !saml::is(&root, PROTOCOL_NS, "LogoutRequest") {
            return Err(nr(8, "not a LogoutRequest"));
        }
        let id = common_checks(root, &[slo_url], now)?;
        let name_id = saml::children(root, ASSERTION_NS, "NameID")
            .next()
            .and_then(leaf_text)
            .filter(|n| !n.is_empty())
            .ok_or(nr(8, "no NameID"))?;
        let session_indexes = saml::children(root, PROTOCOL_NS, "SessionIndex")
            .filter_map(leaf_text)
            .take(16)
            .collect();
        Ok(LogoutRequestIn {
            id,
            sp: v.sp.entity_id().to_owned(),
            binding: v.binding,
            name_id,
            session_indexes,
            relay_state: v.relay_state,
        })
    }

    /// Verifies an SP's LogoutResponse (either binding) received at `slo_url`.
    pub fn verify_logout_response(
        &self,
        sps: &[TrustedSp],
        incoming: &Incoming,
        slo_url: &str,
        now: Timestamp,
    ) -> Result<LogoutResponseIn, RequestError> {
        let v = verify(sps, incoming)?;
        let doc = xml::parse(&v.xml, &Limits::MESSAGE).map_err(|_| nr(8, "unreadable xml"))?;
        let root = doc.root_element();
        if !saml::is(&root, PROTOCOL_NS, "LogoutResponse") {
            return Err(nr(8, "not a LogoutResponse"));
        }
        common_checks(root, &[slo_url], now)?;
        let in_response_to = root
            .attribute("InResponseTo")
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .ok_or(nr(8, "no InResponseTo"))?
            .to_owned();
        let success = saml::children(root, PROTOCOL_NS, "Status")
            .next()
            .and_then(|s| saml::children(s, PROTOCOL_NS, "StatusCode").next())
            .and_then(|c| c.attribute("Value"))
            .is_some_and(|v| v.trim() == STATUS_SUCCESS);
        Ok(LogoutResponseIn {
            in_response_to,
            sp: v.sp.entity_id().to_owned(),
            success,
        })
    }

    /// The signed `Success` LogoutResponse to an SP's LogoutRequest, with the request's
    /// binding when the SP has a SingleLogoutService for it (the other one otherwise).
    pub fn logout_response(
        &self,
        sp: &TrustedSp,
        request: &LogoutRequestIn,
        now: Timestamp,
    ) -> Result<Outgoing, TestIdpError> {
        let (endpoint, binding) = sp
            .slo_for(request.binding)
            .ok_or(TestIdpError::SpMetadata("no SingleLogoutService"))?;
        let destination = endpoint
            .response_location
            .as_deref()
            .unwrap_or(&endpoint.location);
        let idp = self.entity_id();
        let mut x = String::with_capacity(1000);
        let _ = write!(
            x,
            "<samlp:LogoutResponse xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{}\" InResponseTo=\"{}\">\
             <saml:Issuer Format=\"{NAMEID_ENTITY}\" NameQualifier=\"{}\">{}</saml:Issuer>\
             <samlp:Status><samlp:StatusCode Value=\"{STATUS_SUCCESS}\"/></samlp:Status></samlp:LogoutResponse>",
            random_token("_", 20),
            attr(destination),
            attr(&request.id),
            attr(idp),
            text(idp),
        );
        Outgoing::sign(
            x,
            binding,
            destination,
            "SAMLResponse",
            request.relay_state.as_deref(),
            self.key(),
        )
        .map_err(TestIdpError::Signing)
    }

    /// A signed IdP-initiated LogoutRequest for a session at `sp`; returns the message
    /// and its ID (the SP's LogoutResponse answers it).
    pub fn logout_request(
        &self,
        sp: &TrustedSp,
        name_id: &str,
        session_index: Option<&str>,
        binding: Binding,
        now: Timestamp,
    ) -> Result<(Outgoing, String), TestIdpError> {
        let (endpoint, binding) = sp
            .slo_for(binding)
            .ok_or(TestIdpError::SpMetadata("no SingleLogoutService"))?;
        let id = random_token("_", 20);
        let idp = self.entity_id();
        let mut x = String::with_capacity(1000);
        let _ = write!(
            x,
            "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{}\" NotOnOrAfter=\"{}\">\
             <saml:Issuer Format=\"{NAMEID_ENTITY}\" NameQualifier=\"{}\">{}</saml:Issuer>\
             <saml:NameID Format=\"{NAMEID_TRANSIENT}\" NameQualifier=\"{}\">{}</saml:NameID>",
            attr(&endpoint.location),
            now.plus_seconds(MAX_AGE_SECS),
            attr(idp),
            text(idp),
            attr(idp),
            text(name_id),
        );
        if let Some(si) = session_index {
            let _ = write!(x, "<samlp:SessionIndex>{}</samlp:SessionIndex>", text(si));
        }
        x.push_str("</samlp:LogoutRequest>");
        let outgoing = Outgoing::sign(
            x,
            binding,
            &endpoint.location,
            "SAMLRequest",
            None,
            self.key(),
        )
        .map_err(TestIdpError::Signing)?;
        Ok((outgoing, id))
    }
}
