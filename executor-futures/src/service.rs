//! [`ExecutorService`]: `submit`, `spawn` and the bulk operations for every
//! [`Executor`], and [`Spawner`](crate::integration::Spawner), the `futures::task::Spawn` adapter.

use crate::async_task::AsyncWork;
use crate::bulk;
use crate::cell_arc::{upcast, CellArc};
use crate::error::{BatchRejected, Failure, InvokeAnyError};
use crate::handle::{TaskHandle, TaskId, TaskRef};
use crate::task::{Call, Hook, NoHook, OnComplete, TaskCell, TaskCore, Work};
use crate::wait_set::{refused_inputs, MapCall};
use crate::Callable;
use executor_core::integration::Executor;
use executor_core::Rejected;
use futures_task::{FutureObj, Spawn, SpawnError};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Queues a new cell; on rejection takes its work back out for the caller.
#[inline]
fn queue<E, W, T, H>(
    exec: &E,
    (work, shared): (W, W::Shared),
    hook: H,
) -> Result<CellArc<TaskCell<W, T, H>>, Rejected<W>>
where
    E: Executor + ?Sized,
    W: Work<T>,
    T: Send + 'static,
    H: Hook<T>,
{
    let (cell, job) = TaskCell::new_queued(work, shared, hook);
    match exec.execute_job(job) {
        Ok(()) => Ok(cell),
        Err(rejected) => {
            let reason = rejected.reason();
            // Reclaim first: dropping the job would abandon (cancel) the cell.
            let work = cell.reclaim();
            drop(rejected);
            Err(Rejected::new(work, reason))
        }
    }
}

/// Queues new cells as one batch ([`Executor::execute_jobs`]); on a refusal
/// takes the refused cells' work back out for the caller, in order.
#[allow(clippy::type_complexity)]
fn queue_all<E, W, T, H>(
    exec: &E,
    mut tasks: impl Iterator<Item = (W, H)>,
) -> Result<
    Vec<(CellArc<TaskCell<W, T, H>>, TaskId)>,
    BatchRejected<(CellArc<TaskCell<W, T, H>>, TaskId), W>,
>
where
    E: Executor + ?Sized,
    W: Work<T, Shared = ()>,
    T: Send + 'static,
    H: Hook<T>,
{
    let (lower, _) = tasks.size_hint();
    let mut cells = Vec::with_capacity(lower);
    // The first task is queued on its own, before the rest are built: the pool
    // starts it while they are, so the batch's first result does not wait for
    // the whole batch to be allocated.
    if let Some((work, hook)) = tasks.next() {
        match queue(exec, (work, ()), hook) {
            Ok(cell) => {
                let id = TaskCore::id(&*cell);
                cells.push((cell, id));
            }
            Err(rejected) => {
                let reason = rejected.reason();
                let refused = std::iter::once(rejected.into_inner())
                    .chain(tasks.map(|(work, _)| work))
                    .collect();
                return Err(BatchRejected::new(cells, Rejected::new(refused, reason)));
            }
        }
    }
    let mut jobs = Vec::with_capacity(lower.saturating_sub(1));
    for (work, hook) in tasks {
        let (cell, job) = TaskCell::new_queued(work, (), hook);
        // Read while the new cell is in cache: the handles carry it.
        let id = TaskCore::id(&*cell);
        jobs.push(job);
        cells.push((cell, id));
    }
    match exec.execute_jobs(jobs) {
        Ok(()) => Ok(cells),
        Err(rejected) => {
            let reason = rejected.reason();
            let jobs = rejected.into_inner();
            // Reclaim first: dropping a job would abandon (cancel) its cell.
            let refused: Vec<W> = cells
                .drain(cells.len() - jobs.len()..)
                .map(|(cell, _)| cell.reclaim())
                .collect();
            drop(jobs);
            Err(BatchRejected::new(cells, Rejected::new(refused, reason)))
        }
    }
}

/// `map` and `map_timeout`.
fn map_inner<E, I, F, U>(
    exec: &E,
    inputs: I,
    f: F,
    deadline: Option<Instant>,
) -> Result<crate::MapResults<U>, Rejected<Vec<I::Item>>>
where
    E: Executor + ?Sized,
    I: IntoIterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> U + Send + Sync + 'static,
    U: Send + 'static,
{
    let f = Arc::new(f);
    let calls = inputs.into_iter().map(|input| MapCall {
        f: f.clone(),
        input,
    });
    match queue_all(exec, calls.map(|c| (Call(c), NoHook))) {
        Ok(cells) => Ok(crate::MapResults::new(
            cells
                .into_iter()
                .map(|(c, _)| TaskHandle::from_raw(upcast!(c)))
                .collect(),
            deadline,
        )),
        Err(e) => {
            let (accepted, refused) = e.into_parts();
            for (cell, _) in accepted {
                TaskHandle::from_raw(upcast!(cell)).cancel();
            }
            Err(refused_inputs(
                refused.map(|calls| calls.into_iter().map(|Call(c)| c).collect()),
            ))
        }
    }
}

fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Typed tasks on any [`Executor`]: Java's `ExecutorService` (`submit`,
/// `invokeAll`, `invokeAny`) plus async tasks.
///
/// Implemented for every `Executor` (a [`ThreadPool`](executor_core::ThreadPool),
/// `&E`, `Arc<E>`, [`InlineExecutor`](executor_core::integration::InlineExecutor), ...): bring
/// it into scope and call `pool.submit(...)`.
///
/// Every accepted task is one allocation (the task cell, which is also the job the
/// pool queues). Rejections hand the callable (or future) back in [`Rejected`].
///
/// # Examples
///
/// ```
/// use executor_futures::ExecutorService;
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let handles: Vec<_> = (0..4u64).map(|i| pool.submit(move || i * i).unwrap()).collect();
/// let squares: Vec<u64> = handles.into_iter().map(|h| h.get().unwrap()).collect();
/// assert_eq!(squares, [0, 1, 4, 9]);
/// ```
pub trait ExecutorService: Executor {
    /// Submits `task` and returns its [`TaskHandle`].
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding `task` (never run) when the executor refuses it, e.g.
    /// after `shutdown`.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// assert_eq!(pool.submit(|| 42).unwrap().get().unwrap(), 42);
    /// pool.shutdown();
    /// let rejected = pool.submit(|| 43).unwrap_err();
    /// assert_eq!(rejected.into_inner()(), 43); // the closure comes back unrun
    /// ```
    #[inline]
    fn submit<C, T>(&self, task: C) -> Result<TaskHandle<T>, Rejected<C>>
    where
        C: Callable<T> + Send + 'static,
        T: Send + 'static,
    {
        match queue(self, (Call(task), ()), NoHook) {
            Ok(cell) => Ok(TaskHandle::from_raw(upcast!(cell))),
            Err(rejected) => Err(rejected.map(|Call(task)| task)),
        }
    }

    /// Submits `task` with a completion hook: `on_complete` receives the task's
    /// (done) [`TaskHandle`] exactly once, whatever the ending — it returned,
    /// panicked, was cancelled (also while running: then at cancel time), or its
    /// job was dropped unrun (`shutdown_now`, a refused re-queue). The hook runs on
    /// the thread that made the task done (a worker, or the cancelling thread),
    /// after every waiter was woken; a panic in it is caught and reported through
    /// `tracing`. The caller gets a [`TaskRef`] for cancelling and waiting.
    ///
    /// A task that can never finish because nothing references it any more (an
    /// async task of [`spawn_with`](ExecutorService::spawn_with) waiting for a
    /// wake that no one can send) is abandoned: its hook runs, once its work was
    /// dropped, on the thread that released the last reference, with a handle
    /// that has the task's id and returns
    /// [`Err(TaskError::Cancelled)`](crate::TaskError::Cancelled).
    ///
    /// This is the building block of completion services (Java's
    /// `FutureTask.done()`): the hook owns the result and can queue the handle.
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding `task`; `on_complete` is then dropped without running.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    /// use executor_futures::ExecutorService;
    ///
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let (tx, rx) = channel();
    /// for i in 0..3u32 {
    ///     let tx = tx.clone();
    ///     pool.submit_with(move || i * 10, move |handle| tx.send(handle).unwrap()).unwrap();
    /// }
    /// let mut results: Vec<u32> = rx.iter().take(3).map(|h| h.get().unwrap()).collect();
    /// results.sort();
    /// assert_eq!(results, [0, 10, 20]);
    /// ```
    fn submit_with<C, T, F>(&self, task: C, on_complete: F) -> Result<TaskRef, Rejected<C>>
    where
        C: Callable<T> + Send + 'static,
        T: Send + 'static,
        F: FnOnce(TaskHandle<T>) + Send + 'static,
    {
        match queue(self, (Call(task), ()), OnComplete(on_complete)) {
            Ok(cell) => Ok(TaskRef::from_core(upcast!(cell))),
            Err(rejected) => Err(rejected.map(|Call(task)| task)),
        }
    }

    /// Submits several callables as one batch and returns their handles, in
    /// order: Python's `[pool.submit(f) for f in fs]` for the price of fewer
    /// synchronisations. The first task is submitted on its own as soon as it
    /// is built, so the pool starts it while the others are built: the batch's
    /// first result does not wait for the whole batch. The others are then
    /// queued as one submission (see [`Executor::execute_jobs`]): on a
    /// [`ThreadPool`](executor_core::ThreadPool) called from outside its
    /// workers, accepted or refused whole with one lifecycle handshake, at a
    /// cost that does not grow with their number. Each task is otherwise
    /// exactly a [`submit`](ExecutorService::submit)ted one. The tasks after the
    /// first are all allocated before any of them is queued, so the batch is
    /// held in memory at once.
    ///
    /// # Errors
    ///
    /// [`BatchRejected`] with the handles of the tasks accepted before the
    /// executor refused one (from a `ThreadPool` called from outside: none, or
    /// the first task alone when the pool shut down between the two
    /// submissions) and the refused callables, unrun, in order.
    ///
    /// # Panics
    ///
    /// If iterating `tasks` panics, the panic propagates. The first task, if it
    /// was built, was queued and runs; the callables taken after it are dropped
    /// unrun.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let handles = pool.submit_all((1..=4).map(|i| move || i * i)).unwrap();
    /// let squares: Vec<u32> = handles.into_iter().map(|h| h.get().unwrap()).collect();
    /// assert_eq!(squares, [1, 4, 9, 16]);
    /// ```
    #[allow(clippy::type_complexity)]
    fn submit_all<I, C, T>(
        &self,
        tasks: I,
    ) -> Result<Vec<TaskHandle<T>>, BatchRejected<TaskHandle<T>, C>>
    where
        I: IntoIterator<Item = C>,
        C: Callable<T> + Send + 'static,
        T: Send + 'static,
    {
        queue_all(self, tasks.into_iter().map(|task| (Call(task), NoHook)))
            .map(|cells| {
                cells
                    .into_iter()
                    .map(|(c, _)| TaskHandle::from_raw(upcast!(c)))
                    .collect()
            })
            .map_err(|e| e.map(|(c, _)| TaskHandle::from_raw(upcast!(c)), |Call(task)| task))
    }

    /// [`submit_with`](ExecutorService::submit_with) for a batch: each callable
    /// comes with its own completion hook, and the batch is queued as in
    /// [`submit_all`](ExecutorService::submit_all). A refused task's hook is
    /// dropped without running, as with `submit_with`.
    ///
    /// # Errors
    ///
    /// As [`submit_all`](ExecutorService::submit_all), with [`TaskRef`]s.
    ///
    /// # Panics
    ///
    /// If iterating `tasks` panics, the panic propagates. The first task, if it
    /// was built, was queued and runs; the others built before the panic end
    /// cancelled, so their hooks run (with a cancelled handle), exactly once as
    /// always.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let (tx, rx) = channel();
    /// let batch = (0..3u32).map(|i| {
    ///     let tx = tx.clone();
    ///     (move || i + 1, move |h: executor_futures::TaskHandle<u32>| tx.send(h.get().unwrap()).unwrap())
    /// });
    /// let refs = pool.submit_all_with(batch).unwrap();
    /// assert_eq!(refs.len(), 3);
    /// let mut got: Vec<u32> = rx.iter().take(3).collect();
    /// got.sort();
    /// assert_eq!(got, [1, 2, 3]);
    /// ```
    #[allow(clippy::type_complexity)]
    fn submit_all_with<I, C, T, F>(
        &self,
        tasks: I,
    ) -> Result<Vec<TaskRef>, BatchRejected<TaskRef, C>>
    where
        I: IntoIterator<Item = (C, F)>,
        C: Callable<T> + Send + 'static,
        T: Send + 'static,
        F: FnOnce(TaskHandle<T>) + Send + 'static,
    {
        queue_all(
            self,
            tasks
                .into_iter()
                .map(|(task, hook)| (Call(task), OnComplete(hook))),
        )
        .map(|cells| {
            cells
                .into_iter()
                .map(|(c, id)| TaskRef::from_core_with_id(upcast!(c), id))
                .collect()
        })
        .map_err(|e| {
            e.map(
                |(c, id)| TaskRef::from_core_with_id(upcast!(c), id),
                |Call(task)| task,
            )
        })
    }

    /// Submits `f` to run once every dependency in `deps` is done, with their
    /// values in order: a task whose dependencies are explicit instead of a
    /// thread blocked on them. Nothing waits meanwhile: `f` is registered on each
    /// dependency, and the completion of the last one (one atomic decrement per
    /// dependency) queues it on the worker that completed it. With no
    /// dependencies, or all done already, it is queued on this executor at once.
    ///
    /// `deps` is a `Vec` or array of [`TaskHandle`]s (their values are moved
    /// into `f`'s `Vec`), or of [`TaskRef`]s (order only: `f` receives a `()`
    /// per reference); see [`Deps`](crate::Deps). A dependency may belong to
    /// another pool: `f` then runs on the pool of whichever dependency completes
    /// last (a dependency completed off the pool, e.g. cancelled from another
    /// thread, runs `f` on that thread).
    ///
    /// Errors travel down as values and fail fast: as soon as one dependency
    /// fails, the returned handle resolves with its error (panic payload kept,
    /// or cancelled; [`TaskError::DependencyFailed`](crate::TaskError::DependencyFailed)
    /// for a `TaskRef`) and `f` never runs. A handle whose result was already
    /// taken gives [`TaskError::AlreadyTaken`](crate::TaskError::AlreadyTaken).
    /// Never a `Result`: a refusal by the pool (shut down) is reported in the
    /// handle as [`TaskError::Rejected`](crate::TaskError::Rejected), so nothing
    /// is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let a = pool.submit(|| 20).unwrap();
    /// let b = pool.submit(|| 22).unwrap();
    /// let sum = pool.submit_after(vec![a, b], |v| v[0] + v[1]);
    /// assert_eq!(sum.get().unwrap(), 42);
    ///
    /// // Order only: one task before two others.
    /// let setup = pool.submit(|| ()).unwrap();
    /// let x = pool.submit_after([setup.task_ref()], |_| "x");
    /// let y = pool.submit_after([setup.task_ref()], |_| "y");
    /// assert_eq!((x.get().unwrap(), y.get().unwrap()), ("x", "y"));
    /// ```
    fn submit_after<D, T, U, F>(&self, deps: D, f: F) -> TaskHandle<U>
    where
        D: Into<crate::Deps<T>>,
        T: Send + 'static,
        U: Send + 'static,
        F: FnOnce(Vec<T>) -> U + Send + 'static,
    {
        crate::combinators::submit_after(self, deps.into(), f)
    }

    /// Python's `Executor.map`: calls `f` on every input, in parallel, and
    /// returns an iterator over the results in input order (each a `Result`:
    /// a call that panicked yields [`MapError::Task`](crate::MapError::Task)).
    /// The calls are submitted as one batch before this returns; dropping the
    /// iterator cancels the calls whose results were not taken. An empty input
    /// gives an empty iterator.
    ///
    /// # Errors
    ///
    /// If the executor refuses the batch: the calls it accepted are cancelled
    /// and [`Rejected`] holds the inputs it did not accept, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let lengths: Vec<usize> = pool
    ///     .map(["a", "bb", "ccc"], str::len)
    ///     .unwrap()
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(lengths, [1, 2, 3]);
    /// ```
    fn map<I, F, U>(&self, inputs: I, f: F) -> Result<crate::MapResults<U>, Rejected<Vec<I::Item>>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> U + Send + Sync + 'static,
        U: Send + 'static,
    {
        map_inner(self, inputs, f, None)
    }

    /// [`map`](ExecutorService::map) with an overall timeout, measured from
    /// this call (Python's `Executor.map(timeout=)`): the first result not ready
    /// by then is [`MapError::TimedOut`](crate::MapError::TimedOut), every call
    /// not finished is cancelled, and the iteration ends there.
    ///
    /// # Errors
    ///
    /// As [`map`](ExecutorService::map).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_futures::{is_cancelled, ExecutorService};
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let results: Vec<_> = pool
    ///     .map_timeout([0u32, 1], |x| {
    ///         while x == 1 && !is_cancelled() {
    ///             std::thread::yield_now(); // the second call never finishes by itself
    ///         }
    ///         x
    ///     }, Duration::from_millis(20))
    ///     .unwrap()
    ///     .collect();
    /// assert_eq!(results.len(), 2);
    /// assert_eq!(*results[0].as_ref().unwrap(), 0);
    /// assert!(results[1].as_ref().unwrap_err().is_timed_out());
    /// ```
    fn map_timeout<I, F, U>(
        &self,
        inputs: I,
        f: F,
        timeout: Duration,
    ) -> Result<crate::MapResults<U>, Rejected<Vec<I::Item>>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> U + Send + Sync + 'static,
        U: Send + 'static,
    {
        map_inner(self, inputs, f, deadline_after(timeout))
    }

    /// Runs `future` on the executor as an async task and returns its handle.
    ///
    /// The task is polled on the executor's threads; each wake re-queues it (with
    /// [`Executor::requeue_job`], so an accepted task can finish after `shutdown`).
    /// If a re-queue is refused (the pool was stopped) the task resolves as
    /// cancelled and its future is dropped; so does a task still waiting for a
    /// wake when the pool terminates (see [`Executor::on_termination_job`]);
    /// cancelling drops the future too.
    /// [`is_cancelled`](crate::is_cancelled) works inside its `poll`.
    ///
    /// The task keeps the executor's non-owning handle
    /// ([`Executor::pool_ref`]; a clone when it has none), so it never keeps a
    /// pool open: dropping the last `ThreadPool` closes the pool, and the tasks
    /// still waiting for a wake then are cancelled at its termination. A future
    /// that spawns more tasks should capture
    /// [`pool.downgrade()`](executor_core::ThreadPool::downgrade), not a pool
    /// clone, for the same reason.
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding `future` (never polled) when the executor refuses it.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let inner = pool.submit(|| 20).unwrap();
    /// let outer = pool.spawn(async move { inner.await.unwrap() + 1 }).unwrap();
    /// assert_eq!(outer.get().unwrap(), 21);
    /// ```
    fn spawn<F>(&self, future: F) -> Result<TaskHandle<F::Output>, Rejected<F>>
    where
        Self: Clone + Sized + 'static,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match queue(self, AsyncWork::new(future, self), NoHook) {
            Ok(cell) => Ok(TaskHandle::from_raw(upcast!(cell))),
            Err(rejected) => Err(rejected.map(|w| w.into_future().expect("never polled"))),
        }
    }

    /// [`spawn`](ExecutorService::spawn) with a completion hook; see
    /// [`submit_with`](ExecutorService::submit_with).
    ///
    /// The hook runs however the task ends, also if it is abandoned: it returned
    /// `Pending` without keeping its waker anywhere, and the returned [`TaskRef`]
    /// was dropped, so nothing can wake it any more. The future is then dropped,
    /// and the hook runs with a cancelled handle, on the thread that released the
    /// task's last reference (the one dropping the `TaskRef` or a waker, or the
    /// worker finishing the poll).
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding `future`; `on_complete` is dropped without running.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let (tx, rx) = channel();
    /// pool.spawn_with(async { 5 }, move |h| tx.send(h.get().unwrap()).unwrap()).unwrap();
    /// assert_eq!(rx.recv().unwrap(), 5);
    /// ```
    fn spawn_with<F, H>(&self, future: F, on_complete: H) -> Result<TaskRef, Rejected<F>>
    where
        Self: Clone + Sized + 'static,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        H: FnOnce(TaskHandle<F::Output>) + Send + 'static,
    {
        match queue(self, AsyncWork::new(future, self), OnComplete(on_complete)) {
            Ok(cell) => Ok(TaskRef::from_core(upcast!(cell))),
            Err(rejected) => Err(rejected.map(|w| w.into_future().expect("never polled"))),
        }
    }

    /// A [`Spawner`](crate::integration::Spawner): this executor as a `futures::task::Spawn`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::task::SpawnExt;
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// pool.spawner().spawn(async move { tx.send(1).unwrap() }).unwrap();
    /// assert_eq!(rx.recv().unwrap(), 1);
    /// ```
    fn spawner(&self) -> Spawner<Self>
    where
        Self: Clone + Sized + 'static,
    {
        Spawner { exec: self.clone() }
    }

    /// Submits every task (as one batch: see
    /// [`submit_all`](ExecutorService::submit_all)), waits until all are done,
    /// and returns their handles in input order (all done). On a pool worker the
    /// waits run not-yet-started tasks inline, so this works from inside a task
    /// on a 1-thread pool.
    ///
    /// # Errors
    ///
    /// If the executor refuses a task: the tasks already accepted are cancelled
    /// (from a `ThreadPool` called from outside: none, or the first task, which
    /// is submitted on its own and may already have run), and [`Rejected`]
    /// holds the refused callable followed by those not yet submitted, in input
    /// order.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let handles = pool.invoke_all((0..5).map(|i| move || i * 2)).unwrap();
    /// assert!(handles.iter().all(|h| h.is_done()));
    /// let values: Vec<i32> = handles.into_iter().map(|h| h.get().unwrap()).collect();
    /// assert_eq!(values, [0, 2, 4, 6, 8]);
    /// ```
    fn invoke_all<I, C, T>(&self, tasks: I) -> Result<Vec<TaskHandle<T>>, Rejected<Vec<C>>>
    where
        I: IntoIterator<Item = C>,
        C: Callable<T> + Send + 'static,
        T: Send + 'static,
    {
        bulk::invoke_all(self, tasks, None)
    }

    /// [`invoke_all`](ExecutorService::invoke_all) with a deadline: the tasks not
    /// done when `timeout` passes are cancelled (running ones see
    /// [`is_cancelled`](crate::is_cancelled)), so every returned handle is done.
    ///
    /// # Errors
    ///
    /// As [`invoke_all`](ExecutorService::invoke_all).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_futures::{is_cancelled, ExecutorService};
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let slow = || {
    ///     while !is_cancelled() {
    ///         std::thread::yield_now();
    ///     }
    ///     0
    /// };
    /// let tasks: Vec<Box<dyn FnOnce() -> i32 + Send>> = vec![Box::new(|| 1), Box::new(slow)];
    /// let handles = pool.invoke_all_timeout(tasks, Duration::from_millis(20)).unwrap();
    /// assert!(!handles[0].is_cancelled() && handles[1].is_cancelled());
    /// ```
    fn invoke_all_timeout<I, C, T>(
        &self,
        tasks: I,
        timeout: Duration,
    ) -> Result<Vec<TaskHandle<T>>, Rejected<Vec<C>>>
    where
        I: IntoIterator<Item = C>,
        C: Callable<T> + Send + 'static,
        T: Send + 'static,
    {
        let deadline = deadline_after(timeout);
        bulk::invoke_all(self, tasks, deadline)
    }

    /// Submits every task and returns the value of the first one that finishes
    /// without panicking; the others are cancelled.
    ///
    /// # Errors
    ///
    /// [`InvokeAnyError::Empty`] at once for no tasks; [`InvokeAnyError::AllFailed`]
    /// with every [`TaskError`](crate::TaskError) (input order) when all panicked or were cancelled;
    /// [`InvokeAnyError::Rejected`] when the executor refused a task.
    ///
    /// # Panics
    ///
    /// If iterating `tasks` panics, the panic propagates after the tasks
    /// already submitted are cancelled: those not started never run (their
    /// callables are dropped), a running one sees
    /// [`is_cancelled`](crate::is_cancelled) and its value is dropped. The
    /// same holds for every variant of `invoke_any`.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let tasks: Vec<Box<dyn FnOnce() -> &'static str + Send>> =
    ///     vec![Box::new(|| panic!("no")), Box::new(|| "yes")];
    /// assert_eq!(pool.invoke_any(tasks).unwrap(), "yes");
    /// ```
    fn invoke_any<I, C, T>(&self, tasks: I) -> Result<T, InvokeAnyError>
    where
        I: IntoIterator<Item = C>,
        C: Callable<T> + Send + 'static,
        T: Send + 'static,
    {
        bulk::invoke_any(self, tasks, None, Ok, |e| e)
    }

    /// [`invoke_any`](ExecutorService::invoke_any) with a deadline.
    ///
    /// # Errors
    ///
    /// As [`invoke_any`](ExecutorService::invoke_any), plus
    /// [`InvokeAnyError::TimedOut`] when no task succeeded in time (all are then
    /// cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_futures::{is_cancelled, ExecutorService};
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let never = || {
    ///     while !is_cancelled() {
    ///         std::thread::yield_now();
    ///     }
    /// };
    /// let err = pool.invoke_any_timeout([never], Duration::from_millis(10)).unwrap_err();
    /// assert!(err.is_timed_out());
    /// ```
    fn invoke_any_timeout<I, C, T>(&self, tasks: I, timeout: Duration) -> Result<T, InvokeAnyError>
    where
        I: IntoIterator<Item = C>,
        C: Callable<T> + Send + 'static,
        T: Send + 'static,
    {
        bulk::invoke_any(self, tasks, deadline_after(timeout), Ok, |e| e)
    }

    /// [`invoke_any`](ExecutorService::invoke_any) for callables returning
    /// `Result<T, E>`, where an `Err` counts as a failure too: the first `Ok` wins.
    /// Waits as long as it takes ([`invoke_any_ok_timeout`](ExecutorService::invoke_any_ok_timeout)
    /// bounds it).
    ///
    /// # Errors
    ///
    /// As [`invoke_any`](ExecutorService::invoke_any), with each failure a
    /// [`Failure<E>`] (the callable's own error kept unchanged).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::{ExecutorService, Failure};
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let parse = |s: &'static str| move || s.parse::<u8>();
    /// assert_eq!(pool.invoke_any_ok([parse("x"), parse("7")]).unwrap(), 7);
    /// let err = pool.invoke_any_ok([parse("x"), parse("y")]).unwrap_err();
    /// assert!(err.failures().unwrap().iter().all(Failure::is_failed));
    /// ```
    fn invoke_any_ok<I, C, T, E>(&self, tasks: I) -> Result<T, InvokeAnyError<Failure<E>>>
    where
        I: IntoIterator<Item = C>,
        C: Callable<Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        bulk::invoke_any_ok(self, tasks, None)
    }

    /// [`invoke_any_ok`](ExecutorService::invoke_any_ok) that gives up after
    /// `timeout`, as [`invoke_any_timeout`](ExecutorService::invoke_any_timeout).
    ///
    /// # Errors
    ///
    /// As [`invoke_any_timeout`](ExecutorService::invoke_any_timeout)
    /// ([`InvokeAnyError::TimedOut`] when no task succeeded in time), with each
    /// failure a [`Failure<E>`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let parse = |s: &'static str| move || s.parse::<u8>();
    /// let first = pool.invoke_any_ok_timeout([parse("x"), parse("7")], Duration::from_secs(10));
    /// assert_eq!(first.unwrap(), 7);
    /// ```
    fn invoke_any_ok_timeout<I, C, T, E>(
        &self,
        tasks: I,
        timeout: Duration,
    ) -> Result<T, InvokeAnyError<Failure<E>>>
    where
        I: IntoIterator<Item = C>,
        C: Callable<Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        bulk::invoke_any_ok(self, tasks, deadline_after(timeout))
    }
}

impl<E: Executor + ?Sized> ExecutorService for E {}

/// An executor as a [`futures::task::Spawn`](futures_task::Spawn): spawned
/// futures run as detached async tasks (see [`ExecutorService::spawn`]).
///
/// A `Spawner` holds its executor like any clone (a `Spawner<ThreadPool>` keeps
/// the pool open); the tasks it spawns do not (see [`ExecutorService::spawn`]).
/// To hand one to futures, make it from a non-owning
/// [`PoolRef`](executor_core::PoolRef): `pool.downgrade().spawner()`.
///
/// Why a newtype: `Spawn` (futures-task) and `ThreadPool` (executor-core) are both
/// foreign to this crate, so the orphan rule forbids `impl Spawn for ThreadPool`
/// here; `Spawner<E>` is local and works for every executor.
///
/// # Examples
///
/// ```
/// use futures::task::SpawnExt;
/// use executor_futures::integration::Spawner;
/// use executor_futures::ExecutorService;
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let spawner: Spawner<_> = pool.spawner();
/// let (tx, rx) = std::sync::mpsc::channel();
/// for i in 0..3 {
///     let tx = tx.clone();
///     spawner.spawn(async move { tx.send(i).unwrap() }).unwrap();
/// }
/// let mut got: Vec<i32> = rx.iter().take(3).collect();
/// got.sort();
/// assert_eq!(got, [0, 1, 2]);
/// ```
#[derive(Clone, Debug)]
pub struct Spawner<E> {
    exec: E,
}

impl<E: Executor + Clone + 'static> Spawner<E> {
    /// A spawner for `exec`.
    pub fn new(exec: E) -> Spawner<E> {
        Spawner { exec }
    }

    /// The executor the futures run on.
    pub fn executor(&self) -> &E {
        &self.exec
    }
}

impl<E: Executor + Clone + 'static> Spawn for Spawner<E> {
    /// Spawns a detached task.
    ///
    /// # Errors
    ///
    /// [`SpawnError::shutdown`](https://docs.rs/futures-task/0.3/futures_task/struct.SpawnError.html#method.shutdown) when the executor refuses it.
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), SpawnError> {
        match self.exec.spawn(future) {
            Ok(handle) => {
                drop(handle);
                Ok(())
            }
            Err(_) => Err(SpawnError::shutdown()),
        }
    }
}
