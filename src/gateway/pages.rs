//! The gateway's own pages, in Italian or English by `Accept-Language`
//! ([`Language::from_headers`]): the IdP chooser (`/spid/select`) and the error pages.

use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::axum::{Language, SpidAuth};
use crate::level::SpidLevel;

/// A refusal of the gateway itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A path that could mean something else upstream, a malformed request.
    BadRequest,
    /// Login needed (a request that cannot be redirected: not GET/HEAD).
    LoginRequired,
    /// The identity or level does not admit the path (non-GET step-up included).
    Forbidden,
    /// The upstream is unreachable or answered garbage.
    BadGateway,
    /// The upstream did not answer in time.
    Timeout,
    /// The session store is down.
    Unavailable,
}

impl Problem {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Problem::BadRequest => StatusCode::BAD_REQUEST,
            Problem::LoginRequired => StatusCode::UNAUTHORIZED,
            Problem::Forbidden => StatusCode::FORBIDDEN,
            Problem::BadGateway => StatusCode::BAD_GATEWAY,
            Problem::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Problem::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn texts(self, lang: Language) -> (&'static str, &'static str) {
        match (self, lang) {
            (Problem::BadRequest, Language::English) => ("Bad request", "The address is not valid."),
            (Problem::BadRequest, _) => ("Richiesta non valida", "L'indirizzo non è valido."),
            (Problem::LoginRequired, Language::English) => ("Login required", "Sign in to continue."),
            (Problem::LoginRequired, _) => ("Accesso richiesto", "Accedi per continuare."),
            (Problem::Forbidden, Language::English) => (
                "Access denied",
                "Your identity or authentication level does not give access to this page.",
            ),
            (Problem::Forbidden, _) => (
                "Accesso negato",
                "La tua identità o il livello di autenticazione non consentono l'accesso a questa pagina.",
            ),
            (Problem::BadGateway, Language::English) => (
                "Service unavailable",
                "The application cannot be reached. Please try again later.",
            ),
            (Problem::BadGateway, _) => (
                "Servizio non disponibile",
                "L'applicazione non è raggiungibile. Riprova più tardi.",
            ),
            (Problem::Timeout, Language::English) => (
                "The application is not answering",
                "The application did not answer in time. Please try again later.",
            ),
            (Problem::Timeout, _) => (
                "L'applicazione non risponde",
                "L'applicazione non ha risposto in tempo. Riprova più tardi.",
            ),
            (Problem::Unavailable, Language::English) => (
                "Service temporarily unavailable",
                "Please try again in a few minutes.",
            ),
            (Problem::Unavailable, _) => (
                "Servizio temporaneamente non disponibile",
                "Riprova tra qualche minuto.",
            ),
        }
    }
}

fn page(lang: Language, title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>",
        lang.tag()
    )
}

fn html(status: StatusCode, lang: Language, text: String) -> Response {
    let mut res = (status, text).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-language"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    res
}

/// The error page of `problem`.
pub fn problem(problem: Problem, lang: Language) -> Response {
    let (title, text) = problem.texts(lang);
    html(
        problem.status(),
        lang,
        page(lang, title, &format!("<p>{text}</p>")),
    )
}

/// The IdP chooser: the login buttons, returning to `next` at `level`.
pub fn select(auth: &SpidAuth, lang: Language, next: &str, level: Option<SpidLevel>) -> Response {
    let mut buttons = auth.login_buttons().next(next).language(lang);
    if let Some(l) = level {
        buttons = buttons.level(l);
    }
    let (title, text) = match lang {
        Language::English => ("Sign in", "Choose how to sign in."),
        _ => ("Accedi", "Scegli come accedere."),
    };
    let mut body = format!("<p>{text}</p>{}", buttons.render());
    if let Some(url) = auth.oidc_login_url(Some(next)) {
        let label = match lang {
            Language::English => "Sign in with CIE (OpenID Connect)",
            _ => "Entra con CIE (OpenID Connect)",
        };
        let href = url.replace('&', "&amp;").replace('"', "&quot;");
        body.push_str(&format!(
            "<p><a class=\"spid-sp-oidc\" id=\"oidc-login\" href=\"{href}\">{label}</a></p>"
        ));
    }
    html(StatusCode::OK, lang, page(lang, title, &body))
}

/// The 401 of `/spid/auth`: a link to `url` (forward-auth proxies that pass the answer on,
/// as Traefik does, show it).
pub fn login_required(lang: Language, url: &str) -> Response {
    let (title, text) = Problem::LoginRequired.texts(lang);
    let link = match lang {
        Language::English => "Sign in",
        _ => "Accedi",
    };
    let href = url
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    html(
        StatusCode::UNAUTHORIZED,
        lang,
        page(
            lang,
            title,
            &format!("<p>{text}</p><p><a href=\"{href}\">{link}</a></p>"),
        ),
    )
}
