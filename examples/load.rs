//! **Benchmark, not a test.** The load generator of `benches/load.sh`: completed logins
//! per second at an SP's ACS, on loopback, with the in-memory or the Redis store.
//!
//! ```sh
//! bash benches/load.sh              # builds, starts redis-server and the demo SP, runs this
//! load --sp 127.0.0.1:PORT --base-url URL --idp-dir DIR --idp-entity-id ID \
//!      [--logins N] [--concurrency C] [--sp-pid PID] [--redis-pid PID] [--label NAME]
//! ```
//!
//! 1. starts `N` logins at the SP (`GET /spid/login`: the SP signs `N` AuthnRequests and
//!    stores `N` pending logins), keeping each request ID and RelayState;
//! 2. pre-signs one valid Response per login with the test IdP key of `DIR`
//!    (`idp.key.pem`, `idp.crt.pem`, made by `sign-response keygen`), on every core —
//!    RSA signing is slow, so it happens before the clock starts;
//! 3. **timed:** posts the `N` Responses to `/spid/acs` over `C` keep-alive connections
//!    and counts `303` (a completed login) and anything else (an error), with each
//!    request's latency;
//! 4. posts every Response once more: each must be refused (`403`); a `303` is a double
//!    acceptance.
//!
//! Prints one `result` line (`key=value`). With `--sp-pid` / `--redis-pid` it also reports
//! the CPU time each process used during the timed phase (from `/proc`), next to its own,
//! and the SP's peak RSS. Bounded: every phase stops after `--max-secs` (default 300) and
//! every socket operation times out after 10 s.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use spid_sp::test_idp::{ResponseSpec, TestIdp};
use spid_sp::{Clock, SigningKey, SpidLevel, SystemClock};

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("load: {msg}");
    std::process::exit(2)
}

struct Options {
    sp: String,
    base_url: String,
    idp_dir: String,
    idp_entity_id: String,
    logins: usize,
    concurrency: usize,
    sp_pid: Option<u32>,
    redis_pid: Option<u32>,
    label: String,
    max_secs: u64,
}

fn options() -> Options {
    let mut o = Options {
        sp: String::new(),
        base_url: String::new(),
        idp_dir: String::new(),
        idp_entity_id: String::new(),
        logins: 20_000,
        concurrency: 16,
        sp_pid: None,
        redis_pid: None,
        label: "sp".into(),
        max_secs: 300,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| fail(format!("{flag} needs a value")))
        };
        let number = |v: String| -> u64 {
            v.parse()
                .unwrap_or_else(|_| fail(format!("not a number: {v}")))
        };
        match flag.as_str() {
            "--sp" => o.sp = value(),
            "--base-url" => o.base_url = value(),
            "--idp-dir" => o.idp_dir = value(),
            "--idp-entity-id" => o.idp_entity_id = value(),
            "--logins" => o.logins = number(value()) as usize,
            "--concurrency" => o.concurrency = (number(value()) as usize).clamp(1, 1024),
            "--sp-pid" => o.sp_pid = Some(number(value()) as u32),
            "--redis-pid" => o.redis_pid = Some(number(value()) as u32),
            "--label" => o.label = value(),
            "--max-secs" => o.max_secs = number(value()),
            _ => fail(format!(
                "unknown option {flag} (see the comment at the top of examples/load.rs)"
            )),
        }
    }
    if o.sp.is_empty() || o.base_url.is_empty() || o.idp_dir.is_empty() {
        fail("--sp, --base-url, --idp-dir and --idp-entity-id are required");
    }
    o.logins = o.logins.clamp(1, 1_000_000);
    o
}

#[path = "common/http.rs"]
mod http;
use http::{field, request_id, Conn};

// ---------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------

struct Started {
    id: String,
    relay: String,
}

/// Runs `work(i, conn)` for i in 0..n on `c` threads with one connection each.
fn parallel<T: Send>(
    o: &Options,
    n: usize,
    c: usize,
    deadline: Instant,
    work: impl Fn(usize, &mut Conn) -> std::io::Result<T> + Sync,
) -> Vec<Option<T>> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    let stop = AtomicBool::new(false);
    std::thread::scope(|sc| {
        for _ in 0..c.min(n) {
            sc.spawn(|| {
                let mut conn = Conn::open(&o.sp).unwrap_or_else(|e| fail(format!("connect: {e}")));
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if Instant::now() > deadline {
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                    let r = match work(i, &mut conn) {
                        Ok(r) => Some(r),
                        Err(_) => {
                            // A broken connection: count the error and open another.
                            conn =
                                Conn::open(&o.sp).unwrap_or_else(|e| fail(format!("connect: {e}")));
                            None
                        }
                    };
                    if let Ok(mut v) = out.lock() {
                        if let Some(slot) = v.get_mut(i) {
                            *slot = r;
                        }
                    }
                }
            });
        }
    });
    if stop.load(Ordering::Relaxed) {
        fail(format!(
            "phase did not finish within --max-secs {}",
            o.max_secs
        ));
    }
    out.into_inner().unwrap_or_default()
}

/// utime + stime of a process, in seconds.
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Busy CPU time of the whole machine (all cores), in seconds.
fn machine_busy_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<f64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle) / 100.0)
}

fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0) as f64 / 1000.0
}

fn main() {
    let o = options();
    let dir = Path::new(&o.idp_dir);
    let key = std::fs::read(dir.join("idp.key.pem")).unwrap_or_else(|e| fail(e));
    let cert = std::fs::read(dir.join("idp.crt.pem")).unwrap_or_else(|e| fail(e));
    let idp = TestIdp::new(
        o.idp_entity_id.clone(),
        SigningKey::from_pem(&key, &cert).unwrap_or_else(|e| fail(e)),
    );
    let n = o.logins;
    let max = Duration::from_secs(o.max_secs);

    // 1. N logins started at the SP.
    let mut login_path = String::from("/spid/login?idp=");
    spid_sp::binding::redirect::quote_plus(&o.idp_entity_id, &mut login_path);
    let head = format!("GET {login_path} HTTP/1.1\r\n");
    let t = Instant::now();
    let started = parallel(&o, n, o.concurrency, t + max, |_, conn| {
        let r = conn.request(&head, b"")?;
        let page = String::from_utf8_lossy(&r.body);
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "no form");
        if r.status != 200 || r.set_cookie.is_empty() {
            return Err(bad());
        }
        let id = field(&page, "SAMLRequest")
            .and_then(|b| request_id(&b))
            .ok_or_else(bad)?;
        let relay = field(&page, "RelayState").ok_or_else(bad)?;
        Ok(Started { id, relay })
    });
    let start_secs = t.elapsed().as_secs_f64();
    let started: Vec<Started> = started.into_iter().flatten().collect();
    if started.len() != n {
        fail(format!(
            "only {} of {n} logins could be started",
            started.len()
        ));
    }
    eprintln!(
        "load[{}]: {n} logins started in {start_secs:.1} s ({:.0}/s, the SP signs each request)",
        o.label,
        n as f64 / start_secs
    );

    // 2. Pre-sign one Response per login (all cores), as ready-to-post form bodies.
    let t = Instant::now();
    let acs = format!("{}/spid/acs", o.base_url);
    let now = SystemClock.now();
    let threads = std::thread::available_parallelism().map_or(2, |p| p.get());
    let chunk = n.div_ceil(threads);
    let bodies: Vec<Vec<u8>> = std::thread::scope(|sc| {
        let handles: Vec<_> = started
            .chunks(chunk)
            .map(|part| {
                let (idp, acs, o) = (&idp, &acs, &o);
                sc.spawn(move || {
                    part.iter()
                        .map(|s| {
                            let spec =
                                ResponseSpec::new(&s.id, acs, &o.base_url, SpidLevel::L2, now)
                                    .attribute("fiscalNumber", "TINIT-RSSMRA85T10A562S")
                                    .attribute("name", "Mario")
                                    .attribute("familyName", "Rossi")
                                    .attribute("dateOfBirth", "1985-12-10")
                                    .attribute("email", "mario.rossi@example.it");
                            let xml = idp.response(&spec).unwrap_or_else(|e| fail(e));
                            let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
                            let mut body = String::from("SAMLResponse=");
                            spid_sp::binding::redirect::quote_plus(&b64, &mut body);
                            body.push_str("&RelayState=");
                            spid_sp::binding::redirect::quote_plus(&s.relay, &mut body);
                            body.into_bytes()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| fail("signing thread failed")))
            .collect()
    });
    eprintln!(
        "load[{}]: {n} responses pre-signed in {:.1} s",
        o.label,
        t.elapsed().as_secs_f64()
    );

    // 3. Timed: post them all to the ACS.
    let post = "POST /spid/acs HTTP/1.1\r\n";
    let pid_sp = o.sp_pid.map(|p| p.to_string());
    let pid_redis = o.redis_pid.map(|p| p.to_string());
    let cpu = |p: &Option<String>| p.as_deref().and_then(cpu_secs);
    let (sp0, redis0, me0) = (cpu(&pid_sp), cpu(&pid_redis), cpu_secs("self"));
    let busy0 = machine_busy_secs();
    let t = Instant::now();
    let results = parallel(&o, n, o.concurrency, t + max, |i, conn| {
        let body = bodies.get(i).map_or(&[][..], Vec::as_slice);
        let t0 = Instant::now();
        let r = conn.request(post, body)?;
        Ok((r.status, t0.elapsed().as_micros() as u64))
    });
    let secs = t.elapsed().as_secs_f64();
    let (sp1, redis1, me1) = (cpu(&pid_sp), cpu(&pid_redis), cpu_secs("self"));
    let busy1 = machine_busy_secs();
    let completed = results.iter().flatten().filter(|(s, _)| *s == 303).count();
    let errors = n - completed;
    let mut lat: Vec<u64> = results.iter().flatten().map(|(_, l)| *l).collect();
    lat.sort_unstable();

    // 4. Replays: every Response once more, each must be refused.
    let replays = parallel(&o, n, o.concurrency, Instant::now() + max, |i, conn| {
        let body = bodies.get(i).map_or(&[][..], Vec::as_slice);
        Ok(conn.request(post, body)?.status)
    });
    let double = replays.iter().flatten().filter(|s| **s == 303).count();
    let replay_errors = replays
        .iter()
        .filter(|s| !matches!(s, Some(403) | Some(303)))
        .count();

    let diff = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", b - a),
        _ => "n/a".into(),
    };
    // Everything else the machine did meanwhile (other processes, the kernel's share not
    // charged to these three): large values mean the figures are disturbed.
    let other = match (busy0, busy1) {
        (Some(a), Some(b)) => {
            let ours = [(sp0, sp1), (redis0, redis1), (me0, me1)]
                .iter()
                .map(|(x, y)| y.unwrap_or(0.0) - x.unwrap_or(0.0))
                .sum::<f64>();
            format!("{:.2}", (b - a - ours).max(0.0))
        }
        _ => "n/a".into(),
    };
    let rss = o
        .sp_pid
        .and_then(peak_rss_mib)
        .map_or("n/a".into(), |m| format!("{m:.1}"));
    println!(
        "result label={} logins={n} concurrency={} secs={secs:.2} logins_per_sec={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} errors={errors} double_acceptances={double} replay_errors={replay_errors} cpu_sp_s={} cpu_redis_s={} cpu_loadgen_s={} cpu_other_s={other} wall_s={secs:.2} sp_peak_rss_mib={rss}",
        o.label,
        o.concurrency,
        completed as f64 / secs,
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0),
        diff(sp0, sp1),
        diff(redis0, redis1),
        diff(me0, me1),
    );
    if errors > 0 || double > 0 || replay_errors > 0 {
        std::process::exit(1);
    }
}
