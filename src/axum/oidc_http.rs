//! The production back channel of the OpenID Connect relying party (features `axum`,
//! `oidc` and `refresh`): [`HttpBackChannel`] implements [`OidcBackChannel`] over the
//! `ureq` blocking client the registry refresh already uses.
//!
//! Rules, the same for every call (federation fetches, token, userinfo, revocation):
//! - https only; plain http only to a loopback host and only after
//!   [`HttpBackChannel::allow_plain_http_loopback`] (a local test federation);
//! - URLs with credentials (`user@host`) are refused;
//! - one global timeout per call, bodies capped (64 KiB by default, the size of a
//!   federation JWT);
//! - GETs of federation documents follow at most three redirects, each to the **same
//!   origin** (scheme, host, port); the token, userinfo and revocation calls follow none
//!   (a redirect is an error: the form with the client assertion and the bearer token
//!   are never re-sent elsewhere);
//! - TLS verified against the system roots (the system OpenSSL through native-tls).
//!
//! Errors are short reasons without bodies, tokens or query strings.

use std::io::Read as _;
use std::time::Duration;

use super::oidc::OidcBackChannel;
use crate::oidc::FederationFetcher;

/// Bodies above this many bytes are refused (a federation JWT's own limit).
pub const MAX_BACK_CHANNEL_BODY: usize = crate::oidc::jws::MAX_TOKEN_BYTES;

/// At most this many same-origin redirects per federation fetch.
const MAX_FETCH_REDIRECTS: usize = 3;

/// The HTTPS client of the relying party's back channel (see the module rules).
#[derive(Clone, Debug)]
pub struct HttpBackChannel {
    agent: ureq::Agent,
    max_bytes: usize,
    plain_http_loopback: bool,
}

impl HttpBackChannel {
    /// A client whose every call completes within `timeout` (connect, TLS, request and
    /// the whole body).
    pub fn new(timeout: Duration) -> HttpBackChannel {
        HttpBackChannel {
            // Redirects are followed by `get`, hop by hop, same origin only.
            agent: crate::metadata::agent_without_redirects(timeout),
            max_bytes: MAX_BACK_CHANNEL_BODY,
            plain_http_loopback: false,
        }
    }

    /// Lets plain http reach loopback hosts (`localhost`, `127.0.0.0/8`, `[::1]`): a
    /// local test federation. Every other host stays https-only.
    #[must_use]
    pub fn allow_plain_http_loopback(mut self) -> HttpBackChannel {
        self.plain_http_loopback = true;
        self
    }

    /// Caps response bodies at `bytes` (default [`MAX_BACK_CHANNEL_BODY`]).
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> HttpBackChannel {
        self.max_bytes = bytes;
        self
    }

    fn check_url(&self, url: &str) -> Result<(), String> {
        let Some(origin) = origin_of(url) else {
            return Err("not an absolute http(s) URL without credentials".into());
        };
        if origin.scheme == "https" {
            return Ok(());
        }
        if self.plain_http_loopback && is_loopback_host(origin.host) {
            return Ok(());
        }
        Err("plain http refused (https only)".into())
    }

    fn read_body(&self, response: ureq::http::Response<ureq::Body>) -> Result<String, String> {
        let mut body = Vec::new();
        let limit = u64::try_from(self.max_bytes).unwrap_or(u64::MAX);
        response
            .into_body()
            .into_reader()
            .take(limit.saturating_add(1))
            .read_to_end(&mut body)
            .map_err(|e| transport(&e.to_string()))?;
        if body.len() > self.max_bytes {
            return Err(format!("body larger than {} bytes", self.max_bytes));
        }
        String::from_utf8(body).map_err(|_| "body not UTF-8".to_owned())
    }

    /// GET with optional authorization; `follow` same-origin redirects or none.
    fn get(&self, url: &str, authorization: Option<&str>, follow: bool) -> Result<String, String> {
        let mut current = url.to_owned();
        for _ in 0..=MAX_FETCH_REDIRECTS {
            self.check_url(&current)?;
            let mut request = self.agent.get(current.as_str());
            if let Some(a) = authorization {
                request = request.header("Authorization", a);
            }
            let response = request.call().map_err(|e| transport(&e.to_string()))?;
            let status = response.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                if !follow {
                    return Err(format!("redirect (HTTP {status}) refused"));
                }
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or("redirect without a usable Location")?;
                let next = crate::metadata::resolve_location(&current, location)
                    .ok_or("redirect to an unusable Location")?;
                if origin_of(&next) != origin_of(&current) {
                    return Err("redirect to another origin refused".into());
                }
                current = next;
                continue;
            }
            if !(200..300).contains(&status) {
                return Err(format!("server answered HTTP {status}"));
            }
            return self.read_body(response);
        }
        Err("too many redirects".into())
    }
}

impl Default for HttpBackChannel {
    /// A 10-second timeout.
    fn default() -> Self {
        HttpBackChannel::new(Duration::from_secs(10))
    }
}

impl FederationFetcher for HttpBackChannel {
    fn fetch(&self, url: &str) -> Result<String, String> {
        self.get(url, None, true).map(|b| b.trim().to_owned())
    }
}

impl OidcBackChannel for HttpBackChannel {
    fn post_form(&self, url: &str, body: &str) -> Result<String, String> {
        self.check_url(url)?;
        let response = self
            .agent
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .send(body)
            .map_err(|e| transport(&e.to_string()))?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            return Err(format!("redirect (HTTP {status}) refused"));
        }
        // The token endpoint's errors are JSON bodies with 4xx: the caller reads them (a 4xx
        // without one is refused by the caller as a malformed answer). A 5xx without an
        // OAuth error body (an HTML error page, a proxy's 502) is the endpoint being
        // unavailable, not a malformed token response.
        let body = self.read_body(response)?;
        if status >= 500 && !is_oauth_error(&body) {
            return Err(format!("HTTP {status} without an OAuth error body"));
        }
        Ok(body)
    }

    fn get_with_authorization(&self, url: &str, authorization: &str) -> Result<String, String> {
        self.get(url, Some(authorization), false)
            .map(|b| b.trim().to_owned())
    }
}

/// A JSON object with an `error` member (RFC 6749 §5.2).
fn is_oauth_error(body: &str) -> bool {
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(body)
        .is_ok_and(|m| m.get("error").is_some_and(serde_json::Value::is_string))
}

fn transport(e: &str) -> String {
    format!("transport failure: {}", crate::printable::printable(e, 200))
}

/// Scheme, host and port of an absolute URL, compared for "same origin".
#[derive(Debug, PartialEq, Eq)]
struct Origin<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<&'a str>,
}

/// The origin of `http(s)://host[:port]/...`, `None` for other schemes, credentials
/// (`@` in the authority), an empty host or control characters.
fn origin_of(url: &str) -> Option<Origin<'_>> {
    if url.chars().any(|c| c.is_control() || c == ' ') || url.len() > 4096 {
        return None;
    }
    let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
        ("https", r)
    } else {
        ("http", url.strip_prefix("http://")?)
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') || authority.contains('\\') {
        return None;
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']')?;
            (h, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if host.is_empty()
        || port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(Origin { scheme, host, port })
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let o = origin_of("https://op.example.it:8443/x?y").unwrap();
        assert_eq!(
            (o.scheme, o.host, o.port),
            ("https", "op.example.it", Some("8443"))
        );
        assert_eq!(origin_of("http://[::1]:80/").unwrap().host, "::1");
        for bad in [
            "ftp://x/",
            "https://user@host/",
            "https:///path",
            "https://h:/",
            "https://h:8x/",
            "https://h/\n",
            "https://a\\@b/",
        ] {
            assert!(origin_of(bad).is_none(), "{bad}");
        }
        assert_ne!(origin_of("https://a/"), origin_of("https://a:444/"));
        assert_ne!(origin_of("http://a/"), origin_of("https://a/"));
    }

    #[test]
    fn plain_http_only_to_loopback_when_allowed() {
        let strict = HttpBackChannel::default();
        assert!(strict.check_url("http://127.0.0.1:9/").is_err());
        assert!(strict.check_url("https://op.example.it/").is_ok());
        let lax = HttpBackChannel::default().allow_plain_http_loopback();
        assert!(lax.check_url("http://127.0.0.1:9/").is_ok());
        assert!(lax.check_url("http://localhost/").is_ok());
        assert!(lax.check_url("http://[::1]/").is_ok());
        assert!(lax.check_url("http://10.0.0.1/").is_err());
        assert!(lax.check_url("http://127.0.0.1.nip.io/").is_err());
    }
}
