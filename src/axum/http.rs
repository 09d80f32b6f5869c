//! HTTP helpers shared by the handlers: cookies, tokens, redirects, client buckets,
//! origins, the blocking pool.

#[allow(unused_imports)]
use super::*;

/// The session cookie.
pub(super) const SESSION_COOKIE: &str = "spid_session";
/// The cookie that binds a login to the browser that started it.
pub(super) const BROWSER_COOKIE: &str = "spid_browser";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A local path to return to: `/...`, not `//host` or `/\host`, printable ASCII without
/// backslashes, bounded. Anything else (absolute URLs included) gives `None`.
pub fn safe_next(next: &str) -> Option<String> {
    let ok = next.len() <= MAX_NEXT
        && next.starts_with('/')
        && !next.starts_with("//")
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    ok.then(|| next.to_owned())
}

/// Runs a handler's synchronous part (store calls, RSA signing and verification) on
/// tokio's blocking pool: a store over the network (Redis) or a burst of logins never
/// stalls the async workers. See docs/scale-out.md for the measurements.
pub(super) async fn blocking(
    auth: SpidAuth,
    language: Language,
    f: impl FnOnce(&SpidAuth) -> Response + Send + 'static,
) -> Response {
    let a = auth.clone();
    // The request's `http` span follows the work onto the blocking pool.
    let span = tracing::Span::current();
    match ::tokio::task::spawn_blocking(move || span.in_scope(|| f(&a))).await {
        Ok(res) => res,
        Err(_) => auth.error_response(&AuthError::Store(worker_failed()), language),
    }
}

/// [`blocking`] for a step that returns a value: the handler awaits something between two
/// synchronous parts (the ACS awaits the registry's group commit).
pub(super) async fn blocking_value<T: Send + 'static>(
    auth: &SpidAuth,
    f: impl FnOnce(&SpidAuth) -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    let a = auth.clone();
    let span = tracing::Span::current();
    ::tokio::task::spawn_blocking(move || span.in_scope(|| f(&a)))
        .await
        .unwrap_or_else(|_| Err(AuthError::Store(worker_failed())))
}

pub(super) fn worker_failed() -> StoreError {
    StoreError("request worker failed".into())
}

/// The answer that delivers a signed message: a 302 or an auto-submitting form.
pub(super) fn deliver(outgoing: &Outgoing) -> Result<Response, AuthError> {
    match outgoing.delivery() {
        Delivery::Redirect { url } => redirect(StatusCode::FOUND, url),
        Delivery::Post { .. } => {
            let nonce = token_string()?;
            let page = outgoing
                .html_form(Some(&nonce))
                .ok_or(AuthError::BadRequest("no form for this binding"))?;
            let mut res = html_response(StatusCode::OK, page);
            let csp = format!(
                "default-src 'none'; script-src 'nonce-{nonce}'; base-uri 'none'; frame-ancestors 'none'"
            );
            append_header(&mut res, header::CONTENT_SECURITY_POLICY, &csp);
            Ok(res)
        }
    }
}

pub(crate) fn html_response(status: StatusCode, html: String) -> Response {
    let mut res = (status, html).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

pub(crate) fn redirect(status: StatusCode, location: &str) -> Result<Response, AuthError> {
    let value = HeaderValue::from_str(location)
        .map_err(|_| AuthError::BadRequest("redirect target not encodable"))?;
    let mut res = status.into_response();
    res.headers_mut().insert(header::LOCATION, value);
    Ok(res)
}

pub(crate) fn append_header(res: &mut Response, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(name, v);
    }
}

pub(crate) fn no_store(res: &mut Response) {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The peer address of the connection: [`ConnectInfo`] (the server must be run with
/// `into_make_service_with_connect_info::<SocketAddr>()`), or axum's [`MockConnectInfo`]
/// in tests.
pub(crate) fn peer_addr(extensions: &::axum::http::Extensions) -> Option<SocketAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .or_else(|| extensions.get::<MockConnectInfo<SocketAddr>>().map(|m| m.0))
}

/// The bucket of an address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64 (what
/// one subscriber usually gets).
pub(super) fn ip_bucket(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("ip4:{v4}"),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("ip6:{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
    }
}

/// The last address of a forwarding header (the one the trusted proxy appended): a bare
/// IP, or `IP:port` / `[IPv6]:port`.
pub(super) fn forwarded_ip(headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
    let last = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let item = last.rsplit(',').next()?.trim();
    item.parse::<IpAddr>()
        .ok()
        .or_else(|| item.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// `scheme://host[:port]` of an http(s) URL or origin, lowercased, without a default port
/// (how browsers serialise `Origin`); `None` for anything else (`null` included).
pub(super) fn normalize_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains(['@', '\\', ' ']) {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => (h, Some(p)),
        _ => (authority.as_str(), None),
    };
    if host.starts_with('[') != host.ends_with(']') {
        return None;
    }
    match port {
        Some(p) if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) => None,
        Some(p) if p == default_port => Some(format!("{scheme}://{host}")),
        Some(p) => Some(format!("{scheme}://{host}:{p}")),
        None => Some(format!("{scheme}://{host}")),
    }
}

/// A cookie value by name: the first well-formed token (64 hex digits).
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, v)| *k == name && is_token(v))
        .map(|(_, v)| v.to_owned())
}

pub(super) fn is_token(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// 256 random bits, hex.
pub(super) fn token_string() -> Result<String, AuthError> {
    crate::ids::random_token("", 32).map_err(|_| {
        // A `Start` error this layer makes itself: logged here (see `log_auth_error`).
        log_own_start_error(&StartError::Random);
        AuthError::Start(StartError::Random)
    })
}

pub(super) use crate::printable::hex;

/// What the stores keep instead of a cookie value.
pub(super) fn hash(token: &str) -> String {
    hex(&crate::dsig::sha256(token.as_bytes()))
}

pub(super) fn name_id_key(idp: &str, name_id: &str) -> String {
    format!("nameid:{}", hash(&format!("{idp}\n{name_id}")))
}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

pub(super) fn corrupt() -> StoreError {
    StoreError("stored value unreadable".into())
}
