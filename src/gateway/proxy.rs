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
use axum::http::uri::Authority;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

use super::config::Upstream;
use super::pages::{self, Problem};

/// Marks a response that comes from the upstream (not a page of the gateway).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FromUpstream;

/// The HTTP/1.1 client of one upstream: keep-alive connections pooled **per thread** (a
/// connection's task runs on the thread that opened it, and only that thread's requests
/// use it: a request, its upstream exchange and its response never cross threads), with
/// the upstream's authority and `Host` value parsed once.
#[derive(Clone, Debug)]
pub(crate) struct UpstreamClient {
    /// This upstream's pool in each thread's [`POOLS`].
    id: usize,
    /// `host:port`, `None` when it does not parse (then every request is a 400).
    authority: Option<Authority>,
    /// The `Host` header sent upstream (the authority, without `:80`).
    host: Option<HeaderValue>,
    connect_timeout: Duration,
}

/// Idle keep-alive connections kept per upstream and per thread: enough for the
/// concurrency a front proxy opens (nginx's `keepalive 64` in docs/gateway.md), bounded
/// so a burst does not leave thousands of idle sockets behind.
const POOL_IDLE_PER_HOST: usize = 256;

/// An idle connection older than this is closed instead of reused.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A pooled connection (idle, or still streaming the answer it was last used for).
struct Pooled {
    sender: http1::SendRequest<Body>,
    since: std::time::Instant,
}

thread_local! {
    /// This thread's connections, per upstream ([`UpstreamClient::id`]).
    static POOLS: std::cell::RefCell<Vec<(usize, std::collections::VecDeque<Pooled>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// A client with the upstream's connect timeout.
pub(crate) fn client(upstream: &Upstream) -> UpstreamClient {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let authority = Authority::try_from(upstream.authority.as_str()).ok();
    let host = authority.as_ref().and_then(|a| {
        let value = match a.port_u16() {
            Some(80) => a.host(),
            _ => a.as_str(),
        };
        HeaderValue::from_str(value).ok()
    });
    UpstreamClient {
        id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        authority,
        host,
        connect_timeout: upstream.connect_timeout,
    }
}

/// Why the upstream exchange failed.
enum SendError {
    /// No connection (refused, unreachable, connect timeout, name not resolved).
    Connect,
    /// The connection failed during the exchange.
    Exchange,
}

impl UpstreamClient {
    /// An idle connection of this thread's pool (the most recently used first); closed or
    /// expired ones are dropped, busy ones stay.
    fn checkout(&self) -> Option<http1::SendRequest<Body>> {
        POOLS.with(|pools| {
            let mut pools = pools.try_borrow_mut().ok()?;
            let (_, pool) = pools.iter_mut().find(|(id, _)| *id == self.id)?;
            let now = std::time::Instant::now();
            let mut i = pool.len();
            while i > 0 {
                i -= 1;
                let Some(c) = pool.get(i) else { break };
                if c.sender.is_closed()
                    || (c.sender.is_ready() && now.duration_since(c.since) > POOL_IDLE_TIMEOUT)
                {
                    pool.remove(i);
                } else if c.sender.is_ready() {
                    return pool.remove(i).map(|c| c.sender);
                }
            }
            None
        })
    }

    /// Puts a connection back (it is reused once its current answer has been read).
    fn checkin(&self, sender: http1::SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        POOLS.with(|pools| {
            let Ok(mut pools) = pools.try_borrow_mut() else {
                return;
            };
            let pool = match pools.iter().position(|(id, _)| *id == self.id) {
                Some(i) => pools.get_mut(i).map(|(_, p)| p),
                None => {
                    pools.push((self.id, std::collections::VecDeque::new()));
                    pools.last_mut().map(|(_, p)| p)
                }
            };
            if let Some(pool) = pool {
                if pool.len() >= POOL_IDLE_PER_HOST {
                    // The oldest goes (it closes once its exchange, if any, is over).
                    pool.pop_front();
                }
                pool.push_back(Pooled {
                    sender,
                    since: std::time::Instant::now(),
                });
            }
        });
    }

    /// A new connection; its task runs on this thread's runtime.
    async fn connect(&self, authority: &Authority) -> Result<http1::SendRequest<Body>, SendError> {
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(80);
        let stream = tokio::time::timeout(
            self.connect_timeout,
            tokio::net::TcpStream::connect((host, port)),
        )
        .await
        .map_err(|_| SendError::Connect)?
        .map_err(|_| SendError::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| SendError::Connect)?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        Ok(sender)
    }

    /// Sends `req` on a pooled connection, or a new one; a request a pooled connection
    /// could not take (closed meanwhile: nothing was sent) goes once on a new connection.
    async fn send(
        &self,
        authority: &Authority,
        req: Request,
        reuse: bool,
    ) -> Result<Response<hyper::body::Incoming>, SendError> {
        let (mut sender, pooled) = match self.checkout() {
            Some(s) => (s, true),
            None => (self.connect(authority).await?, false),
        };
        let res = match sender.try_send_request(req).await {
            Ok(res) => res,
            Err(mut e) => match e.take_message() {
                Some(req) if pooled => {
                    sender = self.connect(authority).await?;
                    sender
                        .send_request(req)
                        .await
                        .map_err(|_| SendError::Exchange)?
                }
                _ => return Err(SendError::Exchange),
            },
        };
        if reuse && res.status() != StatusCode::SWITCHING_PROTOCOLS {
            self.checkin(sender);
        }
        Ok(res)
    }
}

/// Headers that belong to one connection (RFC 9110 §7.6.1), never forwarded.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];
/// Names the gateway sets on every proxied request, parsed once (a `&str` name is
/// parsed again on every insert or removal).
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// The request ID header sent upstream and echoed to the client.
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

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
    for h in &HOP_BY_HOP {
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
        let xff = X_FORWARDED_FOR;
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
        headers.remove(header::FORWARDED);
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
        headers.insert(X_FORWARDED_PROTO, self.proto.clone());
        headers.insert(X_FORWARDED_HOST, self.host.clone());
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
    let (Some(authority), Some(host)) = (&client.authority, &client.host) else {
        return pages::problem(Problem::BadRequest, lang);
    };
    // Origin form (`/path?query`) and the upstream's `Host`, as an HTTP/1.1 client sends.
    let path = req
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or(axum::http::uri::PathAndQuery::from_static("/"));
    *req.uri_mut() = Uri::from(path);
    *req.version_mut() = axum::http::Version::HTTP_11;
    req.headers_mut().insert(header::HOST, host.clone());
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    if let Some(u) = &upgrade {
        req.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        req.headers_mut().insert(header::UPGRADE, u.clone());
    }
    let sent = tokio::time::timeout(
        upstream.response_timeout,
        client.send(authority, req, upgrade.is_none()),
    )
    .await;
    let mut res = match sent {
        Err(_) => {
            tracing::warn!(target: "spid_sp::gateway", upstream = %upstream.url, code = "upstream_timeout", "upstream did not answer in time");
            return pages::problem(Problem::Timeout, lang);
        }
        Ok(Err(e)) => {
            let connect = matches!(e, SendError::Connect);
            tracing::warn!(target: "spid_sp::gateway", upstream = %upstream.url, code = "upstream_error", connect, "upstream unreachable");
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
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A keep-alive upstream that answers each request with its request line and `Host`,
    /// and closes each connection after `per_connection` answers (without saying so, as
    /// an upstream whose keep-alive timeout passed). Returns its address and a counter
    /// of accepted connections.
    async fn keep_alive_upstream(
        per_connection: usize,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    for _ in 0..per_connection {
                        let mut chunk = [0u8; 4096];
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        buf.drain(..end);
                        let line = head.lines().next().unwrap_or("").to_owned();
                        let host = head
                            .lines()
                            .find(|l| l.to_ascii_lowercase().starts_with("host:"))
                            .unwrap_or("")
                            .to_owned();
                        let text = format!("{line}\n{host}");
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{text}",
                            text.len()
                        );
                        if s.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    fn upstream(authority: &str) -> Upstream {
        Upstream {
            prefix: "/".into(),
            url: format!("http://{authority}"),
            authority: authority.into(),
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(5),
            idle_timeout: None,
        }
    }

    async fn send(c: &UpstreamClient, u: &Upstream, path: &str) -> (StatusCode, String) {
        let req = Request::builder()
            .uri(path)
            .header(header::HOST, "portal.example.it")
            .body(Body::empty())
            .unwrap();
        let res = forward(c, u, req, None).await;
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn keep_alive_connections_are_reused_and_requests_go_in_origin_form() {
        let (addr, accepted) = keep_alive_upstream(usize::MAX).await;
        let u = upstream(&addr);
        let c = client(&u);
        for i in 0..5 {
            let (status, body) = send(&c, &u, &format!("/a/{i}?q=1")).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(
                body,
                format!("GET /a/{i}?q=1 HTTP/1.1\nhost: {addr}"),
                "origin form, the upstream's Host"
            );
        }
        assert_eq!(
            accepted.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "one connection"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_connection_the_upstream_closed_is_not_a_502() {
        // Each connection serves one answer, then the upstream closes it silently.
        let (addr, accepted) = keep_alive_upstream(1).await;
        let u = upstream(&addr);
        let c = client(&u);
        for _ in 0..4 {
            let (status, _) = send(&c, &u, "/").await;
            assert_eq!(status, StatusCode::OK);
            // Let the closed connection's task see the end of the stream, or not: either
            // way the next request must be answered.
            tokio::task::yield_now().await;
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 4);
    }

    #[test]
    fn the_host_header_is_the_upstreams_without_port_80() {
        let c = client(&upstream("app.internal:80"));
        assert_eq!(c.host.as_ref().unwrap(), "app.internal");
        let c = client(&upstream("[::1]:8080"));
        assert_eq!(c.host.as_ref().unwrap(), "[::1]:8080");
        let c = client(&upstream("not a host"));
        assert!(c.authority.is_none());
    }

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
