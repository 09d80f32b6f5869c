//! The one place where the ceremony's outcomes become `tracing` events and metrics
//! (docs/observability.md): each operation calls one of these at its single exit, so every
//! outcome, refusal paths included, is logged exactly once.
//!
//! Fields are identifiers the SP generated or trusts (request IDs, trusted entityIDs),
//! levels, bindings, stable codes and durations: never the fiscal code, the NameID, names,
//! attribute values or raw XML. Message IDs of the IdP (Response, Assertion, LogoutRequest
//! IDs) appear at DEBUG only.

use std::time::Duration;

use crate::error::{LoginError, RejectReason, StartError};
use crate::level::SpidLevel;
use crate::metrics::Metrics;
use crate::saml::Binding;

/// Targets of the events, for `RUST_LOG` filters (`spid_sp=info` takes them all).
pub(crate) const LOGIN: &str = "spid_sp::login";
/// Single logout events.
pub(crate) const LOGOUT: &str = "spid_sp::logout";

/// The IdP label of an entityID that is not in the trusted set (metrics only).
pub(crate) const UNKNOWN_IDP: &str = "unknown";

/// `1`, `2` or `3`, as a metric label.
pub(crate) fn level_label(l: SpidLevel) -> &'static str {
    match l.number() {
        1 => "1",
        2 => "2",
        _ => "3",
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// What `finish_login` was asked to verify, for its outcome event.
pub(crate) struct LoginAttempt<'a> {
    pub request_id: &'a str,
    /// The pending login's IdP (server-side state, not the message).
    pub idp: &'a str,
    /// The same, if it is in the trusted set (the metric label), else [`UNKNOWN_IDP`].
    pub idp_label: &'a str,
    pub level: SpidLevel,
}

/// What an accepted login adds to its event (no personal data: the level and, at DEBUG,
/// the message IDs).
pub(crate) struct Accepted<'a> {
    pub achieved_level: SpidLevel,
    pub response_id: &'a str,
    pub assertion_id: &'a str,
}

/// The one event (and metric) of a `finish_login` call.
pub(crate) fn login_outcome(
    metrics: &Metrics,
    attempt: &LoginAttempt<'_>,
    result: Result<Accepted<'_>, &LoginError>,
    elapsed: Duration,
) {
    let LoginAttempt {
        request_id,
        idp,
        idp_label,
        level,
    } = *attempt;
    let level_n = level.number();
    let duration_us = micros(elapsed);
    let (kind, code) = match result {
        Ok(_) => ("accepted", "accepted"),
        Err(LoginError::Refused(r)) => ("refused", r.code()),
        Err(LoginError::Rejected(r)) => ("rejected", r.code()),
    };
    metrics.record_login(idp_label, level_label(level), kind, code, elapsed);
    // The fields every outcome event carries, in this order: `{ … }` are the outcome's own
    // fields before `duration_us`, the rest follows it.
    macro_rules! login_event {
        ($lvl:ident, { $($mid:tt)* } $($rest:tt)+) => {
            tracing::event!(
                target: LOGIN,
                tracing::Level::$lvl,
                result = kind,
                code,
                request_id,
                idp,
                level = level_n,
                $($mid)*
                duration_us,
                $($rest)+
            )
        };
    }
    match result {
        Ok(login) => {
            login_event!(INFO, { achieved_level = login.achieved_level.number(), } "login accepted");
            tracing::debug!(
                target: LOGIN,
                request_id,
                response_id = login.response_id,
                assertion_id = login.assertion_id,
                "login message IDs"
            );
        }
        Err(LoginError::Refused(r)) => {
            login_event!(INFO, { user_choice = r.is_user_choice(), } "login refused by the identity provider");
        }
        Err(LoginError::Rejected(r)) if r.is_internal() => {
            if matches!(r, RejectReason::Store(_)) {
                metrics.record_store_error("replay");
            }
            login_event!(ERROR, {} reason = %r, "login failed on the service provider's side");
        }
        Err(LoginError::Rejected(r)) => {
            login_event!(WARN, {} reason = %r, "login rejected");
        }
    }
}

/// The one event of a `start_login` call (`request_id` when it was signed).
pub(crate) fn login_started(
    idp: &str,
    level: SpidLevel,
    binding: Binding,
    result: Result<&str, &StartError>,
    elapsed: Duration,
) {
    let (level, binding, duration_us) = (level.number(), binding.short_name(), micros(elapsed));
    match result {
        Ok(request_id) => tracing::info!(
            target: LOGIN,
            result = "sent",
            code = "sent",
            request_id,
            idp,
            level,
            binding,
            duration_us,
            "authentication request signed"
        ),
        Err(e) => tracing::warn!(
            target: LOGIN,
            result = "not-started",
            code = e.code(),
            idp,
            level,
            binding,
            reason = %e,
            "login not started"
        ),
    }
}

/// The one event (and metric) of a logout step: `step` is `start` (our LogoutRequest),
/// `response` (the IdP's LogoutResponse) or `request` (an IdP-initiated LogoutRequest).
/// `code` is `sent`, `complete`, `partial`, `accepted` or the rejection's code.
pub(crate) fn logout_outcome(
    metrics: &Metrics,
    step: &'static str,
    idp: &str,
    idp_label: &str,
    request_id: Option<&str>,
    outcome: Result<&'static str, &dyn LogoutFailure>,
) {
    let request_id = request_id.unwrap_or("-");
    match outcome {
        Ok(code) => {
            metrics.record_logout(idp_label, step, code);
            tracing::info!(
                target: LOGOUT,
                step,
                result = "ok",
                code,
                request_id,
                idp,
                "logout step done"
            );
        }
        Err(e) => {
            let code = e.code();
            metrics.record_logout(idp_label, step, code);
            if code == "store-unavailable" {
                metrics.record_store_error("replay");
            }
            if e.is_internal() {
                tracing::error!(target: LOGOUT, step, result = "failed", code, request_id, idp, reason = %e, "logout step failed");
            } else {
                tracing::warn!(target: LOGOUT, step, result = "rejected", code, request_id, idp, reason = %e, "logout step rejected");
            }
        }
    }
}

/// What the logout event needs of its error types.
pub(crate) trait LogoutFailure: std::fmt::Display {
    fn code(&self) -> &'static str;
    fn is_internal(&self) -> bool;
}

impl LogoutFailure for RejectReason {
    fn code(&self) -> &'static str {
        RejectReason::code(self)
    }
    fn is_internal(&self) -> bool {
        RejectReason::is_internal(self)
    }
}

impl LogoutFailure for StartError {
    fn code(&self) -> &'static str {
        StartError::code(self)
    }
    fn is_internal(&self) -> bool {
        matches!(self, StartError::Signing(_) | StartError::Random)
    }
}
