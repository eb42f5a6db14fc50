//! A long batch from outside the pool, queued as one injector entry (a *ticket*)
//! and moved onto a worker's FIFO buffer of outside jobs by the worker that
//! takes the ticket ("deque" below means that buffer).
//!
//! Pushing each job of a batch onto the injector costs the submitting thread a
//! compare-and-swap per job (and a fresh injector block every 63 jobs); on a
//! batch of 10,000 that was about a quarter of `submit_all`. A batch of at least
//! [`TICKET_MIN`] jobs is instead parked in a [`Batch`], and one ticket goes to
//! the injector: the submitter's cost no longer grows with the batch. The worker
//! that takes the ticket *claims* the next [`CLAIM_CHUNK`] jobs: it pushes them
//! onto its own FIFO buffer of outside jobs (cheap, no CAS), in submission
//! order, which it and thieves alike take oldest first, puts the ticket back at the injector's tail if jobs are
//! left, and wakes a sleeper. Its peers steal from its buffer or take the ticket
//! and claim the next chunk. Claiming a chunk, not the whole batch, keeps the
//! first job's start close to the ticket's arrival: moving 10,000 jobs onto one
//! deque took 0.2–0.5 ms (the deque's buffer grows to 256 KiB on the way).
//!
//! ```text
//!  submit_batch (outside, in the      worker takes the ticket, claims     runs / is
//!  lifecycle handshake)               a chunk under the batch lock         stolen
//!  ┌──────────────┐  ticket ┌──────────┐   ┌──────────────────────────┐   ┌───────┐
//!  │ Batch (jobs) │────────▶│ injector │──▶│ ≤ CLAIM_CHUNK jobs → deque │──▶│ deque │
//!  └──────────────┘         └──────────┘   └──────────────────────────┘   └───────┘
//!        ▲ listed in             ▲    jobs left: the ticket goes back │
//!        │ `Registry::batches`   └───────────────────────────────────┘
//!        │ until empty
//! ```
//!
//! A batch's jobs start in submission order up to the pool's parallelism (the
//! buffers are FIFO). A batch's remainder queues behind work submitted after
//! the batch once its ticket went back.
//!
//! ## Invariants (why no job is lost or run twice)
//!
//! * A batch's jobs are each in exactly one place: its `jobs` queue (while the
//!   batch is listed in the registry), or the deque of the worker that claimed
//!   them. They move only under the batch's lock, and every mover removes what it
//!   moves, so no job is moved twice. A batch stays listed until it is empty.
//! * The batch is listed (under the registry's lock) inside the submitter's
//!   lifecycle handshake, before the ticket is pushed: `shutdown_now`, which waits
//!   for quiescence before it drains, sees the listing of every accepted batch.
//! * The claim checks the state under the batch's lock and leaves the jobs where
//!   they are once the pool is stopping: `shutdown_now`'s drain takes them from
//!   the list. A claim that began before the stop holds the lock until every job
//!   is on the deque; the drain takes the batch lock *before* it drains the
//!   deques, so it waits for the claim and then finds the jobs on the deque.
//! * The ticket owns nothing: dropping it unrun (a termination drain, a claim
//!   that saw STOP) leaves the jobs listed, for the drain to take. A ticket is
//!   never handed to the user: the drain replaces it by its batch's remaining
//!   jobs (in place, so they come back in queue order). A ticket put back after
//!   the drain finds its batch empty.
//! * Tickets are not jobs for the statistics: the claim is not counted as an
//!   executed job, and the batch's jobs were counted as submitted when it was
//!   accepted.
//!
//! A loom model of the claim racing `shutdown_now` is at the bottom of this
//! file: the protocol restated over loom's primitives (the registry itself uses
//! `std`'s and crossbeam's queues, which the `sync` shim does not cover).

use crate::job::Job;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// The smallest outside batch queued as a ticket; a shorter one is pushed job by
/// job (a ticket costs an allocation and two locks, and starts the batch on one
/// worker).
pub(crate) const TICKET_MIN: usize = 64;

/// The most jobs one claim moves onto a worker's deque.
pub(crate) const CLAIM_CHUNK: usize = 64;

/// The jobs of one outside batch that no worker has claimed yet.
#[derive(Debug)]
pub(crate) struct Batch {
    jobs: Mutex<VecDeque<Job>>,
}

/// What one claim did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Claim {
    /// Jobs moved onto the claimer's deque.
    pub(crate) moved: usize,
    /// Jobs still in the batch after it.
    pub(crate) left: usize,
}

impl Batch {
    pub(crate) fn new(jobs: Vec<Job>) -> Arc<Batch> {
        Arc::new(Batch {
            jobs: Mutex::new(VecDeque::from(jobs)),
        })
    }

    /// Unless `stopping()` (read under the batch lock), moves the next
    /// [`CLAIM_CHUNK`] jobs into `push` in submission order, still under the lock,
    /// so that a drain waiting for the lock finds them wherever `push` put them.
    pub(crate) fn claim(
        &self,
        stopping: impl FnOnce() -> bool,
        mut push: impl FnMut(Job),
    ) -> Claim {
        let mut jobs = crate::sync_lock(&self.jobs);
        if jobs.is_empty() || stopping() {
            return Claim {
                moved: 0,
                left: jobs.len(),
            };
        }
        let moved = jobs.len().min(CLAIM_CHUNK);
        for job in jobs.drain(..moved) {
            push(job);
        }
        Claim {
            moved,
            left: jobs.len(),
        }
    }

    /// Takes every job left, in order (the drains).
    pub(crate) fn take_all(&self) -> VecDeque<Job> {
        std::mem::take(&mut *crate::sync_lock(&self.jobs))
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use crate::lifecycle::{Lifecycle, State};
    use loom::sync::{Arc, Mutex};
    use std::collections::VecDeque;

    /// The pool reduced to the parts the ticket protocol touches: the lifecycle,
    /// the injector (tickets only here), the list of unclaimed batches, one
    /// worker deque.
    struct Pool {
        life: Lifecycle,
        injector: Mutex<VecDeque<usize>>,
        batches: Mutex<Vec<Arc<Mutex<Vec<i32>>>>>,
        deque: Mutex<Vec<i32>>,
    }

    /// An outside batch racing a worker's claim and `shutdown_now`: the drain
    /// hands back every job of an accepted batch exactly once, wherever the claim
    /// was (not begun, holding the batch lock, done), and no claim moves jobs
    /// after the drain; a refused batch is refused whole.
    #[test]
    fn loom_ticket_claim_vs_shutdown_now() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(2);
        b.check(|| {
            let pool = Arc::new(Pool {
                life: Lifecycle::new(),
                injector: Mutex::new(VecDeque::new()),
                batches: Mutex::new(Vec::new()),
                deque: Mutex::new(Vec::new()),
            });
            let submitter = {
                let pool = pool.clone();
                loom::thread::spawn(move || {
                    if pool.life.begin_submit_n(2, State::Running).is_err() {
                        return false;
                    }
                    let batch = Arc::new(Mutex::new(vec![1, 2]));
                    let mut list = pool.batches.lock().unwrap();
                    list.push(batch);
                    let ticket = list.len() - 1;
                    drop(list);
                    pool.injector.lock().unwrap().push_back(ticket);
                    pool.life.end_submit_n(2);
                    true
                })
            };
            // Claims one job at a time (a chunk of one) and puts the ticket back
            // while jobs are left.
            let worker = {
                let pool = pool.clone();
                loom::thread::spawn(move || {
                    for _ in 0..2 {
                        let Some(ticket) = pool.injector.lock().unwrap().pop_front() else {
                            return;
                        };
                        let batch = pool.batches.lock().unwrap()[ticket].clone();
                        let mut jobs = batch.lock().unwrap();
                        if jobs.is_empty() || pool.life.state() >= State::Stop {
                            return;
                        }
                        let job = jobs.remove(0);
                        pool.deque.lock().unwrap().push(job);
                        let left = !jobs.is_empty();
                        drop(jobs);
                        if left {
                            pool.injector.lock().unwrap().push_back(ticket);
                        }
                    }
                })
            };
            // shutdown_now: stop, wait for quiescence, drain the injector (tickets
            // expand in place), then every listed batch, then the deque.
            pool.life.advance(State::Stop);
            while !pool.life.quiescent() {
                loom::thread::yield_now();
            }
            let mut drained = Vec::new();
            let list: Vec<_> = pool.batches.lock().unwrap().clone();
            while let Some(t) = pool.injector.lock().unwrap().pop_front() {
                drained.extend(std::mem::take(&mut *list[t].lock().unwrap()));
            }
            for batch in &list {
                drained.extend(std::mem::take(&mut *batch.lock().unwrap()));
            }
            drained.extend(pool.deque.lock().unwrap().drain(..).rev());
            let accepted = submitter.join().unwrap();
            worker.join().unwrap();
            drained.sort_unstable();
            let want: &[i32] = if accepted { &[1, 2] } else { &[] };
            assert_eq!(
                drained, want,
                "the drain hands back every accepted job once"
            );
            assert!(
                pool.deque.lock().unwrap().is_empty(),
                "a claim after the drain"
            );
            // A ticket put back after the drain points at an empty batch.
            let list = pool.batches.lock().unwrap();
            assert!(list.iter().all(|b| b.lock().unwrap().is_empty()));
        });
    }
}
