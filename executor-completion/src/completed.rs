//! [`Completed`]: what a completion service hands out, and how its timing is
//! recorded without a second allocation per task.
//!
//! ## Timing
//!
//! The service wraps each callable (or future) so that its body records, in a
//! [`RunGuard`] on the running thread, when it started; when the body returns or
//! unwinds, the guard stores `(started, finished, worker)` in a thread-local
//! slot. The completion hook then takes that slot. This is sound because
//! `executor-futures` calls the hook of a task that *ran to the end* (returned or
//! panicked) on the same thread, right after the body, with no user code in
//! between (the task's only handle belongs to the hook, so no foreign waker is
//! registered on it): the slot the hook reads is the one its own body just wrote.
//! Nested tasks (run inline by a helping wait inside a body) write and take the
//! slot in last-in-first-out order, before the outer body finishes. A task that
//! was cancelled has its hook called at cancel time, possibly on another thread
//! and possibly while its body still runs: its hook does not read the slot, and
//! its [`Completed`] has no start time and no worker.

use executor_futures::{Callable, Failure, TaskError, TaskId};
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// When and where a body ran.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunRecord {
    started: Instant,
    finished: Instant,
    worker: Option<usize>,
}

thread_local! {
    static LAST_RUN: Cell<Option<RunRecord>> = const { Cell::new(None) };
}

/// Takes the record the body that just finished on this thread left (see the
/// module docs for why it is the right one).
pub(crate) fn take_run_record() -> Option<RunRecord> {
    LAST_RUN.try_with(Cell::take).ok().flatten()
}

/// Records the start of a body; its drop (return or unwind) publishes the record.
pub(crate) struct RunGuard {
    started: Instant,
}

impl RunGuard {
    fn start() -> RunGuard {
        RunGuard {
            started: Instant::now(),
        }
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        let record = RunRecord {
            started: self.started,
            finished: Instant::now(),
            worker: executor_core::current_thread_index(),
        };
        let _ = LAST_RUN.try_with(|slot| slot.set(Some(record)));
    }
}

/// A callable whose run is timed.
pub(crate) struct TimedCall<C>(pub(crate) C);

impl<C: Callable<T>, T> Callable<T> for TimedCall<C> {
    #[inline]
    fn call(self) -> T {
        let guard = RunGuard::start();
        let value = self.0.call();
        drop(guard);
        value
    }
}

/// A future whose run (first poll to completion) is timed.
///
/// The future is moved into a `Box` at its first poll, so this wrapper is `Unpin`
/// without any `unsafe` pin projection, and a future that was never polled can
/// be given back (a rejected spawn).
pub(crate) enum TimedFuture<F> {
    Fresh(F),
    Running {
        fut: Pin<Box<F>>,
        /// Publishes the run record when dropped (after `fut`: field order).
        _guard: RunGuard,
    },
    Done,
}

// Sound without `unsafe`: `F` is never pinned in place; it is only pinned after
// being moved into its own `Box`.
impl<F> Unpin for TimedFuture<F> {}

impl<F> TimedFuture<F> {
    /// The future, if it was never polled.
    pub(crate) fn into_inner(self) -> Option<F> {
        match self {
            TimedFuture::Fresh(f) => Some(f),
            _ => None,
        }
    }
}

impl<F: Future> Future for TimedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        if matches!(this, TimedFuture::Fresh(_)) {
            let guard = RunGuard::start();
            if let TimedFuture::Fresh(f) = std::mem::replace(this, TimedFuture::Done) {
                *this = TimedFuture::Running {
                    fut: Box::pin(f),
                    _guard: guard,
                };
            }
        }
        let TimedFuture::Running { fut, .. } = this else {
            panic!("TimedFuture polled after completion");
        };
        let value = std::task::ready!(fut.as_mut().poll(cx));
        // Drop the future, then the guard: the record is published before the
        // executor makes the task complete and calls the hook.
        *this = TimedFuture::Done;
        Poll::Ready(value)
    }
}

/// A task that finished, as delivered by a
/// [`CompletionService`](crate::CompletionService): its id, its result, and when
/// and where it ran.
///
/// Failed, panicked and cancelled tasks are delivered too: the result is then
/// `Ok(Err(e))` (a callable returning `Result`), `Err(TaskError::Panicked)` or
/// `Err(TaskError::Cancelled)`.
///
/// Timing: [`submitted_at`](Completed::submitted_at) is taken by `submit`,
/// [`started_at`](Completed::started_at) and [`finished_at`](Completed::finished_at)
/// by the running thread around the body (for an async task: its first poll and
/// the poll that completed it), and [`worker`](Completed::worker) is the index of
/// the pool thread that finished it ([`executor_core::current_thread_index`]). A
/// cancelled task has no start time and no worker; its `finished_at` is the time
/// of the cancel.
///
/// # Examples
///
/// ```
/// use executor_completion::CompletionService;
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let service = CompletionService::new(pool);
/// let id = service.submit(|| "s").unwrap();
/// let done = service.take().unwrap();
/// assert_eq!(done.id(), id);
/// assert!(done.worker().is_some_and(|w| w < 2));
/// assert!(done.started_at().is_some());
/// println!("queued {:?}, ran {:?}", done.queued(), done.ran());
/// assert_eq!(done.get().unwrap(), "s");
/// ```
pub struct Completed<T> {
    id: TaskId,
    result: Result<T, TaskError>,
    submitted: Instant,
    run: Option<RunRecord>,
    finished: Instant,
    /// Its place in the service's delivery order (set under the service's
    /// lock when it is queued): how a consumer's buffer, given back, is merged
    /// into the queue in completion order.
    pub(crate) seq: u64,
}

impl<T> Completed<T> {
    pub(crate) fn new(
        id: TaskId,
        result: Result<T, TaskError>,
        submitted: Instant,
        run: Option<RunRecord>,
    ) -> Completed<T> {
        let finished = run.map_or_else(Instant::now, |r| r.finished);
        Completed {
            id,
            result,
            submitted,
            run,
            finished,
            seq: 0,
        }
    }

    /// The task's id (the one `submit` returned).
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task's result, borrowed.
    pub fn result(&self) -> &Result<T, TaskError> {
        &self.result
    }

    /// The task's result: its value, or why it has none.
    ///
    /// # Errors
    ///
    /// [`TaskError::Cancelled`] or [`TaskError::Panicked`] (payload kept).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::new(executor_core::ThreadPool::new(1).unwrap());
    /// service.submit(|| -> u8 { panic!("boom") }).unwrap();
    /// let err = service.take().unwrap().get().unwrap_err();
    /// assert_eq!(err.message(), Some("boom"));
    /// ```
    pub fn get(self) -> Result<T, TaskError> {
        self.result
    }

    /// Same as [`get`](Completed::get).
    ///
    /// # Errors
    ///
    /// As [`get`](Completed::get).
    pub fn into_result(self) -> Result<T, TaskError> {
        self.result
    }

    /// True if the task returned a value (which may itself be an `Err`).
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// True if the task was cancelled (before or while running).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.result, Err(TaskError::Cancelled))
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.result, Err(TaskError::Panicked(_)))
    }

    /// The index of the pool thread that finished the task (`None` if it was
    /// cancelled, or ran on a thread that is not a pool worker, as with
    /// [`InlineExecutor`](executor_core::integration::InlineExecutor)).
    pub fn worker(&self) -> Option<usize> {
        self.run.and_then(|r| r.worker)
    }

    /// When `submit` accepted the task.
    pub fn submitted_at(&self) -> Instant {
        self.submitted
    }

    /// When its body started (`None` if it was cancelled).
    pub fn started_at(&self) -> Option<Instant> {
        self.run.map(|r| r.started)
    }

    /// When its body finished (or, if it was cancelled, when it was cancelled).
    pub fn finished_at(&self) -> Instant {
        self.finished
    }

    /// How long it waited in the queue before starting (for a cancelled task:
    /// until the cancel).
    pub fn queued(&self) -> Duration {
        self.started_at()
            .unwrap_or(self.finished)
            .saturating_duration_since(self.submitted)
    }

    /// How long its body ran (`None` if it was cancelled). For an async task:
    /// from its first poll to its completion, idle time included.
    pub fn ran(&self) -> Option<Duration> {
        self.run
            .map(|r| r.finished.saturating_duration_since(r.started))
    }

    /// From submission to completion.
    pub fn elapsed(&self) -> Duration {
        self.finished.saturating_duration_since(self.submitted)
    }
}

impl<U, E> Completed<Result<U, E>> {
    /// True if the callable returned `Err(_)`.
    pub fn is_failed(&self) -> bool {
        matches!(self.result, Ok(Err(_)))
    }

    /// The result flattened: the callable's own `Err(e)` comes back unchanged as
    /// [`Failure::Failed`].
    ///
    /// # Errors
    ///
    /// [`Failure::Failed`] with the callable's error, or [`Failure::Task`].
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::new(executor_core::ThreadPool::new(1).unwrap());
    /// service.submit(|| "x".parse::<u8>()).unwrap();
    /// let done = service.take().unwrap();
    /// assert!(done.is_failed());
    /// assert!(done.get_flat().unwrap_err().is_failed());
    /// ```
    pub fn get_flat(self) -> Result<U, Failure<E>> {
        match self.result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(Failure::Failed(e)),
            Err(e) => Err(Failure::Task(e)),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Completed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completed")
            .field("id", &self.id)
            .field("result", &self.result)
            .field("worker", &self.worker())
            .field("queued", &self.queued())
            .field("ran", &self.ran())
            .finish()
    }
}
