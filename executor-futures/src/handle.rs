//! [`TaskHandle`]: the typed result of a submitted task (Java's `Future`, Python's
//! `concurrent.futures.Future`), and [`TaskRef`], a cloneable untyped reference for
//! cancelling and waiting.
//!
//! ## Waiting
//!
//! Every blocking wait goes through one routine:
//!
//! 1. done? return at once (no lock, no allocation);
//! 2. the awaited task runs on this thread, below the caller (the caller is the
//!    task, or nested inside it)? refuse with [`WouldDeadlock`];
//! 3. spin briefly (≈15 µs at most), re-checking: tasks are often short, and
//!    parking and unparking costs tens of microseconds;
//! 4. register a [`Waiter`] with the cell, then
//!    [`executor_core::integration::wait_until`] the task is done. On a pool worker that
//!    wait runs only work it is owed: for an untimed wait, the jobs the
//!    waiting task pushed onto its own deque (its subtree, which holds the
//!    awaited task when the waiter submitted it from that worker); then it
//!    blocks, and the pool runs a spare worker in its place while work is
//!    queued (`executor_core`'s compensation). A timed wait runs nothing, so
//!    it returns within a small slack of its deadline. Elsewhere it parks. A
//!    timed wait that times out removes its registration again.
//!
//! A wait never runs an unrelated task, nor one of another pool, on the
//! waiting thread. Nested waits on a 1-thread pool complete: the awaited
//! child is on the waiter's own deque, or a spare worker runs it.
//! [`TaskRef::try_run`] runs a queued task on the calling thread on request
//! (Java's `FutureTask.run`).
//!
//! ## Dropping
//!
//! Dropping a handle detaches the task: it still runs; its output is dropped by
//! the completing thread (or at once, if already complete). A waker left by a
//! dropped `.await` is released at the same time.

use crate::cell_arc::CellArc;
use crate::current;
use crate::error::{Failure, GetTimeoutError, TaskError, WaitTimeoutError, WouldDeadlock};
use crate::state::{StateWord, TaskState};
use crate::task::{RawTask, TaskCore};
use executor_core::integration::Waiter;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The identity of a task: unique within the process, never reused.
///
/// # Examples
///
/// ```
/// use executor_futures::ExecutorService;
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let a = pool.submit(|| ()).unwrap();
/// let b = pool.submit(|| ()).unwrap();
/// assert_ne!(a.id(), b.id());
/// assert_eq!(a.id(), a.task_ref().id());
/// println!("{}", a.id()); // "task#…"
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(u64);

impl TaskId {
    /// Ids are handed out in blocks per thread, so that concurrent submitters do
    /// not contend on one counter.
    pub(crate) fn next() -> TaskId {
        const BLOCK: u64 = 1024;
        static NEXT: AtomicU64 = AtomicU64::new(1);
        thread_local! {
            static RANGE: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
        }
        let id = RANGE
            .try_with(|r| {
                let (next, end) = r.get();
                if next < end {
                    r.set((next + 1, end));
                    next
                } else {
                    let start = NEXT.fetch_add(BLOCK, Ordering::Relaxed);
                    r.set((start + 1, start + BLOCK));
                    start
                }
            })
            .unwrap_or_else(|_| NEXT.fetch_add(1, Ordering::Relaxed));
        TaskId(id)
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task#{}", self.0)
    }
}

/// A timed wait's outcome as the timeout convention has it.
fn timed(done: Result<bool, WouldDeadlock>) -> Result<(), WaitTimeoutError> {
    match done {
        Ok(true) => Ok(()),
        Ok(false) => Err(WaitTimeoutError::TimedOut),
        Err(e) => Err(WaitTimeoutError::WouldDeadlock(e)),
    }
}

fn deadline_after(timeout: Duration) -> Option<Instant> {
    // A timeout too large to represent waits for as long as it takes.
    Instant::now().checked_add(timeout)
}

/// Before a non-worker thread parks: tasks are often short, so the awaited one is
/// often done within microseconds, while registering, parking and being unparked
/// costs tens of microseconds. The adaptive spin is `executor_core::integration::spin_until`.
fn spin_until_done(state: &StateWord, deadline: Option<Instant>) -> bool {
    executor_core::integration::spin_until(|| state.is_done(), deadline)
}

/// The one waiting routine (module docs). `Ok(true)`: done; `Ok(false)`: deadline.
fn wait_on<R: TaskCore + ?Sized>(
    task: &CellArc<R>,
    deadline: Option<Instant>,
) -> Result<bool, WouldDeadlock> {
    let state = task.state_word();
    if state.is_done() {
        return Ok(true);
    }
    if current::is_running_here(CellArc::as_ptr(task).cast::<()>()) {
        return Err(WouldDeadlock);
    }
    if spin_until_done(state, deadline) {
        return Ok(true);
    }
    let Some(key) = task.add_waiter(Waiter::current()) else {
        return Ok(true);
    };
    let done = executor_core::integration::wait_until(|| state.is_done(), deadline).is_ok();
    if !done {
        task.remove_waiter(key);
    }
    Ok(done)
}

/// The handle of a submitted task: wait for it, take its result, cancel it, or
/// `.await` it.
///
/// * [`get`](TaskHandle::get) blocks and consumes the handle;
///   [`get_timeout`](TaskHandle::get_timeout) keeps the handle (and the eventual
///   result) when it times out; [`try_get`](TaskHandle::try_get) never blocks.
/// * [`wait`](TaskHandle::wait) / [`wait_timeout`](TaskHandle::wait_timeout) take
///   `&self`, so several threads can wait on one handle; all of them are woken on
///   completion and on cancel.
/// * It is a [`Future`] with `Output = Result<T, TaskError>`, usable on any
///   runtime; the latest waker registered is the one woken.
/// * Dropping it detaches the task (it still runs; its output is dropped).
///
/// Waiting on a pool worker runs only the jobs the waiting task queued on its
/// own deque (an untimed wait), then blocks while the pool runs a spare
/// worker in its place; it never runs unrelated work (module docs).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use executor_futures::ExecutorService;
///
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let handle = pool.submit(|| "done").unwrap();
/// assert_eq!(handle.get().unwrap(), "done");
///
/// let mut handle = pool.submit(|| 7).unwrap();
/// assert_eq!(handle.get_timeout(Duration::from_secs(10)).unwrap(), 7);
///
/// let handle = pool.submit(|| 8).unwrap();
/// assert_eq!(futures::executor::block_on(handle).unwrap(), 8);
/// ```
pub struct TaskHandle<T> {
    raw: CellArc<dyn RawTask<T>>,
    /// The outcome was handed out (by `get_timeout`, `try_get` or `poll`).
    finished: bool,
}

impl<T> TaskHandle<T> {
    pub(crate) fn from_raw(raw: CellArc<dyn RawTask<T>>) -> Self {
        TaskHandle {
            raw,
            finished: false,
        }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.raw.id()
    }

    /// The task's current state.
    pub fn state(&self) -> TaskState {
        TaskState::from_bits(self.raw.state_word().load())
    }

    /// True once the task completed, panicked or was cancelled; then `get` returns
    /// at once. Never goes back to false.
    pub fn is_done(&self) -> bool {
        self.raw.state_word().is_done()
    }

    /// True if the task was cancelled (before or while running).
    pub fn is_cancelled(&self) -> bool {
        self.raw.state_word().is_cancelled()
    }

    /// Cancels the task. Returns true iff this call moved it to cancelled:
    ///
    /// * not started yet: it will never start; its closure (or future) is dropped
    ///   by this call;
    /// * running: its cancellation flag is raised ([`is_cancelled`](crate::is_cancelled)
    ///   turns true inside it) and its output will be dropped when it returns;
    /// * already done (or cancelled): false, nothing changes.
    ///
    /// Either way, every waiter is woken and the completion hook runs (on this
    /// thread) if this call cancelled the task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    /// use executor_futures::ExecutorService;
    ///
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let (tx, rx) = channel::<()>();
    /// let blocker = pool.submit(move || rx.recv().unwrap()).unwrap();
    /// let queued = pool.submit(|| unreachable!("cancelled before it started")).unwrap();
    /// assert!(queued.cancel());
    /// assert!(!queued.cancel()); // only the first cancel wins
    /// assert!(queued.is_cancelled() && queued.is_done());
    /// tx.send(()).unwrap();
    /// blocker.get().unwrap();
    /// assert!(queued.get().unwrap_err().is_cancelled());
    /// ```
    pub fn cancel(&self) -> bool {
        // A done task stays done: refuse it without the two reference-count
        // RMWs (clone, drop) of the cancel path.
        !self.is_done() && self.raw.cancel()
    }

    /// A cloneable, untyped reference to the task (to cancel or wait for it from
    /// elsewhere). It does not keep the output alive.
    pub fn task_ref(&self) -> TaskRef {
        TaskRef::from_core(self.raw.core())
    }

    /// Blocks until the task is done. Several threads may wait on one handle.
    ///
    /// # Errors
    ///
    /// [`WouldDeadlock`] if called from inside the task itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let handle = pool.submit(|| 1).unwrap();
    /// std::thread::scope(|s| {
    ///     for _ in 0..3 {
    ///         s.spawn(|| handle.wait().unwrap());
    ///     }
    /// });
    /// assert!(handle.is_done());
    /// ```
    pub fn wait(&self) -> Result<(), WouldDeadlock> {
        wait_on(&self.raw, None).map(|_| ())
    }

    /// Blocks until the task is done (`Ok`) or `timeout` passes.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::TimedOut`] when `timeout` passed first;
    /// [`WaitTimeoutError::WouldDeadlock`] if called from inside the task itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_futures::{ExecutorService, WaitTimeoutError};
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let handle = pool.submit(move || rx.recv().unwrap()).unwrap();
    /// assert_eq!(handle.wait_timeout(Duration::from_millis(5)), Err(WaitTimeoutError::TimedOut));
    /// tx.send(()).unwrap();
    /// assert_eq!(handle.wait_timeout(Duration::from_secs(10)), Ok(()));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), WaitTimeoutError> {
        timed(wait_on(&self.raw, deadline_after(timeout)))
    }

    /// Waits until done or `deadline` (`None`: forever). `Ok(true)`: done.
    pub(crate) fn wait_deadline(&self, deadline: Option<Instant>) -> Result<bool, WouldDeadlock> {
        wait_on(&self.raw, deadline)
    }

    /// Blocks until the task is done and returns its result, consuming the handle.
    ///
    /// # Errors
    ///
    /// [`TaskError::Cancelled`], [`TaskError::Panicked`] (payload kept),
    /// [`TaskError::WouldDeadlock`] when called from inside the task itself, or
    /// [`TaskError::AlreadyTaken`] when the result was already taken through
    /// `get_timeout`, `try_get` or `.await`.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// assert_eq!(pool.submit(|| 2 + 2).unwrap().get().unwrap(), 4);
    /// ```
    pub fn get(mut self) -> Result<T, TaskError> {
        // Fast path: done already (one virtual call).
        if let Some(result) = self.try_take() {
            return result;
        }
        wait_on(&self.raw, None)?;
        self.take_result()
    }

    /// Like [`get`](TaskHandle::get) but gives up after `timeout`; a timeout keeps
    /// the handle and the eventual result.
    ///
    /// # Errors
    ///
    /// [`GetTimeoutError::TimedOut`] when the deadline passes, otherwise the task's
    /// [`TaskError`] inside [`GetTimeoutError::Task`];
    /// [`TaskError::AlreadyTaken`] there when an earlier call took the result.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let mut handle = pool.submit(|| 3).unwrap();
    /// assert_eq!(handle.get_timeout(Duration::from_secs(10)).unwrap(), 3);
    /// ```
    pub fn get_timeout(&mut self, timeout: Duration) -> Result<T, GetTimeoutError> {
        if let Some(result) = self.try_take() {
            return result.map_err(GetTimeoutError::Task);
        }
        match wait_on(&self.raw, deadline_after(timeout)) {
            Ok(true) => {}
            Ok(false) => return Err(GetTimeoutError::TimedOut),
            Err(WouldDeadlock) => return Err(GetTimeoutError::Task(TaskError::WouldDeadlock)),
        }
        self.take_result().map_err(GetTimeoutError::Task)
    }

    /// The result if the task is done, without blocking; `None` otherwise. Once
    /// the result was taken (by this method, `get_timeout` or `.await`), every
    /// further call returns `Some(Err(`[`TaskError::AlreadyTaken`]`))`.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let mut handle = pool.submit(|| 5).unwrap();
    /// handle.wait().unwrap();
    /// assert_eq!(handle.try_get().unwrap().unwrap(), 5);
    /// ```
    pub fn try_get(&mut self) -> Option<Result<T, TaskError>> {
        self.try_take()
    }

    /// Hands out the outcome if the task is done, once (then `AlreadyTaken`);
    /// `None` if not done.
    #[inline]
    fn try_take(&mut self) -> Option<Result<T, TaskError>> {
        if self.finished {
            return Some(Err(TaskError::AlreadyTaken));
        }
        let result = self.raw.take_result()?;
        self.finished = true;
        Some(result)
    }

    /// The outcome of a task a continuation was fired for (so it is done):
    /// [`TaskError::AlreadyTaken`] when this handle handed it out already.
    pub(crate) fn take_done(&mut self) -> Result<T, TaskError> {
        if self.finished {
            return Err(TaskError::AlreadyTaken);
        }
        match self.raw.take_result() {
            Some(result) => {
                self.finished = true;
                result
            }
            None => unreachable!("a continuation fired before its upstream was done"),
        }
    }

    /// The cell (to register continuations on it).
    pub(crate) fn raw(&self) -> &CellArc<dyn RawTask<T>> {
        &self.raw
    }

    /// Hands out the outcome of a done task, once.
    fn take_result(&mut self) -> Result<T, TaskError> {
        self.try_take()
            .unwrap_or_else(|| unreachable!("take_result before the task is done"))
    }
}

impl<U, E> TaskHandle<Result<U, E>> {
    /// [`get`](TaskHandle::get) for a callable returning `Result<U, E>`, flattened:
    /// the callable's own `Err(e)` comes back unchanged as [`Failure::Failed`].
    ///
    /// # Errors
    ///
    /// [`Failure::Failed`] with the callable's error, or [`Failure::Task`].
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::{ExecutorService, Failure};
    /// #[derive(Debug, PartialEq)]
    /// struct MyError { id: u32 }
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let handle = pool.submit(|| Err::<(), _>(MyError { id: 9 })).unwrap();
    /// assert!(matches!(handle.get_flat(), Err(Failure::Failed(MyError { id: 9 }))));
    /// ```
    pub fn get_flat(self) -> Result<U, Failure<E>> {
        match self.get() {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(Failure::Failed(e)),
            Err(e) => Err(Failure::Task(e)),
        }
    }
}

impl<T> Future for TaskHandle<T> {
    type Output = Result<T, TaskError>;

    /// Polled again after it returned `Ready`, it is `Ready` with
    /// [`TaskError::AlreadyTaken`] (no panic). Polled from inside the task
    /// itself (an async task awaiting its own handle), it is `Ready` with
    /// [`TaskError::WouldDeadlock`], as a blocking `get` would be: only the
    /// task's own completion could wake it. The result stays in the handle.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(result) = this.try_take() {
            return Poll::Ready(result);
        }
        if current::is_running_here(CellArc::as_ptr(&this.raw).cast::<()>()) {
            return Poll::Ready(Err(TaskError::WouldDeadlock));
        }
        if !this.raw.register_waker(cx.waker()) {
            return Poll::Ready(this.take_result());
        }
        Poll::Pending
    }
}

impl<T> Drop for TaskHandle<T> {
    fn drop(&mut self) {
        if !self.finished {
            self.raw.drop_interest();
        }
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("id", &self.id())
            .field("state", &self.state())
            .field("result_taken", &self.finished)
            .finish()
    }
}

/// A cloneable, untyped reference to a task: its id and state, `cancel`, and
/// `wait`. It does not give access to the result (that is the [`TaskHandle`]'s)
/// and does not keep the result alive.
///
/// Returned by [`ExecutorService::submit_with`](crate::ExecutorService::submit_with)
/// (where the handle goes to the completion hook), [`TaskHandle::task_ref`] and
/// [`current_task`](crate::current_task).
///
/// # Examples
///
/// ```
/// use executor_futures::ExecutorService;
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let handle = pool.submit(|| 1).unwrap();
/// let r = handle.task_ref();
/// let waiter = std::thread::spawn(move || r.wait().map(|_| r.is_done()));
/// assert_eq!(waiter.join().unwrap(), Ok(true));
/// assert_eq!(handle.get().unwrap(), 1);
/// ```
#[derive(Clone)]
pub struct TaskRef {
    core: CellArc<dyn TaskCore>,
    /// A copy of the cell's id: reading it needs no trip to the cell (a batch's
    /// ids, a registry scanned for one id).
    id: TaskId,
}

impl TaskRef {
    pub(crate) fn from_core(core: CellArc<dyn TaskCore>) -> TaskRef {
        let id = core.id();
        TaskRef { core, id }
    }

    /// `from_core` when the caller already read the cell's id.
    pub(crate) fn from_core_with_id(core: CellArc<dyn TaskCore>, id: TaskId) -> TaskRef {
        debug_assert_eq!(core.id(), id);
        TaskRef { core, id }
    }

    /// The cell (to register continuations on it).
    pub(crate) fn core(&self) -> &CellArc<dyn TaskCore> {
        &self.core
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task's current state.
    pub fn state(&self) -> TaskState {
        TaskState::from_bits(self.core.state_word().load())
    }

    /// True once the task is done (completed, panicked or cancelled).
    pub fn is_done(&self) -> bool {
        self.core.state_word().is_done()
    }

    /// True if the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.core.state_word().is_cancelled()
    }

    /// Cancels the task; see [`TaskHandle::cancel`].
    pub fn cancel(&self) -> bool {
        // As `TaskHandle::cancel`: a done task is refused at once. A completion
        // service's drop cancels every task it still lists, most of them done.
        !self.is_done() && self.core.cancel()
    }

    /// Runs the task on the calling thread, now, if it has not started: Java's
    /// `FutureTask.run()` for a task that is still queued. Returns true if this
    /// call ran it (to the end: value, panic or a cancel seen while it ran);
    /// false if it had already started, finished or been cancelled, or if it is
    /// an async task (a future is only ever polled by its executor).
    ///
    /// The claim is the same one a worker makes (`Pending → Running`), so the
    /// task still runs exactly once: its queued job becomes a tombstone that
    /// does nothing when a worker reaches it (or when `shutdown_now` hands it
    /// back and you run it). The body runs as the current task
    /// ([`current_task`](crate::current_task), [`is_cancelled`](crate::is_cancelled)
    /// work as on a worker), a panic is caught into the task's result as usual,
    /// and the completion hook, if any, runs on this thread.
    ///
    /// It runs on *this* thread's stack, without the pool's thread name, start
    /// hooks or thread-locals: call it only for tasks that do not depend on
    /// them, and never for a task that waits for something this thread would do
    /// after the call (it would wait forever).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let blocker = pool.submit(move || rx.recv().unwrap()).unwrap(); // holds the only worker
    /// let runs = Arc::new(AtomicUsize::new(0));
    /// let counter = runs.clone();
    /// let queued = pool
    ///     .submit(move || {
    ///         counter.fetch_add(1, Ordering::Relaxed);
    ///         std::thread::current().id()
    ///     })
    ///     .unwrap();
    ///
    /// assert!(queued.task_ref().try_run()); // runs here, at once
    /// assert!(!queued.task_ref().try_run()); // never twice
    /// assert_eq!(queued.get().unwrap(), std::thread::current().id());
    ///
    /// tx.send(()).unwrap();
    /// blocker.get().unwrap();
    /// pool.close(); // the worker reaches the queued job: a tombstone
    /// assert_eq!(runs.load(Ordering::Relaxed), 1);
    /// ```
    pub fn try_run(&self) -> bool {
        self.core.run_inline()
    }

    /// Blocks until the task is done; see [`TaskHandle::wait`].
    ///
    /// # Errors
    ///
    /// [`WouldDeadlock`] if called from inside the task itself.
    pub fn wait(&self) -> Result<(), WouldDeadlock> {
        wait_on(&self.core, None).map(|_| ())
    }

    /// Blocks until the task is done (`Ok`) or `timeout` passes.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::TimedOut`] when `timeout` passed first;
    /// [`WaitTimeoutError::WouldDeadlock`] if called from inside the task itself.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), WaitTimeoutError> {
        timed(wait_on(&self.core, deadline_after(timeout)))
    }
}

impl PartialEq for TaskRef {
    fn eq(&self, other: &TaskRef) -> bool {
        self.id() == other.id()
    }
}

impl Eq for TaskRef {}

impl std::hash::Hash for TaskRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRef")
            .field("id", &self.id())
            .field("state", &self.state())
            .finish()
    }
}
