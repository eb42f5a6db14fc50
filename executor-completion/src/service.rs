//! [`CompletionService`]: submit tasks to an executor, take their results in the
//! order they finish (Java's `ExecutorCompletionService`).
//!
//! Each task is submitted with `executor-futures`' completion hook
//! ([`ExecutorService::submit_with`]); the hook turns the done handle into a
//! [`Completed`] and pushes it into the service's queue. The protocol (counters,
//! registry, exactly-once argument) is in `shared.rs`, the wake-up protocol in
//! `waitlist.rs`.

use crate::completed::{Completed, TimedCall, TimedFuture};
use crate::error::TrySubmitError;
use crate::iter::{CompletionStream, IntoIter, IntoStream, Iter};
use crate::shared::{quietly, Block, Release, Reservation, Shared};
use executor_core::integration::{Exclusive, Executor};
use executor_core::{PoolRef, Rejected, ThreadPool, TimedOut};
use executor_futures::{BatchRejected, Callable, ExecutorService, TaskHandle, TaskId, TaskRef};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Submits tasks to an executor and hands out their results in the order they
/// finish: Java's `ExecutorCompletionService`, Python's `as_completed` over a
/// growing set of tasks.
///
/// * [`submit`](CompletionService::submit) a callable or
///   [`spawn`](CompletionService::spawn) a future; both return the task's
///   [`TaskId`], or hand the task back in [`Rejected`].
/// * [`take`](CompletionService::take) blocks until the next task finishes and
///   returns `None` when nothing is outstanding (instead of blocking forever);
///   [`poll`](CompletionService::poll) never blocks;
///   [`poll_timeout`](CompletionService::poll_timeout) waits up to a timeout.
///   `for done in &service` iterates in completion order until nothing is
///   outstanding; [`stream`](CompletionService::stream) does the same as a
///   `futures_core::Stream`.
/// * Every accepted task is delivered exactly once, whatever its ending: value,
///   `Err` value, panic, or cancel (see [`Completed`]).
/// * All methods take `&self` and the service is `Sync`: several threads can
///   submit while others take (share it with `Arc` or `std::thread::scope`).
/// * Waiting on a pool worker (a task that takes from a service) runs only the
///   tasks that worker's task queued itself, then blocks while the pool runs
///   a spare worker in its place, so it works even on a 1-thread pool and
///   never runs unrelated work. A consumer outside the pool can opt in to help:
///   [`helping`](CompletionService::helping) makes `take` and the blocking
///   iterator run the service's own queued tasks on the consumer's thread
///   instead of parking.
/// * [`bounded`](CompletionService::bounded) caps the tasks submitted and not yet
///   taken: `submit` then waits for room and
///   [`try_submit`](CompletionService::try_submit) reports
///   [`Full`](TrySubmitError::Full).
///
/// # Dropping
///
/// Dropping the service cancels every task it submitted that is not done yet
/// (queued ones never run and their closures are dropped at once; running ones
/// see [`executor_futures::is_cancelled`] turn true and their output is dropped
/// when they return) and drops the results not taken yet. Results of tasks that
/// finish afterwards are dropped by the finishing thread. Nothing is leaked, and
/// the drop never blocks. The executor handle it owns is dropped last (dropping
/// the last handle of a [`ThreadPool`] closes the pool).
///
/// A task must not `take` from the service it was submitted to while it is the
/// only task outstanding there: it would wait for itself.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc::channel;
/// use executor_completion::CompletionService;
///
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let service = CompletionService::new(pool);
/// let (go_tx, go_rx) = channel::<()>();
/// let slow = service.submit(move || { go_rx.recv().unwrap(); "slow" }).unwrap();
/// let fast = service.submit(|| "fast").unwrap();
///
/// let first = service.take().unwrap(); // the fast one: `slow` is still blocked
/// assert_eq!((first.id(), first.get().unwrap()), (fast, "fast"));
/// go_tx.send(()).unwrap();
/// let second = service.take().unwrap();
/// assert_eq!((second.id(), second.get().unwrap()), (slow, "slow"));
/// assert!(service.take().is_none()); // nothing outstanding: no hang
/// ```
pub struct CompletionService<T, E = ThreadPool> {
    exec: E,
    shared: Arc<Shared<T>>,
    /// Set by [`helping`](CompletionService::helping): the pool whose
    /// shutdown ends the consumer's helping.
    helper: Option<PoolRef>,
}

/// The completion hook of one task.
fn hook<T: Send + 'static>(
    shared: Arc<Shared<T>>,
    submitted: Instant,
) -> impl FnOnce(TaskHandle<T>) + Send + 'static {
    move |handle| shared.complete(handle, submitted)
}

impl<T: Send + 'static> CompletionService<T> {
    /// A service submitting to `pool` (a [`ThreadPool`], or `&pool`: a handle
    /// clone, which keeps the pool open while the service lives), with no cap on
    /// outstanding tasks. For another executor (`&pool` borrowed, a `PoolRef`,
    /// an `Arc`, an [`InlineExecutor`](executor_core::integration::InlineExecutor))
    /// use [`with_executor`](CompletionService::with_executor).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let service: CompletionService<u32> = CompletionService::new(&pool);
    /// service.submit(|| 1).unwrap();
    /// assert_eq!(service.take().unwrap().get().unwrap(), 1);
    /// ```
    pub fn new(pool: impl Into<ThreadPool>) -> CompletionService<T> {
        CompletionService::with_executor(pool.into())
    }

    /// [`bounded_with_executor`](CompletionService::bounded_with_executor) on
    /// `pool` (a [`ThreadPool`] or `&pool`, as [`new`](CompletionService::new)):
    /// at most `capacity` results submitted and not yet taken.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let service: CompletionService<u32> = CompletionService::bounded(&pool, 4);
    /// assert_eq!(service.capacity(), Some(4));
    /// ```
    pub fn bounded(pool: impl Into<ThreadPool>, capacity: usize) -> CompletionService<T> {
        CompletionService::bounded_with_executor(pool.into(), capacity)
    }

    /// [`bounded_in_flight_with_executor`](CompletionService::bounded_in_flight_with_executor)
    /// on `pool` (a [`ThreadPool`] or `&pool`, as [`new`](CompletionService::new)):
    /// at most `capacity` tasks submitted and not yet finished.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let service: CompletionService<u32> = CompletionService::bounded_in_flight(&pool, 3);
    /// assert!(service.is_bounded_in_flight());
    /// ```
    pub fn bounded_in_flight(pool: impl Into<ThreadPool>, capacity: usize) -> CompletionService<T> {
        CompletionService::bounded_in_flight_with_executor(pool.into(), capacity)
    }
}

impl<T: Send + 'static, E: Executor> CompletionService<T, E> {
    /// A service submitting to `exec`, with no cap on outstanding tasks: the
    /// generic form of [`new`](CompletionService::new).
    ///
    /// `exec` is any [`Executor`]: a [`ThreadPool`] (or a clone of one), `&pool`
    /// (borrowed), `Arc<...>`, a `PoolRef`, or
    /// [`InlineExecutor`](executor_core::integration::InlineExecutor).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let service = CompletionService::with_executor(&pool); // borrows the pool
    /// service.submit(|| 1).unwrap();
    /// assert_eq!(service.take().unwrap().get().unwrap(), 1);
    /// ```
    pub fn with_executor(exec: E) -> CompletionService<T, E> {
        CompletionService {
            exec,
            shared: Arc::new(Shared::new(None)),
            helper: None,
        }
    }

    /// A service that allows at most `capacity` tasks submitted and not yet
    /// taken: [`submit`](CompletionService::submit) waits for room (a consumer
    /// taking a result), [`try_submit`](CompletionService::try_submit) reports
    /// [`TrySubmitError::Full`]. A result counts until it is taken (a cancelled
    /// task too).
    ///
    /// This bounds the memory of results nobody took yet, for a producer and a
    /// consumer on *different* threads. A thread that both takes results and
    /// submits (a crawler feeding new work from each result) must not block in
    /// `submit` here: with `capacity` results ready and itself the only
    /// consumer, nobody frees room. Use
    /// [`bounded_in_flight`](CompletionService::bounded_in_flight) for that.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use executor_completion::CompletionService;
    ///
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let service = CompletionService::bounded_with_executor(&pool, 4);
    /// let most = AtomicUsize::new(0);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         for i in 0..100u32 {
    ///             service.submit(move || i).unwrap(); // waits while 4 are outstanding
    ///             most.fetch_max(service.outstanding(), Ordering::Relaxed);
    ///         }
    ///     });
    ///     let (mut sum, mut taken) = (0, 0);
    ///     while taken < 100 {
    ///         match service.take() {
    ///             Some(done) => (sum, taken) = (sum + done.get().unwrap(), taken + 1),
    ///             None => std::thread::yield_now(), // the producer has not caught up
    ///         }
    ///     }
    ///     assert_eq!(sum, (0..100).sum());
    /// });
    /// assert!(most.into_inner() <= 4);
    /// ```
    pub fn bounded_with_executor(exec: E, capacity: usize) -> CompletionService<T, E> {
        assert!(
            capacity > 0,
            "a bounded completion service needs a capacity of at least 1"
        );
        CompletionService {
            exec,
            shared: Arc::new(Shared::new(Some(capacity))),
            helper: None,
        }
    }

    /// A service that allows at most `capacity` tasks *in flight* (submitted and
    /// not yet finished): [`submit`](CompletionService::submit) waits for a task
    /// to **finish** (not for a result to be taken),
    /// [`try_submit`](CompletionService::try_submit) reports
    /// [`TrySubmitError::Full`]. Results not taken yet do not count, so the
    /// thread that takes results can submit from the same loop without ever
    /// deadlocking: the feedback pipeline of a crawler, where each fetched page
    /// yields new links to fetch. [`pending`](CompletionService::pending) is the
    /// number in flight, never above `capacity`.
    ///
    /// | constructor (for a pool / any executor) | bounds | `submit` waits for |
    /// |---|---|---|
    /// | [`new`](CompletionService::new) / [`with_executor`](CompletionService::with_executor) | nothing | — |
    /// | [`bounded`](CompletionService::bounded) / [`bounded_with_executor`](CompletionService::bounded_with_executor) | results not yet taken (memory) | a consumer to `take` |
    /// | [`bounded_in_flight`](CompletionService::bounded_in_flight) / `bounded_in_flight_with_executor` | tasks not yet finished (concurrency) | a task to finish |
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    ///
    /// # Examples
    ///
    /// One thread takes and submits; at most 3 tasks run or wait at a time:
    ///
    /// ```
    /// use executor_completion::CompletionService;
    ///
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let service = CompletionService::bounded_in_flight_with_executor(&pool, 3);
    /// service.submit(|| 0u32).unwrap();
    /// let (mut seen, mut most) = (0, 0);
    /// while let Some(done) = service.take() {
    ///     let n = done.get().unwrap();
    ///     seen += 1;
    ///     if n < 20 {
    ///         for child in [2 * n + 1, 2 * n + 2] {
    ///             service.submit(move || child).unwrap(); // never a deadlock
    ///             most = most.max(service.pending());
    ///         }
    ///     }
    /// }
    /// assert_eq!(seen, 41); // 0..=40
    /// assert!(most <= 3);
    /// ```
    pub fn bounded_in_flight_with_executor(exec: E, capacity: usize) -> CompletionService<T, E> {
        assert!(
            capacity > 0,
            "a completion service bounded in flight needs a capacity of at least 1"
        );
        CompletionService {
            exec,
            shared: Arc::new(Shared::with_release(Some(capacity), Release::OnFinish)),
            helper: None,
        }
    }

    /// Makes a consumer outside the pool *help* while it waits: when
    /// [`take`](CompletionService::take) or the blocking iterator finds no
    /// result ready, it claims the newest of this service's tasks that has not
    /// started and runs it on its own thread, then looks again; it parks only
    /// when none is left to claim. Off by default.
    ///
    /// Why: a consumer that parks is woken once per result, and on a machine
    /// with as many workers as cores each wake-up preempts a worker. A helping
    /// consumer is a worker for the service's own tasks instead: in the
    /// `completion` benchmark (10,000 tasks of 0–50 µs, 2 workers, 2 cores) it
    /// cuts the total by 10–15% (README, "Performance"). The price is
    /// latency: a result that finishes while the consumer runs a task waits for
    /// that task to end (at most one task's duration).
    ///
    /// Only for tasks that may run on the consumer's thread:
    ///
    /// * a task it runs uses the consumer's stack (not the pool's stack size),
    ///   and none of the pool's thread name, start hooks or thread-locals; its
    ///   [`Completed::worker`] is `None`;
    /// * a task that waits for something the consumer does *after* `take`
    ///   returns would wait forever when the consumer runs it (the
    ///   [type-level example](CompletionService#examples) is such a case: leave
    ///   helping off there).
    ///
    /// Each task still runs exactly once: the consumer makes the claim a worker
    /// makes, and the pool's queued job becomes a tombstone. Only callables are
    /// claimed (futures from [`spawn`](CompletionService::spawn) are polled by
    /// the pool), only by a thread outside the pool (a worker's untimed wait
    /// runs the tasks it queued itself anyway), and only while the pool is not shut down: after
    /// [`shutdown`](ThreadPool::shutdown) or
    /// [`shutdown_now`](ThreadPool::shutdown_now) the consumer waits as usual,
    /// so it never runs a task `shutdown_now` handed back. (A claim that races
    /// `shutdown_now` can still win; the job handed back is then a tombstone.)
    /// [`poll_timeout`](CompletionService::poll_timeout) and the streams never
    /// help.
    ///
    /// `on` has no effect for an executor with no
    /// [`pool_ref`](Executor::pool_ref) (e.g. [`InlineExecutor`](executor_core::integration::InlineExecutor)).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    ///
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let service = CompletionService::new(&pool).helping(true);
    /// assert!(service.is_helping());
    /// for n in 0..1_000u64 {
    ///     service.submit(move || (0..n).sum::<u64>()).unwrap();
    /// }
    /// let (mut total, mut here) = (0, 0);
    /// for done in &service {
    ///     here += usize::from(done.worker().is_none()); // run by this thread
    ///     total += done.get().unwrap();
    /// }
    /// assert_eq!(total, (0..1_000u64).map(|n| n * n.saturating_sub(1) / 2).sum());
    /// println!("{here} of 1000 tasks ran on the consumer");
    /// ```
    pub fn helping(mut self, on: bool) -> CompletionService<T, E> {
        self.helper = if on { self.exec.pool_ref() } else { None };
        self
    }

    /// True if the consumer helps while it waits; see
    /// [`helping`](CompletionService::helping).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// assert!(!CompletionService::<u8>::new(pool.clone()).is_helping());
    /// assert!(CompletionService::<u8>::new(pool).helping(true).is_helping());
    /// // Nothing to help: an inline executor runs each task as it is submitted.
    /// let inline = CompletionService::<u8, _>::with_executor(executor_core::integration::InlineExecutor);
    /// assert!(!inline.helping(true).is_helping());
    /// ```
    pub fn is_helping(&self) -> bool {
        self.helper.is_some()
    }

    /// Queues `work` with `queue` (a `submit_with` or `spawn_with`), keeping the
    /// counters and the registry right on every path.
    fn queue_task<W>(
        &self,
        work: W,
        block: bool,
        queue: impl FnOnce(&E, W, Arc<Shared<T>>, Instant) -> Result<TaskRef, Rejected<W>>,
    ) -> Result<TaskId, TrySubmitError<W>> {
        if block {
            self.shared.acquire();
        } else if !self.shared.try_acquire() {
            return Err(TrySubmitError::Full(Exclusive::new(work)));
        }
        self.shared.reserve(1);
        let submitted = Instant::now();
        match queue(&self.exec, work, self.shared.clone(), submitted) {
            Ok(task) => {
                let id = task.id();
                self.shared.register(task);
                Ok(id)
            }
            Err(rejected) => {
                self.shared.unreserve(1);
                Err(TrySubmitError::Rejected(rejected))
            }
        }
    }

    fn submit_inner<C>(&self, task: C, block: bool) -> Result<TaskId, TrySubmitError<C>>
    where
        C: Callable<T> + Send + 'static,
    {
        self.queue_task(TimedCall(task), block, |exec, work, shared, submitted| {
            exec.submit_with(work, hook(shared, submitted))
        })
        .map_err(|e| e.map(|TimedCall(c)| c))
    }

    /// Submits `task` (a closure or any [`Callable`]) and returns its id; its
    /// result will be delivered by `take`, `poll`, the iterator or the stream. In
    /// a bounded service it first waits for room (on a pool worker, by `wait_until`'s rule).
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding `task` (never run) when the executor refuses it; then
    /// nothing is queued in the service.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let service = CompletionService::new(pool.clone());
    /// let id = service.submit(|| 6 * 7).unwrap();
    /// let done = service.take().unwrap();
    /// assert_eq!((done.id(), done.get().unwrap()), (id, 42));
    ///
    /// pool.shutdown();
    /// let rejected = service.submit(|| 43).unwrap_err();
    /// assert_eq!(rejected.into_inner()(), 43); // back, unrun
    /// assert!(service.poll().is_none());
    /// ```
    pub fn submit<C>(&self, task: C) -> Result<TaskId, Rejected<C>>
    where
        C: Callable<T> + Send + 'static,
    {
        self.submit_inner(task, true).map_err(|e| match e {
            TrySubmitError::Rejected(r) => r,
            TrySubmitError::Full(_) => unreachable!("a blocking submit waits for room"),
        })
    }

    /// Submits several callables and returns their ids, in order; their results
    /// are delivered like those of [`submit`](CompletionService::submit). The
    /// batch is handed to the executor by
    /// [`ExecutorService::submit_all_with`]: the first task at once, so it runs
    /// while the others are built, then the others as one submission (on a
    /// [`ThreadPool`] called from outside its workers, accepted or refused
    /// whole). It costs about half as much per task as `submit` in a loop (two
    /// lifecycle handshakes, one timestamp and one registry append for the
    /// batch). Its tasks share one
    /// [`submitted_at`](crate::Completed::submitted_at).
    ///
    /// A bounded service submits the tasks one at a time instead, each waiting
    /// for room like `submit`.
    ///
    /// # Errors
    ///
    /// [`BatchRejected`] with the ids of the tasks accepted before the executor
    /// refused one (from a `ThreadPool` called from outside: none, or the first
    /// alone when the pool shut down in between) and the refused callables,
    /// unrun, in order; the accepted ones are delivered as usual.
    ///
    /// # Panics
    ///
    /// If iterating `tasks` panics, the panic propagates. The first task, if it
    /// was built, was queued and is delivered as usual; the others built before
    /// the panic are delivered as cancelled (each once, as always), so `take`
    /// still ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let service = CompletionService::new(&pool);
    /// let ids = service.submit_all((1..=100u64).map(|i| move || i)).unwrap();
    /// assert_eq!(ids.len(), 100);
    /// let sum: u64 = service.iter().map(|done| done.get().unwrap()).sum();
    /// assert_eq!(sum, 5050);
    ///
    /// pool.shutdown();
    /// let refused = service.submit_all([|| 1, || 2]).unwrap_err();
    /// assert_eq!(refused.refused().len(), 2);
    /// assert!(service.poll().is_none());
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn submit_all<C, I>(&self, tasks: I) -> Result<Vec<TaskId>, BatchRejected<TaskId, C>>
    where
        I: IntoIterator<Item = C>,
        C: Callable<T> + Send + 'static,
    {
        if self.shared.cap().is_some() {
            return self.submit_each(tasks.into_iter());
        }
        let tasks = tasks.into_iter();
        // Places for the tasks in the pending count before any can finish; the
        // reservation gives back those of tasks never built (see `Reservation`).
        let reservation = Reservation::new(&self.shared, tasks.size_hint().0);
        let submitted = Instant::now();
        let batch = tasks.map(|task| {
            reservation.built_one();
            (TimedCall(task), hook(self.shared.clone(), submitted))
        });
        let (accepted, refused) = match self.exec.submit_all_with(batch) {
            Ok(accepted) => (accepted, None),
            Err(e) => {
                let (accepted, refused) = e.into_parts();
                (accepted, Some(refused))
            }
        };
        let built = reservation.built();
        drop(reservation);
        let ids: Vec<TaskId> = accepted.iter().map(TaskRef::id).collect();
        self.shared.register_all(accepted);
        match refused {
            None => Ok(ids),
            Some(refused) => {
                self.shared.unreserve(built - ids.len());
                let refused = refused.map(|v| v.into_iter().map(|TimedCall(c)| c).collect());
                Err(BatchRejected::new(ids, refused))
            }
        }
    }

    /// `submit_all` in a bounded service: one `submit` per task.
    #[allow(clippy::type_complexity)]
    fn submit_each<C>(
        &self,
        mut tasks: impl Iterator<Item = C>,
    ) -> Result<Vec<TaskId>, BatchRejected<TaskId, C>>
    where
        C: Callable<T> + Send + 'static,
    {
        let mut ids = Vec::with_capacity(tasks.size_hint().0);
        while let Some(task) = tasks.next() {
            match self.submit(task) {
                Ok(id) => ids.push(id),
                Err(refused) => {
                    let refused = refused.map(|task| std::iter::once(task).chain(tasks).collect());
                    return Err(BatchRejected::new(ids, refused));
                }
            }
        }
        Ok(ids)
    }

    /// [`submit`](CompletionService::submit) without waiting: a bounded service
    /// that is full hands the task back at once.
    ///
    /// # Errors
    ///
    /// [`TrySubmitError::Full`] (bounded service at capacity) or
    /// [`TrySubmitError::Rejected`] (the executor refused), holding `task`.
    ///
    /// # Examples
    ///
    /// See [`TrySubmitError`].
    pub fn try_submit<C>(&self, task: C) -> Result<TaskId, TrySubmitError<C>>
    where
        C: Callable<T> + Send + 'static,
    {
        self.submit_inner(task, false)
    }

    fn spawn_inner<F>(&self, future: F, block: bool) -> Result<TaskId, TrySubmitError<F>>
    where
        E: Clone + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        self.queue_task(
            TimedFuture::Fresh(future),
            block,
            |exec, work, shared, submitted| exec.spawn_with(work, hook(shared, submitted)),
        )
        .map_err(|e| e.map(|f| f.into_inner().expect("a rejected future was never polled")))
    }

    /// Runs `future` on the executor as an async task (see
    /// [`ExecutorService::spawn`]) and returns its id; its output is delivered
    /// like a callable's. In a bounded service it first waits for room.
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding `future` (never polled) when the executor refuses it.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let inner = pool.submit(|| 20).unwrap();
    /// let service = CompletionService::new(pool);
    /// service.spawn(async move { inner.await.unwrap() + 1 }).unwrap();
    /// service.submit(|| 1).unwrap();
    /// let mut got: Vec<i32> = service.into_iter().map(|d| d.get().unwrap()).collect();
    /// got.sort();
    /// assert_eq!(got, [1, 21]);
    /// ```
    pub fn spawn<F>(&self, future: F) -> Result<TaskId, Rejected<F>>
    where
        E: Clone + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        self.spawn_inner(future, true).map_err(|e| match e {
            TrySubmitError::Rejected(r) => r,
            TrySubmitError::Full(_) => unreachable!("a blocking spawn waits for room"),
        })
    }

    /// [`spawn`](CompletionService::spawn) without waiting for room.
    ///
    /// # Errors
    ///
    /// [`TrySubmitError::Full`] or [`TrySubmitError::Rejected`], holding `future`.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let service = CompletionService::bounded(pool, 1);
    /// service.try_spawn(async { 1 }).unwrap();
    /// assert!(service.try_spawn(async { 2 }).unwrap_err().is_full());
    /// ```
    pub fn try_spawn<F>(&self, future: F) -> Result<TaskId, TrySubmitError<F>>
    where
        E: Clone + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        self.spawn_inner(future, false)
    }
}

impl<T, E> CompletionService<T, E> {
    /// The executor the tasks run on.
    pub fn executor(&self) -> &E {
        &self.exec
    }

    /// The cap of a bounded service: on tasks not yet taken
    /// ([`bounded`](CompletionService::bounded)) or not yet finished
    /// ([`bounded_in_flight`](CompletionService::bounded_in_flight); see
    /// [`is_bounded_in_flight`](CompletionService::is_bounded_in_flight)).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// use executor_core::integration::InlineExecutor;
    /// assert_eq!(CompletionService::<u8, _>::with_executor(InlineExecutor).capacity(), None);
    /// assert_eq!(CompletionService::<u8, _>::bounded_with_executor(InlineExecutor, 3).capacity(), Some(3));
    /// assert_eq!(CompletionService::<u8, _>::bounded_in_flight_with_executor(InlineExecutor, 2).capacity(), Some(2));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.shared.cap()
    }

    /// True if the cap bounds tasks in flight (made by
    /// [`bounded_in_flight`](CompletionService::bounded_in_flight)) rather than
    /// results not yet taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// use executor_core::integration::InlineExecutor;
    /// assert!(CompletionService::<u8, _>::bounded_in_flight_with_executor(InlineExecutor, 2).is_bounded_in_flight());
    /// assert!(!CompletionService::<u8, _>::bounded_with_executor(InlineExecutor, 2).is_bounded_in_flight());
    /// ```
    pub fn is_bounded_in_flight(&self) -> bool {
        self.shared.cap().is_some() && self.shared.release() == Release::OnFinish
    }

    /// Blocks until a task finishes and returns it, in completion order. Returns
    /// `None` at once when nothing is outstanding (no task pending, no result
    /// waiting) rather than blocking forever. On a pool worker it runs queued jobs
    /// while it waits; elsewhere it runs the service's queued tasks if the
    /// service is [`helping`](CompletionService::helping).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::new(executor_core::ThreadPool::new(2).unwrap());
    /// assert!(service.take().is_none());
    /// service.submit(|| "a").unwrap();
    /// assert_eq!(service.take().unwrap().get().unwrap(), "a");
    /// ```
    pub fn take(&self) -> Option<Completed<T>> {
        self.shared
            .recv(Block::Until(None), self.helper(), |q| q.pop_front())
            .flatten()
    }

    /// The next finished task if one is ready; never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::with_executor(executor_core::integration::InlineExecutor);
    /// assert!(service.poll().is_none());
    /// service.submit(|| 5).unwrap(); // inline: done at once
    /// assert_eq!(service.poll().unwrap().get().unwrap(), 5);
    /// ```
    pub fn poll(&self) -> Option<Completed<T>> {
        self.shared
            .recv(Block::No, None, |q| q.pop_front())
            .flatten()
    }

    /// Like [`take`](CompletionService::take), but gives up after `timeout`.
    /// `Ok(None)` at once when nothing is outstanding (no task pending, no result
    /// waiting), as `take`'s `None`.
    ///
    /// # Errors
    ///
    /// [`TimedOut`] when tasks are outstanding and none finished in time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_completion::{CompletionService, TimedOut};
    /// let service = CompletionService::new(executor_core::ThreadPool::new(1).unwrap());
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// service.submit(move || rx.recv().unwrap()).unwrap();
    /// assert!(matches!(service.poll_timeout(Duration::from_millis(5)), Err(TimedOut)));
    /// tx.send(()).unwrap();
    /// assert!(service.poll_timeout(Duration::from_secs(10)).unwrap().is_some());
    /// assert!(service.poll_timeout(Duration::from_secs(10)).unwrap().is_none()); // nothing outstanding
    /// ```
    pub fn poll_timeout(&self, timeout: Duration) -> Result<Option<Completed<T>>, TimedOut> {
        self.poll_until(Instant::now().checked_add(timeout))
    }

    /// Like [`poll_timeout`](CompletionService::poll_timeout) with a deadline
    /// ([`take`](CompletionService::take) is the untimed form).
    ///
    /// # Errors
    ///
    /// [`TimedOut`] when tasks are outstanding and none finished by `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::<u8>::new(executor_core::ThreadPool::new(1).unwrap());
    /// // Nothing outstanding: Ok(None) at once.
    /// assert!(service.poll_deadline(Instant::now() + Duration::from_secs(1)).unwrap().is_none());
    /// ```
    pub fn poll_deadline(&self, deadline: Instant) -> Result<Option<Completed<T>>, TimedOut> {
        self.poll_until(Some(deadline))
    }

    fn poll_until(&self, deadline: Option<Instant>) -> Result<Option<Completed<T>>, TimedOut> {
        match self
            .shared
            .recv(Block::Until(deadline), None, |q| q.pop_front())
        {
            Some(done) => Ok(done),
            // `recv` gives up at once when nothing is outstanding, else at the
            // deadline.
            None if self.outstanding() == 0 => Ok(None),
            None => Err(TimedOut),
        }
    }

    /// Every result ready now, in completion order; never blocks. A consumer
    /// that wakes up rarely can take everything at once (one lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::with_executor(executor_core::integration::InlineExecutor);
    /// for i in 0..3 {
    ///     service.submit(move || i).unwrap();
    /// }
    /// let all: Vec<i32> = service.drain_ready().into_iter().map(|d| d.get().unwrap()).collect();
    /// assert_eq!(all, [0, 1, 2]);
    /// ```
    pub fn drain_ready(&self) -> Vec<Completed<T>> {
        self.shared
            .recv(Block::No, None, |q| Vec::from(std::mem::take(q)))
            .unwrap_or_default()
    }

    /// Tasks submitted and not yet taken: pending ones plus results waiting to be
    /// taken. A snapshot: other threads may change it at any time.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::with_executor(executor_core::integration::InlineExecutor);
    /// service.submit(|| ()).unwrap();
    /// assert_eq!((service.outstanding(), service.pending(), service.ready()), (1, 0, 1));
    /// service.take().unwrap();
    /// assert_eq!(service.outstanding(), 0);
    /// assert!(service.is_empty());
    /// ```
    pub fn outstanding(&self) -> usize {
        self.shared.outstanding()
    }

    /// Same as [`outstanding`](CompletionService::outstanding).
    pub fn len(&self) -> usize {
        self.outstanding()
    }

    /// True when nothing is outstanding (`take` would return `None`).
    pub fn is_empty(&self) -> bool {
        self.outstanding() == 0
    }

    /// Tasks accepted and not finished yet.
    pub fn pending(&self) -> usize {
        self.shared.pending()
    }

    /// Results ready to be taken.
    pub fn ready(&self) -> usize {
        self.shared.ready()
    }

    /// Cancels the task `id` if it was submitted here and is not done: true iff
    /// this call cancelled it (see [`TaskHandle::cancel`]). It is then delivered
    /// as cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::new(executor_core::ThreadPool::new(1).unwrap());
    /// let (tx, rx) = channel::<()>();
    /// service.submit(move || { rx.recv().unwrap(); 1 }).unwrap();
    /// let queued = service.submit(|| unreachable!("cancelled before it started")).unwrap();
    /// assert!(service.cancel(queued));
    /// let done = service.take().unwrap();
    /// assert!(done.id() == queued && done.is_cancelled());
    /// tx.send(()).unwrap();
    /// assert_eq!(service.take().unwrap().get().unwrap(), 1);
    /// ```
    pub fn cancel(&self, id: TaskId) -> bool {
        self.shared.task(id.as_u64()).is_some_and(|t| t.cancel())
    }

    /// Cancels every task submitted so far that is not done yet, and returns how
    /// many this call cancelled. Queued tasks never run; running ones see
    /// [`executor_futures::is_cancelled`]. Each is still delivered, as cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::new(executor_core::ThreadPool::new(1).unwrap());
    /// let (started_tx, started_rx) = channel();
    /// service
    ///     .submit(move || {
    ///         started_tx.send(()).unwrap();
    ///         while !executor_futures::is_cancelled() {
    ///             std::thread::yield_now();
    ///         }
    ///     })
    ///     .unwrap();
    /// started_rx.recv().unwrap();
    /// for _ in 0..3 {
    ///     service.submit(|| ()).unwrap();
    /// }
    /// assert_eq!(service.cancel_all(), 4);
    /// assert_eq!(service.iter().filter(|d| d.is_cancelled()).count(), 4);
    /// ```
    pub fn cancel_all(&self) -> usize {
        self.shared
            .take_tasks()
            .into_iter()
            // Newest first: queued tasks are cancelled before the running ones
            // (older), so a worker freed by a cancel finds no live queued task.
            .rev()
            .filter(TaskRef::cancel)
            .count()
    }

    /// A blocking iterator over results in completion order; it ends when nothing
    /// is outstanding. It takes every ready result at each wake-up (while it
    /// holds them they are not available to other consumers, nor counted by
    /// [`outstanding`](CompletionService::outstanding)); dropping it, also
    /// after a `break` or a panic in the loop body, gives back those it did not
    /// yield, in completion order. Same as `&service` in a `for`.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::new(executor_core::ThreadPool::new(2).unwrap());
    /// for i in 0..5u64 {
    ///     service.submit(move || i * i).unwrap();
    /// }
    /// let mut sum = 0;
    /// for done in &service {
    ///     sum += done.get().unwrap();
    /// }
    /// assert_eq!(sum, 30);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter::new(&self.shared, self.helper())
    }

    /// The results as a [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html), in completion order; it ends
    /// (`None`) when nothing is outstanding. Works on any runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::new(executor_core::ThreadPool::new(2).unwrap());
    /// for i in 0..4 {
    ///     service.submit(move || i).unwrap();
    /// }
    /// let sum = futures::executor::block_on(
    ///     service.stream().map(|d| d.get().unwrap()).fold(0, |a, b| async move { a + b }),
    /// );
    /// assert_eq!(sum, 6);
    /// ```
    pub fn stream(&self) -> CompletionStream<'_, T> {
        CompletionStream::new(&self.shared)
    }

    /// The results as an owned stream (e.g. to move into a spawned task); the
    /// service is dropped with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::new(executor_core::ThreadPool::new(1).unwrap());
    /// service.submit(|| 1).unwrap();
    /// let all: Vec<_> = futures::executor::block_on(service.into_stream().collect::<Vec<_>>());
    /// assert_eq!(all.len(), 1);
    /// ```
    pub fn into_stream(self) -> IntoStream<T, E> {
        IntoStream::new(self)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared<T>> {
        &self.shared
    }

    /// The pool to help while waiting for a result, if helping.
    pub(crate) fn helper(&self) -> Option<&PoolRef> {
        self.helper.as_ref()
    }
}

impl<'a, T, E> IntoIterator for &'a CompletionService<T, E> {
    type Item = Completed<T>;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T, E> IntoIterator for CompletionService<T, E> {
    type Item = Completed<T>;
    type IntoIter = IntoIter<T, E>;

    /// An owning blocking iterator; dropping it drops the service.
    fn into_iter(self) -> IntoIter<T, E> {
        IntoIter::new(self)
    }
}

impl<T, E> Drop for CompletionService<T, E> {
    fn drop(&mut self) {
        let (tasks, queue) = self.shared.close();
        // Newest first, as in `cancel_all`.
        for task in tasks.into_iter().rev() {
            task.cancel();
        }
        for item in queue {
            quietly(move || drop(item));
        }
    }
}

impl<T, E> fmt::Debug for CompletionService<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (takers, submitters) = self.shared.waiting();
        f.debug_struct("CompletionService")
            .field("pending", &self.pending())
            .field("ready", &self.ready())
            .field("capacity", &self.capacity())
            .field("helping", &self.helper.is_some())
            .field("waiting_consumers", &takers)
            .field("waiting_submitters", &submitters)
            .finish_non_exhaustive()
    }
}
