//! The hash chain: every entry carries its writer, its sequence number, the hash of the
//! previous entry and its own hash (SHA-256 of its canonical JSON without the hash);
//! checkpoint entries, signed with the [`CheckpointKey`], seal everything before them.
//!
//! [`ChainedLog`] is the [`AuditLog`] over any [`EntryStore`]: it encrypts payloads,
//! chains entries, adds checkpoints by its [`CheckpointPolicy`], and commits concurrent
//! appends in groups (one durable write for every record queued while the previous write
//! ran). A backend only stores entries, all or none, and reads their lines back.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::crypt::{EncryptedPayload, PayloadEncryptor};
use super::keys::{CheckpointKey, CheckpointVerifier};
use super::{hex, AuditError, AuditLog, TransactionRecord};
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
        Ok(hex(&openssl::sha::sha256(&self.unhashed_json()?)))
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

/// Where a [`ChainedLog`] keeps its entries.
pub trait EntryStore: Send + Sync {
    /// Writes `entries` durably, in order, all or none: on `Err` none of them may be
    /// read back later (the log does not advance its chain).
    fn store(&self, entries: &[StoredEntry]) -> Result<(), AuditError>;

    /// Called after a checkpoint was stored: a backend may keep it apart as the latest
    /// known head, so a verifier can tell a truncated log. Best effort.
    fn sealed(&self, _checkpoint: &StoredEntry) {}
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

enum Item {
    /// The canonical JSON of an [`EntryBody::Record`].
    Record(String),
    Seal,
}

struct State {
    queue: Vec<(u64, Item)>,
    next_ticket: u64,
    writing: bool,
    results: HashMap<u64, Result<(), AuditError>>,
    seq: u64,
    prev: String,
    since_checkpoint: u64,
    last_checkpoint: Timestamp,
}

/// The tamper-evident [`AuditLog`]: one chain per writer over an [`EntryStore`].
pub struct ChainedLog<S: EntryStore> {
    store: S,
    writer: String,
    key: CheckpointKey,
    encryptor: Option<PayloadEncryptor>,
    clock: Arc<dyn Clock>,
    policy: CheckpointPolicy,
    state: Mutex<State>,
    done: Condvar,
}

impl<S: EntryStore> std::fmt::Debug for ChainedLog<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainedLog")
            .field("writer", &self.writer)
            .field("key", &self.key.id())
            .field("encrypted", &self.encryptor.is_some())
            .finish_non_exhaustive()
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

impl<S: EntryStore> ChainedLog<S> {
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
            store,
            writer: writer.into(),
            key,
            encryptor: None,
            clock,
            policy: CheckpointPolicy::default(),
            state: Mutex::new(State {
                queue: Vec::new(),
                next_ticket: 0,
                writing: false,
                results: HashMap::new(),
                seq: 0,
                prev: GENESIS.into(),
                since_checkpoint: 0,
                last_checkpoint: now,
            }),
            done: Condvar::new(),
        })
    }

    /// Encrypts every payload to the offline key.
    pub fn with_encryption(mut self, encryptor: PayloadEncryptor) -> Self {
        self.encryptor = Some(encryptor);
        self
    }

    /// Sets when checkpoints are written.
    pub fn with_policy(mut self, mut policy: CheckpointPolicy) -> Self {
        policy.every_records = policy.every_records.max(1);
        self.policy = policy;
        self
    }

    /// The writer ID.
    pub fn writer(&self) -> &str {
        &self.writer
    }

    /// The backend.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Writes a checkpoint now if records were appended since the last one (call it on
    /// shutdown and from a timer, so an idle log does not keep an unsigned tail).
    pub fn checkpoint(&self) -> Result<(), AuditError> {
        self.submit(Item::Seal)
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, AuditError> {
        self.state
            .lock()
            .map_err(|_| AuditError("audit log lock poisoned".into()))
    }

    fn submit(&self, item: Item) -> Result<(), AuditError> {
        let mut st = self.lock()?;
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        st.queue.push((ticket, item));
        loop {
            if let Some(result) = st.results.remove(&ticket) {
                return result;
            }
            if !st.writing {
                st.writing = true;
                let batch = std::mem::take(&mut st.queue);
                let start = (
                    st.seq,
                    st.prev.clone(),
                    st.since_checkpoint,
                    st.last_checkpoint,
                );
                drop(st);
                let written = self.write_batch(&batch, start);
                st = self.lock()?;
                st.writing = false;
                let result = match written {
                    Ok((seq, prev, since, last)) => {
                        st.seq = seq;
                        st.prev = prev;
                        st.since_checkpoint = since;
                        st.last_checkpoint = last;
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
                for (t, _) in &batch {
                    st.results.insert(*t, result.clone());
                }
                self.done.notify_all();
                continue;
            }
            st = self
                .done
                .wait(st)
                .map_err(|_| AuditError("audit log lock poisoned".into()))?;
        }
    }

    /// Chains and stores one batch; returns the chain state after it.
    fn write_batch(
        &self,
        batch: &[(u64, Item)],
        (mut seq, mut prev, mut since, mut last): (u64, String, u64, Timestamp),
    ) -> Result<(u64, String, u64, Timestamp), AuditError> {
        let now = self.clock.now();
        let time = now.to_string();
        let mut entries = Vec::with_capacity(batch.len() + 1);
        let mut seal = false;
        for (_, item) in batch {
            match item {
                Item::Record(body) => {
                    let e = self.compose(seq, &time, &prev, body, false);
                    prev.clone_from(&e.hash);
                    seq += 1;
                    since += 1;
                    entries.push(e);
                }
                Item::Seal => seal = true,
            }
        }
        let due = since >= self.policy.every_records
            || (since > 0 && now.unix_seconds() - last.unix_seconds() >= self.policy.every_secs);
        let mut checkpoint = false;
        if since > 0 && (seal || due) {
            let message = checkpoint_message(ENTRY_VERSION, &self.writer, seq, &prev, &time);
            let body = EntryBody::Checkpoint {
                key_id: self.key.id().into(),
                sig: STANDARD.encode(self.key.sign(&message)?),
            };
            let body = serde_json::to_string(&body)
                .map_err(|_| AuditError("cannot serialise a checkpoint".into()))?;
            let e = self.compose(seq, &time, &prev, &body, true);
            prev.clone_from(&e.hash);
            seq += 1;
            since = 0;
            last = now;
            entries.push(e);
            checkpoint = true;
        }
        if !entries.is_empty() {
            self.store.store(&entries)?;
        }
        if let Some(cp) = entries.last().filter(|_| checkpoint) {
            self.store.sealed(cp);
        }
        Ok((seq, prev, since, last))
    }

    /// The canonical line of an entry, written directly: exactly what serde writes for
    /// [`Entry`] (field order, compact), so the verifier's re-serialisation matches. The
    /// writer ID and the time need no JSON escaping ([`valid_writer`], `Timestamp`).
    fn compose(
        &self,
        seq: u64,
        time: &str,
        prev: &str,
        body: &str,
        checkpoint: bool,
    ) -> StoredEntry {
        let mut line = String::with_capacity(body.len() + 256);
        line.push_str("{\"v\":");
        line.push_str(&ENTRY_VERSION.to_string());
        line.push_str(",\"writer\":\"");
        line.push_str(&self.writer);
        line.push_str("\",\"seq\":");
        line.push_str(&seq.to_string());
        line.push_str(",\"time\":\"");
        line.push_str(time);
        line.push_str("\",\"prev\":\"");
        line.push_str(prev);
        line.push_str("\",\"body\":");
        line.push_str(body);
        line.push('}');
        let hash = hex(&openssl::sha::sha256(line.as_bytes()));
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

impl<S: EntryStore> AuditLog for ChainedLog<S> {
    fn append(&self, mut record: TransactionRecord) -> Result<(), AuditError> {
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
        let body = serde_json::to_string(&EntryBody::Record {
            record: Box::new(record),
            sealed,
        })
        .map_err(|_| AuditError("cannot serialise a record".into()))?;
        self.submit(Item::Record(body))
    }
}
