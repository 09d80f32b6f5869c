//! The demo's transaction registry (`--audit-dir`, default `<key dir>/audit`): the
//! append-only file backend, one writer per process, checkpoints signed with a dedicated
//! Ed25519 key created at first start next to the SP key (`audit-checkpoint.key.pem`), and
//! its public half copied into the directory (`checkpoint.pub.pem`) so
//! `spid-sp audit verify DIR` works out of the box. In production keep the public key
//! away from the log (`--checkpoint-key`).
//!
//! With `--audit-postgres URL` the entries go to PostgreSQL instead (one chain per
//! process, writer `demo-HOST-PID-RANDOM`); verify with
//! `spid-sp audit verify --postgres URL --checkpoint-key <key dir>/audit-checkpoint.pub.pem`.

use std::path::Path;
use std::sync::Arc;

use spid_sp::audit::{
    AuditError, AuditLog, ChainedLog, CheckpointKey, CheckpointPolicy, EntryStore, FileStore,
    PayloadEncryptor, StoredEntry,
};
use spid_sp::SystemClock;

use crate::fail;

/// The registry of the running demo.
pub type Registry = ChainedLog<Backend>;

/// Where the demo's entries go.
#[derive(Debug)]
pub enum Backend {
    /// `--audit-dir`.
    File(FileStore),
    /// `--audit-postgres`.
    #[cfg(feature = "postgres")]
    Postgres(spid_sp::audit::PostgresStore),
}

impl EntryStore for Backend {
    fn store(&self, entries: &[StoredEntry]) -> Result<(), AuditError> {
        match self {
            Backend::File(s) => s.store(entries),
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.store(entries),
        }
    }
    fn sealed(&self, checkpoint: &StoredEntry) {
        match self {
            Backend::File(s) => s.sealed(checkpoint),
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.sealed(checkpoint),
        }
    }
    fn write(&self, entries: &[StoredEntry]) -> Result<(), AuditError> {
        match self {
            Backend::File(s) => s.write(entries),
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.write(entries),
        }
    }
    fn sync(&self) -> Result<(), AuditError> {
        match self {
            Backend::File(s) => s.sync(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(s) => s.sync(),
        }
    }
}

/// Opens the registry: the checkpoint key of `key_dir` (created when missing), a fresh
/// writer ID, the directory `dir` or the PostgreSQL database at `postgres`, payloads
/// encrypted to `encrypt_to` when given.
pub fn open(
    dir: &Path,
    postgres: Option<&str>,
    key_dir: &Path,
    encrypt_to: Option<&Path>,
) -> Arc<Registry> {
    let key_path = key_dir.join("audit-checkpoint.key.pem");
    let key = match std::fs::read(&key_path) {
        Ok(pem) => CheckpointKey::from_pem(&pem)
            .unwrap_or_else(|e| fail(format!("{}: {e}", key_path.display()))),
        Err(_) => {
            let key = CheckpointKey::generate().unwrap_or_else(|e| fail(e));
            let pem = key.private_pem().unwrap_or_else(|e| fail(e));
            let _ = std::fs::create_dir_all(key_dir);
            std::fs::write(&key_path, pem)
                .unwrap_or_else(|e| fail(format!("{}: {e}", key_path.display())));
            key
        }
    };
    let public = key.public_pem().unwrap_or_else(|e| fail(e));
    let _ = std::fs::write(key_dir.join("audit-checkpoint.pub.pem"), &public);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (writer, store) = match postgres {
        #[cfg(feature = "postgres")]
        Some(url) => {
            let writer = spid_sp::audit::process_writer_id("demo").unwrap_or_else(|e| fail(e));
            let store = spid_sp::audit::PostgresStore::connect(url, &writer)
                .unwrap_or_else(|e| fail(format!("--audit-postgres: {e}")));
            (writer, Backend::Postgres(store))
        }
        #[cfg(not(feature = "postgres"))]
        Some(_) => fail("--audit-postgres: built without the postgres feature"),
        None => {
            let writer = format!("demo-{secs}-{}", std::process::id());
            let store = FileStore::open(dir, &writer)
                .unwrap_or_else(|e| fail(format!("--audit-dir {}: {e}", dir.display())));
            let _ = std::fs::write(dir.join("checkpoint.pub.pem"), &public);
            (writer, Backend::File(store))
        }
    };
    let mut log = ChainedLog::new(store, &writer, key, Arc::new(SystemClock))
        .unwrap_or_else(|e| fail(e))
        .with_policy(CheckpointPolicy {
            every_records: 1000,
            every_secs: 10,
        });
    if let Some(path) = encrypt_to {
        let pem = std::fs::read(path)
            .unwrap_or_else(|e| fail(format!("--audit-encrypt-to {}: {e}", path.display())));
        log = log.with_encryption(
            PayloadEncryptor::from_pem(&pem)
                .unwrap_or_else(|e| fail(format!("--audit-encrypt-to: {e}"))),
        );
    }
    Arc::new(log)
}

/// The registry of one tenant in the aggregator mode: the same checkpoint key, its own
/// writer in `dir` (`demo-SECS-PID-TENANT`), opened at the tenant's first record.
pub fn open_tenant(
    dir: &Path,
    key_dir: &Path,
    encrypt_to: Option<&Path>,
    tenant: &str,
) -> Result<Arc<Registry>, AuditError> {
    let key_path = key_dir.join("audit-checkpoint.key.pem");
    let key = match std::fs::read(&key_path) {
        Ok(pem) => CheckpointKey::from_pem(&pem)?,
        Err(_) => {
            let key = CheckpointKey::generate()?;
            let _ = std::fs::create_dir_all(key_dir);
            std::fs::write(&key_path, key.private_pem()?)
                .map_err(|e| AuditError(format!("{}: {e}", key_path.display())))?;
            let _ = std::fs::write(key_dir.join("audit-checkpoint.pub.pem"), key.public_pem()?);
            key
        }
    };
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(dir.join("checkpoint.pub.pem"), key.public_pem()?);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let writer = format!("demo-{secs}-{}-{tenant}", std::process::id());
    let store = FileStore::open(dir, &writer)?;
    let mut log = ChainedLog::new(Backend::File(store), &writer, key, Arc::new(SystemClock))?
        .with_policy(CheckpointPolicy {
            every_records: 1000,
            every_secs: 10,
        });
    if let Some(path) = encrypt_to {
        let pem = std::fs::read(path)
            .map_err(|e| AuditError(format!("--audit-encrypt-to {}: {e}", path.display())))?;
        log = log.with_encryption(PayloadEncryptor::from_pem(&pem)?);
    }
    Ok(Arc::new(log))
}

/// Seals the tail every 10 seconds, so an idle registry has no unsigned tail for long.
pub fn spawn_sealer(log: &Arc<Registry>) {
    let log = Arc::clone(log);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            tick.tick().await;
            let l = Arc::clone(&log);
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || l.checkpoint()).await {
                eprintln!("demo-sp: audit checkpoint failed: {e}");
            }
        }
    });
}

/// The registry as the core sees it.
pub fn as_log(log: &Arc<Registry>) -> Arc<dyn AuditLog> {
    Arc::clone(log) as Arc<dyn AuditLog>
}
