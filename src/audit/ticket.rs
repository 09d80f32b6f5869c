//! [`AuditTicket`]: the durability of one submitted record, awaited without holding a
//! thread. The log side keeps a [`Completion`] and resolves it once (durable, or the
//! error that refuses the record); the caller either blocks on the ticket
//! ([`AuditTicket::wait`]) or polls it as a [`Future`] (any executor: the core depends on
//! no runtime and does no I/O here, a waker is only stored and woken).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::AuditError;

/// Who to wake when the result is set.
enum Wake {
    None,
    Thread(Thread),
    Task(Waker),
}

/// The state shared by a ticket and its completion.
struct Slot {
    result: OnceLock<Result<(), AuditError>>,
    wake: Mutex<Wake>,
}

impl Slot {
    fn set(&self, result: Result<(), AuditError>) {
        if self.result.set(result).is_err() {
            return;
        }
        // Set before the waker is taken: a waiter that stores its waker after this
        // lock sees the result when it checks again under the same lock.
        let wake = match self.wake.lock() {
            Ok(mut w) => std::mem::replace(&mut *w, Wake::None),
            Err(p) => std::mem::replace(&mut *p.into_inner(), Wake::None),
        };
        match wake {
            Wake::None => {}
            Wake::Thread(t) => t.unpark(),
            Wake::Task(w) => w.wake(),
        }
    }
}

/// The log side of a ticket: resolves it once. Dropped unresolved (a backend that
/// panicked, a log shut down with work queued), it refuses the record: a ticket never
/// hangs and never reports a record durable that was not.
pub(crate) struct Completion(Arc<Slot>);

impl Completion {
    /// Resolves the ticket (later calls do nothing).
    pub(crate) fn finish(&self, result: Result<(), AuditError>) {
        self.0.set(result);
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        self.0.set(Err(AuditError(
            "audit log stopped before the record was durable".into(),
        )));
    }
}

/// The durability of one record handed to an [`super::AuditLog`]
/// ([`super::AuditLog::submit`]): resolves to `Ok` once the record is durable, or to the
/// error that refused it. Wait for it with [`AuditTicket::wait`] (blocks the thread) or
/// `.await` it (a [`Future`], on any executor: nothing is parked while the group commit
/// runs). Whatever depends on the record (a session, a redirect) must come after `Ok`.
#[must_use = "a record counts only once its ticket resolved to Ok"]
pub struct AuditTicket(Ticket);

enum Ticket {
    Done(Option<Result<(), AuditError>>),
    Waiting(Arc<Slot>),
}

impl std::fmt::Debug for AuditTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditTicket")
            .field("ready", &self.is_ready())
            .finish()
    }
}

impl AuditTicket {
    /// A ticket already resolved (a log whose `append` is durable when it returns).
    pub fn ready(result: Result<(), AuditError>) -> AuditTicket {
        AuditTicket(Ticket::Done(Some(result)))
    }

    /// A ticket and the completion that resolves it.
    pub(crate) fn pair() -> (AuditTicket, Completion) {
        let slot = Arc::new(Slot {
            result: OnceLock::new(),
            wake: Mutex::new(Wake::None),
        });
        (
            AuditTicket(Ticket::Waiting(Arc::clone(&slot))),
            Completion(slot),
        )
    }

    /// Whether the result is known (waiting for it would not block).
    pub fn is_ready(&self) -> bool {
        match &self.0 {
            Ticket::Done(r) => r.is_some(),
            Ticket::Waiting(slot) => slot.result.get().is_some(),
        }
    }

    /// Blocks the calling thread until the record is durable or refused.
    pub fn wait(self) -> Result<(), AuditError> {
        let slot = match self.0 {
            Ticket::Done(r) => return r.unwrap_or_else(|| Err(polled_twice())),
            Ticket::Waiting(slot) => slot,
        };
        slot.park_until(None)?;
        slot.result
            .get()
            .cloned()
            .unwrap_or_else(|| Err(poisoned()))
    }

    /// Blocks the calling thread until the result is known or `timeout` has passed;
    /// whether it is known now ([`AuditTicket::wait`] then returns at once). On `false`
    /// the ticket is as before: wait for it later, or `.await` it.
    pub fn ready_within(&self, timeout: Duration) -> bool {
        match &self.0 {
            Ticket::Done(r) => r.is_some(),
            // A timeout too long to represent waits for the result.
            Ticket::Waiting(slot) => slot
                .park_until(Instant::now().checked_add(timeout))
                .unwrap_or(false),
        }
    }
}

impl Slot {
    /// Parks the calling thread until the result is set or `deadline` (`None`: none)
    /// has passed; whether it is set.
    fn park_until(&self, deadline: Option<Instant>) -> Result<bool, AuditError> {
        loop {
            if self.result.get().is_some() {
                return Ok(true);
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break;
            }
            {
                let mut wake = self.wake.lock().map_err(|_| poisoned())?;
                if self.result.get().is_some() {
                    return Ok(true);
                }
                *wake = Wake::Thread(std::thread::current());
            }
            match deadline {
                Some(d) => std::thread::park_timeout(d - now),
                None => std::thread::park(),
            }
        }
        // Timed out: this thread no longer asks to be woken (whoever polls the ticket
        // next registers its own waker).
        if let Ok(mut wake) = self.wake.lock() {
            if matches!(*wake, Wake::Thread(_)) {
                *wake = Wake::None;
            }
        }
        Ok(self.result.get().is_some())
    }
}

fn poisoned() -> AuditError {
    AuditError("audit ticket lock poisoned".into())
}

fn polled_twice() -> AuditError {
    AuditError("audit ticket polled after completion".into())
}

impl Future for AuditTicket {
    type Output = Result<(), AuditError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let slot = match &mut this.0 {
            Ticket::Done(r) => return Poll::Ready(r.take().unwrap_or_else(|| Err(polled_twice()))),
            Ticket::Waiting(slot) => slot,
        };
        if let Some(r) = slot.result.get() {
            return Poll::Ready(r.clone());
        }
        let Ok(mut wake) = slot.wake.lock() else {
            return Poll::Ready(Err(poisoned()));
        };
        if let Some(r) = slot.result.get() {
            return Poll::Ready(r.clone());
        }
        match &*wake {
            Wake::Task(w) if w.will_wake(cx.waker()) => {}
            _ => *wake = Wake::Task(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A waker that counts its wake-ups.
    struct Count(std::sync::atomic::AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_polled_ticket_is_woken_once_resolved() {
        let (mut ticket, done) = AuditTicket::pair();
        let count = Arc::new(Count(0.into()));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut ticket).poll(&mut cx).is_pending());
        assert!(!ticket.is_ready());
        done.finish(Ok(()));
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(ticket.is_ready());
        assert_eq!(Pin::new(&mut ticket).poll(&mut cx), Poll::Ready(Ok(())));
    }

    #[test]
    fn a_ticket_waited_for_a_bounded_time_can_still_be_awaited() {
        let (mut ticket, done) = AuditTicket::pair();
        assert!(!ticket.ready_within(Duration::from_millis(5)));
        // Not resolved in time: awaiting it afterwards still works.
        let count = Arc::new(Count(0.into()));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut ticket).poll(&mut cx).is_pending());
        done.finish(Ok(()));
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(Pin::new(&mut ticket).poll(&mut cx), Poll::Ready(Ok(())));
        // Resolved from another thread while this one waits: woken before the deadline.
        let (ticket, done) = AuditTicket::pair();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            done.finish(Err(AuditError("disk gone".into())));
        });
        let started = Instant::now();
        assert!(ticket.ready_within(Duration::from_secs(60)));
        assert!(started.elapsed() < Duration::from_secs(30));
        assert_eq!(ticket.wait(), Err(AuditError("disk gone".into())));
        t.join().unwrap();
        assert!(AuditTicket::ready(Ok(())).ready_within(Duration::ZERO));
    }

    #[test]
    fn a_dropped_completion_refuses_the_record() {
        let (ticket, done) = AuditTicket::pair();
        drop(done);
        assert!(ticket.wait().is_err());
        let (ticket, done) = AuditTicket::pair();
        let t = std::thread::spawn(move || ticket.wait());
        done.finish(Err(AuditError("disk gone".into())));
        done.finish(Ok(()));
        assert_eq!(t.join().unwrap(), Err(AuditError("disk gone".into())));
    }
}
