//! Observability of the HTTP layer (docs/observability.md): one `http` span per request
//! to an SP endpoint (method, route, request ID, status), the refusals this layer makes
//! itself (logged once, here), and the opt-in Prometheus route.

#[allow(unused_imports)]
use super::*;

use ::axum::extract::{MatchedPath, Request, State};
use ::axum::middleware::Next;
use tracing::Instrument as _;

/// The target of this layer's events.
pub(super) const HTTP: &str = "spid_sp::http";

/// The response header that carries the request ID.
pub(super) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request ID taken from a trusted header: 1 to 64 characters of `[A-Za-z0-9._:-]`
/// (anything else is replaced by a generated one, so a header cannot write into logs).
fn acceptable_request_id(value: &HeaderValue) -> Option<&str> {
    let v = value.to_str().ok()?;
    let ok = (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    ok.then_some(v)
}

/// A generated request ID: 32 hex digits, a keyed SipHash (the standard library's
/// `RandomState`, keyed from the operating system's RNG once per process) of a process-wide
/// counter. Unique per process with overwhelming probability and unpredictable without the
/// key (the IDs do not reveal how many requests were served), at the cost of two hashes,
/// not a call into the RNG per request. A correlation ID, never a secret.
fn generated_request_id() -> String {
    use std::hash::BuildHasher as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let key = KEY.get_or_init(std::collections::hash_map::RandomState::new);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&key.hash_one((n, 0u8)).to_be_bytes());
    bytes[8..].copy_from_slice(&key.hash_one((n, 1u8)).to_be_bytes());
    super::http::hex(&bytes)
}

impl SpidAuth {
    /// The request ID of a request: the [`SpidAuthBuilder::request_id_header`] value when
    /// it is set and well-formed, else a generated one (32 hex digits).
    pub(crate) fn request_id_of(&self, headers: &HeaderMap) -> String {
        self.inner
            .request_id_header
            .as_ref()
            .and_then(|name| {
                let mut values = headers.get_all(name).iter();
                match (values.next(), values.next()) {
                    (Some(v), None) => acceptable_request_id(v).map(str::to_owned),
                    _ => None,
                }
            })
            .unwrap_or_else(generated_request_id)
    }

    /// The Prometheus endpoint, opt-in: a router with `GET path` answering
    /// [`Metrics::render_prometheus`](crate::Metrics::render_prometheus) of the service
    /// provider's counters (`text/plain; version=0.0.4`). Metric names are in
    /// docs/observability.md; labels carry no personal data, but the counts are
    /// operational information: serve it on an internal listener, or behind the
    /// application's own access control, not on the public site.
    ///
    /// ```no_run
    /// # async fn demo(auth: spid_sp::axum::SpidAuth) -> std::io::Result<()> {
    /// let internal: axum::Router = auth.metrics_router("/metrics");
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:9100").await?;
    /// axum::serve(listener, internal).await
    /// # }
    /// ```
    pub fn metrics_router<S: Clone + Send + Sync + 'static>(&self, path: &str) -> Router<S> {
        Router::new()
            .route(path, get(metrics_text))
            .layer(Extension(self.clone()))
    }
}

async fn metrics_text(Extension(auth): Extension<SpidAuth>) -> Response {
    let body = auth.inner.sp.metrics().render_prometheus();
    let mut res = (StatusCode::OK, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    no_store(&mut res);
    res
}

/// The middleware of every SP endpoint: the `http` span around the handler (and, through
/// [`blocking`], its synchronous part), the request ID on the answer, the status in the
/// span, the metric and a DEBUG event.
pub(super) async fn trace_request(
    State(auth): State<SpidAuth>,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    // Our routes are fixed strings: the label set stays bounded.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |m| m.as_str().to_owned());
    let request_id = auth.request_id_of(request.headers());
    let span = tracing::info_span!(
        target: HTTP,
        "http",
        method = request.method().as_str(),
        route = route.as_str(),
        http_request_id = request_id.as_str(),
        status = tracing::field::Empty,
    );
    let mut res = next.run(request).instrument(span.clone()).await;
    let status = res.status().as_u16();
    span.record("status", status);
    auth.inner.sp.metrics().record_http(&route, status);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().entry(REQUEST_ID).or_insert(v);
    }
    let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| tracing::debug!(target: HTTP, status, duration_us, "http response"));
    res
}

/// Logs a refusal of this layer, once. Errors that carry the outcome of a core operation
/// (`Refused`, `Rejected`, `Logout`, `Start`) were logged by that operation
/// (`finish_login`, the logout steps, `start_login`) and are not logged again; the two
/// `Start` errors this layer makes itself are logged where they are made.
pub(super) fn log_auth_error(auth: &SpidAuth, err: &AuthError) {
    let code = err.code();
    let status = err.status().as_u16();
    match err {
        AuthError::Refused(_)
        | AuthError::Rejected(_)
        | AuthError::Logout(_)
        | AuthError::Start(_)
        // Logged by the CNS handler with its source, after the verifier's own event.
        | AuthError::Cns(_) => {}
        AuthError::Store(e) => {
            auth.inner.sp.metrics().record_store_error("web");
            tracing::error!(target: HTTP, result = "failed", code, status, reason = %e, "store unavailable");
        }
        _ if status >= 500 => {
            tracing::error!(target: HTTP, result = "failed", code, status, reason = %err, "request failed");
        }
        _ => {
            tracing::info!(target: HTTP, result = "refused", code, status, reason = %err, "request refused");
        }
    }
}

/// The `Start` errors this layer makes itself (not from `start_login`): logged here.
pub(super) fn log_own_start_error(err: &StartError) {
    tracing::warn!(
        target: HTTP,
        result = "not-started",
        code = err.code(),
        reason = %err,
        "login not started"
    );
}

/// A session record of another tenant reached through this tenant's cookie (the stores
/// are namespaced, so only a store shared without namespaces lets it get this far).
pub(super) fn log_foreign_session() {
    tracing::warn!(
        target: HTTP,
        result = "refused",
        code = "foreign-session",
        "session of another tenant ignored"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_taken() {
        for ok in ["abc", "req-1.2_3:x", &"a".repeat(64)] {
            let v = HeaderValue::from_str(ok).unwrap();
            assert_eq!(acceptable_request_id(&v), Some(ok));
        }
        for bad in ["", "a b", "x\"y", "caf\u{e9}", &"a".repeat(65), "a\tb"] {
            if let Ok(v) = HeaderValue::from_str(bad) {
                assert_eq!(acceptable_request_id(&v), None, "{bad:?}");
            }
        }
    }

    #[test]
    fn generated_request_ids_are_distinct_hex() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| generated_request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(10) {
            assert_eq!(id.len(), 32);
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            let v = HeaderValue::from_str(id).unwrap();
            assert_eq!(acceptable_request_id(&v), Some(id.as_str()));
        }
    }
}
