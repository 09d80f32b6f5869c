//! Helpers of the gateway tests (tests/gateway.rs, tests/gateway_tenants.rs): the echo
//! upstream, the local test IdP trusting the gateway's SPs, serving the gateway's router,
//! and posting a page's auto-submitting form.

use std::net::SocketAddr;
use std::path::PathBuf;

use spid_sp::test_idp::server::TestIdpServer;
use spid_sp::test_idp::{TestIdp, TestIdpMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{request, Reply};

/// A file under tests/data.
pub fn data(path: &str) -> String {
    format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty scratch directory `<target tmp>/<suite>/<name>`.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(suite)
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The echo upstream: answers each request with its head (request line and headers) as
/// the body. `/slow...` is never answered; `Upgrade` requests get 101 and an echo of the
/// raw bytes that follow.
pub async fn echo_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let lower = head.to_ascii_lowercase();
                if head.contains("/public/trickle ") {
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                        .await;
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                    return;
                }
                if head.contains("/slow ") {
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                    return;
                }
                if lower.contains("\r\nupgrade: websocket") {
                    s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
                        .await
                        .unwrap();
                    let rest = buf[head_end + 4..].to_vec();
                    s.write_all(&rest).await.unwrap();
                    loop {
                        let n = s.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 || s.write_all(&chunk[..n]).await.is_err() {
                            return;
                        }
                    }
                }
                let len: usize = lower
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |v| v.trim().parse().unwrap());
                let mut body = buf[head_end + 4..].to_vec();
                while body.len() < len {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
                let text = format!("{head}\r\nbody-bytes: {}\r\n", body.len());
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close, x-upstream-secret\r\nx-upstream-secret: 1\r\n\r\n{text}",
                    text.len()
                );
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    addr
}

/// The local test IdP at `idp_url` (a fresh key), trusting each SP metadata of
/// `sp_metadata`.
pub fn test_idp(idp_url: &str, sp_metadata: &[&str]) -> TestIdpServer {
    let (k, c) = TestIdp::generate_key_pem("127.0.0.1", 30).unwrap();
    let key = spid_sp::SigningKey::from_pem(&k, &c).unwrap();
    let mut server = TestIdpServer::new(
        TestIdpMode::IKnowThisIsNotAnAccreditedIdp,
        TestIdp::new(idp_url.to_owned(), key),
        idp_url.to_owned(),
    )
    .unwrap();
    for m in sp_metadata {
        server = server.trust_sp_metadata(m).unwrap();
    }
    server
}

/// Serves the gateway's `router` on `listener` (with the peer address), in the background.
pub fn serve(listener: tokio::net::TcpListener, router: axum::Router) {
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
}

/// Posts the page's auto-submitting form.
pub async fn submit(addr: SocketAddr, page: &Reply, cookies: &[(&str, &str)]) -> Reply {
    let action = page.form_action().expect("a form");
    let path = action
        .strip_prefix(&format!("http://{addr}"))
        .unwrap_or(&action)
        .to_owned();
    let fields: Vec<(String, String)> = [
        "SAMLRequest",
        "SAMLResponse",
        "RelayState",
        "SigAlg",
        "Signature",
    ]
    .iter()
    .filter_map(|n| page.field(n).map(|v| ((*n).to_owned(), v)))
    .collect();
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    request(addr, "POST", &path, cookies, Some(&super::form(&refs)))
        .send_async()
        .await
}
