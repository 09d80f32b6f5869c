//! **The load side of `tests/sentinel.sh`, not a benchmark.** Runs complete logins
//! against an SP (`GET /spid/login`, a Response signed by a test IdP key, `POST
//! /spid/acs`) on `C` threads for `--secs S` while the test kills the Redis primary,
//! then replays every accepted Response (each must be refused) and prints one `result`
//! line (`key=value`): logins accepted and failed, the longest gap between two accepted
//! logins (the outage, with its start and end in Unix milliseconds), logins accepted
//! after it, and double acceptances.
//!
//! ```sh
//! failover-load --sp 127.0.0.1:PORT --base-url URL --idp-dir DIR --idp-entity-id ID \
//!               [--concurrency C] [--secs S]
//! ```
//!
//! Bounded: it stops after `S` seconds (default 20) plus the replays; every socket
//! operation times out after 10 s. Exit status 1 on a double acceptance.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use spid_sp::test_idp::{ResponseSpec, TestIdp};
use spid_sp::{Clock, SigningKey, SpidLevel, SystemClock};

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("failover-load: {msg}");
    std::process::exit(2)
}

#[path = "common/http.rs"]
mod http;
use http::{field, request_id, Conn};

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// One login attempt: `Ok(Some(body))` accepted (the posted form, for the replay),
/// `Ok(None)` refused or failed at the SP, `Err` a broken connection.
fn login(
    conn: &mut Conn,
    idp: &TestIdp,
    login_head: &str,
    acs: &str,
    base_url: &str,
) -> std::io::Result<Option<Vec<u8>>> {
    let reply = conn.request(login_head, b"")?;
    if reply.status != 200 {
        return Ok(None);
    }
    let page = String::from_utf8_lossy(&reply.body);
    let (Some(id), Some(relay)) = (
        field(&page, "SAMLRequest").and_then(|b| request_id(&b)),
        field(&page, "RelayState"),
    ) else {
        return Ok(None);
    };
    let spec = ResponseSpec::new(&id, acs, base_url, SpidLevel::L2, SystemClock.now())
        .attribute("fiscalNumber", "TINIT-RSSMRA85T10A562S")
        .attribute("name", "Mario")
        .attribute("familyName", "Rossi");
    let xml = idp.response(&spec).unwrap_or_else(|e| fail(e));
    let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
    let mut body = String::from("SAMLResponse=");
    spid_sp::binding::redirect::quote_plus(&b64, &mut body);
    body.push_str("&RelayState=");
    spid_sp::binding::redirect::quote_plus(&relay, &mut body);
    let body = body.into_bytes();
    let status = conn.request("POST /spid/acs HTTP/1.1\r\n", &body)?.status;
    Ok((status == 303).then_some(body))
}

fn main() {
    let (mut sp, mut base_url, mut idp_dir, mut idp_id) = (None, None, None, None);
    let (mut concurrency, mut secs) = (4usize, 20u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| fail(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--sp" => sp = Some(value()),
            "--base-url" => base_url = Some(value()),
            "--idp-dir" => idp_dir = Some(value()),
            "--idp-entity-id" => idp_id = Some(value()),
            "--concurrency" => {
                concurrency = value().parse().unwrap_or_else(|_| fail("--concurrency"));
            }
            "--secs" => secs = value().parse().unwrap_or_else(|_| fail("--secs")),
            _ => fail(format!("unknown option {flag}")),
        }
    }
    let (Some(sp), Some(base_url), Some(idp_dir), Some(idp_id)) = (sp, base_url, idp_dir, idp_id)
    else {
        fail("--sp, --base-url, --idp-dir and --idp-entity-id are required")
    };
    let dir = Path::new(&idp_dir);
    let key = std::fs::read(dir.join("idp.key.pem")).unwrap_or_else(|e| fail(e));
    let cert = std::fs::read(dir.join("idp.crt.pem")).unwrap_or_else(|e| fail(e));
    let idp = TestIdp::new(
        idp_id.clone(),
        SigningKey::from_pem(&key, &cert).unwrap_or_else(|e| fail(e)),
    );
    let mut login_path = String::from("/spid/login?idp=");
    spid_sp::binding::redirect::quote_plus(&idp_id, &mut login_path);
    let login_head = format!("GET {login_path} HTTP/1.1\r\n");
    let acs = format!("{base_url}/spid/acs");

    // (completion time in Unix ms, accepted form body or None)
    let outcomes: Mutex<Vec<(u128, Option<Vec<u8>>)>> = Mutex::new(Vec::new());
    let deadline = Instant::now() + Duration::from_secs(secs.clamp(1, 600));
    std::thread::scope(|sc| {
        for _ in 0..concurrency.clamp(1, 64) {
            sc.spawn(|| {
                let mut conn = None;
                while Instant::now() < deadline {
                    let c = match conn.as_mut() {
                        Some(c) => c,
                        None => match Conn::open(&sp) {
                            Ok(c) => conn.insert(c),
                            Err(_) => {
                                std::thread::sleep(Duration::from_millis(50));
                                continue;
                            }
                        },
                    };
                    let r = match login(c, &idp, &login_head, &acs, &base_url) {
                        Ok(r) => r,
                        Err(_) => {
                            conn = None;
                            None
                        }
                    };
                    if r.is_none() {
                        // Do not spin while the store is down.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    if let Ok(mut o) = outcomes.lock() {
                        o.push((unix_ms(), r));
                    }
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap_or_default();
    outcomes.sort_by_key(|(t, _)| *t);
    let accepted: Vec<(u128, &Vec<u8>)> = outcomes
        .iter()
        .filter_map(|(t, b)| b.as_ref().map(|b| (*t, b)))
        .collect();
    let failed = outcomes.len() - accepted.len();
    let (mut gap, mut gap_start, mut gap_end) = (0u128, 0u128, 0u128);
    for w in accepted.windows(2) {
        if let [(a, _), (b, _)] = w {
            if b - a > gap {
                (gap, gap_start, gap_end) = (b - a, *a, *b);
            }
        }
    }
    let after = accepted.iter().filter(|(t, _)| *t > gap_end).count();
    // Accepted logins per second of the run.
    let t0 = outcomes.first().map_or(0, |(t, _)| *t);
    let mut per_sec: Vec<usize> = Vec::new();
    for (t, _) in &accepted {
        let i = usize::try_from((t - t0) / 1000).unwrap_or(0);
        if per_sec.len() <= i {
            per_sec.resize(i + 1, 0);
        }
        if let Some(n) = per_sec.get_mut(i) {
            *n += 1;
        }
    }
    let timeline: Vec<String> = per_sec.iter().map(usize::to_string).collect();

    // Every accepted Response once more: each must be refused.
    let mut conn = Conn::open(&sp).unwrap_or_else(|e| fail(format!("connect: {e}")));
    let (mut double, mut refused, mut other) = (0usize, 0usize, 0usize);
    for (_, body) in &accepted {
        match conn
            .request("POST /spid/acs HTTP/1.1\r\n", body)
            .map(|r| r.status)
        {
            Ok(303) => double += 1,
            Ok(403) => refused += 1,
            Ok(_) => other += 1,
            Err(_) => {
                other += 1;
                conn = Conn::open(&sp).unwrap_or_else(|e| fail(format!("connect: {e}")));
            }
        }
    }
    println!(
        "result accepted={} failed={failed} outage_ms={gap} outage_start_ms={gap_start} outage_end_ms={gap_end} accepted_after_outage={after} replayed={} replays_refused={refused} replays_other={other} double_acceptances={double} per_second={}",
        accepted.len(),
        accepted.len(),
        timeline.join(","),
    );
    if double > 0 {
        std::process::exit(1);
    }
}
