//! The 24-month transaction registry AgID requires of every SPID/CIE service provider:
//! every AuthnRequest sent, every Response received (accepted, refused or rejected) and
//! every logout message, kept with integrity and confidentiality. See `docs/audit.md`.
//!
//! The core is sans-IO: [`crate::ServiceProvider`] builds a [`TransactionRecord`] at each
//! step and hands it to an [`AuditLog`] ([`crate::ServiceProvider::with_audit`]). When the
//! log refuses a record, the step does not complete (`StartError::Audit`,
//! `RejectReason::AuditUnavailable`): a portal must not admit someone it cannot account
//! for.
//!
//! With the `audit` feature: the hash chain with signed checkpoints ([`ChainedLog`], over
//! any [`EntryStore`] that stores and reads back entries), payload encryption to an
//! offline key ([`PayloadEncryptor`]), the verifier ([`verify_entries`]) and the
//! append-only file backend ([`FileStore`]) with retention ([`prune_dir`]). With the
//! `postgres` feature: the PostgreSQL backend (`PostgresStore`, `verify_postgres`,
//! `prune_postgres`).

pub(crate) mod record;
// `Completion` and `AuditTicket::pair` serve the logs that resolve tickets later (the
// file log of feature `audit`); without it only ready tickets exist.
#[cfg_attr(not(feature = "audit"), allow(dead_code))]
mod ticket;

#[cfg(feature = "audit")]
mod chain;
#[cfg(feature = "audit")]
mod crypt;
#[cfg(feature = "audit")]
mod file;
#[cfg(feature = "audit")]
mod json;
#[cfg(feature = "audit")]
mod keys;
#[cfg(feature = "postgres")]
mod pg_prune;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "audit")]
mod verify;

pub use record::{OidcIndex, Outcome, Payload, PayloadFormat, RecordKind, TransactionRecord};
pub use ticket::AuditTicket;
#[cfg(feature = "audit")]
pub(crate) use ticket::Completion;

#[cfg(feature = "audit")]
pub use chain::{
    ChainedLog, CheckpointPolicy, Entry, EntryBody, EntryStore, Pruned, StoredEntry, ENTRY_VERSION,
    MAX_SYNCS,
};
#[cfg(feature = "audit")]
pub use crypt::{EncryptedPayload, PayloadDecryptor, PayloadEncryptor};
#[cfg(feature = "audit")]
pub use file::{
    cutoff_date, for_each_line, prune_dir, scan_dir, verify_dir, DirContents, FileStore,
    PruneReport,
};
#[cfg(feature = "audit")]
pub use keys::{CheckpointKey, CheckpointVerifier};
#[cfg(feature = "postgres")]
pub use pg_prune::{prune_postgres, PostgresPruneReport};
/// The PostgreSQL URL parser with the loopback-only rule (shared with the tenant table).
#[cfg(feature = "postgres")]
#[cfg(any(feature = "gateway", feature = "tenants"))]
pub(crate) use postgres::parse_config as parse_postgres_config;
#[cfg(feature = "postgres")]
pub use postgres::{
    for_each_postgres_line, process_writer_id, verify_postgres, PostgresQuery, PostgresStore,
    POSTGRES_HEAD_TABLE, POSTGRES_PRUNED_TABLE, POSTGRES_TABLE,
};
#[cfg(feature = "audit")]
pub use verify::{
    verify_entries, ChainVerifier, Line, Problem, ProblemKind, VerifyReport, WriterReport,
};

/// The registry could not take a record (disk full, database down, key unusable). The
/// operation that produced the record fails closed. Carries no personal data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit log unavailable: {0}")]
pub struct AuditError(pub String);

/// Where the core writes its transaction records.
///
/// A record counts once it is durable (or will never be lost by the backend's own
/// guarantee): the caller completes the login only after that. Two ways to wait:
/// [`AuditLog::append`] returns once the record is durable (it blocks the calling
/// thread); [`AuditLog::submit`] hands the record over and returns an [`AuditTicket`]
/// at once, which resolves when the record is durable; the axum integration awaits it,
/// so no thread waits for a group commit. Both are called from request handlers,
/// concurrently.
pub trait AuditLog: Send + Sync {
    /// Appends one record, durably: returns once it is durable, or the error that
    /// refuses it.
    fn append(&self, record: TransactionRecord) -> Result<(), AuditError>;

    /// Hands one record over without waiting for it to be durable: the ticket resolves
    /// to `Ok` once it is, or to the error that refuses it. Records submitted by one
    /// thread are kept in submission order.
    ///
    /// The default calls [`AuditLog::append`] (the ticket is resolved on return): right
    /// for logs whose writes are quick or durable at once. `ChainedLog` (feature `audit`)
    /// overrides it: its group commit runs on threads of its own.
    fn submit(&self, record: TransactionRecord) -> AuditTicket {
        AuditTicket::ready(self.append(record))
    }
}

/// Keeps records in memory (tests, examples). Never for production: nothing survives a
/// restart.
#[derive(Debug, Default)]
pub struct MemoryAuditLog {
    records: std::sync::Mutex<Vec<TransactionRecord>>,
    fail: std::sync::atomic::AtomicBool,
}

impl MemoryAuditLog {
    /// The records appended so far.
    pub fn records(&self) -> Vec<TransactionRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }
    /// Makes every following `append` fail (to test the failure policy), or work again.
    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, std::sync::atomic::Ordering::SeqCst);
    }
}

impl AuditLog for MemoryAuditLog {
    fn append(&self, record: TransactionRecord) -> Result<(), AuditError> {
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(AuditError("memory log set to fail".into()));
        }
        self.records
            .lock()
            .map_err(|_| AuditError("memory log poisoned".into()))?
            .push(record);
        Ok(())
    }
}

/// Lower-case hex of bytes (hashes in entries).
#[cfg(feature = "audit")]
pub(crate) use crate::printable::hex;
