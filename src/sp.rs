//! The service provider: `start_login` → (what to send, what to keep), then
//! `finish_login(incoming, kept)` → a verified login or a typed reason why not.

mod deferred;

use std::sync::Arc;
use std::time::Instant;

pub use deferred::{DeferredLogin, DeferredRecord};

use crate::audit::record::{self as audit_record, RecordKind};
use crate::audit::{AuditLog, Outcome, TransactionRecord};
use crate::authn_request::{self, AcsChoice, AuthnRequestData, LoginOptions};
use crate::binding::post::decode_post;
use crate::binding::{Incoming, Outgoing};
use crate::config::{ConfigError, SpConfig};
use crate::error::{LoginError, RejectReason, StartError};
use crate::federation::Federation;
use crate::identity::{Identity, IdentityKey};
use crate::idp_set::IdpSet;
use crate::ids::{AssertionId, EntityId, NameId, RelayState, RequestId};
use crate::level::SpidLevel;
use crate::metadata::IdentityProvider;
use crate::metrics::Metrics;
use crate::observe;
use crate::pending::PendingLogin;
use crate::response::{self, Expected};
use crate::store::{MemoryReplayCache, ReplayCache};
use crate::time::{Clock, SystemClock, Timestamp};

/// The NameID of a login, needed to log the user out. `Debug` shows the IdP only.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SessionInfo {
    /// The IdP.
    pub idp: EntityId,
    /// The transient NameID value.
    pub name_id: NameId,
    /// The NameID's NameQualifier.
    pub name_qualifier: String,
    /// The SessionIndex (L1 logins).
    pub session_index: Option<String>,
}

/// A login that passed every check. Only [`ServiceProvider::finish_login`] makes one.
///
/// `Debug` is redacted: identifiers of the messages, level, IdP and the kind of identity,
/// never attribute values, the NameID or the Response XML.
#[derive(Clone)]
pub struct VerifiedLogin {
    identity: Identity,
    level: SpidLevel,
    session: SessionInfo,
    assertion_id: AssertionId,
    response_id: String,
    request_id: RequestId,
    authn_instant: Option<Timestamp>,
    session_not_on_or_after: Option<Timestamp>,
    not_on_or_after: Timestamp,
    federation: Federation,
    relay_state: RelayState,
    response_xml: String,
}

impl std::fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionInfo")
            .field("idp", &self.idp)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for VerifiedLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedLogin")
            .field("idp", &self.session.idp)
            .field("level", &self.level)
            .field("request_id", &self.request_id)
            .field("response_id", &self.response_id)
            .field("assertion_id", &self.assertion_id)
            .field("identity", &self.identity)
            .field("response_xml_bytes", &self.response_xml.len())
            .finish_non_exhaustive()
    }
}

impl VerifiedLogin {
    /// The verified identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }
    /// The key a portal grants permissions on: the fiscal code, or the eIDAS identifier.
    pub fn key(&self) -> Option<&IdentityKey> {
        self.identity.key()
    }
    /// The level the IdP authenticated at.
    pub fn level(&self) -> SpidLevel {
        self.level
    }
    /// The IdP.
    pub fn idp(&self) -> &EntityId {
        &self.session.idp
    }
    /// What single logout needs.
    pub fn session(&self) -> &SessionInfo {
        &self.session
    }
    /// The Assertion ID.
    pub fn assertion_id(&self) -> &AssertionId {
        &self.assertion_id
    }
    /// The Response ID.
    pub fn response_id(&self) -> &str {
        &self.response_id
    }
    /// The AuthnRequest ID this login answered.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }
    /// When the user authenticated at the IdP (always present: a Response without a valid
    /// `AuthnInstant` is rejected; an `Option` for compatibility).
    pub fn authn_instant(&self) -> Option<Timestamp> {
        self.authn_instant
    }
    /// The AuthnStatement's `SessionNotOnOrAfter`, if the IdP sent one: the time after
    /// which the IdP wants the SP's session to end (verified not past at login; the axum
    /// integration caps its session there).
    pub fn session_not_on_or_after(&self) -> Option<Timestamp> {
        self.session_not_on_or_after
    }
    /// The federation of the IdP that authenticated the user (it decides which identity
    /// keys the attributes can yield, see [`Identity::from_attributes`]).
    pub fn federation(&self) -> Federation {
        self.federation
    }
    /// The end of the assertion's validity.
    pub fn not_on_or_after(&self) -> Timestamp {
        self.not_on_or_after
    }
    /// The RelayState token of the request (map it to the page to return to).
    pub fn relay_state(&self) -> &RelayState {
        &self.relay_state
    }
    /// The Response XML as received, for the 24-month transaction log AgID requires.
    pub fn response_xml(&self) -> &str {
        &self.response_xml
    }
}

/// Why [`ServiceProvider::usable_idp`] refused an IdP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdpUnusable {
    Unknown,
    TestIdp,
}

impl From<IdpUnusable> for StartError {
    fn from(e: IdpUnusable) -> Self {
        match e {
            IdpUnusable::Unknown => StartError::UnknownIdp,
            IdpUnusable::TestIdp => StartError::TestIdpRefused,
        }
    }
}

impl From<IdpUnusable> for RejectReason {
    fn from(e: IdpUnusable) -> Self {
        match e {
            IdpUnusable::Unknown => RejectReason::UnknownIdp,
            IdpUnusable::TestIdp => RejectReason::TestIdpRefused,
        }
    }
}

/// A SAML service provider for SPID, CIE ID and eIDAS.
#[derive(Clone)]
pub struct ServiceProvider {
    pub(crate) config: Arc<SpConfig>,
    pub(crate) idps: IdpSet,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) replay: Arc<dyn ReplayCache>,
    pub(crate) allow_test_idp: bool,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) audit: Option<Arc<dyn AuditLog>>,
}

impl std::fmt::Debug for ServiceProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceProvider")
            .field("entity_id", self.config.entity_id())
            .field("idps", &self.idps.len())
            .finish_non_exhaustive()
    }
}

impl ServiceProvider {
    /// A service provider trusting `idps`, with the system clock and an in-memory replay
    /// cache.
    ///
    /// Two IdPs with the same entityID are refused ([`ConfigError::DuplicateIdp`]): which
    /// keys the SP trusted would otherwise depend on their order. IdPs whose metadata
    /// marks them as test IdPs ([`IdentityProvider::is_test_idp`]) are kept but refused
    /// by every login and logout operation unless [`ServiceProvider::allow_test_idp`]
    /// (feature `test-idp`) opts in.
    pub fn new(
        config: SpConfig,
        idps: impl IntoIterator<Item = IdentityProvider>,
    ) -> Result<ServiceProvider, ConfigError> {
        let idps = IdpSet::new(idps)?;
        Ok(ServiceProvider {
            config: Arc::new(config),
            idps,
            clock: Arc::new(SystemClock),
            replay: Arc::new(MemoryReplayCache::default()),
            allow_test_idp: false,
            metrics: Arc::new(Metrics::new()),
            audit: None,
        })
    }

    /// Trusts IdPs whose metadata marks them as test IdPs (the SDK's `test_idp`). Without
    /// this, such an IdP loaded by mistake logs no one in: `start_login`,
    /// `finish_login` and the logout operations refuse it.
    #[cfg(feature = "test-idp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-idp")))]
    pub fn allow_test_idp(mut self, mode: crate::metadata::idp::TestIdpMode) -> Self {
        let crate::metadata::idp::TestIdpMode::IKnowThisIsNotAnAccreditedIdp = mode;
        self.allow_test_idp = true;
        self
    }

    /// Whether IdPs marked as test IdPs are trusted ([`ServiceProvider::allow_test_idp`]).
    pub fn allows_test_idp(&self) -> bool {
        self.allow_test_idp
    }

    /// An IdP that may take part in a login or logout: trusted, and not a test IdP unless
    /// the SP opted in.
    pub(crate) fn usable_idp(&self, entity_id: &str) -> Result<Arc<IdentityProvider>, IdpUnusable> {
        let idp = self.idp(entity_id).ok_or(IdpUnusable::Unknown)?;
        if idp.is_test_idp() && !self.allow_test_idp {
            return Err(IdpUnusable::TestIdp);
        }
        Ok(idp)
    }

    /// Replaces the clock (tests, replays).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the replay cache (shared across instances: Redis).
    pub fn with_replay_cache(mut self, cache: Arc<dyn ReplayCache>) -> Self {
        self.replay = cache;
        self
    }

    /// Shares `metrics` (e.g. one set of counters for several service providers).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The counters of this service provider and its clones: login outcomes, verification
    /// latency, store and audit-log errors (docs/observability.md). Render them with
    /// [`Metrics::render_prometheus`], or serve them with the axum integration's
    /// `SpidAuth::metrics_router`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// `entity_id` if it is a trusted IdP now, else `unknown`: what logs and metric
    /// labels may show of an entityID that may come from the caller.
    pub(crate) fn idp_label<'a>(&self, entity_id: &'a str) -> &'a str {
        if self.idps.get(entity_id).is_some() {
            entity_id
        } else {
            observe::UNKNOWN_IDP
        }
    }

    /// Writes every login and logout message to the transaction registry AgID requires
    /// (24 months): the AuthnRequest as sent, the Response as received whatever the
    /// outcome, the logout messages both ways. When `log` refuses a record the operation
    /// fails ([`StartError::Audit`], [`RejectReason::AuditUnavailable`]): nothing is sent
    /// or accepted that the registry does not hold.
    pub fn with_audit(mut self, log: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(log);
        self
    }

    /// Appends a record when a registry is set and waits until it is durable; `Err`
    /// when it refused it (counted and logged).
    pub(crate) fn audit(&self, record: impl FnOnce() -> TransactionRecord) -> Result<(), ()> {
        self.submit_record(record).wait_quiet()
    }

    /// Hands a record to the registry when one is set, without waiting.
    pub(crate) fn submit_record(
        &self,
        record: impl FnOnce() -> TransactionRecord,
    ) -> DeferredRecord {
        let ticket = self.audit.as_ref().map(|log| log.submit(record()));
        DeferredRecord::new(ticket, &self.metrics)
    }

    /// The configuration.
    pub fn config(&self) -> &SpConfig {
        &self.config
    }

    /// A trusted IdP by entityID, as the set is now.
    pub fn idp(&self, entity_id: &str) -> Option<Arc<IdentityProvider>> {
        self.idps.get(entity_id)
    }

    /// Every trusted IdP, as the set is now (in no particular order).
    pub fn idps(&self) -> Vec<Arc<IdentityProvider>> {
        self.idps.all()
    }

    /// The handle of the trusted IdPs: [`IdpSet::replace`] swaps them while requests are
    /// served (after a registry refresh or a key rotation), for this service provider and
    /// every clone of it.
    pub fn idp_set(&self) -> &IdpSet {
        &self.idps
    }

    /// The clock in use.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Builds and signs an AuthnRequest for `idp`. Returns what to send to the browser and
    /// what to keep server-side (store it under [`PendingLogin::request_id`]).
    ///
    /// Traced: a `start_login` span and one event (`authentication request signed` or
    /// `login not started`, with the code), see docs/observability.md.
    pub fn start_login(
        &self,
        idp: &str,
        options: &LoginOptions,
    ) -> Result<(Outgoing, PendingLogin), StartError> {
        let started = Instant::now();
        let idp_shown = self.idp_label(idp);
        let span = tracing::info_span!(
            target: observe::LOGIN,
            "start_login",
            idp = idp_shown,
            level = options.level.number(),
            binding = options.binding.short_name(),
        );
        let _entered = span.enter();
        let result = self.sign_authn_request(idp, options);
        observe::login_started(
            idp_shown,
            options.level,
            options.binding,
            result.as_ref().map(|(_, p)| p.request_id.as_str()),
            started.elapsed(),
        );
        result
    }

    fn sign_authn_request(
        &self,
        idp: &str,
        options: &LoginOptions,
    ) -> Result<(Outgoing, PendingLogin), StartError> {
        let provider = self.usable_idp(idp)?;
        let provider = &*provider;
        let rules = provider.federation().rules();
        if !rules.comparisons.contains(&options.comparison) {
            return Err(StartError::InvalidOptions(
                "comparison not accepted by this identity provider",
            ));
        }
        let endpoint = provider
            .sso(options.binding)
            .ok_or(StartError::NoEndpoint)?;
        let acs_index = match options.acs {
            AcsChoice::Index(i) | AcsChoice::Url(i) => i,
        };
        let acs = self
            .config
            .acs(acs_index)
            .ok_or(StartError::InvalidOptions(
                "no assertion consumer service with that index",
            ))?;
        let attribute_service = match options.attribute_service {
            Some(i) => i,
            None => match rules.attribute_service_indexes {
                Some(fixed) => fixed.first().copied().unwrap_or(0),
                None => self
                    .config
                    .attribute_services
                    .first()
                    .map_or(0, |s| s.index),
            },
        };
        if !self
            .config
            .attribute_services
            .iter()
            .any(|s| s.index == attribute_service)
        {
            return Err(StartError::InvalidOptions(
                "no attribute consuming service with that index",
            ));
        }
        if let Some(fixed) = rules.attribute_service_indexes {
            if !fixed.contains(&attribute_service) {
                return Err(StartError::InvalidOptions(
                    "the eIDAS node needs attribute service 99 or 100",
                ));
            }
        }
        let now = self.clock.now();
        let id = RequestId::random()?;
        let relay_state = RelayState::random()?;
        let xml = authn_request::write(&AuthnRequestData {
            id: id.as_str(),
            issue_instant: now,
            destination: &endpoint.location,
            sp_entity_id: self.config.entity_id.as_str(),
            federation: provider.federation(),
            options,
            acs_url: &acs.url,
            attribute_service,
        });
        let outgoing = Outgoing::sign(
            xml,
            options.binding,
            &endpoint.location,
            "SAMLRequest",
            Some(relay_state.as_str()),
            &self.config.signing_key,
        )?;
        let pending = PendingLogin {
            request_id: id,
            idp: provider.entity_id().clone(),
            issue_instant: now,
            expires: now.plus_seconds(self.config.request_lifetime_secs),
            level: options.level,
            comparison: options.comparison,
            acs_url: acs.url.clone(),
            attribute_service,
            relay_state,
            data: None,
        };
        self.audit(|| {
            let mut r = audit_record::sent(
                RecordKind::AuthnRequestSent,
                now,
                provider.entity_id().as_str(),
                options.binding,
                pending.request_id.as_str(),
                outgoing.xml(),
            );
            r.level = Some(options.level.number());
            r
        })
        .map_err(|()| StartError::Audit)?;
        Ok((outgoing, pending))
    }

    /// Verifies the IdP's Response against the pending login it answers (taken by value:
    /// a pending login is consumed by one attempt).
    ///
    /// Traced and counted: a `finish_login` span and exactly one outcome event (`login
    /// accepted`, `login refused by the identity provider`, `login rejected`), with the
    /// request ID, the IdP, the level, the outcome code and the duration; never personal
    /// data (docs/observability.md).
    ///
    /// With a registry ([`ServiceProvider::with_audit`]) every outcome leaves one
    /// `response-received` record, written after the replay keys are consumed (the record
    /// states the final outcome); this returns once it is durable. When it cannot be
    /// written the result is [`RejectReason::AuditUnavailable`] and the user starts a new
    /// login. [`ServiceProvider::finish_login_deferred`] does the same without blocking
    /// the thread while the record is made durable.
    pub fn finish_login(
        &self,
        incoming: &Incoming,
        pending: PendingLogin,
    ) -> Result<VerifiedLogin, LoginError> {
        self.finish_login_deferred(incoming, pending).wait()
    }

    /// [`ServiceProvider::finish_login`], returning as soon as the Response is verified
    /// and its record handed to the registry ([`crate::audit::AuditLog::submit`]): the
    /// result is released by [`DeferredLogin::wait`] or, without holding a thread while
    /// the registry's group commit runs, by awaiting [`DeferredLogin::durable`]. Either
    /// releases an accepted login only once its record is durable.
    pub fn finish_login_deferred(
        &self,
        incoming: &Incoming,
        pending: PendingLogin,
    ) -> DeferredLogin {
        let started = Instant::now();
        let request_id = pending.request_id.clone();
        let idp = pending.idp.clone();
        let level = pending.level;
        let span = tracing::info_span!(
            target: observe::LOGIN,
            "finish_login",
            request_id = request_id.as_str(),
            idp = idp.as_str(),
            level = level.number(),
        );
        let (result, record) = span.in_scope(|| self.verify_and_submit(incoming, pending));
        let idp_label = self.idp_label(idp.as_str()).to_owned();
        DeferredLogin {
            result,
            record,
            request_id,
            idp,
            idp_label,
            level,
            started,
            span,
        }
    }

    /// [`Self::verify_login`], its record handed to the registry when one is set.
    fn verify_and_submit(
        &self,
        incoming: &Incoming,
        pending: PendingLogin,
    ) -> (Result<VerifiedLogin, LoginError>, DeferredRecord) {
        if self.audit.is_none() {
            let result = self.verify_login(incoming, pending);
            return (result, DeferredRecord::new(None, &self.metrics));
        }
        let now = self.clock.now();
        let (request_id, idp) = (pending.request_id.clone(), pending.idp.clone());
        let request_instant = pending.issue_instant;
        let result = self.verify_login(incoming, pending);
        let record = self.submit_record(|| {
            let mut r = match &result {
                Ok(login) => self.accepted_record(login, now),
                Err(e) => audit_record::received(
                    RecordKind::ResponseReceived,
                    Outcome::of_login_error(e),
                    now,
                    Some(idp.as_str()),
                    incoming,
                    &self.config.limits,
                ),
            };
            r.authn_req_id = Some(request_id.as_str().to_owned());
            r.authn_req_issue_instant = Some(request_instant.to_string());
            r
        });
        (result, record)
    }

    /// Records a Response that an integration refused before [`Self::finish_login`]
    /// (no pending login for it, another browser…; `code` says why), so the registry
    /// holds every Response received. Without a registry, does nothing. `Err` (answer
    /// 503): the registry could not write it.
    pub fn record_unmatched_response(
        &self,
        incoming: &Incoming,
        code: &str,
    ) -> Result<(), RejectReason> {
        self.submit_unmatched_response(incoming, code).wait()
    }

    /// [`Self::record_unmatched_response`] without waiting: resolve the record with
    /// [`DeferredRecord::wait`] or [`DeferredRecord::durable`] before answering.
    pub fn submit_unmatched_response(&self, incoming: &Incoming, code: &str) -> DeferredRecord {
        self.submit_record(|| {
            audit_record::received(
                RecordKind::ResponseReceived,
                Outcome::Rejected { code: code.into() },
                self.clock.now(),
                None,
                incoming,
                &self.config.limits,
            )
        })
    }

    /// The record of an accepted login: index fields from the verified login.
    fn accepted_record(&self, login: &VerifiedLogin, now: Timestamp) -> TransactionRecord {
        let mut r = TransactionRecord::new(RecordKind::ResponseReceived, Outcome::Accepted, now);
        r.idp = Some(login.idp().as_str().to_owned());
        r.level = Some(login.level().number());
        r.binding = Some("post".into());
        r.resp_id = Some(login.response_id.clone());
        r.resp_issuer = Some(login.idp().as_str().to_owned());
        r.assertion_id = Some(login.assertion_id.as_str().to_owned());
        r.assertion_subject = Some(login.session.name_id.as_str().to_owned());
        r.assertion_subject_name_qualifier = Some(login.session.name_qualifier.clone());
        r.fiscal_code = login.identity.fiscal_code().map(|c| c.as_str().to_owned());
        // The IssueInstant of the document that verified (the root's, read without a
        // second parse: the verifier already checked it).
        if let crate::xml::reader::RootAttribute::Found(t) =
            crate::xml::reader::root_attribute(&login.response_xml, "IssueInstant")
        {
            r.resp_issue_instant = Some(t.trim().to_owned());
        }
        r.payload = Some(crate::audit::Payload {
            format: crate::audit::PayloadFormat::Xml,
            data: login.response_xml.clone(),
        });
        r
    }

    fn verify_login(
        &self,
        incoming: &Incoming,
        pending: PendingLogin,
    ) -> Result<VerifiedLogin, LoginError> {
        let Incoming::Post {
            message,
            relay_state,
        } = incoming
        else {
            return Err(RejectReason::Redirect("responses arrive by HTTP-POST only").into());
        };
        let now = self.clock.now();
        if now >= pending.expires {
            return Err(RejectReason::RequestExpired.into());
        }
        // The RelayState comes back exactly as sent (SAML bindings §3.5.3: the IdP MUST
        // return it): a missing one is as wrong as a different one.
        // (A request sent without one, `from_parts` with an empty token, expects none.)
        if relay_state.as_deref().unwrap_or_default() != pending.relay_state.as_str() {
            return Err(RejectReason::RelayState.into());
        }
        let idp = self
            .usable_idp(pending.idp.as_str())
            .map_err(RejectReason::from)?;
        let idp = &*idp;
        let xml = decode_post(message, self.config.limits.max_bytes)?;
        let exp = Expected {
            sp_entity_id: self.config.entity_id.as_str(),
            acs_url: &pending.acs_url,
            request_id: pending.request_id.as_str(),
            request_instant: pending.issue_instant,
            level: pending.level,
            comparison: pending.comparison,
            idp,
            now,
            skew_secs: self.config.clock_skew_secs,
            force_authn: idp.federation().rules().force_authn(pending.level),
            require_response_signature: self.config.require_response_signature,
            min_rsa_bits: self.config.min_rsa_bits,
        };
        let verified = response::verify(&xml, &self.config.limits, &exp)?;

        // Single use: the request, and the assertion until it expires.
        let keep_until = verified
            .not_on_or_after
            .plus_seconds(self.config.clock_skew_secs);
        let request_key = format!("req:{}", pending.request_id);
        let assertion_key = format!("asr:{}:{}", pending.idp, verified.assertion_id);
        match self.replay.insert_all_once(
            &[&request_key, &assertion_key],
            keep_until.max(pending.expires),
            now,
        ) {
            Ok(true) => {}
            Ok(false) => return Err(RejectReason::Replay.into()),
            Err(e) => return Err(RejectReason::Store(e).into()),
        }

        let federation = idp.federation();
        let identity = Identity::from_attributes(verified.attributes, federation);
        if self.config.require_identity_key && identity.key().is_none() {
            return Err(RejectReason::IdentityKeyMissing.into());
        }
        Ok(VerifiedLogin {
            identity,
            level: verified.level,
            session: SessionInfo {
                idp: pending.idp,
                name_id: NameId::new(verified.name_id),
                name_qualifier: verified.name_qualifier,
                session_index: verified.session_index,
            },
            assertion_id: AssertionId::new(verified.assertion_id),
            response_id: verified.response_id,
            request_id: pending.request_id,
            authn_instant: Some(verified.authn_instant),
            session_not_on_or_after: verified.session_not_on_or_after,
            not_on_or_after: verified.not_on_or_after,
            federation,
            relay_state: pending.relay_state,
            response_xml: xml,
        })
    }
}
