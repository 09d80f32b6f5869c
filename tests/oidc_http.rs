//! `HttpBackChannel` (features `axum`, `oidc`, `refresh`), the production back channel of
//! the OpenID Connect relying party, against scripted loopback HTTP servers: what it
//! sends, what it accepts, and every refusal (scheme, credentials, cross-origin and
//! back-channel redirects, status, size). The full flow over it runs against the
//! reference spid-cie-oidc OP in tests/oidc-interop.sh.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use spid_sp::axum::{HttpBackChannel, OidcBackChannel, MAX_BACK_CHANNEL_BODY};
use spid_sp::oidc::FederationFetcher;

/// A loopback server answering each of `answers` to one connection, in order; the raw
/// requests come back on the channel.
fn serve(answers: Vec<String>) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for answer in answers {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut req = Vec::new();
            let mut buf = [0u8; 8192];
            // Headers, then a body of Content-Length bytes.
            loop {
                let n = s.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if req.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&req).to_string());
            let _ = s.write_all(answer.as_bytes());
        }
    });
    (base, rx)
}

fn answer(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut a = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        a.push_str(&format!("{k}: {v}\r\n"));
    }
    a.push_str("\r\n");
    a.push_str(body);
    a
}

fn client() -> HttpBackChannel {
    HttpBackChannel::new(std::time::Duration::from_secs(10)).allow_plain_http_loopback()
}

#[test]
fn federation_fetch_returns_the_trimmed_body() {
    let (base, rx) = serve(vec![answer(
        "200 OK",
        &[("Content-Type", "application/entity-statement+jwt")],
        "a.b.c\n",
    )]);
    let body = client()
        .fetch(&format!("{base}/.well-known/openid-federation"))
        .unwrap();
    assert_eq!(body, "a.b.c");
    let req = rx.recv().unwrap();
    assert!(
        req.starts_with("GET /.well-known/openid-federation HTTP/1.1\r\n"),
        "{req}"
    );
}

#[test]
fn plain_http_is_refused_without_the_loopback_flag_and_to_other_hosts() {
    let strict = HttpBackChannel::default();
    assert!(strict.fetch("http://127.0.0.1:9/x").is_err());
    assert!(strict.post_form("http://127.0.0.1:9/token", "a=b").is_err());
    assert!(strict
        .get_with_authorization("http://127.0.0.1:9/userinfo", "Bearer t")
        .is_err());
    let lax = client();
    let e = lax.fetch("http://192.0.2.1/x").unwrap_err();
    assert!(e.contains("https only"), "{e}");
    for bad in [
        "ftp://127.0.0.1/x",
        "http://user:pw@127.0.0.1/x",
        "file:///etc/passwd",
        "127.0.0.1/x",
    ] {
        assert!(lax.fetch(bad).is_err(), "{bad}");
    }
}

#[test]
fn same_origin_redirects_are_followed_for_federation_fetches() {
    let (base, rx) = serve(vec![
        answer("302 Found", &[("Location", "/moved")], ""),
        answer("200 OK", &[], "x.y.z"),
    ]);
    assert_eq!(client().fetch(&format!("{base}/start")).unwrap(), "x.y.z");
    assert!(rx.recv().unwrap().starts_with("GET /start "));
    assert!(rx.recv().unwrap().starts_with("GET /moved "));
}

#[test]
fn redirects_to_another_origin_are_refused() {
    let (other, other_rx) = serve(vec![answer("200 OK", &[], "evil")]);
    let (base, _rx) = serve(vec![answer(
        "302 Found",
        &[("Location", &format!("{other}/x"))],
        "",
    )]);
    let e = client().fetch(&format!("{base}/start")).unwrap_err();
    assert!(e.contains("another origin"), "{e}");
    // The other server was never asked.
    assert!(other_rx.try_recv().is_err());
}

#[test]
fn too_many_redirects_are_refused() {
    let hop = answer("302 Found", &[("Location", "/again")], "");
    let (base, _rx) = serve(vec![hop.clone(), hop.clone(), hop.clone(), hop]);
    let e = client().fetch(&format!("{base}/start")).unwrap_err();
    assert!(e.contains("too many redirects"), "{e}");
}

#[test]
fn post_form_sends_the_form_and_returns_error_bodies() {
    let (base, rx) = serve(vec![answer(
        "400 Bad Request",
        &[("Content-Type", "application/json")],
        r#"{"error":"invalid_grant"}"#,
    )]);
    let body = client()
        .post_form(
            &format!("{base}/token"),
            "grant_type=authorization_code&code=abc",
        )
        .unwrap();
    assert_eq!(body, r#"{"error":"invalid_grant"}"#);
    let req = rx.recv().unwrap();
    assert!(req.starts_with("POST /token HTTP/1.1\r\n"), "{req}");
    let lower = req.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/x-www-form-urlencoded\r\n"),
        "{req}"
    );
    assert!(
        req.ends_with("\r\n\r\ngrant_type=authorization_code&code=abc"),
        "{req}"
    );
}

/// A 5xx answer that is not an OAuth error (an HTML error page, a proxy's 502) is the
/// token endpoint being unavailable: an error of the back channel (the login ends as
/// `oidc_unreachable`), not a body handed to the token-response parser (`oidc_malformed`).
/// A 4xx body is always the caller's to read (the reference OP answers a bare 403 to a
/// wrong PKCE verifier: refused as malformed, tests/oidc-interop.sh).
#[test]
fn post_form_treats_a_non_oauth_error_page_as_unavailable() {
    let (base, _rx) = serve(vec![
        answer(
            "502 Bad Gateway",
            &[("Content-Type", "text/html")],
            "<html><body>Bad Gateway</body></html>",
        ),
        answer(
            "500 Internal Server Error",
            &[("Content-Type", "application/json")],
            r#"{"detail":"boom"}"#,
        ),
        answer(
            "503 Service Unavailable",
            &[("Content-Type", "application/json")],
            r#"{"error":"temporarily_unavailable"}"#,
        ),
        answer("403 Forbidden", &[], ""),
    ]);
    let url = format!("{base}/token");
    let e = client().post_form(&url, "code=a").unwrap_err();
    assert!(e.contains("HTTP 502 without an OAuth error body"), "{e}");
    let e = client().post_form(&url, "code=a").unwrap_err();
    assert!(e.contains("HTTP 500"), "{e}");
    // An OAuth error body is the OP's answer, whatever the status (RFC 6749 §5.2).
    assert_eq!(
        client().post_form(&url, "code=a").unwrap(),
        r#"{"error":"temporarily_unavailable"}"#
    );
    assert_eq!(client().post_form(&url, "code=a").unwrap(), "");
}

#[test]
fn post_form_never_follows_a_redirect() {
    let (other, other_rx) = serve(vec![answer("200 OK", &[], "{}")]);
    let (base, _rx) = serve(vec![answer(
        "307 Temporary Redirect",
        &[("Location", &format!("{other}/token"))],
        "",
    )]);
    let e = client()
        .post_form(&format!("{base}/token"), "client_assertion=secret")
        .unwrap_err();
    assert!(e.contains("redirect"), "{e}");
    assert!(other_rx.try_recv().is_err());
}

#[test]
fn userinfo_sends_the_bearer_token_and_never_follows_a_redirect() {
    let (base, rx) = serve(vec![
        answer(
            "200 OK",
            &[("Content-Type", "application/jwt")],
            "a.b.c.d.e",
        ),
        answer("302 Found", &[("Location", "/elsewhere")], ""),
        answer("403 Forbidden", &[], "no"),
    ]);
    let c = client();
    let url = format!("{base}/userinfo");
    assert_eq!(
        c.get_with_authorization(&url, "Bearer tok").unwrap(),
        "a.b.c.d.e"
    );
    let req = rx.recv().unwrap().to_ascii_lowercase();
    assert!(req.contains("\r\nauthorization: bearer tok\r\n"), "{req}");
    let e = c.get_with_authorization(&url, "Bearer tok").unwrap_err();
    assert!(e.contains("redirect"), "{e}");
    let e = c.get_with_authorization(&url, "Bearer tok").unwrap_err();
    assert!(e.contains("403"), "{e}");
}

#[test]
fn bodies_above_the_cap_are_refused() {
    let big = "a".repeat(MAX_BACK_CHANNEL_BODY + 1);
    let (base, _rx) = serve(vec![
        answer("200 OK", &[], &big),
        answer("200 OK", &[], "abcdef"),
    ]);
    let e = client().fetch(&format!("{base}/big")).unwrap_err();
    assert!(e.contains("larger than"), "{e}");
    let e = client()
        .max_body_bytes(5)
        .fetch(&format!("{base}/small"))
        .unwrap_err();
    assert!(e.contains("larger than 5 bytes"), "{e}");
}

#[test]
fn error_statuses_are_refused() {
    let (base, _rx) = serve(vec![answer("404 Not Found", &[], "nope")]);
    let e = client().fetch(&format!("{base}/missing")).unwrap_err();
    assert!(e.contains("404"), "{e}");
    assert!(!e.contains("nope"), "no body in the reason: {e}");
}
