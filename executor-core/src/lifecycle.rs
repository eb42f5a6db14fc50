//! The pool's lifecycle word (Java's `ctl`) and the submission/shutdown handshake.
//!
//! ```text
//!            shutdown()            shutdown_now()         last worker exits
//! RUNNING ─────────────▶ SHUTDOWN ─────────────▶ STOP ───────────────────▶ TERMINATED
//!    │                                          ▲
//!    └──────────────── shutdown_now() ──────────┘
//! ```
//!
//! The state only moves forward ([`Lifecycle::advance`] takes the maximum).
//!
//! * RUNNING: submissions are accepted.
//! * SHUTDOWN: submissions are rejected; queued jobs still run; workers exit once
//!   the queues are empty.
//! * STOP: submissions are rejected; `shutdown_now` drained the queues; running jobs
//!   see `is_cancelled()`; workers exit after their current job.
//! * TERMINATED: every worker has exited.
//!
//! ## The submission handshake (why no accepted job is ever lost)
//!
//! The word packs the state (top two bits) with `accepted`, the number of outside
//! submissions that passed the state check. A submission from outside the pool:
//!
//! 1. `begin_submit`: one `fetch_add` on the word. If the state it returns is not
//!    RUNNING (or, for a reschedule, is STOP or later) it subtracts again and rejects.
//! 2. pushes the job to the injector,
//! 3. `end_submit`: increments `finished`.
//!
//! A batch (`Executor::execute_jobs`) is one submission: `begin_submit_n` adds
//! its job count in step 1, it pushes every job in step 2, and `end_submit_n`
//! adds the same count in step 3, so `accepted` counts jobs and the argument
//! below covers every push of the batch.
//!
//! `shutdown_now` advances the state, then waits for [`Lifecycle::quiescent`]:
//! `finished >= accepted`, read in that order. Every `fetch_add` that came before
//! the state change in the word's modification order was accepted and is counted in
//! `accepted`; every one after it is rejected. So once quiescent, every accepted
//! push has landed in a queue and the drain that follows sees it. A rejecting
//! submitter can briefly inflate `accepted`; that only makes the wait longer.
//!
//! Submissions from a worker to its own deque use a cheaper handshake (push, fence,
//! re-check) described in `registry.rs`.

use crate::sync::{AtomicU64, Ordering};
use crossbeam_utils::CachePadded;

/// A lifecycle state, in the order the pool passes through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum State {
    Running = 0,
    Shutdown = 1,
    Stop = 2,
    Terminated = 3,
}

const STATE_SHIFT: u32 = 62;
const COUNT_MASK: u64 = (1 << STATE_SHIFT) - 1;

impl State {
    fn of(word: u64) -> State {
        match word >> STATE_SHIFT {
            0 => State::Running,
            1 => State::Shutdown,
            2 => State::Stop,
            _ => State::Terminated,
        }
    }
}

/// The lifecycle word plus the `finished` counter of the submission handshake.
///
/// `mirror` repeats the state on a cache line of its own: workers read the state
/// on every job, and reading `ctl` itself would pull in the line that every
/// outside submission writes. `advance` updates the mirror right after `ctl`
/// (SeqCst), so a reader that issued a SeqCst fence after its own store (the
/// local-push handshake) and then reads the mirror is still one side of a proper
/// store-buffer pair with the SeqCst store + fence in `shutdown_now`.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    ctl: CachePadded<AtomicU64>,
    finished: CachePadded<AtomicU64>,
    mirror: CachePadded<AtomicU64>,
}

impl Lifecycle {
    pub(crate) fn new() -> Self {
        Lifecycle {
            ctl: CachePadded::new(AtomicU64::new(0)),
            finished: CachePadded::new(AtomicU64::new(0)),
            mirror: CachePadded::new(AtomicU64::new(0)),
        }
    }

    /// The current state (from the mirror). SeqCst: it takes part in the
    /// store-buffer handshakes (local push vs. `shutdown_now`, sleep vs. `shutdown`).
    #[inline]
    pub(crate) fn state(&self) -> State {
        State::of(self.mirror.load(Ordering::SeqCst) << STATE_SHIFT)
    }

    /// Step 1 of the handshake. `limit` is the last state that still accepts:
    /// RUNNING for new work, SHUTDOWN for a reschedule of already-accepted work.
    /// On `Err` nothing needs undoing.
    #[inline]
    pub(crate) fn begin_submit(&self, limit: State) -> Result<(), State> {
        self.begin_submit_n(1, limit)
    }

    /// `begin_submit` for a batch of `jobs` jobs (one submission that counts
    /// `jobs` in the statistics); ended by `end_submit_n` with the same count.
    #[inline]
    pub(crate) fn begin_submit_n(&self, jobs: u64, limit: State) -> Result<(), State> {
        let prev = self.ctl.fetch_add(jobs, Ordering::SeqCst);
        let state = State::of(prev);
        if state <= limit {
            Ok(())
        } else {
            self.ctl.fetch_sub(jobs, Ordering::SeqCst);
            Err(state)
        }
    }

    /// Step 3 of the handshake, after the push. Release: the drain that observes
    /// the new count must also observe the pushed job.
    #[inline]
    pub(crate) fn end_submit(&self) {
        self.end_submit_n(1);
    }

    /// Step 3 for a batch begun with `begin_submit_n(jobs, _)`.
    #[inline]
    pub(crate) fn end_submit_n(&self, jobs: u64) {
        self.finished.fetch_add(jobs, Ordering::Release);
    }

    /// True when no accepted outside submission is between steps 1 and 3.
    pub(crate) fn quiescent(&self) -> bool {
        let accepted = self.ctl.load(Ordering::SeqCst) & COUNT_MASK;
        self.finished.load(Ordering::Acquire) >= accepted
    }

    /// Outside submissions accepted so far (a statistic).
    pub(crate) fn accepted(&self) -> u64 {
        self.finished.load(Ordering::Relaxed)
    }

    /// Moves the state forward to `to` (never backward). Returns true iff this call
    /// changed it.
    pub(crate) fn advance(&self, to: State) -> bool {
        let mut cur = self.ctl.load(Ordering::SeqCst);
        loop {
            if State::of(cur) >= to {
                return false;
            }
            let next = (cur & COUNT_MASK) | ((to as u64) << STATE_SHIFT);
            match self
                .ctl
                .compare_exchange_weak(cur, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => {
                    self.mirror.fetch_max(to as u64, Ordering::SeqCst);
                    return true;
                }
                Err(actual) => cur = actual,
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn states_only_move_forward() {
        let l = Lifecycle::new();
        assert_eq!(l.state(), State::Running);
        assert!(l.advance(State::Stop));
        assert!(!l.advance(State::Shutdown));
        assert_eq!(l.state(), State::Stop);
        assert!(l.advance(State::Terminated));
        assert_eq!(l.state(), State::Terminated);
    }

    #[test]
    fn handshake_counts_accepted_and_rejects_after_shutdown() {
        let l = Lifecycle::new();
        assert!(l.begin_submit(State::Running).is_ok());
        assert!(!l.quiescent());
        l.end_submit();
        assert!(l.quiescent());
        l.advance(State::Shutdown);
        assert_eq!(l.begin_submit(State::Running), Err(State::Shutdown));
        assert!(l.begin_submit(State::Shutdown).is_ok());
        l.end_submit();
        assert!(l.quiescent());
        assert_eq!(l.accepted(), 2);
    }

    #[test]
    fn a_batch_is_one_submission_that_counts_its_jobs() {
        let l = Lifecycle::new();
        assert!(l.begin_submit_n(3, State::Running).is_ok());
        assert!(l.begin_submit(State::Running).is_ok());
        l.end_submit();
        assert!(!l.quiescent(), "the batch is still in flight");
        l.end_submit_n(3);
        assert!(l.quiescent());
        assert_eq!(l.accepted(), 4);
        l.advance(State::Shutdown);
        assert_eq!(l.begin_submit_n(5, State::Running), Err(State::Shutdown));
        assert!(l.quiescent(), "a refused batch leaves nothing in flight");
        assert_eq!(l.accepted(), 4);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::{Arc, Mutex};

    /// Every interleaving of `submit` (on its own thread, pushing onto the
    /// queue inside the handshake; true if accepted) with `shutdown_now`'s
    /// side (advance to STOP, wait for quiescence, drain) satisfies `check`
    /// on (accepted, drained), and nothing is pushed after the drain.
    fn race_with_shutdown_now(
        submit: fn(&Lifecycle, &Mutex<Vec<i32>>) -> bool,
        check: fn(bool, Vec<i32>),
    ) {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(move || {
            let life = Arc::new(Lifecycle::new());
            let queue = Arc::new(Mutex::new(Vec::new()));
            let submitter = {
                let (life, queue) = (life.clone(), queue.clone());
                loom::thread::spawn(move || submit(&life, &queue))
            };
            life.advance(State::Stop);
            while !life.quiescent() {
                loom::thread::yield_now();
            }
            let drained: Vec<i32> = std::mem::take(&mut *queue.lock().unwrap());
            check(submitter.join().unwrap(), drained);
            assert!(queue.lock().unwrap().is_empty(), "a push after the drain");
        });
    }

    /// A submission racing `shutdown_now` is either rejected, or accepted and then
    /// seen by the drain: never lost, never both.
    #[test]
    fn loom_submit_vs_shutdown_now() {
        race_with_shutdown_now(
            |life, queue| {
                if life.begin_submit(State::Running).is_err() {
                    return false;
                }
                queue.lock().unwrap().push(7);
                life.end_submit();
                true
            },
            |accepted, drained| assert_eq!(accepted, drained == vec![7]),
        );
    }

    /// Issue 16 item 6: a re-queue (accepted up to SHUTDOWN) racing the
    /// termination drain (advance to STOP, wait for quiescence, drain: the same
    /// steps as `shutdown_now`'s) is refused, or accepted and then found by the
    /// drain, which runs it: `Ok` never means a job nobody runs.
    #[test]
    fn loom_requeue_in_shutdown_vs_termination_drain() {
        race_with_shutdown_now(
            |life, queue| {
                life.advance(State::Shutdown); // `shutdown()` came first
                if life.begin_submit(State::Shutdown).is_err() {
                    return false;
                }
                queue.lock().unwrap().push(9);
                life.end_submit();
                true
            },
            |accepted, drained| assert_eq!(accepted, drained == vec![9]),
        );
    }

    /// A batch racing `shutdown_now` is refused whole, or accepted whole and
    /// then seen whole by the drain: the wait for quiescence covers every push
    /// of the batch, not just the first.
    #[test]
    fn loom_batch_vs_shutdown_now() {
        race_with_shutdown_now(
            |life, queue| {
                if life.begin_submit_n(2, State::Running).is_err() {
                    return false;
                }
                queue.lock().unwrap().push(1);
                queue.lock().unwrap().push(2);
                life.end_submit_n(2);
                true
            },
            |accepted, drained| {
                let want: &[i32] = if accepted { &[1, 2] } else { &[] };
                assert_eq!(drained, want);
            },
        );
    }
}
