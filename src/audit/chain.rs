//! The hash chain: every entry carries its writer, its sequence number, the hash of the
//! previous entry and its own hash (SHA-256 of its canonical JSON without the hash);
//! checkpoint entries, signed with the [`CheckpointKey`], seal everything before them.
//!
//! [`ChainedLog`] is the [`AuditLog`] over any [`EntryStore`]: it encrypts payloads,
//! chains entries, adds checkpoints by its [`CheckpointPolicy`], and commits concurrent
//! appends in groups, pipelined: one write for every record queued while the previous
//! write ran, and up to [`MAX_SYNCS`] syncs in flight, each covering every group written
//! before it started. A record is acknowledged only once a sync covering it returned,
//! in order; a failed sync fails every unacknowledged record and the log for good. The
//! commit runs on the log's own threads: an appender queues its record and gets an
//! [`AuditTicket`] it may block on or await, so no request thread waits for an
//! `fdatasync`. A backend only writes entries, makes them durable, and reads their lines
//! back.

use std::sync::{Arc, Condvar, Mutex, OnceLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::crypt::{EncryptedPayload, PayloadEncryptor};
use super::keys::{CheckpointKey, CheckpointVerifier};
use super::{hex, AuditError, AuditLog, AuditTicket, Completion, TransactionRecord};
use crate::time::{Clock, Timestamp};

/// The format version written in every entry.
pub const ENTRY_VERSION: u8 = 1;
/// The `prev` of a writer's first entry.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line of the registry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// [`ENTRY_VERSION`].
    pub v: u8,
    /// The writer (one chain per writer).
    pub writer: String,
    /// 0, 1, 2, ... per writer.
    pub seq: u64,
    /// When the entry was written (UTC).
    pub time: String,
    /// The previous entry's hash (64 zeros for the first).
    pub prev: String,
    /// A record or a checkpoint.
    pub body: EntryBody,
    /// SHA-256 (hex) of this entry's canonical JSON without `hash`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
}

/// What an entry holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum EntryBody {
    /// A transaction record; its payload moved to `sealed` when encryption is on.
    Record {
        /// The record.
        record: Box<TransactionRecord>,
        /// The encrypted payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sealed: Option<EncryptedPayload>,
    },
    /// A signed checkpoint over every entry before it (through `prev`).
    Checkpoint {
        /// Fingerprint of the checkpoint key.
        key_id: String,
        /// Ed25519 signature (base64) of [`Entry::checkpoint_message`].
        sig: String,
    },
}

/// A signed statement left by retention: the entries of `writer` before `next_seq` were
/// deleted; the entry `next_seq` has `prev` as its previous hash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pruned {
    /// [`ENTRY_VERSION`].
    pub v: u8,
    /// The writer.
    pub writer: String,
    /// The first sequence number kept.
    pub next_seq: u64,
    /// The hash of the last entry deleted.
    pub prev: String,
    /// Every day before this one (`YYYY-MM-DD`) was deleted.
    pub before: String,
    /// When the pruning happened.
    pub time: String,
    /// Fingerprint of the checkpoint key.
    pub key_id: String,
    /// Ed25519 signature (base64).
    pub sig: String,
}

impl Pruned {
    fn message(&self) -> Vec<u8> {
        format!(
            "spid-sp-audit/pruned/v{}\0{}\0{}\0{}\0{}\0{}",
            self.v, self.writer, self.next_seq, self.prev, self.before, self.time
        )
        .into_bytes()
    }

    /// A signed statement.
    pub fn signed(
        writer: &str,
        next_seq: u64,
        prev: &str,
        before: &str,
        time: Timestamp,
        key: &CheckpointKey,
    ) -> Result<Pruned, AuditError> {
        let mut p = Pruned {
            v: ENTRY_VERSION,
            writer: writer.into(),
            next_seq,
            prev: prev.into(),
            before: before.into(),
            time: time.to_string(),
            key_id: key.id().into(),
            sig: String::new(),
        };
        p.sig = STANDARD.encode(key.sign(&p.message())?);
        Ok(p)
    }

    /// Whether the signature verifies with `key`.
    pub fn verify(&self, key: &CheckpointVerifier) -> bool {
        STANDARD
            .decode(&self.sig)
            .is_ok_and(|sig| self.key_id == key.id() && key.verify(&self.message(), &sig))
    }
}

impl Entry {
    /// The canonical JSON of the entry without its hash.
    fn unhashed_json(&self) -> Result<Vec<u8>, AuditError> {
        let mut copy = self.clone();
        copy.hash.clear();
        serde_json::to_vec(&copy).map_err(|_| AuditError("cannot serialise an entry".into()))
    }

    /// The hash this entry should carry.
    pub fn compute_hash(&self) -> Result<String, AuditError> {
        Ok(hex(&crate::dsig::sha256(&self.unhashed_json()?)))
    }

    /// The stored line (canonical JSON with the hash, no newline).
    pub fn to_line(&self) -> Result<String, AuditError> {
        serde_json::to_string(self).map_err(|_| AuditError("cannot serialise an entry".into()))
    }

    /// What a checkpoint signs: writer, seq, prev and time.
    pub fn checkpoint_message(&self) -> Vec<u8> {
        checkpoint_message(self.v, &self.writer, self.seq, &self.prev, &self.time)
    }

    /// Whether this is a checkpoint whose signature verifies with `key`.
    pub fn checkpoint_verifies(&self, key: &CheckpointVerifier) -> bool {
        match &self.body {
            EntryBody::Checkpoint { key_id, sig } => STANDARD.decode(sig).is_ok_and(|sig| {
                key_id == key.id() && key.verify(&self.checkpoint_message(), &sig)
            }),
            EntryBody::Record { .. } => false,
        }
    }
}

/// One entry ready to be stored: its sequence number, UTC time (`YYYY-MM-DD…`, the
/// file backend's day), hash, whether it is a checkpoint, and the line to store (the
/// canonical JSON of the [`Entry`], no newline).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// The writer.
    pub writer: String,
    /// The sequence number.
    pub seq: u64,
    /// The entry's time.
    pub time: String,
    /// The entry's hash.
    pub hash: String,
    /// Whether it is a checkpoint.
    pub checkpoint: bool,
    /// The line.
    pub line: String,
}

fn checkpoint_message(v: u8, writer: &str, seq: u64, prev: &str, time: &str) -> Vec<u8> {
    format!("spid-sp-audit/checkpoint/v{v}\0{writer}\0{seq}\0{prev}\0{time}").into_bytes()
}

/// Room an entry's framing takes around its body: the head (`{"v":1,"writer":…,"body":`,
/// a 64-byte writer ID, a 20-digit sequence number, the time, the previous hash) and
/// [`HASH_FRAME`].
pub(crate) const ENTRY_FRAME: usize = 320;
/// The tail after the body: `,"hash":"…"}`.
const HASH_FRAME: usize = 80;

/// How many syncs a [`ChainedLog`] keeps in flight at most (a backend that syncs with
/// file descriptors keeps this many for each file).
pub const MAX_SYNCS: usize = 2;

/// Where a [`ChainedLog`] keeps its entries.
///
/// [`ChainedLog`] calls `write` for one batch at a time, in chain order, and `sync`
/// concurrently with `write` and with up to [`MAX_SYNCS`] other `sync`s. A backend whose
/// writes are durable when they return implements `store` only (the defaults of `write`
/// and `sync` then call it and do nothing).
pub trait EntryStore: Send + Sync {
    /// Writes `entries` durably, in order, all or none: on `Err` none of them may be
    /// read back later (the log does not advance its chain).
    fn store(&self, entries: &[StoredEntry]) -> Result<(), AuditError>;

    /// Called after a checkpoint was stored (and synced): a backend may keep it apart as
    /// the latest known head, so a verifier can tell a truncated log. Best effort; may
    /// be called concurrently, and for an older checkpoint after a newer one.
    fn sealed(&self, _checkpoint: &StoredEntry) {}

    /// Writes `entries` after everything written before, all or none, without waiting
    /// for them to be durable ([`EntryStore::sync`] does). On `Err` the log does not
    /// advance its chain.
    fn write(&self, entries: &[StoredEntry]) -> Result<(), AuditError> {
        self.store(entries)
    }

    /// Makes durable everything `write` returned `Ok` for before this call. On `Err`
    /// the log acknowledges nothing more: the backend must not report a later `sync`
    /// as `Ok` while what an earlier failed one covered may be lost (the file backend
    /// refuses every later call).
    fn sync(&self) -> Result<(), AuditError> {
        Ok(())
    }
}

/// When [`ChainedLog`] writes a checkpoint: after `every_records` records, or at the
/// first append `every_secs` after the last checkpoint, whichever comes first (and on
/// [`ChainedLog::checkpoint`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Records between checkpoints (at least 1).
    pub every_records: u64,
    /// Seconds between checkpoints.
    pub every_secs: i64,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy {
            every_records: 1000,
            every_secs: 60,
        }
    }
}

mod commit;

use commit::{guarded, ChainState, State};

enum Item {
    /// The canonical JSON of an [`EntryBody::Record`].
    Record(String),
    Seal,
}

/// What the committer threads share with the log.
struct Shared<S> {
    store: S,
    writer: String,
    key: CheckpointKey,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Signalled when work is queued or a step ends.
    work: Condvar,
}

/// The tamper-evident [`AuditLog`]: one chain per writer over an [`EntryStore`].
///
/// Appenders only encrypt and serialise their record and queue it; the group commit
/// (chaining, writing, syncing) runs on [`MAX_SYNCS`]` + 1` committer threads of the
/// log, started at the first record and stopped when the log is dropped (after what is
/// queued). [`AuditLog::append`] blocks until the record's sync returned;
/// [`AuditLog::submit`] returns at once with an [`AuditTicket`] to await.
pub struct ChainedLog<S: EntryStore> {
    shared: Arc<Shared<S>>,
    encryptor: Option<PayloadEncryptor>,
    /// Whether the committers started (or why they could not).
    started: OnceLock<Result<(), AuditError>>,
}

impl<S: EntryStore> std::fmt::Debug for ChainedLog<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainedLog")
            .field("writer", &self.shared.writer)
            .field("key", &self.shared.key.id())
            .field("encrypted", &self.encryptor.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: EntryStore> Drop for ChainedLog<S> {
    fn drop(&mut self) {
        if let Ok(mut st) = self.shared.state.lock() {
            st.shutdown = true;
        }
        self.shared.work.notify_all();
    }
}

/// Whether `id` is a valid writer ID: 1–64 ASCII letters, digits, `-` or `_`.
pub(crate) fn valid_writer(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl<S: EntryStore + 'static> ChainedLog<S> {
    /// A new chain for `writer` (a fresh ID per process: chains are never resumed) over
    /// `store`, sealed with `key`.
    pub fn new(
        store: S,
        writer: &str,
        key: CheckpointKey,
        clock: Arc<dyn Clock>,
    ) -> Result<ChainedLog<S>, AuditError> {
        if !valid_writer(writer) {
            return Err(AuditError("writer ID must be 1-64 of [A-Za-z0-9_-]".into()));
        }
        let now = clock.now();
        Ok(ChainedLog {
            shared: Arc::new(Shared {
                store,
                writer: writer.into(),
                key,
                clock,
                state: Mutex::new(State::new(GENESIS.into(), now)),
                work: Condvar::new(),
            }),
            encryptor: None,
            started: OnceLock::new(),
        })
    }

    /// Encrypts every payload to the offline key.
    pub fn with_encryption(mut self, encryptor: PayloadEncryptor) -> Self {
        self.encryptor = Some(encryptor);
        self
    }

    /// Sets when checkpoints are written.
    pub fn with_policy(self, mut policy: CheckpointPolicy) -> Self {
        policy.every_records = policy.every_records.max(1);
        if let Ok(mut st) = self.shared.state.lock() {
            st.policy = policy;
        }
        self
    }

    /// The writer ID.
    pub fn writer(&self) -> &str {
        &self.shared.writer
    }

    /// The backend.
    pub fn store(&self) -> &S {
        &self.shared.store
    }

    /// Writes a checkpoint now if records were appended since the last one (call it on
    /// shutdown and from a timer, so an idle log does not keep an unsigned tail).
    /// Blocks until it is durable.
    pub fn checkpoint(&self) -> Result<(), AuditError> {
        self.enqueue(Item::Seal).wait()
    }

    /// Starts the committers once: [`MAX_SYNCS`]` + 1` threads (one write and every
    /// sync in flight at once); fewer still work, none is an error.
    fn start(&self) -> Result<(), AuditError> {
        self.started
            .get_or_init(|| {
                let mut started = 0;
                for _ in 0..=MAX_SYNCS {
                    let shared = Arc::clone(&self.shared);
                    let spawned = std::thread::Builder::new()
                        .name("spid-audit-commit".into())
                        .spawn(move || shared.run());
                    if spawned.is_ok() {
                        started += 1;
                    }
                }
                if started == 0 {
                    return Err(AuditError("cannot start the audit committer".into()));
                }
                Ok(())
            })
            .clone()
    }

    /// Queues an item; its ticket resolves once a sync covering it returned.
    fn enqueue(&self, item: Item) -> AuditTicket {
        if let Err(e) = self.start() {
            return AuditTicket::ready(Err(e));
        }
        let (ticket, done) = AuditTicket::pair();
        let Ok(mut st) = self.shared.state.lock() else {
            return AuditTicket::ready(Err(lock_lost()));
        };
        if let Some(e) = &st.failed {
            return AuditTicket::ready(Err(e.clone()));
        }
        // Wake a committer only when one must act: the queue was empty (write it, or
        // time it), the batch is full, or a checkpoint asks for a write now. Otherwise
        // a committer is already timing the queue or will see it after its step.
        let first = st.queue.is_empty();
        if first {
            st.queued_at = Some(std::time::Instant::now());
        }
        let seal = matches!(item, Item::Seal);
        st.seal_queued |= seal;
        st.queue.push((done, item));
        let wake =
            st.idle > 0 && ((first && !st.timed) || st.queue.len() == commit::MAX_BATCH || seal);
        drop(st);
        if wake {
            self.shared.work.notify_one();
        }
        ticket
    }
}

fn lock_lost() -> AuditError {
    AuditError("audit log lock poisoned".into())
}

impl<S: EntryStore> Shared<S> {
    /// Chains and writes one batch; returns the chain state after it, and the
    /// checkpoint ending it if any.
    fn write_batch(
        &self,
        batch: &mut [(Completion, Item)],
        (mut seq, mut prev, mut since, mut last): ChainState,
        policy: CheckpointPolicy,
    ) -> Result<(ChainState, Option<StoredEntry>), AuditError> {
        let now = self.clock.now();
        let time = now.to_string();
        let mut entries = Vec::with_capacity(batch.len() + 1);
        let mut seal = false;
        for (_, item) in batch.iter_mut() {
            match item {
                Item::Record(body) => {
                    let e = self.compose(seq, &time, &prev, std::mem::take(body), false);
                    prev.clone_from(&e.hash);
                    seq += 1;
                    since += 1;
                    entries.push(e);
                }
                Item::Seal => seal = true,
            }
        }
        let due = since >= policy.every_records
            || (since > 0 && now.unix_seconds() - last.unix_seconds() >= policy.every_secs);
        let mut checkpoint = false;
        if since > 0 && (seal || due) {
            let message = checkpoint_message(ENTRY_VERSION, &self.writer, seq, &prev, &time);
            let body = EntryBody::Checkpoint {
                key_id: self.key.id().into(),
                sig: STANDARD.encode(self.key.sign(&message)?),
            };
            let body = serde_json::to_string(&body)
                .map_err(|_| AuditError("cannot serialise a checkpoint".into()))?;
            let e = self.compose(seq, &time, &prev, body, true);
            prev.clone_from(&e.hash);
            seq += 1;
            since = 0;
            last = now;
            entries.push(e);
            checkpoint = true;
        }
        if !entries.is_empty() {
            guarded("write", || self.store.write(&entries))?;
        }
        let seal = if checkpoint { entries.pop() } else { None };
        Ok(((seq, prev, since, last), seal))
    }

    /// The canonical line of an entry, written directly: exactly what serde writes for
    /// [`Entry`] (field order, compact), so the verifier's re-serialisation matches. The
    /// writer ID and the time need no JSON escaping ([`valid_writer`], `Timestamp`).
    /// The line is built in `body`'s own buffer (the appender leaves [`ENTRY_FRAME`]
    /// bytes of room): the ~8 KB body is moved within it, not copied into a new one.
    fn compose(
        &self,
        seq: u64,
        time: &str,
        prev: &str,
        body: String,
        checkpoint: bool,
    ) -> StoredEntry {
        let mut head = String::with_capacity(ENTRY_FRAME);
        head.push_str("{\"v\":");
        head.push_str(&ENTRY_VERSION.to_string());
        head.push_str(",\"writer\":\"");
        head.push_str(&self.writer);
        head.push_str("\",\"seq\":");
        head.push_str(&seq.to_string());
        head.push_str(",\"time\":\"");
        head.push_str(time);
        head.push_str("\",\"prev\":\"");
        head.push_str(prev);
        head.push_str("\",\"body\":");
        let mut line = body;
        line.reserve(head.len() + HASH_FRAME);
        line.insert_str(0, &head);
        line.push('}');
        let hash = hex(&crate::dsig::sha256(line.as_bytes()));
        line.pop();
        line.push_str(",\"hash\":\"");
        line.push_str(&hash);
        line.push_str("\"}");
        StoredEntry {
            writer: self.writer.clone(),
            seq,
            time: time.to_owned(),
            hash,
            checkpoint,
            line,
        }
    }
}

impl<S: EntryStore + 'static> AuditLog for ChainedLog<S> {
    fn append(&self, record: TransactionRecord) -> Result<(), AuditError> {
        self.submit(record).wait()
    }

    fn submit(&self, record: TransactionRecord) -> AuditTicket {
        match self.serialise(record) {
            Ok(body) => self.enqueue(Item::Record(body)),
            Err(e) => AuditTicket::ready(Err(e)),
        }
    }
}

impl<S: EntryStore> ChainedLog<S> {
    /// The canonical JSON of the record's entry body, its payload encrypted when
    /// encryption is on: done by the appender, so appenders encrypt in parallel and the
    /// committer only frames and hashes.
    fn serialise(&self, mut record: TransactionRecord) -> Result<String, AuditError> {
        // Encrypt outside the lock: appenders encrypt in parallel.
        let sealed = match (&self.encryptor, record.payload.take()) {
            (Some(enc), Some(payload)) => Some(enc.encrypt(&payload)?),
            (None, payload) => {
                record.payload = payload;
                None
            }
            (Some(_), None) => None,
        };
        // Serialise outside the lock too: the writer only frames and hashes.
        super::json::record_body(record, sealed)
    }
}
