//! The reverse proxy: streaming bodies both ways, WebSocket (any HTTP/1.1 upgrade),
//! `X-Forwarded-*`, hop-by-hop headers removed, upstream errors as 502 and timeouts as 504.

use std::future::Future as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::uri::{Authority, Scheme};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::config::Upstream;
use super::pages::{self, Problem};

/// Marks a response that comes from the upstream (not a page of the gateway).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FromUpstream;

/// The pooled HTTP/1.1 client of one upstream (keep-alive connections reused), with the
/// upstream's authority parsed once.
#[derive(Clone, Debug)]
pub(crate) struct UpstreamClient {
    client: Client<HttpConnector, Body>,
    /// `host:port`, `None` when it does not parse (then every request is a 400).
    authority: Option<Authority>,
}

/// Idle keep-alive connections kept per upstream: enough for the concurrency a front
/// proxy opens (nginx's `keepalive 64` in docs/gateway.md), bounded so a burst does not
/// leave thousands of idle sockets behind.
const POOL_IDLE_PER_HOST: usize = 256;

/// A client with the upstream's connect timeout.
pub(crate) fn client(upstream: &Upstream) -> UpstreamClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(upstream.connect_timeout));
    connector.set_nodelay(true);
    connector.enforce_http(true);
    UpstreamClient {
        client: Client::builder(TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(30))
            .pool_max_idle_per_host(POOL_IDLE_PER_HOST)
            .build(connector),
        authority: Authority::try_from(upstream.authority.as_str()).ok(),
    }
}

/// Headers that belong to one connection (RFC 9110 §7.6.1), never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
];

/// Removes the hop-by-hop headers, those `Connection` names, and `Upgrade`; returns the
/// `Upgrade` value when the message asked for one (`Connection: upgrade`).
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap) -> Option<HeaderValue> {
    let upgrade = headers.remove(header::UPGRADE);
    let mut upgrade_asked = false;
    if headers.contains_key(header::CONNECTION) {
        let mut named: Vec<HeaderName> = Vec::new();
        for v in headers.get_all(header::CONNECTION) {
            for token in v.to_str().unwrap_or("").split(',') {
                let token = token.trim().to_ascii_lowercase();
                if token == "upgrade" {
                    upgrade_asked = true;
                }
                if let Ok(n) = HeaderName::try_from(token.as_str()) {
                    named.push(n);
                }
            }
        }
        for n in named {
            headers.remove(n);
        }
    }
    for h in HOP_BY_HOP {
        headers.remove(h);
    }
    upgrade.filter(|_| upgrade_asked)
}

/// How the gateway names itself and its client to the upstream.
#[derive(Clone, Debug)]
pub(crate) struct Forwarded {
    /// `http` or `https` (the base URL's).
    pub proto: HeaderValue,
    /// The base URL's host\[:port\].
    pub host: HeaderValue,
    /// Keep the incoming `X-Forwarded-For` (a trusted proxy is in front) and append.
    pub trust_incoming: bool,
}

impl Forwarded {
    /// Sets `X-Forwarded-For`, `-Proto`, `-Host` (and removes `Forwarded`).
    pub(crate) fn apply(&self, headers: &mut HeaderMap, peer: Option<SocketAddr>) {
        use std::fmt::Write as _;
        let xff = HeaderName::from_static("x-forwarded-for");
        let mut chain = String::new();
        if self.trust_incoming {
            for v in headers.get_all(&xff) {
                if let Ok(v) = v.to_str() {
                    if !chain.is_empty() {
                        chain.push_str(", ");
                    }
                    chain.push_str(v);
                }
            }
        }
        headers.remove(&xff);
        headers.remove("forwarded");
        if let Some(p) = peer {
            if !chain.is_empty() {
                chain.push_str(", ");
            }
            let _ = write!(chain, "{}", p.ip().to_canonical());
        }
        if !chain.is_empty() {
            if let Ok(v) = HeaderValue::try_from(chain) {
                headers.insert(xff, v);
            }
        }
        headers.insert("x-forwarded-proto", self.proto.clone());
        headers.insert("x-forwarded-host", self.host.clone());
    }
}

/// Sends `req` (headers already prepared, hop-by-hop removed) to `upstream` and streams
/// the answer back; `upgrade` is the client's `Upgrade` value when it asked for one.
pub(crate) async fn forward(
    client: &UpstreamClient,
    upstream: &Upstream,
    mut req: Request,
    upgrade: Option<HeaderValue>,
) -> Response {
    let lang = crate::axum::Language::from_headers(req.headers());
    // The upstream URI from the request's own path and query (no copy, no re-parse).
    let mut parts = std::mem::take(req.uri_mut()).into_parts();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = client.authority.clone();
    if parts.path_and_query.is_none() {
        parts.path_and_query = Some(axum::http::uri::PathAndQuery::from_static("/"));
    }
    match Uri::from_parts(parts) {
        Ok(u) => *req.uri_mut() = u,
        Err(_) => return pages::problem(Problem::BadRequest, lang),
    }
    *req.version_mut() = axum::http::Version::HTTP_11;
    req.headers_mut().remove(header::HOST);
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    if let Some(u) = &upgrade {
        req.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        req.headers_mut().insert(header::UPGRADE, u.clone());
    }
    let sent = tokio::time::timeout(upstream.response_timeout, client.client.request(req)).await;
    let mut res = match sent {
        Err(_) => {
            tracing::warn!(target: "spid_sp::gateway", upstream = %upstream.url, code = "upstream_timeout", "upstream did not answer in time");
            return pages::problem(Problem::Timeout, lang);
        }
        Ok(Err(e)) => {
            tracing::warn!(target: "spid_sp::gateway", upstream = %upstream.url, code = "upstream_error", connect = e.is_connect(), "upstream unreachable");
            return pages::problem(Problem::BadGateway, lang);
        }
        Ok(Ok(res)) => res,
    };
    if res.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return pages::problem(Problem::BadGateway, lang);
        };
        let upstream_upgrade = hyper::upgrade::on(&mut res);
        let (parts, _) = res.into_parts();
        tokio::spawn(async move {
            if let (Ok(c), Ok(u)) = (client_upgrade.await, upstream_upgrade.await) {
                let (mut c, mut u) = (TokioIo::new(c), TokioIo::new(u));
                let _ = tokio::io::copy_bidirectional(&mut c, &mut u).await;
            }
        });
        let mut res = Response::from_parts(parts, Body::empty());
        res.extensions_mut().insert(FromUpstream);
        return res;
    }
    let (mut parts, body) = res.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    parts.extensions.insert(FromUpstream);
    match upstream.idle_timeout {
        Some(idle) => Response::from_parts(parts, Body::new(IdleBody::new(body, idle))),
        None => Response::from_parts(parts, Body::new(body)),
    }
}

/// A response body that fails (closing the client's and the upstream's connections)
/// when the upstream sends nothing for `idle`.
struct IdleBody<B> {
    inner: Pin<Box<B>>,
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl<B> IdleBody<B> {
    fn new(inner: B, idle: Duration) -> Self {
        IdleBody {
            inner: Box::pin(inner),
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
        }
    }
}

impl<B> HttpBody for IdleBody<B>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = &mut *self;
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = tokio::time::Instant::now() + this.idle;
                this.timer.as_mut().reset(next);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    tracing::warn!(target: "spid_sp::gateway", code = "upstream_idle_timeout", "upstream body idle too long: response cut");
                    Poll::Ready(Some(Err("upstream body idle timeout".into())))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_go() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, X-Secret, Upgrade"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        assert_eq!(remove_hop_by_hop(&mut h).unwrap(), "websocket");
        assert_eq!(h.len(), 1);
        let mut h = HeaderMap::new();
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        assert_eq!(remove_hop_by_hop(&mut h), None, "no Connection: upgrade");
    }
}
