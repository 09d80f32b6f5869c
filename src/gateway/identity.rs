//! The identity given to the upstream: headers under the reserved prefix, and the
//! removal of every incoming header a client could use to spoof them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::GatewayError;
use crate::axum::Session;

/// Most logins whose prepared identity is cached; past it the cache starts over.
const CACHE_MAX: usize = 10_000;

/// Every identity header (suffix after the prefix, lower case in the config).
const FIELDS: [&str; 11] = [
    "fiscal-code",
    "eidas-id",
    "level",
    "idp",
    "name",
    "family-name",
    "email",
    "company-name",
    "vat-number",
    "company-fiscal-number",
    "session",
];

/// The default `headers.send`: every field.
pub(crate) fn all_fields() -> Vec<String> {
    FIELDS.iter().map(|f| (*f).to_owned()).collect()
}

/// The prefix must be a header-name start of at least 3 characters ending in `-`.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), GatewayError> {
    let ok = prefix.len() >= 3
        && prefix.ends_with('-')
        && HeaderName::try_from(format!("{prefix}x")).is_ok();
    if ok {
        Ok(())
    } else {
        Err(GatewayError::Invalid {
            field: "gateway.headers.prefix".into(),
            reason: "a header name prefix ending in - (e.g. X-Spid-)".into(),
        })
    }
}

/// The identity headers and what to strip.
#[derive(Clone, Debug)]
pub struct IdentityHeaders {
    /// Lower-case prefix.
    prefix: String,
    /// `(field, header)` of each header sent.
    send: Vec<(&'static str, HeaderName)>,
    /// The JWT header when it is not under the prefix (e.g. `authorization`).
    jwt_header: Option<HeaderName>,
}

/// The value of a pseudonymous session handle: the first 32 hex digits of
/// SHA-256(IdP entityID, NUL, NameID). Stable for a session, says nothing about the user.
pub fn session_handle(session: &Session) -> String {
    let mut h = openssl::sha::Sha256::new();
    h.update(session.idp().as_str().as_bytes());
    h.update(b"\0");
    h.update(session.info().name_id.as_str().as_bytes());
    let mut out = String::with_capacity(32);
    for b in h.finish().iter().take(16) {
        out.extend(char::from_digit(u32::from(b >> 4), 16));
        out.extend(char::from_digit(u32::from(b & 0x0f), 16));
    }
    out
}

impl IdentityHeaders {
    pub(crate) fn new(
        prefix: &str,
        send: &[String],
        jwt_header: Option<&str>,
    ) -> Result<IdentityHeaders, GatewayError> {
        check_prefix(prefix)?;
        let lower = prefix.to_ascii_lowercase();
        let mut out = Vec::new();
        for f in FIELDS {
            if send.iter().any(|s| s == f) {
                let name = HeaderName::try_from(format!("{lower}{f}")).map_err(|_| {
                    GatewayError::Invalid {
                        field: "gateway.headers.prefix".into(),
                        reason: "not a header name".into(),
                    }
                })?;
                out.push((f, name));
            }
        }
        let jwt_header = match jwt_header {
            Some(h) if !h.to_ascii_lowercase().starts_with(&lower) => {
                Some(HeaderName::try_from(h).map_err(|_| GatewayError::Invalid {
                    field: "gateway.jwt.header".into(),
                    reason: "not a header name".into(),
                })?)
            }
            _ => None,
        };
        Ok(IdentityHeaders {
            prefix: lower,
            send: out,
            jwt_header,
        })
    }

    /// Whether `name` is reserved (under the prefix, or the JWT header).
    pub fn is_reserved(&self, name: &HeaderName) -> bool {
        name.as_str().starts_with(&self.prefix) || self.jwt_header.as_ref() == Some(name)
    }

    /// Removes every reserved header, and the gateway's own cookies from `Cookie`.
    pub fn strip(&self, headers: &mut HeaderMap) {
        if headers.keys().any(|n| self.is_reserved(n)) {
            let reserved: Vec<HeaderName> = headers
                .keys()
                .filter(|n| self.is_reserved(n))
                .cloned()
                .collect();
            for n in reserved {
                headers.remove(&n);
            }
        }
        strip_own_cookies(headers);
    }

    /// The tenant's ID in `<prefix>Tenant` (reserved: never passed from a client).
    pub(crate) fn tenant_value(&self, tenant: &str) -> Option<(HeaderName, HeaderValue)> {
        let name = HeaderName::try_from(format!("{}tenant", self.prefix)).ok()?;
        Some((name, header_value(tenant)?))
    }

    /// The header that carries [`app_cookie`] (`<prefix>cookie`).
    pub fn cookie_header(&self) -> Option<HeaderName> {
        HeaderName::try_from(format!("{}cookie", self.prefix)).ok()
    }

    /// The identity headers of `session`, ready to insert.
    pub(crate) fn values(&self, session: &Session) -> Vec<(HeaderName, HeaderValue)> {
        let mut out = Vec::with_capacity(self.send.len());
        let id = session.identity();
        for (field, name) in &self.send {
            let value: Option<String> = match *field {
                "fiscal-code" => id.fiscal_code().map(|c| c.as_str().to_owned()),
                "eidas-id" => id.eidas_id().map(|c| c.as_str().to_owned()),
                "level" => Some(session.level().number().to_string()),
                "idp" => Some(session.idp().as_str().to_owned()),
                "name" => id.name().map(str::to_owned),
                "family-name" => id.family_name().map(str::to_owned),
                "email" => id.email().map(str::to_owned),
                "company-name" => id.company_name().map(str::to_owned),
                "vat-number" => id.vat_number().map(|v| v.as_str().to_owned()),
                "company-fiscal-number" => {
                    id.company_fiscal_number().map(|c| c.as_str().to_owned())
                }
                "session" => Some(session_handle(session)),
                _ => None,
            };
            if let Some(v) = value.and_then(|v| header_value(&v)) {
                out.push((name.clone(), v));
            }
        }
        out
    }
}

/// What one login sends upstream, ready to insert: the identity headers (fixed for a
/// session) and the JWT header value with its issue time.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    /// The identity headers.
    pub headers: Arc<[(HeaderName, HeaderValue)]>,
    /// The JWT header value and its `iat` (Unix seconds).
    pub jwt: Option<(i64, HeaderValue)>,
}

/// The prepared identity of each login, so that a request with a session costs a map
/// lookup instead of formatting, hashing and signing (the JWT is re-signed when a third of
/// its lifetime has passed). Keyed by SHA-256 of what makes one login unique (IdP,
/// NameID, SessionIndex, level, creation time at the SP, tenant): a value is only ever
/// given to the login it was made from, at the tenant it was made for. The cache holds no decision: expiry, idle timeout, level
/// and path policy are checked on every request before it is used.
#[derive(Debug, Default)]
pub(crate) struct IdentityCache {
    map: Mutex<HashMap<[u8; 32], Prepared>>,
}

impl IdentityCache {
    /// The cache key of `session`'s login at `tenant` (a tenant's values carry its ID).
    pub(crate) fn key(session: &Session, tenant: Option<&str>) -> [u8; 32] {
        let info = session.info();
        let mut h = openssl::sha::Sha256::new();
        h.update(&[u8::from(tenant.is_some())]);
        for part in [
            tenant.unwrap_or(""),
            info.idp.as_str(),
            info.name_id.as_str(),
            info.session_index.as_deref().unwrap_or(""),
        ] {
            h.update(&(part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.update(&[session.level().number()]);
        h.update(&session.created().unix_seconds().to_be_bytes());
        h.finish()
    }

    /// The prepared identity under `key`, if any.
    pub(crate) fn get(&self, key: &[u8; 32]) -> Option<Prepared> {
        self.map.lock().ok()?.get(key).cloned()
    }

    /// Keeps `prepared` under `key`.
    pub(crate) fn put(&self, key: [u8; 32], prepared: Prepared) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CACHE_MAX && !map.contains_key(&key) {
                map.clear();
            }
            map.insert(key, prepared);
        }
    }
}

/// A header value for any UTF-8 text: as is when it is visible ASCII and spaces,
/// else RFC 8187-style percent-encoded UTF-8 with the `utf-8''` marker (names with
/// accents: `utf-8''Nicol%C3%B2`). Control characters never pass.
pub fn header_value(v: &str) -> Option<HeaderValue> {
    if v.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return HeaderValue::from_str(v).ok();
    }
    let mut out = String::from("utf-8''");
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&out).ok()
}

/// The `Cookie` value the application may get: the request's cookies without the
/// gateway's (`/spid/auth` answers it in `<prefix>Cookie`, for `auth_request_set`).
pub(crate) fn app_cookie(headers: &HeaderMap) -> HeaderValue {
    let mut only = HeaderMap::new();
    for v in headers.get_all(header::COOKIE) {
        only.append(header::COOKIE, v.clone());
    }
    strip_own_cookies(&mut only);
    only.remove(header::COOKIE)
        .unwrap_or(HeaderValue::from_static(""))
}

/// Removes the gateway's cookies (`spid_*`, `__Host-spid_*`) from `Cookie`: the upstream
/// never sees the session token.
fn strip_own_cookies(headers: &mut HeaderMap) {
    let values: Vec<HeaderValue> = headers.get_all(header::COOKIE).iter().cloned().collect();
    if values.is_empty() {
        return;
    }
    headers.remove(header::COOKIE);
    let mut kept = String::new();
    for v in values {
        let Ok(text) = v.to_str() else { continue };
        for pair in text.split(';') {
            let pair = pair.trim();
            let name = pair.split('=').next().unwrap_or("");
            if pair.is_empty() || name.starts_with("spid_") || name.starts_with("__Host-spid_") {
                continue;
            }
            if !kept.is_empty() {
                kept.push_str("; ");
            }
            kept.push_str(pair);
        }
    }
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::try_from(kept) {
            headers.insert(header::COOKIE, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_headers_and_cookies_go() {
        let h = IdentityHeaders::new("X-Spid-", &all_fields(), Some("Authorization")).unwrap();
        let mut m = HeaderMap::new();
        m.insert("x-spid-fiscal-code", HeaderValue::from_static("FAKE"));
        m.append("X-SPID-LEVEL", HeaderValue::from_static("3"));
        m.insert("x-spidx", HeaderValue::from_static("kept"));
        m.insert("authorization", HeaderValue::from_static("Bearer forged"));
        m.insert(
            "cookie",
            HeaderValue::from_static("a=1; __Host-spid_session=tok; spid_login=x; b=2"),
        );
        h.strip(&mut m);
        assert!(m.get("x-spid-fiscal-code").is_none());
        assert!(m.get("x-spid-level").is_none());
        assert!(m.get("authorization").is_none());
        assert_eq!(m.get("x-spidx").unwrap(), "kept");
        assert_eq!(m.get("cookie").unwrap(), "a=1; b=2");
        assert!(IdentityHeaders::new("X", &[], None).is_err());
        assert_eq!(header_value("Nicolò").unwrap(), "utf-8''Nicol%C3%B2");
        assert_eq!(header_value("Rossi").unwrap(), "Rossi");
        assert!(header_value("a\r\nb").is_some_and(|v| !v.as_bytes().contains(&b'\n')));
    }
    /// An OpenID Connect session (source `Oidc`, as the callback stores it) gives the same
    /// identity headers as a SAML one: the fiscal code from the mapped claim, names, the
    /// level, the OP as `idp`, and a session handle over (OP, `sub`).
    #[test]
    fn oidc_sessions_give_the_same_headers() {
        use crate::identity::{Attributes, IdentitySource};
        let mut attrs = Attributes::new();
        attrs.push("fiscalNumber", vec!["TINIT-RSSMRA80A01H501U".to_owned()]);
        attrs.push("name", vec!["Nicolò".to_owned()]);
        attrs.push("familyName", vec!["Rossi".to_owned()]);
        let op = "https://op.example.it/oidc/op";
        let now = crate::time::Timestamp::from_unix_seconds(1_700_000_000);
        let s = crate::axum::oidc_session_for_test(
            attrs,
            op,
            "sub-1",
            crate::level::SpidLevel::L2,
            now,
        );
        assert_eq!(s.identity().source(), IdentitySource::Oidc);
        let h = IdentityHeaders::new("X-Spid-", &all_fields(), None).unwrap();
        let v: HashMap<String, String> = h
            .values(&s)
            .into_iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        assert_eq!(v["x-spid-fiscal-code"], "RSSMRA80A01H501U");
        assert_eq!(v["x-spid-name"], "utf-8''Nicol%C3%B2");
        assert_eq!(v["x-spid-family-name"], "Rossi");
        assert_eq!(v["x-spid-level"], "2");
        assert_eq!(v["x-spid-idp"], op);
        assert_eq!(v["x-spid-session"], session_handle(&s));
        assert!(!v.contains_key("x-spid-eidas-id"));
        // Two logins of the same user at the OP are two cache entries.
        let again = crate::axum::oidc_session_for_test(
            Attributes::new(),
            op,
            "sub-1",
            crate::level::SpidLevel::L2,
            crate::time::Timestamp::from_unix_seconds(1_700_000_001),
        );
        assert_ne!(
            IdentityCache::key(&s, None),
            IdentityCache::key(&again, None)
        );
    }
}
