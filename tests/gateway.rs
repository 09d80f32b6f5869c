//! The gateway (feature `gateway`, docs/gateway.md) on real sockets: an in-process echo
//! upstream, the local test IdP mounted as `spid-sp gateway --test-idp` mounts it, and a
//! raw HTTP/1.0 client. Login through the proxy, spoofed identity headers stripped, the
//! JWT verified with OpenSSL against the JWKS, auth_request 200/401, public / login / L3
//! step-up policies, upstream down (502) and silent (504), a WebSocket-style upgrade, and
//! `spid-sp gateway check`.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::gateway::{data, echo_upstream, scratch, serve, submit, test_idp};
use common::{enc, request, Reply};
use spid_sp::gateway::{Extras, Gateway, GatewayConfig, GatewayError, Prepared};
use spid_sp::metadata::IdentityProvider;
use spid_sp::test_idp::{TestIdp, TestIdpMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A gateway file: the SP (test-only key), `[gateway]` with `extra` appended.
fn config_text(base: &str, upstream: &str, audit_dir: &str, extra: &str) -> String {
    format!(
        r#"
entity_id = "{{base_url}}"
key_file = "{key}"
certificate_file = "{crt}"
assertion_consumer_services = ["{{base_url}}/spid/acs"]

[[single_logout_services]]
binding = "redirect"
url = "{{base_url}}/spid/slo"

[[attribute_services]]
index = 0
name = "Servizi"
attributes = ["fiscalNumber", "name", "familyName", "email"]

[metadata]
profile = "spid-sp-public"

[metadata.organization]
name = "Gateway test"
display_name = "Gateway test"
url = "{{base_url}}/"

[metadata.contact]
email = "gw@example.it"
ipa_code = "c_h501"
municipality = "H501"

[gateway]
base_url = "{base}"
level = 2

[gateway.audit]
dir = "{audit_dir}"

[[gateway.upstreams]]
url = "{upstream}"
connect_timeout_ms = 2000
response_timeout_ms = 400

[[gateway.paths]]
prefix = "/public"
access = "public"

[[gateway.paths]]
prefix = "/l3"
level = 3

[[gateway.paths]]
prefix = "/companies"
identities = ["legal_person"]
{extra}
"#,
        key = data("metadata/test-only-sp.key.pem"),
        crt = data("metadata/test-only-sp.crt.pem"),
    )
}

/// A running gateway in front of `upstream`, with the test IdP at `{base}/test-idp`.
struct Running {
    addr: SocketAddr,
    idp: String,
    /// The `[gateway.cns]` TLS listener, when `listen` is set.
    cns_tls: Option<SocketAddr>,
    gateway: Gateway,
}

async fn start(name: &str, upstream: &str, extra: &str) -> Running {
    start_with(name, upstream, extra, None, "").await
}

/// [`start`], the test IdP's federation overridden (e.g. eIDAS: the eIDAS node's rules).
async fn start_with(
    name: &str,
    upstream: &str,
    extra: &str,
    federation: Option<spid_sp::Federation>,
    gateway_keys: &str,
) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let audit = scratch("gateway", name).join("audit");
    let text = config_text(&base, upstream, audit.to_str().unwrap(), extra).replacen(
        "level = 2\n",
        &format!("level = 2\n{gateway_keys}"),
        1,
    );
    let config = GatewayConfig::from_toml_str(&text, std::path::Path::new(".")).unwrap();
    let prepared = Prepared::new(config).unwrap();
    let idp_url = format!("{base}/test-idp");
    let server = test_idp(&idp_url, &[&prepared.metadata_xml]);
    let extras = Extras {
        routes: Some(server.routes()),
        idps: IdentityProvider::from_metadata(&server.metadata())
            .unwrap()
            .into_iter()
            .map(|i| match federation {
                Some(f) => i.with_federation(f),
                None => i,
            })
            .collect(),
        allow_test_idp: Some(TestIdpMode::IKnowThisIsNotAnAccreditedIdp),
    };
    let (gateway, router) = Gateway::new(prepared, extras).unwrap();
    assert!(gateway.auth().allows_test_idp());
    let cns_tls = gateway.spawn_cns_listener().await.unwrap();
    serve(listener, router);
    Running {
        addr,
        idp: idp_url,
        cns_tls,
        gateway,
    }
}

async fn get(
    addr: SocketAddr,
    path: &str,
    cookies: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Reply {
    let mut r = request(addr, "GET", path, cookies, None);
    for (k, v) in headers {
        r = r.header(k, v);
    }
    r.send_async().await
}

/// A whole login through the test IdP as `user` at `level`, starting at `login_path`
/// (`/spid/login?...`): the cookies of the logged-in browser and where it lands.
async fn login(
    gw: &Running,
    login_path: &str,
    user: &str,
    level: u8,
    browser: Option<&str>,
) -> (Vec<(String, String)>, String) {
    let addr = gw.addr;
    let mut jar: Vec<(String, String)> = Vec::new();
    if let Some(b) = browser {
        jar.push(("spid_browser".into(), b.into()));
    }
    let r = get(addr, login_path, &refs(&jar), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    if let Some(b) = r.cookie("spid_browser") {
        jar.retain(|(k, _)| k != "spid_browser");
        jar.push(("spid_browser".into(), b));
    }
    let refs: Vec<(&str, &str)> = jar.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let form = submit(addr, &r, &refs).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let token = form.field("token").unwrap();
    let back = request(
        addr,
        "POST",
        "/test-idp/login",
        &refs,
        Some(&format!(
            "token={token}&user={user}&level={level}&outcome=login"
        )),
    )
    .send_async()
    .await;
    assert_eq!(back.status, 200, "{}", back.body);
    let acs = submit(addr, &back, &refs).await;
    assert_eq!(acs.status, 303, "{}", acs.body);
    let complete = get(addr, acs.header("location").unwrap(), &refs, &[]).await;
    assert_eq!(complete.status, 303, "{}", complete.body);
    let session = complete.cookie("spid_session").unwrap();
    jar.retain(|(k, _)| k != "spid_session");
    jar.push(("spid_session".into(), session));
    (jar, complete.header("location").unwrap().to_owned())
}

fn refs(jar: &[(String, String)]) -> Vec<(&str, &str)> {
    jar.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

/// The value of `name:` in the echoed head.
fn echoed<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Verifies a compact JWS with the JWKS (ES256 or RS256) using OpenSSL: the claims.
fn verify_jwt(token: &str, jwks: &str) -> serde_json::Value {
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::ecdsa::EcdsaSig;
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::sign::Verifier;

    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let jwks: serde_json::Value = serde_json::from_str(jwks).unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the kid is in the JWKS");
    let b = |k: &str| {
        BigNum::from_slice(&URL_SAFE_NO_PAD.decode(jwk[k].as_str().unwrap()).unwrap()).unwrap()
    };
    let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let (key, sig) = match header["alg"].as_str().unwrap() {
        "ES256" => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
            let ec = EcKey::from_public_key_affine_coordinates(&group, &b("x"), &b("y")).unwrap();
            let der = EcdsaSig::from_private_components(
                BigNum::from_slice(&sig[..32]).unwrap(),
                BigNum::from_slice(&sig[32..]).unwrap(),
            )
            .unwrap()
            .to_der()
            .unwrap();
            (PKey::from_ec_key(ec).unwrap(), der)
        }
        "RS256" => (
            PKey::from_rsa(Rsa::from_public_components(b("n"), b("e")).unwrap()).unwrap(),
            sig,
        ),
        other => panic!("alg {other}"),
    };
    let mut v = Verifier::new(MessageDigest::sha256(), &key).unwrap();
    v.update(format!("{}.{}", parts[0], parts[1]).as_bytes())
        .unwrap();
    assert!(v.verify(&sig).unwrap(), "the JWT signature verifies");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_through_the_proxy_carries_the_identity_and_nothing_spoofed() {
    let up = echo_upstream().await;
    let gw = start("login", &format!("http://{up}"), "").await;
    let addr = gw.addr;

    // No session: to the chooser, with the page asked for.
    let r = get(addr, "/private/page?x=1", &[], &[]).await;
    assert_eq!(r.status, 303);
    let to = r.header("location").unwrap();
    assert_eq!(
        to,
        format!("/spid/select?next={}", enc("/private/page?x=1"))
    );
    let chooser = get(addr, to, &[], &[("Accept-Language", "en")]).await;
    assert_eq!(chooser.status, 200);
    assert!(chooser.body.contains("Sign in"), "{}", chooser.body);
    assert!(
        chooser.body.contains("/spid/login?idp="),
        "{}",
        chooser.body
    );

    // The login lands on the page asked for.
    let path = format!(
        "/spid/login?idp={}&next={}",
        enc(&gw.idp),
        enc("/private/page?x=1")
    );
    let (jar, landing) = login(&gw, &path, "citizen", 2, None).await;
    assert_eq!(landing, "/private/page?x=1");

    // Proxied with the identity; the client's spoofed headers never arrive.
    let r = get(
        addr,
        &landing,
        &refs(&jar),
        &[
            ("X-Spid-Fiscal-Code", "TINIT-EVIL"),
            ("x-spid-level", "3"),
            ("X-Spid-Jwt", "forged.token.here"),
            ("X-Forwarded-For", "203.0.113.66"),
            ("Connection", "X-Hop"),
            ("X-Hop", "secret"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = &r.body;
    assert!(body.starts_with("GET /private/page?x=1 HTTP/1.1"), "{body}");
    assert_eq!(
        echoed(body, "x-spid-fiscal-code"),
        Some("RSSMRA80A01H501U"),
        "{body}"
    );
    assert_eq!(echoed(body, "x-spid-level"), Some("2"));
    assert_eq!(echoed(body, "x-spid-idp"), Some(gw.idp.as_str()));
    assert!(!body.contains("EVIL") && !body.contains("forged"), "{body}");
    assert_eq!(body.matches("x-spid-level").count(), 1, "{body}");
    assert_eq!(
        echoed(body, "x-forwarded-for"),
        Some("127.0.0.1"),
        "untrusted XFF replaced"
    );
    assert_eq!(echoed(body, "x-forwarded-proto"), Some("http"));
    assert_eq!(
        echoed(body, "x-forwarded-host"),
        Some(addr.to_string().as_str())
    );
    assert!(
        echoed(body, "x-hop").is_none(),
        "hop-by-hop named in Connection: removed"
    );
    assert!(
        !body.contains("spid_session"),
        "the session cookie stays with the gateway: {body}"
    );
    assert!(
        r.header("x-upstream-secret").is_none(),
        "hop-by-hop from upstream removed"
    );

    // The JWT verifies against the JWKS, with the identity in its claims.
    let jwt = echoed(body, "x-spid-jwt").expect("a JWT").to_owned();
    let jwks = get(addr, "/spid/jwks.json", &[], &[]).await;
    assert_eq!(jwks.status, 200);
    let claims = verify_jwt(&jwt, &jwks.body);
    assert_eq!(claims["sub"], "RSSMRA80A01H501U");
    assert_eq!(claims["acr"], "https://www.spid.gov.it/SpidL2");
    assert_eq!(claims["aud"], format!("http://{addr}"));
    assert_eq!(claims["iss"], format!("http://{addr}"));
    assert_eq!(claims["idp"], gw.idp.as_str());
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 60);
    // A tampered token does not verify.
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(br#"{"sub":"TINIT-EVIL"}"#);
    let tampered = parts.join(".");
    let result = std::panic::catch_unwind(|| verify_jwt(&tampered, &jwks.body));
    assert!(result.is_err());

    // A request body streams to the upstream.
    let big = "a=".to_owned() + &"x".repeat(200_000);
    let r = request(addr, "POST", "/private/upload", &refs(&jar), Some(&big))
        .send_async()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(echoed(&r.body, "body-bytes"), Some("200002"));

    // auth_request: 200 + identity headers with the session, 401 + login URL without.
    let ok = get(
        addr,
        "/spid/auth",
        &refs(&jar),
        &[("X-Original-URI", "/private/x")],
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("x-spid-fiscal-code"), Some("RSSMRA80A01H501U"));
    assert!(ok.header("x-spid-jwt").is_some());
    // The application's Cookie without the gateway's, for `auth_request_set`.
    let mut with_app = refs(&jar);
    with_app.insert(0, ("app", "1"));
    with_app.push(("__Host-spid_other", "x"));
    with_app.push(("theme", "dark"));
    let ok = get(
        addr,
        "/spid/auth",
        &with_app,
        &[("X-Original-URI", "/private/x")],
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("x-spid-cookie"), Some("app=1; theme=dark"));
    let no = get(
        addr,
        "/spid/auth",
        &[],
        &[("X-Forwarded-Uri", "/private/x?y=1")],
    )
    .await;
    assert_eq!(no.status, 401);
    assert_eq!(
        no.header("x-spid-login-url"),
        Some(format!("/spid/select?next={}", enc("/private/x?y=1")).as_str())
    );
    let public = get(addr, "/spid/auth", &[], &[("X-Forwarded-Uri", "/public/a")]).await;
    assert_eq!(public.status, 200);
    assert!(public.header("x-spid-fiscal-code").is_none());
    assert_eq!(public.header("x-spid-cookie"), Some(""), "always answered");
    let offsite = get(
        addr,
        "/spid/auth",
        &[],
        &[("X-Original-URI", "//evil.example/")],
    )
    .await;
    assert_eq!(offsite.status, 400, "ambiguous path refused");
    let step = get(
        addr,
        "/spid/auth",
        &refs(&jar),
        &[("X-Original-URI", "/l3/a")],
    )
    .await;
    assert_eq!(step.status, 401);
    let url = step.header("x-spid-login-url").unwrap();
    assert!(
        url.starts_with(&format!("/spid/login?idp={}&level=3&next=", enc(&gw.idp))),
        "{url}"
    );
    let company = get(
        addr,
        "/spid/auth",
        &refs(&jar),
        &[("X-Original-URI", "/companies")],
    )
    .await;
    assert_eq!(company.status, 403, "a citizen on a legal-person path");

    // Public paths pass without a session, ambiguous spellings are refused.
    let r = get(addr, "/public/info", &[], &[("X-Spid-Fiscal-Code", "EVIL")]).await;
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("EVIL") && echoed(&r.body, "x-spid-fiscal-code").is_none());
    for bad in [
        "/public/../private",
        "/public/%2e%2e/private",
        "/public%2f..%2fprivate",
    ] {
        assert_eq!(get(addr, bad, &[], &[]).await.status, 400, "{bad}");
    }
    // A POST without a session is not redirected.
    let r = request(addr, "POST", "/private/form", &[], Some("a=1"))
        .send_async()
        .await;
    assert_eq!(r.status, 401);

    // Step-up: the L3 path sends the L2 session to the same IdP at L3, and back.
    let r = get(addr, "/l3/area", &refs(&jar), &[]).await;
    assert_eq!(r.status, 303);
    let to = r.header("location").unwrap().to_owned();
    assert!(
        to.starts_with(&format!("/spid/login?idp={}&level=3", enc(&gw.idp))),
        "{to}"
    );
    let browser = jar
        .iter()
        .find(|(k, _)| k == "spid_browser")
        .map(|(_, v)| v.clone());
    let (jar3, landing) = login(&gw, &to, "citizen", 3, browser.as_deref()).await;
    assert_eq!(landing, "/l3/area");
    let r = get(addr, &landing, &refs(&jar3), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(echoed(&r.body, "x-spid-level"), Some("3"));

    // Logout: a cross-site form is refused (CSRF), the application's own form logs out
    // at the IdP too (SP-initiated SLO), and the session is gone.
    let forged = request(addr, "POST", "/spid/logout", &refs(&jar3), Some(""))
        .header("Origin", "https://evil.example")
        .send_async()
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(get(addr, "/l3/area", &refs(&jar3), &[]).await.status, 200);
    let out = request(addr, "POST", "/spid/logout", &refs(&jar3), Some(""))
        .header("Origin", &format!("http://{addr}"))
        .send_async()
        .await;
    let to_idp = out.header("location").unwrap().to_owned();
    assert!(
        to_idp.starts_with(&format!("{}/slo?SAMLRequest=", gw.idp)),
        "{to_idp}"
    );
    let path = to_idp.strip_prefix(&format!("http://{addr}")).unwrap();
    let answer = get(addr, path, &[], &[]).await;
    assert_eq!(answer.status, 302, "{}", answer.body);
    let to_sp = answer.header("location").unwrap().to_owned();
    let path = to_sp
        .strip_prefix(&format!("http://{addr}"))
        .unwrap_or(&to_sp);
    assert_eq!(get(addr, path, &[], &[]).await.status, 303);
    let after = get(addr, "/l3/area", &refs(&jar3), &[]).await;
    assert_eq!(after.status, 303);
    assert!(after
        .header("location")
        .unwrap()
        .starts_with("/spid/select?next="));

    // Health.
    assert_eq!(get(addr, "/healthz", &[], &[]).await.status, 200);
    let ready = get(addr, "/readyz", &[], &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert!(ready.body.contains("store ok") && ready.body.contains("audit ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_is_502_and_silent_is_504() {
    // A port with nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let gw = start("down", &format!("http://{dead}"), "").await;
    let r = get(gw.addr, "/public/x", &[], &[("Accept-Language", "en")]).await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("cannot be reached"), "{}", r.body);

    let up = echo_upstream().await;
    let gw = start("slow", &format!("http://{up}"), "").await;
    let r = get(gw.addr, "/public/slow", &[], &[]).await;
    assert_eq!(r.status, 504, "{}", r.body);
    assert!(
        r.body.contains("non ha risposto"),
        "Italian by default: {}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_are_tunnelled() {
    let up = echo_upstream().await;
    let gw = start("ws", &format!("http://{up}"), "").await;
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(
        b"GET /public/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    s.write_all(b"ping through the tunnel").await.unwrap();
    let mut back = [0u8; 23];
    s.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"ping through the tunnel");
}

#[test]
fn config_errors_are_named() {
    let ok = config_text("http://127.0.0.1:8080", "http://127.0.0.1:9", "/tmp/x", "");
    let dir = std::path::Path::new(".");
    let plan = GatewayConfig::from_toml_str(&ok, dir)
        .unwrap()
        .plan()
        .unwrap();
    assert_eq!(plan.upstreams.len(), 1);
    let field = |text: &str| match GatewayConfig::from_toml_str(text, dir)
        .and_then(|c| c.plan().map(|_| ()))
    {
        Err(GatewayError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field("entity_id = \"x\"\n"), "gateway");
    assert_eq!(
        field(&ok.replace("[gateway]\n", "[gateway]\nbogus = 1\n")),
        "gateway"
    );
    assert_eq!(
        field(&ok.replace("entity_id =", "bogus = 1\nentity_id =")),
        "SP description"
    );
    assert_eq!(
        field(&ok.replace("http://127.0.0.1:9", "https://app.example")),
        "gateway.upstreams[0]"
    );
    assert_eq!(
        field(&ok.replace("http://127.0.0.1:9", "http://127.0.0.1:9/app")),
        "gateway.upstreams[0]"
    );
    assert_eq!(
        field(&ok.replace("level = 2", "level = 4")),
        "gateway.level"
    );
    assert_eq!(
        field(&ok.replace(
            "prefix = \"/l3\"\nlevel = 3",
            "prefix = \"/l3\"\nlevel = 3\naccess = \"public\""
        )),
        "gateway.paths[1]"
    );
    assert_eq!(
        field(&ok.replace("[\"legal_person\"]", "[\"robots\"]")),
        "gateway.paths[2]"
    );
    assert_eq!(
        field(&ok.replace("[gateway.audit]\ndir = \"/tmp/x\"", "")),
        "gateway.audit"
    );
    assert_eq!(
        field(&ok.replace(
            "base_url = \"http://127.0.0.1:8080\"",
            "base_url = \"http://h/x\""
        )),
        "gateway.base_url"
    );
    assert_eq!(
        field(&(ok.clone() + "\n[gateway.headers]\nprefix = \"X\"\n")),
        "gateway.headers.prefix"
    );
    assert_eq!(
        field(&(ok.clone() + "\n[gateway.jwt]\nalg = \"HS256\"\n")),
        "gateway.jwt.alg"
    );
    assert!(matches!(
        GatewayConfig::from_toml_str("[gateway\n", dir),
        Err(GatewayError::Syntax { line: 1, .. })
    ));
}

/// `spid-sp gateway check --config PATH ARGS…`.
fn gateway_check(path: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_spid-sp"))
        .args(["gateway", "check", "--config"])
        .arg(path)
        .args(args)
        .output()
        .unwrap()
}

/// A fresh scratch directory `name` with a `gateway.toml` ([`config_text`], upstream
/// 127.0.0.1:9000, no extra) for `base`, auditing to `audit` (`None`: `<dir>/audit`).
fn gateway_file(name: &str, base: &str, audit: Option<&str>) -> PathBuf {
    let dir = scratch("gateway", name);
    let file = dir.join("gateway.toml");
    let audit = audit.map_or_else(|| dir.join("audit"), PathBuf::from);
    std::fs::write(
        &file,
        config_text(base, "http://127.0.0.1:9000", audit.to_str().unwrap(), ""),
    )
    .unwrap();
    file
}

/// The standard output of a check that must have passed.
fn check_passed(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn gateway_check_prints_the_plan_and_fails_on_an_invalid_file() {
    let good = gateway_file("check", "http://127.0.0.1:8080", Some("audit"));
    let dir = good.parent().unwrap();
    let out = gateway_check(&good, &["--upstream", "http://127.0.0.1:9001"]);
    let stdout = check_passed(&out);
    assert!(
        stdout.contains("-> http://127.0.0.1:9001"),
        "--upstream overrides: {stdout}"
    );
    assert!(
        stdout.contains("/l3") && stdout.contains("level >= 3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("/spid/auth") && stdout.contains("/spid/jwks.json"),
        "{stdout}"
    );

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&good)
            .unwrap()
            .replace("level = 2", "level = 9"),
    )
    .unwrap();
    let out = gateway_check(&bad, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gateway.level"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idp_metadata_files_reload_without_a_restart() {
    let dir = scratch("gateway", "reload");
    let file = dir.join("idps.xml");
    let cie = format!(
        "{}/metadata/cie-idp-preproduction.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::copy(data("idp-metadata.xml"), &file).unwrap();
    let up = echo_upstream().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let audit = dir.join("audit");
    let text = config_text(&base, &format!("http://{up}"), audit.to_str().unwrap(), "").replace(
        "level = 2\n",
        &format!("level = 2\nidp_metadata = [\"{}\"]\n", file.display()),
    );
    let config = GatewayConfig::from_toml_str(&text, std::path::Path::new(".")).unwrap();
    let (g, _router) = Gateway::new(Prepared::new(config).unwrap(), Extras::default()).unwrap();
    let ids = |g: &Gateway| {
        let mut v: Vec<String> = g
            .auth()
            .service_provider()
            .idps()
            .iter()
            .map(|i| i.entity_id().as_str().to_owned())
            .collect();
        v.sort();
        v
    };
    let before = ids(&g);
    assert_eq!(before.len(), 1);
    assert!(!g.reload_idps(false).unwrap(), "unchanged: nothing re-read");
    std::fs::copy(&cie, &file).unwrap();
    assert!(g.reload_idps(true).unwrap());
    let after = ids(&g);
    assert_ne!(before, after, "the new file's IdPs are trusted");
    std::fs::write(&file, "<not metadata").unwrap();
    assert!(g.reload_idps(true).is_err());
    assert_eq!(ids(&g), after, "a broken file keeps the previous set");

    // The Prometheus text, on the router for the separate metrics listener.
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let maddr = metrics.local_addr().unwrap();
    let router = g.metrics_router();
    tokio::spawn(async move { axum::serve(metrics, router).await.unwrap() });
    let m = get(maddr, "/metrics", &[], &[]).await;
    assert_eq!(m.status, 200);
    assert!(m.body.contains("# TYPE"), "{}", m.body);
}

/// `--test-idp` never runs on a non-loopback listener or base URL (nor in a binary built
/// without the test-idp feature): exit 2 before listening.
#[test]
fn the_test_idp_flag_is_refused_off_loopback() {
    let file = gateway_file("test-idp-flag", "http://127.0.0.1:8080", Some("audit"));
    let bin = env!("CARGO_BIN_EXE_spid-sp");
    for extra in [
        ["--bind", "0.0.0.0:0"],
        ["--base-url", "https://portal.example.it"],
    ] {
        let out = std::process::Command::new(bin)
            .args(["gateway", "--test-idp", "--config"])
            .arg(&file)
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains("--test-idp"), "{stderr}");
    }
}

/// The gateway's serving threads share their port (SO_REUSEPORT), but never with another
/// process: a port already held, even by a socket that allows sharing it, is refused.
#[cfg(unix)]
#[tokio::test]
async fn a_port_another_process_holds_is_refused_even_if_it_allows_sharing() {
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.set_reuseport(true).unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let held = held.listen(8).unwrap();
    let port = held.local_addr().unwrap().port();
    let file = gateway_file("port-held", &format!("http://127.0.0.1:{port}"), None);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spid-sp"))
        .args(["gateway", "--test-idp", "--config"])
        .arg(&file)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    drop(held);
}

/// `[gateway.cns]` in reverse-proxy mode: the card header is read only from the proxy's
/// address, the login lands on the page asked for with the fiscal code in the identity
/// headers, and the header never reaches the upstream (nor one a client forges).
#[cfg(feature = "test-idp")]
#[tokio::test]
async fn entra_con_cns_through_a_trusted_proxy_and_the_header_never_reaches_the_upstream() {
    use spid_sp::cns::test_pki::{TestCard, TestPki, TEST_FISCAL_CODE};
    let up = echo_upstream().await;
    let dir = scratch("gateway", "cns-files");
    let pki = TestPki::generate(spid_sp::Clock::now(&spid_sp::SystemClock)).unwrap();
    std::fs::write(dir.join("ca.pem"), pki.ca_pem()).unwrap();
    std::fs::write(dir.join("crl.pem"), pki.crl_pem()).unwrap();
    let extra = format!(
        r#"
[gateway.cns]
ca_file = "{}"
crl_files = ["{}"]
endpoint = "https://127.0.0.1:9443/spid/cns/certificate"
proxy_header = "x-ssl-client-cert"
proxies = ["127.0.0.2"]
"#,
        dir.join("ca.pem").display(),
        dir.join("crl.pem").display()
    );
    let gw = start("cns", &format!("http://{up}"), &extra).await;
    let addr = gw.addr;
    // nginx's `$ssl_client_escaped_cert`: the PEM percent-encoded.
    let escaped = |pem: Vec<u8>| -> String {
        pem.iter()
            .map(|&b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let header = escaped(pki.card_pem(TestCard::Valid));
    let begin = || async {
        let r = get(addr, "/spid/cns?next=/private/me", &[], &[]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let loc = r.header("location").unwrap().to_owned();
        let state = loc
            .strip_prefix("https://127.0.0.1:9443/spid/cns/certificate?state=")
            .unwrap()
            .to_owned();
        (state, r.cookie("spid_browser").unwrap())
    };
    let card = |state: String, from: [u8; 4], value: String| async move {
        request(
            addr,
            "GET",
            &format!("/spid/cns/certificate?state={state}"),
            &[],
            None,
        )
        .header("x-ssl-client-cert", &value)
        .source_ip(from.into())
        .send_async()
        .await
    };

    // Straight from a client (not the proxy's address): ignored.
    let (state, _) = begin().await;
    let r = card(state, [127, 0, 0, 1], header.clone()).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("cns-no-certificate"), "{}", r.body);

    // A revoked card from the proxy: refused with its code.
    let (state, _) = begin().await;
    let revoked = escaped(pki.card_pem(TestCard::Revoked));
    let r = card(state, [127, 0, 0, 2], revoked).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("cns-revoked"), "{}", r.body);

    // The valid card from the proxy: hand-off, session, identity upstream.
    let (state, browser) = begin().await;
    let r = card(state, [127, 0, 0, 2], header.clone()).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let loc = r.header("location").unwrap();
    let path = loc.strip_prefix(&format!("http://{addr}")).unwrap();
    let done = get(addr, path, &[("spid_browser", &browser)], &[]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.header("location"), Some("/private/me"));
    let session = done.cookie("spid_session").unwrap();
    let page = get(
        addr,
        "/private/me",
        &[("spid_session", &session)],
        &[("x-ssl-client-cert", &header)],
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let lower = page.body.to_ascii_lowercase();
    assert!(
        lower.contains(&format!(
            "x-spid-fiscal-code: {}",
            TEST_FISCAL_CODE.to_ascii_lowercase()
        )),
        "{}",
        page.body
    );
    assert!(!lower.contains("x-ssl-client-cert"), "{}", page.body);
}

/// `[gateway.cns]` with the gateway's own TLS listener (`listen`): a real OpenSSL
/// handshake with the card as client certificate logs in with the fiscal code; no
/// certificate, a revoked card or a card of a CA not pinned are refused with their codes;
/// on the TLS listener the proxy header never counts.
#[cfg(feature = "test-idp")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_con_cns_on_the_gateways_own_tls_listener() {
    use spid_sp::cns::test_pki::{TestCard, TestPki, TEST_FISCAL_CODE};

    let up = echo_upstream().await;
    let dir = scratch("gateway", "cns-tls-files");
    let pki =
        std::sync::Arc::new(TestPki::generate(spid_sp::Clock::now(&spid_sp::SystemClock)).unwrap());
    std::fs::write(dir.join("ca.pem"), pki.ca_pem()).unwrap();
    std::fs::write(dir.join("crl.pem"), pki.crl_pem()).unwrap();
    let (key, cert) = TestIdp::generate_key_pem("127.0.0.1", 30).unwrap();
    std::fs::write(dir.join("tls.key.pem"), key).unwrap();
    std::fs::write(dir.join("tls.crt.pem"), cert).unwrap();
    let extra = format!(
        r#"
[gateway.cns]
ca_file = "{d}/ca.pem"
crl_files = ["{d}/crl.pem"]
listen = "127.0.0.1:0"
tls_certificate = "{d}/tls.crt.pem"
tls_key = "{d}/tls.key.pem"
endpoint = "https://127.0.0.1:9443/spid/cns/certificate"
proxy_header = "x-ssl-client-cert"
proxies = ["127.0.0.1"]
"#,
        d = dir.display()
    );
    let gw = start("cns-tls", &format!("http://{up}"), &extra).await;
    let (addr, tls) = (gw.addr, gw.cns_tls.expect("the CNS TLS listener"));
    let begin = || async {
        let r = get(addr, "/spid/cns?next=/private/me", &[], &[]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let state = r
            .header("location")
            .unwrap()
            .strip_prefix("https://127.0.0.1:9443/spid/cns/certificate?state=")
            .unwrap()
            .to_owned();
        (state, r.cookie("spid_browser").unwrap())
    };
    // GET /spid/cns/certificate on the TLS listener with `card` (or none) as client
    // certificate and optionally the proxy header; returns the raw answer.
    let via_tls = |state: String, card: Option<TestCard>, header: Option<String>| {
        let pki = pki.clone();
        tokio::task::spawn_blocking(move || {
            let header = header.as_deref().map(|h| ("x-ssl-client-cert", h));
            let raw = common::cns_certificate_over_tls(tls, &pki, &state, card, header);
            String::from_utf8_lossy(&raw).into_owned()
        })
    };
    let status = |raw: &str| raw.split(' ').nth(1).unwrap_or("").to_owned();

    // No certificate, a revoked card, a card of a CA not pinned: refused with their codes.
    for (card, code) in [
        (None, "cns-no-certificate"),
        (Some(TestCard::Revoked), "cns-revoked"),
        (Some(TestCard::UnknownCa), "cns-untrusted-issuer"),
    ] {
        let (state, _) = begin().await;
        let raw = via_tls(state, card, None).await.unwrap();
        assert_eq!(status(&raw), "403", "{card:?}: {raw}");
        assert!(raw.contains(code), "{card:?} → {code}: {raw}");
    }
    // The proxy header on the TLS listener, even from a configured proxy address: ignored.
    let (state, _) = begin().await;
    let escaped = common::percent_escaped(&pki.card_pem(TestCard::Valid));
    let raw = via_tls(state, None, Some(escaped)).await.unwrap();
    assert_eq!(status(&raw), "403", "{raw}");
    assert!(raw.contains("cns-no-certificate"), "{raw}");

    // The valid card: hand-off to the gateway, session, identity upstream.
    let (state, browser) = begin().await;
    let raw = via_tls(state, Some(TestCard::Valid), None).await.unwrap();
    assert_eq!(status(&raw), "303", "{raw}");
    let location = raw
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or(l.strip_prefix("Location: "))
        })
        .unwrap()
        .trim()
        .to_owned();
    let path = location.strip_prefix(&format!("http://{addr}")).unwrap();
    let done = get(addr, path, &[("spid_browser", &browser)], &[]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.header("location"), Some("/private/me"));
    let session = done.cookie("spid_session").unwrap();
    let page = get(addr, "/private/me", &[("spid_session", &session)], &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.to_ascii_lowercase().contains(&format!(
            "x-spid-fiscal-code: {}",
            TEST_FISCAL_CODE.to_ascii_lowercase()
        )),
        "{}",
        page.body
    );

    // The CRL file replaced while the gateway runs (CRLs are reissued every few days): a
    // reload swaps it in, only when a file changed. An expired CRL refuses its CA's cards;
    // a file that does not load keeps the current CRLs; the fresh one accepts again.
    let card_answer = |card| async move {
        let (state, _) = begin().await;
        via_tls(state, Some(card), None).await.unwrap()
    };
    assert!(!gw.gateway.reload_cns().unwrap(), "nothing changed yet");
    std::fs::write(dir.join("crl.pem"), pki.expired_crl_pem()).unwrap();
    assert!(
        gw.gateway.reload_cns().unwrap(),
        "the new CRL is swapped in"
    );
    assert!(!gw.gateway.reload_cns().unwrap(), "unchanged since");
    let raw = card_answer(TestCard::Valid).await;
    assert!(raw.contains("cns-crl-expired"), "{raw}");
    std::fs::write(dir.join("crl.pem"), b"not a CRL").unwrap();
    let e = gw.gateway.reload_cns().unwrap_err();
    assert!(e.to_string().contains("crl_files"), "{e}");
    let raw = card_answer(TestCard::Valid).await;
    assert!(
        raw.contains("cns-crl-expired"),
        "the current CRLs stay: {raw}"
    );
    std::fs::write(dir.join("crl.pem"), pki.crl_pem()).unwrap();
    assert!(gw.gateway.reload_cns().unwrap());
    assert_eq!(status(&card_answer(TestCard::Valid).await), "303");
    assert!(card_answer(TestCard::Revoked).await.contains("cns-revoked"));
}

/// The identity kinds admitted positively: an eIDAS user (the test IdP as the eIDAS node,
/// attribute service 99) enters an `eidas` path and gets `X-Spid-Eidas-Id`; a legal
/// person (`spid:Purpose` LP, company attributes requested) enters a `legal_person`
/// path with the company headers; each is refused (403) on the other kind's path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eidas_and_legal_person_identities_are_admitted_where_the_policy_says() {
    let up = echo_upstream().await;
    let eu_path = r#"
[[gateway.paths]]
prefix = "/eu"
identities = ["eidas"]

[[attribute_services]]
index = 99
name = "eIDAS Natural Person Minimum Attribute Set"
attributes = ["spidCode", "name", "familyName", "dateOfBirth"]
"#;
    let gw = start_with(
        "kinds-eidas",
        &format!("http://{up}"),
        eu_path,
        Some(spid_sp::Federation::Eidas),
        "",
    )
    .await;
    let path = format!("/spid/login?idp={}&next={}", enc(&gw.idp), enc("/eu/page"));
    let (jar, landing) = login(&gw, &path, "eidas", 2, None).await;
    assert_eq!(landing, "/eu/page");
    let r = get(gw.addr, &landing, &refs(&jar), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        echoed(&r.body, "x-spid-eidas-id"),
        Some("DE/IT/a1b2c3d4e5f6")
    );
    assert!(
        echoed(&r.body, "x-spid-fiscal-code").is_none(),
        "{}",
        r.body
    );
    let r = get(gw.addr, "/companies/x", &refs(&jar), &[]).await;
    assert_eq!(r.status, 403, "an eIDAS user is no legal person");

    let company = r#"
[[gateway.paths]]
prefix = "/eu"
identities = ["eidas"]

[[attribute_services]]
index = 1
name = "Imprese"
attributes = ["fiscalNumber", "name", "familyName", "companyName", "companyFiscalNumber", "ivaCode"]
"#;
    let gw = start_with(
        "kinds-company",
        &format!("http://{up}"),
        company,
        None,
        "purpose = \"LP\"\nattribute_service = 1\n",
    )
    .await;
    let path = format!(
        "/spid/login?idp={}&next={}",
        enc(&gw.idp),
        enc("/companies/page")
    );
    let (jar, landing) = login(&gw, &path, "company", 2, None).await;
    assert_eq!(landing, "/companies/page");
    let r = get(gw.addr, &landing, &refs(&jar), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        echoed(&r.body, "x-spid-company-name"),
        Some("Esempio S.r.l.")
    );
    assert_eq!(
        echoed(&r.body, "x-spid-vat-number"),
        Some("07654321988"),
        "{}",
        r.body
    );
    assert_eq!(
        echoed(&r.body, "x-spid-fiscal-code"),
        Some("VRDGPP70C15L219C")
    );
    let r = get(gw.addr, "/eu/x", &refs(&jar), &[]).await;
    assert_eq!(r.status, 403, "a legal person is no eIDAS user");
}

/// `idle_timeout_ms`: an upstream that stops sending in the middle of a body gets its
/// response cut (the client's connection closes) instead of hanging; and the request ID:
/// generated and sent upstream (a client's own replaced), or taken from the configured
/// trusted header, echoed in `x-request-id`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_body_is_cut_and_requests_carry_an_id() {
    let up = echo_upstream().await;
    let idle = format!(
        r#"
[[gateway.upstreams]]
prefix = "/public/trickle"
url = "http://{up}"
idle_timeout_ms = 300
"#
    );
    let gw = start("idle", &format!("http://{up}"), &idle).await;
    let r = get(
        gw.addr,
        "/public/a",
        &[],
        &[("X-Request-Id", "client-made")],
    )
    .await;
    assert_eq!(r.status, 200);
    let sent = echoed(&r.body, "x-request-id").unwrap();
    assert_eq!(sent.len(), 32, "{sent}");
    assert!(sent.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(r.header("x-request-id"), Some(sent));

    // 10 bytes of 100, then silence: cut after 300 ms (the guard only stops a hang).
    let cut = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        request(gw.addr, "GET", "/public/trickle", &[], None).send_async(),
    )
    .await
    .expect("the silent body is cut, not left hanging");
    assert_eq!(cut.status, 200);
    assert_eq!(cut.body, "0123456789");

    let gw = start_with(
        "idle2",
        &format!("http://{up}"),
        "",
        None,
        "request_id_header = \"x-request-id\"\n",
    )
    .await;
    let r = get(gw.addr, "/public/a", &[], &[("X-Request-Id", "edge-42")]).await;
    assert_eq!(
        echoed(&r.body, "x-request-id"),
        Some("edge-42"),
        "{}",
        r.body
    );
    assert_eq!(r.header("x-request-id"), Some("edge-42"));
}

/// `[gateway.oidc]`: the RP's keys are created owner-only in `key_dir/oidc` on first start
/// and reused on the next; the Entity Configuration names the base URL and the anchor; the
/// login page shows "Entra con CIE (OpenID Connect)" with the local `next`; broken
/// sections are refused with the field named. (The login itself against Italy's reference
/// OP: tests/oidc-interop.sh 4c.)
#[tokio::test]
async fn gateway_oidc_section_keys_entity_configuration_and_button() {
    let dir = scratch("gateway", "oidc-section");
    let anchor_key = spid_sp::oidc::RpKey::generate().unwrap();
    let jwks = dir.join("anchor.jwks.json");
    let jwks_json = serde_json::json!({ "keys": [anchor_key.public_jwk("sig")] });
    std::fs::write(&jwks, jwks_json.to_string()).unwrap();
    let anchor = "https://ta.example.it";
    let section = |extra: &str| {
        format!(
            "\n[gateway.oidc]\ntrust_anchor = \"{anchor}\"\ntrust_anchor_jwks = \"{}\"\n\
             provider = \"https://op.example.it\"\n{extra}",
            jwks.display()
        )
    };
    let keys = format!("key_dir = \"{}\"\n", dir.join("keys").display());
    let upstream = echo_upstream().await;
    let ec_of = |body: &str| {
        let payload = body.trim().split('.').nth(1).unwrap();
        serde_json::from_slice::<serde_json::Value>(&URL_SAFE_NO_PAD.decode(payload).unwrap())
            .unwrap()
    };
    let first = start_with(
        "oidc-1",
        &format!("http://{upstream}"),
        &section(""),
        None,
        &keys,
    )
    .await;
    let mut mtimes = Vec::new();
    for name in ["federation.key.pem", "core-sig.key.pem", "core-enc.key.pem"] {
        let meta = std::fs::metadata(dir.join("keys/oidc").join(name)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        }
        mtimes.push(meta.modified().unwrap());
    }
    let base = format!("http://{}", first.addr);
    let ec = get(first.addr, "/.well-known/openid-federation", &[], &[]).await;
    assert_eq!(ec.status, 200);
    let claims = ec_of(&ec.body);
    assert_eq!(claims["iss"], base.as_str());
    assert_eq!(claims["sub"], base.as_str());
    assert_eq!(claims["authority_hints"], serde_json::json!([anchor]));
    let rp = &claims["metadata"]["openid_relying_party"];
    assert_eq!(
        rp["redirect_uris"],
        serde_json::json!([format!("{base}/spid/oidc/callback")])
    );
    let page = get(first.addr, "/spid/select?next=/private/a%26b", &[], &[]).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(
            "id=\"oidc-login\" href=\"/spid/oidc/login?next=%2Fprivate%2Fa%26b\">Entra con CIE (OpenID Connect)</a>"
        ),
        "{}",
        page.body
    );
    let english = get(
        first.addr,
        "/spid/select?next=/",
        &[],
        &[("accept-language", "en")],
    )
    .await;
    assert!(english.body.contains("Sign in with CIE (OpenID Connect)"));
    // An open redirect is not offered.
    let page = get(
        first.addr,
        "/spid/select?next=https://evil.example",
        &[],
        &[],
    )
    .await;
    assert!(
        page.body
            .contains("id=\"oidc-login\" href=\"/spid/oidc/login\">"),
        "{}",
        page.body
    );
    // The second start reuses the keys: the same Entity Configuration keys.
    let second = start_with(
        "oidc-2",
        &format!("http://{upstream}"),
        &section(""),
        None,
        &keys,
    )
    .await;
    let again = ec_of(
        &get(second.addr, "/.well-known/openid-federation", &[], &[])
            .await
            .body,
    );
    assert_eq!(again["jwks"], claims["jwks"]);
    for (i, name) in ["federation.key.pem", "core-sig.key.pem", "core-enc.key.pem"]
        .iter()
        .enumerate()
    {
        let meta = std::fs::metadata(dir.join("keys/oidc").join(name)).unwrap();
        assert_eq!(meta.modified().unwrap(), mtimes[i]);
    }
    // Broken sections, each named.
    let setup_err = |extra: &str, keys: &str| {
        let audit = dir.join("audit-refused");
        let text = config_text(
            "http://127.0.0.1:8080",
            "http://127.0.0.1:9",
            audit.to_str().unwrap(),
            extra,
        )
        .replacen("level = 2\n", &format!("level = 2\n{keys}"), 1);
        let config = GatewayConfig::from_toml_str(&text, std::path::Path::new("."))?;
        Gateway::new(Prepared::new(config)?, Extras::default()).map(|_| ())
    };
    let field = |r: Result<(), GatewayError>| match r {
        Err(GatewayError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(setup_err(&section("bogus = 1\n"), &keys)), "gateway");
    assert_eq!(
        field(setup_err(
            &section("key_files = [\"a.pem\", \"b.pem\"]\n"),
            &keys
        )),
        "gateway.oidc.key_files"
    );
    assert_eq!(field(setup_err(&section(""), "")), "gateway.oidc.key_dir");
    std::fs::write(dir.join("not-jwks.json"), "{\"keys\": 1}").unwrap();
    let broken = section("").replace(
        &jwks.display().to_string(),
        &dir.join("not-jwks.json").display().to_string(),
    );
    assert_eq!(
        field(setup_err(&broken, &keys)),
        "gateway.oidc.trust_anchor_jwks"
    );
    let marks = section(&format!(
        "trust_marks = [\"{}\"]\n",
        dir.join("not-jwks.json").display()
    ));
    assert_eq!(field(setup_err(&marks, &keys)), "gateway.oidc.trust_marks");
}

/// `spid-sp gateway check` validates `[gateway.oidc]` without creating anything: the
/// pinned JWKS, the entity IDs, the trust mark files and the RP's keys (missing files in
/// `key_dir` are reported, not generated); a broken section fails with the field named.
#[test]
fn gateway_check_validates_the_oidc_section() {
    let dir = scratch("gateway", "check-oidc");
    let anchor_key = spid_sp::oidc::RpKey::generate().unwrap();
    let jwks = dir.join("anchor.jwks.json");
    std::fs::write(
        &jwks,
        serde_json::json!({ "keys": [anchor_key.public_jwk("sig")] }).to_string(),
    )
    .unwrap();
    let keys = dir.join("rp-keys");
    let write = |name: &str, oidc: &str| {
        let path = dir.join(name);
        let section = format!(
            "\n[gateway.oidc]\ntrust_anchor = \"https://ta.example.it\"\n\
             trust_anchor_jwks = \"{}\"\nprovider = \"https://op.example.it\"\n\
             key_dir = \"{}\"\n{oidc}",
            jwks.display(),
            keys.display()
        );
        let text = config_text(
            "http://127.0.0.1:8080",
            "http://127.0.0.1:9000",
            dir.join("audit").to_str().unwrap(),
            &section,
        );
        std::fs::write(&path, text).unwrap();
        path
    };
    let check = |path: &std::path::Path| gateway_check(path, &[]);

    let out = check(&write("good.toml", ""));
    let stdout = check_passed(&out);
    assert!(
        stdout.contains("OpenID Connect: provider https://op.example.it")
            && stdout.contains("1 pinned keys")
            && stdout.contains("3 created at the first start"),
        "{stdout}"
    );
    assert!(!keys.exists(), "check created the RP key directory");

    // A trust anchor JWKS that is not one.
    std::fs::write(dir.join("not-jwks.json"), "{\"keys\": 3}").unwrap();
    let bad = std::fs::read_to_string(write("bad-jwks.toml", ""))
        .unwrap()
        .replace("anchor.jwks.json", "not-jwks.json");
    std::fs::write(dir.join("bad-jwks.toml"), bad).unwrap();
    let out = check(&dir.join("bad-jwks.toml"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("gateway.oidc.trust_anchor_jwks"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A trust mark file without its JWT line.
    let mark = dir.join("mark.txt");
    std::fs::write(&mark, "https://ta.example.it/openid_relying_party/public\n").unwrap();
    let out = check(&write(
        "bad-mark.toml",
        &format!("trust_marks = [\"{}\"]\n", mark.display()),
    ));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gateway.oidc.trust_marks"));

    // A key file in key_dir that is not a key.
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("core-sig.key.pem"), "not a key").unwrap();
    let out = check(&write("bad-key.toml", ""));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("core-sig.key.pem"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Log lines captured from the whole test process (every test of this binary logs into
/// it: the assertions below look only at lines with their own requests' IDs).
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The lines of `text` that name request `id`.
fn lines_of<'a>(text: &'a str, id: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(id)).collect()
}

/// The access log: one INFO line per proxied request, in the request's span (its ID);
/// `access_log = false` drops that line and nothing else: an unreachable upstream is
/// still logged, with the request ID. (A global subscriber: a thread-local one can miss
/// events whose callsites other tests' threads registered first.)
#[tokio::test]
async fn one_access_line_per_request_unless_turned_off() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .expect("the only test of this binary that sets a subscriber");
    let up = echo_upstream().await;
    let gw = start("access-on", &format!("http://{up}"), "").await;
    let r = get(gw.addr, "/public/a", &[], &[]).await;
    assert_eq!(r.status, 200);
    let on = r.header("x-request-id").unwrap().to_owned();

    let quiet = "access_log = false\n";
    let gw = start_with("access-off", &format!("http://{up}"), "", None, quiet).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let down = start_with(
        "access-off-down",
        &format!("http://{dead}"),
        "",
        None,
        quiet,
    )
    .await;
    let r = get(gw.addr, "/public/a", &[], &[]).await;
    assert_eq!(r.status, 200);
    let off = r.header("x-request-id").unwrap().to_owned();
    let r = get(down.addr, "/public/a", &[], &[]).await;
    assert_eq!(r.status, 502);
    let failed = r.header("x-request-id").unwrap().to_owned();

    let text = logs.text();
    let mine = lines_of(&text, &on);
    assert_eq!(mine.len(), 1, "{text}");
    assert!(mine[0].contains("request proxied"), "{text}");
    assert!(lines_of(&text, &off).is_empty(), "{text}");
    let mine = lines_of(&text, &failed);
    assert!(
        mine.iter().any(|l| l.contains("upstream unreachable")),
        "{text}"
    );
    assert!(
        !mine.iter().any(|l| l.contains("request answered")),
        "{text}"
    );
}
