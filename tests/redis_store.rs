//! The Redis stores against a real `redis-server`, and several demo SP instances sharing
//! one Redis. `tests/redis.sh` installs and starts what is needed and sets:
//!
//! - `SPID_SP_REDIS_URL`: a running Redis (store tests and the multi-instance tests);
//! - `SPID_SP_DEMO_SP`: the demo SP binary built with `--features axum,redis`
//!   (multi-instance tests: a login started on A finishes on B, concurrent replays to A
//!   and B accepted exactly once, a restarted instance keeps logins in flight);
//! - `SPID_SP_REDIS_SERVER`: the `redis-server` binary (the fault test starts its own
//!   Redis, kills it mid-login and starts it again).
//!
//! Without them (plain `cargo test`) each test prints a notice and passes without
//! checking anything.
#![cfg(all(feature = "redis", feature = "axum"))]

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{enc, Reply};
use spid_sp::store::SessionStore;
use spid_sp::store::{PendingStore, RedisStore, ReplayCache};
use spid_sp::test_idp::{ResponseSpec, TestIdp};
use spid_sp::{
    Clock, Comparison, EntityId, PendingLogin, RelayState, RequestId, SpidLevel, SystemClock,
    Timestamp,
};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The Redis URL, or `None` (and a notice) when the test should be skipped.
fn redis_url(test: &str) -> Option<String> {
    let url = env("SPID_SP_REDIS_URL");
    if url.is_none() {
        eprintln!("{test}: skipped (SPID_SP_REDIS_URL not set; run tests/redis.sh)");
    }
    url
}

/// A store with a namespace of its own (tests run in parallel on one Redis).
fn store(url: &str, test: &str) -> RedisStore {
    let ns = format!("test:{test}:{}:{}", std::process::id(), unique());
    RedisStore::open(url, ns).unwrap()
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = SystemClock.now().unix_millis() as u64;
    t.wrapping_mul(1000)
        .wrapping_add(N.fetch_add(1, Ordering::Relaxed))
}

fn raw(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

fn pttl(url: &str, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query(&mut raw(url)).unwrap()
}

fn pending(id: &str, now: Timestamp, lifetime_secs: i64) -> PendingLogin {
    PendingLogin::from_parts(
        RequestId::new(id),
        EntityId::new("https://idp.test"),
        now,
        now.plus_seconds(lifetime_secs),
        SpidLevel::L2,
        Comparison::Minimum,
        "https://sp.test/acs",
        0,
        RelayState::new("rs"),
    )
}

// ---------------------------------------------------------------------------------------
// The store against Redis
// ---------------------------------------------------------------------------------------

#[test]
fn pending_logins_round_trip_once_and_expire_on_their_own() {
    let Some(url) = redis_url("pending_logins") else {
        return;
    };
    let s = store(&url, "pending");
    s.ping().unwrap();
    let now = SystemClock.now();
    let p = pending("_req1", now, 900);
    PendingStore::put(&s, p.clone()).unwrap();
    // Redis holds it with a TTL from the request lifetime.
    let key = format!("{}:pending:_req1", s.prefix());
    let ttl = pttl(&url, &key);
    assert!(ttl > 890_000 && ttl <= 900_000, "ttl {ttl}");
    assert_eq!(
        PendingStore::take(&s, &RequestId::new("_req1"), now).unwrap(),
        Some(p)
    );
    assert_eq!(
        PendingStore::take(&s, &RequestId::new("_req1"), now).unwrap(),
        None
    );
    assert_eq!(
        PendingStore::take(&s, &RequestId::new("_never"), now).unwrap(),
        None
    );

    // Expired for the caller's clock: not returned even if Redis still has it.
    PendingStore::put(&s, pending("_req2", now, 60)).unwrap();
    assert_eq!(
        PendingStore::take(&s, &RequestId::new("_req2"), now.plus_seconds(61)).unwrap(),
        None
    );

    // The integration's data travels with the pending login.
    let with_data = pending("_req4", now, 60).with_data("{\"next\":\"/\"}");
    PendingStore::put(&s, with_data.clone()).unwrap();
    let back = PendingStore::take(&s, &RequestId::new("_req4"), now).unwrap();
    assert_eq!(
        back.as_ref().and_then(|p| p.data()),
        Some("{\"next\":\"/\"}")
    );
    assert_eq!(back, Some(with_data));

    // Redis drops entries on its own when their time is up.
    PendingStore::put(&s, pending("_req3", now, 1)).unwrap();
    let key = format!("{}:pending:_req3", s.prefix());
    std::thread::sleep(Duration::from_millis(1300));
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&key)
        .query(&mut raw(&url))
        .unwrap();
    assert_eq!(exists, 0, "expired entry still in redis");
}

#[test]
fn pending_logins_are_bounded_per_client_oldest_evicted() {
    let Some(url) = redis_url("pending_per_client") else {
        return;
    };
    let s = store(&url, "per-client");
    // One instant for all: ties in expiry still leave oldest first.
    let now = SystemClock.now();
    let cap = 32;
    s.put_for_client(pending("_other", now, 600), "client-b", cap)
        .unwrap();
    for i in 0..2_000 {
        s.put_for_client(pending(&format!("_f{i}"), now, 600), "client-a", cap)
            .unwrap();
    }
    let set = format!("{}:pclient:client-a", s.prefix());
    let card: i64 = redis::cmd("ZCARD").arg(&set).query(&mut raw(&url)).unwrap();
    assert_eq!(card, 32);
    let ttl = pttl(&url, &set);
    assert!(
        ttl > 590_000 && ttl <= 600_000,
        "the set lives as long as its newest: {ttl}"
    );
    // The flood's oldest are gone from Redis (not only from the set), its newest remain,
    // and the other client's login is untouched.
    let key = format!("{}:pending:_f0", s.prefix());
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&key)
        .query(&mut raw(&url))
        .unwrap();
    assert_eq!(exists, 0);
    for i in [0, 1, 1_000, 1_967] {
        let id = RequestId::new(format!("_f{i}"));
        assert_eq!(PendingStore::take(&s, &id, now).unwrap(), None, "_f{i}");
    }
    for i in 1_968..2_000 {
        let id = RequestId::new(format!("_f{i}"));
        assert!(PendingStore::take(&s, &id, now).unwrap().is_some(), "_f{i}");
    }
    assert!(PendingStore::take(&s, &RequestId::new("_other"), now)
        .unwrap()
        .is_some());

    // Expired entries leave the client's set and do not count.
    for i in 0..3 {
        s.put_for_client(pending(&format!("_e{i}"), now, 1), "client-c", 3)
            .unwrap();
    }
    let later = now.plus_seconds(2);
    s.put_for_client(pending("_late", later, 600), "client-c", 3)
        .unwrap();
    let set = format!("{}:pclient:client-c", s.prefix());
    let card: i64 = redis::cmd("ZCARD").arg(&set).query(&mut raw(&url)).unwrap();
    assert_eq!(card, 1);
    assert!(PendingStore::take(&s, &RequestId::new("_late"), later)
        .unwrap()
        .is_some());
}

#[test]
fn replay_cache_one_winner_among_concurrent_callers() {
    let Some(url) = redis_url("replay_cache") else {
        return;
    };
    let s = Arc::new(store(&url, "replay"));
    let now = SystemClock.now();
    assert!(s.insert_once("asr:x", now.plus_seconds(300), now).unwrap());
    assert!(!s.insert_once("asr:x", now.plus_seconds(300), now).unwrap());
    let ttl = pttl(&url, &format!("{}:replay:asr:x", s.prefix()));
    assert!(ttl > 290_000 && ttl <= 300_000, "ttl {ttl}");
    // Both keys of a login in one round trip: new only if every key is.
    let until = now.plus_seconds(300);
    assert!(s.insert_all_once(&["req:a", "asr:a"], until, now).unwrap());
    assert!(!s.insert_all_once(&["req:a", "asr:a"], until, now).unwrap());
    assert!(!s.insert_all_once(&["req:b", "asr:a"], until, now).unwrap());
    assert!(!s.insert_all_once(&["req:a", "asr:c"], until, now).unwrap());
    assert!(!s.insert_once("asr:a", until, now).unwrap());
    let ttl = pttl(&url, &format!("{}:replay:asr:a", s.prefix()));
    assert!(ttl > 290_000 && ttl <= 300_000, "ttl {ttl}");

    // 8 threads race for each of 300 keys (pairs, as a login records them): exactly one
    // wins each.
    const THREADS: usize = 8;
    const ROUNDS: usize = 300;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (s, barrier) = (s.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut wins = vec![0u32; ROUNDS];
                for (round, w) in wins.iter_mut().enumerate() {
                    barrier.wait();
                    let (req, asr) = (format!("req:_race{round}"), format!("asr:_race{round}"));
                    if s.insert_all_once(&[&req, &asr], now.plus_seconds(60), now)
                        .unwrap()
                    {
                        *w += 1;
                    }
                }
                wins
            })
        })
        .collect();
    let mut total = vec![0u32; ROUNDS];
    for h in handles {
        for (t, w) in total.iter_mut().zip(h.join().unwrap()) {
            *t += w;
        }
    }
    let wrong: Vec<_> = total.iter().enumerate().filter(|(_, n)| **n != 1).collect();
    assert!(
        wrong.is_empty(),
        "rounds without exactly one winner: {wrong:?}"
    );
    eprintln!("replay cache: {ROUNDS} rounds x {THREADS} threads, one winner each");
}

#[test]
fn pending_take_one_winner_among_concurrent_callers() {
    let Some(url) = redis_url("pending_take") else {
        return;
    };
    let s = Arc::new(store(&url, "take"));
    let now = SystemClock.now();
    const THREADS: usize = 8;
    const ROUNDS: usize = 200;
    for round in 0..ROUNDS {
        PendingStore::put(&*s, pending(&format!("_t{round}"), now, 60)).unwrap();
    }
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (s, barrier) = (s.clone(), barrier.clone());
            std::thread::spawn(move || {
                (0..ROUNDS)
                    .map(|round| {
                        barrier.wait();
                        let id = RequestId::new(format!("_t{round}"));
                        u32::from(PendingStore::take(&*s, &id, now).unwrap().is_some())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut total = vec![0u32; ROUNDS];
    for h in handles {
        for (t, w) in total.iter_mut().zip(h.join().unwrap()) {
            *t += w;
        }
    }
    assert!(total.iter().all(|n| *n == 1), "{total:?}");
}

#[test]
fn session_store_and_namespaces() {
    let Some(url) = redis_url("session_store") else {
        return;
    };
    let now = SystemClock.now();
    let entity_a = format!("https://a.test/{}", unique());
    let a = RedisStore::for_sp(&url, &entity_a).unwrap();
    let a2 = RedisStore::for_sp(&url, &entity_a).unwrap();
    let b = RedisStore::for_sp(&url, &format!("https://b.test/{}", unique())).unwrap();
    assert_ne!(a.prefix(), b.prefix());
    let exp = now.plus_seconds(120);
    SessionStore::put(&a, "sess:1", "{\"x\":1}", exp, now).unwrap();
    // Another instance of the same SP sees it; another SP does not.
    assert_eq!(
        SessionStore::get(&a2, "sess:1", now).unwrap().as_deref(),
        Some("{\"x\":1}")
    );
    assert_eq!(SessionStore::get(&b, "sess:1", now).unwrap(), None);
    assert!(b.insert_once("req:_same", exp, now).unwrap());
    assert!(a.insert_once("req:_same", exp, now).unwrap(), "namespaced");
    assert!(!a2.insert_once("req:_same", exp, now).unwrap(), "shared");
    // Values with spaces and newlines survive; take is single use; remove works.
    SessionStore::put(&a, "k", "a b\nc", exp, now).unwrap();
    assert_eq!(
        SessionStore::take(&a2, "k", now).unwrap().as_deref(),
        Some("a b\nc")
    );
    assert_eq!(SessionStore::take(&a, "k", now).unwrap(), None);
    SessionStore::remove(&a, "sess:1").unwrap();
    assert_eq!(SessionStore::get(&a2, "sess:1", now).unwrap(), None);
    SessionStore::remove(&a, "sess:1").unwrap();
    // Expired for the caller's clock.
    SessionStore::put(&a, "short", "v", now.plus_seconds(5), now).unwrap();
    assert_eq!(
        SessionStore::get(&a, "short", now.plus_seconds(5)).unwrap(),
        None
    );
}

#[test]
fn connections_killed_by_the_server_are_replaced() {
    // CLIENT KILL drops every client of the server: on the shared Redis it would also cut
    // the connections of the tests running alongside, so this test has a server of its own.
    let Some(server) = env("SPID_SP_REDIS_SERVER") else {
        eprintln!("connections_killed: skipped (SPID_SP_REDIS_SERVER not set; run tests/redis.sh)");
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "spid-sp-redis-killed-{}-{}",
        std::process::id(),
        unique()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let rport = free_port();
    let url = format!("redis://127.0.0.1:{rport}");
    let redis = private_redis(&server, rport, &dir);
    let s = store(&url, "killed");
    let now = SystemClock.now();
    // Fill the pool with a few connections.
    std::thread::scope(|sc| {
        for i in 0..4 {
            let s = &s;
            sc.spawn(move || {
                s.insert_once(&format!("warm{i}"), now.plus_seconds(60), now)
                    .unwrap()
            });
        }
    });
    // The server drops every client connection (as after a restart or a failover).
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(&mut raw(&url))
        .unwrap();
    assert!(killed >= 1, "killed {killed}");
    // The next calls reconnect on demand, without an error.
    for i in 0..8 {
        assert!(s
            .insert_once(&format!("after{i}"), now.plus_seconds(60), now)
            .unwrap());
    }
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreachable_redis_gives_a_clear_error() {
    // Runs everywhere: a port where nothing listens.
    let port = free_port();
    let s = RedisStore::open(&format!("redis://127.0.0.1:{port}"), "x")
        .unwrap()
        .timeout(Duration::from_secs(1));
    let now = SystemClock.now();
    let e = PendingStore::put(&s, pending("_r", now, 60)).unwrap_err();
    assert_eq!(e.to_string(), "redis unreachable: connection refused");
    let e = s.insert_once("k", now.plus_seconds(1), now).unwrap_err();
    assert!(e.to_string().starts_with("redis "), "{e}");
    assert!(s.ping().is_err());
}

// ---------------------------------------------------------------------------------------
// Demo SP instances sharing one Redis
// ---------------------------------------------------------------------------------------

const IDP: &str = "https://idp.redis.test";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("process exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listening on port {port}");
}

/// Everything the demo instances of one test share: the public base URL (as behind a
/// load balancer), the SP key directory, the trusted test IdP.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    base: String,
    idp: TestIdp,
    store: String,
}

impl Cluster {
    fn new(bin: &str, store: &str, name: &str) -> Cluster {
        let dir = std::env::temp_dir().join(format!(
            "spid-sp-redis-{name}-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let idp = TestIdp::new(IDP, common::keypair("idp", 2048));
        std::fs::write(dir.join("idp.xml"), idp.metadata("http://127.0.0.1:9/idp")).unwrap();
        // A public URL no instance listens on: every instance is "behind the balancer".
        let base = format!("http://sp-{}.localhost:8000", unique());
        Cluster {
            bin: PathBuf::from(bin),
            dir,
            base,
            idp,
            store: store.to_owned(),
        }
    }

    fn start(&self, port: u16) -> Proc {
        let log = std::fs::File::create(self.dir.join(format!("sp-{port}.log"))).unwrap();
        let mut child = Command::new(&self.bin)
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--base-url")
            .arg(&self.base)
            .arg("--idp-metadata")
            .arg(self.dir.join("idp.xml"))
            .arg("--key-dir")
            .arg(self.dir.join("sp-key"))
            .arg("--store")
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        wait_for_port(port, &mut child);
        Proc(child)
    }

    /// `GET /spid/login` on an instance: the request ID, RelayState and browser cookie.
    fn begin(&self, port: u16) -> Login {
        let path = format!("/spid/login?idp={}", enc(IDP));
        let r = http(port, "GET", &path, &[], None);
        assert_eq!(r.status, 200, "{}", r.body);
        let req = r.form_field("SAMLRequest").expect("SAMLRequest");
        let relay = r.form_field("RelayState").expect("RelayState");
        let xml = base64::engine::general_purpose::STANDARD
            .decode(req)
            .unwrap();
        let xml = String::from_utf8(xml).unwrap();
        let id = common::attr_value(&xml, " ID=\"").unwrap();
        let browser = r.cookie("spid_browser").expect("browser cookie");
        Login { id, relay, browser }
    }

    /// The ACS form body of a fresh signed Response to `login`.
    fn response_form(&self, login: &Login) -> String {
        let spec = ResponseSpec::new(
            &login.id,
            &format!("{}/spid/acs", self.base),
            &self.base,
            SpidLevel::L2,
            SystemClock.now(),
        )
        .attribute("fiscalNumber", "TINIT-RSSMRA85T10A562S")
        .attribute("name", "Mario")
        .attribute("familyName", "Rossi")
        .attribute("dateOfBirth", "1985-12-10")
        .attribute("email", "mario.rossi@example.it");
        let xml = self.idp.response(&spec).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
        common::form(&[("SAMLResponse", &b64), ("RelayState", &login.relay)])
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("logs kept in {}", self.dir.display());
        }
    }
}

struct Login {
    id: String,
    relay: String,
    browser: String,
}

/// One HTTP/1.0 exchange with the instance on `port`, on a fresh connection.
fn http(
    port: u16,
    method: &str,
    path: &str,
    cookies: &[(&str, &str)],
    form: Option<&str>,
) -> Reply {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    common::request(addr, method, path, cookies, form).send()
}

/// POSTs the response to `acs_port`, follows the hand-off on `complete_port` with the
/// browser cookie, and returns the session cookie.
fn finish(c: &Cluster, login: &Login, acs_port: u16, complete_port: u16) -> String {
    let r = http(
        acs_port,
        "POST",
        "/spid/acs",
        &[],
        Some(&c.response_form(login)),
    );
    assert_eq!(r.status, 303, "acs: {}", r.body);
    let location = r.header("location").unwrap().to_owned();
    assert!(
        location.starts_with("/spid/complete?handoff="),
        "{location}"
    );
    let r = http(
        complete_port,
        "GET",
        &location,
        &[("spid_browser", &login.browser)],
        None,
    );
    assert_eq!(r.status, 303, "complete: {}", r.body);
    r.cookie("spid_session").expect("session cookie")
}

fn demo_env(test: &str) -> Option<(String, String)> {
    let (Some(bin), Some(url)) = (env("SPID_SP_DEMO_SP"), env("SPID_SP_REDIS_URL")) else {
        eprintln!(
            "{test}: skipped (SPID_SP_DEMO_SP / SPID_SP_REDIS_URL not set; run tests/redis.sh)"
        );
        return None;
    };
    Some((bin, url))
}

#[test]
fn two_instances_share_logins_sessions_and_single_use() {
    let Some((bin, url)) = demo_env("two_instances") else {
        return;
    };
    let c = Cluster::new(&bin, &url, "two");
    let (pa, pb) = (free_port(), free_port());
    let _a = c.start(pa);
    let _b = c.start(pb);

    // Started on A, finished on B, the session used on A.
    let login = c.begin(pa);
    let session = finish(&c, &login, pb, pa);
    let me = http(pa, "GET", "/me", &[("spid_session", &session)], None);
    assert_eq!(me.status, 200, "{}", me.body);
    assert!(me.body.contains("RSSMRA85T10A562S"), "{}", me.body);
    let me = http(pb, "GET", "/me", &[("spid_session", &session)], None);
    assert_eq!(me.status, 200);

    // The same Response posted to A and B at the same time: accepted exactly once.
    const ROUNDS: usize = 150;
    let (mut accepted, mut refused, mut other) = (0, 0, Vec::new());
    for round in 0..ROUNDS {
        let login = c.begin(if round % 2 == 0 { pa } else { pb });
        let form = Arc::new(c.response_form(&login));
        let barrier = Arc::new(Barrier::new(2));
        let statuses: Vec<u16> = [pa, pb]
            .into_iter()
            .map(|port| {
                let (form, barrier) = (form.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    http(port, "POST", "/spid/acs", &[], Some(&form)).status
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        // A late replay to either instance is refused too.
        let late = http(pa, "POST", "/spid/acs", &[], Some(&form)).status;
        for s in statuses.into_iter().chain([late]) {
            match s {
                303 => accepted += 1,
                403 => refused += 1,
                s => other.push(s),
            }
        }
    }
    eprintln!(
        "concurrent replays: {ROUNDS} rounds, {accepted} accepted, {refused} refused, other {other:?}"
    );
    assert_eq!(accepted, ROUNDS, "each response accepted exactly once");
    assert_eq!(refused, 2 * ROUNDS);
    assert!(other.is_empty());
}

#[test]
fn a_restarted_instance_keeps_logins_in_flight_and_sessions() {
    let Some((bin, url)) = demo_env("restart") else {
        return;
    };
    let c = Cluster::new(&bin, &url, "restart");
    let pa = free_port();
    let a = c.start(pa);
    let login = c.begin(pa);
    let earlier = c.begin(pa);
    let session = finish(&c, &earlier, pa, pa);
    drop(a); // killed (SIGKILL): nothing in its memory survives
    let _a = c.start(pa);
    let new_session = finish(&c, &login, pa, pa);
    for s in [&session, &new_session] {
        let me = http(pa, "GET", "/me", &[("spid_session", s)], None);
        assert_eq!(me.status, 200, "{}", me.body);
    }
}

/// A private redis-server on `port` (no persistence), killed when dropped.
fn private_redis(bin: &str, port: u16, dir: &Path) -> Proc {
    let mut child = Command::new(bin)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, &mut child);
    // Listening is not quite ready: wait for PONG.
    let url = format!("redis://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection())
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok();
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "redis did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    Proc(child)
}

#[test]
fn redis_down_mid_login_fails_closed_then_recovers() {
    let (Some(bin), Some(server)) = (env("SPID_SP_DEMO_SP"), env("SPID_SP_REDIS_SERVER")) else {
        eprintln!("redis_down: skipped (SPID_SP_DEMO_SP / SPID_SP_REDIS_SERVER not set; run tests/redis.sh)");
        return;
    };
    let rport = free_port();
    let url = format!("redis://127.0.0.1:{rport}");
    let c = Cluster::new(&bin, &url, "fault");
    let redis = private_redis(&server, rport, &c.dir);
    let pa = free_port();
    let _a = c.start(pa);

    let login = c.begin(pa);
    let form = c.response_form(&login);
    drop(redis); // SIGKILL mid-login
    let r = http(pa, "POST", "/spid/acs", &[], Some(&form));
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.body.contains("temporaneamente non disponibile"),
        "{}",
        r.body
    );
    assert!(r.cookie("spid_session").is_none());
    let url_login = format!("/spid/login?idp={}", enc(IDP));
    assert_eq!(http(pa, "GET", &url_login, &[], None).status, 503);

    // Redis back (empty: no persistence), the same SP process: logins work again.
    let _redis = private_redis(&server, rport, &c.dir);
    // The store may still be in its short back-off after the failed attempts (503): wait
    // for the first answer from Redis, at most 10 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    let r = loop {
        let r = http(pa, "POST", "/spid/acs", &[], Some(&form));
        if r.status != 503 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(r.status, 403, "the lost login stays refused: {}", r.body);
    let login = c.begin(pa);
    let session = finish(&c, &login, pa, pa);
    let me = http(pa, "GET", "/me", &[("spid_session", &session)], None);
    assert_eq!(me.status, 200, "{}", me.body);
}

#[test]
fn notice() {
    if env("SPID_SP_REDIS_URL").is_none() {
        eprintln!("redis_store: SPID_SP_REDIS_URL not set, the Redis tests check nothing here; run tests/redis.sh");
    }
}
