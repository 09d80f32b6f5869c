//! Retention for the PostgreSQL backend (`spid-sp audit prune --postgres`): the file
//! backend's prune, with the "pruned up to" statements in a table.

use postgres::IsolationLevel;

use super::chain::{Entry, Pruned};
use super::keys::CheckpointKey;
use super::postgres::{connect, parse_config, pg_err, verify_postgres};
use super::AuditError;
use crate::time::{Date, Timestamp};

const PRUNED_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS spid_audit_pruned (
    writer   text   NOT NULL,
    next_seq bigint NOT NULL,
    line     text   NOT NULL,
    PRIMARY KEY (writer, next_seq)
)";

/// What [`prune_postgres`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostgresPruneReport {
    /// Entries deleted.
    pub deleted: u64,
    /// Signed statements stored (one per writer pruned).
    pub statements: usize,
}

/// Deletes, per writer, the entries dated before the day `before` (the `time` column:
/// the record's time, the entry's for checkpoints), after verifying the whole registry
/// with `key` (a registry that does not verify is not pruned: evidence is kept). Only a
/// prefix of each chain goes: up to the writer's first entry dated on or after `before`,
/// so an entry out of time order stays rather than leaving a hole. For each writer, one
/// transaction stores a signed "pruned up to" statement (the first sequence number kept
/// and the hash it chains to) in `spid_audit_pruned` and deletes the rows, so the rest
/// still verifies. Needs `DELETE` on `spid_audit` (an operator's role, not the SP's).
/// Blocking.
pub fn prune_postgres(
    url: &str,
    key: &CheckpointKey,
    before: Date,
    now: Timestamp,
) -> Result<PostgresPruneReport, AuditError> {
    let report = verify_postgres(url, &key.verifier()?)?;
    if let Some(p) = report.problems.first() {
        return Err(AuditError(format!(
            "the registry does not verify, not pruned: {p}"
        )));
    }
    let cutoff = before.to_string();
    let cut = format!("{cutoff}T00:00:00Z");
    let mut client = connect(&parse_config(url)?)?;
    client
        .batch_execute(PRUNED_SCHEMA)
        .map_err(|e| pg_err("cannot create the pruned-up-to table", &e))?;
    let writers = client
        .query(
            "SELECT DISTINCT writer FROM spid_audit WHERE time < $1::text::timestamptz",
            &[&cut],
        )
        .map_err(|e| pg_err("cannot read the registry", &e))?;
    let mut done = PostgresPruneReport::default();
    for row in writers {
        let writer: String = row
            .try_get(0)
            .map_err(|e| pg_err("cannot read a writer", &e))?;
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .start()
            .map_err(|e| pg_err("cannot prune the registry", &e))?;
        // The first entry kept: the writer's first one dated on or after the cut-off, or
        // none (every entry is old).
        let bounds = tx
            .query_one(
                "SELECT (SELECT min(seq) FROM spid_audit WHERE writer = $1::text
                            AND time >= $2::text::timestamptz),
                        (SELECT max(seq) FROM spid_audit WHERE writer = $1::text)",
                &[&writer, &cut],
            )
            .map_err(|e| pg_err("cannot read the registry", &e))?;
        let first_new: Option<i64> = bounds.try_get(0).map_err(|e| pg_err("bounds", &e))?;
        let last: Option<i64> = bounds.try_get(1).map_err(|e| pg_err("bounds", &e))?;
        let Some(next_seq) = first_new.or(last.map(|l| l + 1)) else {
            continue;
        };
        let Some(last_old) = tx
            .query_opt(
                "SELECT line FROM spid_audit WHERE writer = $1::text AND seq = $2::bigint",
                &[&writer, &(next_seq - 1)],
            )
            .map_err(|e| pg_err("cannot read the registry", &e))?
        else {
            continue; // nothing before the first entry kept (pruned already)
        };
        let line: String = last_old.try_get(0).map_err(|e| pg_err("a row", &e))?;
        // The boundary is taken from the (unverified) time column: check it against the
        // verified entry itself before deleting anything.
        let entry = serde_json::from_str::<Entry>(&line)
            .map_err(|_| AuditError("cannot read the last entry to prune".into()))?;
        if entry
            .time
            .get(..10)
            .is_none_or(|day| day >= cutoff.as_str())
        {
            return Err(AuditError(format!(
                "writer {writer}: entry seq {} is dated {}, not before {cutoff}: the time column \
                 disagrees with the entries, not pruned",
                entry.seq, entry.time
            )));
        }
        let next = u64::try_from(next_seq).map_err(|_| AuditError("seq out of range".into()))?;
        let statement = Pruned::signed(&writer, next, &entry.hash, &cutoff, now, key)?;
        let text = serde_json::to_string(&statement)
            .map_err(|_| AuditError("cannot serialise a statement".into()))?;
        tx.execute(
            "INSERT INTO spid_audit_pruned (writer, next_seq, line) VALUES ($1::text, $2::bigint, $3::text)",
            &[&writer, &next_seq, &text],
        )
        .map_err(|e| pg_err("cannot store the pruned-up-to statement", &e))?;
        let deleted = tx
            .execute(
                "DELETE FROM spid_audit WHERE writer = $1::text AND seq < $2::bigint",
                &[&writer, &next_seq],
            )
            .map_err(|e| pg_err("cannot delete old entries", &e))?;
        tx.commit()
            .map_err(|e| pg_err("cannot prune the registry", &e))?;
        done.deleted += deleted;
        done.statements += 1;
    }
    Ok(done)
}
