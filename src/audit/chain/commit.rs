//! The group commit of [`super::ChainedLog`]: the committer threads' loop, the write
//! and sync steps, and the state they share under the log's lock.

use std::collections::VecDeque;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

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
    /// When the queue last went from empty to not empty (its oldest item's age).
    pub(super) queued_at: Option<Instant>,
    /// Whether a queued [`Item::Seal`] asks for a write now.
    pub(super) seal_queued: bool,
    /// Records in the last batch written (1: a lone appender, nobody to group with).
    pub(super) last_batch: usize,
    /// Whether a committer waits for the queue's deadline (appenders need not wake one).
    pub(super) timed: bool,
    /// Whether the last sync took longer than [`COMMIT_DELAY`].
    pub(super) slow_sync: bool,
}

/// How long a record may wait in the queue for others to join its batch while the log
/// is busy (a sync in flight or the last batch held several records): one write and one
/// `fdatasync` for every record queued meanwhile instead of one per few records. A lone
/// appender (last batch of one record, nothing in flight) is written at once.
pub(super) const COMMIT_DELAY: Duration = Duration::from_millis(2);
/// A queue this long is written at once, whatever its age.
pub(super) const MAX_BATCH: usize = 64;

impl State {
    /// An empty log whose chain continues from `prev`, last checkpointed at `now`.
    pub(super) fn new(prev: String, now: Timestamp) -> State {
        State {
            queue: Vec::new(),
            writing: false,
            syncs: 0,
            written: 0,
            covered: 0,
            unsynced: VecDeque::new(),
            failed: None,
            shutdown: false,
            idle: 0,
            policy: CheckpointPolicy::default(),
            seq: 0,
            prev,
            since_checkpoint: 0,
            last_checkpoint: now,
            queued_at: None,
            seal_queued: false,
            last_batch: 0,
            timed: false,
            slow_sync: false,
        }
    }

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

    /// When the queue is due for a write (`None`: it is empty). Due at once on
    /// shutdown, for a checkpoint, for a full batch, or for a lone appender; else
    /// [`COMMIT_DELAY`] after its oldest item was queued.
    pub(super) fn write_deadline(&self) -> Option<Instant> {
        let since = self.queued_at?;
        if self.queue.is_empty() {
            return None;
        }
        let busy = self.syncs > 0 || !self.unsynced.is_empty() || self.last_batch > 1;
        if self.shutdown || self.seal_queued || self.queue.len() >= MAX_BATCH || !busy {
            return Some(since);
        }
        Some(since + COMMIT_DELAY)
    }

    /// Whether a write can start now.
    fn write_due(&self, now: Instant) -> bool {
        !self.writing && self.failed.is_none() && self.write_deadline().is_some_and(|d| d <= now)
    }

    /// Whether a sync can start now.
    fn sync_due(&self) -> bool {
        self.failed.is_none() && self.syncs < MAX_SYNCS && self.covered < self.written
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

    /// A committer: writes the queue as one batch when it is due while the previous
    /// ones sync, syncs what was written, until the log is dropped and nothing is left.
    pub(super) fn run(&self) {
        let Ok(mut st) = self.lock() else {
            return;
        };
        loop {
            let now = Instant::now();
            let step = if st.write_due(now) {
                self.write_step(st)
            } else if st.sync_due() {
                self.sync_step(st)
            } else if st.shutdown
                && st.queue.is_empty()
                && (st.failed.is_some() || st.covered >= st.written)
            {
                return;
            } else {
                // Queued but not due yet, and nobody timing it: wait for its deadline
                // (appenders wake no one meanwhile, unless the batch fills up).
                let deadline = match st.write_deadline() {
                    Some(d) if !st.timed && !st.writing && st.failed.is_none() => Some(d),
                    _ => None,
                };
                st.idle += 1;
                let waited = match deadline {
                    Some(d) => {
                        st.timed = true;
                        self.work
                            .wait_timeout(st, d.saturating_duration_since(now))
                            .map(|(g, _)| g)
                            .ok()
                    }
                    None => self.work.wait(st).ok(),
                };
                match waited {
                    Some(g) => {
                        st = g;
                        st.idle -= 1;
                        if deadline.is_some() {
                            st.timed = false;
                        }
                        continue;
                    }
                    None => return,
                }
            };
            st = match step {
                Ok(g) => g,
                Err(_) => return,
            };
            // This committer takes the next step itself; an idle one is woken only when
            // there is a second one to run at the same time (a write and a sync), or to
            // time a queue not due yet, or to stop.
            let write = st.write_due(Instant::now());
            let sync = st.sync_due();
            // Syncs slower than the commit delay: time the queue while this one syncs,
            // so its write overlaps the sync (the pipeline a slow disk needs).
            let untimed = sync && !write && st.slow_sync && !st.timed && !st.queue.is_empty();
            if st.idle > 0 && ((write && sync) || untimed || st.shutdown) {
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
        let mut batch = std::mem::take(&mut st.queue);
        st.queued_at = None;
        st.seal_queued = false;
        st.last_batch = batch
            .iter()
            .filter(|(_, i)| matches!(i, Item::Record(_)))
            .count();
        let start = (
            st.seq,
            st.prev.clone(),
            st.since_checkpoint,
            st.last_checkpoint,
        );
        let policy = st.policy;
        drop(st);
        let written = self.write_batch(&mut batch, start, policy);
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
        let started = Instant::now();
        let synced = guarded("sync", || self.store.sync());
        let slow = started.elapsed() > COMMIT_DELAY;
        let mut st = self.lock()?;
        st.syncs -= 1;
        st.slow_sync = slow;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State::new(String::new(), Timestamp::from_unix_seconds(0))
    }

    fn queue(st: &mut State, n: usize) -> Vec<crate::audit::AuditTicket> {
        let mut tickets = Vec::new();
        for _ in 0..n {
            let (t, c) = crate::audit::AuditTicket::pair();
            st.queue.push((c, Item::Record(String::new())));
            tickets.push(t);
        }
        tickets
    }

    #[test]
    fn the_commit_delay_applies_only_while_the_log_is_busy() {
        let t0 = Instant::now();
        let mut st = state();
        // Nothing queued: nothing to write.
        assert_eq!(st.write_deadline(), None);
        st.queued_at = Some(t0);
        let _t = queue(&mut st, 1);
        // A lone appender (last batch of one, nothing in flight): at once.
        st.last_batch = 1;
        assert_eq!(st.write_deadline(), Some(t0));
        assert!(st.write_due(t0));
        // Busy (several records in the last batch, or a sync in flight): waits.
        st.last_batch = 5;
        assert_eq!(st.write_deadline(), Some(t0 + COMMIT_DELAY));
        assert!(!st.write_due(t0));
        assert!(st.write_due(t0 + COMMIT_DELAY));
        st.last_batch = 1;
        st.syncs = 1;
        assert_eq!(st.write_deadline(), Some(t0 + COMMIT_DELAY));
        // A checkpoint asked for, a full batch, or shutdown: at once.
        st.seal_queued = true;
        assert_eq!(st.write_deadline(), Some(t0));
        st.seal_queued = false;
        let _more = queue(&mut st, MAX_BATCH - 1);
        assert_eq!(st.write_deadline(), Some(t0));
        st.queue.truncate(1);
        st.shutdown = true;
        assert_eq!(st.write_deadline(), Some(t0));
        // A write in progress or a failed log: no second write.
        st.writing = true;
        assert!(!st.write_due(t0));
        st.writing = false;
        st.failed = Some(AuditError("disk gone".into()));
        assert!(!st.write_due(t0));
    }
}
