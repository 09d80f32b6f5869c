//! Single Logout: the SP's LogoutRequest and the IdP's LogoutResponse, and the IdP's
//! LogoutRequest with the SP's LogoutResponse. Both bindings; same anti-XSW policy as
//! Responses (one signature, a direct child of the root, referencing the root's ID).

use std::fmt::Write as _;

use crate::binding::post::decode_post;
use crate::binding::{redirect, Incoming, Outgoing};
use crate::dsig::{self, VerifyPolicy};
use crate::error::{RejectReason, Signed, StartError};
use crate::ids::{EntityId, RequestId};
use crate::metadata::IdentityProvider;
use crate::response::{check_unique_ids, leaf_text, reject_xml};
use crate::saml::{self, Binding, ASSERTION_NS, NAMEID_ENTITY, NAMEID_TRANSIENT, PROTOCOL_NS};
use crate::sp::{ServiceProvider, SessionInfo};
use crate::time::Timestamp;
use crate::xml::writer::{attr, text};
use crate::xml::{self, Node};

/// What the SP keeps while waiting for the IdP's LogoutResponse.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PendingLogout {
    request_id: RequestId,
    idp: EntityId,
    issue_instant: Timestamp,
    expires: Timestamp,
}

impl PendingLogout {
    /// The LogoutRequest ID.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }
    /// The IdP.
    pub fn idp(&self) -> &EntityId {
        &self.idp
    }
}

/// How an SP-initiated logout ended. In both cases the local session is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// `Success`.
    Complete,
    /// `Requester`/`PartialLogout` or another non-success status: some session elsewhere
    /// may still be open.
    Partial,
}

/// An IdP-initiated LogoutRequest that verified. `Debug` leaves out the NameID and
/// SessionIndex values.
#[derive(Clone, PartialEq, Eq)]
pub struct LogoutRequestInfo {
    /// The request ID.
    pub id: String,
    /// The IdP.
    pub idp: EntityId,
    /// The NameID to log out.
    pub name_id: String,
    /// The SessionIndex values, if any.
    pub session_indexes: Vec<String>,
}

impl std::fmt::Debug for LogoutRequestInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogoutRequestInfo")
            .field("id", &self.id)
            .field("idp", &self.idp)
            .finish_non_exhaustive()
    }
}

impl ServiceProvider {
    /// Builds and signs a LogoutRequest for a login's session. `binding` picks the IdP's
    /// SingleLogoutService.
    pub fn start_logout(
        &self,
        session: &SessionInfo,
        binding: Binding,
    ) -> Result<(Outgoing, PendingLogout), StartError> {
        let idp = self.usable_idp(session.idp.as_str())?;
        let idp = &*idp;
        let endpoint = idp.slo(binding).ok_or(StartError::NoEndpoint)?;
        let now = self.clock.now();
        let id = RequestId::random()?;
        let sp = self.config.entity_id.as_str();
        let mut x = String::with_capacity(1200);
        let _ = write!(
            x,
            "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{}\">\
             <saml:Issuer Format=\"{NAMEID_ENTITY}\" NameQualifier=\"{}\">{}</saml:Issuer>\
             <saml:NameID Format=\"{NAMEID_TRANSIENT}\" NameQualifier=\"{}\">{}</saml:NameID>",
            id,
            attr(&endpoint.location),
            attr(sp),
            text(sp),
            attr(&session.name_qualifier),
            text(&session.name_id),
        );
        if let Some(si) = &session.session_index {
            let _ = write!(x, "<samlp:SessionIndex>{}</samlp:SessionIndex>", text(si));
        }
        x.push_str("</samlp:LogoutRequest>");
        let outgoing = Outgoing::sign(
            x,
            binding,
            &endpoint.location,
            "SAMLRequest",
            None,
            &self.config.signing_key,
        )?;
        Ok((
            outgoing,
            PendingLogout {
                request_id: id,
                idp: idp.entity_id().clone(),
                issue_instant: now,
                expires: now.plus_seconds(self.config.request_lifetime_secs),
            },
        ))
    }

    /// Verifies the IdP's LogoutResponse to a pending logout.
    pub fn finish_logout(
        &self,
        incoming: &Incoming,
        pending: PendingLogout,
    ) -> Result<LogoutOutcome, RejectReason> {
        let now = self.clock.now();
        if now >= pending.expires {
            return Err(RejectReason::RequestExpired);
        }
        let idp = self
            .usable_idp(pending.idp.as_str())
            .map_err(RejectReason::from)?;
        let idp = &*idp;
        let xml = self.verified_logout_xml(incoming, idp)?;
        let doc = xml::parse(&xml, &self.config.limits).map_err(reject_xml)?;
        let root = doc.root_element();
        if !saml::is(&root, PROTOCOL_NS, "LogoutResponse") {
            return Err(RejectReason::NotAMessage("LogoutResponse"));
        }
        self.common_checks(root, idp, now, pending.issue_instant)?;
        if root.attribute("InResponseTo").map(str::trim) != Some(pending.request_id.as_str()) {
            return Err(RejectReason::ResponseInResponseTo);
        }
        let status = saml::children(root, PROTOCOL_NS, "Status")
            .next()
            .and_then(|s| saml::children(s, PROTOCOL_NS, "StatusCode").next())
            .and_then(|c| c.attribute("Value"))
            .ok_or(RejectReason::ResponseStatus)?;
        Ok(if status.trim() == saml::STATUS_SUCCESS {
            LogoutOutcome::Complete
        } else {
            LogoutOutcome::Partial
        })
    }

    /// Verifies an IdP-initiated LogoutRequest and builds the signed LogoutResponse to
    /// send back (Success: the SP must answer even for sessions it no longer has). The
    /// application closes the local sessions of [`LogoutRequestInfo::name_id`].
    pub fn handle_logout_request(
        &self,
        incoming: &Incoming,
        reply_binding: Binding,
    ) -> Result<(LogoutRequestInfo, Outgoing), RejectReason> {
        let now = self.clock.now();
        // The Issuer names the IdP whose keys verify the message: read it unverified, then
        // verify with those keys and re-check it.
        let xml_unverified = match incoming {
            Incoming::Post { message, .. } => decode_post(message, self.config.limits.max_bytes)?,
            Incoming::Redirect { query } => {
                redirect::decode_unverified(query)
                    .map_err(|_| RejectReason::Redirect("undecodable message"))?
                    .xml
            }
        };
        let issuer = {
            let doc = xml::parse(&xml_unverified, &self.config.limits).map_err(reject_xml)?;
            let root = doc.root_element();
            let issuer = saml::children(root, ASSERTION_NS, "Issuer")
                .next()
                .and_then(leaf_text)
                .ok_or(RejectReason::ResponseIssuer)?;
            issuer
        };
        let idp = self.usable_idp(&issuer).map_err(RejectReason::from)?;
        let idp = &*idp;
        let xml = self.verified_logout_xml(incoming, idp)?;
        let doc = xml::parse(&xml, &self.config.limits).map_err(reject_xml)?;
        let root = doc.root_element();
        if !saml::is(&root, PROTOCOL_NS, "LogoutRequest") {
            return Err(RejectReason::NotAMessage("LogoutRequest"));
        }
        self.common_checks(
            root,
            idp,
            now,
            now.plus_seconds(-self.config.request_lifetime_secs),
        )?;
        if let Some(t) = root.attribute("NotOnOrAfter") {
            let t = Timestamp::parse(t).map_err(|_| RejectReason::ConditionsNotOnOrAfter)?;
            if now >= t.plus_seconds(self.config.clock_skew_secs) {
                return Err(RejectReason::ConditionsNotOnOrAfter);
            }
        }
        let id = root
            .attribute("ID")
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        let key = format!("slo:{}:{}", idp.entity_id(), id);
        match self.replay.insert_once(
            &key,
            now.plus_seconds(self.config.request_lifetime_secs),
            now,
        ) {
            Ok(true) => {}
            Ok(false) => return Err(RejectReason::Replay),
            Err(e) => return Err(RejectReason::Store(e)),
        }
        let name_id = saml::children(root, ASSERTION_NS, "NameID")
            .next()
            .and_then(leaf_text)
            .filter(|n| !n.is_empty())
            .ok_or(RejectReason::NameId)?;
        let session_indexes = saml::children(root, PROTOCOL_NS, "SessionIndex")
            .filter_map(leaf_text)
            .collect();
        let info = LogoutRequestInfo {
            id,
            idp: idp.entity_id().clone(),
            name_id,
            session_indexes,
        };

        let endpoint = idp.slo(reply_binding).ok_or(RejectReason::Redirect(
            "no SingleLogoutService for the reply binding",
        ))?;
        let destination = endpoint
            .response_location
            .as_deref()
            .unwrap_or(&endpoint.location);
        let sp = self.config.entity_id.as_str();
        // No answer without an unguessable ID (fail closed).
        let response_id = RequestId::random().map_err(|e| RejectReason::Signature {
            which: Signed::Response,
            error: e.into(),
        })?;
        let mut x = String::with_capacity(1000);
        let _ = write!(
            x,
            "<samlp:LogoutResponse xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{}\" InResponseTo=\"{}\">\
             <saml:Issuer Format=\"{NAMEID_ENTITY}\" NameQualifier=\"{}\">{}</saml:Issuer>\
             <samlp:Status><samlp:StatusCode Value=\"{}\"/></samlp:Status></samlp:LogoutResponse>",
            response_id,
            attr(destination),
            attr(&info.id),
            attr(sp),
            text(sp),
            saml::STATUS_SUCCESS,
        );
        let relay = match incoming {
            Incoming::Post { relay_state, .. } => relay_state.clone(),
            Incoming::Redirect { query } => redirect::decode_unverified(query)
                .ok()
                .and_then(|m| m.relay_state),
        };
        let outgoing = Outgoing::sign(
            x,
            reply_binding,
            destination,
            "SAMLResponse",
            relay.as_deref(),
            &self.config.signing_key,
        )
        .map_err(|error| RejectReason::Signature {
            which: Signed::Response,
            error,
        })?;
        Ok((info, outgoing))
    }

    /// The XML of a logout message whose signature verified with `idp`'s keys.
    fn verified_logout_xml(
        &self,
        incoming: &Incoming,
        idp: &IdentityProvider,
    ) -> Result<String, RejectReason> {
        let sig_err = |error| RejectReason::Signature {
            which: Signed::Response,
            error,
        };
        match incoming {
            Incoming::Redirect { query } => {
                let msg = redirect::verify_query(query, idp.keys(), self.config.min_rsa_bits)
                    .map_err(|e| match e {
                        redirect::RedirectError::Signature(d) => sig_err(d),
                        redirect::RedirectError::TooLarge => RejectReason::InputTooLarge,
                        redirect::RedirectError::Missing(_) => {
                            RejectReason::Redirect("missing parameter")
                        }
                        redirect::RedirectError::Repeated(_) => {
                            RejectReason::Redirect("repeated parameter")
                        }
                        _ => RejectReason::Redirect("undecodable parameter"),
                    })?;
                let doc = xml::parse(&msg.xml, &self.config.limits).map_err(reject_xml)?;
                if doc
                    .descendants()
                    .any(|n| saml::is(&n, dsig::DSIG_NS, "Signature"))
                {
                    return Err(RejectReason::MisplacedSignature);
                }
                check_unique_ids(&doc)?;
                Ok(msg.xml)
            }
            Incoming::Post { message, .. } => {
                let xml = decode_post(message, self.config.limits.max_bytes)?;
                {
                    let doc = xml::parse(&xml, &self.config.limits).map_err(reject_xml)?;
                    check_unique_ids(&doc)?;
                    let root = doc.root_element();
                    let sigs: Vec<Node<'_, '_>> = doc
                        .descendants()
                        .filter(|n| saml::is(n, dsig::DSIG_NS, "Signature"))
                        .collect();
                    let [sig] = sigs.as_slice() else {
                        return Err(if sigs.is_empty() {
                            RejectReason::ResponseUnsigned
                        } else {
                            RejectReason::MisplacedSignature
                        });
                    };
                    if sig.parent_element() != Some(root) {
                        return Err(RejectReason::MisplacedSignature);
                    }
                    let policy = VerifyPolicy {
                        min_rsa_bits: self.config.min_rsa_bits,
                        ..VerifyPolicy::default()
                    };
                    dsig::verify_enveloped(root, *sig, idp.keys(), &policy, &mut Vec::new())
                        .map_err(sig_err)?;
                }
                Ok(xml)
            }
        }
    }

    /// ID, Version, IssueInstant window, Destination = one of our SLO URLs, Issuer = IdP.
    fn common_checks(
        &self,
        root: Node<'_, '_>,
        idp: &IdentityProvider,
        now: Timestamp,
        not_before: Timestamp,
    ) -> Result<(), RejectReason> {
        let skew = self.config.clock_skew_secs;
        if root
            .attribute("ID")
            .map(str::trim)
            .unwrap_or_default()
            .is_empty()
        {
            return Err(RejectReason::ResponseId);
        }
        if root.attribute("Version") != Some("2.0") {
            return Err(RejectReason::ResponseVersion);
        }
        let instant = root
            .attribute("IssueInstant")
            .and_then(|t| Timestamp::parse(t).ok())
            .ok_or(RejectReason::ResponseIssueInstant)?;
        if instant < not_before.plus_seconds(-skew) || instant > now.plus_seconds(skew) {
            return Err(RejectReason::ResponseIssueInstant);
        }
        let destination = root
            .attribute("Destination")
            .map(str::trim)
            .unwrap_or_default();
        if !self.config.slo.iter().any(|s| s.url == destination) {
            return Err(RejectReason::ResponseDestination);
        }
        let issuer = saml::children(root, ASSERTION_NS, "Issuer")
            .next()
            .and_then(leaf_text)
            .ok_or(RejectReason::ResponseIssuer)?;
        if issuer != idp.entity_id().as_str() {
            return Err(RejectReason::IssuerMismatch);
        }
        Ok(())
    }
}
