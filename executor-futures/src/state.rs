//! The task state word: named bits, and every transition as a method returning a
//! `#[must_use]` outcome, all through one CAS helper ([`StateWord::update`]).
//!
//! ```text
//!             run (CAS, clears NOTIFIED)        finish
//!   PENDING ─────────────────────────▶ RUNNING ─────────────────────────▶ COMPLETE[|PANICKED]
//!  (NOTIFIED)                            │  ▲ │ (async) poll → Pending:          get: Ok(T) | Err(panicked)
//!      │                                 │  │ └─────▶ idle ──wake──▶ NOTIFIED (re-queued) ─▶ run …
//!      │ cancel / abandon                │ cancel (flag raised; the body sees it cooperatively)
//!      ▼                                 ▼
//!   CANCELLED                     RUNNING|CANCELLED ──finish──▶ CANCELLED   output dropped by the runner
//!   (closure dropped by the canceller)
//! ```
//!
//! A cell can also be freed before it is done (an idle async task nothing can
//! wake any more): its state word then never gets a terminal bit, and a hook it
//! still holds is called with a stand-in that is `CANCELLED` from creation
//! (`task.rs`, "Freed before done").
//!
//! Bits:
//!
//! | bit | meaning | set by | cleared by |
//! |---|---|---|---|
//! | `NOTIFIED` | a job for this cell is queued (or about to be) and should run it | creation, a wake of an idle async task | the claim (`transition_to_running`), cancel, abandon |
//! | `RUNNING` | one thread owns the work (closure or future) | the claim | finish, idle |
//! | `STARTED` | the body was entered at least once (for [`TaskState`]) | the claim | never |
//! | `COMPLETE` | terminal: the output (value or panic) is final | finish, unless cancelled | never |
//! | `PANICKED` | with `COMPLETE`: the output is a panic | finish | never |
//! | `CANCELLED` | terminal: cancelled (while pending, idle or running) | cancel, abandon | never |
//! | `JOIN_INTEREST` | a handle (or the completion hook) will read the output | creation | dropping the handle |
//! | `WAITING` | a waiter or a waker was registered: the completer must lock and wake | registration | never |
//! | `DEPENDENTS` | a continuation or callback was pushed on the dependents list: the completer must drain it | registration | never |
//!
//! Invariants:
//!
//! 1. `COMPLETE` and `CANCELLED` are never both set, and once one is set the state
//!    word never loses it (guarantee 3: the first writer wins).
//! 2. Only the thread that moved the cell to `RUNNING` touches the work; only the
//!    thread that cancelled an idle cell (not `RUNNING`) drops it.
//! 3. `NOTIFIED` ⇔ exactly one queued job may still run the cell; a job that finds
//!    `NOTIFIED` clear is a tombstone (it does nothing when run or dropped).
//! 4. A registration sets `WAITING` with an RMW *after* pushing the waiter under the
//!    slot lock; the terminal transition is an RMW too. Whichever comes second sees
//!    the other: either the registrant sees the terminal bit (and does not wait) or
//!    the completer sees `WAITING` (and wakes it). No wake-up is lost. `DEPENDENTS`
//!    works the same way for the lock-free dependents list (`continuation.rs`,
//!    where a registrant that finds it set already skips the RMW).
//!
//! Every transition uses `AcqRel` on success (it publishes what the thread wrote
//! before it, e.g. the output, and acquires what the previous owner wrote) and
//! `Acquire` on failure/loads.

use crate::sync::{AtomicUsize, Ordering};

pub(crate) const NOTIFIED: usize = 1;
pub(crate) const RUNNING: usize = 1 << 1;
pub(crate) const STARTED: usize = 1 << 2;
pub(crate) const COMPLETE: usize = 1 << 3;
pub(crate) const PANICKED: usize = 1 << 4;
pub(crate) const CANCELLED: usize = 1 << 5;
pub(crate) const JOIN_INTEREST: usize = 1 << 6;
pub(crate) const WAITING: usize = 1 << 7;
pub(crate) const DEPENDENTS: usize = 1 << 8;

/// Either terminal bit.
pub(crate) const DONE: usize = COMPLETE | CANCELLED;

/// The state of a fresh cell: queued, one handle (or hook) interested.
pub(crate) const INITIAL: usize = NOTIFIED | JOIN_INTEREST;

/// The observable state of a task.
///
/// Like Java 19's `Future.State` and Python's `Future` states; read it with
/// [`TaskHandle::state`](crate::TaskHandle::state) or
/// [`TaskRef::state`](crate::TaskRef::state). `Completed`, `Panicked` and
/// `Cancelled` are terminal and never change.
///
/// # Examples
///
/// ```
/// use executor_futures::{ExecutorService, TaskState};
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let handle = pool.submit(|| 1).unwrap();
/// handle.wait().unwrap();
/// assert_eq!(handle.state(), TaskState::Completed);
/// assert!(handle.state().is_done());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Accepted, not started yet (a cancel now means it never starts).
    Pending,
    /// Started and not finished (an async task between polls is `Running` too).
    Running,
    /// Finished and returned a value.
    Completed,
    /// Finished by panicking; the payload is kept for the handle.
    Panicked,
    /// Cancelled (possibly while its body still runs: its output will be dropped).
    Cancelled,
}

impl TaskState {
    /// True for the terminal states (`Completed`, `Panicked`, `Cancelled`).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::TaskState;
    /// assert!(TaskState::Cancelled.is_done());
    /// assert!(!TaskState::Running.is_done());
    /// ```
    pub fn is_done(self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Panicked | TaskState::Cancelled
        )
    }

    pub(crate) fn from_bits(s: usize) -> TaskState {
        if s & CANCELLED != 0 {
            TaskState::Cancelled
        } else if s & COMPLETE != 0 {
            if s & PANICKED != 0 {
                TaskState::Panicked
            } else {
                TaskState::Completed
            }
        } else if s & STARTED != 0 {
            TaskState::Running
        } else {
            TaskState::Pending
        }
    }
}

/// Outcome of [`StateWord::transition_to_running`].
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// The caller owns the work now and must run it.
    Claimed,
    /// Not runnable (already claimed, cancelled, done, or a tombstone job): do nothing.
    Skip,
}

/// Outcome of [`StateWord::transition_to_complete`].
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The task is `COMPLETE`; `prev` is the state before (for `WAITING`/`JOIN_INTEREST`).
    Completed { prev: usize },
    /// It was cancelled while running: discard the output (the canceller did the rest).
    Discard,
}

/// Outcome of [`StateWord::transition_to_cancelled`] and
/// [`StateWord::transition_to_abandoned`].
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancel {
    /// Cancelled a cell nobody was running: the caller drops the work.
    WasIdle { prev: usize },
    /// Cancelled a running cell: its runner will drop the work and the output.
    WasRunning { prev: usize },
    /// Already terminal (or, for abandon, not queued): nothing changed.
    Refused,
}

/// Outcome of [`StateWord::transition_to_idle`] (an async task's poll returned `Pending`).
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterPoll {
    /// Nobody woke it: wait for a wake.
    Wait,
    /// Woken during the poll: the runner re-queues it (`NOTIFIED` stays set).
    Requeue,
    /// Cancelled during the poll: the runner drops the future.
    Cancelled,
}

/// Outcome of [`StateWord::transition_to_notified`] (a wake).
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notify {
    /// The task was idle: the waker must queue a job for it.
    Submit,
    /// Already queued, running (the runner re-queues), or done.
    Nothing,
}

/// The atomic state word of one task cell.
#[derive(Debug)]
pub(crate) struct StateWord(AtomicUsize);

impl StateWord {
    pub(crate) fn new(bits: usize) -> StateWord {
        StateWord(AtomicUsize::new(bits))
    }

    #[inline]
    pub(crate) fn load(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.load() & DONE != 0
    }

    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.load() & CANCELLED != 0
    }

    /// The one CAS helper: applies `f` until it succeeds (returns the previous
    /// state) or `f` declines (returns the current state).
    #[inline]
    fn update(&self, f: impl FnMut(usize) -> Option<usize>) -> Result<usize, usize> {
        self.0.fetch_update(Ordering::AcqRel, Ordering::Acquire, f)
    }

    /// PENDING/NOTIFIED → RUNNING: the start of a run, by a worker's job or by a
    /// waiter claiming the task inline. At most one caller ever wins per
    /// `NOTIFIED` (guarantee 1: at most once).
    #[inline]
    pub(crate) fn transition_to_running(&self) -> Claim {
        match self.update(|s| {
            (s & (NOTIFIED | RUNNING | DONE) == NOTIFIED)
                .then_some((s & !NOTIFIED) | RUNNING | STARTED)
        }) {
            Ok(_) => Claim::Claimed,
            Err(_) => Claim::Skip,
        }
    }

    /// RUNNING → COMPLETE (or RUNNING|CANCELLED → CANCELLED): the end of a run.
    #[inline]
    pub(crate) fn transition_to_complete(&self, panicked: bool) -> Finish {
        let prev = self
            .update(|s| {
                debug_assert!(s & RUNNING != 0, "finish without a claim: {s:#b}");
                let mut next = s & !(RUNNING | NOTIFIED);
                if s & CANCELLED == 0 {
                    next |= COMPLETE;
                    if panicked {
                        next |= PANICKED;
                    }
                }
                Some(next)
            })
            .unwrap_or_else(|s| s);
        if prev & CANCELLED != 0 {
            Finish::Discard
        } else {
            Finish::Completed { prev }
        }
    }

    /// → CANCELLED unless terminal: `cancel()` and a refused submission.
    pub(crate) fn transition_to_cancelled(&self) -> Cancel {
        match self.update(|s| (s & DONE == 0).then_some((s | CANCELLED) & !NOTIFIED)) {
            Ok(prev) if prev & RUNNING != 0 => Cancel::WasRunning { prev },
            Ok(prev) => Cancel::WasIdle { prev },
            Err(_) => Cancel::Refused,
        }
    }

    /// NOTIFIED (queued, not running, not done) → CANCELLED: a job for the cell was
    /// dropped unrun (`shutdown_now`'s list dropped, a refused re-queue). A
    /// tombstone job changes nothing.
    pub(crate) fn transition_to_abandoned(&self) -> Cancel {
        match self.update(|s| {
            (s & (NOTIFIED | RUNNING | DONE) == NOTIFIED).then_some((s | CANCELLED) & !NOTIFIED)
        }) {
            Ok(prev) => Cancel::WasIdle { prev },
            Err(_) => Cancel::Refused,
        }
    }

    /// RUNNING → idle after a `Pending` poll (the future is back in its slot).
    pub(crate) fn transition_to_idle(&self) -> AfterPoll {
        let prev = self.update(|s| Some(s & !RUNNING)).unwrap_or_else(|s| s);
        if prev & CANCELLED != 0 {
            AfterPoll::Cancelled
        } else if prev & NOTIFIED != 0 {
            AfterPoll::Requeue
        } else {
            AfterPoll::Wait
        }
    }

    /// A wake: sets `NOTIFIED` unless queued or done.
    pub(crate) fn transition_to_notified(&self) -> Notify {
        match self.update(|s| (s & (DONE | NOTIFIED) == 0).then_some(s | NOTIFIED)) {
            Ok(prev) if prev & RUNNING == 0 => Notify::Submit,
            _ => Notify::Nothing,
        }
    }

    /// Clears `JOIN_INTEREST` (the handle is dropped); returns the previous state.
    pub(crate) fn drop_join_interest(&self) -> usize {
        self.update(|s| Some(s & !JOIN_INTEREST))
            .unwrap_or_else(|s| s)
    }

    /// Sets `WAITING` (after registering a waiter); returns the previous state.
    pub(crate) fn set_waiting(&self) -> usize {
        self.update(|s| Some(s | WAITING)).unwrap_or_else(|s| s)
    }

    /// Sets `DEPENDENTS` (after pushing on the dependents list); returns the
    /// previous state. One `fetch_or`: it never fails, so no CAS loop.
    pub(crate) fn set_dependents(&self) -> usize {
        self.0.fetch_or(DEPENDENTS, Ordering::AcqRel)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn claim_is_exclusive_and_tombstones_do_nothing() {
        let s = StateWord::new(INITIAL);
        assert_eq!(TaskState::from_bits(s.load()), TaskState::Pending);
        assert_eq!(s.transition_to_running(), Claim::Claimed);
        assert_eq!(s.transition_to_running(), Claim::Skip);
        assert_eq!(s.transition_to_abandoned(), Cancel::Refused);
        assert_eq!(TaskState::from_bits(s.load()), TaskState::Running);
        assert!(
            matches!(s.transition_to_complete(true), Finish::Completed { prev } if prev & JOIN_INTEREST != 0)
        );
        assert_eq!(TaskState::from_bits(s.load()), TaskState::Panicked);
        assert_eq!(s.transition_to_cancelled(), Cancel::Refused);
    }

    #[test]
    fn cancel_while_running_discards_and_first_cancel_wins() {
        let s = StateWord::new(INITIAL);
        assert_eq!(s.transition_to_running(), Claim::Claimed);
        assert!(matches!(
            s.transition_to_cancelled(),
            Cancel::WasRunning { .. }
        ));
        assert_eq!(s.transition_to_cancelled(), Cancel::Refused);
        assert!(s.is_done());
        assert_eq!(s.transition_to_complete(false), Finish::Discard);
        assert_eq!(TaskState::from_bits(s.load()), TaskState::Cancelled);
        assert_eq!(s.load() & RUNNING, 0);
    }

    #[test]
    fn async_idle_notify_requeue() {
        let s = StateWord::new(INITIAL);
        assert_eq!(s.transition_to_running(), Claim::Claimed);
        assert_eq!(
            s.transition_to_notified(),
            Notify::Nothing,
            "runner requeues"
        );
        assert_eq!(s.transition_to_idle(), AfterPoll::Requeue);
        assert_eq!(
            s.transition_to_notified(),
            Notify::Nothing,
            "already queued"
        );
        assert_eq!(s.transition_to_running(), Claim::Claimed);
        assert_eq!(s.transition_to_idle(), AfterPoll::Wait);
        assert_eq!(s.transition_to_notified(), Notify::Submit);
        assert!(matches!(
            s.transition_to_abandoned(),
            Cancel::WasIdle { .. }
        ));
        assert_eq!(s.transition_to_notified(), Notify::Nothing);
    }
}
