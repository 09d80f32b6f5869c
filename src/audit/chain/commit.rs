//! The group commit of [`super::ChainedLog`]: the committer threads' loop, the write
//! and sync steps, and the state they share under the log's lock.

use std::collections::VecDeque;
use std::sync::MutexGuard;

use super::{
    lock_lost, CheckpointPolicy, Completion, EntryStore, Item, Shared, StoredEntry, MAX_SYNCS,
};
use crate::audit::AuditError;
use crate::time::Timestamp;

/// A batch written, waiting for a sync.
pub(super) struct Written {
    id: u64,
    waiters: Vec<Completion>,
    /// The checkpoint ending it, handed to [`EntryStore::sealed`] once durable.
    seal: Option<StoredEntry>,
}

/// The chain after a batch: seq, prev, records since the last checkpoint, its time.
pub(super) type ChainState = (u64, String, u64, Timestamp);

pub(super) struct State {
    /// Items waiting for the next write, with the completions of their tickets.
    pub(super) queue: Vec<(Completion, Item)>,
    pub(super) writing: bool,
    /// Syncs in flight.
    pub(super) syncs: usize,
    /// Batches written; the last one a sync was started for.
    pub(super) written: u64,
    pub(super) covered: u64,
    pub(super) unsynced: VecDeque<Written>,
    /// Set by a failed sync: nothing is acknowledged or written any more.
    pub(super) failed: Option<AuditError>,
    /// The log was dropped: the committers finish what is queued and stop.
    pub(super) shutdown: bool,
    /// Committers waiting for work (none: nobody to notify, no wake-up syscall).
    pub(super) idle: usize,
    pub(super) policy: CheckpointPolicy,
    pub(super) seq: u64,
    pub(super) prev: String,
    pub(super) since_checkpoint: u64,
    pub(super) last_checkpoint: Timestamp,
}

impl State {
    /// A sync failed: every unacknowledged record fails, and every later one.
    fn fail(&mut self, e: &AuditError) {
        self.failed = Some(e.clone());
        for w in std::mem::take(&mut self.unsynced) {
            for a in w.waiters {
                a.finish(Err(e.clone()));
            }
        }
        for (a, _) in std::mem::take(&mut self.queue) {
            a.finish(Err(e.clone()));
        }
    }

    /// Work a committer can start now: a write, else a sync.
    fn has_work(&self) -> bool {
        self.failed.is_none()
            && ((!self.writing && !self.queue.is_empty())
                || (self.syncs < MAX_SYNCS && self.covered < self.written))
    }
}

/// Runs a backend call, a panic in it turned into an error (the records it concerns are
/// refused; nothing hangs).
pub(super) fn guarded<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, AuditError>,
) -> Result<T, AuditError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(AuditError(format!("audit backend panicked in {what}"))))
}
impl<S: EntryStore> Shared<S> {
    fn lock(&self) -> Result<MutexGuard<'_, State>, AuditError> {
        self.state.lock().map_err(|_| lock_lost())
    }

    /// A committer: writes the queue as one batch while the previous ones sync, syncs
    /// what was written, until the log is dropped and nothing is left.
    pub(super) fn run(&self) {
        let Ok(mut st) = self.lock() else {
            return;
        };
        loop {
            let step = if !st.writing && !st.queue.is_empty() && st.failed.is_none() {
                self.write_step(st)
            } else if st.failed.is_none() && st.syncs < MAX_SYNCS && st.covered < st.written {
                self.sync_step(st)
            } else if st.shutdown
                && st.queue.is_empty()
                && (st.failed.is_some() || st.covered >= st.written)
            {
                return;
            } else {
                st.idle += 1;
                match self.work.wait(st) {
                    Ok(g) => {
                        st = g;
                        st.idle -= 1;
                        continue;
                    }
                    Err(_) => return,
                }
            };
            st = match step {
                Ok(g) => g,
                Err(_) => return,
            };
            if st.idle > 0 && (st.has_work() || st.shutdown) {
                // An idle committer takes it while this one takes the rest (each one
                // woken passes the word on after its own step).
                self.work.notify_one();
            }
        }
    }

    /// Writes the queue as one batch (the lock released meanwhile).
    fn write_step<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
    ) -> Result<MutexGuard<'a, State>, AuditError> {
        st.writing = true;
        let batch = std::mem::take(&mut st.queue);
        let start = (
            st.seq,
            st.prev.clone(),
            st.since_checkpoint,
            st.last_checkpoint,
        );
        let policy = st.policy;
        drop(st);
        let written = self.write_batch(&batch, start, policy);
        let mut st = self.lock()?;
        st.writing = false;
        let waiters = batch.into_iter().map(|(a, _)| a);
        match written {
            Ok(((seq, prev, since, last), seal)) => {
                st.seq = seq;
                st.prev = prev;
                st.since_checkpoint = since;
                st.last_checkpoint = last;
                if let Some(e) = st.failed.clone() {
                    // A sync failed meanwhile: this batch is not acknowledged either.
                    for a in waiters {
                        a.finish(Err(e.clone()));
                    }
                } else {
                    st.written += 1;
                    let id = st.written;
                    st.unsynced.push_back(Written {
                        id,
                        waiters: waiters.collect(),
                        seal,
                    });
                }
            }
            Err(e) => {
                for a in waiters {
                    a.finish(Err(e.clone()));
                }
            }
        }
        Ok(st)
    }

    /// Syncs every batch written so far (the lock released meanwhile), then acknowledges
    /// every batch up to the highest one a sync has made durable, in order: a batch
    /// ending with a checkpoint after [`EntryStore::sealed`] saw it.
    fn sync_step<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
    ) -> Result<MutexGuard<'a, State>, AuditError> {
        let target = st.written;
        st.covered = target;
        st.syncs += 1;
        drop(st);
        let synced = guarded("sync", || self.store.sync());
        let mut st = self.lock()?;
        st.syncs -= 1;
        let mut seals = Vec::new();
        let mut done = Vec::new();
        match synced {
            Ok(()) if st.failed.is_none() => {
                while st.unsynced.front().is_some_and(|w| w.id <= target) {
                    let Some(w) = st.unsynced.pop_front() else {
                        break;
                    };
                    done.extend(w.waiters);
                    seals.extend(w.seal);
                }
            }
            Ok(()) => {}
            Err(e) => st.fail(&e),
        }
        if seals.is_empty() && done.is_empty() {
            return Ok(st);
        }
        drop(st);
        for cp in &seals {
            let _ = guarded("sealed", || {
                self.store.sealed(cp);
                Ok(())
            });
        }
        for a in done {
            a.finish(Ok(()));
        }
        self.lock()
    }
}
