//! Fork-join: [`join`] runs two closures, potentially in parallel, and `install`
//! runs a closure on a pool and waits for it.
//!
//! `join(a, b)` on a worker: `b` becomes a job *on the caller's stack* (no heap
//! allocation), pushed onto the worker's own deque; the caller runs `a`, then
//! pops jobs off its deque until it finds `b` (nobody stole it: run it inline), or
//! finds the deque empty (a thief has `b`: help with other work, sleeping when
//! there is none, until `b`'s latch is set). Jobs above `b` on the deque were
//! pushed by `a` and are run on the way.
//!
//! The fast path (nobody steals `b`) is rayon's: push, run `a`, pop. Its floor
//! is the SeqCst fence inside `crossbeam_deque::Worker::pop` (Chase–Lev: a
//! thief and the owner must not both take the last job): 37–46% of the time of
//! a whole join on one worker, in six runs of `cargo run --release -p benches
//! --bin join_cost`. It stays: dropping it needs a private part of the deque
//! that thieves cannot reach (split deques, steal requests), and then `b`,
//! pushed before a long `a`, could not be stolen until this worker next touched
//! its deque, which would break the promise that `b` runs in parallel with `a`.
//!
//! Stack safety: `b`'s job points into this frame, so the frame must not be left
//! before the job ran, was taken back, or was given back (abandoned by a stopping
//! pool; then `b` runs inline). Panics in `a` and `b` are caught and re-raised only
//! after `b` is finished; any other unwinding while the job is out aborts the
//! process (`AbortOnUnwind`), because returning would leave a dangling job.
#![allow(unsafe_code)]

use crate::job::{Job, JobKind, JobRef, JobVTable, Word};
use crate::latch::{Latch, Owner, PENDING, SET};
use crate::lifecycle::State;
use crate::worker::WorkerThread;
use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::thread;

/// Aborts the process if dropped during unwinding (see the module docs).
pub(crate) struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        // Only reached by unwinding: the happy path forgets the guard.
        eprintln!(
            "executor-core: unwinding out of a fork-join frame whose job is still queued; aborting"
        );
        std::process::abort();
    }
}

/// A closure and its result slot, living on its owner's stack.
pub(crate) struct StackJob<F, R> {
    func: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<thread::Result<R>>>,
    /// Counted in the statistics when a worker runs it: an `install` is a
    /// task; a `join`'s second half is not (see `Stats`).
    counted: bool,
    pub(crate) latch: Latch,
}

impl<F, R> StackJob<F, R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    const VTABLE: &'static JobVTable = &JobVTable {
        execute: Self::execute,
        abandon: Self::abandon,
        kind: JobKind::Internal,
    };

    pub(crate) fn new(func: F, owner: Owner) -> Self {
        StackJob {
            func: UnsafeCell::new(Some(func)),
            result: UnsafeCell::new(None),
            counted: !matches!(owner, Owner::SamePool { .. }),
            latch: Latch::new(owner),
        }
    }

    /// # Safety
    ///
    /// `self` must not move or be dropped until the returned job has been run,
    /// abandoned, or taken back (found by `Job::is_internal_ptr` and forgotten).
    pub(crate) unsafe fn as_job_ref(&self) -> JobRef {
        // SAFETY: forwarded to the caller; F and R are Send, so running or
        // abandoning on another thread is sound.
        unsafe { JobRef::new(self as *const Self as *const (), Self::VTABLE) }
    }

    unsafe fn execute(word: Word) {
        // SAFETY: an internal job's word is the pointer `Job::internal` stored.
        let ptr = unsafe { word.assume_init() };
        // SAFETY: the JobRef contract: `ptr` is a live StackJob<F, R>, and this is
        // the only call touching its cells (the owner reads them only after the
        // latch left PENDING, with Acquire).
        let this = unsafe { &*(ptr as *const Self) };
        // SAFETY: as above, exclusive access to the cells until the latch is set.
        let func = unsafe { (*this.func.get()).take() }.expect("a stack job runs once");
        let result = catch_unwind(AssertUnwindSafe(func));
        if !this.counted {
            crate::stats::note_current(ptr, crate::stats::RUN_NOT_COUNTED);
        }
        // SAFETY: as above.
        unsafe { *this.result.get() = Some(result) };
        // SAFETY: `this.latch` is valid now; not touched after the store. The
        // executing thread is a worker of the owner's pool (or holds its handle).
        unsafe { Latch::set(&this.latch, SET) };
    }

    unsafe fn abandon(word: Word) {
        // SAFETY: an internal job's word is the pointer `Job::internal` stored.
        let ptr = unsafe { word.assume_init() };
        // SAFETY: the JobRef contract: `ptr` is a live StackJob<F, R>.
        let this = unsafe { &*(ptr as *const Self) };
        // SAFETY: as in `execute`.
        unsafe { Latch::set(&this.latch, crate::latch::ABANDONED) };
    }

    /// Like [`into_result`](Self::into_result), but a closure run here is called
    /// directly (its panic propagates) and a stored panic is re-raised.
    #[inline]
    pub(crate) fn into_result_inline(self) -> R {
        match self.result.into_inner() {
            Some(Ok(r)) => r,
            Some(Err(panic)) => resume_unwind(panic),
            None => (self.func.into_inner().expect("not run, so still here"))(),
        }
    }

    /// The result, once the job ran, or running the closure here if it did not
    /// (taken back, abandoned, or rejected).
    pub(crate) fn into_result(self) -> thread::Result<R> {
        match self.result.into_inner() {
            Some(result) => result,
            None => {
                let func = self.func.into_inner().expect("not run, so still here");
                catch_unwind(AssertUnwindSafe(func))
            }
        }
    }
}

/// `join` on a worker of the pool that runs it (see the module docs).
pub(crate) fn join_on_worker<A, B, RA, RB>(worker: &WorkerThread, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let job_b = StackJob::new(b, Owner::same_pool(worker));
    // SAFETY: job_b stays in this frame, and the frame is not left (returning or
    // unwinding; see the guard) before the job ran, was taken back or abandoned.
    let job_ref = unsafe { job_b.as_job_ref() };
    let ptr = job_ref.ptr();
    let guard = AbortOnUnwind;
    let mut taken_back = false;
    worker.push_fork(Job::internal(job_ref));
    let result_a = catch_unwind(AssertUnwindSafe(a));
    while !taken_back && job_b.latch.probe() == PENDING {
        match worker.pop_local() {
            Some(job) => {
                if job.is_internal_ptr(ptr) {
                    // Taken back: the job owns nothing, so forgetting it is the
                    // cheapest way to neither run nor abandon it.
                    std::mem::forget(job);
                    taken_back = true;
                } else {
                    worker.run_job(job);
                }
            }
            None => {
                worker.help_until(&|| job_b.latch.probe() != PENDING, None);
            }
        }
    }
    std::mem::forget(guard);
    match result_a {
        // The common case: `a` returned, `b` ran elsewhere or is run right here,
        // called directly (no `catch_unwind` in the way of inlining); a panic of
        // an inline `b` simply propagates, `a` being finished.
        Ok(ra) => (ra, job_b.into_result_inline()),
        // `a` panicked: finish `b` (catching its panic), then re-raise `a`'s.
        Err(panic) => {
            drop(job_b.into_result());
            resume_unwind(panic)
        }
    }
}

/// `join` on a caller that is not a worker of the pool asked for, because the
/// pool no longer accepts work: `a`, then `b`, on this thread; a panic is
/// re-raised after both ran (`a`'s if both panicked), as on a worker.
pub(crate) fn join_on_caller<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
{
    let ra = catch_unwind(AssertUnwindSafe(a));
    let rb = catch_unwind(AssertUnwindSafe(b));
    match (ra, rb) {
        (Ok(ra), Ok(rb)) => (ra, rb),
        (Err(panic), rb) => {
            // Dropped before unwinding: a panicking drop must not abort.
            crate::registry::quietly(move || drop(rb));
            resume_unwind(panic)
        }
        (Ok(ra), Err(panic)) => {
            crate::registry::quietly(move || drop(ra));
            resume_unwind(panic)
        }
    }
}

/// Runs `op` on a worker of `registry`'s pool from a thread that is not one, and
/// waits for it (on another pool's worker: blocked, compensated by a spare of
/// that pool, see `crate::wait`).
/// Runs `op` on the calling thread if the pool no longer accepts work (from
/// SHUTDOWN on, so that the answer does not depend on whether the workers have
/// exited yet), or if a racing `shutdown_now` hands the job back.
pub(crate) fn install_from_outside<OP, R>(registry: &crate::registry::Registry, op: OP) -> R
where
    OP: FnOnce() -> R + Send,
    R: Send,
{
    let job = StackJob::new(op, Owner::Waiter(crate::integration::Waiter::current()));
    // SAFETY: as in join_on_worker: `job` outlives its queued reference.
    let job_ref = unsafe { job.as_job_ref() };
    let ptr = job_ref.ptr();
    let guard = AbortOnUnwind;
    match registry.submit(Job::internal(job_ref), State::Running) {
        Ok(()) => {
            let _ = crate::integration::wait_until(|| job.latch.probe() != PENDING, None);
        }
        Err(rejected) => {
            // Take it back: the job owns nothing, so forgetting it neither runs
            // nor abandons it; `op` then runs here below.
            let job = rejected.into_inner();
            debug_assert!(job.is_internal_ptr(ptr));
            std::mem::forget(job);
        }
    }
    std::mem::forget(guard);
    match job.into_result() {
        Ok(r) => r,
        Err(panic) => resume_unwind(panic),
    }
}

/// Runs `a` and `b`, potentially in parallel, and returns both results: rayon's
/// `join`. On a pool worker it forks onto that pool (no allocation: `b` waits on
/// the caller's stack, and is taken back and run inline if no idle worker stole
/// it); elsewhere it runs on the [global pool](crate::ThreadPool::global).
///
/// # Panics
///
/// If `a` or `b` panics, the panic is re-raised after both have finished (`a`'s,
/// if both panic).
///
/// # Examples
///
/// ```
/// fn fib(n: u64) -> u64 {
///     if n < 20 {
///         return (1..=n).fold((0, 1), |(a, b), _| (b, a + b)).0;
///     }
///     let (x, y) = executor_core::join(|| fib(n - 1), || fib(n - 2));
///     x + y
/// }
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// assert_eq!(pool.install(|| fib(30)), 832_040);
/// ```
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let mut ab = Some((a, b));
    let on_worker = WorkerThread::with_current(|w| {
        w.map(|w| {
            let (a, b) = ab.take().expect("taken once");
            join_on_worker(w, a, b)
        })
    });
    match on_worker {
        Some(r) => r,
        None => {
            let (a, b) = ab.take().expect("not taken");
            crate::ThreadPool::global().install(move || join(a, b))
        }
    }
}
