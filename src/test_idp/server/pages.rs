//! The pages: the index (users, trusted SPs, open sessions), the login form, error pages,
//! the auto-submitting form that carries a SAML message, and the response they go in
//! (the axum integration's HTML and cache helpers, plus the test marker and a CSP).

use std::fmt::Write as _;

use ::axum::extract::Extension;
use ::axum::http::header::{self, HeaderValue};
use ::axum::http::StatusCode;
use ::axum::response::Response;

use super::{Shared, TestIdpServer, REFUSAL_CODES, TEST_LABEL};
use crate::axum::{append_header, html_response, no_store, redirect};
use crate::binding::{Delivery, Outgoing};
use crate::ids::random_token_or_abort as random_token;
use crate::level::{Comparison, SpidLevel};
use crate::saml::Binding;
use crate::test_idp::{AuthnRequestIn, RequestError, TEST_USERS};
use crate::xml::writer::{attr, text};

pub(super) async fn index_page(Extension(s): Shared) -> Response {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Test IdP (local)</h1><p>Identity provider di prova dell'SDK spid-sp: firma Response SPID \
         con il codice della libreria. EntityID <code>{}</code> – <a href=\"{}\">metadati</a>.</p>\
         <h2>Utenti di prova</h2><table><thead><tr><th scope=\"col\">Utente</th><th scope=\"col\">Tipo di identità</th><th scope=\"col\">Identificativo</th></tr></thead><tbody>",
        text(s.entity_id()),
        attr(&s.local("/metadata")),
    );
    for u in &TEST_USERS {
        let id = u
            .attribute("fiscalNumber")
            .or_else(|| u.attribute("spidCode"))
            .unwrap_or("—");
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            text(u.label),
            text(u.identity_type.label()),
            text(id)
        );
    }
    b.push_str("</tbody></table><h2>Service provider accettati</h2><ul>");
    for sp in &s.sps {
        let _ = write!(b, "<li><code>{}</code></li>", text(sp.entity_id()));
    }
    b.push_str("</ul><h2>Sessioni aperte</h2><p class=\"small\">Uscita avviata dall'IdP: una LogoutRequest firmata al service provider, che risponde con una LogoutResponse.</p>");
    let sessions = s.state().sessions.clone();
    if sessions.is_empty() {
        b.push_str("<p>Nessuna sessione.</p>");
    } else {
        b.push_str("<table><thead><tr><th scope=\"col\">Utente</th><th scope=\"col\">Service provider</th><th scope=\"col\">Livello</th><th scope=\"col\">Dal</th><th scope=\"col\"></th></tr></thead><tbody>");
        for x in sessions.iter().rev() {
            let _ = write!(
                b,
                "<tr><td>{}</td><td><code>{}</code></td><td>SpidL{}</td><td>{}</td><td>\
                 <form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"session\" value=\"{}\">\
                 <button class=\"button small\" type=\"submit\" name=\"binding\" value=\"redirect\">Esci (HTTP-Redirect)</button> \
                 <button class=\"button small\" type=\"submit\" name=\"binding\" value=\"post\">Esci (HTTP-POST)</button></form></td></tr>",
                text(x.user),
                text(&x.sp),
                x.level.number(),
                x.created,
                attr(&s.local("/logout")),
                attr(&x.handle),
            );
        }
        b.push_str("</tbody></table>");
    }
    html(StatusCode::OK, layout("Test IdP", &b), None)
}

pub(super) fn login_form(s: &TestIdpServer, r: &AuthnRequestIn, token: &str) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Accedi con il Test IdP</h1>\
         <dl class=\"facts\"><dt>Service provider</dt><dd id=\"sp\"><code>{}</code></dd>\
         <dt>Livello richiesto</dt><dd id=\"requested-level\">SpidL{} ({})</dd>\
         <dt>spid:Purpose</dt><dd>{}</dd><dt>Binding</dt><dd>{}</dd>\
         <dt>Attributi richiesti</dt><dd id=\"requested-attributes\">{}</dd></dl>\
         <form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
         <fieldset><legend>Utente</legend>",
        text(&r.sp),
        r.level.number(),
        text(r.comparison.as_str()),
        r.purpose.map_or("—", |p| p.code()),
        match r.binding {
            Binding::Redirect => "HTTP-Redirect",
            _ => "HTTP-POST",
        },
        text(&if r.requested_attributes.is_empty() {
            "—".to_owned()
        } else {
            r.requested_attributes.join(", ")
        }),
        attr(&s.local("/login")),
        attr(token),
    );
    let first_admitted = TEST_USERS
        .iter()
        .position(|u| u.identity_type.admitted_by(r.purpose))
        .unwrap_or(0);
    for (i, u) in TEST_USERS.iter().enumerate() {
        let mut notes = Vec::new();
        if !u.identity_type.admitted_by(r.purpose) {
            notes.push("tipo di identità non ammesso dalla richiesta: risposta nr30".to_owned());
        }
        let has_key = r.requested_attributes.iter().any(|n| {
            (n == "fiscalNumber" && u.attribute("fiscalNumber").is_some())
                || (n == "spidCode" && u.attribute("spidCode").is_some())
        });
        if !has_key {
            notes.push("nessun identificativo tra gli attributi richiesti".to_owned());
        }
        let _ = write!(
            b,
            "<label class=\"choice\"><input type=\"radio\" name=\"user\" value=\"{}\"{}> {} <span class=\"small\">({}){}</span></label>",
            attr(u.id),
            if i == first_admitted { " checked" } else { "" },
            text(u.label),
            text(u.identity_type.label()),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" – {}", text(&notes.join("; ")))
            }
        );
    }
    let default_level = match r.comparison {
        Comparison::Better => SpidLevel::from_number(r.level.number() + 1).unwrap_or(SpidLevel::L3),
        _ => r.level,
    };
    b.push_str("</fieldset><fieldset><legend>Livello usato per l'autenticazione</legend>");
    for l in [SpidLevel::L1, SpidLevel::L2, SpidLevel::L3] {
        let _ = write!(
            b,
            "<label class=\"choice inline\"><input type=\"radio\" name=\"level\" value=\"{n}\"{}> SpidL{n}</label>",
            if l == default_level { " checked" } else { "" },
            n = l.number(),
        );
    }
    b.push_str(
        "</fieldset><p><button class=\"button\" type=\"submit\" name=\"outcome\" value=\"login\" id=\"login\">Accedi</button></p>\
         <fieldset><legend>Oppure simula un rifiuto</legend><select name=\"code\" id=\"code\">",
    );
    for (code, what) in REFUSAL_CODES {
        let _ = write!(
            b,
            "<option value=\"{code}\"{}>ErrorCode nr{code:02} – {}</option>",
            if code == 25 { " selected" } else { "" },
            text(what)
        );
    }
    b.push_str(
        "</select> <button class=\"button secondary\" type=\"submit\" name=\"outcome\" value=\"refuse\" id=\"refuse\">Invia il rifiuto</button></fieldset></form>",
    );
    layout("Accedi", &b)
}

pub(super) fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"it\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} – Test IdP (local)</title><style>{CSS}</style></head><body>\
         <div class=\"test-banner\" role=\"note\" lang=\"en\">{TEST_LABEL}</div>\
         <header><p class=\"brand\">Test IdP (local)</p>\
         <p class=\"note\">Identity provider di prova: nessun accesso qui identifica davvero qualcuno.</p></header>\
         <main>{body}</main></body></html>",
        text(title)
    )
}

/// A page: the axum integration's HTML response with its no-store and no-referrer
/// headers, the test marker, and a CSP that admits the inline style and, with
/// `script_nonce`, the one script carrying that nonce.
pub(super) fn html(status: StatusCode, page: String, script_nonce: Option<&str>) -> Response {
    let mut res = html_response(status, page);
    no_store(&mut res);
    res.headers_mut().insert(
        header::HeaderName::from_static("x-test-idp"),
        HeaderValue::from_static("not an accredited identity provider"),
    );
    let csp = match script_nonce {
        Some(n) => format!("default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{n}'; base-uri 'none'; frame-ancestors 'none'"),
        None => "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'".to_owned(),
    };
    append_header(&mut res, header::CONTENT_SECURITY_POLICY, &csp);
    res
}

pub(super) fn error_page(
    s: &TestIdpServer,
    status: StatusCode,
    title: &str,
    detail: &str,
) -> Response {
    let body = format!(
        "<h1>{}</h1><div class=\"error\" role=\"alert\"><p id=\"error-detail\">{}</p></div>\
         <p><a href=\"{}\">Test IdP</a></p>",
        text(title),
        text(detail),
        attr(&s.local("/")),
    );
    html(status, layout(title, &body), None)
}

pub(super) fn request_error(s: &TestIdpServer, e: &RequestError) -> Response {
    error_page(
        s,
        StatusCode::BAD_REQUEST,
        "Richiesta SAML non valida",
        &e.to_string(),
    )
}

/// An auto-submitting form that posts a SAML message (with a button without JavaScript).
pub(super) fn post_page(
    s: &TestIdpServer,
    action: &str,
    field: &str,
    value: &str,
    relay_state: Option<&str>,
) -> Response {
    let nonce = random_token("", 16);
    let relay = relay_state
        .map(|r| {
            format!(
                "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">",
                attr(r)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Ritorno al service provider</h1><form method=\"post\" action=\"{}\" id=\"saml-form\">\
         <input type=\"hidden\" name=\"{}\" value=\"{}\">{relay}\
         <p><button class=\"button\" type=\"submit\">Continua</button></p></form>\
         <script nonce=\"{nonce}\">document.getElementById('saml-form').submit();</script>",
        attr(action),
        attr(field),
        attr(value),
    );
    let _ = s;
    html(
        StatusCode::OK,
        layout("Ritorno al service provider", &body),
        Some(&nonce),
    )
}

/// The answer that carries a signed message: a 302 (the axum integration's redirect, not
/// cached) or [`post_page`].
pub(super) fn deliver(s: &TestIdpServer, out: &Outgoing) -> Response {
    match out.delivery() {
        Delivery::Redirect { url } => match redirect(StatusCode::FOUND, url) {
            Ok(mut res) => {
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                res
            }
            Err(_) => error_page(
                s,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Uscita non riuscita",
                "redirect target not encodable",
            ),
        },
        Delivery::Post {
            action,
            field,
            value,
            relay_state,
        } => post_page(s, action, field, value, relay_state.as_deref()),
    }
}

const CSS: &str = "\
:root{--blue:#0066cc;--text:#17324d;--err:#a4000f;--ok:#00703c}\
*{box-sizing:border-box}\
body{margin:0;font:1rem/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:var(--text);background:#fff8e6}\
.test-banner{background:#b00020;color:#fff;font-weight:700;text-align:center;padding:.5rem 1rem;letter-spacing:.02em}\
header,main{max-width:44rem;margin:0 auto;padding:.75rem 1.25rem}\
.brand{font-weight:700;font-size:1.2rem;margin:.25rem 0}.note,.small{font-size:.9rem;color:#4a5d70}\
main{background:#fff;border:2px dashed #b00020;border-radius:.5rem;margin-bottom:2rem}\
h1{font-size:1.5rem}\
fieldset{border:1px solid #c5d0dc;border-radius:.3rem;margin:1rem 0;padding:.5rem 1rem}\
legend{font-weight:600}\
label.choice{display:block;padding:.3rem 0}label.choice.inline{display:inline-block;margin-right:1.5rem}\
.button{display:inline-block;padding:.6rem 1.1rem;border-radius:.3rem;border:0;background:var(--blue);color:#fff;font:inherit;font-weight:600;cursor:pointer}\
.button.secondary{background:#5c6f82}.button.small{padding:.3rem .6rem;font-size:.9rem}\
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}.facts dt{font-weight:600}.facts dd{margin:0;overflow-wrap:anywhere}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #e3e9ef;overflow-wrap:anywhere}\
code{background:#eef2f6;padding:0 .25rem;border-radius:.2rem;overflow-wrap:anywhere}\
.error{border-left:4px solid var(--err);padding:.25rem 1rem;background:#fdf2f3}\
.ok{color:var(--ok);font-weight:600}.warn{color:var(--err);font-weight:600}\
:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}";

#[cfg(test)]
mod tests {
    //! The responses keep the headers they had before they were built on the axum
    //! integration's helpers: status, cache and referrer policy, test marker, CSP and its
    //! script nonce.

    use super::*;
    use crate::dsig::SigningKey;
    use crate::test_idp::{TestIdp, TestIdpMode};

    const BASE: &str = "http://127.0.0.1:8000/test-idp";
    const CSP: &str =
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

    fn key() -> SigningKey {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/metadata");
        SigningKey::from_pem(
            &std::fs::read(format!("{dir}/test-only-sp.key.pem")).unwrap(),
            &std::fs::read(format!("{dir}/test-only-sp.crt.pem")).unwrap(),
        )
        .unwrap()
    }

    fn server() -> TestIdpServer {
        TestIdpServer::new(
            TestIdpMode::IKnowThisIsNotAnAccreditedIdp,
            TestIdp::new(BASE, key()),
            BASE,
        )
        .unwrap()
    }

    fn headers(res: &Response) -> Vec<(String, String)> {
        let mut h: Vec<_> = res
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        h.sort();
        h
    }

    fn page_headers(csp: &str) -> Vec<(String, String)> {
        let mut h: Vec<_> = [
            ("cache-control", "no-store"),
            ("content-security-policy", csp),
            ("content-type", "text/html; charset=utf-8"),
            ("referrer-policy", "no-referrer"),
            ("x-test-idp", "not an accredited identity provider"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        h.sort();
        h
    }

    async fn body(res: Response) -> String {
        let bytes = ::axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn redirect_to(endpoint: &str) -> Outgoing {
        Outgoing::sign(
            "<samlp:LogoutRequest/>".to_owned(),
            Binding::Redirect,
            endpoint,
            "SAMLRequest",
            None,
            &key(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn pages_carry_the_security_headers_and_the_label() {
        let s = server();
        let res = error_page(&s, StatusCode::BAD_REQUEST, "Titolo", "<detail>");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(headers(&res), page_headers(CSP));
        let page = body(res).await;
        assert!(page.contains(TEST_LABEL), "{page}");
        assert!(page.contains("&lt;detail&gt;"), "{page}");
        let res = html(StatusCode::FORBIDDEN, layout("x", ""), None);
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(headers(&res), page_headers(CSP));
    }

    #[tokio::test]
    async fn the_post_page_script_carries_the_csp_nonce() {
        let s = server();
        let mut nonces = Vec::new();
        for _ in 0..2 {
            let res = post_page(
                &s,
                "http://127.0.0.1:8000/spid/acs",
                "SAMLResponse",
                "PHg+",
                Some("rs"),
            );
            assert_eq!(res.status(), StatusCode::OK);
            let h = headers(&res);
            let csp = h
                .iter()
                .find(|(k, _)| k == "content-security-policy")
                .map(|(_, v)| v.clone())
                .unwrap();
            let nonce = csp
                .split("script-src 'nonce-")
                .nth(1)
                .and_then(|r| r.split('\'').next())
                .unwrap()
                .to_owned();
            assert_eq!(nonce.len(), 32, "{csp}");
            assert_eq!(
                h,
                page_headers(&format!("default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; base-uri 'none'; frame-ancestors 'none'"))
            );
            let page = body(res).await;
            assert!(
                page.contains(&format!("<script nonce=\"{nonce}\">")),
                "{page}"
            );
            assert!(page.contains("name=\"RelayState\" value=\"rs\""), "{page}");
            nonces.push(nonce);
        }
        assert_ne!(nonces[0], nonces[1]);
    }

    #[tokio::test]
    async fn a_redirect_is_a_302_not_cached() {
        let s = server();
        let out = redirect_to("http://127.0.0.1:8000/spid/slo");
        let res = deliver(&s, &out);
        assert_eq!(res.status(), StatusCode::FOUND);
        let url = out.redirect_url().unwrap().to_owned();
        assert_eq!(
            headers(&res),
            vec![
                ("cache-control".to_owned(), "no-store".to_owned()),
                ("location".to_owned(), url)
            ]
        );
        // A target a header cannot carry: the error page, 500.
        let res = deliver(&s, &redirect_to("http://127.0.0.1:8000/spid/slo\n"));
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(headers(&res), page_headers(CSP));
        assert!(body(res).await.contains("redirect target not encodable"));
    }
}
