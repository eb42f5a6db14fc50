//! Scoped fork-join: tasks that borrow from the caller's stack.
//!
//! [`Scope::spawn`] boxes the closure (lifetime `'scope`) and queues it as an
//! internal job; the scope counts it in `pending`. The scope's body runs on a pool
//! worker; when it returns (or panics), that worker helps until `pending` is zero,
//! then the first panic (of the body or of any task) is re-raised.
//!
//! A scope of a pool that no longer accepts work (`ThreadPool::scope` after a
//! shutdown, or whose `install` was handed back by a racing `shutdown_now`) runs
//! on the calling thread instead, owned by no worker: its spawns are never
//! queued, they go straight to `orphans`, and the caller runs them (when the
//! body returns, or earlier through a [`ScopedHandle::get`]). No other pool's
//! worker is involved, even when the caller is one.
//!
//! Soundness: the borrowed data outlives every task because the scope function
//! does not return, by any path, before `pending` reaches zero: panics are caught;
//! the user only ever gets `&Scope`, so nothing the scope waits for can be leaked
//! with `mem::forget`; a task the pool cannot run (it is stopping) is *abandoned*:
//! handed back to the scope's `orphans` list, and the waiting worker runs it
//! itself. A task is never handed to the user by `shutdown_now`.
#![allow(unsafe_code)]

use crate::job::{Job, JobKind, JobRef, JobVTable, Word};
use crate::join::AbortOnUnwind;
use crate::lifecycle::State;
use crate::registry::Registry;
use crate::scoped_task::{Cell as ScopedCell, ScopedHandle};
use crate::worker::WorkerThread;
use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A fork-join scope: tasks spawned in it may borrow anything that outlives the
/// scope, and the scope returns only after all of them have finished. Created by
/// [`ThreadPool::scope`](crate::ThreadPool::scope) or [`scope`].
///
/// # Examples
///
/// ```
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let mut totals = [0u64; 4];
/// let data: Vec<u64> = (1..=1000).collect();
/// pool.scope(|s| {
///     for (chunk, total) in data.chunks(250).zip(totals.iter_mut()) {
///         s.spawn(move |_| *total = chunk.iter().sum());
///     }
/// });
/// assert_eq!(totals.iter().sum::<u64>(), 500_500);
/// ```
///
/// Borrowed data cannot be used after the scope, or freed before it ends:
///
/// ```compile_fail
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// pool.scope(|s| {
///     let local = vec![1, 2, 3];
///     s.spawn(|_| println!("{:?}", local)); // `local` does not live long enough
/// });
/// ```
pub struct Scope<'scope> {
    registry: Arc<Registry>,
    /// The worker waiting for the scope; `None`: a scope on the calling thread,
    /// whose spawns are never queued (module docs).
    owner_index: Option<usize>,
    pending: AtomicUsize,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    orphans: Mutex<Vec<JobRef>>,
    /// Invariant in `'scope`, like `std::thread::Scope`.
    _marker: PhantomData<&'scope mut &'scope ()>,
}

impl fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("pending", &self.pending.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A spawned task: the closure and the scope it belongs to, on the heap. The
/// closure returns the code its run counts as in the statistics (`crate::stats`).
struct HeapJob<'scope, F> {
    func: F,
    scope: *const Scope<'scope>,
}

impl<'scope, F> HeapJob<'scope, F>
where
    F: FnOnce(&Scope<'scope>) -> u8 + Send + 'scope,
{
    const VTABLE: &'static JobVTable = &JobVTable {
        execute: Self::execute,
        abandon: Self::abandon,
        kind: JobKind::Internal,
    };

    unsafe fn execute(word: Word) {
        // SAFETY: an internal job's word is the pointer `Job::internal` stored.
        let ptr = unsafe { word.assume_init() };
        // SAFETY: `ptr` came from Box::into_raw in `Scope::spawn`, and the JobRef
        // contract makes this the one call that consumes it.
        let job = unsafe { Box::from_raw(ptr as *mut Self) };
        let HeapJob { func, scope } = *job;
        // SAFETY: the scope waits for `pending` to reach zero, which this job's
        // `job_done` below is the last use of the pointer before.
        let scope_ref = unsafe { &*scope };
        let code = match catch_unwind(AssertUnwindSafe(|| func(scope_ref))) {
            Ok(code) => code,
            Err(panic) => {
                scope_ref.record_panic(panic);
                crate::stats::RUN_PANICKED
            }
        };
        if code != crate::stats::RUN_DEFAULT {
            crate::stats::note_current(ptr, code);
        }
        // SAFETY: still counted in `pending`, so the scope is alive.
        unsafe { Scope::job_done(scope) };
    }

    unsafe fn abandon(word: Word) {
        // SAFETY: an internal job's word is the pointer `Job::internal` stored.
        let ptr = unsafe { word.assume_init() };
        // SAFETY: the job is alive (not executed), so its scope is too.
        let scope = unsafe { &*(*(ptr as *const Self)).scope };
        // SAFETY: the same pointer and vtable, handed to the owner, which executes
        // it exactly once (`run_orphans`).
        let job = unsafe { JobRef::new(ptr, Self::VTABLE) };
        // Once pushed, the owner may run it and return (freeing the scope): wake
        // through copies taken before.
        let (registry, index) = (scope.registry.clone(), scope.owner_index);
        crate::sync_lock(&scope.orphans).push(job);
        if let Some(index) = index {
            registry.sleep.unpark(index);
        }
    }
}

impl<'scope> Scope<'scope> {
    /// Spawns `f` into the scope: it runs on the pool, possibly in parallel with
    /// the caller, and may borrow anything that outlives the scope. It gets the
    /// scope, to spawn more.
    ///
    /// A panic in `f` is caught; the scope re-raises it when it ends, after every
    /// task has finished. If the pool is stopping, or no longer accepted the
    /// scope (see [`ThreadPool::scope`](crate::ThreadPool::scope)), `f` runs on
    /// the thread that waits for the scope.
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce(&Scope<'scope>) + Send + 'scope,
    {
        self.spawn_counted(move |s| {
            f(s);
            crate::stats::RUN_DEFAULT
        });
    }

    /// [`spawn`](Scope::spawn) of a closure that returns the code its run
    /// counts as in the statistics (`crate::stats`).
    fn spawn_counted<F>(&self, f: F)
    where
        F: FnOnce(&Scope<'scope>) -> u8 + Send + 'scope,
    {
        self.pending.fetch_add(1, Ordering::Relaxed);
        let job = Box::new(HeapJob {
            func: f,
            scope: self as *const Scope<'scope>,
        });
        // SAFETY: the box stays alive until executed (which frees it) or
        // abandoned (which hands it to the scope's owner, which executes it); the
        // scope outlives both (it waits for `pending`).
        let job = unsafe { JobRef::new(Box::into_raw(job) as *const (), HeapJob::<F>::VTABLE) };
        if self.owner_index.is_none() {
            // A scope on the calling thread: its owner runs it (module docs).
            crate::sync_lock(&self.orphans).push(job);
            return;
        }
        if let Err(rejected) = self.registry.submit(Job::internal(job), State::Shutdown) {
            // Dropping the job abandons it: it goes to `orphans`.
            drop(rejected);
        }
    }

    /// Submits `f` to the scope and returns a handle to its value: `get` waits
    /// for it (running it right away if it has not started), `cancel` stops it
    /// from starting. Like [`spawn`](Scope::spawn), `f` may borrow anything that
    /// outlives the scope; its panic goes to the handle.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let data = vec![1u64, 2, 3, 4, 5, 6];
    /// let total = pool.scope(|s| {
    ///     let (left, right) = data.split_at(3);
    ///     let l = s.submit(move |_| left.iter().sum::<u64>());
    ///     let r = s.submit(move |_| right.iter().sum::<u64>());
    ///     let never = s.submit(|_| -> u64 { unreachable!() });
    ///     let cancelled = never.cancel();
    ///     assert!(cancelled || never.is_done());
    ///     l.get().unwrap() + r.get().unwrap()
    /// });
    /// assert_eq!(total, 21);
    /// ```
    pub fn submit<'h, F, T>(&'h self, f: F) -> ScopedHandle<'h, 'scope, T>
    where
        F: FnOnce(&Scope<'scope>) -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let cell = Arc::new(ScopedCell::new(Box::new(f)));
        let job_cell = cell.clone();
        self.spawn_counted(move |s| job_cell.run(s));
        ScopedHandle::new(cell, self)
    }

    fn record_panic(&self, panic: Box<dyn Any + Send>) {
        let mut slot = crate::sync_lock(&self.panic);
        if slot.is_none() {
            *slot = Some(panic);
        } else {
            drop(slot);
            crate::registry::quietly(move || drop(panic));
        }
    }

    /// # Safety
    ///
    /// `this` is valid and the caller's task is counted in `pending`.
    unsafe fn job_done(this: *const Scope<'scope>) {
        // SAFETY: valid until the decrement below (contract).
        let scope = unsafe { &*this };
        // Copy what the wake-up needs: once `pending` is zero the scope may be gone.
        // The registry outlives it: the thread running this is one of its workers.
        let registry: *const Registry = &*scope.registry;
        let index = scope.owner_index;
        if scope.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(index) = index {
                // SAFETY: see above.
                unsafe { (*registry).sleep.unpark(index) };
            }
        }
    }

    fn run_orphans(&self) {
        let orphans = std::mem::take(&mut *crate::sync_lock(&self.orphans));
        for job in orphans {
            Job::internal(job).run();
        }
    }

    fn has_orphans(&self) -> bool {
        !crate::sync_lock(&self.orphans).is_empty()
    }
}

/// Runs a scope whose body runs on `worker` (see the module docs).
pub(crate) fn scope_on_worker<'scope, OP, R>(worker: &WorkerThread, op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    run_scope(worker.registry_arc(), Some(worker), op)
}

/// Runs a scope of `registry`'s pool on the calling thread, which is not one of
/// its workers: the pool no longer accepts work (see the module docs).
pub(crate) fn scope_on_caller<'scope, OP, R>(registry: &Arc<Registry>, op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    run_scope(registry, None, op)
}

fn run_scope<'scope, OP, R>(registry: &Arc<Registry>, worker: Option<&WorkerThread>, op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    let scope = Scope {
        registry: registry.clone(),
        owner_index: worker.map(WorkerThread::index),
        pending: AtomicUsize::new(0),
        panic: Mutex::new(None),
        orphans: Mutex::new(Vec::new()),
        _marker: PhantomData,
    };
    let guard = AbortOnUnwind;
    let result = catch_unwind(AssertUnwindSafe(|| op(&scope)));
    loop {
        scope.run_orphans();
        if scope.pending.load(Ordering::Acquire) == 0 {
            break;
        }
        match worker {
            Some(worker) => {
                worker.help_until(
                    &|| scope.pending.load(Ordering::Acquire) == 0 || scope.has_orphans(),
                    None,
                );
            }
            // On the caller every task is an orphan, run above (a task it ran
            // may have spawned more, picked up on the next turn): nothing is
            // queued anywhere, so there is never anything else to wait for.
            // (Another thread that holds the scope may be between counting a
            // spawn and listing it: yield until it is listed.)
            None => std::thread::yield_now(),
        }
    }
    std::mem::forget(guard);
    let task_panic = crate::sync_lock(&scope.panic).take();
    match (result, task_panic) {
        (Err(panic), _) | (Ok(_), Some(panic)) => resume_unwind(panic),
        (Ok(r), None) => r,
    }
}

/// Creates a fork-join [`Scope`] on the current worker's pool (or the
/// [global pool](crate::ThreadPool::global) when called elsewhere), runs `op` in it,
/// and returns after every task spawned in it has finished.
///
/// # Panics
///
/// Re-raises the first panic of `op` or of a spawned task, after all tasks finished.
///
/// # Examples
///
/// ```
/// let mut v = vec![1, 2, 3, 4];
/// executor_core::scope(|s| {
///     for x in v.iter_mut() {
///         s.spawn(move |_| *x *= 10);
///     }
/// });
/// assert_eq!(v, [10, 20, 30, 40]);
/// ```
pub fn scope<'scope, OP, R>(op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    let mut op = Some(op);
    let on_worker = WorkerThread::with_current(|w| {
        w.map(|w| scope_on_worker(w, op.take().expect("taken once")))
    });
    match on_worker {
        Some(r) => r,
        None => {
            let op = op.take().expect("not taken");
            crate::ThreadPool::global().scope(op)
        }
    }
}
