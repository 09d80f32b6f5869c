//! The transaction registry on its own (not a test): `cargo bench --bench audit
//! --features audit`. THREADS appenders (default 32, the ACS load benchmark's concurrency)
//! each append Response records and wait until each is durable, as the ACS does, until
//! RECORDS (default 20000) are written; ROUNDS (default 3) runs per backend, the median
//! printed.
//!
//! - `discard`: a backend that keeps nothing. What is left is the registry's own work:
//!   serialising the record, chaining and hashing it, the group commit's hand-offs and
//!   the wake-up of every waiting appender.
//! - `file`: the embedded backend ([`FileStore`], a directory under `target/`): the same
//!   plus the writes and the `fdatasync` of each group commit.
//!
//! The payload is `benches/data/response.xml` (a both-signed SPID Response, 9.4 KB). Each
//! line gives records/s, the process's CPU time per record (user + system, from
//! `/proc/self/stat`: the appenders' and the committers' work, nothing else runs) and the
//! latency from `submit` to durable. `benches/load.sh --audit-dir` measures the registry
//! at the ACS, inside the demo SP; this one isolates it, with far less noise between runs
//! (docs/audit.md, "Performance").

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spid_sp::audit::{
    AuditError, AuditLog, ChainedLog, CheckpointKey, EntryStore, FileStore, Outcome, Payload,
    PayloadFormat, RecordKind, StoredEntry, TransactionRecord,
};
use spid_sp::{Clock, SystemClock};

/// A backend that keeps nothing (the registry's own cost).
struct Discard;

impl EntryStore for Discard {
    fn store(&self, _entries: &[StoredEntry]) -> Result<(), AuditError> {
        Ok(())
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The process's CPU time so far (user + system; `/proc` counts in 1/100 s).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis: state is the 1st, utime the 12th.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn record(xml: &str, n: usize) -> TransactionRecord {
    let mut r = TransactionRecord::new(
        RecordKind::ResponseReceived,
        Outcome::Accepted,
        SystemClock.now(),
    );
    r.idp = Some("https://idp.example.it".into());
    r.level = Some(2);
    r.binding = Some("post".into());
    r.authn_req_id = Some(format!("_req{n:037}"));
    r.resp_id = Some(format!("_resp{n:036}"));
    r.resp_issuer = Some("https://idp.example.it".into());
    r.assertion_id = Some(format!("_assertion{n:031}"));
    r.assertion_subject = Some("_27005e9147b2b8e9f8918d2224d30cd9".into());
    r.assertion_subject_name_qualifier = Some("https://idp.example.it".into());
    r.fiscal_code = Some("RSSMRA85T10A562S".into());
    r.payload = Some(Payload {
        format: PayloadFormat::Xml,
        data: xml.to_owned(),
    });
    r
}

struct Run {
    per_sec: f64,
    cpu_us: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn run<S: EntryStore + 'static>(store: S, xml: &str, records: usize, threads: usize) -> Run {
    let key = CheckpointKey::generate().expect("checkpoint key");
    let log = ChainedLog::new(store, "bench", key, Arc::new(SystemClock)).expect("log");
    let per_thread = records / threads;
    let cpu = process_cpu();
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let log = &log;
                s.spawn(move || {
                    let mut lat = Vec::with_capacity(per_thread);
                    for i in 0..per_thread {
                        let at = Instant::now();
                        let ticket = log.submit(record(xml, t * per_thread + i));
                        ticket.wait().expect("record durable");
                        lat.push(at.elapsed());
                    }
                    lat
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("appender"))
            .collect()
    });
    let wall = started.elapsed();
    let cpu = process_cpu().saturating_sub(cpu);
    let done = latencies.len().max(1);
    latencies.sort_unstable();
    let pct = |p: usize| latencies[(done * p / 100).min(done - 1)].as_secs_f64() * 1e3;
    Run {
        per_sec: done as f64 / wall.as_secs_f64(),
        cpu_us: cpu.as_secs_f64() * 1e6 / done as f64,
        p50_ms: pct(50),
        p99_ms: pct(99),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter (`discard`, `file`) picks one backend.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let xml = std::fs::read_to_string(root.join("benches/data/response.xml")).expect("vector");
    let records = env_or("RECORDS", 20_000);
    let threads = env_or("THREADS", 32).max(1);
    let rounds = env_or("ROUNDS", 3).max(1);
    let dir = root.join("target/audit-bench");
    for backend in ["discard", "file"] {
        if !wanted(backend) {
            continue;
        }
        let mut runs: Vec<Run> = (0..rounds)
            .map(|_| {
                if backend == "file" {
                    let _ = std::fs::remove_dir_all(&dir);
                    std::fs::create_dir_all(&dir).expect("bench directory");
                    run(
                        FileStore::open(&dir, "bench").expect("file store"),
                        &xml,
                        records,
                        threads,
                    )
                } else {
                    run(Discard, &xml, records, threads)
                }
            })
            .collect();
        runs.sort_by(|a, b| a.per_sec.total_cmp(&b.per_sec));
        let all: Vec<String> = runs.iter().map(|r| format!("{:.0}", r.per_sec)).collect();
        let m = &runs[runs.len() / 2];
        println!(
            "result backend={backend} threads={threads} records={records} \
             records_per_sec={:.0} cpu_us_per_record={:.1} p50_ms={:.2} p99_ms={:.2} \
             rounds={}",
            m.per_sec,
            m.cpu_us,
            m.p50_ms,
            m.p99_ms,
            all.join("/")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
