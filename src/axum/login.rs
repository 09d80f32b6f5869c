//! Login: `/metadata`, `/login` (sign and send the AuthnRequest), the ACS (verify the
//! Response, keep a one-time hand-off) and `/complete` (bind it to the browser, open the
//! session).

#[allow(unused_imports)]
use super::*;
use crate::sp::{DeferredLogin, DeferredRecord};

/// Query or form of `/login`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct LoginParams {
    idp: Option<String>,
    level: Option<String>,
    binding: Option<String>,
    next: Option<String>,
}

/// Kept inside the pending login ([`PendingLogin::with_data`]): one store operation saves and
/// takes both.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct LoginAux {
    browser: String,
    next: String,
    /// The session this login steps up, if any (token hash): replaced when it completes.
    replaces: Option<String>,
}

/// Kept under `handoff:<token hash>` between the ACS and `/complete`.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Handoff {
    pub(super) browser: String,
    pub(super) next: String,
    pub(super) replaces: Option<String>,
    pub(super) session: SessionData,
}

impl Handoff {
    /// Stores the one-time hand-off of a new session to `/complete` and returns its token.
    /// The one place a session is created for every login method (SAML, CNS, OpenID
    /// Connect): the session is stamped with this `SpidAuth`'s tenant here.
    pub(super) fn store(mut self, auth: &SpidAuth, now: Timestamp) -> Result<String, AuthError> {
        let inner = &auth.inner;
        self.session.tenant.clone_from(&inner.tenant);
        if let Some(hook) = &inner.session_hook {
            hook(&Session::from_data(self.session.clone()));
        }
        let handoff = serde_json::to_string(&self).map_err(|_| AuthError::Store(corrupt()))?;
        let token = token_string()?;
        inner.sessions.put(
            &format!("handoff:{}", hash(&token)),
            &handoff,
            now.plus_seconds(HANDOFF_SECS),
            now,
        )?;
        Ok(token)
    }
}

pub(super) async fn metadata(Extension(auth): Extension<SpidAuth>, headers: HeaderMap) -> Response {
    match &auth.inner.metadata_xml {
        Some(xml) => {
            let mut res = (StatusCode::OK, xml.clone()).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/samlmetadata+xml"),
            );
            res
        }
        None => auth.error_response(&AuthError::NoMetadata, Language::from_headers(&headers)),
    }
}

pub(super) async fn login_get(
    Extension(auth): Extension<SpidAuth>,
    parts: Parts,
    params: Result<::axum::extract::Query<LoginParams>, ::axum::extract::rejection::QueryRejection>,
) -> Response {
    login(auth, parts, params.ok().map(|p| p.0)).await
}

pub(super) async fn login_post(
    Extension(auth): Extension<SpidAuth>,
    parts: Parts,
    params: Result<::axum::extract::Form<LoginParams>, ::axum::extract::rejection::FormRejection>,
) -> Response {
    login(auth, parts, params.ok().map(|p| p.0)).await
}

/// `/login` by either method: `None` when the query or form did not parse.
async fn login(auth: SpidAuth, parts: Parts, params: Option<LoginParams>) -> Response {
    let language = Language::from_headers(&parts.headers);
    let Some(p) = params else {
        return auth.error_response(
            &AuthError::BadRequest("malformed login parameters"),
            language,
        );
    };
    let client = auth.client_of(&parts);
    let headers = parts.headers;
    blocking(auth, language, move |a| {
        start(a, &headers, client.as_deref(), p)
    })
    .await
}

pub(super) fn start(
    auth: &SpidAuth,
    headers: &HeaderMap,
    client: Option<&str>,
    p: LoginParams,
) -> Response {
    respond(
        auth,
        try_start(auth, headers, client, p),
        Language::from_headers(headers),
    )
}

/// The handler's response, or the error page of its failure in `language`.
pub(super) fn respond(
    auth: &SpidAuth,
    result: Result<Response, AuthError>,
    language: Language,
) -> Response {
    result.unwrap_or_else(|e| auth.error_response(&e, language))
}

pub(super) fn try_start(
    auth: &SpidAuth,
    headers: &HeaderMap,
    client: Option<&str>,
    p: LoginParams,
) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    let idp_id = p
        .idp
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(AuthError::BadRequest("missing idp parameter"))?;
    let idp = inner.sp.idp(idp_id).ok_or_else(|| {
        // A `Start` error this layer makes itself: logged here, without the value.
        log_own_start_error(&StartError::UnknownIdp);
        AuthError::Start(StartError::UnknownIdp)
    })?;
    auth.check_idp(&idp)?;
    let mut options = inner.login_options.clone();
    if let Some(level) = p.level.as_deref().filter(|s| !s.is_empty()) {
        let level = level
            .parse::<u8>()
            .ok()
            .and_then(SpidLevel::from_number)
            .ok_or(AuthError::BadRequest("level must be 1, 2 or 3"))?;
        // The level may be raised (step-up), never lowered: a lower one is a tampered
        // link, refused so that it shows.
        if level < auth.minimum_level() {
            return Err(AuthError::LevelBelowMinimum);
        }
        options.level = level;
    }
    let asked = options.level;
    if let Some(binding) = p.binding.as_deref().filter(|s| !s.is_empty()) {
        options.binding = match binding.to_ascii_lowercase().as_str() {
            "post" | "http-post" => Binding::Post,
            "redirect" | "http-redirect" => Binding::Redirect,
            _ => return Err(AuthError::BadRequest("binding must be post or redirect")),
        };
    }
    if let Some(hook) = &inner.options_hook {
        hook(&idp, &mut options);
        // The hook may raise the level for an IdP, not lower it.
        options.level = options.level.max(asked);
    }
    let (outgoing, pending) = inner
        .sp
        .start_login(idp.entity_id().as_str(), &options)
        .map_err(AuthError::Start)?;

    let (browser, new_browser) = browser_cookie(auth, headers)?;
    let replaces = cookie(headers, &auth.cookie_name(SESSION_COOKIE)).map(|t| hash(&t));
    let next = p
        .next
        .as_deref()
        .and_then(safe_next)
        .unwrap_or_else(|| inner.after_login.clone());
    let aux = LoginAux {
        browser: hash(&browser),
        next,
        replaces,
    };
    let aux = serde_json::to_string(&aux).map_err(|_| AuthError::Store(corrupt()))?;
    let pending = pending.with_data(aux);
    match client {
        Some(c) => inner
            .pending
            .put_for_client(pending, c, inner.per_client_cap)?,
        // No peer address (served without ConnectInfo): only the global bound.
        None => inner.pending.put(pending)?,
    }

    let mut res = deliver(&outgoing)?;
    set_browser_cookie(auth, &mut res, &browser, new_browser);
    no_store(&mut res);
    Ok(res)
}

/// The browser cookie that binds a login to this browser (checked at `/complete`): the
/// one the browser sent, else a new random one (`true`: [`set_browser_cookie`] sets it).
pub(super) fn browser_cookie(
    auth: &SpidAuth,
    headers: &HeaderMap,
) -> Result<(String, bool), AuthError> {
    Ok(match cookie(headers, &auth.cookie_name(BROWSER_COOKIE)) {
        Some(b) => (b, false),
        None => (token_string()?, true),
    })
}

/// Sets a new browser cookie on `res` (`new` false: nothing to set). It outlives one
/// login so that parallel logins share it.
pub(super) fn set_browser_cookie(auth: &SpidAuth, res: &mut Response, browser: &str, new: bool) {
    if new {
        append_header(
            res,
            header::SET_COOKIE,
            &auth.set_cookie(BROWSER_COOKIE, browser, 24 * 3600),
        );
    }
}

pub(super) async fn acs(
    Extension(auth): Extension<SpidAuth>,
    headers: HeaderMap,
    body: Result<String, ::axum::extract::rejection::StringRejection>,
) -> Response {
    let language = Language::from_headers(&headers);
    let body = match body {
        Ok(body) => body,
        Err(e) => return auth.error_response(&body_error(&e), language),
    };
    let result = match blocking_value(&auth, move |a| try_acs(a, &body)).await {
        Ok(AcsStep::Done(res)) => Ok(res),
        Ok(AcsStep::Unmatched(record, e)) => match record.durable().await {
            Ok(()) => Err(e),
            Err(r) => Err(AuthError::Rejected(r)),
        },
        // A record not durable within [`DURABLE_WAIT`] is awaited here, off the blocking
        // pool; the rest (the login hook, the hand-off in the store) runs only once the
        // record is durable.
        Ok(AcsStep::Recording(step)) => {
            let AcsRecording { login, aux, now } = *step;
            match login.durable().await {
                // No application hook and a store that never blocks (in memory): the
                // hand-off is a map insert, done on this task without a second hop.
                Ok(login)
                    if auth.inner.login_hook.is_none()
                        && auth.inner.session_hook.is_none()
                        && !auth.inner.sessions.may_block() =>
                {
                    acs_handoff(&auth, &login, aux, now)
                }
                Ok(login) => blocking_value(&auth, move |a| acs_handoff(a, &login, aux, now)).await,
                Err(e) => Err(login_error(e)),
            }
        }
        Err(e) => Err(e),
    };
    respond(&auth, result, language)
}

/// How long the ACS waits on its blocking-pool thread for the login's record to be
/// durable before it hands the wait to the request's task (which holds no thread). A
/// group commit usually takes 1–5 ms (a commit delay of up to 2 ms, a write, an
/// `fdatasync`): for those logins the thread that verified also stores the hand-off, with
/// no second blocking-pool hop when a login hook or a store that may block needs one.
/// Waiting here or on the task measured the same without such a hop (docs/audit.md,
/// "Fifth session of 2026-12-06"). A slow or stalled registry holds each thread for this
/// long at most.
pub(super) const DURABLE_WAIT: std::time::Duration = std::time::Duration::from_millis(10);

/// Where the ACS stands after verification.
pub(super) enum AcsStep {
    /// Answered (the registry had nothing left to wait for).
    Done(Response),
    /// A Response that reached no pending login: the error to answer once its record is
    /// durable.
    Unmatched(DeferredRecord, AuthError),
    /// Verified, its record not yet durable.
    Recording(Box<AcsRecording>),
}

/// A login waiting for its registry record.
pub(super) struct AcsRecording {
    login: DeferredLogin,
    aux: LoginAux,
    now: Timestamp,
}

fn login_error(e: LoginError) -> AuthError {
    match e {
        LoginError::Refused(r) => AuthError::Refused(r),
        LoginError::Rejected(r) => AuthError::Rejected(r),
    }
}

/// The ACS up to the registry: matches the Response to its pending login, verifies it
/// and hands its record over. When the record's fate is known within [`DURABLE_WAIT`]
/// (always with no registry, or a log that writes on `append`), finishes the login here.
pub(super) fn try_acs(auth: &SpidAuth, body: &str) -> Result<AcsStep, AuthError> {
    let inner = &auth.inner;
    let incoming = Incoming::from_form(body).ok_or(AuthError::BadRequest(
        "expected a form with one SAMLResponse",
    ))?;
    let now = auth.now();
    let matched: Result<_, AuthError> = (|| {
        let max = inner.sp.config().limits.max_bytes;
        let request_id = incoming
            .in_response_to_hint(max)
            .ok_or(AuthError::UnknownRequest)?;
        let pending = inner
            .pending
            .take(&request_id, now)?
            .ok_or(AuthError::UnknownRequest)?;
        let aux = pending
            .data()
            .and_then(|j| serde_json::from_str::<LoginAux>(j).ok())
            .ok_or(AuthError::UnknownRequest)?;
        if let Some(idp) = inner.sp.idp(pending.idp().as_str()) {
            auth.check_idp(&idp)?;
        }
        Ok((pending, aux))
    })();
    // A Response that reaches no pending login is recorded too (the registry holds every
    // Response received at the ACS).
    let (pending, aux) = match matched {
        Ok(m) => m,
        Err(e) => {
            let record = inner.sp.submit_unmatched_response(&incoming, e.code());
            if record.ready_within(DURABLE_WAIT) {
                return Err(match record.wait() {
                    Ok(()) => e,
                    Err(r) => AuthError::Rejected(r),
                });
            }
            return Ok(AcsStep::Unmatched(record, e));
        }
    };
    let login = inner.sp.finish_login_deferred(&incoming, pending);
    if !login.ready_within(DURABLE_WAIT) {
        return Ok(AcsStep::Recording(Box::new(AcsRecording {
            login,
            aux,
            now,
        })));
    }
    let login = login.wait().map_err(login_error)?;
    acs_handoff(auth, &login, aux, now).map(AcsStep::Done)
}

/// The ACS after the login's record is durable: the login hook, then the one-time
/// hand-off to `/complete` (the session data, bound to the browser).
pub(super) fn acs_handoff(
    auth: &SpidAuth,
    login: &VerifiedLogin,
    aux: LoginAux,
    now: Timestamp,
) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    if let Some(hook) = &inner.login_hook {
        hook(login);
    }
    let idp_name = inner
        .sp
        .idp(login.idp().as_str())
        .and_then(|i| i.display_name().map(str::to_owned));
    let expires = now.plus_seconds(inner.session_secs);
    let session = Session::from_login(login, idp_name, now, expires);
    let token = Handoff {
        browser: aux.browser,
        next: aux.next,
        replaces: aux.replaces,
        session: session.data().clone(),
    }
    .store(auth, now)?;
    let mut res = redirect(
        StatusCode::SEE_OTHER,
        &format!("{}/complete?handoff={token}", inner.prefix),
    )?;
    no_store(&mut res);
    Ok(res)
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct CompleteParams {
    handoff: Option<String>,
}

pub(super) async fn complete(
    Extension(auth): Extension<SpidAuth>,
    headers: HeaderMap,
    params: Result<
        ::axum::extract::Query<CompleteParams>,
        ::axum::extract::rejection::QueryRejection,
    >,
) -> Response {
    let token = params
        .ok()
        .and_then(|p| p.0.handoff)
        .filter(|t| is_token(t));
    let language = Language::from_headers(&headers);
    blocking(auth, language, move |a| {
        let result = match token {
            Some(t) => try_complete(a, &headers, &t),
            None => Err(AuthError::BadRequest("missing hand-off")),
        };
        respond(a, result, language)
    })
    .await
}

pub(super) fn try_complete(
    auth: &SpidAuth,
    headers: &HeaderMap,
    token: &str,
) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    let now = auth.now();
    let key = format!("handoff:{}", hash(token));
    // Read, check the browser, and only then consume: a request from another browser
    // (anyone who saw the URL) must not burn the hand-off of the right one.
    let browser = cookie(headers, &auth.cookie_name(BROWSER_COOKIE))
        .map(|b| hash(&b))
        .ok_or(AuthError::BrowserMismatch)?;
    let seen = inner
        .sessions
        .get(&key, now)?
        .ok_or(AuthError::BrowserMismatch)?;
    let handoff: Handoff = serde_json::from_str(&seen).map_err(|_| AuthError::BrowserMismatch)?;
    if !constant_time_eq(browser.as_bytes(), handoff.browser.as_bytes()) {
        return Err(AuthError::BrowserMismatch);
    }
    // Atomic: of two requests of this browser, one wins; and what is consumed must be
    // what was checked.
    let taken = inner.sessions.take(&key, now)?;
    if !taken.is_some_and(|t| constant_time_eq(t.as_bytes(), seen.as_bytes())) {
        return Err(AuthError::BrowserMismatch);
    }
    // A step-up replaces the session it upgrades (and a fresh login any previous one).
    let current = cookie(headers, &auth.cookie_name(SESSION_COOKIE)).map(|t| hash(&t));
    for old in [handoff.replaces.as_deref(), current.as_deref()]
        .into_iter()
        .flatten()
    {
        if let Some(data) = inner
            .sessions
            .take(&format!("sess:{old}"), now)?
            .and_then(|j| serde_json::from_str::<SessionData>(&j).ok())
        {
            auth.drop_session(old, &data)?;
        }
    }
    let session_token = token_string()?;
    let session_hash = hash(&session_token);
    let data = handoff.session;
    let json = serde_json::to_string(&data).map_err(|_| AuthError::Store(corrupt()))?;
    inner
        .sessions
        .put(&format!("sess:{session_hash}"), &json, data.expires, now)?;
    inner.sessions.put(
        &name_id_key(data.info.idp.as_str(), data.info.name_id.as_str()),
        &session_hash,
        data.expires,
        now,
    )?;
    let mut res = redirect(StatusCode::SEE_OTHER, &handoff.next)?;
    let max_age = data
        .expires
        .unix_seconds()
        .saturating_sub(now.unix_seconds());
    append_header(
        &mut res,
        header::SET_COOKIE,
        &auth.set_cookie(SESSION_COOKIE, &session_token, max_age),
    );
    no_store(&mut res);
    Ok(res)
}

/// A POST body the endpoint could not read (over [`MAX_BODY`], not UTF-8): the error page
/// like any other malformed message, not axum's plain-text rejection.
pub(super) fn body_error(e: &::axum::extract::rejection::StringRejection) -> AuthError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AuthError::Rejected(RejectReason::InputTooLarge)
    } else {
        AuthError::Rejected(RejectReason::InputEncoding)
    }
}
