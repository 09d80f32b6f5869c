//! `audit verify | search | export | prune | keygen`: the 24-month transaction registry
//! (docs/audit.md). `verify`, `search` and `export` read a directory (the file backend)
//! or, with `--postgres URL`, the PostgreSQL backend.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;
use spid_sp::audit::{
    cutoff_date, for_each_line, for_each_postgres_line, prune_dir, prune_postgres, scan_dir,
    verify_dir, verify_postgres, CheckpointKey, CheckpointVerifier, Entry, EntryBody,
    PayloadDecryptor, PostgresQuery, TransactionRecord,
};
use spid_sp::Timestamp;

use crate::io::{instant, invalid, read_bytes, usage, write_new, Failure, Outcome};

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify every chain and checkpoint; exit 1 and name the first bad record if the
    /// registry was altered, and report a torn or unsigned tail.
    Verify {
        /// The checkpoint public key (or private key) PEM [default: DIR/checkpoint.pub.pem,
        /// which an attacker with write access could replace: keep a copy elsewhere].
        #[arg(long)]
        checkpoint_key: Option<PathBuf>,
        /// Read the PostgreSQL registry at this URL instead of a directory (loopback or a
        /// Unix socket; --checkpoint-key required).
        #[arg(long, env = "SPID_SP_AUDIT_POSTGRES", conflicts_with = "dir")]
        postgres: Option<String>,
        /// The registry directory.
        #[arg(required_unless_present = "postgres")]
        dir: Option<PathBuf>,
    },
    /// Print the records (JSON Lines, payloads left out) matching every filter given.
    Search {
        /// Fiscal code (`TINIT-…` or bare).
        #[arg(long)]
        fiscal_code: Option<String>,
        /// AuthnRequest (or LogoutRequest) ID.
        #[arg(long)]
        request_id: Option<String>,
        /// Assertion ID.
        #[arg(long)]
        assertion_id: Option<String>,
        /// Response ID.
        #[arg(long)]
        response_id: Option<String>,
        /// From this instant (xs:dateTime).
        #[arg(long)]
        from: Option<String>,
        /// Until this instant, excluded (xs:dateTime).
        #[arg(long)]
        to: Option<String>,
        /// Read the PostgreSQL registry at this URL instead of a directory.
        #[arg(long, env = "SPID_SP_AUDIT_POSTGRES", conflicts_with = "dir")]
        postgres: Option<String>,
        /// The registry directory.
        #[arg(required_unless_present = "postgres")]
        dir: Option<PathBuf>,
    },
    /// Print every record as JSON Lines, payloads decrypted with the offline key if given.
    Export {
        /// The offline RSA private key (PEM) the payloads were encrypted to.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Read the PostgreSQL registry at this URL instead of a directory.
        #[arg(long, env = "SPID_SP_AUDIT_POSTGRES", conflicts_with = "dir")]
        postgres: Option<String>,
        /// The registry directory.
        #[arg(required_unless_present = "postgres")]
        dir: Option<PathBuf>,
    },
    /// Delete whole days older than the retention, leaving signed "pruned up to"
    /// statements (refuses a registry that does not verify).
    Prune {
        /// The checkpoint private key (PEM).
        #[arg(long)]
        checkpoint_key: PathBuf,
        /// Retention in months.
        #[arg(long, default_value_t = 24)]
        months: u32,
        /// Prune as of this instant (xs:dateTime, or `now`) [default: now].
        #[arg(long)]
        at: Option<String>,
        /// Prune the PostgreSQL registry at this URL instead of a directory (a role
        /// allowed to DELETE).
        #[arg(long, env = "SPID_SP_AUDIT_POSTGRES", conflicts_with = "dir")]
        postgres: Option<String>,
        /// The registry directory.
        #[arg(required_unless_present = "postgres")]
        dir: Option<PathBuf>,
    },
    /// Create a key: `checkpoint` (Ed25519, signs checkpoints; the SP holds it) or
    /// `offline` (RSA-3072, payloads are encrypted to it; keep the private half offline).
    Keygen {
        /// checkpoint or offline.
        kind: String,
        /// Where to write KIND.key.pem and KIND.pub.pem (new files only).
        out_dir: PathBuf,
    },
}

pub(crate) fn audit_cmd(c: AuditCommand) -> Outcome {
    match c {
        AuditCommand::Verify {
            checkpoint_key,
            postgres,
            dir,
        } => verify(&source(dir, postgres), checkpoint_key.as_deref()),
        AuditCommand::Search {
            fiscal_code,
            request_id,
            assertion_id,
            response_id,
            from,
            to,
            postgres,
            dir,
        } => {
            let from = from.map(|t| instant(Some(&t))).transpose()?;
            let to = to.map(|t| instant(Some(&t))).transpose()?;
            let fiscal_code = fiscal_code.map(|c| {
                let c = c.trim().to_ascii_uppercase();
                c.strip_prefix("TINIT-").map(str::to_owned).unwrap_or(c)
            });
            let query = PostgresQuery {
                fiscal_code: fiscal_code.clone(),
                request_id: request_id.clone(),
                assertion_id: assertion_id.clone(),
                response_id: response_id.clone(),
                from,
                to,
            };
            each_record(&source(dir, postgres), &query, |entry, record, location| {
                let time = Timestamp::parse(&record.time).ok();
                let code = record
                    .fiscal_code
                    .as_deref()
                    .map(|c| c.strip_prefix("TINIT-").unwrap_or(c));
                let keep = wanted(fiscal_code.as_ref(), code)
                    && wanted(request_id.as_ref(), record.authn_req_id.as_deref())
                    && wanted(assertion_id.as_ref(), record.assertion_id.as_deref())
                    && wanted(response_id.as_ref(), record.resp_id.as_deref())
                    && from.is_none_or(|f| time.is_some_and(|t| t >= f))
                    && to.is_none_or(|u| time.is_some_and(|t| t < u));
                if keep {
                    let mut record = record.clone();
                    record.payload = None;
                    print_line(&json!({
                        "writer": entry.writer, "seq": entry.seq, "location": location,
                        "record": record,
                    }));
                }
                Ok(())
            })
        }
        AuditCommand::Export { key, postgres, dir } => {
            let key = match key {
                Some(p) => Some(
                    PayloadDecryptor::from_pem(&read_bytes(&p)?)
                        .map_err(|e| usage(format!("--key: {e}")))?,
                ),
                None => None,
            };
            let all = PostgresQuery::default();
            each_record(&source(dir, postgres), &all, |entry, record, location| {
                let mut record = record.clone();
                let mut encrypted = false;
                if let EntryBody::Record {
                    sealed: Some(sealed),
                    ..
                } = &entry.body
                {
                    match &key {
                        Some(k) => {
                            record.payload = Some(
                                k.decrypt(sealed)
                                    .map_err(|e| invalid(format!("{location}: payload: {e}")))?,
                            );
                        }
                        None => encrypted = true,
                    }
                }
                print_line(&json!({
                    "writer": entry.writer, "seq": entry.seq, "time": entry.time,
                    "payload_encrypted": encrypted, "record": record,
                }));
                Ok(())
            })
        }
        AuditCommand::Prune {
            checkpoint_key,
            months,
            at,
            postgres,
            dir,
        } => {
            let key = CheckpointKey::from_pem(&read_bytes(&checkpoint_key)?)
                .map_err(|e| usage(format!("--checkpoint-key: {e}")))?;
            let now = instant(at.as_deref())?;
            let before = cutoff_date(now.date(), months);
            match source(dir, postgres) {
                Source::Dir(dir) => {
                    let report = prune_dir(&dir, &key, before, now).map_err(invalid)?;
                    println!(
                        "pruned {} file(s) before {before}, {} signed statement(s)",
                        report.deleted.len(),
                        report.statements
                    );
                }
                Source::Postgres(url) => {
                    let report = prune_postgres(&url, &key, before, now).map_err(invalid)?;
                    println!(
                        "pruned {} entries before {before}, {} signed statement(s)",
                        report.deleted, report.statements
                    );
                }
            }
            Ok(())
        }
        AuditCommand::Keygen { kind, out_dir } => keygen(&kind, &out_dir),
    }
}

/// No filter, or the value equals it.
fn wanted(filter: Option<&String>, value: Option<&str>) -> bool {
    filter.is_none_or(|want| value == Some(want.as_str()))
}

fn print_line(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
}

/// Where the registry is: a directory or a PostgreSQL URL (clap makes sure one is given).
enum Source {
    Dir(PathBuf),
    Postgres(String),
}

fn source(dir: Option<PathBuf>, postgres: Option<String>) -> Source {
    match (dir, postgres) {
        (_, Some(url)) => Source::Postgres(url),
        (Some(dir), None) => Source::Dir(dir),
        (None, None) => Source::Dir(PathBuf::from(".")),
    }
}

/// Calls `f` with every record entry (matching `query`, for PostgreSQL: the caller
/// filters again), in writer and sequence order.
fn each_record(
    source: &Source,
    query: &PostgresQuery,
    mut f: impl FnMut(&Entry, &TransactionRecord, &str) -> Outcome,
) -> Outcome {
    let mut failure: Option<Failure> = None;
    match source {
        Source::Postgres(url) => {
            for_each_postgres_line(url, query, |_, line| {
                one_record(&line, &mut failure, &mut f)
            })
            .map_err(|e| usage(format!("--postgres: {e}")))?;
        }
        Source::Dir(dir) => {
            let contents = scan_dir(dir).map_err(|e| usage(format!("{}: {e}", dir.display())))?;
            for files in contents.writers.values() {
                for (_, path) in files {
                    for_each_line(path, |line| one_record(&line, &mut failure, &mut f))
                        .map_err(|e| usage(format!("{}: {e}", path.display())))?;
                    if failure.is_some() {
                        break;
                    }
                }
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Hands one complete record line to `f`, until a failure.
fn one_record(
    line: &spid_sp::audit::Line,
    failure: &mut Option<Failure>,
    f: &mut impl FnMut(&Entry, &TransactionRecord, &str) -> Outcome,
) {
    if failure.is_some() || !line.complete {
        return;
    }
    if let Ok(entry) = serde_json::from_str::<Entry>(&line.text) {
        if let EntryBody::Record { record, .. } = &entry.body {
            *failure = f(&entry, record, &line.location).err();
        }
    }
}

fn verify(source: &Source, key: Option<&Path>) -> Outcome {
    let key_path = match (source, key) {
        (_, Some(k)) => k.to_path_buf(),
        (Source::Dir(dir), None) => {
            let p = dir.join("checkpoint.pub.pem");
            eprintln!(
                "spid-sp: trusting {} (pass --checkpoint-key with a copy kept elsewhere)",
                p.display()
            );
            p
        }
        (Source::Postgres(_), None) => {
            return Err(usage(
                "--postgres needs --checkpoint-key (the public key PEM)",
            ))
        }
    };
    let key = CheckpointVerifier::from_pem(&read_bytes(&key_path)?)
        .map_err(|e| usage(format!("{}: {e}", key_path.display())))?;
    let report = match source {
        Source::Dir(dir) => {
            verify_dir(dir, &key).map_err(|e| usage(format!("{}: {e}", dir.display())))?
        }
        Source::Postgres(url) => {
            verify_postgres(url, &key).map_err(|e| usage(format!("--postgres: {e}")))?
        }
    };
    for w in &report.writers {
        println!(
            "writer {}: {} entries, {} records, {} checkpoints{}",
            w.writer,
            w.entries,
            w.records,
            w.checkpoints,
            w.pruned_before
                .map(|s| format!(", pruned before seq {s}"))
                .unwrap_or_default()
        );
        if let Some(loc) = &w.torn_tail {
            println!("  torn tail: {loc} is an incomplete last line (a crash during a write), not verified");
        }
        if let Some((a, b)) = w.unsigned_tail {
            println!("  unsigned tail: seq {a}..={b} after the last checkpoint (chained, not signed: a cut there cannot be detected)");
        }
    }
    match report.problems.first() {
        None => {
            println!(
                "audit verify: ok ({} writers, {} records)",
                report.writers.len(),
                report.writers.iter().map(|w| w.records).sum::<u64>()
            );
            Ok(())
        }
        Some(first) => {
            for p in &report.problems {
                println!("  {p}");
            }
            Err(invalid(format!("first bad record: {first}")))
        }
    }
}

fn keygen(kind: &str, out: &Path) -> Outcome {
    let (private, public) = match kind {
        "checkpoint" => {
            let k = CheckpointKey::generate().map_err(usage)?;
            (
                k.private_pem().map_err(usage)?,
                k.public_pem().map_err(usage)?,
            )
        }
        "offline" => {
            let k = PayloadDecryptor::generate().map_err(usage)?;
            (
                k.private_pem().map_err(usage)?,
                k.public_pem().map_err(usage)?,
            )
        }
        other => return Err(usage(format!("keygen: checkpoint or offline, not {other}"))),
    };
    std::fs::create_dir_all(out).map_err(|e| crate::io::io_failure("create", out, &e))?;
    write_new(&out.join(format!("{kind}.key.pem")), &private, true)?;
    write_new(&out.join(format!("{kind}.pub.pem")), &public, false)?;
    println!(
        "wrote {kind}.key.pem and {kind}.pub.pem in {}",
        out.display()
    );
    Ok(())
}
