//! Logout: `/logout` (close the session, SP-initiated SLO) and `/slo` (the IdP's
//! LogoutRequest or its answer to ours, both bindings).

#[allow(unused_imports)]
use super::*;
pub(super) use crate::binding::{message_kind, MessageKind};

/// Kept under `logout:<request id>` during SP-initiated logout.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct LogoutAux {
    pending: PendingLogout,
    next: String,
}

pub(super) async fn logout(Extension(auth): Extension<SpidAuth>, headers: HeaderMap) -> Response {
    let language = Language::from_headers(&headers);
    blocking(auth, language, move |a| {
        respond(a, try_logout(a, &headers), language)
    })
    .await
}

pub(super) fn try_logout(auth: &SpidAuth, headers: &HeaderMap) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    // A logout form posted from anywhere but the SP's own pages is refused (logout
    // CSRF, sibling subdomains included), and so is a POST that says nothing.
    if !auth.same_origin(headers) {
        return Err(AuthError::CrossOriginLogout);
    }
    let now = auth.now();
    let session = match cookie(headers, &auth.cookie_name(SESSION_COOKIE)) {
        Some(t) => {
            let h = hash(&t);
            let data = inner
                .sessions
                .take(&format!("sess:{h}"), now)?
                .and_then(|j| serde_json::from_str::<SessionData>(&j).ok());
            if let Some(d) = &data {
                auth.drop_session(&h, d)?;
                // An OpenID Connect session: revoke its tokens at the OP (best effort).
                #[cfg(feature = "oidc")]
                super::oidc::revoke(auth, d, now);
            }
            data
        }
        None => None,
    };
    let mut res = match session.and_then(|d| start_slo(auth, &d, now).transpose()) {
        Some(r) => r?,
        None => redirect(StatusCode::SEE_OTHER, &inner.after_logout)?,
    };
    append_header(
        &mut res,
        header::SET_COOKIE,
        &auth.set_cookie(SESSION_COOKIE, "", 0),
    );
    no_store(&mut res);
    Ok(res)
}

/// The LogoutRequest for a closed session, if its IdP does single logout.
pub(super) fn start_slo(
    auth: &SpidAuth,
    data: &SessionData,
    now: Timestamp,
) -> Result<Option<Response>, AuthError> {
    let inner = &auth.inner;
    let Some(idp) = inner.sp.idp(data.info.idp.as_str()) else {
        return Ok(None);
    };
    if !idp.federation().rules().single_logout {
        // CIE: no SAML logout; the IdP's logout page is reached with a plain GET.
        return Ok(match idp.slo(Binding::Redirect) {
            Some(e) => Some(redirect(StatusCode::SEE_OTHER, &e.location)?),
            None => None,
        });
    }
    let other = match inner.logout_binding {
        Binding::Redirect => Binding::Post,
        _ => Binding::Redirect,
    };
    let Some(binding) = [inner.logout_binding, other]
        .into_iter()
        .find(|b| idp.slo(*b).is_some())
    else {
        return Ok(None);
    };
    let (outgoing, pending) = inner
        .sp
        .start_logout(&data.info, binding)
        .map_err(AuthError::Start)?;
    let expires = now.plus_seconds(inner.sp.config().request_lifetime_secs());
    let key = format!("logout:{}", pending.request_id());
    let aux = LogoutAux {
        pending,
        next: inner.after_logout.clone(),
    };
    let aux = serde_json::to_string(&aux).map_err(|_| AuthError::Store(corrupt()))?;
    inner.sessions.put(&key, &aux, expires, now)?;
    deliver(&outgoing).map(Some)
}

pub(super) async fn slo_get(
    Extension(auth): Extension<SpidAuth>,
    headers: HeaderMap,
    uri: ::axum::http::Uri,
) -> Response {
    let query = uri.query().unwrap_or_default().to_owned();
    let kind = message_kind(&query);
    let incoming = Incoming::Redirect { query };
    let language = Language::from_headers(&headers);
    blocking(auth, language, move |a| {
        slo(a, kind, &incoming, Binding::Redirect, language)
    })
    .await
}

pub(super) async fn slo_post(
    Extension(auth): Extension<SpidAuth>,
    headers: HeaderMap,
    body: Result<String, ::axum::extract::rejection::StringRejection>,
) -> Response {
    let language = Language::from_headers(&headers);
    let body = match body {
        Ok(body) => body,
        Err(e) => return auth.error_response(&body_error(&e), language),
    };
    let kind = message_kind(&body);
    match Incoming::from_form(&body) {
        Some(incoming) => {
            blocking(auth, language, move |a| {
                slo(a, kind, &incoming, Binding::Post, language)
            })
            .await
        }
        None => auth.error_response(
            &AuthError::BadRequest("expected one SAML message"),
            language,
        ),
    }
}

pub(super) fn slo(
    auth: &SpidAuth,
    kind: MessageKind,
    incoming: &Incoming,
    binding: Binding,
    language: Language,
) -> Response {
    let result = match kind {
        MessageKind::Request => idp_logout(auth, incoming, binding),
        MessageKind::Response => logout_response(auth, incoming),
        MessageKind::Unknown => Err(AuthError::BadRequest(
            "expected one SAMLRequest or SAMLResponse",
        )),
    };
    match result {
        Ok(mut res) => {
            no_store(&mut res);
            res
        }
        Err(e) => auth.error_response(&e, language),
    }
}

/// IdP-initiated logout: close the sessions of the NameID, answer Success.
pub(super) fn idp_logout(
    auth: &SpidAuth,
    incoming: &Incoming,
    binding: Binding,
) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    let (info, outgoing) = inner
        .sp
        .handle_logout_request(incoming, binding)
        .map_err(AuthError::Logout)?;
    if let Some(idp) = inner.sp.idp(info.idp.as_str()) {
        auth.check_idp(&idp)?;
    }
    let now = auth.now();
    if let Some(h) = inner
        .sessions
        .take(&name_id_key(info.idp.as_str(), info.name_id.as_str()), now)?
    {
        inner.sessions.remove(&format!("sess:{h}"))?;
    }
    deliver(&outgoing)
}

/// The IdP's answer to our LogoutRequest.
pub(super) fn logout_response(auth: &SpidAuth, incoming: &Incoming) -> Result<Response, AuthError> {
    let inner = &auth.inner;
    let max = inner.sp.config().limits.max_bytes;
    let request_id = match incoming {
        Incoming::Post { .. } => incoming.in_response_to_hint(max),
        Incoming::Redirect { query } => crate::binding::redirect::decode_unverified(query)
            .ok()
            .and_then(|m| {
                let doc = xml::parse(&m.xml, &xml::Limits::MESSAGE).ok()?;
                let id = doc.root_element().attribute("InResponseTo")?.trim();
                (!id.is_empty() && id.len() <= 256).then(|| RequestId::new(id))
            }),
    }
    .ok_or(AuthError::UnknownRequest)?;
    let now = auth.now();
    let aux: LogoutAux = inner
        .sessions
        .take(&format!("logout:{request_id}"), now)?
        .and_then(|j| serde_json::from_str(&j).ok())
        .ok_or(AuthError::UnknownRequest)?;
    // The local session is already closed; a partial logout still ends here.
    inner
        .sp
        .finish_logout(incoming, aux.pending)
        .map_err(AuthError::Logout)?;
    redirect(StatusCode::SEE_OTHER, &aux.next)
}
