//! The [`Session`] extractor and the level guard ([`AtLeast`], [`require_level`]):
//! login page or step-up for requests without a session at the needed level.

#[allow(unused_imports)]
use super::*;

/// Why a [`Session`] or [`AtLeast`] extractor did not run the handler: a redirect to the
/// login page, a step-up login, or an error page.
#[derive(Debug)]
pub struct SessionRejection(Box<Response>);

impl SessionRejection {
    fn new(response: Response) -> Self {
        SessionRejection(Box::new(response))
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        *self.0
    }
}

pub(super) fn auth_of(parts: &Parts) -> Result<SpidAuth, SessionRejection> {
    parts.extensions.get::<SpidAuth>().cloned().ok_or_else(|| {
        let e = AuthError::MissingLayer;
        SessionRejection::new(
            (e.status(), format!("{e}: add .layer(auth.layer())")).into_response(),
        )
    })
}

/// The request's path and query, if it can be returned to.
pub(super) fn here(parts: &Parts) -> Option<String> {
    parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .and_then(safe_next)
}

pub(super) fn to_login_page(auth: &SpidAuth, parts: &Parts) -> SessionRejection {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return SessionRejection::new((StatusCode::UNAUTHORIZED, "login required").into_response());
    }
    let mut url = auth.inner.login_page.clone();
    if let Some(next) = here(parts) {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str("next=");
        crate::binding::redirect::quote_plus(&next, &mut url);
    }
    SessionRejection::new(
        redirect(StatusCode::SEE_OTHER, &url)
            .unwrap_or_else(|e| auth.error_response(&e, Language::from_headers(&parts.headers))),
    )
}

pub(super) async fn session_of(
    auth: &SpidAuth,
    parts: &Parts,
) -> Result<Option<Session>, SessionRejection> {
    match auth.session_of_request(&parts.headers).await {
        Ok(s) => Ok(s.map(|s| Session::clone(&s))),
        Err(e) => Err(SessionRejection::new(
            auth.error_response(&e, Language::from_headers(&parts.headers)),
        )),
    }
}

impl SpidAuth {
    /// The session of a request whatever its level, from async code: `None` without the
    /// session cookie (no store call); the store is read on this task when it never
    /// blocks ([`SessionStore::may_block`](crate::store::SessionStore::may_block): the
    /// in-memory store), else on the blocking thread pool. The checks are the same
    /// either way (expiry, idle timeout, tenant). Shared: the parse of an unchanged record
    /// is reused.
    pub(crate) async fn session_of_request(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<std::sync::Arc<Session>>, AuthError> {
        if cookie(headers, &self.cookie_name(SESSION_COOKIE)).is_none() {
            return Ok(None);
        }
        if !self.inner.sessions.may_block() {
            return self.shared_session_at_any_level(headers);
        }
        let (a, headers) = (self.clone(), headers.clone());
        ::tokio::task::spawn_blocking(move || a.shared_session_at_any_level(&headers))
            .await
            .unwrap_or_else(|_| Err(AuthError::Store(worker_failed())))
    }
}

/// The session, if at least at the SP's configured level ([`SpidAuth::minimum_level`]):
/// without a session, to the login page; below the level (a session from before the
/// configuration was raised), a step-up at the same IdP.
impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = auth_of(parts)?;
        let session = session_of(&auth, parts)
            .await?
            .ok_or_else(|| to_login_page(&auth, parts))?;
        let minimum = auth.minimum_level();
        if session.level() >= minimum {
            Ok(session)
        } else {
            Err(step_up(&auth, parts, &session, minimum))
        }
    }
}

/// `Option<Session>`: `None` without a session, and for a session below the SP's
/// configured level ([`SpidAuth::minimum_level`]).
impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let auth = auth_of(parts)?;
        let minimum = auth.minimum_level();
        Ok(session_of(&auth, parts)
            .await?
            .filter(|s| s.level() >= minimum))
    }
}

/// A guard for handlers: the session, if its level is at least `N` (1, 2 or 3). Without
/// a session the user goes to the login page; with a lower level, to a new login at the
/// same IdP at level `N` (step-up), back to this page afterwards. `N` is the route's
/// explicit minimum: it applies instead of the configured one ([`SpidAuth::minimum_level`]),
/// even when lower.
#[derive(Clone, Debug)]
pub struct AtLeast<const N: u8>(pub Session);

impl<const N: u8, S: Send + Sync> FromRequestParts<S> for AtLeast<N> {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = auth_of(parts)?;
        let level = SpidLevel::from_number(N).unwrap_or(SpidLevel::L3);
        let session = session_of(&auth, parts)
            .await?
            .ok_or_else(|| to_login_page(&auth, parts))?;
        if session.level() >= level {
            Ok(AtLeast(session))
        } else {
            Err(step_up(&auth, parts, &session, level))
        }
    }
}

pub(super) fn step_up(
    auth: &SpidAuth,
    parts: &Parts,
    session: &Session,
    level: SpidLevel,
) -> SessionRejection {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return SessionRejection::new(
            (
                StatusCode::FORBIDDEN,
                "a higher authentication level is required",
            )
                .into_response(),
        );
    }
    if session.idp().as_str() == CNS_ENTITY_ID {
        // A card cannot log in at a higher level: the login page (SPID/CIE at `level`);
        // that login replaces the card session when it completes.
        return to_login_page(auth, parts);
    }
    let url = auth.login_url(session.idp().as_str(), Some(level), here(parts).as_deref());
    SessionRejection::new(
        redirect(StatusCode::SEE_OTHER, &url)
            .unwrap_or_else(|e| auth.error_response(&e, Language::from_headers(&parts.headers))),
    )
}

/// The level guard as middleware, for a whole group of routes (same redirects as
/// [`AtLeast`]; the handlers find the [`Session`] in the request extensions,
/// `Extension<Session>`):
///
/// ```no_run
/// # fn f(auth: spid_sp::axum::SpidAuth) -> axum::Router {
/// use axum::{middleware, routing::get, Router};
/// use spid_sp::{axum::require_level, SpidLevel};
/// Router::new()
///     .route("/payments", get(|| async { "ok" }))
///     .route_layer(middleware::from_fn_with_state(SpidLevel::L2, require_level))
///     .layer(auth.layer())
/// # }
/// ```
pub async fn require_level(
    ::axum::extract::State(level): ::axum::extract::State<SpidLevel>,
    request: ::axum::extract::Request,
    next: ::axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let checked = match auth_of(&parts) {
        Ok(auth) => match session_of(&auth, &parts).await {
            Ok(Some(session)) if session.level() >= level => Ok(session),
            Ok(Some(session)) => Err(step_up(&auth, &parts, &session, level)),
            Ok(None) => Err(to_login_page(&auth, &parts)),
            Err(rejection) => Err(rejection),
        },
        Err(rejection) => Err(rejection),
    };
    match checked {
        Ok(session) => {
            let mut request = ::axum::extract::Request::from_parts(parts, body);
            request.extensions_mut().insert(session);
            next.run(request).await
        }
        Err(rejection) => rejection.into_response(),
    }
}
