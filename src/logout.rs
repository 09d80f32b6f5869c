//! Single Logout: the SP's LogoutRequest and the IdP's LogoutResponse, and the IdP's
//! LogoutRequest with the SP's LogoutResponse. Both bindings; same anti-XSW policy as
//! Responses (one signature, a direct child of the root, referencing the root's ID).

use std::fmt::Write as _;
use std::sync::Arc;

use crate::audit::record::{self as audit_record, RecordKind};
use crate::audit::Outcome;
use crate::binding::post::decode_post;
use crate::binding::redirect::{VerifiedDocument, VerifiedRedirect};
use crate::binding::{redirect, Incoming, Outgoing};
use crate::dsig::{self, Verified, VerifyPolicy};
use crate::error::{RejectReason, Signed, StartError};
use crate::ids::{EntityId, NameId, RequestId};
use crate::metadata::IdentityProvider;
use crate::observe::{self, LogoutFailure};
use crate::response::{check_unique_ids, leaf_text, reject_xml, verified_text};
use crate::saml::{self, Binding, ASSERTION_NS, NAMEID_ENTITY, NAMEID_TRANSIENT, PROTOCOL_NS};
use crate::sp::{ServiceProvider, SessionInfo};
use crate::time::Timestamp;
use crate::xml::writer::{attr, text};
use crate::xml::{self, Document, Node};

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
    pub name_id: NameId,
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
    ///
    /// Traced: a `start_logout` span and one event (docs/observability.md).
    pub fn start_logout(
        &self,
        session: &SessionInfo,
        binding: Binding,
    ) -> Result<(Outgoing, PendingLogout), StartError> {
        let idp = self.idp_label(session.idp.as_str());
        let span = tracing::info_span!(target: observe::LOGOUT, "start_logout", idp);
        let _entered = span.enter();
        let result = self.sign_logout_request(session, binding);
        self.logout_event(
            "start",
            idp,
            result.as_ref().ok().map(|(_, p)| p.request_id.as_str()),
            result
                .as_ref()
                .map(|_| "sent")
                .map_err(|e| e as &dyn LogoutFailure),
        );
        result
    }

    /// One logout event and metric, with a trusted IdP (or `unknown`).
    fn logout_event(
        &self,
        step: &'static str,
        idp: &str,
        request_id: Option<&str>,
        outcome: Result<&'static str, &dyn LogoutFailure>,
    ) {
        observe::logout_outcome(&self.metrics, step, idp, idp, request_id, outcome);
    }

    fn sign_logout_request(
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
            text(session.name_id.as_str()),
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
        self.audit(|| {
            let mut r = audit_record::sent(
                RecordKind::LogoutRequestSent,
                now,
                idp.entity_id().as_str(),
                binding,
                id.as_str(),
                outgoing.xml(),
            );
            r.assertion_subject = Some(session.name_id.as_str().to_owned());
            r.assertion_subject_name_qualifier = Some(session.name_qualifier.clone());
            r
        })
        .map_err(|()| StartError::Audit)?;
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
    ///
    /// Traced: a `finish_logout` span and one event (docs/observability.md).
    ///
    /// Verifies the IdP's LogoutResponse to a pending logout (and records it, whatever
    /// the outcome, when a registry is set).
    pub fn finish_logout(
        &self,
        incoming: &Incoming,
        pending: PendingLogout,
    ) -> Result<LogoutOutcome, RejectReason> {
        let request_id = pending.request_id.clone();
        let idp = pending.idp.clone();
        let idp = self.idp_label(idp.as_str());
        let span = tracing::info_span!(
            target: observe::LOGOUT,
            "finish_logout",
            request_id = request_id.as_str(),
            idp,
        );
        let _entered = span.enter();
        let result = self.verify_and_record_logout_response(incoming, pending);
        let outcome = match &result {
            Ok(LogoutOutcome::Complete) => Ok("complete"),
            Ok(LogoutOutcome::Partial) => Ok("partial"),
            Err(e) => Err(e as &dyn LogoutFailure),
        };
        self.logout_event("response", idp, Some(request_id.as_str()), outcome);
        result
    }

    /// [`Self::verify_logout_response`], recorded in the registry when one is set.
    fn verify_and_record_logout_response(
        &self,
        incoming: &Incoming,
        pending: PendingLogout,
    ) -> Result<LogoutOutcome, RejectReason> {
        let now = self.clock.now();
        let (request_id, idp) = (pending.request_id.clone(), pending.idp.clone());
        let result = self.verify_logout_response(incoming, pending);
        self.audit(|| {
            let outcome = match &result {
                Ok(LogoutOutcome::Complete) => Outcome::Accepted,
                Ok(LogoutOutcome::Partial) => Outcome::Refused {
                    status: "partial-logout".into(),
                    sub_status: None,
                    error_code: None,
                },
                Err(e) => Outcome::rejected(e),
            };
            let mut r = audit_record::received(
                RecordKind::LogoutResponseReceived,
                outcome,
                now,
                Some(idp.as_str()),
                incoming,
                &self.config.limits,
            );
            r.verified = result.is_ok();
            r.authn_req_id = Some(request_id.as_str().to_owned());
            r
        })
        .map_err(|()| RejectReason::AuditUnavailable)?;
        result
    }

    fn verify_logout_response(
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
        let xml = self.logout_xml(incoming, idp)?;
        let doc = self.parse_logout(&xml)?;
        let root = self.verified_logout_root(&doc, idp)?;
        if !root.is(PROTOCOL_NS, "LogoutResponse") {
            return Err(RejectReason::NotAMessage("LogoutResponse"));
        }
        self.common_checks(root, idp, now, pending.issue_instant)?;
        if root.attribute("InResponseTo").map(str::trim) != Some(pending.request_id.as_str()) {
            return Err(RejectReason::ResponseInResponseTo);
        }
        let status = root
            .child(PROTOCOL_NS, "Status")
            .and_then(|s| s.child(PROTOCOL_NS, "StatusCode"))
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
    ///
    /// Traced: a `logout_request` span and one event; the IdP's LogoutRequest ID at DEBUG
    /// only (docs/observability.md).
    ///
    /// With a registry, the LogoutRequest received (whatever the outcome) and the
    /// LogoutResponse sent are recorded; when they cannot be, no answer is sent
    /// ([`RejectReason::AuditUnavailable`]).
    pub fn handle_logout_request(
        &self,
        incoming: &Incoming,
        reply_binding: Binding,
    ) -> Result<(LogoutRequestInfo, Outgoing), RejectReason> {
        let span = tracing::info_span!(
            target: observe::LOGOUT,
            "logout_request",
            idp = tracing::field::Empty
        );
        let _entered = span.enter();
        // The trusted IdP named by the message, once known (before that: `unknown`).
        let mut seen: Option<Arc<IdentityProvider>> = None;
        let result = self.answer_and_record_logout_request(incoming, reply_binding, &mut seen);
        let idp = seen
            .as_ref()
            .map_or(observe::UNKNOWN_IDP, |i| i.entity_id().as_str());
        span.record("idp", idp);
        if let Ok((info, _)) = &result {
            tracing::debug!(target: observe::LOGOUT, idp, logout_request_id = info.id.as_str(), "IdP LogoutRequest ID");
        }
        let outcome = match &result {
            Ok(_) => Ok("accepted"),
            Err(e) => Err(e as &dyn LogoutFailure),
        };
        self.logout_event("request", idp, None, outcome);
        result
    }

    /// [`Self::answer_logout_request`], recorded in the registry when one is set.
    fn answer_and_record_logout_request(
        &self,
        incoming: &Incoming,
        reply_binding: Binding,
        seen: &mut Option<Arc<IdentityProvider>>,
    ) -> Result<(LogoutRequestInfo, Outgoing), RejectReason> {
        let now = self.clock.now();
        let result = self.answer_logout_request(incoming, reply_binding, seen);
        self.audit(|| {
            let outcome = match &result {
                Ok(_) => Outcome::Accepted,
                Err(e) => Outcome::rejected(e),
            };
            let mut r = audit_record::received(
                RecordKind::LogoutRequestReceived,
                outcome,
                now,
                result.as_ref().ok().map(|(info, _)| info.idp.as_str()),
                incoming,
                &self.config.limits,
            );
            r.verified = result.is_ok();
            r
        })
        .map_err(|()| RejectReason::AuditUnavailable)?;
        if let Ok((info, outgoing)) = &result {
            self.audit(|| {
                let mut r = audit_record::sent(
                    RecordKind::LogoutResponseSent,
                    now,
                    info.idp.as_str(),
                    reply_binding,
                    &info.id,
                    outgoing.xml(),
                );
                // The columns of a logout: the request answered, and this response.
                r.authn_req_issue_instant = None;
                r.fill_from_xml(outgoing.xml(), &self.config.limits);
                r
            })
            .map_err(|()| RejectReason::AuditUnavailable)?;
        }
        result
    }

    fn answer_logout_request(
        &self,
        incoming: &Incoming,
        reply_binding: Binding,
        seen: &mut Option<Arc<IdentityProvider>>,
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
        let idp = &**seen.insert(idp);
        let info = self.verified_logout_request(incoming, idp, now)?;

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

    /// The checks of an IdP-initiated LogoutRequest on its verified tree, in order: the
    /// signature with `idp`'s keys, the message kind, [`Self::common_checks`],
    /// `NotOnOrAfter`, single use of its ID, then the NameID and SessionIndex values.
    fn verified_logout_request(
        &self,
        incoming: &Incoming,
        idp: &IdentityProvider,
        now: Timestamp,
    ) -> Result<LogoutRequestInfo, RejectReason> {
        let xml = self.logout_xml(incoming, idp)?;
        let doc = self.parse_logout(&xml)?;
        let root = self.verified_logout_root(&doc, idp)?;
        if !root.is(PROTOCOL_NS, "LogoutRequest") {
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
        let name_id = root
            .child(ASSERTION_NS, "NameID")
            .and_then(verified_text)
            .filter(|n| !n.is_empty())
            .map(NameId::new)
            .ok_or(RejectReason::NameId)?;
        let session_indexes = root
            .children_named(PROTOCOL_NS, "SessionIndex")
            .filter_map(verified_text)
            .collect();
        Ok(LogoutRequestInfo {
            id,
            idp: idp.entity_id().clone(),
            name_id,
            session_indexes,
        })
    }

    /// The XML of a logout message: for the Redirect binding, its query signature verified
    /// with `idp`'s keys; for the POST binding, decoded (its enveloped signature is verified
    /// on the parsed tree, [`Self::verified_logout_root`]).
    fn logout_xml(
        &self,
        incoming: &Incoming,
        idp: &IdentityProvider,
    ) -> Result<LogoutXml, RejectReason> {
        match incoming {
            Incoming::Redirect { query } => {
                redirect::verify_redirect(query, idp.keys(), self.config.min_rsa_bits)
                    .map(LogoutXml::Redirect)
                    .map_err(|e| match e {
                        redirect::RedirectError::Signature(d) => logout_signature_error(d),
                        redirect::RedirectError::TooLarge => RejectReason::InputTooLarge,
                        redirect::RedirectError::Missing(_) => {
                            RejectReason::Redirect("missing parameter")
                        }
                        redirect::RedirectError::Repeated(_) => {
                            RejectReason::Redirect("repeated parameter")
                        }
                        _ => RejectReason::Redirect("undecodable parameter"),
                    })
            }
            Incoming::Post { message, .. } => Ok(LogoutXml::Post(decode_post(
                message,
                self.config.limits.max_bytes,
            )?)),
        }
    }

    /// Parses a logout message once, under the configured limits.
    fn parse_logout<'i>(&self, xml: &'i LogoutXml) -> Result<LogoutDocument<'i>, RejectReason> {
        let limits = &self.config.limits;
        match xml {
            LogoutXml::Redirect(verified) => verified
                .parse(limits)
                .map(LogoutDocument::Redirect)
                .map_err(reject_xml),
            LogoutXml::Post(text) => xml::parse(text, limits)
                .map(LogoutDocument::Post)
                .map_err(reject_xml),
        }
    }

    /// The root of a logout message whose signature verified with `idp`'s keys, after the
    /// shape checks: unique IDs; for the Redirect binding no embedded signature alongside
    /// the query signature; for the POST binding exactly one signature, a direct child of
    /// the root, verified as enveloped.
    fn verified_logout_root<'a, 'i>(
        &self,
        doc: &'a LogoutDocument<'i>,
        idp: &IdentityProvider,
    ) -> Result<Verified<'a, 'i>, RejectReason> {
        match doc {
            LogoutDocument::Redirect(verified) => {
                if verified
                    .document()
                    .descendants()
                    .any(|n| saml::is(&n, dsig::DSIG_NS, "Signature"))
                {
                    return Err(RejectReason::MisplacedSignature);
                }
                check_unique_ids(verified.document())?;
                Ok(verified.root())
            }
            LogoutDocument::Post(doc) => {
                check_unique_ids(doc)?;
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
                let verified =
                    dsig::verify_enveloped(root, *sig, idp.keys(), &policy, &mut Vec::new())
                        .map_err(logout_signature_error)?;
                Ok(verified.element())
            }
        }
    }

    /// ID, Version, IssueInstant window, Destination = one of our SLO URLs, Issuer = IdP.
    fn common_checks(
        &self,
        root: Verified<'_, '_>,
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
        if instant > now.plus_seconds(skew) {
            return Err(RejectReason::ResponseIssueInstant);
        }
        if instant < not_before.plus_seconds(-skew) {
            return Err(RejectReason::ResponseExpired);
        }
        let destination = root
            .attribute("Destination")
            .map(str::trim)
            .unwrap_or_default();
        if !self.config.slo.iter().any(|s| s.url == destination) {
            return Err(RejectReason::ResponseDestination);
        }
        let issuer = root
            .child(ASSERTION_NS, "Issuer")
            .and_then(verified_text)
            .ok_or(RejectReason::ResponseIssuer)?;
        if issuer != idp.entity_id().as_str() {
            return Err(RejectReason::IssuerMismatch);
        }
        Ok(())
    }
}

/// A decoded logout message, before its tree is built.
enum LogoutXml {
    /// HTTP-Redirect: the query signature verified, the XML covered whole.
    Redirect(VerifiedRedirect),
    /// HTTP-POST: the enveloped signature is still to be verified.
    Post(String),
}

/// A logout message's one parsed tree.
enum LogoutDocument<'i> {
    Redirect(VerifiedDocument<'i>),
    Post(Document<'i>),
}

/// A logout signature that did not verify.
fn logout_signature_error(error: dsig::DsigError) -> RejectReason {
    RejectReason::Signature {
        which: Signed::Response,
        error,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;

    use super::*;
    use crate::dsig::{SignatureAlgorithm, SignatureAnchor, SigningKey};
    use crate::{FixedClock, SpConfig};

    const SP: &str = "https://sp.logout.test/spid";
    const SLO: &str = "https://sp.logout.test/spid/slo";
    const IDP: &str = "https://idp.logout.test";
    const NOW: &str = "2026-01-15T10:00:00Z";

    fn key(name: &str) -> SigningKey {
        let read = |ext: &str| std::fs::read(format!("tests/data/keys/{name}.{ext}.pem")).unwrap();
        SigningKey::from_pem(&read("key"), &read("crt")).unwrap()
    }

    fn sp() -> ServiceProvider {
        let config = SpConfig::builder(SP, key("sp"))
            .assertion_consumer_service("https://sp.logout.test/spid/acs")
            .attribute_service(0, "Servizi", &["fiscalNumber"])
            .logout_service(Binding::Redirect, SLO)
            .logout_service(Binding::Post, SLO)
            .build()
            .unwrap();
        let idp = IdentityProvider::new(IDP, vec![key("idp").verification_key().unwrap()])
            .with_sso(Binding::Redirect, "https://idp.logout.test/sso")
            .with_slo(Binding::Redirect, "https://idp.logout.test/slo")
            .with_slo(Binding::Post, "https://idp.logout.test/slo");
        ServiceProvider::new(config, [idp])
            .unwrap()
            .with_clock(Arc::new(FixedClock(Timestamp::parse(NOW).unwrap())))
    }

    fn request(id: &str, extra: &str) -> String {
        format!(
            "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" \
             ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{NOW}\" Destination=\"{SLO}\">\
             <saml:Issuer>{IDP}</saml:Issuer><saml:NameID Format=\"{NAMEID_TRANSIENT}\" \
             NameQualifier=\"{IDP}\">_n1</saml:NameID><samlp:SessionIndex>_s1</samlp:SessionIndex>\
             {extra}</samlp:LogoutRequest>"
        )
    }

    fn post(xml: &str) -> Incoming {
        Incoming::Post {
            message: base64::engine::general_purpose::STANDARD.encode(xml),
            relay_state: None,
        }
    }

    fn signed_post(xml: &str, signer: &str) -> Incoming {
        let anchor = SignatureAnchor::After(ASSERTION_NS, "Issuer");
        post(
            &dsig::sign_enveloped(xml, &key(signer), SignatureAlgorithm::RsaSha256, anchor)
                .unwrap(),
        )
    }

    fn signed_redirect(xml: &str, signer: &str) -> Incoming {
        let query = redirect::signed_query(
            "SAMLRequest",
            xml,
            None,
            &key(signer),
            SignatureAlgorithm::RsaSha256,
        )
        .unwrap();
        Incoming::Redirect { query }
    }

    fn handle(incoming: &Incoming) -> Result<LogoutRequestInfo, RejectReason> {
        sp().handle_logout_request(incoming, Binding::Redirect)
            .map(|(info, _)| info)
    }

    #[test]
    fn both_bindings_read_the_verified_request() {
        for incoming in [
            signed_post(&request("_p1", ""), "idp"),
            signed_redirect(&request("_r1", ""), "idp"),
        ] {
            let info = handle(&incoming).unwrap();
            assert_eq!(info.name_id.as_str(), "_n1");
            assert_eq!(info.session_indexes, ["_s1"]);
        }
    }

    #[test]
    fn logout_shape_and_signature_are_checked_before_any_value() {
        let bad_signature = |r: Result<_, RejectReason>| {
            matches!(
                r,
                Err(RejectReason::Signature {
                    which: Signed::Response,
                    ..
                })
            )
        };
        // POST: unsigned, signed by another key, a second signature, a duplicate ID.
        assert_eq!(
            handle(&post(&request("_p2", ""))),
            Err(RejectReason::ResponseUnsigned)
        );
        assert!(bad_signature(handle(&signed_post(
            &request("_p3", ""),
            "attacker"
        ))));
        let extra = "<samlp:Extensions><ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/></samlp:Extensions>";
        assert_eq!(
            handle(&signed_post(&request("_p4", extra), "idp")),
            Err(RejectReason::MisplacedSignature)
        );
        let duplicate = "<samlp:Extensions><x:E xmlns:x=\"urn:x\" ID=\"_d1\"/></samlp:Extensions>";
        assert_eq!(
            handle(&signed_post(&request("_d1", duplicate), "idp")),
            Err(RejectReason::DuplicateId)
        );
        // Redirect: signed by another key, an embedded signature, a duplicate ID.
        assert!(bad_signature(handle(&signed_redirect(
            &request("_r2", ""),
            "attacker"
        ))));
        assert_eq!(
            handle(&signed_redirect(&request("_r3", extra), "idp")),
            Err(RejectReason::MisplacedSignature)
        );
        assert_eq!(
            handle(&signed_redirect(&request("_d1", duplicate), "idp")),
            Err(RejectReason::DuplicateId)
        );
        // Verified, but not a LogoutRequest.
        let other = request("_r5", "").replace("LogoutRequest", "LogoutResponse");
        assert_eq!(
            handle(&signed_redirect(&other, "idp")),
            Err(RejectReason::NotAMessage("LogoutRequest"))
        );
    }
}
