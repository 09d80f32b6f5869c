//! The demo's pages: plain HTML and one stylesheet, no external assets, no JavaScript.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse};
use spid_sp::axum::{AuthError, Language, Pages, Session, SpidAuth};
use spid_sp::xml::writer::{attr, text};

/// What the pages need.
pub struct Site {
    auth: SpidAuth,
    profile: &'static str,
    base_url: String,
    oidc: bool,
}

impl Site {
    pub fn new(auth: &SpidAuth, profile: &'static str, base_url: &str) -> Site {
        Site {
            auth: auth.clone(),
            profile,
            base_url: base_url.to_owned(),
            oidc: false,
        }
    }

    /// Shows the "Entra con CIE (OpenID Connect)" button.
    pub fn with_oidc(mut self, yes: bool) -> Site {
        self.oidc = yes;
        self
    }
}

pub fn layout(title: &str, body: &str) -> String {
    layout_in(Language::Italian, title, body)
}

/// The page frame in one language (the demo's own pages are Italian; its error pages
/// follow the browser's `Accept-Language`).
fn layout_in(language: Language, title: &str, body: &str) -> String {
    let (skip, note, footer) = match language {
        Language::English => (
            "Skip to content",
            "Demonstration service provider: not for production use.",
            "spid-sp – Rust SDK for SPID, CIE ID and eIDAS.",
        ),
        _ => (
            "Vai al contenuto",
            "Service provider dimostrativo: non usare in produzione.",
            "spid-sp – SDK Rust per SPID, CIE ID ed eIDAS.",
        ),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} – Demo spid-sp</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\
         <body><a class=\"skip\" href=\"#main\">{skip}</a>\
         <header><p class=\"brand\"><a href=\"/\">Demo spid-sp</a></p>\
         <p class=\"note\">{note}</p></header>\
         <main id=\"main\">{body}</main>\
         <footer><p>{footer}</p></footer></body></html>",
        language.tag(),
        text(title)
    )
}

/// The query of `/`: where to go after the login (the level guard sends users here
/// with `?next=`).
#[derive(Debug, Default, serde::Deserialize)]
pub struct HomeQuery {
    next: Option<String>,
}

/// `/`: the SDK's login buttons, or a link to the user's page when logged in.
pub async fn home(
    State(site): State<Arc<Site>>,
    session: Option<Session>,
    query: Result<Query<HomeQuery>, QueryRejection>,
) -> Html<String> {
    let next = query.ok().and_then(|q| q.0.next);
    let mut b = String::new();
    b.push_str("<h1>Accedi al servizio</h1>");
    if let Some(s) = &session {
        let _ = write!(
            b,
            "<p class=\"ok\">Hai già effettuato l'accesso (livello {}). <a href=\"/me\">Vai ai tuoi dati</a>.</p>",
            s.level().number()
        );
    }
    let _ = write!(
        b,
        "<p>Scegli come accedere. Profilo del service provider: <strong>{}</strong>. \
         <a href=\"/spid/metadata\">Metadati</a>.</p>",
        text(site.profile)
    );
    // The SDK's component: SPID (IdPs of the running set, random order), CIE, eIDAS.
    b.push_str(
        &site
            .auth
            .login_buttons()
            .next(next.as_deref().unwrap_or("/me"))
            .render(),
    );
    if let Some(url) = site
        .auth
        .cns_login_url(Some(next.as_deref().unwrap_or("/me")))
    {
        let _ = write!(
            b,
            "<p><a class=\"button\" id=\"cns-login\" href=\"{}\">Entra con CNS</a> \
             <small>Carta Nazionale dei Servizi: inserisci la carta nel lettore.</small></p>",
            attr(&url)
        );
    }
    if site.oidc {
        let mut href = String::from("/spid/oidc/login?next=");
        spid_sp::binding::redirect::quote_plus(next.as_deref().unwrap_or("/me"), &mut href);
        let _ = write!(
            b,
            "<p><a class=\"button oidc\" id=\"oidc-login\" href=\"{}\">Entra con CIE (OpenID Connect)</a> \
             <small>federazione di prova locale, non CIE</small></p>",
            attr(&href)
        );
    }
    let local = if site.auth.allows_test_idp()
        && site
            .auth
            .service_provider()
            .idps()
            .iter()
            .any(|i| i.is_test_idp())
    {
        "Per completare un accesso in locale scegli <strong>Test IdP (local)</strong> \
         nell'elenco SPID: è un IdP di prova dell'SDK, non un gestore accreditato."
    } else {
        "Per completare un accesso in locale, avvia la demo con <code>--idp-metadata</code> \
         e un IdP di prova."
    };
    let _ = write!(
        b,
        "<p class=\"small\">Senza connessione a internet i gestori reali non sono raggiungibili: \
         la richiesta firmata parte comunque verso di loro. {local} URL: <code>{}</code></p>",
        text(&site.base_url)
    );
    Html(layout("Accedi", &b))
}

/// `/me`: who logged in (only for logged-in users).
pub async fn me(State(site): State<Arc<Site>>, session: Session) -> Html<String> {
    let id = session.identity();
    let mut b = String::new();
    b.push_str("<h1>I tuoi dati</h1><dl class=\"facts\">");
    let key = session
        .key()
        .map(|k| k.to_string())
        .unwrap_or_else(|| "—".into());
    let fiscal = id
        .fiscal_code()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_else(|| "—".into());
    let idp = session.idp_name().unwrap_or(session.idp().as_str());
    for (label, value) in [
        ("Codice fiscale", fiscal.as_str()),
        ("Chiave dell'identità", key.as_str()),
        (
            "Livello SPID",
            &format!("SpidL{}", session.level().number()),
        ),
        ("Gestore dell'identità", idp),
        (
            "Credenziale",
            match session.card() {
                Some(spid_sp::cns::CardKind::Cie) => "CIE (certificato della carta)",
                Some(_) => "CNS (smart card)",
                None => "SAML (SPID, CIE ID, eIDAS)",
            },
        ),
        ("Entity ID del gestore", session.idp().as_str()),
    ] {
        let _ = write!(
            b,
            "<dt>{}</dt><dd id=\"{}\">{}</dd>",
            text(label),
            slug(label),
            text(value)
        );
    }
    b.push_str("</dl><h2>Attributi ricevuti</h2><table><thead><tr><th scope=\"col\">Nome</th><th scope=\"col\">Valore</th></tr></thead><tbody>");
    for (name, values) in id.attributes().iter() {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            text(name),
            text(&values.join(", "))
        );
    }
    b.push_str("</tbody></table>");
    if session.level().number() < 3 {
        b.push_str("<p><a href=\"/area-l3\">Area riservata (richiede SpidL3: ti verrà chiesto di accedere di nuovo)</a></p>");
    } else {
        b.push_str("<p><a href=\"/area-l3\">Area riservata (SpidL3)</a></p>");
    }
    let _ = write!(
        b,
        "<form method=\"post\" action=\"{}/logout\"><button class=\"button\" type=\"submit\">Esci</button></form>",
        attr(site.auth.prefix())
    );
    Html(layout("I tuoi dati", &b))
}

/// `/area-l3`.
pub fn area_l3(_site: &Site, session: &Session) -> Html<String> {
    let b = format!(
        "<h1>Area riservata</h1><p class=\"ok\">Accesso di livello {} verificato.</p><p><a href=\"/me\">Torna ai tuoi dati</a></p>",
        session.level().number()
    );
    Html(layout("Area riservata", &b))
}

fn slug(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The SDK's error pages in the demo's style (status chosen by the SDK).
pub struct ErrorPages;

impl Pages for ErrorPages {
    fn error(&self, error: &AuthError) -> String {
        error_page(error, Language::Italian)
    }

    fn error_in(&self, error: &AuthError, language: Language) -> Option<String> {
        Some(error_page(error, language))
    }
}

/// An error page in one language: Italian, or English for browsers that ask for it.
fn error_page(error: &AuthError, language: Language) -> String {
    eprintln!("demo-sp: {} ({})", error.code(), error.status().as_u16());
    let english = language == Language::English;
    let title = match (error, english) {
        (AuthError::Refused(_), false) => "Accesso non completato",
        (_, false) => "Accesso non riuscito",
        (AuthError::Refused(_), true) => "Sign-in not completed",
        (_, true) => "Sign-in failed",
    };
    let (code_label, status_label, home) = if english {
        ("Code", "HTTP status", "Back to the home page")
    } else {
        ("Codice", "stato HTTP", "Torna alla pagina iniziale")
    };
    let code = match error {
        AuthError::Refused(r) => r
            .error_code()
            .map(|n| format!("ErrorCode nr{n:02}"))
            .unwrap_or_else(|| "idp-refused".into()),
        other => other.code().to_owned(),
    };
    let b = format!(
        "<h1>{}</h1><div class=\"error\" role=\"alert\"><p>{}</p></div>\
         <p class=\"small\">{code_label}: <code id=\"error-code\">{}</code> – {status_label} {}</p>\
         <p><a class=\"button\" href=\"/\">{home}</a></p>",
        text(title),
        text(error.message(language)),
        text(&code),
        error.status().as_u16()
    );
    layout_in(language, title, &b)
}

/// `/style.css`.
pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS)
}

const CSS: &str = r#"
:root { --blue: #0066cc; --blue-dark: #004d99; --text: #17324d; --bg: #f5f7fa; --ok: #00703c; --err: #a4000f; }
* { box-sizing: border-box; }
body { margin: 0; font: 1.05rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--text); background: var(--bg); }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; }
header, main, footer { max-width: 46rem; margin: 0 auto; padding: 1rem 1.25rem; }
header { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: baseline; }
.brand a { font-weight: 700; font-size: 1.2rem; color: var(--text); text-decoration: none; }
.note, .small, footer { font-size: .9rem; color: #4a5d70; }
main { background: #fff; border-radius: .5rem; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
h1 { font-size: 1.6rem; margin-top: .25rem; }
a { color: var(--blue-dark); }
:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
.button { display: inline-block; padding: .7rem 1.1rem; border-radius: .3rem; border: 0; background: var(--blue); color: #fff; font: inherit; font-weight: 600; text-decoration: none; cursor: pointer; }
.button:hover { background: var(--blue-dark); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
.facts dt { font-weight: 600; } .facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e3e9ef; overflow-wrap: anywhere; }
.ok { color: var(--ok); font-weight: 600; }
.error { border-left: 4px solid var(--err); padding: .25rem 1rem; background: #fdf2f3; }
code { background: #eef2f6; padding: 0 .25rem; border-radius: .2rem; overflow-wrap: anywhere; }
"#;
