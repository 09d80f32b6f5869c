//! A login whose registry record may not be durable yet: [`DeferredLogin`] and
//! [`DeferredRecord`]. The core verifies and hands the record to the [`AuditLog`]
//! ([`AuditLog::submit`]) without waiting; the result is released only once the record
//! is durable, by a blocking [`DeferredLogin::wait`] or an awaited
//! [`DeferredLogin::durable`] (no thread held meanwhile). A refused record turns the
//! result into [`RejectReason::AuditUnavailable`], counted and logged once.
//!
//! [`AuditLog`]: crate::audit::AuditLog
//! [`AuditLog::submit`]: crate::audit::AuditLog::submit

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::audit::{AuditError, AuditTicket};
use crate::error::{LoginError, RejectReason};
use crate::ids::{EntityId, RequestId};
use crate::level::SpidLevel;
use crate::metrics::Metrics;
use crate::observe::{self, LoginAttempt};

use super::VerifiedLogin;

/// One record handed to the registry, not yet known durable. Resolve it before acting
/// on what it records: [`DeferredRecord::wait`] or [`DeferredRecord::durable`].
#[must_use = "what the record accounts for may proceed only once it is durable"]
#[derive(Debug)]
pub struct DeferredRecord {
    /// `None`: no registry, or already resolved.
    ticket: Option<AuditTicket>,
    metrics: Arc<Metrics>,
}

impl DeferredRecord {
    pub(crate) fn new(ticket: Option<AuditTicket>, metrics: &Arc<Metrics>) -> DeferredRecord {
        DeferredRecord {
            ticket,
            metrics: Arc::clone(metrics),
        }
    }

    /// Whether resolving it would not wait (no registry, or the record's fate is known).
    pub fn is_ready(&self) -> bool {
        self.ticket.as_ref().is_none_or(AuditTicket::is_ready)
    }

    /// Blocks up to `timeout` for the registry's answer; whether it is known now
    /// ([`DeferredRecord::wait`] then returns at once). On `false` nothing changed:
    /// wait for it later, or await [`DeferredRecord::durable`].
    pub fn ready_within(&self, timeout: Duration) -> bool {
        self.ticket.as_ref().is_none_or(|t| t.ready_within(timeout))
    }

    /// Blocks until the record is durable; `Err` ([`RejectReason::AuditUnavailable`]):
    /// the registry refused it.
    pub fn wait(mut self) -> Result<(), RejectReason> {
        let durable = self.ticket.take().map_or(Ok(()), AuditTicket::wait);
        self.settle(durable)
            .map_err(|()| RejectReason::AuditUnavailable)
    }

    /// [`DeferredRecord::wait`] without blocking a thread.
    pub async fn durable(mut self) -> Result<(), RejectReason> {
        let durable = match self.ticket.take() {
            Some(t) => t.await,
            None => Ok(()),
        };
        self.settle(durable)
            .map_err(|()| RejectReason::AuditUnavailable)
    }

    /// Blocks until the record is durable (`Err`: refused, counted and logged).
    pub(crate) fn wait_quiet(mut self) -> Result<(), ()> {
        let durable = self.ticket.take().map_or(Ok(()), AuditTicket::wait);
        self.settle(durable)
    }

    /// The registry's answer, counted and logged once when it refused the record.
    fn settle(&self, durable: Result<(), AuditError>) -> Result<(), ()> {
        durable.map_err(|e| {
            // Counted and logged once here; the caller turns it into the 503 outcome.
            self.metrics.record_audit_error();
            tracing::error!(target: observe::LOGIN, error = %e, "transaction registry write failed");
        })
    }
}

/// A verified (or rejected) login whose `response-received` record may not be durable
/// yet ([`crate::ServiceProvider::finish_login_deferred`]). Its result is released only
/// once the record is: by [`DeferredLogin::wait`] (blocks) or [`DeferredLogin::durable`]
/// (awaits, any executor). If the registry refuses the record the result is
/// [`RejectReason::AuditUnavailable`], whatever the verification said. The outcome event
/// and metrics of the login are emitted then, in its `finish_login` span.
#[must_use = "the login holds only once its record is durable"]
pub struct DeferredLogin {
    pub(super) result: Result<VerifiedLogin, LoginError>,
    pub(super) record: DeferredRecord,
    pub(super) request_id: RequestId,
    pub(super) idp: EntityId,
    pub(super) idp_label: String,
    pub(super) level: SpidLevel,
    pub(super) started: Instant,
    pub(super) span: tracing::Span,
}

impl std::fmt::Debug for DeferredLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredLogin")
            .field("request_id", &self.request_id)
            .field("idp", &self.idp)
            .field("ready", &self.record.is_ready())
            .finish_non_exhaustive()
    }
}

impl DeferredLogin {
    /// Whether [`DeferredLogin::wait`] would return without waiting.
    pub fn is_ready(&self) -> bool {
        self.record.is_ready()
    }

    /// Blocks up to `timeout` for the record to be durable or refused; whether it is
    /// known now ([`DeferredLogin::wait`] then returns at once). On `false` nothing
    /// changed: wait for it later, or await [`DeferredLogin::durable`].
    pub fn ready_within(&self, timeout: Duration) -> bool {
        self.record.ready_within(timeout)
    }

    /// Blocks until the record is durable, then releases the result.
    pub fn wait(mut self) -> Result<VerifiedLogin, LoginError> {
        let durable = self.record.ticket.take().map_or(Ok(()), AuditTicket::wait);
        self.finish(durable)
    }

    /// Awaits the record's durability (no thread held), then releases the result.
    pub async fn durable(mut self) -> Result<VerifiedLogin, LoginError> {
        let durable = match self.record.ticket.take() {
            Some(t) => t.await,
            None => Ok(()),
        };
        self.finish(durable)
    }

    fn finish(self, durable: Result<(), AuditError>) -> Result<VerifiedLogin, LoginError> {
        let _entered = self.span.enter();
        let result = match self.record.settle(durable) {
            Ok(()) => self.result,
            Err(()) => Err(RejectReason::AuditUnavailable.into()),
        };
        let attempt = LoginAttempt {
            request_id: self.request_id.as_str(),
            idp: self.idp.as_str(),
            idp_label: &self.idp_label,
            level: self.level,
        };
        let outcome = result.as_ref().map(|login| observe::Accepted {
            achieved_level: login.level,
            response_id: &login.response_id,
            assertion_id: login.assertion_id.as_str(),
        });
        observe::login_outcome(
            &self.record.metrics,
            &attempt,
            outcome,
            self.started.elapsed(),
        );
        result
    }
}
