//! Pool statistics: per-worker counters, written only by their worker (a plain
//! load + store, no atomic read-modify-write on the hot path) and summed when read.
//!
//! ## What a job run counts
//!
//! A worker counts each job it runs (`run_job`): as completed, or completed and
//! panicked when the job unwound. Work that catches its own panic (a typed
//! task storing it for its handle, a scoped task the scope re-raises) or finds
//! nothing to do (a task cancelled before it started, an async task's poll that
//! returned `Pending`) tells the worker so: it notes a code in the worker's
//! [`RunReport`] slot, keyed by the job's data pointer, before its run returns.
//! The key makes a report count only for the job it belongs to: a task run
//! inline by a waiter *inside* another job (a `get` on a task that had not
//! started) reports under its own key, which the enclosing job's read ignores;
//! that task is counted when its own job comes up and finds it done. Upper
//! layers report through [`report_run`]; this crate's fork-join jobs through
//! `note_current`.
//!
//! ```text
//! run_job(job): saved = slot.replace((key(job), DEFAULT))   // nested runs nest
//!               job.run()  ── may call report_run(task) → slot = (key, code) if key matches
//!               code = slot.replace(saved).1 → count: DEFAULT → completed,
//!                      PANICKED → completed + panicked, NOT_COUNTED → nothing
//! ```

use crate::job::Runnable;
use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A snapshot of a pool's counters. Taken without stopping the pool, so the fields
/// are each exact at some instant but not necessarily the same instant. A worker
/// counts a task once its job returns, which can be just after the task's result
/// reached its receiver: read right after a result arrived, `completed` may not
/// include it yet. After termination (`close`, `await_termination`) the counts
/// are final.
///
/// A *task* here is one unit of work given to the pool: a job of `execute`,
/// `execute_job` (or one job of `execute_jobs`), a typed task of
/// `executor-futures` (`submit`, or an async task of `spawn`, however often it
/// is woken and polled), a scoped task (`Scope::spawn`, `Scope::submit`), one
/// worker's call of a `broadcast`, and the call of an `install`, `join` or
/// `scope` made from outside the pool. A `join`'s second half is not a task (it
/// is queued for thieves, uncounted, on the fork-join hot path).
///
/// # Examples
///
/// ```
/// use executor_core::ThreadPool;
/// let pool = ThreadPool::new(2).unwrap();
/// for _ in 0..10 {
///     pool.execute(|| {}).unwrap();
/// }
/// pool.execute(|| panic!("counted, and reported to the panic handler")).unwrap();
/// pool.close();
/// let s = pool.stats();
/// assert_eq!((s.submitted, s.completed, s.panicked), (11, 11, 1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Worker threads the pool was built with.
    pub threads: usize,
    /// Workers not idle (running a job, or about to), approximate.
    pub active: usize,
    /// Jobs waiting in the queues, approximate.
    pub queued: usize,
    /// Tasks accepted, from outside and from workers. The re-queue of a woken
    /// async task ([`Executor::requeue_job`](crate::integration::Executor::requeue_job))
    /// continues a task already counted: it is not counted again.
    pub submitted: u64,
    /// Tasks that ran to their end on the pool's workers, by returning or by
    /// panicking (an async task once, when its future finished). Not counted: a
    /// task cancelled (or handed back by `shutdown_now`) before it started, a
    /// poll of an async task that returned `Pending`. A typed task that a waiter
    /// ran on its own thread because it had not started (`get` on a pending
    /// task) is counted when its job reaches a worker and finds it run.
    pub completed: u64,
    /// Tasks that panicked (a subset of `completed`), of every kind: `execute`
    /// jobs, typed and async tasks (whose panic their handle receives), scoped
    /// tasks (whose panic their scope re-raises), broadcast calls. A panic that
    /// `install`, `join` or `scope` re-raise on their caller is counted where it
    /// happened (a scoped task, a broadcast call), not again for the call, and
    /// the caller's own closure of an `install`/`join` is the caller's code,
    /// not counted. Not counted: panics of the thread and termination hooks
    /// (they go to the panic handler), and the panic of a task that a waiter
    /// claimed and was still running on its own thread when the task's job
    /// reached a worker (that job counts the task as completed: it cannot wait
    /// to learn how the run ends).
    ///
    /// Which panics reach the [panic handler](crate::Builder::panic_handler):
    /// those nobody else receives. An `execute` job's, a typed or async task's
    /// whose handle was dropped (or that was cancelled while it ran), a hook's.
    /// A panic delivered to a live handle (or a completion hook, or re-raised by
    /// a scope, `join` or `broadcast`) is not passed to the handler as well: its
    /// receiver gets it as a value and decides (Java's `Future` and tokio's
    /// `JoinHandle` do the same); reporting it twice would log as an error a
    /// failure the program handles.
    pub panicked: u64,
    /// Submissions refused because the pool was shut down.
    pub rejected: u64,
    /// Successful steals from another worker's deque.
    pub steals: u64,
    /// Spare workers running for blocked ones (see
    /// [`Builder::max_spares`](crate::Builder::max_spares)).
    pub spares: usize,
    /// Workers blocked in a wait or in [`block_in_place`](crate::block_in_place).
    pub blocked: usize,
    /// Extra workers beyond the core size (see
    /// [`Builder::max_threads`](crate::Builder::max_threads)).
    pub extras: usize,
}

/// What one run of a [`Runnable`]'s job amounted to, for [`report_run`].
#[non_exhaustive]
pub enum RunOutcome {
    /// The task ran to its end (what a run that reports nothing counts as).
    Completed,
    /// The task ran and panicked, and caught its own panic. `unobserved`:
    /// the payload when nobody will receive it (no handle left); the pool then
    /// passes it to its panic handler. `None`: it was delivered (to a handle).
    Panicked {
        /// The payload nobody else will receive, for the panic handler.
        unobserved: Option<Box<dyn Any + Send>>,
    },
    /// The run did not finish a task: it found the task cancelled (or already
    /// run elsewhere and counted), or it polled a future that is not ready.
    NotCompleted,
}

impl fmt::Debug for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunOutcome::Completed => f.write_str("Completed"),
            RunOutcome::Panicked { unobserved } => f
                .debug_struct("Panicked")
                .field("unobserved", &unobserved.is_some())
                .finish(),
            RunOutcome::NotCompleted => f.write_str("NotCompleted"),
        }
    }
}

/// Tells the pool running `task`'s job what this run amounted to, for
/// [`Stats::completed`] and [`Stats::panicked`] and the panic handler. Called
/// by a [`Runnable`] from inside its [`run`](Runnable::run) (at any point of it:
/// the last report wins), when the run did not simply complete the task: it
/// caught the task's panic, or did not finish the task. Reports for any other
/// job are ignored (a task run inline inside another job counts nothing for
/// that job), except that an unobserved panic payload always goes to the panic
/// handler of the pool whose worker calls this (off the pool: a `tracing` error
/// event), so it is never lost.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use executor_core::ThreadPool;
/// use executor_core::integration::{report_run, Executor, Job, RunOutcome, Runnable};
///
/// struct Maybe(bool);
/// impl Runnable for Maybe {
///     fn run(self: Arc<Self>) {
///         if !self.0 {
///             report_run(&self, RunOutcome::NotCompleted); // e.g. cancelled
///         }
///     }
/// }
///
/// let pool = ThreadPool::new(1).unwrap();
/// pool.execute_job(Job::from_runnable(Arc::new(Maybe(true)))).unwrap();
/// pool.execute_job(Job::from_runnable(Arc::new(Maybe(false)))).unwrap();
/// pool.close();
/// assert_eq!((pool.stats().submitted, pool.stats().completed), (2, 1));
/// ```
pub fn report_run<R: Runnable>(task: &Arc<R>, outcome: RunOutcome) {
    report_run_raw(Arc::as_ptr(task) as *const (), outcome);
}

/// [`report_run`] for a task queued with [`Job::from_raw_runnable`](crate::integration::Job::from_raw_runnable):
/// `key` is the pointer the job was made with.
///
/// # Examples
///
/// ```
/// use executor_core::integration::{report_run_raw, RunOutcome};
/// // Off the pool, or for a job that is not running here, nothing is noted.
/// report_run_raw(std::ptr::null(), RunOutcome::NotCompleted);
/// ```
pub fn report_run_raw(key: *const (), outcome: RunOutcome) {
    let code = match outcome {
        RunOutcome::Completed => RUN_DEFAULT,
        RunOutcome::NotCompleted => RUN_NOT_COUNTED,
        RunOutcome::Panicked { unobserved } => {
            if let Some(payload) = unobserved {
                crate::worker::WorkerThread::with_current(|w| match w {
                    Some(w) => {
                        w.registry()
                            .handle_panic(payload, Some(w.index()), crate::PanicOrigin::Job)
                    }
                    None => {
                        tracing::error!(
                            panic.message = crate::integration::payload_message(&*payload)
                                .unwrap_or("<non-string payload>"),
                            "a task nobody waits for panicked off the pool"
                        );
                        crate::registry::quietly(move || drop(payload));
                    }
                });
            }
            RUN_PANICKED
        }
    };
    note_current(key, code);
}

/// A run that reported nothing: counted as completed.
pub(crate) const RUN_DEFAULT: u8 = 0;
/// Completed by panicking (the panic was caught by the work itself).
pub(crate) const RUN_PANICKED: u8 = 1;
/// Not a completed task (not run, not finished, or not a task at all).
pub(crate) const RUN_NOT_COUNTED: u8 = 2;

/// Notes `code` for the job with data pointer `key`, if the calling thread is a
/// worker running that job (module docs).
pub(crate) fn note_current(key: *const (), code: u8) {
    crate::worker::WorkerThread::with_current(|w| {
        if let Some(w) = w {
            w.run_report().note(key, code);
        }
    });
}

/// A worker's report slot: the key of the job it runs and the code noted for it
/// (module docs). Only its worker's thread touches it.
#[derive(Debug)]
pub(crate) struct RunReport(Cell<(*const (), u8)>);

impl RunReport {
    pub(crate) fn new() -> Self {
        RunReport(Cell::new((std::ptr::null(), RUN_DEFAULT)))
    }

    /// Starts a run of the job keyed `key`; returns the outer run's state.
    #[inline]
    pub(crate) fn begin(&self, key: *const ()) -> (*const (), u8) {
        self.0.replace((key, RUN_DEFAULT))
    }

    /// Ends the run begun by the `begin` that returned `saved`: its code.
    #[inline]
    pub(crate) fn end(&self, saved: (*const (), u8)) -> u8 {
        self.0.replace(saved).1
    }

    fn note(&self, key: *const (), code: u8) {
        let (current, _) = self.0.get();
        if !key.is_null() && std::ptr::eq(current, key) {
            self.0.set((key, code));
        }
    }
}

/// One worker's counters. Only the owning worker writes them.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    executed: AtomicU64,
    panicked: AtomicU64,
    submitted: AtomicU64,
    requeued: AtomicU64,
    steals: AtomicU64,
}

#[inline]
fn bump(c: &AtomicU64) {
    // Single writer: a load and a store are enough, and cheaper than fetch_add.
    c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl WorkerCounters {
    #[inline]
    pub(crate) fn bump_executed(&self) {
        bump(&self.executed)
    }
    #[inline]
    pub(crate) fn bump_panicked(&self) {
        bump(&self.panicked)
    }
    #[inline]
    pub(crate) fn bump_submitted(&self) {
        bump(&self.submitted)
    }
    #[inline]
    pub(crate) fn bump_requeued(&self) {
        bump(&self.requeued)
    }
    #[inline]
    pub(crate) fn bump_steals(&self) {
        bump(&self.steals)
    }

    /// Jobs this worker finished (the elastic monitor's progress check).
    pub(crate) fn completed(&self) -> u64 {
        self.executed.load(Ordering::Relaxed)
    }

    /// Counts a job run that returned, by the code it reported (module docs).
    #[inline]
    pub(crate) fn count_run(&self, code: u8) {
        match code {
            RUN_DEFAULT => self.bump_executed(),
            RUN_PANICKED => {
                self.bump_executed();
                self.bump_panicked();
            }
            _ => {}
        }
    }

    /// Adds this worker's counts; `requeued` is subtracted from `submitted`
    /// by the caller (it may exceed this worker's own submissions).
    pub(crate) fn add_to(&self, s: &mut Stats, requeued: &mut u64) {
        s.completed += self.executed.load(Ordering::Relaxed);
        s.panicked += self.panicked.load(Ordering::Relaxed);
        s.submitted += self.submitted.load(Ordering::Relaxed);
        *requeued += self.requeued.load(Ordering::Relaxed);
        s.steals += self.steals.load(Ordering::Relaxed);
    }
}
