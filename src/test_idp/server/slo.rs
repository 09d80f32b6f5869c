//! Single logout: an SP's LogoutRequest (HTTP-Redirect or HTTP-POST) ends its sessions
//! and is answered; IdP-initiated logout sends a LogoutRequest to the SP and checks its
//! LogoutResponse.

use ::axum::extract::rejection::FormRejection;
use ::axum::extract::{Extension, Form};
use ::axum::http::{StatusCode, Uri};
use ::axum::response::Response;

use super::pages::{deliver, error_page, html, layout, request_error};
use super::sso::malformed_form;
use super::{Shared, TestIdpServer, MAX_ENTRIES, PENDING_SECS};
use crate::binding::{message_kind, Incoming, MessageKind};
use crate::saml::Binding;
use crate::test_idp::RequestError;
use crate::xml::writer::{attr, text};

pub(super) async fn slo_get(Extension(s): Shared, uri: Uri) -> Response {
    let query = uri.query().unwrap_or_default().to_owned();
    let kind = message_kind(&query);
    slo(&s, kind, &Incoming::Redirect { query })
}

pub(super) async fn slo_post(Extension(s): Shared, body: String) -> Response {
    let kind = message_kind(&body);
    match Incoming::from_form(&body) {
        Some(incoming) => slo(&s, kind, &incoming),
        None => error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Richiesta non valida",
            "expected a form with one SAMLRequest or SAMLResponse",
        ),
    }
}

fn slo(s: &TestIdpServer, kind: MessageKind, incoming: &Incoming) -> Response {
    let now = s.now();
    let slo_url = s.url("/slo");
    match kind {
        // SP-initiated: end the sessions of that NameID at that SP, answer Success.
        MessageKind::Request => {
            let request = match s.idp.verify_logout_request(&s.sps, incoming, &slo_url, now) {
                Ok(r) => r,
                Err(e) => return request_error(s, &e),
            };
            s.state()
                .sessions
                .retain(|x| !(x.sp == request.sp && x.name_id == request.name_id));
            let Some(sp) = s.sp(&request.sp) else {
                return request_error(
                    s,
                    &RequestError {
                        code: None,
                        what: "unknown service provider",
                    },
                );
            };
            match s.idp.logout_response(sp, &request, now) {
                Ok(out) => deliver(s, &out),
                Err(e) => error_page(
                    s,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Uscita non riuscita",
                    &e.to_string(),
                ),
            }
        }
        // The SP's answer to an IdP-initiated logout.
        MessageKind::Response => {
            let response = match s
                .idp
                .verify_logout_response(&s.sps, incoming, &slo_url, now)
            {
                Ok(r) => r,
                Err(e) => return request_error(s, &e),
            };
            let known = s
                .state()
                .logouts
                .remove(&response.in_response_to)
                .is_some_and(|(sp, exp)| sp == response.sp && exp > now);
            if !known {
                return error_page(
                    s,
                    StatusCode::BAD_REQUEST,
                    "Risposta inattesa",
                    "this LogoutResponse answers no logout started here",
                );
            }
            let outcome = if response.success {
                "<p class=\"ok\" id=\"slo-result\">Uscita completata: il service provider ha chiuso la sessione (Success).</p>"
            } else {
                "<p class=\"warn\" id=\"slo-result\">Uscita parziale: il service provider non ha confermato (status non Success).</p>"
            };
            let body = format!(
                "<h1>Uscita</h1>{outcome}<p>Service provider: <code>{}</code></p><p><a href=\"{}\">Torna al Test IdP</a></p>",
                text(&response.sp),
                attr(&s.local("/")),
            );
            html(StatusCode::OK, layout("Uscita", &body), None)
        }
        MessageKind::Unknown => error_page(
            s,
            StatusCode::BAD_REQUEST,
            "Richiesta non valida",
            "expected one SAMLRequest or SAMLResponse",
        ),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct LogoutForm {
    session: String,
    binding: Option<String>,
}

pub(super) async fn idp_logout(
    Extension(s): Shared,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return malformed_form(&s);
    };
    let now = s.now();
    let session = {
        let mut st = s.state();
        let pos = st.sessions.iter().position(|x| x.handle == form.session);
        pos.map(|i| st.sessions.remove(i))
    };
    let Some(session) = session else {
        return error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Sessione sconosciuta",
            "no such session",
        );
    };
    let Some(sp) = s.sp(&session.sp) else {
        return error_page(
            &s,
            StatusCode::BAD_REQUEST,
            "Sessione sconosciuta",
            "unknown service provider",
        );
    };
    let binding = match form.binding.as_deref() {
        Some("post") => Binding::Post,
        _ => Binding::Redirect,
    };
    match s.idp.logout_request(
        sp,
        &session.name_id,
        session.session_index.as_deref(),
        binding,
        now,
    ) {
        Ok((out, id)) => {
            {
                let mut st = s.state();
                st.logouts.retain(|_, (_, exp)| *exp > now);
                if st.logouts.len() < MAX_ENTRIES {
                    st.logouts
                        .insert(id, (session.sp.clone(), now.plus_seconds(PENDING_SECS)));
                }
            }
            deliver(&s, &out)
        }
        Err(e) => error_page(
            &s,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Uscita non riuscita",
            &e.to_string(),
        ),
    }
}
