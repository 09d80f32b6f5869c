//! Single sign-on: a signed AuthnRequest (HTTP-Redirect or HTTP-POST) is verified and
//! answered with the login form; the form's answer becomes a signed Response (or the
//! chosen refusal) posted to the SP's ACS.

use ::axum::extract::rejection::FormRejection;
use ::axum::extract::{Extension, Form};
use ::axum::http::{StatusCode, Uri};
use ::axum::response::Response;

use super::pages::{error_page, html, login_form, post_page, request_error};
use super::{IdpSession, Shared, TestIdpServer, MAX_ENTRIES, PENDING_SECS, REFUSAL_CODES};
use crate::binding::Incoming;
use crate::ids::random_token_or_abort as random_token;
use crate::level::SpidLevel;
use crate::test_idp::{ResponseSpec, TestUser};

pub(super) async fn sso_get(Extension(s): Shared, uri: Uri) -> Response {
    let query = uri.query().unwrap_or_default().to_owned();
    sso(&s, &Incoming::Redirect { query })
}

pub(super) async fn sso_post(Extension(s): Shared, body: String) -> Response {
    match Incoming::from_form(&body) {
        Some(incoming) => sso(&s, &incoming),
        None => error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Richiesta non valida",
            "ErrorCode nr04: expected a form with one SAMLRequest",
        ),
    }
}

/// The page for a posted form that does not parse.
pub(super) fn malformed_form(s: &TestIdpServer) -> Response {
    error_page(
        s,
        StatusCode::BAD_REQUEST,
        "Richiesta non valida",
        "malformed form",
    )
}

fn sso(s: &TestIdpServer, incoming: &Incoming) -> Response {
    let now = s.now();
    let request = match s
        .idp
        .verify_authn_request(&s.sps, incoming, &s.url("/sso"), now)
    {
        Ok(r) => r,
        Err(e) => return request_error(s, &e),
    };
    let token = random_token("", 16);
    {
        let mut st = s.state();
        st.pending.retain(|_, (_, exp)| *exp > now);
        if st.pending.len() >= MAX_ENTRIES {
            return error_page(
                s,
                StatusCode::SERVICE_UNAVAILABLE,
                "Troppe richieste aperte",
                "too many open login forms: try again later",
            );
        }
        st.pending.insert(
            token.clone(),
            (request.clone(), now.plus_seconds(PENDING_SECS)),
        );
    }
    html(StatusCode::OK, login_form(s, &request, &token), None)
}

/// The login form's fields.
#[derive(Debug, serde::Deserialize)]
pub(super) struct LoginForm {
    token: String,
    user: Option<String>,
    level: Option<String>,
    outcome: Option<String>,
    code: Option<String>,
}

pub(super) async fn login(
    Extension(s): Shared,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return malformed_form(&s);
    };
    let now = s.now();
    let Some((request, expires)) = s.state().pending.remove(&form.token) else {
        return error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Richiesta scaduta",
            "this login form was already used or has expired: start again from the service",
        );
    };
    if expires <= now {
        return error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Richiesta scaduta",
            "this login form has expired: start again from the service",
        );
    }
    let user = form.user.as_deref().and_then(TestUser::by_id);
    let refusal = match form.outcome.as_deref() {
        Some("refuse") => Some(
            form.code
                .as_deref()
                .and_then(|c| c.trim_start_matches("nr").parse::<u8>().ok())
                .filter(|c| REFUSAL_CODES.iter().any(|(n, _)| n == c))
                .unwrap_or(25),
        ),
        // A user whose identity type the request's spid:Purpose does not admit: nr30.
        _ => match user {
            Some(u) if !u.identity_type.admitted_by(request.purpose) => Some(30),
            Some(_) => None,
            None => {
                return error_page(
                    &s,
                    StatusCode::BAD_REQUEST,
                    "Richiesta non valida",
                    "choose a user",
                )
            }
        },
    };
    let xml = match (refusal, user) {
        (Some(code), _) => s.idp.refusal(&request.id, &request.acs_url, code, now),
        (None, None) => s.idp.refusal(&request.id, &request.acs_url, 25, now),
        (None, Some(user)) => {
            let level = form
                .level
                .as_deref()
                .and_then(|l| l.parse::<u8>().ok())
                .and_then(SpidLevel::from_number)
                .unwrap_or(request.level);
            let mut spec =
                ResponseSpec::new(&request.id, &request.acs_url, &request.sp, level, now);
            for name in &request.requested_attributes {
                if let Some(value) = user.attribute(name) {
                    spec = spec.attribute(name, value);
                }
            }
            let session = IdpSession {
                handle: random_token("", 16),
                sp: request.sp.clone(),
                name_id: spec.name_id.clone(),
                session_index: spec.session_index.clone(),
                user: user.id,
                level,
                created: now,
            };
            let mut st = s.state();
            // One session per user and SP, as one browser session at an IdP: a step-up
            // replaces the login it upgrades.
            st.sessions
                .retain(|x| !(x.sp == session.sp && x.user == session.user));
            if st.sessions.len() >= MAX_ENTRIES {
                st.sessions.remove(0);
            }
            st.sessions.push(session);
            drop(st);
            s.idp.response(&spec)
        }
    };
    let xml = match xml {
        Ok(x) => x,
        Err(e) => {
            return error_page(
                &s,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Firma non riuscita",
                &e.to_string(),
            )
        }
    };
    use base64::Engine as _;
    let value = base64::engine::general_purpose::STANDARD.encode(xml.as_bytes());
    post_page(
        &s,
        &request.acs_url,
        "SAMLResponse",
        &value,
        request.relay_state.as_deref(),
    )
}
