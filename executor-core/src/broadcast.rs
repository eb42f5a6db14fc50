//! [`ThreadPool::broadcast`](crate::ThreadPool::broadcast): run a closure once on
//! every worker and collect the results.
//!
//! Each worker has its own broadcast queue (an `Injector` only that worker takes
//! from, looked at before anything else). A broadcast is admitted through the
//! lifecycle handshake (accepted only while RUNNING), pushes one job per worker,
//! then wakes every sleeper. Only its own broadcast queue is work for a worker
//! (`Registry::work_visible_to`): once it ran its call, an idle worker sleeps
//! (or, shutting down, exits) while the broadcast waits for a busy worker,
//! instead of spinning on a job only that worker may take. The jobs point into the caller's frame, which waits
//! (on one of the pool's workers, running its own share first) until all have run. A job a stopping pool cannot run any
//! more is abandoned back to the caller, which runs it on its own thread, so the
//! call always returns one result per worker.
#![allow(unsafe_code)]

use crate::error::Rejected;
use crate::job::{Job, JobKind, JobRef, JobVTable, Word};
use crate::join::AbortOnUnwind;
use crate::lifecycle::State;
use crate::registry::Registry;
use crate::wait::Waiter;
use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

/// Where a broadcast call runs: passed to the closure.
#[derive(Clone, Copy, Debug)]
pub struct BroadcastContext {
    index: usize,
    num_threads: usize,
}

impl BroadcastContext {
    /// The index of the worker this call is for (`0..num_threads`).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The number of workers, i.e. of calls in this broadcast.
    pub fn num_threads(&self) -> usize {
        self.num_threads
    }
}

struct Shared<'a, OP> {
    op: &'a OP,
    num_threads: usize,
    pending: AtomicUsize,
    owner: Waiter,
    orphans: Mutex<Vec<JobRef>>,
}

struct BroadcastJob<'a, OP, R> {
    shared: *const Shared<'a, OP>,
    index: usize,
    result: UnsafeCell<Option<thread::Result<R>>>,
}

impl<'a, OP, R> BroadcastJob<'a, OP, R>
where
    OP: Fn(BroadcastContext) -> R + Sync,
    R: Send,
{
    const VTABLE: &'static JobVTable = &JobVTable {
        execute: Self::execute,
        abandon: Self::abandon,
        kind: JobKind::Internal,
    };

    unsafe fn execute(word: Word) {
        // SAFETY: an internal job's word is the pointer `Job::internal` stored.
        let ptr = unsafe { word.assume_init() };
        // SAFETY: the JobRef contract: a live job of the waiting broadcast, run once.
        let job = unsafe { &*(ptr as *const Self) };
        // SAFETY: the broadcast frame outlives every job (it waits for `pending`).
        let shared = unsafe { &*job.shared };
        let ctx = BroadcastContext {
            index: job.index,
            num_threads: shared.num_threads,
        };
        let result = catch_unwind(AssertUnwindSafe(|| (shared.op)(ctx)));
        if result.is_err() {
            // Re-raised on the caller; counted here, once (see `Stats`).
            crate::stats::note_current(ptr, crate::stats::RUN_PANICKED);
        }
        // SAFETY: this job's slot is written only here, read after `pending` is 0.
        unsafe { *job.result.get() = Some(result) };
        let owner = shared.owner.clone();
        // After this decrement the frame may be gone: only `owner` is used.
        if shared.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            owner.wake();
        }
    }

    unsafe fn abandon(word: Word) {
        // SAFETY: an internal job's word is the pointer `Job::internal` stored.
        let ptr = unsafe { word.assume_init() };
        // SAFETY: a live job (not executed), so the frame is alive too.
        let shared = unsafe { &*(*(ptr as *const Self)).shared };
        // SAFETY: the same job, handed to the owner, which executes it once.
        let job = unsafe { JobRef::new(ptr, Self::VTABLE) };
        // Once pushed, the owner may run it and return: wake through a copy.
        let owner = shared.owner.clone();
        crate::sync_lock(&shared.orphans).push(job);
        owner.wake();
    }
}

pub(crate) fn broadcast<OP, R>(registry: &Registry, op: OP) -> Result<Vec<R>, Rejected<OP>>
where
    OP: Fn(BroadcastContext) -> R + Sync,
    R: Send,
{
    let n = registry.num_threads();
    // One submission of `n` tasks (one per worker, each counted in `Stats`).
    if let Err(state) = registry.lifecycle.begin_submit_n(n as u64, State::Running) {
        return Err(registry.reject(op, state));
    }
    let shared = Shared {
        op: &op,
        num_threads: n,
        pending: AtomicUsize::new(n),
        owner: Waiter::current(),
        orphans: Mutex::new(Vec::new()),
    };
    let jobs: Vec<BroadcastJob<'_, OP, R>> = (0..n)
        .map(|index| BroadcastJob {
            shared: &shared,
            index,
            result: UnsafeCell::new(None),
        })
        .collect();
    let guard = AbortOnUnwind;
    for (index, job) in jobs.iter().enumerate() {
        // SAFETY: `jobs` and `shared` are not touched mutably, moved or dropped
        // until `pending` is zero (below), so every queued reference stays valid
        // until its job ran or was abandoned and then run here.
        let job_ref = unsafe {
            JobRef::new(
                job as *const BroadcastJob<'_, OP, R> as *const (),
                BroadcastJob::<OP, R>::VTABLE,
            )
        };
        registry.broadcasts[index].push(Job::internal(job_ref));
    }
    registry.lifecycle.end_submit_n(n as u64);
    registry.sleep.notify_all();
    loop {
        let orphans = std::mem::take(&mut *crate::sync_lock(&shared.orphans));
        for job in orphans {
            Job::internal(job).run();
        }
        if shared.pending.load(Ordering::Acquire) == 0 {
            break;
        }
        // On one of this pool's workers, its own share is owed to this wait
        // (a wait runs no other work, see `crate::wait`).
        if crate::worker::WorkerThread::run_own_broadcast(registry) {
            continue;
        }
        let _ = crate::integration::wait_until(
            || {
                shared.pending.load(Ordering::Acquire) == 0
                    || !crate::sync_lock(&shared.orphans).is_empty()
            },
            None,
        );
    }
    std::mem::forget(guard);
    let mut results = Vec::with_capacity(n);
    for job in jobs {
        match job.result.into_inner().expect("every job ran") {
            Ok(r) => results.push(r),
            Err(panic) => resume_unwind(panic),
        }
    }
    Ok(results)
}
