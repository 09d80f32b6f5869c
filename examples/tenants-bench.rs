//! **Benchmark, not a test.** Many tenants in one process (`spid_sp::tenants`): startup
//! time, memory per tenant, metadata render time per tenant, and ACS login throughput
//! with T tenants against one, in the same run. Figures go to docs/performance.md.
//!
//! ```sh
//! bash benches/tenants.sh     # = cargo run --release --features tenants,axum,test-idp \
//!                             #       --example tenants-bench -- --tenants 3000
//! ```
//!
//! 1. writes T tenant files (path-routed, the aggregator's shared key) into
//!    `target/tenants-bench/`, then **times** `TenantTable::build` (read, parse,
//!    configure, route every file) and measures the RSS it added;
//! 2. **times** the signed metadata of `--render` tenants (one RSA signature each);
//! 3. for each table (1 tenant, then T tenants), starts N logins through the
//!    `SpidTenants` router (round-robin over the tenants), pre-signs one Response per
//!    login with a test IdP key, then **times** the N Responses posted to the tenants'
//!    ACS with C tasks in flight (every one must answer 303), and prints logins/s;
//!    the two alternate for `--rounds` rounds (default 5) and the medians are compared.
//!
//! In process, through the axum router's `Service` (no sockets: what is measured is the
//! tenant routing, the stores and the SAML work, not the kernel's loopback).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use spid_sp::axum::SpidTenants;
use spid_sp::metadata::IdentityProvider;
use spid_sp::tenants::TenantTable;
use spid_sp::test_idp::{ResponseSpec, TestIdp};
use spid_sp::{Clock, IdpSet, SigningKey, SpidLevel, SystemClock};
use tower_service::Service as _;

const IDP: &str = "https://idp.bench.test";
const BASE: &str = "https://aggregatore.example.it";

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("tenants-bench: {msg}");
    std::process::exit(2)
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| fail(format!("{name}: not a number")))
        })
}

/// The resident set size of this process, in KiB.
fn rss_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A self-signed RSA-2048 key and certificate.
fn keypair(cn: &str) -> SigningKey {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(365).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = b.build();
    SigningKey::from_pem(
        &key.private_key_to_pem_pkcs8().unwrap(),
        &cert.to_pem().unwrap(),
    )
    .unwrap()
}

fn tenant_file(id: &str, n: usize) -> String {
    format!(
        r#"entity_id = "{BASE}/t/{id}"
assertion_consumer_services = ["{BASE}/t/{id}/spid/acs"]
single_logout_services = [{{ binding = "redirect", url = "{BASE}/t/{id}/spid/slo" }}]
attribute_services = [{{ index = 0, name = "Servizi online", attributes = ["fiscalNumber", "name", "familyName"] }}]

[metadata]
profile = "spid-sp-public"
organization = {{ name = "Comune numero {n}", display_name = "Comune {n}", url = "https://www.comune{n}.example.it" }}
contact = {{ email = "spid@comune{n}.example.it", phone = "+390612345678", ipa_code = "c_{n:04}" }}

[tenant]
path = "/t/{id}"
"#
    )
}

fn write_dir(dir: &std::path::Path, tenants: usize) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap_or_else(|e| fail(e));
    for n in 0..tenants {
        let id = format!("ente-{n:05}");
        std::fs::write(dir.join(format!("{id}.toml")), tenant_file(&id, n)).unwrap();
    }
}

fn table(dir: &std::path::Path, idps: &IdpSet, key: &SigningKey) -> TenantTable {
    let (table, report) = TenantTable::builder()
        .directory(dir)
        .idps(idps.clone())
        .shared_key(key.clone())
        .pending_store(Arc::new(spid_sp::store::MemoryPendingStore::new(1_000_000)))
        .session_store(Arc::new(spid_sp::store::MemorySessionStore::new(1_000_000)))
        .replay_cache(Arc::new(spid_sp::store::MemoryReplayCache::new(1_000_000)))
        .build();
    if !report.errors().is_empty() {
        fail(format!("{:?}", report.errors()));
    }
    table
}

async fn call(router: &axum::Router, req: Request<Body>) -> (u16, Vec<(String, String)>, String) {
    let res = router
        .clone()
        .call(req)
        .await
        .unwrap_or_else(|e| match e {});
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = axum::body::to_bytes(res.into_body(), 4 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| fail("no form field")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// N logins over the tenants of `table`, round-robin: the completed logins per second at
/// the ACS (timed phase only).
async fn throughput(
    table: &TenantTable,
    idp: &Arc<TestIdp>,
    logins: usize,
    concurrency: usize,
) -> f64 {
    let tenants = SpidTenants::builder(table.clone())
        .each(move |b, _| b.secure_cookies(true).pending_per_client(logins))
        .build();
    let router: axum::Router = tenants.routes();
    let ids: Vec<String> = table.tenants().iter().map(|t| t.id().to_string()).collect();
    // 1. Start the logins (untimed).
    let mut started = Vec::with_capacity(logins);
    for i in 0..logins {
        let id = &ids[i % ids.len()];
        let uri = format!("/t/{id}/spid/login?idp={}", urlencode(IDP));
        let req = Request::get(uri)
            .header("host", "aggregatore.example.it")
            .body(Body::empty())
            .unwrap();
        let (status, _, body) = call(&router, req).await;
        if status != 200 {
            fail(format!("login start: {status}"));
        }
        let xml = base64::engine::general_purpose::STANDARD
            .decode(field(&body, "SAMLRequest"))
            .unwrap();
        let xml = String::from_utf8(xml).unwrap();
        let rid = {
            let s = xml.find(" ID=\"").unwrap() + 5;
            xml[s..s + xml[s..].find('"').unwrap()].to_owned()
        };
        started.push((id.clone(), rid, field(&body, "RelayState")));
    }
    // 2. Pre-sign the Responses (untimed, on every core).
    let now = SystemClock.now();
    let started = Arc::new(started);
    let next = Arc::new(AtomicUsize::new(0));
    let signed = Arc::new(std::sync::Mutex::new(vec![String::new(); logins]));
    let threads: Vec<_> = (0..std::thread::available_parallelism().map_or(2, |n| n.get()))
        .map(|_| {
            let (started, next, signed, idp) =
                (started.clone(), next.clone(), signed.clone(), idp.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((id, rid, relay)) = started.get(i) else {
                    break;
                };
                let spec = ResponseSpec::new(
                    rid,
                    &format!("{BASE}/t/{id}/spid/acs"),
                    &format!("{BASE}/t/{id}"),
                    SpidLevel::L2,
                    now,
                )
                .attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U")
                .attribute("name", "Mario")
                .attribute("familyName", "Rossi");
                let response =
                    base64::engine::general_purpose::STANDARD.encode(idp.response(&spec).unwrap());
                let form = spid_sp::binding::post::encode_form(&[
                    ("SAMLResponse", &response),
                    ("RelayState", relay),
                ]);
                signed.lock().unwrap()[i] = form;
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let forms = Arc::new(std::mem::take(&mut *signed.lock().unwrap()));
    // 3. Timed: the ACS posts, `concurrency` in flight.
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let clock = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (router, started, forms, next, ok) = (
                router.clone(),
                started.clone(),
                forms.clone(),
                next.clone(),
                ok.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let (Some((id, _, _)), Some(form)) = (started.get(i), forms.get(i)) else {
                        break;
                    };
                    let req = Request::post(format!("/t/{id}/spid/acs"))
                        .header("host", "aggregatore.example.it")
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(Body::from(form.clone()))
                        .unwrap();
                    if call(&router, req).await.0 == 303 {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let secs = clock.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::SeqCst);
    if ok != logins {
        fail(format!("{ok} of {logins} logins completed"));
    }
    logins as f64 / secs
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    spid_sp::binding::redirect::quote_plus(s, &mut out);
    out
}

#[tokio::main]
async fn main() {
    let tenants = arg("--tenants", 3000);
    let render = arg("--render", 300).min(tenants);
    let logins = arg("--logins", 3000);
    let concurrency = arg("--concurrency", 16);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tenants-bench");
    let (one_dir, many_dir) = (root.join("one"), root.join("many"));
    write_dir(&one_dir, 1);
    write_dir(&many_dir, tenants);

    let idp = Arc::new(TestIdp::new(IDP, keypair("idp")));
    let idps = IdpSet::new(IdentityProvider::from_metadata(&idp.metadata(IDP)).unwrap()).unwrap();
    let key = keypair("aggregatore");

    // 1. Startup and memory.
    let one = table(&one_dir, &idps, &key);
    let before = rss_kib();
    let clock = Instant::now();
    let many = table(&many_dir, &idps, &key);
    let startup = clock.elapsed();
    let after = rss_kib();
    let per_tenant = (after.saturating_sub(before)) as f64 / tenants as f64;
    println!(
        "result tenants={tenants} startup_ms={:.0} rss_before_kib={before} rss_after_kib={after} kib_per_tenant={per_tenant:.1}",
        startup.as_secs_f64() * 1000.0
    );
    // A reload with nothing changed (every file read and hashed again).
    let clock = Instant::now();
    let report = many.reload();
    println!(
        "result reload_unchanged_ms={:.0} unchanged={}",
        clock.elapsed().as_secs_f64() * 1000.0,
        report.unchanged()
    );

    // Each tenant's integration (its SpidAuth and router, made at its first request).
    let list = many.tenants();
    let web = SpidTenants::builder(many.clone()).build();
    for t in &list {
        let _ = web.auth(t.id().as_str());
    }
    let served = rss_kib();
    println!(
        "result rss_with_integrations_kib={served} kib_per_tenant_with_integration={:.1}",
        served.saturating_sub(before) as f64 / tenants as f64
    );
    drop(web);

    // 2. Metadata render time.
    let clock = Instant::now();
    for t in list.iter().take(render) {
        t.metadata_xml().unwrap_or_else(|e| fail(e));
    }
    println!(
        "result metadata_rendered={render} ms_per_tenant={:.2}",
        clock.elapsed().as_secs_f64() * 1000.0 / render as f64
    );

    // 3. Throughput: one tenant and all of them, alternated for `--rounds` rounds, each
    // with fresh logins; the medians are compared (the host is shared: single rounds are
    // noisy).
    let rounds_n = arg("--rounds", 5);
    let (mut singles, mut multis) = (Vec::new(), Vec::new());
    for round in 1..=rounds_n {
        let single = throughput(&one, &idp, logins, concurrency).await;
        let multi = throughput(&many, &idp, logins, concurrency).await;
        println!(
            "result round={round} logins={logins} concurrency={concurrency} \
             single_tenant_per_s={single:.0} {tenants}_tenants_per_s={multi:.0} ratio={:.3}",
            multi / single
        );
        singles.push(single);
        multis.push(multi);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (s, m) = (median(&mut singles), median(&mut multis));
    let after_logins = rss_kib();
    println!(
        "result median_single_per_s={s:.0} median_{tenants}_tenants_per_s={m:.0} ratio={:.3} \
         rss_after_logins_kib={after_logins} (the stores hold every login's hand-off)",
        m / s
    );
    let _ = std::fs::remove_dir_all(&root);
}
