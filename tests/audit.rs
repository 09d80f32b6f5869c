//! The transaction registry (docs/audit.md): records from the core for every outcome, the
//! failure policy, and the file backend checked by the real `spid-sp audit` commands —
//! a registry verifies; a flipped byte, a deleted record, two swapped records, a cut
//! before the last checkpoint are named; a torn or unsigned tail is reported as such;
//! encrypted payloads need the offline key; retention leaves a signed statement.
#![cfg(feature = "cli")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use common::*;
use spid_sp::audit::{
    AuditError, AuditLog, ChainedLog, CheckpointKey, CheckpointPolicy, EntryStore, FileStore,
    MemoryAuditLog, Outcome, PayloadDecryptor, PayloadEncryptor, PayloadFormat, RecordKind,
    StoredEntry,
};
use spid_sp::test_idp::ResponseSpec;
use spid_sp::{
    Clock, Incoming, LoginError, LoginOptions, RejectReason, ServiceProvider, SpidLevel,
    StartError, Timestamp,
};

const BIN: &str = env!("CARGO_BIN_EXE_spid-sp");

/// A clock the test moves.
struct StepClock(AtomicI64);

impl Clock for StepClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst))
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("audit-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn citizen(spec: ResponseSpec) -> ResponseSpec {
    spec.attribute("fiscalNumber", "TINIT-RSSMRA80A01H501U")
        .attribute("name", "Mario")
        .attribute("familyName", "Rossi")
        .attribute("dateOfBirth", "1980-01-01")
}

/// One login of each outcome: accepted, rejected (replay), refused (nr22), rejected (not
/// base64): 3 AuthnRequests (the replay reuses one) and 4 Responses.
fn logins(w: &World, sp: &ServiceProvider) {
    let (_, pending) = sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let spec = citizen(ResponseSpec::new(
        pending.request_id().as_str(),
        ACS,
        SP,
        SpidLevel::L2,
        now(),
    ));
    let incoming = post(
        &w.idp.response(&spec).unwrap(),
        Some(pending.relay_state().as_str()),
    );
    sp.finish_login(&incoming, pending.clone()).unwrap();
    assert_eq!(
        sp.finish_login(&incoming, pending).unwrap_err(),
        LoginError::Rejected(RejectReason::Replay)
    );
    let (_, pending) = sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let xml = w
        .idp
        .refusal(pending.request_id().as_str(), ACS, 22, now())
        .unwrap();
    let refused = post(&xml, Some(pending.relay_state().as_str()));
    assert!(matches!(
        sp.finish_login(&refused, pending),
        Err(LoginError::Refused(_))
    ));
    let (_, pending) = sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let garbage = Incoming::Post {
        message: "not base64 at all!".into(),
        relay_state: Some(pending.relay_state().as_str().into()),
    };
    assert!(sp.finish_login(&garbage, pending).is_err());
}

#[test]
fn the_core_records_every_outcome() {
    let w = world_at(now());
    let log = Arc::new(MemoryAuditLog::default());
    let sp = w.sp.clone().with_audit(log.clone());
    logins(&w, &sp);
    let records = log.records();
    let kinds: Vec<_> = records.iter().map(|r| (r.kind, r.outcome.name())).collect();
    assert_eq!(
        kinds,
        [
            (RecordKind::AuthnRequestSent, "sent"),
            (RecordKind::ResponseReceived, "accepted"),
            (RecordKind::ResponseReceived, "rejected"),
            (RecordKind::AuthnRequestSent, "sent"),
            (RecordKind::ResponseReceived, "refused"),
            (RecordKind::AuthnRequestSent, "sent"),
            (RecordKind::ResponseReceived, "rejected"),
        ]
    );
    // The request as sent: signed, with its index fields.
    let sent = &records[0];
    assert!(sent
        .payload
        .as_ref()
        .unwrap()
        .data
        .contains("<ds:Signature"));
    assert_eq!(sent.idp.as_deref(), Some(IDP));
    assert_eq!(sent.level, Some(2));
    assert!(sent.authn_req_id.is_some() && sent.authn_req_issue_instant.is_some());
    // The accepted Response: verified index fields, the fiscal code, the XML.
    let ok = &records[1];
    assert!(ok.verified);
    assert_eq!(ok.authn_req_id, sent.authn_req_id);
    assert_eq!(ok.fiscal_code.as_deref(), Some("RSSMRA80A01H501U"));
    for f in [
        &ok.resp_id,
        &ok.resp_issue_instant,
        &ok.resp_issuer,
        &ok.assertion_id,
        &ok.assertion_subject,
        &ok.assertion_subject_name_qualifier,
    ] {
        assert!(f.is_some(), "{ok:?}");
    }
    // The replay: the same Response, read unverified.
    let replay = &records[2];
    assert_eq!(
        replay.outcome,
        Outcome::Rejected {
            code: "replay".into()
        }
    );
    assert!(!replay.verified);
    assert_eq!(replay.assertion_id, ok.assertion_id);
    assert!(replay.fiscal_code.is_none());
    let Outcome::Refused { error_code, .. } = &records[4].outcome else {
        panic!("refusal expected")
    };
    assert_eq!(*error_code, Some(22));
    // What could not be decoded is kept as received.
    let garbage = records[6].payload.as_ref().unwrap();
    assert_eq!(garbage.format, PayloadFormat::Base64);
    assert_eq!(garbage.data, "not base64 at all!");
    // Debug shows no NameID, no fiscal code.
    let dbg = format!("{ok:?}");
    assert!(
        !dbg.contains("RSSMRA80A01H501U")
            && !dbg.contains(ok.assertion_subject.as_deref().unwrap())
    );
}

#[test]
fn a_record_that_cannot_be_written_stops_the_login() {
    let w = world_at(now());
    let log = Arc::new(MemoryAuditLog::default());
    let sp = w.sp.clone().with_audit(log.clone());
    let (_, pending) = sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let spec = citizen(ResponseSpec::new(
        pending.request_id().as_str(),
        ACS,
        SP,
        SpidLevel::L2,
        now(),
    ));
    let incoming = post(
        &w.idp.response(&spec).unwrap(),
        Some(pending.relay_state().as_str()),
    );
    log.set_failing(true);
    // A valid Response is not accepted, and the code is stable.
    let err = sp.finish_login(&incoming, pending).unwrap_err();
    assert_eq!(err, LoginError::Rejected(RejectReason::AuditUnavailable));
    let LoginError::Rejected(r) = err else {
        unreachable!()
    };
    assert_eq!(r.code(), "audit-unavailable");
    assert!(r.is_internal(), "503, not 403");
    // No request is sent either.
    assert_eq!(
        sp.start_login(IDP, &LoginOptions::default()).unwrap_err(),
        StartError::Audit
    );
    // Recovery without restart: a new login works once the registry does.
    log.set_failing(false);
    let (_, pending) = sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let spec = citizen(ResponseSpec::new(
        pending.request_id().as_str(),
        ACS,
        SP,
        SpidLevel::L2,
        now(),
    ));
    let incoming = post(
        &w.idp.response(&spec).unwrap(),
        Some(pending.relay_state().as_str()),
    );
    sp.finish_login(&incoming, pending).unwrap();
    // The first request, then the second login's request and Response: the refused
    // writes left nothing.
    assert_eq!(log.records().len(), 3);
}

struct Registry {
    dir: PathBuf,
    key_pem: PathBuf,
    pub_pem: PathBuf,
}

/// A registry written by a real SP through the file backend: `rounds` × 7 records, a
/// checkpoint every 5 records and at the end.
fn registry(name: &str, rounds: usize, encrypt: Option<&PayloadEncryptor>) -> Registry {
    let root = scratch(name);
    let dir = root.join("log");
    let key = CheckpointKey::generate().unwrap();
    let key_pem = root.join("checkpoint.key.pem");
    let pub_pem = root.join("checkpoint.pub.pem");
    std::fs::write(&key_pem, key.private_pem().unwrap()).unwrap();
    std::fs::write(&pub_pem, key.public_pem().unwrap()).unwrap();
    let w = world_at(now());
    let store = FileStore::open(&dir, "sp-1").unwrap();
    let mut log = ChainedLog::new(store, "sp-1", key, Arc::new(spid_sp::FixedClock(now())))
        .unwrap()
        .with_policy(CheckpointPolicy {
            every_records: 5,
            every_secs: 3600,
        });
    if let Some(e) = encrypt {
        log = log.with_encryption(e.clone());
    }
    let log = Arc::new(log);
    let sp = w.sp.clone().with_audit(log.clone());
    for _ in 0..rounds {
        logins(&w, &sp);
    }
    log.checkpoint().unwrap();
    Registry {
        dir,
        key_pem,
        pub_pem,
    }
}

struct Run {
    status: i32,
    out: String,
}

fn cli(args: &[&str]) -> Run {
    let o = Command::new(BIN).args(args).output().unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.contains("panicked"), "{out}");
    Run {
        status: o.status.code().unwrap_or(-1),
        out,
    }
}

fn verify(r: &Registry) -> Run {
    cli(&[
        "audit",
        "verify",
        "--checkpoint-key",
        r.pub_pem.to_str().unwrap(),
        r.dir.to_str().unwrap(),
    ])
}

/// The registry's one day file and its lines.
fn day_file(r: &Registry) -> (PathBuf, Vec<String>) {
    let mut files: Vec<_> = std::fs::read_dir(&r.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let path = files.remove(0);
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text.lines().map(str::to_owned).collect())
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_registry_verifies() {
    let r = registry("ok", 2, None);
    let run = verify(&r);
    assert_eq!(run.status, 0, "{}", run.out);
    assert!(
        run.out
            .contains("writer sp-1: 17 entries, 14 records, 3 checkpoints"),
        "{}",
        run.out
    );
    assert!(run.out.contains("audit verify: ok"), "{}", run.out);
    assert!(!run.out.contains("unsigned tail"), "{}", run.out);
}

#[test]
fn a_flipped_byte_is_named() {
    let r = registry("flip", 1, None);
    let (path, mut lines) = day_file(&r);
    // Line 3: the replayed Response's record; change one letter of its payload.
    let l = &mut lines[2];
    let at = l.find("Response").unwrap();
    l.replace_range(at..at + 1, "r");
    write_lines(&path, &lines);
    let run = verify(&r);
    assert_eq!(run.status, 1, "{}", run.out);
    assert!(
        run.out.contains("first bad record: altered: "),
        "{}",
        run.out
    );
    assert!(
        run.out.contains(".sp-1.jsonl:3 writer sp-1 seq 2"),
        "{}",
        run.out
    );
}

#[test]
fn a_rehashed_record_is_named_by_the_next_one() {
    // Alter a record and fix its own hash: the next entry no longer chains to it.
    let r = registry("rehash", 1, None);
    let (path, mut lines) = day_file(&r);
    let mut e: spid_sp::audit::Entry = serde_json::from_str(&lines[1]).unwrap();
    if let spid_sp::audit::EntryBody::Record { record, .. } = &mut e.body {
        record.fiscal_code = Some("BNCGVN80A01H501X".into());
    }
    e.hash = e.compute_hash().unwrap();
    lines[1] = e.to_line().unwrap();
    write_lines(&path, &lines);
    let run = verify(&r);
    assert_eq!(run.status, 1, "{}", run.out);
    assert!(
        run.out.contains("altered: ") && run.out.contains(":2 writer sp-1 seq 1"),
        "{}",
        run.out
    );
}

#[test]
fn a_deleted_record_is_named() {
    let r = registry("delete", 1, None);
    let (path, mut lines) = day_file(&r);
    lines.remove(3);
    write_lines(&path, &lines);
    let run = verify(&r);
    assert_eq!(run.status, 1, "{}", run.out);
    assert!(
        run.out.contains("first bad record: removed: "),
        "{}",
        run.out
    );
    assert!(
        run.out.contains("entries from seq 3 to 3 are missing"),
        "{}",
        run.out
    );
}

#[test]
fn reordered_records_are_named() {
    let r = registry("reorder", 1, None);
    let (path, mut lines) = day_file(&r);
    lines.swap(2, 3);
    write_lines(&path, &lines);
    let run = verify(&r);
    assert_eq!(run.status, 1, "{}", run.out);
    assert!(
        run.out.contains("first bad record: reordered: "),
        "{}",
        run.out
    );
    assert!(run.out.contains("seq 2"), "{}", run.out);
}

#[test]
fn a_cut_tail_is_reported_as_such() {
    // A torn last line (a crash mid-write): every complete record verifies, the torn line
    // is reported, exit 0.
    let r = registry("torn", 1, None);
    let (path, lines) = day_file(&r);
    let mut text = lines.join("\n") + "\n";
    text.push_str(&lines[1][..40]);
    std::fs::write(&path, &text).unwrap();
    let run = verify(&r);
    assert_eq!(run.status, 0, "{}", run.out);
    assert!(
        run.out.contains("torn tail: ") && run.out.contains(&format!(":{}", lines.len() + 1)),
        "{}",
        run.out
    );

    // A cut after the last checkpoint removes unsigned entries only... there are none
    // here: cut the final checkpoint and one record: the head checkpoint names the cut.
    let r = registry("truncated", 1, None);
    let (path, lines) = day_file(&r);
    write_lines(&path, &lines[..lines.len() - 2]);
    let run = verify(&r);
    assert_eq!(run.status, 1, "{}", run.out);
    assert!(
        run.out
            .contains("first bad record: truncated: head.sp-1.json"),
        "{}",
        run.out
    );

    // Records after the last checkpoint (no final checkpoint, no head beyond): chained
    // but unsigned, reported as an unsigned tail.
    let r = registry("unsigned", 1, None);
    let (path, mut lines) = day_file(&r);
    lines.pop(); // the final checkpoint (the head still names the one after record 5)
    std::fs::remove_file(r.dir.join("head.sp-1.json")).unwrap();
    write_lines(&path, &lines);
    let run = verify(&r);
    assert_eq!(run.status, 0, "{}", run.out);
    assert!(run.out.contains("unsigned tail: seq 6..=7"), "{}", run.out);
}

#[test]
fn a_forged_checkpoint_is_named() {
    let r = registry("forged", 1, None);
    // A registry rewritten whole with another key: every hash is right, the checkpoint
    // signature is not.
    let other = scratch("forged-key").join("other.pub.pem");
    std::fs::write(
        &other,
        CheckpointKey::generate().unwrap().public_pem().unwrap(),
    )
    .unwrap();
    let run = cli(&[
        "audit",
        "verify",
        "--checkpoint-key",
        other.to_str().unwrap(),
        r.dir.to_str().unwrap(),
    ]);
    assert_eq!(run.status, 1, "{}", run.out);
    assert!(run.out.contains("bad-signature"), "{}", run.out);
}

#[test]
fn payloads_are_encrypted_to_the_offline_key_and_index_fields_stay_searchable() {
    let offline = PayloadDecryptor::generate().unwrap();
    let enc = PayloadEncryptor::from_pem(&offline.public_pem().unwrap()).unwrap();
    let r = registry("encrypted", 1, Some(&enc));
    let (_, lines) = day_file(&r);
    let all = lines.join("\n");
    assert!(!all.contains("samlp:Response") && !all.contains("samlp:AuthnRequest"));
    assert!(all.contains("RSSMRA80A01H501U"), "index fields in clear");
    assert_eq!(verify(&r).status, 0);

    let key_path = r.dir.parent().unwrap().join("offline.key.pem");
    std::fs::write(&key_path, offline.private_pem().unwrap()).unwrap();
    let dir = r.dir.to_str().unwrap();
    let run = cli(&["audit", "export", dir]);
    assert_eq!(run.status, 0, "{}", run.out);
    assert_eq!(
        run.out.matches("\"payload_encrypted\":true").count(),
        7,
        "{}",
        run.out
    );
    let run = cli(&["audit", "export", "--key", key_path.to_str().unwrap(), dir]);
    assert_eq!(run.status, 0, "{}", run.out);
    assert_eq!(run.out.lines().count(), 7);
    assert!(run.out.contains("samlp:Response") && run.out.contains("samlp:AuthnRequest"));
    // A wrong key is refused, not ignored.
    let wrong = r.dir.parent().unwrap().join("wrong.key.pem");
    std::fs::write(
        &wrong,
        PayloadDecryptor::generate().unwrap().private_pem().unwrap(),
    )
    .unwrap();
    assert_eq!(
        cli(&["audit", "export", "--key", wrong.to_str().unwrap(), dir]).status,
        1
    );

    // Search by fiscal code: the accepted login only; by request ID: its request and
    // both Responses (accepted and the replay).
    let run = cli(&[
        "audit",
        "search",
        "--fiscal-code",
        "TINIT-RSSMRA80A01H501U",
        dir,
    ]);
    assert_eq!(run.out.lines().count(), 1, "{}", run.out);
    let v: serde_json::Value = serde_json::from_str(run.out.lines().next().unwrap()).unwrap();
    let req = v["record"]["AuthnReq_ID"].as_str().unwrap().to_owned();
    let run = cli(&["audit", "search", "--request-id", &req, dir]);
    assert_eq!(run.out.lines().count(), 3, "{}", run.out);
    let run = cli(&["audit", "search", "--from", "2026-01-15T10:00:01Z", dir]);
    assert_eq!(run.out.lines().count(), 0, "{}", run.out);
}

#[test]
fn concurrent_appends_form_one_chain() {
    let root = scratch("concurrent");
    let dir = root.join("log");
    let key = CheckpointKey::generate().unwrap();
    let pub_pem = root.join("checkpoint.pub.pem");
    std::fs::write(&pub_pem, key.public_pem().unwrap()).unwrap();
    let log = Arc::new(
        ChainedLog::new(
            FileStore::open(&dir, "busy").unwrap(),
            "busy",
            key,
            Arc::new(spid_sp::FixedClock(now())),
        )
        .unwrap()
        .with_policy(CheckpointPolicy {
            every_records: 64,
            every_secs: 3600,
        }),
    );
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let log = log.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let r = spid_sp::audit::TransactionRecord::new(
                        RecordKind::AuthnRequestSent,
                        Outcome::Sent,
                        now(),
                    );
                    log.append(r).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    log.checkpoint().unwrap();
    let r = Registry {
        dir,
        key_pem: PathBuf::new(),
        pub_pem,
    };
    let run = verify(&r);
    assert_eq!(run.status, 0, "{}", run.out);
    assert!(run.out.contains("400 records"), "{}", run.out);
    // A second writer with the same ID is refused: chains are never resumed.
    assert!(FileStore::open(&r.dir, "busy").is_err());
}

#[test]
fn retention_prunes_old_days_and_leaves_a_signed_statement() {
    let root = scratch("prune");
    let dir = root.join("log");
    let keys = root.join("keys");
    let run = cli(&["audit", "keygen", "checkpoint", keys.to_str().unwrap()]);
    assert_eq!(run.status, 0, "{}", run.out);
    let key =
        CheckpointKey::from_pem(&std::fs::read(keys.join("checkpoint.key.pem")).unwrap()).unwrap();
    let clock = Arc::new(StepClock(AtomicI64::new(0)));
    let log = ChainedLog::new(
        FileStore::open(&dir, "old").unwrap(),
        "old",
        key,
        clock.clone(),
    )
    .unwrap()
    .with_policy(CheckpointPolicy {
        every_records: 3,
        every_secs: 3600,
    });
    // Records on three days: two beyond 24 months of 2026-01-15, one within.
    for day in [
        "2023-06-01T12:00:00Z",
        "2024-01-14T12:00:00Z",
        "2024-01-15T12:00:00Z",
    ] {
        let t = Timestamp::parse(day).unwrap();
        clock.0.store(t.unix_millis(), Ordering::SeqCst);
        for _ in 0..4 {
            log.append(spid_sp::audit::TransactionRecord::new(
                RecordKind::AuthnRequestSent,
                Outcome::Sent,
                t,
            ))
            .unwrap();
        }
        log.checkpoint().unwrap();
    }
    let r = Registry {
        dir: dir.clone(),
        key_pem: keys.join("checkpoint.key.pem"),
        pub_pem: keys.join("checkpoint.pub.pem"),
    };
    assert_eq!(verify(&r).status, 0);
    let d = dir.to_str().unwrap();
    let k = r.key_pem.to_str().unwrap();
    let run = cli(&[
        "audit",
        "prune",
        "--checkpoint-key",
        k,
        "--at",
        "2026-01-15T08:00:00Z",
        d,
    ]);
    assert_eq!(run.status, 0, "{}", run.out);
    assert!(
        run.out
            .contains("pruned 2 file(s) before 2024-01-15, 1 signed statement(s)"),
        "{}",
        run.out
    );
    assert!(!dir.join("2023-06-01.old.jsonl").exists());
    assert!(dir.join("2024-01-15.old.jsonl").exists());
    let run = verify(&r);
    assert_eq!(run.status, 0, "{}", run.out);
    assert!(
        run.out.contains("4 records") && run.out.contains("pruned before seq"),
        "{}",
        run.out
    );

    // The statement is signed: changing it is detected.
    let pruned = dir.join("pruned.jsonl");
    let text = std::fs::read_to_string(&pruned).unwrap();
    std::fs::write(&pruned, text.replace("\"next_seq\":", "\"next_seq\":1")).unwrap();
    let run = verify(&r);
    assert_eq!(run.status, 1, "{}", run.out);
    assert!(run.out.contains("bad-signature"), "{}", run.out);
    // And a registry that does not verify is not pruned.
    let run = cli(&[
        "audit",
        "prune",
        "--checkpoint-key",
        k,
        "--at",
        "2027-01-15T08:00:00Z",
        d,
    ]);
    assert_eq!(run.status, 1, "{}", run.out);
    assert!(dir.join("2024-01-15.old.jsonl").exists());
}

#[test]
fn retention_is_exactly_24_calendar_months() {
    use spid_sp::audit::cutoff_date;
    let cut = |day: &str, months| {
        let d = Timestamp::parse(&format!("{day}T12:00:00Z"))
            .unwrap()
            .date();
        cutoff_date(d, months).to_string()
    };
    assert_eq!(cut("2026-01-15", 24), "2024-01-15");
    assert_eq!(cut("2026-02-28", 24), "2024-02-28");
    assert_eq!(cut("2028-02-29", 24), "2026-02-28");
    assert_eq!(cut("2026-03-31", 1), "2026-02-28");
}

/// A backend whose syncs wait for the test: it reports every write and sync, and each
/// sync returns what the test releases it with.
#[derive(Default)]
struct GatedStore {
    events: std::sync::Mutex<Vec<String>>,
    releases: std::sync::Mutex<std::collections::HashMap<usize, Result<(), AuditError>>>,
    syncs: std::sync::atomic::AtomicUsize,
    changed: std::sync::Condvar,
}

impl GatedStore {
    fn event(&self, e: String) {
        self.events.lock().unwrap().push(e);
        self.changed.notify_all();
    }
    /// Waits (at most a minute: a hang is a failure, not a timing) until `e` happened.
    fn wait_for(&self, e: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut ev = self.events.lock().unwrap();
        while !ev.iter().any(|x| x == e) {
            assert!(std::time::Instant::now() < deadline, "no {e}: {ev:?}");
            ev = self
                .changed
                .wait_timeout(ev, std::time::Duration::from_millis(100))
                .unwrap()
                .0;
        }
    }
    fn release(&self, n: usize, r: Result<(), AuditError>) {
        self.releases.lock().unwrap().insert(n, r);
        self.changed.notify_all();
    }
}

impl EntryStore for GatedStore {
    fn store(&self, entries: &[StoredEntry]) -> Result<(), AuditError> {
        self.write(entries)?;
        self.sync()
    }
    fn write(&self, entries: &[StoredEntry]) -> Result<(), AuditError> {
        let seqs: Vec<String> = entries.iter().map(|e| e.seq.to_string()).collect();
        self.event(format!("write {}", seqs.join(",")));
        Ok(())
    }
    fn sync(&self) -> Result<(), AuditError> {
        let n = self.syncs.fetch_add(1, Ordering::SeqCst);
        self.event(format!("sync {n}"));
        let mut r = self.releases.lock().unwrap();
        loop {
            if let Some(result) = r.remove(&n) {
                return result;
            }
            r = self.changed.wait(r).unwrap();
        }
    }
}

fn gated_log() -> Arc<ChainedLog<GatedStore>> {
    Arc::new(
        ChainedLog::new(
            GatedStore::default(),
            "gated",
            CheckpointKey::generate().unwrap(),
            Arc::new(spid_sp::FixedClock(now())),
        )
        .unwrap(),
    )
}

/// Appends on a thread of its own; the receiver gets the result.
fn append_async(
    log: &Arc<ChainedLog<GatedStore>>,
) -> std::sync::mpsc::Receiver<Result<(), AuditError>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let log = log.clone();
    std::thread::spawn(move || {
        let r = spid_sp::audit::TransactionRecord::new(
            RecordKind::AuthnRequestSent,
            Outcome::Sent,
            now(),
        );
        let _ = tx.send(log.append(r));
    });
    rx
}

#[test]
fn a_record_is_acknowledged_only_after_a_sync_covering_it_and_syncs_overlap() {
    let log = gated_log();
    let store = log.store();
    let a = append_async(&log);
    store.wait_for("write 0");
    store.wait_for("sync 0");
    // The next record is written while the first sync is still running, and its own
    // sync starts before the first returns.
    let b = append_async(&log);
    store.wait_for("write 1");
    store.wait_for("sync 1");
    assert!(
        a.try_recv().is_err(),
        "acknowledged before any sync returned"
    );
    assert!(
        b.try_recv().is_err(),
        "acknowledged before any sync returned"
    );
    // The second sync covers both records: B returns, although A's own (earlier) sync
    // has not: acknowledgements follow the highest sync that returned, in order.
    store.release(1, Ok(()));
    assert_eq!(b.recv().unwrap(), Ok(()));
    // A's thread returns once the sync it runs does.
    store.release(0, Ok(()));
    assert_eq!(a.recv().unwrap(), Ok(()));
}

#[test]
fn a_failed_sync_refuses_its_records_and_every_later_one() {
    let log = gated_log();
    let store = log.store();
    let a = append_async(&log);
    store.wait_for("sync 0");
    store.release(0, Ok(()));
    assert_eq!(a.recv().unwrap(), Ok(()));
    // Record 1's sync hangs; record 2 is written meanwhile; then sync 1 fails.
    let b = append_async(&log);
    store.wait_for("sync 1");
    let c = append_async(&log);
    store.wait_for("write 2");
    store.wait_for("sync 2");
    store.release(1, Err(AuditError("disk gone".into())));
    assert!(b.recv().unwrap().is_err(), "the record of the failed sync");
    // Sync 2 returning Ok afterwards acknowledges nothing: record 2 was refused already.
    store.release(2, Ok(()));
    assert!(c.recv().unwrap().is_err(), "a later, unacknowledged record");
    // The log stays closed: nothing else is written or acknowledged.
    let d = append_async(&log);
    assert!(d.recv().unwrap().is_err());
    assert!(log.checkpoint().is_err());
    let events = store.events.lock().unwrap().clone();
    assert!(!events.iter().any(|e| e == "write 3"), "{events:?}");
}

/// A waker that says when it was woken.
#[derive(Default)]
struct Woken(std::sync::Mutex<bool>, std::sync::Condvar);

impl std::task::Wake for Woken {
    fn wake(self: Arc<Self>) {
        *self.0.lock().unwrap() = true;
        self.1.notify_all();
    }
}

impl Woken {
    /// Waits (at most a minute: a hang is a failure, not a timing) for the wake-up.
    fn wait(&self) {
        let mut w = self.0.lock().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !*w {
            assert!(std::time::Instant::now() < deadline, "never woken");
            w = self
                .1
                .wait_timeout(w, std::time::Duration::from_millis(100))
                .unwrap()
                .0;
        }
    }
}

/// A valid Response to a new login of `sp` (whose AuthnRequest record is released as
/// sync `n` of the gated store).
fn gated_login(
    w: &World,
    sp: &ServiceProvider,
    store: &GatedStore,
    n: usize,
) -> (Incoming, spid_sp::PendingLogin) {
    store.release(n, Ok(()));
    let (_, pending) = sp.start_login(IDP, &LoginOptions::default()).unwrap();
    let spec = citizen(ResponseSpec::new(
        pending.request_id().as_str(),
        ACS,
        SP,
        SpidLevel::L2,
        now(),
    ));
    let incoming = post(
        &w.idp.response(&spec).unwrap(),
        Some(pending.relay_state().as_str()),
    );
    (incoming, pending)
}

#[test]
fn a_deferred_login_is_released_only_once_its_record_is_durable() {
    use std::future::Future as _;
    let w = world_at(now());
    let log = gated_log();
    let store = log.store();
    let sp = w.sp.clone().with_audit(log.clone());

    // Blocking: verification returns at once, the login only after the sync.
    let (incoming, pending) = gated_login(&w, &sp, store, 0);
    let login = sp.finish_login_deferred(&incoming, pending);
    store.wait_for("sync 1");
    assert!(!login.is_ready(), "ready before its record's sync returned");
    store.release(1, Ok(()));
    let login = login.wait().unwrap();
    assert_eq!(login.level(), SpidLevel::L2);

    // Awaited: pending until the sync returns, woken then, and the login released.
    let (incoming, pending) = gated_login(&w, &sp, store, 2);
    let mut fut = std::pin::pin!(sp.finish_login_deferred(&incoming, pending).durable());
    let woken = Arc::new(Woken::default());
    let waker = std::task::Waker::from(woken.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    store.wait_for("sync 3");
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    store.release(3, Ok(()));
    woken.wait();
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(r) => assert!(r.is_ok(), "{r:?}"),
        std::task::Poll::Pending => panic!("woken but not ready"),
    }
    assert_eq!(sp.metrics().audit_errors(), 0);

    // A failed sync refuses the verified login with the stable code, counted once.
    let (incoming, pending) = gated_login(&w, &sp, store, 4);
    let login = sp.finish_login_deferred(&incoming, pending);
    store.wait_for("sync 5");
    store.release(5, Err(AuditError("disk gone".into())));
    assert_eq!(
        login.wait().unwrap_err(),
        LoginError::Rejected(RejectReason::AuditUnavailable)
    );
    assert_eq!(sp.metrics().audit_errors(), 1);
    // The log stays closed: a Response reaching no login is refused too, at once.
    let unmatched = sp.submit_unmatched_response(&incoming, "unknown-request");
    assert!(unmatched.is_ready());
    assert_eq!(unmatched.wait(), Err(RejectReason::AuditUnavailable));
}

#[test]
fn a_ticket_resolves_when_its_sync_returns_without_a_thread_waiting() {
    let log = gated_log();
    let store = log.store();
    let record = || {
        spid_sp::audit::TransactionRecord::new(RecordKind::AuthnRequestSent, Outcome::Sent, now())
    };
    // Submitted from this thread, which then does not wait: the committer writes and
    // syncs on its own.
    let first = log.submit(record());
    store.wait_for("write 0");
    store.wait_for("sync 0");
    let second = log.submit(record());
    store.wait_for("write 1");
    assert!(!first.is_ready() && !second.is_ready());
    store.release(0, Ok(()));
    assert_eq!(first.wait(), Ok(()));
    store.wait_for("sync 1");
    store.release(1, Ok(()));
    assert_eq!(second.wait(), Ok(()));
    // A dropped log finishes what is queued before its committers stop.
    let third = log.submit(record());
    store.release(2, Ok(()));
    drop(log);
    assert_eq!(third.wait(), Ok(()));
}

/// Retention on PostgreSQL (`spid-sp audit prune --postgres`), against the real server
/// tests/postgres.sh starts: it runs this test with the database URL in
/// SPID_SP_AUDIT_POSTGRES and the registry's checkpoint key in SPID_SP_TEST_CHECKPOINT_KEY
/// (the key every writer there signs with). Records are dated by a clock the test moves,
/// as in the file retention test above.
#[cfg(feature = "postgres")]
#[test]
#[ignore = "needs a PostgreSQL server: run by tests/postgres.sh"]
fn postgres_retention_prunes_old_days_and_leaves_a_signed_statement() {
    use spid_sp::audit::{process_writer_id, PostgresStore};
    let url = std::env::var("SPID_SP_AUDIT_POSTGRES").expect("SPID_SP_AUDIT_POSTGRES");
    let key_pem = PathBuf::from(std::env::var("SPID_SP_TEST_CHECKPOINT_KEY").unwrap());
    let key = CheckpointKey::from_pem(&std::fs::read(&key_pem).unwrap()).unwrap();
    let pub_pem = scratch("pg-prune").join("checkpoint.pub.pem");
    std::fs::write(&pub_pem, key.public_pem().unwrap()).unwrap();
    let writer = process_writer_id("old").unwrap();
    let clock = Arc::new(StepClock(AtomicI64::new(0)));
    let log = ChainedLog::new(
        PostgresStore::connect(&url, &writer).unwrap(),
        &writer,
        key,
        clock.clone(),
    )
    .unwrap()
    .with_policy(CheckpointPolicy {
        every_records: 3,
        every_secs: 3600,
    });
    // Records on three days: two beyond 24 months of 2026-01-15, one within.
    for day in [
        "2023-06-01T12:00:00Z",
        "2024-01-14T12:00:00Z",
        "2024-01-15T12:00:00Z",
    ] {
        let t = Timestamp::parse(day).unwrap();
        clock.0.store(t.unix_millis(), Ordering::SeqCst);
        for _ in 0..4 {
            log.append(spid_sp::audit::TransactionRecord::new(
                RecordKind::AuthnRequestSent,
                Outcome::Sent,
                t,
            ))
            .unwrap();
        }
        log.checkpoint().unwrap();
    }
    drop(log);
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let seqs = |db: &mut postgres::Client| -> Vec<i64> {
        db.query(
            "SELECT seq FROM spid_audit WHERE writer = $1 ORDER BY seq",
            &[&writer],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    // 4 records + 2 checkpoints (after 3, then the explicit one) per day.
    assert_eq!(seqs(&mut db), (0..18).collect::<Vec<i64>>());
    let k = key_pem.to_str().unwrap();
    let p = pub_pem.to_str().unwrap();
    let prune = |at: &str| cli(&["audit", "prune", "--checkpoint-key", k, "--at", at]);
    let verify = || cli(&["audit", "verify", "--checkpoint-key", p]);
    assert_eq!(verify().status, 0, "{}", verify().out);

    let run = prune("2026-01-15T08:00:00Z");
    assert_eq!(run.status, 0, "{}", run.out);
    assert!(
        run.out
            .contains("pruned 12 entries before 2024-01-15, 1 signed statement(s)"),
        "{}",
        run.out
    );
    // The two old days are gone, the newer one is intact; the chain still verifies.
    assert_eq!(seqs(&mut db), (12..18).collect::<Vec<i64>>());
    let run = verify();
    assert_eq!(run.status, 0, "{}", run.out);
    assert!(
        run.out.contains(&format!(
            "writer {writer}: 6 entries, 4 records, 2 checkpoints, pruned before seq 12"
        )),
        "{}",
        run.out
    );
    // Pruning again changes nothing.
    let run = prune("2026-01-15T08:00:00Z");
    assert!(
        run.out
            .contains("pruned 0 entries before 2024-01-15, 0 signed statement(s)"),
        "{}",
        run.out
    );

    // A record altered after the prune is still named, and such a registry is not pruned.
    let line: String = db
        .query_one(
            "SELECT line FROM spid_audit WHERE writer = $1 AND seq = 14",
            &[&writer],
        )
        .unwrap()
        .get(0);
    let altered = line.replace("\"sent\"", "\"SENT\"");
    assert_ne!(altered, line);
    let set = |db: &mut postgres::Client, l: &str| {
        db.execute(
            "UPDATE spid_audit SET line = $1 WHERE writer = $2 AND seq = 14",
            &[&l, &writer],
        )
        .unwrap();
    };
    set(&mut db, &altered);
    let run = verify();
    assert_eq!(run.status, 1, "{}", run.out);
    assert!(
        run.out.contains(&format!(
            "first bad record: altered: spid_audit#14 writer {writer} seq 14"
        )),
        "{}",
        run.out
    );
    let run = prune("2027-01-15T08:00:00Z");
    assert_eq!(run.status, 1, "{}", run.out);
    assert_eq!(seqs(&mut db), (12..18).collect::<Vec<i64>>());
    set(&mut db, &line);

    // The statement is signed: changing it is detected.
    db.execute(
        "UPDATE spid_audit_pruned SET line = replace(line, '\"next_seq\":12', '\"next_seq\":11') WHERE writer = $1",
        &[&writer],
    )
    .unwrap();
    let run = verify();
    assert_eq!(run.status, 1, "{}", run.out);
    assert!(run.out.contains("bad-signature"), "{}", run.out);
    db.execute(
        "UPDATE spid_audit_pruned SET line = replace(line, '\"next_seq\":11', '\"next_seq\":12') WHERE writer = $1",
        &[&writer],
    )
    .unwrap();
    assert_eq!(verify().status, 0);
}
