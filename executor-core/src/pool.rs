//! [`ThreadPool`]: the public handle of a pool.

use crate::builder::Builder;
use crate::error::{BuildError, RejectReason, Rejected, TimedOut};
use crate::job::Job;
use crate::lifecycle::State;
use crate::registry::{Closure, Registry, TerminationKey};
use crate::stats::Stats;
use crate::worker::WorkerThread;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A work-stealing thread pool with Java-style lifecycle control.
///
/// Its own methods run closures ([`execute`](ThreadPool::execute)), fork-join
/// work ([`join`](ThreadPool::join), [`scope`](ThreadPool::scope),
/// [`install`](ThreadPool::install), [`broadcast`](ThreadPool::broadcast)) and
/// control its life ([`shutdown`](ThreadPool::shutdown),
/// [`await_termination`](ThreadPool::await_termination), ...). Tasks with a
/// result come from the `ExecutorService` trait of `executor-futures`, which
/// every pool implements: `submit`, `submit_all`, `invoke_all`, `invoke_any`
/// and `spawn` (a future). Bring it into scope with `use executor::prelude::*;`
/// (or `use executor_futures::ExecutorService;`).
///
/// Cloning gives another handle to the same pool. When the last handle is dropped
/// the pool is [closed](ThreadPool::close): shut down, queued work finished,
/// threads joined. If that last handle is dropped on one of the pool's own
/// workers, it shuts down without waiting (a thread cannot join itself); dropped
/// by a worker's thread-local destructor as that worker exits, it waits for the
/// pool to terminate and joins every thread but the calling one.
///
/// Only `ThreadPool` values count as handles here. A [`PoolRef`]
/// ([`downgrade`](ThreadPool::downgrade)) reaches the same pool without keeping
/// it open; it is what work the pool already accepted keeps to continue itself
/// (`executor-futures`' async tasks re-queue themselves through one), so a task
/// waiting for a wake never keeps the pool open: dropping the last `ThreadPool`
/// closes it, and the tasks still pending then are cancelled at termination. A
/// `ThreadPool` moved *into* a task is a handle like any other: such a task keeps
/// the pool open until it ends; give tasks a `PoolRef` instead.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use executor_core::ThreadPool;
///
/// let pool = ThreadPool::new(4).unwrap();
/// let hits = Arc::new(AtomicUsize::new(0));
/// for _ in 0..100 {
///     let hits = hits.clone();
///     pool.execute(move || {
///         hits.fetch_add(1, Ordering::Relaxed);
///     })
///     .unwrap();
/// }
/// pool.shutdown(); // reject new work, finish what is queued
/// assert!(pool.await_termination(std::time::Duration::from_secs(10)).is_ok());
/// assert_eq!(hits.load(Ordering::Relaxed), 100);
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    inner: Arc<Handle>,
}

/// The shared part of the user handles; its drop closes the pool.
struct Handle {
    registry: Arc<Registry>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.registry.close();
    }
}

/// A handle clone (as [`Clone`]): lets functions that take
/// `impl Into<ThreadPool>` accept `&pool` as well as `pool`.
///
/// # Examples
///
/// ```
/// use executor_core::ThreadPool;
/// let pool = ThreadPool::new(1).unwrap();
/// let other: ThreadPool = (&pool).into();
/// assert_eq!(other.num_threads(), pool.num_threads());
/// ```
impl From<&ThreadPool> for ThreadPool {
    fn from(pool: &ThreadPool) -> ThreadPool {
        pool.clone()
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("name", &self.inner.registry.name)
            .field("threads", &self.num_threads())
            .field("state", &self.inner.registry.lifecycle.state())
            .finish()
    }
}

impl ThreadPool {
    /// A pool with `num_threads` workers and the other settings at their defaults.
    ///
    /// # Errors
    ///
    /// See [`Builder::build`]; zero threads is [`BuildError::ZeroThreads`].
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_core::{BuildError, ThreadPool};
    /// assert!(ThreadPool::new(2).is_ok());
    /// assert!(matches!(ThreadPool::new(0), Err(BuildError::ZeroThreads)));
    /// ```
    pub fn new(num_threads: usize) -> Result<ThreadPool, BuildError> {
        Builder::new().num_threads(num_threads).build()
    }

    /// A [`Builder`] for a pool with more settings.
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn from_registry(registry: Arc<Registry>) -> ThreadPool {
        ThreadPool {
            inner: Arc::new(Handle { registry }),
        }
    }

    fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// A [`PoolRef`] to this pool: it submits to it like this handle, but does not
    /// keep it open (dropping the last `ThreadPool` closes the pool even while
    /// `PoolRef`s live; they are then refused like the pool's handles were).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    /// use executor_core::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2).unwrap();
    /// let weak = pool.downgrade();
    /// let (tx, rx) = channel();
    /// weak.execute(move || tx.send(42).unwrap()).unwrap();
    /// assert_eq!(rx.recv().unwrap(), 42);
    ///
    /// drop(pool); // the last handle: closes the pool although `weak` lives
    /// assert!(weak.is_terminated());
    /// assert!(weak.execute(|| ()).is_err());
    /// ```
    pub fn downgrade(&self) -> PoolRef {
        PoolRef {
            registry: self.inner.registry.clone(),
        }
    }

    /// Runs `f` on the pool, fire-and-forget, no handle; no allocation when `f`
    /// captures at most one word (a reference, an `Arc`), one otherwise. From one of
    /// the pool's own workers the job goes to that worker's deque; otherwise to the
    /// global queue. A panic in `f` is caught and reported to the panic handler.
    ///
    /// # Errors
    ///
    /// [`Rejected`] (holding `f`, unrun) once the pool is shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// pool.execute(move || tx.send(6 * 7).unwrap()).unwrap();
    /// assert_eq!(rx.recv().unwrap(), 42);
    /// ```
    #[inline]
    pub fn execute<F>(&self, f: F) -> Result<(), Rejected<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.registry()
            .submit(Closure(f), State::Running)
            .map_err(|r| r.map(|c| c.0))
    }

    /// Starts an orderly shutdown: new submissions are rejected, queued jobs still
    /// run. Does not wait (see [`await_termination`](ThreadPool::await_termination),
    /// [`close`](ThreadPool::close)). Idempotent; callable from any thread,
    /// including the pool's own jobs.
    pub fn shutdown(&self) {
        self.registry().shutdown();
    }

    /// Stops the pool: rejects new submissions, takes every job that has not started
    /// out of the queues and returns them (run them, or drop them), and raises the
    /// interrupt flag that running jobs see through
    /// [`is_cancelled`](crate::is_cancelled). Does not wait for running jobs.
    /// A second call returns an empty list.
    ///
    /// A returned job still stands for its task: the handle of a submitted task
    /// resolves when you run the job (normally) or drop it (as not run, i.e.
    /// cancelled). While you hold it, a `get` on that handle waits, as Java's
    /// `Future.get` does for a task `shutdownNow` returned; drop the list if you
    /// do not mean to run it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    /// use executor_core::ThreadPool;
    /// let pool = ThreadPool::new(1).unwrap();
    /// let (started_tx, started_rx) = channel();
    /// let (gate_tx, gate_rx) = channel::<()>();
    /// pool.execute(move || {
    ///     started_tx.send(()).unwrap();
    ///     gate_rx.recv().unwrap();
    /// })
    /// .unwrap();
    /// started_rx.recv().unwrap();
    /// for _ in 0..3 {
    ///     pool.execute(|| unreachable!("never starts")).unwrap();
    /// }
    /// let never_started = pool.shutdown_now();
    /// assert_eq!(never_started.len(), 3);
    /// gate_tx.send(()).unwrap();
    /// assert!(pool.await_termination(std::time::Duration::from_secs(10)).is_ok());
    /// ```
    pub fn shutdown_now(&self) -> Vec<Job> {
        self.registry().shutdown_now()
    }

    /// Blocks until the pool has terminated (returns `Ok`) or `timeout` passes.
    /// Never `Ok` before a shutdown. Called on one of the pool's own workers it
    /// does not wait (the pool cannot terminate while the caller runs). Java's
    /// boolean `awaitTermination` is `.is_ok()`.
    ///
    /// # Errors
    ///
    /// [`TimedOut`] when the pool had not terminated in time (or the caller is
    /// one of its workers).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_core::{ThreadPool, TimedOut};
    /// use std::time::Duration;
    /// let pool = ThreadPool::new(1).unwrap();
    /// // Not shut down, so it cannot terminate: the wait gives up.
    /// assert_eq!(pool.await_termination(Duration::from_millis(1)), Err(TimedOut));
    /// pool.shutdown();
    /// assert_eq!(pool.await_termination(Duration::from_secs(10)), Ok(()));
    /// ```
    pub fn await_termination(&self, timeout: Duration) -> Result<(), TimedOut> {
        terminated(self.registry().await_termination(Some(timeout)))
    }

    /// [`shutdown`](ThreadPool::shutdown), then wait for every queued job and join
    /// the threads (Java's `close()`). On one of the pool's own workers it only
    /// shuts down; it never joins the calling thread (e.g. from a worker's
    /// thread-local destructor, which runs after the worker left the pool).
    /// Idempotent.
    pub fn close(&self) {
        self.registry().close();
    }

    /// True once `shutdown` or `shutdown_now` was called.
    pub fn is_shutdown(&self) -> bool {
        self.registry().lifecycle.state() >= State::Shutdown
    }

    /// The pool's [`Timer`](crate::integration::Timer) (made on first use; its thread starts
    /// with the first timer): delayed jobs scheduled on it run on this pool, and
    /// its lifecycle follows the pool's (see [`Timer::schedule_job`](crate::integration::Timer::schedule_job)).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// assert!(pool.timer().is_same(&pool.downgrade().timer()));
    /// assert_eq!(pool.timer().pending(), 0);
    /// ```
    pub fn timer(&self) -> crate::integration::Timer {
        self.inner.registry.timer.timer(&self.inner.registry)
    }

    /// True once the pool shut down and every worker exited.
    pub fn is_terminated(&self) -> bool {
        self.registry().is_terminated()
    }

    /// The number of worker threads.
    pub fn num_threads(&self) -> usize {
        self.registry().num_threads()
    }

    /// The calling thread's index if it is one of this pool's workers.
    pub fn current_thread_index(&self) -> Option<usize> {
        WorkerThread::with_current(|w| {
            w.filter(|w| std::ptr::eq(w.registry(), self.registry()))
                .map(WorkerThread::index)
        })
    }

    /// True if the calling thread is one of this pool's workers.
    pub fn is_worker_thread(&self) -> bool {
        self.current_thread_index().is_some()
    }

    /// A snapshot of the pool's counters.
    pub fn stats(&self) -> Stats {
        self.registry().stats()
    }

    /// The process-wide default pool (`num_cpus` threads), built on first use; the
    /// free functions [`join`](fn@crate::join) and [`scope`](fn@crate::scope) use it when
    /// called outside any pool. It is never shut down.
    ///
    /// # Panics
    ///
    /// If its threads cannot be spawned.
    pub fn global() -> &'static ThreadPool {
        static GLOBAL: std::sync::OnceLock<ThreadPool> = std::sync::OnceLock::new();
        GLOBAL.get_or_init(|| {
            Builder::new()
                .name("executor-global")
                .build()
                .expect("spawning the global pool's threads")
        })
    }

    /// Runs `op` on one of this pool's workers and returns its result, blocking
    /// the caller meanwhile (on another pool's worker, that pool runs a spare in
    /// its place, see [`wait_until`](crate::integration::wait_until)).
    /// `op` may borrow from the caller. On one of this pool's workers it just
    /// calls `op`.
    ///
    /// # A pool that no longer accepts work
    ///
    /// Once the pool was shut down (`shutdown`, `shutdown_now`, `close`, the drop
    /// of its last handle; terminated or not), `install`, [`join`](ThreadPool::join)
    /// and [`scope`](ThreadPool::scope) run their closures **on the calling
    /// thread**, one after another, and return normally: they never panic for
    /// it, never queue anything, and never use another pool (not the global
    /// pool, not the pool of a worker that calls them). A call racing a shutdown
    /// runs on a worker if the pool accepted it, else on the caller; a call
    /// accepted and then handed back by a racing `shutdown_now` runs on the
    /// caller. [`broadcast`](ThreadPool::broadcast), which has an error to
    /// report, returns [`Rejected`] instead. Work that needs parallelism to make
    /// progress (two closures that wait for each other) can deadlock there.
    ///
    /// # Panics
    ///
    /// Re-raises a panic of `op`.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let data = vec![1, 2, 3];
    /// let index = pool.install(|| (data.iter().sum::<i32>(), pool.current_thread_index()));
    /// assert_eq!(index.0, 6);
    /// assert!(index.1.is_some());
    ///
    /// pool.shutdown();
    /// let here = pool.install(|| pool.current_thread_index());
    /// assert_eq!(here, None); // ran on this thread
    /// ```
    pub fn install<OP, R>(&self, op: OP) -> R
    where
        OP: FnOnce() -> R + Send,
        R: Send,
    {
        self.install_on(|_| op())
    }

    /// [`install`](ThreadPool::install), telling `op` where it runs: on one of
    /// this pool's workers (`Some`), or on a caller that is not one (`None`: the
    /// pool no longer accepts work). Another pool's worker is never passed on.
    fn install_on<OP, R>(&self, op: OP) -> R
    where
        OP: FnOnce(Option<&WorkerThread>) -> R + Send,
        R: Send,
    {
        let registry = self.registry();
        let mine = |w: Option<&WorkerThread>| -> bool {
            w.is_some_and(|w| std::ptr::eq(w.registry(), registry))
        };
        let mut op = Some(op);
        let on_worker = WorkerThread::with_current(|w| match w {
            Some(w) if mine(Some(w)) => Some(op.take().expect("taken once")(Some(w))),
            _ => None,
        });
        if let Some(r) = on_worker {
            return r;
        }
        let op = op.take().expect("not taken");
        crate::join::install_from_outside(registry, move || {
            WorkerThread::with_current(|w| op(w.filter(|&w| mine(Some(w)))))
        })
    }

    /// Runs `op` once on every worker of the pool and returns the results, in
    /// worker-index order. Each call gets a [`BroadcastContext`](crate::BroadcastContext)
    /// with its worker's index. A worker runs its call before any other queued job,
    /// but after the job it is running; calling this from a worker of the pool is
    /// fine (that worker runs its own call while waiting).
    ///
    /// # Errors
    ///
    /// [`Rejected`] (holding `op`, which did not run) once the pool no longer
    /// accepts work (see "A pool that no longer accepts work" at
    /// [`install`](ThreadPool::install)).
    /// A broadcast accepted just before a `shutdown_now` still returns one
    /// result per worker: the calls the pool can no longer run are run by the
    /// caller.
    ///
    /// # Panics
    ///
    /// Re-raises the first panic of `op` after every call finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = executor_core::ThreadPool::new(3).unwrap();
    /// let indices = pool
    ///     .broadcast(|ctx| (ctx.index(), executor_core::current_thread_index()))
    ///     .unwrap();
    /// assert_eq!(indices, vec![(0, Some(0)), (1, Some(1)), (2, Some(2))]);
    /// ```
    pub fn broadcast<OP, R>(&self, op: OP) -> Result<Vec<R>, Rejected<OP>>
    where
        OP: Fn(crate::BroadcastContext) -> R + Sync,
        R: Send,
    {
        crate::broadcast::broadcast(self.registry(), op)
    }

    /// [`join`](fn@crate::join) on this pool: runs `a` and `b`, potentially in
    /// parallel, and returns both results. Once the pool no longer accepts work,
    /// `a` then `b` run on the calling thread (see "A pool that no longer
    /// accepts work" at [`install`](ThreadPool::install)).
    ///
    /// # Panics
    ///
    /// Re-raises a panic of `a` or `b`, after both finished (`a`'s if both
    /// panicked).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let v: Vec<u64> = (1..=100).collect();
    /// let (left, right) = v.split_at(50);
    /// let (a, b) = pool.join(|| left.iter().sum::<u64>(), || right.iter().sum::<u64>());
    /// assert_eq!(a + b, 5050);
    /// ```
    pub fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        self.install_on(|w| match w {
            Some(w) => crate::join::join_on_worker(w, a, b),
            None => crate::join::join_on_caller(a, b),
        })
    }

    /// Runs `op` in a fork-join [`Scope`](crate::Scope) on this pool: tasks
    /// spawned in it may borrow from the caller, and this returns only after all of
    /// them finished (see [`Scope`](crate::Scope)). Once the pool no longer
    /// accepts work, the body and every task spawned in it run on the calling
    /// thread, the tasks after the body (or when a [`ScopedHandle::get`](crate::ScopedHandle::get)
    /// asks for one); see "A pool that no longer accepts work" at
    /// [`install`](ThreadPool::install).
    ///
    /// # Panics
    ///
    /// Re-raises the first panic of `op` or a spawned task, after all finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// pool.close();
    /// let mut halves = [0, 0];
    /// pool.scope(|s| {
    ///     let (a, b) = halves.split_at_mut(1);
    ///     s.spawn(|_| a[0] = 1); // run by this thread: the pool is closed
    ///     s.spawn(|_| b[0] = 2);
    /// });
    /// assert_eq!(halves, [1, 2]);
    /// ```
    pub fn scope<'scope, OP, R>(&self, op: OP) -> R
    where
        OP: FnOnce(&crate::Scope<'scope>) -> R + Send,
        R: Send,
    {
        let registry = &self.inner.registry;
        self.install_on(|w| match w {
            Some(w) => crate::scope::scope_on_worker(w, op),
            None => crate::scope::scope_on_caller(registry, op),
        })
    }
}

/// Runs `f` on the pool of the calling worker, fire-and-forget: rayon's ambient
/// `spawn`, named `execute` here because closures are executed everywhere in
/// this crate ([`ThreadPool::execute`], Java's `execute`); `spawn` is kept for
/// futures (`ExecutorService::spawn`) and for [`Scope::spawn`](crate::Scope::spawn). The job goes to the calling worker's own deque (idle workers steal
/// it), with no pool handle to clone, which matters for jobs that spawn jobs.
///
/// # Errors
///
/// [`Rejected`] holding `f` when the pool is shut down, or with
/// [`RejectReason::NotInPool`] when the caller is not a pool worker.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc::channel;
/// use executor_core::{execute, RejectReason, ThreadPool};
///
/// assert_eq!(execute(|| ()).unwrap_err().reason(), RejectReason::NotInPool);
/// let pool = ThreadPool::new(2).unwrap();
/// let (tx, rx) = channel();
/// pool.execute(move || {
///     // A chain: each link queues the next without a pool handle.
///     fn link(n: u32, tx: std::sync::mpsc::Sender<u32>) {
///         if n == 0 {
///             tx.send(0).unwrap();
///         } else {
///             execute(move || link(n - 1, tx)).unwrap();
///         }
///     }
///     link(100, tx);
/// })
/// .unwrap();
/// assert_eq!(rx.recv().unwrap(), 0);
/// ```
#[doc(alias = "spawn")]
#[inline]
pub fn execute<F>(f: F) -> Result<(), Rejected<F>>
where
    F: FnOnce() + Send + 'static,
{
    WorkerThread::with_current(|w| match w {
        Some(w) => w
            .push_local(Closure(f), State::Running)
            .map_err(|r| r.map(|c| c.0)),
        None => Err(Rejected::new(f, RejectReason::NotInPool)),
    })
}

/// True when the calling thread is a worker of a pool that accepts new work:
/// [`execute`] would queue a job now rather than refuse it. For a layer that
/// may run a small ready job in place of queueing it on this worker (saving the
/// push, the pop and the wake of a sibling) and must still refuse it once the
/// pool was shut down (`executor_futures`' continuations). False off the pool.
///
/// # Examples
///
/// ```
/// use executor_core::integration::can_execute;
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// assert!(!can_execute()); // not a worker
/// assert!(pool.install(can_execute));
/// ```
#[inline]
pub fn can_execute() -> bool {
    WorkerThread::with_current(|w| {
        w.is_some_and(|w| w.registry().lifecycle.state() <= State::Running)
    })
}

/// Runs `job` now, on the calling worker, as a job of its pool: counted in
/// [`Stats`](crate::Stats) (`submitted`, then `completed` and `panicked`) and
/// with a panic handled as a queued job's would be (caught, reported, the
/// worker survives). For a layer that runs a ready job in place of queueing
/// it (after [`can_execute`]), so that the pool's counts do not depend on
/// where the job ran. Off a worker, the job just runs (its panic unwinds).
///
/// # Examples
///
/// ```
/// use executor_core::integration::{run_as_job, Job};
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// pool.install(|| ()); // install's own job: counted once
/// pool.install(|| run_as_job(Job::new(|| ()))); // counted, and the job run in place too
/// pool.shutdown();
/// pool.await_termination(std::time::Duration::from_secs(10)).unwrap();
/// let s = pool.stats();
/// assert_eq!((s.submitted, s.completed), (3, 3));
/// ```
pub fn run_as_job(job: Job) {
    let job = WorkerThread::with_current(|w| match w {
        Some(w) => {
            w.registry().counters[w.index()].bump_submitted();
            w.run_job(job);
            None
        }
        None => Some(job),
    });
    if let Some(job) = job {
        job.run();
    }
}

/// A handle to a [`ThreadPool`] that does not keep it open: made by
/// [`ThreadPool::downgrade`], it submits to the pool like a `ThreadPool` does, but
/// is not counted among the handles whose last drop closes the pool. Once the
/// pool is shut down (by its handles, or because the last one was dropped) it
/// refuses new work like the pool's handles; it keeps the pool's shared state
/// allocated, never its threads running.
///
/// It is what the layers above keep in work the pool already accepted, to
/// continue that work later ([`Executor::pool_ref`]): an async task re-queues
/// itself through one when woken, and registers its termination hook through
/// one, so a task waiting for a wake that may never come does not keep its pool
/// (and itself) alive forever. Give one to a task that spawns more work, instead
/// of a `ThreadPool` clone, for the same reason. It has no lifecycle controls
/// (`shutdown`, `close`): those belong to the owners.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc::channel;
/// use std::time::Duration;
/// use executor_core::ThreadPool;
///
/// let pool = ThreadPool::new(2).unwrap();
/// let (tx, rx) = channel();
/// // A job that submits more work holds a `PoolRef`, not the pool.
/// let weak = pool.downgrade();
/// pool.execute(move || {
///     weak.execute(move || tx.send("second job").unwrap()).unwrap();
/// })
/// .unwrap();
/// assert_eq!(rx.recv().unwrap(), "second job");
///
/// let observer = pool.downgrade();
/// drop(pool); // closed: shut down, queued work finished, threads joined
/// assert!(observer.is_shutdown());
/// assert!(observer.await_termination(Duration::from_secs(10)).is_ok());
/// ```
#[derive(Clone)]
pub struct PoolRef {
    registry: Arc<Registry>,
}

impl fmt::Debug for PoolRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolRef")
            .field("name", &self.registry.name)
            .field("threads", &self.registry.num_threads())
            .field("state", &self.registry.lifecycle.state())
            .finish()
    }
}

impl PoolRef {
    /// [`ThreadPool::execute`] on the pool.
    ///
    /// # Errors
    ///
    /// [`Rejected`] (holding `f`, unrun) once the pool is shut down.
    #[inline]
    pub fn execute<F>(&self, f: F) -> Result<(), Rejected<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.registry
            .submit(Closure(f), State::Running)
            .map_err(|r| r.map(|c| c.0))
    }

    /// True once the pool was shut down (by `shutdown`, `shutdown_now`, `close`,
    /// or the drop of its last handle).
    pub fn is_shutdown(&self) -> bool {
        self.registry.lifecycle.state() >= State::Shutdown
    }

    /// True once the pool shut down and every worker exited.
    pub fn is_terminated(&self) -> bool {
        self.registry.is_terminated()
    }

    /// [`ThreadPool::await_termination`]: waits for the pool to terminate, which
    /// this handle does not start (nor delay).
    ///
    /// # Errors
    ///
    /// [`TimedOut`] when the pool had not terminated in time.
    pub fn await_termination(&self, timeout: Duration) -> Result<(), TimedOut> {
        terminated(self.registry.await_termination(Some(timeout)))
    }

    /// [`ThreadPool::timer`]: the pool's timer.
    pub fn timer(&self) -> crate::integration::Timer {
        self.registry.timer.timer(&self.registry)
    }

    /// True iff `self` and `pool` refer to the same pool.
    pub fn is_pool(&self, pool: &ThreadPool) -> bool {
        Arc::ptr_eq(&self.registry, &pool.inner.registry)
    }
}

/// `Ok` for a pool that terminated, `Err(TimedOut)` for one that did not in time.
fn terminated(done: bool) -> Result<(), TimedOut> {
    if done {
        Ok(())
    } else {
        Err(TimedOut)
    }
}

/// The seam between this crate and the layers above it: something that runs
/// [`Job`]s. Implemented by [`ThreadPool`], [`PoolRef`] and [`InlineExecutor`]; upper layers
/// are written against it so they can be tested without a pool.
pub trait Executor: Send + Sync {
    /// Queues new work.
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding the job when the executor no longer accepts work.
    fn execute_job(&self, job: Job) -> Result<(), Rejected<Job>>;

    /// Queues several jobs, in order, as one submission where the executor can:
    /// a [`ThreadPool`] called from outside its workers accepts or refuses the
    /// whole batch with one lifecycle handshake. A batch of 64 jobs or more is
    /// queued as one injector entry whatever its length (the worker that takes
    /// it moves 64 jobs at a time onto its own deque, where its peers can steal
    /// them); a shorter one is pushed job by job, with one look at the sleepers
    /// (about half the cost per job of `execute_job` in a loop). On one of the
    /// pool's own workers the jobs go to that worker's deque one by one. No
    /// order is promised among the jobs of a batch. The default calls
    /// [`execute_job`](Executor::execute_job) for each job and stops at the
    /// first refusal.
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding the jobs that were not accepted: the refused one and
    /// every later one, in order (all of them when a [`ThreadPool`] refuses an
    /// outside batch). The jobs before them were accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_core::ThreadPool;
    /// use executor_core::integration::{Executor, Job};
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let pool = ThreadPool::new(2).unwrap();
    /// let ran = Arc::new(AtomicUsize::new(0));
    /// let jobs: Vec<Job> = (0..100)
    ///     .map(|_| {
    ///         let ran = ran.clone();
    ///         Job::new(move || {
    ///             ran.fetch_add(1, Ordering::Relaxed);
    ///         })
    ///     })
    ///     .collect();
    /// pool.execute_jobs(jobs).unwrap();
    /// pool.close();
    /// assert_eq!(ran.load(Ordering::Relaxed), 100);
    ///
    /// let refused = pool.execute_jobs(vec![Job::new(|| ()), Job::new(|| ())]).unwrap_err();
    /// assert_eq!(refused.into_inner().len(), 2); // none of them was accepted
    /// ```
    fn execute_jobs(&self, jobs: Vec<Job>) -> Result<(), Rejected<Vec<Job>>> {
        crate::registry::push_each(jobs, |job| self.execute_job(job))
    }

    /// Queues work that continues an accepted task (an async task woken up). A
    /// [`ThreadPool`] (and its [`PoolRef`]) still accepts it after `shutdown`, so
    /// accepted async tasks can finish; it is refused once the pool is stopped or
    /// terminated. `Ok` means the job runs, even when it lands while the last
    /// worker is exiting: termination then runs it on that worker's thread,
    /// before the termination hooks. Defaults to `execute_job`.
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding the job when the executor no longer accepts it.
    fn requeue_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        self.execute_job(job)
    }

    /// Runs `f` once when the executor terminates: the closure form of
    /// [`on_termination_job`](Executor::on_termination_job).
    ///
    /// For a [`ThreadPool`]: runs `f` once when the pool terminates, or at once
    /// (on the calling thread, returning `None`) if it has terminated already, or
    /// is terminating and has run the hooks this one would join. Returns the key
    /// that [`remove_termination_hook`](Executor::remove_termination_hook) takes.
    ///
    /// The pool terminates when its last worker exits, after
    /// [`shutdown`](ThreadPool::shutdown) (once the queues are empty),
    /// [`shutdown_now`](ThreadPool::shutdown_now), [`close`](ThreadPool::close) or
    /// the drop of the last handle. The hooks run on that last worker's thread,
    /// after the queues were emptied and before
    /// [`await_termination`](ThreadPool::await_termination) returns; their order
    /// is unspecified. A hook may use the pool (every submission is rejected by
    /// then), register another hook (it runs too), or drop the last pool handle;
    /// `close` and `await_termination` called from a hook do not wait. A panic in
    /// a hook is caught and reported to the panic handler
    /// ([`PanicOrigin::TerminationHook`](crate::PanicOrigin::TerminationHook)).
    ///
    /// This is how layers above release work the pool will never run again:
    /// `executor-futures` cancels the async tasks still waiting for a wake.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    /// use std::time::Duration;
    /// use executor_core::integration::Executor;
    /// use executor_core::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2).unwrap();
    /// let (tx, rx) = channel();
    /// let late = tx.clone();
    /// assert!(pool.on_termination(move || tx.send("terminated").unwrap()).is_some());
    /// pool.shutdown();
    /// assert!(pool.await_termination(Duration::from_secs(10)).is_ok());
    /// assert_eq!(rx.try_recv(), Ok("terminated")); // ran before the wait returned
    ///
    /// // Registered after termination: runs at once, on this thread.
    /// assert!(pool.on_termination(move || late.send("at once").unwrap()).is_none());
    /// assert_eq!(rx.try_recv(), Ok("at once"));
    /// ```
    fn on_termination<F>(&self, f: F) -> Option<TerminationKey>
    where
        F: FnOnce() + Send + 'static,
        Self: Sized,
    {
        self.on_termination_job(Job::new(f))
    }

    /// Runs `hook` once when the executor terminates (see
    /// [`on_termination`](Executor::on_termination); no allocation for a closure
    /// of at most one word, e.g. a `Weak`): upper layers use it to cancel tasks the
    /// executor will never run again (`executor-futures`' async tasks waiting for
    /// a wake). Returns the key for
    /// [`remove_termination_hook`](Executor::remove_termination_hook), or `None`
    /// when the hook is not kept: it ran at once (the executor had terminated), or
    /// the executor has no termination to report. The default is the latter: the
    /// hook is dropped unrun (right for [`InlineExecutor`], which never stops). A
    /// removed hook is dropped unrun (a [`Runnable`](crate::integration::Runnable)
    /// is then abandoned).
    fn on_termination_job(&self, hook: Job) -> Option<TerminationKey> {
        drop(hook);
        None
    }

    /// Unregisters a hook added by [`on_termination`](Executor::on_termination)
    /// or [`on_termination_job`](Executor::on_termination_job). True iff it was
    /// removed before running: it is then dropped unrun, on this thread. False if
    /// it ran or is running (termination has taken it). The default returns
    /// false.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_core::integration::Executor;
    /// use executor_core::ThreadPool;
    /// let pool = ThreadPool::new(1).unwrap();
    /// let key = pool.on_termination(|| unreachable!("removed")).unwrap();
    /// assert!(pool.remove_termination_hook(key));
    /// pool.close(); // the hook does not run
    /// ```
    fn remove_termination_hook(&self, key: TerminationKey) -> bool {
        let _ = key;
        false
    }

    /// A handle to this executor that does not keep it open (a [`PoolRef`]), for
    /// upper layers to keep in work already accepted: `executor-futures`' async
    /// tasks re-queue themselves and register their termination hooks through it,
    /// so that a task waiting for a wake does not count as a user's handle. The
    /// default, `None`, makes them keep a clone of the executor itself (right for
    /// [`InlineExecutor`] and for executors that own nothing to close).
    ///
    /// [`ThreadPool`] returns its [`downgrade`](ThreadPool::downgrade); `&E` and
    /// `Arc<E>` forward. An executor that wraps a pool may return the pool's
    /// `PoolRef` only if bypassing the wrapper changes nothing: the `PoolRef`'s
    /// [`requeue_job`](Executor::requeue_job),
    /// [`on_termination_job`](Executor::on_termination_job) and
    /// [`remove_termination_hook`](Executor::remove_termination_hook) are used
    /// instead of the wrapper's.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_core::ThreadPool;
    /// use executor_core::integration::{Executor, InlineExecutor};
    /// let pool = ThreadPool::new(1).unwrap();
    /// assert!(pool.pool_ref().is_some_and(|r| r.is_pool(&pool)));
    /// assert!(InlineExecutor.pool_ref().is_none());
    /// ```
    fn pool_ref(&self) -> Option<PoolRef> {
        None
    }
}

impl Executor for ThreadPool {
    fn execute_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        self.registry().submit(job, State::Running)
    }
    fn execute_jobs(&self, jobs: Vec<Job>) -> Result<(), Rejected<Vec<Job>>> {
        self.registry().submit_batch(jobs, State::Running)
    }
    fn requeue_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        self.registry().requeue(job)
    }
    fn on_termination_job(&self, hook: Job) -> Option<TerminationKey> {
        self.registry().on_termination(hook)
    }
    fn remove_termination_hook(&self, key: TerminationKey) -> bool {
        self.registry().remove_termination_hook(key)
    }
    fn pool_ref(&self) -> Option<PoolRef> {
        Some(self.downgrade())
    }
}

impl Executor for PoolRef {
    fn execute_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        self.registry.submit(job, State::Running)
    }
    fn execute_jobs(&self, jobs: Vec<Job>) -> Result<(), Rejected<Vec<Job>>> {
        self.registry.submit_batch(jobs, State::Running)
    }
    fn requeue_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        self.registry.requeue(job)
    }
    fn on_termination_job(&self, hook: Job) -> Option<TerminationKey> {
        self.registry.on_termination(hook)
    }
    fn remove_termination_hook(&self, key: TerminationKey) -> bool {
        self.registry.remove_termination_hook(key)
    }
    fn pool_ref(&self) -> Option<PoolRef> {
        Some(self.clone())
    }
}

impl<E: Executor + ?Sized> Executor for &E {
    fn execute_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        (**self).execute_job(job)
    }
    fn execute_jobs(&self, jobs: Vec<Job>) -> Result<(), Rejected<Vec<Job>>> {
        (**self).execute_jobs(jobs)
    }
    fn requeue_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        (**self).requeue_job(job)
    }
    fn on_termination_job(&self, hook: Job) -> Option<TerminationKey> {
        (**self).on_termination_job(hook)
    }
    fn remove_termination_hook(&self, key: TerminationKey) -> bool {
        (**self).remove_termination_hook(key)
    }
    fn pool_ref(&self) -> Option<PoolRef> {
        (**self).pool_ref()
    }
}

impl<E: Executor + ?Sized> Executor for Arc<E> {
    fn execute_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        (**self).execute_job(job)
    }
    fn execute_jobs(&self, jobs: Vec<Job>) -> Result<(), Rejected<Vec<Job>>> {
        (**self).execute_jobs(jobs)
    }
    fn requeue_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        (**self).requeue_job(job)
    }
    fn on_termination_job(&self, hook: Job) -> Option<TerminationKey> {
        (**self).on_termination_job(hook)
    }
    fn remove_termination_hook(&self, key: TerminationKey) -> bool {
        (**self).remove_termination_hook(key)
    }
    fn pool_ref(&self) -> Option<PoolRef> {
        (**self).pool_ref()
    }
}

/// Runs every job at once on the calling thread. For tests and for code that must
/// work with or without a pool.
///
/// # Examples
///
/// ```
/// use executor_core::integration::{Executor, InlineExecutor, Job};
/// let (tx, rx) = std::sync::mpsc::channel();
/// InlineExecutor.execute_job(Job::new(move || tx.send(1).unwrap())).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct InlineExecutor;

impl Executor for InlineExecutor {
    fn execute_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        job.run();
        Ok(())
    }
}
