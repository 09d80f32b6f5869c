//! The PostgreSQL backend: several SP instances write one registry in one database, each
//! process its own chain (its writer ID), one row per entry.
//!
//! The client is rust-postgres's synchronous `postgres` crate, run on a thread of its own
//! ([`PostgresStore`] hands it each batch over a channel): the client owns a small tokio
//! runtime, which must never be created or dropped on an async worker thread, and this
//! way the store is safe to call from anywhere. Each batch is one transaction (the rows,
//! plus the head when the batch ends with a checkpoint); any failure drops the
//! connection, returns [`AuditError`] (the core fails closed) and the next batch
//! reconnects. No TLS: only loopback hosts and Unix sockets are accepted.
//!
//! Reading back ([`verify_postgres`], [`for_each_postgres_line`]) is blocking too: call it
//! outside an async runtime (a CLI, `spawn_blocking`).

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::time::Duration;

use postgres::config::Host;
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, IsolationLevel, NoTls, Statement};

use super::chain::{valid_writer, EntryStore, StoredEntry};
use super::keys::CheckpointVerifier;
use super::verify::{ChainVerifier, Line, VerifyReport};
use super::AuditError;
use crate::time::Timestamp;

/// The table of entries: one row per entry, primary key `(writer, seq)`.
pub const POSTGRES_TABLE: &str = "spid_audit";
/// The table of heads: each writer's latest checkpoint.
pub const POSTGRES_HEAD_TABLE: &str = "spid_audit_head";

/// Created when missing (under an advisory lock, so concurrent first starts do not race).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS spid_audit (
    writer       text        NOT NULL,
    seq          bigint      NOT NULL CHECK (seq >= 0),
    time         timestamptz NOT NULL,
    kind         text,
    outcome      text,
    idp          text,
    fiscal_code  text,
    authn_req_id text,
    resp_id      text,
    assertion_id text,
    hash         text        NOT NULL,
    line         text        NOT NULL,
    PRIMARY KEY (writer, seq)
);
CREATE INDEX IF NOT EXISTS spid_audit_fiscal_code ON spid_audit (fiscal_code)
    WHERE fiscal_code IS NOT NULL;
CREATE INDEX IF NOT EXISTS spid_audit_authn_req_id ON spid_audit (authn_req_id)
    WHERE authn_req_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS spid_audit_assertion_id ON spid_audit (assertion_id)
    WHERE assertion_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS spid_audit_time ON spid_audit (time);
CREATE TABLE IF NOT EXISTS spid_audit_head (
    writer text   PRIMARY KEY,
    seq    bigint NOT NULL,
    line   text   NOT NULL
);";

/// One statement for the whole batch (arrays unnested).
const INSERT: &str = "INSERT INTO spid_audit
    (writer, seq, time, kind, outcome, idp, fiscal_code, authn_req_id, resp_id, assertion_id, hash, line)
    SELECT $1::text, s, t::timestamptz, k, o, i, f, r, p, a, h, l
    FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
         AS u(s, t, k, o, i, f, r, p, a, h, l)";

const HEAD: &str =
    "INSERT INTO spid_audit_head (writer, seq, line) VALUES ($1::text, $2::bigint, $3::text)
    ON CONFLICT (writer) DO UPDATE SET seq = excluded.seq, line = excluded.line
    WHERE spid_audit_head.seq < excluded.seq";

/// Index values longer than this are left out of their column (the line keeps them): an
/// unverified Response must not be able to make a batch fail on a B-tree size limit.
const MAX_INDEX: usize = 256;
/// Rows fetched at a time when reading back.
const FETCH: i32 = 500;

/// A PostgreSQL error without its message text (a DETAIL can quote row values).
pub(super) fn pg_err(what: &str, e: &postgres::Error) -> AuditError {
    match e.as_db_error() {
        Some(db) => AuditError(format!("{what}: SQLSTATE {}", db.code().code())),
        None if e.is_closed() => AuditError(format!("{what}: connection closed")),
        None => AuditError(format!("{what}: {e}")),
    }
}

/// Parses `url` (`postgresql://user:password@127.0.0.1:5432/db` or key=value) and refuses
/// any host that is not loopback or a Unix socket: this build speaks no TLS. Sets
/// defaults the URL leaves out: connect timeout 5 s, TCP user timeout 10 s, statement
/// timeout 10 s, application name `spid-sp-audit`.
pub(crate) fn parse_config(url: &str) -> Result<Config, AuditError> {
    let mut config: Config = url
        .parse()
        .map_err(|_| AuditError("cannot parse the PostgreSQL URL".into()))?;
    let loopback_name = |h: &str| {
        h == "localhost"
            || h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    let hosts_ok = config.get_hosts().iter().all(|h| match h {
        Host::Tcp(name) => loopback_name(name),
        Host::Unix(_) => true,
    });
    if !hosts_ok || !config.get_hostaddrs().iter().all(|ip| ip.is_loopback()) {
        return Err(AuditError(
            "PostgreSQL host must be loopback or a Unix socket (no TLS in this build)".into(),
        ));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(Duration::from_secs(10));
    }
    if config.get_options().is_none() {
        config.options("-c statement_timeout=10000");
    }
    if config.get_application_name().is_none() {
        config.application_name("spid-sp-audit");
    }
    Ok(config)
}

pub(super) fn connect(config: &Config) -> Result<Client, AuditError> {
    config
        .connect(NoTls)
        .map_err(|e| pg_err("cannot connect to PostgreSQL", &e))
}

/// Creates the tables and indexes when missing (a role with INSERT and SELECT only works
/// once they exist).
fn ensure_schema(client: &mut Client) -> Result<(), AuditError> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('spid_audit') IS NOT NULL AND to_regclass('spid_audit_head') IS NOT NULL",
            &[],
        )
        .and_then(|row| row.try_get(0))
        .map_err(|e| pg_err("cannot read the registry schema", &e))?;
    if !exists {
        client
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock(7305436771); {SCHEMA} COMMIT;"
            ))
            .map_err(|e| pg_err("cannot create the registry tables", &e))?;
    }
    Ok(())
}

/// The index columns of one entry, read from its line (which stays the only authority).
#[derive(serde::Deserialize)]
struct Peek {
    body: PeekBody,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
enum PeekBody {
    Record { record: PeekRecord },
    Checkpoint {},
}

#[derive(serde::Deserialize)]
struct PeekRecord {
    kind: String,
    outcome: PeekOutcome,
    time: String,
    #[serde(default)]
    idp: Option<String>,
    #[serde(default)]
    fiscal_code: Option<String>,
    #[serde(default, rename = "AuthnReq_ID")]
    authn_req_id: Option<String>,
    #[serde(default, rename = "Resp_ID")]
    resp_id: Option<String>,
    #[serde(default, rename = "Assertion_ID")]
    assertion_id: Option<String>,
}

#[derive(serde::Deserialize)]
struct PeekOutcome {
    result: String,
}

/// A value fit for an index column: short, no NUL (PostgreSQL text refuses it).
fn index(value: Option<String>, max: usize) -> Option<String> {
    value.filter(|v| v.len() <= max && !v.contains('\0'))
}

/// One batch as column arrays.
#[derive(Default)]
struct Batch {
    writer: String,
    seq: Vec<i64>,
    time: Vec<String>,
    kind: Vec<Option<String>>,
    outcome: Vec<Option<String>>,
    idp: Vec<Option<String>>,
    fiscal_code: Vec<Option<String>>,
    authn_req_id: Vec<Option<String>>,
    resp_id: Vec<Option<String>>,
    assertion_id: Vec<Option<String>>,
    hash: Vec<String>,
    line: Vec<String>,
    /// The checkpoint ending the batch, kept as the writer's head.
    head: Option<(i64, String)>,
}

impl Batch {
    fn of(writer: &str, entries: &[StoredEntry]) -> Result<Batch, AuditError> {
        let mut b = Batch {
            writer: writer.into(),
            ..Batch::default()
        };
        for e in entries {
            if e.writer != writer {
                return Err(AuditError("entry of another writer".into()));
            }
            let seq = i64::try_from(e.seq).map_err(|_| AuditError("seq out of range".into()))?;
            let record = match serde_json::from_str::<Peek>(&e.line).map(|p| p.body) {
                Ok(PeekBody::Record { record }) => Some(record),
                _ => None,
            };
            let time = record
                .as_ref()
                .map(|r| r.time.clone())
                .filter(|t| Timestamp::parse(t).is_ok())
                .unwrap_or_else(|| e.time.clone());
            b.seq.push(seq);
            b.time.push(time);
            match record {
                Some(r) => {
                    b.kind.push(Some(r.kind));
                    b.outcome.push(Some(r.outcome.result));
                    b.idp.push(index(r.idp, 1024));
                    b.fiscal_code.push(index(r.fiscal_code, MAX_INDEX));
                    b.authn_req_id.push(index(r.authn_req_id, MAX_INDEX));
                    b.resp_id.push(index(r.resp_id, MAX_INDEX));
                    b.assertion_id.push(index(r.assertion_id, MAX_INDEX));
                }
                None => {
                    b.kind.push(e.checkpoint.then(|| "checkpoint".to_owned()));
                    for col in [
                        &mut b.outcome,
                        &mut b.idp,
                        &mut b.fiscal_code,
                        &mut b.authn_req_id,
                        &mut b.resp_id,
                        &mut b.assertion_id,
                    ] {
                        col.push(None);
                    }
                }
            }
            b.hash.push(e.hash.clone());
            b.line.push(e.line.clone());
            if e.checkpoint {
                b.head = Some((seq, e.line.clone()));
            }
        }
        Ok(b)
    }
}

/// An open connection with its prepared statements.
struct Conn {
    client: Client,
    insert: Statement,
    head: Statement,
}

impl Conn {
    fn open(config: &Config) -> Result<Conn, AuditError> {
        let mut client = connect(config)?;
        ensure_schema(&mut client)?;
        let insert = client
            .prepare(INSERT)
            .map_err(|e| pg_err("cannot prepare the registry insert", &e))?;
        let head = client
            .prepare(HEAD)
            .map_err(|e| pg_err("cannot prepare the registry insert", &e))?;
        Ok(Conn {
            client,
            insert,
            head,
        })
    }

    fn store(&mut self, b: &Batch) -> Result<(), AuditError> {
        let write = |e: postgres::Error| {
            if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                AuditError(
                    "entry already stored: a batch whose commit was reported failed was committed \
                     after all; this writer cannot go on (restart it: a new chain)"
                        .into(),
                )
            } else {
                pg_err("cannot write the registry", &e)
            }
        };
        let params: [&(dyn ToSql + Sync); 12] = [
            &b.writer,
            &b.seq,
            &b.time,
            &b.kind,
            &b.outcome,
            &b.idp,
            &b.fiscal_code,
            &b.authn_req_id,
            &b.resp_id,
            &b.assertion_id,
            &b.hash,
            &b.line,
        ];
        let Some((seq, line)) = &b.head else {
            // One statement is one transaction: all rows or none, one round trip.
            return self
                .client
                .execute(&self.insert, &params)
                .map(|_| ())
                .map_err(write);
        };
        let mut tx = self.client.transaction().map_err(write)?;
        tx.execute(&self.insert, &params).map_err(write)?;
        tx.execute(&self.head, &[&b.writer, seq, line])
            .map_err(write)?;
        tx.commit().map_err(write)
    }
}

type Reply = SyncSender<Result<(), AuditError>>;

/// The connection thread: connects, checks the writer is new, then stores batches;
/// after a failure it reconnects at the next batch.
fn worker(config: Config, writer: String, jobs: Receiver<(Batch, Reply)>, ready: Reply) {
    let first = Conn::open(&config).and_then(|mut c| {
        let used: bool = c
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM spid_audit WHERE writer = $1::text)
                     OR EXISTS (SELECT 1 FROM spid_audit_head WHERE writer = $1::text)",
                &[&writer],
            )
            .and_then(|row| row.try_get(0))
            .map_err(|e| pg_err("cannot read the registry", &e))?;
        if used {
            return Err(AuditError(format!("writer {writer} already has entries")));
        }
        Ok(c)
    });
    let mut conn = match first {
        Ok(c) => {
            let _ = ready.send(Ok(()));
            Some(c)
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    for (batch, reply) in jobs {
        let result = match conn.as_mut() {
            Some(c) => c.store(&batch),
            None => Conn::open(&config).and_then(|mut c| {
                let r = c.store(&batch);
                conn = Some(c);
                r
            }),
        };
        if result.is_err() {
            // A failed batch leaves the connection in an unknown state: start afresh.
            conn = None;
        }
        let _ = reply.send(result);
    }
}

/// The PostgreSQL backend of one writer (see the module documentation).
pub struct PostgresStore {
    writer: String,
    jobs: Sender<(Batch, Reply)>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (loopback or Unix socket only), creates the tables when
    /// missing, and refuses a `writer` that already has entries (chains are never
    /// resumed: use a fresh ID per process, [`process_writer_id`]). Blocks until then.
    pub fn connect(url: &str, writer: &str) -> Result<PostgresStore, AuditError> {
        if !valid_writer(writer) {
            return Err(AuditError("writer ID must be 1-64 of [A-Za-z0-9_-]".into()));
        }
        let config = parse_config(url)?;
        let (jobs, rx) = mpsc::channel();
        let (ready, ready_rx) = mpsc::sync_channel(1);
        let w = writer.to_owned();
        std::thread::Builder::new()
            .name("spid-audit-postgres".into())
            .spawn(move || worker(config, w, rx, ready))
            .map_err(|e| AuditError(format!("cannot start the PostgreSQL thread: {}", e.kind())))?;
        ready_rx
            .recv()
            .map_err(|_| AuditError("the PostgreSQL thread stopped".into()))??;
        Ok(PostgresStore {
            writer: writer.into(),
            jobs,
        })
    }

    /// The writer ID.
    pub fn writer(&self) -> &str {
        &self.writer
    }
}

impl EntryStore for PostgresStore {
    fn store(&self, entries: &[StoredEntry]) -> Result<(), AuditError> {
        let batch = Batch::of(&self.writer, entries)?;
        let (reply, result) = mpsc::sync_channel(1);
        self.jobs
            .send((batch, reply))
            .map_err(|_| AuditError("the PostgreSQL thread stopped".into()))?;
        result
            .recv()
            .map_err(|_| AuditError("the PostgreSQL thread stopped".into()))?
    }
}

/// A writer ID for this process: `PREFIX-HOST-PID-RANDOM`, at most 64 characters of
/// `[A-Za-z0-9-]` (the host name is cut and cleaned to fit).
pub fn process_writer_id(prefix: &str) -> Result<String, AuditError> {
    let clean = |s: &str, max: usize| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(max)
            .collect()
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let mut random = [0u8; 4];
    crate::ids::fill_random(&mut random)
        .map_err(|_| AuditError("no randomness for the writer ID".into()))?;
    let id = format!(
        "{}-{}-{}-{}",
        clean(prefix, 16),
        clean(host.trim(), 24),
        std::process::id(),
        super::hex(&random)
    );
    if valid_writer(&id) {
        Ok(id)
    } else {
        Err(AuditError("cannot make a writer ID".into()))
    }
}

/// Which records [`for_each_postgres_line`] reads (every filter given must match; none:
/// every entry, checkpoints included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostgresQuery {
    /// Fiscal code, bare or `TINIT-…`.
    pub fiscal_code: Option<String>,
    /// AuthnRequest (or LogoutRequest) ID.
    pub request_id: Option<String>,
    /// Assertion ID.
    pub assertion_id: Option<String>,
    /// Response ID.
    pub response_id: Option<String>,
    /// From this instant.
    pub from: Option<Timestamp>,
    /// Until this instant, excluded.
    pub to: Option<Timestamp>,
}

/// Calls `f(writer, line)` for every entry matching `query`, in (writer, seq) order,
/// fetching a few hundred rows at a time in one read-only snapshot. Blocking.
pub fn for_each_postgres_line(
    url: &str,
    query: &PostgresQuery,
    mut f: impl FnMut(&str, Line),
) -> Result<(), AuditError> {
    let mut client = connect(&parse_config(url)?)?;
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(|e| pg_err("cannot read the registry", &e))?;
    let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    if let Some(c) = &query.fiscal_code {
        let c = c.trim().to_ascii_uppercase();
        let bare = c.strip_prefix("TINIT-").map(str::to_owned).unwrap_or(c);
        params.push(Box::new(bare));
        let n = params.len();
        conditions.push(format!(
            "(fiscal_code = ${n}::text OR fiscal_code = 'TINIT-' || ${n}::text)"
        ));
    }
    for (column, value) in [
        ("authn_req_id", &query.request_id),
        ("assertion_id", &query.assertion_id),
        ("resp_id", &query.response_id),
    ] {
        if let Some(v) = value {
            params.push(Box::new(v.clone()));
            conditions.push(format!("{column} = ${}::text", params.len()));
        }
    }
    for (op, value) in [(">=", &query.from), ("<", &query.to)] {
        if let Some(t) = value {
            params.push(Box::new(t.to_string()));
            conditions.push(format!("time {op} ${}::text::timestamptz", params.len()));
        }
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let sql = format!("SELECT writer, seq, line FROM spid_audit{filter} ORDER BY writer, seq");
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
    let portal = tx
        .bind(sql.as_str(), &refs)
        .map_err(|e| pg_err("cannot read the registry", &e))?;
    loop {
        let rows = tx
            .query_portal(&portal, FETCH)
            .map_err(|e| pg_err("cannot read the registry", &e))?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let read = || -> Result<(String, i64, String), postgres::Error> {
                Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
            };
            let (writer, seq, text) = read().map_err(|e| pg_err("cannot read a row", &e))?;
            f(
                &writer,
                Line {
                    location: format!("{POSTGRES_TABLE}#{seq}"),
                    text,
                    complete: true,
                },
            );
        }
    }
    tx.commit()
        .map_err(|e| pg_err("cannot read the registry", &e))
}

/// Verifies every writer's chain in the database ("pruned up to" statements and heads
/// first, then each chain in sequence order), like [`super::verify_dir`] for files.
/// Blocking.
pub fn verify_postgres(url: &str, key: &CheckpointVerifier) -> Result<VerifyReport, AuditError> {
    let mut v = ChainVerifier::new(key);
    {
        let mut client = connect(&parse_config(url)?)?;
        read_pruned(&mut client, &mut v)?;
        let heads = client
            .query(
                "SELECT writer, line FROM spid_audit_head ORDER BY writer",
                &[],
            )
            .map_err(|e| pg_err("cannot read the registry heads", &e))?;
        for row in heads {
            let read = || -> Result<(String, String), postgres::Error> {
                Ok((row.try_get(0)?, row.try_get(1)?))
            };
            let (writer, text) = read().map_err(|e| pg_err("cannot read a head", &e))?;
            v.head(
                &writer,
                &Line {
                    location: format!("{POSTGRES_HEAD_TABLE}:{writer}"),
                    text,
                    complete: true,
                },
            );
        }
    }
    for_each_postgres_line(url, &PostgresQuery::default(), |writer, line| {
        v.line(writer, &line);
    })?;
    Ok(v.finish())
}

/// The "pruned up to" statements retention leaves (one row each; created by the first
/// prune).
pub const POSTGRES_PRUNED_TABLE: &str = "spid_audit_pruned";

/// Feeds the "pruned up to" statements (if the table exists) to the verifier.
fn read_pruned(client: &mut Client, v: &mut ChainVerifier<'_>) -> Result<(), AuditError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('spid_audit_pruned') IS NOT NULL", &[])
        .and_then(|row| row.try_get(0))
        .map_err(|e| pg_err("cannot read the registry schema", &e))?;
    if !exists {
        return Ok(());
    }
    let rows = client
        .query(
            "SELECT writer, next_seq, line FROM spid_audit_pruned ORDER BY writer, next_seq",
            &[],
        )
        .map_err(|e| pg_err("cannot read the pruned-up-to statements", &e))?;
    for row in rows {
        let read = || -> Result<(String, i64, String), postgres::Error> {
            Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
        };
        let (writer, next, text) = read().map_err(|e| pg_err("cannot read a statement", &e))?;
        v.pruned(&Line {
            location: format!("{POSTGRES_PRUNED_TABLE}:{writer}#{next}"),
            text,
            complete: true,
        });
    }
    Ok(())
}
