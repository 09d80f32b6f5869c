//! Shared test helpers: fresh keys, a configured SP and test IdP on a fixed clock, and a
//! raw HTTP/1.0 client for the tests that drive a real server over a socket.
#![allow(dead_code)]

#[cfg(feature = "gateway")]
pub mod gateway;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};
use spid_sp::metadata::IdentityProvider;
use spid_sp::test_idp::{ResponseSpec, TestIdp};
use spid_sp::{
    FixedClock, PendingLogin, ServiceProvider, SigningKey, SpConfig, SpidLevel, Timestamp,
};

pub const SP: &str = "https://sp.test.example/spid";
pub const ACS: &str = "https://sp.test.example/spid/acs";
pub const SLO: &str = "https://sp.test.example/spid/slo";
pub const IDP: &str = "https://idp.local.test";

/// A fresh RSA key with a self-signed certificate.
pub fn keypair(cn: &str, bits: u32) -> SigningKey {
    self_signed(cn, bits, 2_500_000_000)
}

/// A fresh 2048-bit key whose self-signed certificate expires at `not_after` (unix).
pub fn keypair_until(cn: &str, not_after: i64) -> SigningKey {
    self_signed(cn, 2048, not_after)
}

fn self_signed(cn: &str, bits: u32, not_after: i64) -> SigningKey {
    let rsa = Rsa::generate(bits).unwrap();
    let key = PKey::from_rsa(rsa).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(1_600_000_000).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(not_after).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    SigningKey::new(key, b.build()).unwrap()
}

/// Whether every one of `tools` answers `--version`. When one is missing: a failure under
/// CI (`CI` set), else a notice that `what` is skipped and `false`.
pub fn tools_available(tools: &[&str], packages: &str, what: &str) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| {
            !Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{missing:?} required under CI (apt-get install {packages})"
    );
    eprintln!("NOTICE: {missing:?} not installed; {what} skipped (apt-get install {packages})");
    false
}

pub fn now() -> Timestamp {
    Timestamp::parse("2026-01-15T10:00:00Z").unwrap()
}

pub struct World {
    pub sp: ServiceProvider,
    pub idp: TestIdp,
    pub sp_key: SigningKey,
}

/// An SP trusting one test IdP, on a fixed clock at `at`.
pub fn world_at(at: Timestamp) -> World {
    let sp_key = keypair("sp", 2048);
    let idp = TestIdp::new(IDP, keypair("idp", 2048));
    let config = SpConfig::builder(SP, sp_key.clone())
        .assertion_consumer_service(ACS)
        .attribute_service(
            0,
            "Servizi",
            &["fiscalNumber", "name", "familyName", "dateOfBirth"],
        )
        .logout_service(spid_sp::Binding::Redirect, SLO)
        .logout_service(spid_sp::Binding::Post, SLO)
        .build()
        .unwrap();
    let idps = IdentityProvider::from_metadata(&idp.metadata("https://idp.local.test")).unwrap();
    let sp = ServiceProvider::new(config, idps)
        .expect("service provider")
        .with_clock(Arc::new(FixedClock(at)));
    World { sp, idp, sp_key }
}

/// The spec of a level-2 Response to `pending`, for this SP and its ACS, issued at [`now`].
pub fn spec_for(pending: &PendingLogin) -> ResponseSpec {
    ResponseSpec::new(pending.request_id().as_str(), ACS, SP, SpidLevel::L2, now())
}

/// The IdP's POST back to the ACS: the Response and the RelayState sent with the request.
pub fn answer(xml: &str, pending: &PendingLogin) -> spid_sp::Incoming {
    post(xml, Some(pending.relay_state().as_str()))
}

pub fn post(xml: &str, relay_state: Option<&str>) -> spid_sp::Incoming {
    use base64::Engine as _;
    spid_sp::Incoming::Post {
        message: base64::engine::general_purpose::STANDARD.encode(xml),
        relay_state: relay_state.map(str::to_owned),
    }
}

// ---------------------------------------------------------------------------------------
// A raw HTTP/1.0 client: one request a connection, read until the server closes it
// ---------------------------------------------------------------------------------------

/// An HTTP answer: the status, the headers (names lowercased, in order) and the body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// Parses a whole answer; panics unless it is UTF-8 with a status line and a blank line
    /// after the head.
    pub fn parse(raw: Vec<u8>) -> Reply {
        let raw = String::from_utf8(raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        Reply::from_parts(head, body, true)
    }

    /// Parses whatever came back: lossy UTF-8, all of it as the head when there is no blank
    /// line, status 0 when there is no status line.
    pub fn parse_lossy(raw: &[u8]) -> Reply {
        let raw = String::from_utf8_lossy(raw);
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        Reply::from_parts(head, body, false)
    }

    fn from_parts(head: &str, body: &str, strict: bool) -> Reply {
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok());
        let status = if strict {
            status.expect("a status line")
        } else {
            status.unwrap_or(0)
        };
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Reply {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `(name, value)` of each Set-Cookie, in order.
    fn set_cookies(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .filter_map(|(_, v)| v.split(';').next()?.split_once('='))
    }

    /// The value of the first Set-Cookie named `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    /// `name=value` of each Set-Cookie (for a name set twice, the last one).
    pub fn cookies(&self) -> HashMap<String, String> {
        self.set_cookies()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The `value` of the page's `name="NAME" value="..."` input, as written in the page.
    pub fn form_field(&self, name: &str) -> Option<String> {
        attr_value(&self.body, &format!("name=\"{name}\" value=\""))
    }

    /// [`Reply::form_field`] decoded from HTML attribute escaping.
    pub fn field(&self, name: &str) -> Option<String> {
        self.form_field(name).map(|v| {
            v.replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
    }

    /// The action of the page's `<form method="post">`, `&amp;` decoded.
    pub fn form_action(&self) -> Option<String> {
        attr_value(&self.body, "<form method=\"post\" action=\"").map(|a| a.replace("&amp;", "&"))
    }
}

/// What stands in `text` between `marker` and the next `"`.
pub fn attr_value(text: &str, marker: &str) -> Option<String> {
    let start = text.find(marker)? + marker.len();
    let end = text.get(start..)?.find('"')? + start;
    text.get(start..end).map(str::to_owned)
}

/// `s` encoded for a query string or a form body (`quote_plus`).
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    spid_sp::binding::redirect::quote_plus(s, &mut out);
    out
}

/// An `application/x-www-form-urlencoded` body: `name=value&...`, the values encoded.
pub fn form(fields: &[(&str, &str)]) -> String {
    spid_sp::binding::post::encode_form(fields)
}

/// An HTTP/1.0 request to `addr`, ready to send on a fresh connection (the server closes
/// it after the answer).
pub struct Request {
    addr: SocketAddr,
    text: String,
    /// The local address to connect from (`send_async` only), e.g. 127.0.0.2.
    from: Option<std::net::IpAddr>,
}

/// A request to `addr`: the cookies in one Cookie header, `form` as a urlencoded body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookies: &[(&str, &str)],
    form: Option<&str>,
) -> Request {
    use std::fmt::Write as _;
    let mut text = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
    if !cookies.is_empty() {
        let c: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(text, "Cookie: {}\r\n", c.join("; "));
    }
    if let Some(body) = form {
        let _ = write!(
            text,
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    text.push_str("\r\n");
    if let Some(body) = form {
        text.push_str(body);
    }
    Request {
        addr,
        text,
        from: None,
    }
}

impl Request {
    /// Adds a header (e.g. `Origin`, as a browser sends on a POST).
    pub fn header(mut self, name: &str, value: &str) -> Request {
        let end = self.text.find("\r\n\r\n").unwrap();
        self.text.insert_str(end, &format!("\r\n{name}: {value}"));
        self
    }

    /// Connects from this local address (another client on loopback: 127.0.0.2, ...);
    /// [`Request::send_async`] only.
    pub fn source_ip(mut self, ip: std::net::IpAddr) -> Request {
        self.from = Some(ip);
        self
    }

    /// Sends it and reads until the server closes the connection. `timeouts`: to connect
    /// and for each read (none: wait as long as it takes).
    fn exchange(&self, timeouts: Option<(Duration, Duration)>) -> Vec<u8> {
        let mut s = match timeouts {
            Some((connect, _)) => TcpStream::connect_timeout(&self.addr, connect),
            None => TcpStream::connect(self.addr),
        }
        .unwrap();
        if let Some((_, read)) = timeouts {
            s.set_read_timeout(Some(read)).unwrap();
        }
        s.write_all(self.text.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        raw
    }

    /// For tests without a runtime: at most 10 s to connect and 30 s a read; whatever
    /// comes back is parsed ([`Reply::parse_lossy`]).
    pub fn send(&self) -> Reply {
        let timeouts = (Duration::from_secs(10), Duration::from_secs(30));
        Reply::parse_lossy(&self.exchange(Some(timeouts)))
    }

    /// For async tests: a plain blocking socket on a blocking thread (the server runs on
    /// the runtime); the answer must be well-formed ([`Reply::parse`]).
    #[cfg(feature = "axum")]
    pub async fn send_async(self) -> Reply {
        let raw = match self.from {
            None => tokio::task::spawn_blocking(move || self.exchange(None))
                .await
                .unwrap(),
            Some(ip) => {
                let socket = match ip {
                    std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
                    std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
                }
                .unwrap();
                socket.bind(SocketAddr::new(ip, 0)).unwrap();
                let stream = socket.connect(self.addr).await.unwrap();
                let mut s = stream.into_std().unwrap();
                s.set_nonblocking(false).unwrap();
                tokio::task::spawn_blocking(move || {
                    s.write_all(self.text.as_bytes()).unwrap();
                    let mut raw = Vec::new();
                    s.read_to_end(&mut raw).unwrap();
                    raw
                })
                .await
                .unwrap()
            }
        };
        Reply::parse(raw)
    }
}

/// Percent-encodes a PEM the way a TLS-terminating proxy puts it in a header (nginx's
/// `$ssl_client_escaped_cert`): unreserved characters as they are, every other byte `%XX`.
pub fn percent_escaped(pem: &[u8]) -> String {
    let mut out = String::new();
    for &b in pem {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /spid/cns/certificate?state=STATE` over a real TLS connection to a CNS listener at
/// `tls` (blocking: call it from `spawn_blocking`), with `card`'s certificate and key as
/// the client's (or none) and optionally one more header (`name`, `value`); the raw answer.
#[cfg(all(feature = "cns-tls", feature = "test-idp"))]
pub fn cns_certificate_over_tls(
    tls: SocketAddr,
    pki: &spid_sp::cns::test_pki::TestPki,
    state: &str,
    card: Option<spid_sp::cns::test_pki::TestCard>,
    header: Option<(&str, &str)>,
) -> Vec<u8> {
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_verify(SslVerifyMode::NONE);
    if let Some(card) = card {
        b.set_certificate(&openssl::x509::X509::from_pem(&pki.card_pem(card)).unwrap())
            .unwrap();
        b.set_private_key(&PKey::private_key_from_pem(&pki.card_key_pem()).unwrap())
            .unwrap();
    }
    let tcp = TcpStream::connect(tls).unwrap();
    let mut s = b.build().connect("localhost", tcp).unwrap();
    let mut text = format!("GET /spid/cns/certificate?state={state} HTTP/1.0\r\nHost: {tls}\r\n");
    if let Some((name, value)) = header {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    s.write_all(text.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    raw
}
