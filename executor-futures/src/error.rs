//! Errors as values: what a task's outcome can be besides its value, and what the
//! waiting and bulk operations report. Every type here is `std::error::Error +
//! Display + Debug + Send + Sync` and has predicates, so callers branch on
//! `is_cancelled()` / `is_panic()` / `is_timed_out()` rather than on strings.
//!
//! A callable that returns `Result<T, E>` is not special: its `Err(e)` is a *value*
//! and comes back unchanged as `Ok(Err(e))` from [`TaskHandle::get`]; the
//! [`TaskHandle::get_flat`] helper flattens it into [`Failure<E>`] keeping `e`.
//!
//! [`TaskHandle::get`]: crate::TaskHandle::get
//! [`TaskHandle::get_flat`]: crate::TaskHandle::get_flat

use crate::handle::TaskId;
pub use executor_core::PanicPayload;
use executor_core::{RejectReason, Rejected, TimedOut};
use std::error::Error;
use std::fmt;

/// Why a task produced no value: it was cancelled, it panicked, waiting for it
/// would deadlock, or its result was already taken through this handle. The
/// `Err` of [`TaskHandle::get`](crate::TaskHandle::get) and of `handle.await`.
///
/// # Examples
///
/// ```
/// use executor_futures::{ExecutorService, TaskError};
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let err = pool.submit(|| -> () { panic!("bad input") }).unwrap().get().unwrap_err();
/// assert!(err.is_panic() && !err.is_cancelled());
/// assert_eq!(err.message(), Some("bad input"));
/// assert_eq!(err.to_string(), "task panicked: bad input");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum TaskError {
    /// The task was cancelled (by [`cancel`](crate::TaskHandle::cancel), a bulk
    /// operation, or because its job was dropped unrun after `shutdown_now`).
    Cancelled,
    /// The task panicked; the payload is kept.
    Panicked(PanicPayload),
    /// The caller is the task itself (or runs inside it, nested on the same
    /// thread): waiting would never end, so it was refused.
    WouldDeadlock,
    /// The handle already handed its result out (through
    /// [`try_get`](crate::TaskHandle::try_get),
    /// [`get_timeout`](crate::TaskHandle::get_timeout) or an `.await` that
    /// completed): a result is moved out once, and reading again is not an error
    /// of the task. Nothing is lost: the earlier call returned the outcome.
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let mut handle = pool.submit(|| 5).unwrap();
    /// handle.wait().unwrap();
    /// assert_eq!(handle.try_get().unwrap().unwrap(), 5);
    /// let downstream = handle.then(|v| v + 1); // the value is gone
    /// assert!(downstream.get().unwrap_err().is_already_taken());
    /// ```
    AlreadyTaken,
    /// A continuation (`then`, `submit_after`, a graph's completion, ...) was
    /// ready to run but the pool refused it (it was shut down): it never ran.
    ///
    /// ```
    /// use executor_futures::{ExecutorService, RejectReason, TaskError};
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// pool.shutdown();
    /// let after = pool.submit_after(Vec::<executor_futures::TaskRef>::new(), |_| 1);
    /// assert!(matches!(after.get(), Err(TaskError::Rejected(RejectReason::Shutdown))));
    /// ```
    Rejected(RejectReason),
    /// A dependency given as a [`TaskRef`](crate::TaskRef) (whose result this
    /// task cannot read) panicked or was cancelled, so this task never ran.
    ///
    /// ```
    /// use executor_futures::{ExecutorService, TaskError};
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let bad = pool.submit(|| -> () { panic!("no") }).unwrap();
    /// let id = bad.id();
    /// let after = pool.submit_after(vec![bad.task_ref()], |_| 1);
    /// assert!(matches!(after.get(), Err(TaskError::DependencyFailed(d)) if d == id));
    /// ```
    DependencyFailed(TaskId),
}

impl TaskError {
    /// True if the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled)
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// True if the wait was refused because it would deadlock.
    pub fn is_would_deadlock(&self) -> bool {
        matches!(self, TaskError::WouldDeadlock)
    }

    /// True if the handle's result had already been taken
    /// ([`TaskError::AlreadyTaken`]).
    pub fn is_already_taken(&self) -> bool {
        matches!(self, TaskError::AlreadyTaken)
    }

    /// True if the pool refused to run the task ([`TaskError::Rejected`]).
    pub fn is_rejected(&self) -> bool {
        matches!(self, TaskError::Rejected(_))
    }

    /// True if a dependency failed ([`TaskError::DependencyFailed`]).
    pub fn is_dependency_failed(&self) -> bool {
        matches!(self, TaskError::DependencyFailed(_))
    }

    /// The panic message, if the task panicked with a string message.
    pub fn message(&self) -> Option<&str> {
        match self {
            TaskError::Panicked(p) => p.message(),
            _ => None,
        }
    }

    /// The panic payload, or the error itself if it is not a panic.
    ///
    /// # Errors
    ///
    /// `Err(self)` when the error is not [`TaskError::Panicked`].
    pub fn into_panic(self) -> Result<PanicPayload, TaskError> {
        match self {
            TaskError::Panicked(p) => Ok(p),
            other => Err(other),
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled => f.write_str("task was cancelled"),
            TaskError::Panicked(p) => match p.message() {
                Some(m) => write!(f, "task panicked: {m}"),
                None => f.write_str("task panicked"),
            },
            TaskError::WouldDeadlock => {
                f.write_str("waiting for this task from inside itself would deadlock")
            }
            TaskError::AlreadyTaken => f.write_str("the task's result was already taken"),
            TaskError::Rejected(r) => write!(f, "the pool refused to run the task ({r:?})"),
            TaskError::DependencyFailed(id) => write!(f, "dependency {id} failed"),
        }
    }
}

impl Error for TaskError {}

impl From<WouldDeadlock> for TaskError {
    fn from(_: WouldDeadlock) -> TaskError {
        TaskError::WouldDeadlock
    }
}

impl From<Cancelled> for TaskError {
    fn from(_: Cancelled) -> TaskError {
        TaskError::Cancelled
    }
}

/// The error of [`TaskHandle::get_timeout`](crate::TaskHandle::get_timeout): the
/// deadline passed (the handle and the eventual result are kept), or the task
/// failed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use executor_futures::ExecutorService;
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let mut handle = pool.submit(move || rx.recv().map(|_| 5)).unwrap();
/// let err = handle.get_timeout(Duration::from_millis(10)).unwrap_err();
/// assert!(err.is_timed_out());
/// tx.send(()).unwrap();
/// assert_eq!(handle.get().unwrap(), Ok(5)); // nothing was lost
/// ```
#[derive(Debug)]
pub enum GetTimeoutError {
    /// The deadline passed before the task finished.
    TimedOut,
    /// The task finished without a value.
    Task(TaskError),
}

impl GetTimeoutError {
    /// True if the deadline passed.
    pub fn is_timed_out(&self) -> bool {
        matches!(self, GetTimeoutError::TimedOut)
    }

    /// True if the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, GetTimeoutError::Task(e) if e.is_cancelled())
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, GetTimeoutError::Task(e) if e.is_panic())
    }

    /// True if the handle's result had already been taken
    /// ([`TaskError::AlreadyTaken`]).
    pub fn is_already_taken(&self) -> bool {
        matches!(self, GetTimeoutError::Task(e) if e.is_already_taken())
    }

    /// The task's error, unless this is a timeout.
    pub fn into_task_error(self) -> Option<TaskError> {
        match self {
            GetTimeoutError::Task(e) => Some(e),
            GetTimeoutError::TimedOut => None,
        }
    }
}

impl From<TaskError> for GetTimeoutError {
    fn from(e: TaskError) -> Self {
        GetTimeoutError::Task(e)
    }
}

impl fmt::Display for GetTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetTimeoutError::TimedOut => f.write_str("timed out waiting for the task"),
            GetTimeoutError::Task(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl Error for GetTimeoutError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            GetTimeoutError::Task(e) => Some(e),
            GetTimeoutError::TimedOut => None,
        }
    }
}

/// Returned by [`TaskHandle::wait`](crate::TaskHandle::wait) and friends when the
/// caller is (or runs nested inside) the very task it waits for.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc::channel;
/// use executor_futures::{ExecutorService, TaskRef};
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let (tx, rx) = channel::<TaskRef>();
/// let handle = pool.submit(move || rx.recv().unwrap().wait()).unwrap();
/// tx.send(handle.task_ref()).unwrap();
/// assert!(handle.get().unwrap().is_err()); // Err(WouldDeadlock), not a hang
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WouldDeadlock;

impl fmt::Display for WouldDeadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("waiting for this task from inside itself would deadlock")
    }
}

impl Error for WouldDeadlock {}

/// The error of [`TaskHandle::wait_timeout`](crate::TaskHandle::wait_timeout)
/// (and of `TaskRef`'s and `ScheduledHandle`'s): the timeout passed first, or
/// the caller is the task it waits for.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitTimeoutError {
    /// The timeout passed before the task was done.
    TimedOut,
    /// The caller is (or runs nested inside) the task it waits for.
    WouldDeadlock(WouldDeadlock),
}

impl WaitTimeoutError {
    /// True if the timeout passed.
    pub fn is_timed_out(&self) -> bool {
        matches!(self, WaitTimeoutError::TimedOut)
    }

    /// True if the caller waited for itself.
    pub fn is_would_deadlock(&self) -> bool {
        matches!(self, WaitTimeoutError::WouldDeadlock(_))
    }
}

impl From<TimedOut> for WaitTimeoutError {
    fn from(_: TimedOut) -> Self {
        WaitTimeoutError::TimedOut
    }
}

impl From<WouldDeadlock> for WaitTimeoutError {
    fn from(e: WouldDeadlock) -> Self {
        WaitTimeoutError::WouldDeadlock(e)
    }
}

impl fmt::Display for WaitTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitTimeoutError::TimedOut => fmt::Display::fmt(&TimedOut, f),
            WaitTimeoutError::WouldDeadlock(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl Error for WaitTimeoutError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            WaitTimeoutError::TimedOut => None,
            WaitTimeoutError::WouldDeadlock(e) => Some(e),
        }
    }
}

/// The error of [`checkpoint`](crate::checkpoint): the current task was cancelled
/// (or its pool stopped). Return it with `?` to stop early.
///
/// # Examples
///
/// ```
/// use executor_futures::Cancelled;
/// assert_eq!(Cancelled.to_string(), "the task was cancelled");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the task was cancelled")
    }
}

impl Error for Cancelled {}

/// A flattened failure of a task whose callable returns `Result<T, E>`: either the
/// callable's own error, unchanged, or a [`TaskError`].
///
/// # Examples
///
/// ```
/// use executor_futures::{ExecutorService, Failure};
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let handle = pool.submit(|| "x".parse::<u8>()).unwrap();
/// match handle.get_flat() {
///     Err(Failure::Failed(e)) => assert_eq!(e, "x".parse::<u8>().unwrap_err()),
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug)]
pub enum Failure<E> {
    /// The callable returned `Err(e)`.
    Failed(E),
    /// The task produced no value.
    Task(TaskError),
}

impl<E> Failure<E> {
    /// True if the callable returned an error (rather than panicking or being cancelled).
    pub fn is_failed(&self) -> bool {
        matches!(self, Failure::Failed(_))
    }

    /// True if the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Failure::Task(e) if e.is_cancelled())
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, Failure::Task(e) if e.is_panic())
    }

    /// The callable's own error, if that is what this is.
    pub fn into_failed(self) -> Option<E> {
        match self {
            Failure::Failed(e) => Some(e),
            Failure::Task(_) => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Failed(e) => write!(f, "task failed: {e}"),
            Failure::Task(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<E: Error + 'static> Error for Failure<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Failure::Failed(e) => Some(e),
            Failure::Task(e) => Some(e),
        }
    }
}

/// The error of the `invoke_any` family.
///
/// `F` is what one failed task reports: [`TaskError`] for
/// [`invoke_any`](crate::ExecutorService::invoke_any), [`Failure<E>`] for
/// [`invoke_any_ok`](crate::ExecutorService::invoke_any_ok).
///
/// # Examples
///
/// ```
/// use executor_futures::{ExecutorService, InvokeAnyError};
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let none: Vec<fn() -> u8> = Vec::new();
/// assert!(matches!(pool.invoke_any(none), Err(InvokeAnyError::Empty)));
/// let err = pool.invoke_any([|| -> u8 { panic!("a") }, || -> u8 { panic!("b") }]).unwrap_err();
/// assert_eq!(err.failures().map(|f| f.len()), Some(2));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum InvokeAnyError<F = TaskError> {
    /// No task was given.
    Empty,
    /// Every task failed; the failures in input order.
    AllFailed(Vec<F>),
    /// The deadline passed before any task succeeded; all were cancelled.
    TimedOut,
    /// The executor refused a task; the ones already accepted were cancelled and
    /// the callables not accepted were dropped.
    Rejected(RejectReason),
}

impl<F> InvokeAnyError<F> {
    /// True if the deadline passed.
    pub fn is_timed_out(&self) -> bool {
        matches!(self, InvokeAnyError::TimedOut)
    }

    /// True if every task failed.
    pub fn is_all_failed(&self) -> bool {
        matches!(self, InvokeAnyError::AllFailed(_))
    }

    /// The failures, when every task failed.
    pub fn failures(&self) -> Option<&[F]> {
        match self {
            InvokeAnyError::AllFailed(v) => Some(v),
            _ => None,
        }
    }
}

impl<F> fmt::Display for InvokeAnyError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeAnyError::Empty => f.write_str("invoke_any needs at least one task"),
            InvokeAnyError::AllFailed(v) => write!(f, "all {} tasks failed", v.len()),
            InvokeAnyError::TimedOut => f.write_str("no task succeeded before the deadline"),
            InvokeAnyError::Rejected(r) => write!(f, "a task was rejected ({r:?})"),
        }
    }
}

impl<F: fmt::Debug> Error for InvokeAnyError<F> {}

/// A batch ([`submit_all`](crate::ExecutorService::submit_all),
/// [`submit_all_with`](crate::ExecutorService::submit_all_with)) the executor
/// did not accept in full: the handles of the tasks it accepted, and the
/// callables it refused, unrun, in submission order.
///
/// A [`ThreadPool`](executor_core::ThreadPool) refuses a batch submitted from
/// outside its workers whole, so `accepted` is then empty; an executor that
/// queues jobs one by one (the default of
/// [`Executor::execute_jobs`](executor_core::integration::Executor::execute_jobs)) may have
/// accepted a first part: those tasks run as usual.
///
/// # Examples
///
/// ```
/// use executor_futures::{ExecutorService, RejectReason};
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// pool.shutdown();
/// let err = pool.submit_all((0..3).map(|i| move || i * 2)).unwrap_err();
/// assert_eq!(err.reason(), RejectReason::Shutdown);
/// assert!(err.accepted().is_empty());
/// let (_, refused) = err.into_parts();
/// let values: Vec<i32> = refused.into_inner().into_iter().map(|f| f()).collect();
/// assert_eq!(values, [0, 2, 4]); // handed back unrun, in order
/// ```
pub struct BatchRejected<H, C> {
    accepted: Vec<H>,
    refused: Rejected<Vec<C>>,
    /// `refused`'s length: `Rejected` lends its task only to a `Sync` reader.
    refused_len: usize,
}

impl<H, C> BatchRejected<H, C> {
    /// A batch whose first part `accepted` was accepted and the rest refused.
    /// Public so that layers built on this crate report batches the same way.
    pub fn new(accepted: Vec<H>, mut refused: Rejected<Vec<C>>) -> Self {
        let refused_len = refused.task_mut().len();
        BatchRejected {
            accepted,
            refused,
            refused_len,
        }
    }

    /// Why the executor refused the rest.
    pub fn reason(&self) -> RejectReason {
        self.refused.reason()
    }

    /// The handles of the tasks that were accepted (they run as usual).
    pub fn accepted(&self) -> &[H] {
        &self.accepted
    }

    /// The refused callables, in order; for `Sync` callables (see
    /// [`into_parts`](BatchRejected::into_parts) for any).
    pub fn refused(&self) -> &[C]
    where
        C: Sync,
    {
        self.refused.task()
    }

    /// The accepted handles and the refusal (which owns the refused callables).
    pub fn into_parts(self) -> (Vec<H>, Rejected<Vec<C>>) {
        (self.accepted, self.refused)
    }

    /// Replaces the handles and the callables (used by layers that wrap both).
    pub fn map<H2, C2>(
        self,
        handle: impl FnMut(H) -> H2,
        callable: impl FnMut(C) -> C2,
    ) -> BatchRejected<H2, C2> {
        BatchRejected {
            accepted: self.accepted.into_iter().map(handle).collect(),
            refused: self.refused.map(|v| v.into_iter().map(callable).collect()),
            refused_len: self.refused_len,
        }
    }
}

impl<H, C> fmt::Debug for BatchRejected<H, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchRejected")
            .field("reason", &self.reason())
            .field("accepted", &self.accepted.len())
            .field("refused", &self.refused_len)
            .finish()
    }
}

impl<H, C> fmt::Display for BatchRejected<H, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} tasks rejected ({})",
            self.refused_len,
            self.accepted.len() + self.refused_len,
            self.refused
        )
    }
}

impl<H, C> Error for BatchRejected<H, C> {}

#[cfg(test)]
mod tests {
    use super::*;

    // That every error type is `Error + Send + Sync + 'static`: tests/error_types.rs.

    #[test]
    fn panic_payload_keeps_string_messages() {
        let p = PanicPayload::new(Box::new(String::from("owned")));
        assert_eq!(p.message(), Some("owned"));
        let p = PanicPayload::new(Box::new(7u8));
        assert_eq!(p.message(), None);
        assert_eq!(p.into_inner().downcast_ref::<u8>(), Some(&7));
        let e = TaskError::Panicked(PanicPayload::new(Box::new(1)));
        assert_eq!(e.to_string(), "task panicked");
        assert!(GetTimeoutError::from(e).is_panic());
    }
}
