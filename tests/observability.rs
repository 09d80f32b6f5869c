//! Observability (docs/observability.md): every event of this test binary, at every
//! level, is captured as JSON lines by a real `tracing-subscriber`; each login outcome is
//! one event with its code, request ID and IdP, and nothing personal is ever written. The
//! metrics route is scraped over a real socket and checked against the Prometheus text
//! exposition format.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use common::*;
use serde_json::Value;
use spid_sp::test_idp::ResponseSpec;
use spid_sp::{LoginError, LoginOptions, SpidLevel};

// ---------------------------------------------------------------------------------------
// The capture: one global subscriber for the whole binary (tests run in parallel and on
// tokio's blocking threads, so a thread-local default would miss events)
// ---------------------------------------------------------------------------------------

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> &'static Arc<Mutex<Vec<u8>>> {
    static CAPTURE: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(buf.clone());
        tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(move || sink.clone())
            .init();
        buf
    })
}

/// Everything captured so far, as text.
fn captured_text() -> String {
    String::from_utf8(capture().lock().unwrap().clone()).unwrap()
}

/// Every captured event.
fn events() -> Vec<Value> {
    captured_text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn field<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event["fields"][name].as_str()
}

/// The outcome events of `finish_login` for one request ID, in order.
fn login_outcomes(request_id: &str) -> Vec<Value> {
    events()
        .into_iter()
        .filter(|e| e["target"] == "spid_sp::login")
        .filter(|e| {
            matches!(
                field(e, "result"),
                Some("accepted" | "refused" | "rejected")
            )
        })
        .filter(|e| field(e, "request_id") == Some(request_id))
        .collect()
}

const FISCAL_CODE: &str = "RSSMRA80A01H501U";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// What the log must never contain, whatever the level: the attribute values, the NameIDs
/// and any SAML XML.
fn assert_nothing_personal(name_ids: &[String]) {
    let text = captured_text();
    for secret in [
        FISCAL_CODE,
        "RSSMRA80A01H501X",
        "Mario",
        "Rossi",
        "1980-01-01",
    ]
    .into_iter()
    .chain(name_ids.iter().map(String::as_str))
    {
        assert!(!text.contains(secret), "{secret:?} in the log:\n{text}");
    }
    for xml in ["<saml", "<ds:", "Signature>", "AttributeValue"] {
        assert!(!text.contains(xml), "{xml:?} in the log:\n{text}");
    }
}

fn spec(id: &str, level: SpidLevel) -> ResponseSpec {
    ResponseSpec::new(id, ACS, SP, level, now())
        .attribute("fiscalNumber", &format!("TINIT-{FISCAL_CODE}"))
        .attribute("name", "Mario")
        .attribute("familyName", "Rossi")
        .attribute("dateOfBirth", "1980-01-01")
}

#[test]
fn each_login_outcome_is_one_event_with_code_request_id_and_idp_and_nothing_personal() {
    capture();
    let w = world_at(now());
    let options = LoginOptions::default();
    let mut name_ids = Vec::new();

    // Accepted, then the same Response again: replay.
    let (_, pending) = w.sp.start_login(IDP, &options).unwrap();
    let accepted_id = pending.request_id().as_str().to_owned();
    let relay = pending.relay_state().as_str().to_owned();
    let s = spec(&accepted_id, SpidLevel::L2);
    name_ids.push(s.name_id.clone());
    let xml = w.idp.response(&s).unwrap();
    let login =
        w.sp.finish_login(&post(&xml, Some(&relay)), pending.clone())
            .unwrap();
    assert_eq!(
        login.identity().fiscal_code().unwrap().as_str(),
        FISCAL_CODE
    );
    let replay =
        w.sp.finish_login(&post(&xml, Some(&relay)), pending)
            .unwrap_err();
    assert_eq!(replay.code(), "replay");

    // Refused by the IdP (the user cancelled).
    let (_, pending) = w.sp.start_login(IDP, &options).unwrap();
    let refused_id = pending.request_id().as_str().to_owned();
    let relay = pending.relay_state().as_str().to_owned();
    let xml = w.idp.refusal(&refused_id, ACS, 22, now()).unwrap();
    let refused =
        w.sp.finish_login(&post(&xml, Some(&relay)), pending)
            .unwrap_err();
    assert!(matches!(refused, LoginError::Refused(_)));

    // Rejected: the fiscal code altered after signing (the message is full of personal
    // data, and none of it may reach the log).
    let (_, pending) = w.sp.start_login(IDP, &options).unwrap();
    let tampered_id = pending.request_id().as_str().to_owned();
    let relay = pending.relay_state().as_str().to_owned();
    let s = spec(&tampered_id, SpidLevel::L2);
    name_ids.push(s.name_id.clone());
    let xml = w
        .idp
        .response(&s)
        .unwrap()
        .replace(FISCAL_CODE, "RSSMRA80A01H501X");
    let rejected =
        w.sp.finish_login(&post(&xml, Some(&relay)), pending)
            .unwrap_err();
    assert_eq!(rejected.code(), "digest-mismatch");

    for (id, codes) in [
        (&accepted_id, vec!["accepted", "replay"]),
        (&refused_id, vec!["nr22"]),
        (&tampered_id, vec!["digest-mismatch"]),
    ] {
        let outcomes = login_outcomes(id);
        let got: Vec<&str> = outcomes.iter().map(|e| field(e, "code").unwrap()).collect();
        assert_eq!(got, codes, "one event per finish_login call for {id}");
        for e in &outcomes {
            assert_eq!(field(e, "idp"), Some(IDP), "{e}");
            assert!(e["fields"]["duration_us"].is_u64(), "{e}");
            assert_eq!(e["fields"]["level"], 2, "{e}");
            let expected_level = match field(e, "result") {
                Some("accepted" | "refused") => "INFO",
                _ => "WARN",
            };
            assert_eq!(e["level"], expected_level, "{e}");
            // Inside the finish_login span, which names the same request.
            assert_eq!(e["span"]["name"], "finish_login", "{e}");
            assert_eq!(e["span"]["request_id"].as_str(), Some(id.as_str()), "{e}");
        }
        // And the request was signed once, with the same ID.
        let sent = events()
            .into_iter()
            .filter(|e| field(e, "result") == Some("sent") && field(e, "request_id") == Some(id))
            .count();
        assert_eq!(sent, 1, "{id}");
    }
    let accepted = &login_outcomes(&accepted_id)[0];
    assert_eq!(accepted["fields"]["achieved_level"], 2);

    // DEBUG carries the message IDs (captured: this subscriber takes every level).
    let ids = events()
        .into_iter()
        .filter(|e| e["level"] == "DEBUG" && field(e, "request_id") == Some(&accepted_id))
        .find(|e| field(e, "response_id").is_some())
        .expect("a DEBUG event with the message IDs");
    assert_eq!(field(&ids, "response_id"), Some(login.response_id()));
    assert_eq!(
        field(&ids, "assertion_id"),
        Some(login.assertion_id().as_str())
    );

    // The counters followed.
    let metrics = w.sp.metrics().render_prometheus();
    for line in [
        format!("spid_sp_logins_total{{idp=\"{IDP}\",level=\"2\",result=\"accepted\",code=\"accepted\"}} 1"),
        format!("spid_sp_logins_total{{idp=\"{IDP}\",level=\"2\",result=\"rejected\",code=\"replay\"}} 1"),
        format!("spid_sp_logins_total{{idp=\"{IDP}\",level=\"2\",result=\"refused\",code=\"nr22\"}} 1"),
        format!("spid_sp_logins_total{{idp=\"{IDP}\",level=\"2\",result=\"rejected\",code=\"digest-mismatch\"}} 1"),
        "spid_sp_login_verification_seconds_count 4".to_owned(),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} missing:\n{metrics}");
    }

    assert_nothing_personal(&name_ids);
}

#[test]
fn an_unknown_idp_is_not_written_and_the_audit_hook_counts() {
    capture();
    let w = world_at(now());
    // A value from the caller that names no trusted IdP: logged and counted as `unknown`.
    let err =
        w.sp.start_login(
            "https://attacker.example/RSSMRA80A01H501U",
            &LoginOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "unknown-idp");
    let text = captured_text();
    assert!(!text.contains("attacker.example"), "{text}");
    let event = events()
        .into_iter()
        .find(|e| field(e, "result") == Some("not-started") && field(e, "idp") == Some("unknown"))
        .expect("the refusal is logged");
    assert_eq!(field(&event, "code"), Some("unknown-idp"));

    w.sp.metrics().record_audit_error();
    w.sp.metrics().record_audit_error();
    assert_eq!(w.sp.metrics().audit_errors(), 2);
    assert!(w
        .sp
        .metrics()
        .render_prometheus()
        .contains("\nspid_sp_audit_errors_total 2\n"));
}

#[test]
fn logout_steps_and_registry_loads_are_one_event_each() {
    capture();
    let w = world_at(now());
    let (_, pending) = w.sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let id = pending.request_id().as_str().to_owned();
    let relay = pending.relay_state().as_str().to_owned();
    let s = spec(&id, SpidLevel::L2);
    let name_id = s.name_id.clone();
    let login =
        w.sp.finish_login(&post(&w.idp.response(&s).unwrap(), Some(&relay)), pending)
            .unwrap();

    // SP-initiated: the request is signed (event `sent` with our request ID), and a
    // LogoutResponse that is not even XML is rejected with its code.
    let (_, pending) =
        w.sp.start_logout(login.session(), spid_sp::Binding::Redirect)
            .unwrap();
    let logout_id = pending.request_id().as_str().to_owned();
    let err =
        w.sp.finish_logout(&post("not xml", None), pending)
            .unwrap_err();
    let steps: Vec<(String, String)> = events()
        .into_iter()
        .filter(|e| e["target"] == "spid_sp::logout" && field(e, "request_id") == Some(&logout_id))
        .map(|e| {
            assert_eq!(field(&e, "idp"), Some(IDP), "{e}");
            (
                field(&e, "step").unwrap().to_owned(),
                field(&e, "code").unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("start".to_owned(), "sent".to_owned()),
            ("response".to_owned(), err.code().to_owned())
        ]
    );

    // IdP-initiated, from no trusted IdP: one event, the IdP `unknown`, the issuer unsaid.
    let forged = "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
        xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_forged-logout-1\" Version=\"2.0\" \
        IssueInstant=\"2026-01-15T10:00:00Z\"><saml:Issuer>https://forger.example</saml:Issuer>\
        <saml:NameID>x</saml:NameID></samlp:LogoutRequest>";
    let err =
        w.sp.handle_logout_request(&post(forged, None), spid_sp::Binding::Redirect)
            .unwrap_err();
    assert_eq!(err.code(), "unknown-idp");
    let text = captured_text();
    assert!(!text.contains("forger.example") && !text.contains("_forged-logout-1"));
    assert!(events().iter().any(|e| field(e, "step") == Some("request")
        && field(e, "code") == Some("unknown-idp")
        && field(e, "idp") == Some("unknown")));
    let metrics = w.sp.metrics().render_prometheus();
    assert!(metrics.contains(&format!(
        "spid_sp_logouts_total{{idp=\"{IDP}\",step=\"start\",code=\"sent\"}} 1\n"
    )));
    assert!(metrics.contains(
        "spid_sp_logouts_total{idp=\"unknown\",step=\"request\",code=\"unknown-idp\"} 1\n"
    ));

    // A registry document that does not verify: one WARN event with its code.
    let mut registry = spid_sp::metadata::Registry::new(spid_sp::metadata::RegistryTrust::new());
    let source = spid_sp::metadata::MetadataSource::Cie;
    assert!(registry.load(source, b"<not-metadata/>", now()).is_err());
    let refused: Vec<Value> = events()
        .into_iter()
        .filter(|e| e["target"] == "spid_sp::registry" && field(e, "result") == Some("refused"))
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(field(&refused[0], "source"), Some("cie"));
    assert_eq!(field(&refused[0], "code"), Some("metadata-refused"));
    assert_eq!(refused[0]["level"], "WARN");
    assert_eq!(refused[0]["span"]["name"], "registry_load");

    assert_nothing_personal(&[name_id]);
}

// ---------------------------------------------------------------------------------------
// The metrics route over a socket, and the http span
// ---------------------------------------------------------------------------------------

#[cfg(feature = "axum")]
mod http {
    use super::*;
    use std::collections::HashMap;
    use std::net::SocketAddr;

    use axum::http::HeaderName;
    use spid_sp::axum::SpidAuth;
    use spid_sp::metadata::IdentityProvider;
    use spid_sp::test_idp::TestIdp;
    use spid_sp::{Binding, FixedClock, ServiceProvider, SpConfig};

    struct Server {
        addr: SocketAddr,
        base: String,
        idp: TestIdp,
    }

    async fn serve() -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let idp = TestIdp::new(IDP, keypair("idp", 2048));
        let config = SpConfig::builder(base.clone(), keypair("sp", 2048))
            .assertion_consumer_service(format!("{base}/spid/acs"))
            .attribute_service(0, "Servizi", &["fiscalNumber", "name", "familyName"])
            .logout_service(Binding::Redirect, format!("{base}/spid/slo"))
            .build()
            .unwrap();
        let idps = IdentityProvider::from_metadata(&idp.metadata(IDP)).unwrap();
        let sp = ServiceProvider::new(config, idps)
            .unwrap()
            .with_clock(Arc::new(FixedClock(now())));
        let auth = SpidAuth::builder(sp)
            .secure_cookies(false)
            .request_id_header(HeaderName::from_static("x-request-id"))
            .build();
        let app = axum::Router::new()
            .merge(auth.routes())
            .merge(auth.metrics_router("/internal/metrics"))
            .layer(auth.layer())
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { addr, base, idp }
    }

    impl Server {
        /// `/spid/login`: the AuthnRequest ID and the RelayState.
        async fn begin(&self) -> (String, String) {
            let r = request(
                self.addr,
                "GET",
                &format!("/spid/login?idp={}", enc(IDP)),
                &[],
                None,
            )
            .send_async()
            .await;
            assert_eq!(r.status, 200, "{}", r.body);
            let xml = String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(r.form_field("SAMLRequest").unwrap())
                    .unwrap(),
            )
            .unwrap();
            let id = attr_value(&xml, " ID=\"").unwrap();
            (id, r.form_field("RelayState").unwrap())
        }

        async fn acs(&self, xml: &str, relay: &str, request_id: Option<&str>) -> Reply {
            let body = form(&[("SAMLResponse", &b64(xml)), ("RelayState", relay)]);
            let mut req = request(self.addr, "POST", "/spid/acs", &[], Some(&body));
            if let Some(id) = request_id {
                req = req.header("X-Request-Id", id);
            }
            req.send_async().await
        }

        fn spec(&self, id: &str) -> ResponseSpec {
            ResponseSpec::new(
                id,
                &format!("{}/spid/acs", self.base),
                &self.base,
                SpidLevel::L2,
                now(),
            )
            .attribute("fiscalNumber", &format!("TINIT-{FISCAL_CODE}"))
            .attribute("name", "Mario")
            .attribute("familyName", "Rossi")
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_metrics_route_speaks_prometheus_text_and_the_http_span_carries_the_request_id() {
        capture();
        let s = serve().await;
        let mut name_ids = Vec::new();

        // Accepted, with a trusted request ID from the (pretend) proxy.
        let (id, relay) = s.begin().await;
        let spec = s.spec(&id);
        name_ids.push(spec.name_id.clone());
        let r = s
            .acs(
                &s.idp.response(&spec).unwrap(),
                &relay,
                Some("proxy-req-42"),
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.header("x-request-id"), Some("proxy-req-42"));
        let accepted = &login_outcomes(&id)[..];
        assert_eq!(accepted.len(), 1);
        let spans = accepted[0]["spans"].as_array().unwrap();
        assert_eq!(spans[0]["name"], "http", "{spans:?}");
        assert_eq!(spans[0]["http_request_id"], "proxy-req-42");
        assert_eq!(spans[0]["route"], "/spid/acs");
        assert_eq!(spans[0]["method"], "POST");

        // Refused (nr22); a malformed request ID header is replaced by a generated one.
        let (id, relay) = s.begin().await;
        let refusal = s
            .idp
            .refusal(&id, &format!("{}/spid/acs", s.base), 22, now())
            .unwrap();
        let r = s.acs(&refusal, &relay, Some("bad id\"{}")).await;
        assert_eq!(r.status, 401);
        let generated = r.header("x-request-id").unwrap().to_owned();
        assert_eq!(generated.len(), 32, "{generated}");
        assert_eq!(
            login_outcomes(&id)[0]["spans"][0]["http_request_id"],
            generated
        );

        // Rejected by the core (tampered), and refused by the HTTP layer (no pending
        // request): each logged once.
        let (id, relay) = s.begin().await;
        let spec = s.spec(&id);
        name_ids.push(spec.name_id.clone());
        let tampered = s.idp.response(&spec).unwrap().replace("Mario", "Maria");
        assert_eq!(s.acs(&tampered, &relay, None).await.status, 403);
        assert_eq!(login_outcomes(&id).len(), 1);
        let r = s.acs(&tampered, &relay, Some("replayed-1")).await;
        assert_eq!(r.status, 403);
        let unknown: Vec<Value> = events()
            .into_iter()
            .filter(|e| {
                e["target"] == "spid_sp::http" && field(e, "code") == Some("unknown-request")
            })
            .filter(|e| e["spans"][0]["http_request_id"] == "replayed-1")
            .collect();
        assert_eq!(unknown.len(), 1, "{unknown:?}");
        assert_eq!(unknown[0]["level"], "INFO");

        // Scrape over the socket.
        let r = request(s.addr, "GET", "/internal/metrics", &[], None)
            .send_async()
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        let samples = check_exposition(&r.body);
        let get = |name: &str, labels: &[(&str, &str)]| -> f64 {
            let want: HashMap<String, String> = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            samples
                .iter()
                .find(|(n, l, _)| n == name && *l == want)
                .map(|s| s.2)
                .unwrap_or_else(|| panic!("{name} {labels:?} not in\n{}", r.body))
        };
        let login = |result: &str, code: &str| {
            get(
                "spid_sp_logins_total",
                &[
                    ("idp", IDP),
                    ("level", "2"),
                    ("result", result),
                    ("code", code),
                ],
            )
        };
        assert_eq!(login("accepted", "accepted"), 1.0);
        assert_eq!(login("refused", "nr22"), 1.0);
        assert_eq!(login("rejected", "digest-mismatch"), 1.0);
        assert_eq!(get("spid_sp_login_verification_seconds_count", &[]), 3.0);
        assert!(get("spid_sp_login_verification_seconds_sum", &[]) > 0.0);
        assert_eq!(
            get(
                "spid_sp_http_responses_total",
                &[("route", "/spid/acs"), ("status", "403")]
            ),
            2.0
        );
        assert_eq!(
            get(
                "spid_sp_http_responses_total",
                &[("route", "/spid/login"), ("status", "200")]
            ),
            3.0
        );
        assert_eq!(get("spid_sp_audit_errors_total", &[]), 0.0);

        assert_nothing_personal(&name_ids);
    }

    /// Checks `text` against the Prometheus text exposition format 0.0.4 and returns the
    /// samples (name, labels, value): every line a comment, blank or a sample; `# HELP`
    /// and `# TYPE` at most once per family and before its samples; label values quoted
    /// with only `\\`, `\"` and `\n` escapes; counters named `_total`; histogram buckets
    /// with ascending `le`, cumulative counts, `+Inf` equal to `_count`, and a `_sum`.
    fn check_exposition(text: &str) -> Vec<(String, HashMap<String, String>, f64)> {
        let mut types: HashMap<String, String> = HashMap::new();
        let mut helps: HashMap<String, ()> = HashMap::new();
        let mut samples = Vec::new();
        let name_ok = |n: &str| {
            !n.is_empty()
                && !n.starts_with(|c: char| c.is_ascii_digit())
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        };
        assert!(text.ends_with('\n'), "ends with a newline");
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap();
                assert!(name_ok(name) && !help.is_empty(), "{line}");
                assert!(
                    helps.insert(name.to_owned(), ()).is_none(),
                    "HELP twice: {line}"
                );
                assert!(!types.contains_key(name), "HELP after TYPE: {line}");
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(
                    matches!(
                        kind,
                        "counter" | "gauge" | "histogram" | "summary" | "untyped"
                    ),
                    "{line}"
                );
                assert!(
                    types.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "TYPE twice: {line}"
                );
                assert!(
                    !samples
                        .iter()
                        .any(|(n, _, _): &(String, _, _)| n.starts_with(name)),
                    "TYPE after samples: {line}"
                );
                continue;
            }
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let (name, labels, value) = parse_sample(line);
            assert!(name_ok(&name), "{line}");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| types.get(*f).map(String::as_str) == Some("histogram"))
                })
                .unwrap_or(&name)
                .to_owned();
            let kind = types
                .get(&family)
                .unwrap_or_else(|| panic!("no TYPE before {line}"));
            if kind == "counter" {
                assert!(family.ends_with("_total"), "{line}");
                assert!(value >= 0.0 && value.fract() == 0.0, "{line}");
            }
            samples.push((name, labels, value));
        }
        // Histograms: buckets ascending and cumulative, +Inf = _count, _sum present.
        for (family, _) in types.iter().filter(|(_, k)| *k == "histogram") {
            let buckets: Vec<(f64, f64)> = samples
                .iter()
                .filter(|(n, _, _)| *n == format!("{family}_bucket"))
                .map(|(_, l, v)| {
                    let le = &l["le"];
                    let le = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    };
                    (le, *v)
                })
                .collect();
            assert!(buckets.len() >= 2, "{family}");
            assert!(buckets.windows(2).all(|w| w[0].0 < w[1].0), "le ascending");
            assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "cumulative");
            assert_eq!(buckets.last().unwrap().0, f64::INFINITY);
            let count = samples
                .iter()
                .find(|(n, _, _)| *n == format!("{family}_count"))
                .unwrap()
                .2;
            assert_eq!(buckets.last().unwrap().1, count, "+Inf = _count");
            assert!(samples
                .iter()
                .any(|(n, _, _)| *n == format!("{family}_sum")));
        }
        samples
    }

    /// `name{a="x",b="y"} value` or `name value`, with the format's label escapes.
    fn parse_sample(line: &str) -> (String, HashMap<String, String>, f64) {
        let mut labels = HashMap::new();
        let (name, rest) = match line.find('{') {
            Some(i) => {
                let name = &line[..i];
                let mut chars = line[i + 1..].char_indices().peekable();
                let body = &line[i + 1..];
                let end;
                loop {
                    // label name
                    let (start, _) = *chars.peek().unwrap();
                    let eq = body[start..].find('=').unwrap() + start;
                    let key = body[start..eq].to_owned();
                    assert!(
                        key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "{line}"
                    );
                    while chars.next_if(|(j, _)| *j <= eq).is_some() {}
                    assert_eq!(chars.next().map(|c| c.1), Some('"'), "{line}");
                    let mut value = String::new();
                    loop {
                        match chars.next().unwrap().1 {
                            '\\' => match chars.next().unwrap().1 {
                                '\\' => value.push('\\'),
                                '"' => value.push('"'),
                                'n' => value.push('\n'),
                                other => panic!("bad escape \\{other} in {line}"),
                            },
                            '"' => break,
                            '\n' => panic!("raw newline in {line}"),
                            c => value.push(c),
                        }
                    }
                    assert!(labels.insert(key, value).is_none(), "label twice: {line}");
                    match chars.next().unwrap() {
                        (_, ',') => continue,
                        (j, '}') => {
                            end = j;
                            break;
                        }
                        (_, c) => panic!("unexpected {c:?} in {line}"),
                    }
                }
                (name.to_owned(), &body[end + 1..])
            }
            None => {
                let n = line.split(' ').next().unwrap();
                (n.to_owned(), &line[n.len()..])
            }
        };
        let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("{line}"));
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
        };
        (name, labels, value)
    }
}
