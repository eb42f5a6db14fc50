//! Errors as values: a full bounded service, a deadline that passed, and
//! `wait_any` on nothing.

use executor_core::integration::Exclusive;
use executor_core::{Rejected, TimedOut};
use std::error::Error;
use std::fmt;

/// The error of [`CompletionService::try_submit`](crate::CompletionService::try_submit)
/// and [`try_spawn`](crate::CompletionService::try_spawn): the service was full,
/// or the executor refused the task. Either way the task comes back unrun
/// ([`into_inner`](TrySubmitError::into_inner)).
///
/// It is `Error + Send + Sync + 'static` for any `Send + 'static` task, `Sync`
/// or not: the task is kept in an [`Exclusive`].
///
/// # Examples
///
/// ```
/// use executor_completion::CompletionService;
/// let service = CompletionService::bounded(executor_core::ThreadPool::new(1).unwrap(), 1);
/// service.try_submit(|| 1).unwrap();
/// let err = service.try_submit(|| 2).unwrap_err();
/// assert!(err.is_full());
/// assert_eq!(err.into_inner()(), 2); // the closure comes back
/// assert_eq!(service.take().unwrap().get().unwrap(), 1);
/// assert!(service.try_submit(|| 3).is_ok()); // taking made room
/// ```
pub enum TrySubmitError<C> {
    /// The service already holds its capacity of outstanding tasks.
    Full(Exclusive<C>),
    /// The executor refused the task (e.g. it was shut down).
    Rejected(Rejected<C>),
}

impl<C> TrySubmitError<C> {
    /// True if the service was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySubmitError::Full(_))
    }

    /// True if the executor refused the task.
    pub fn is_rejected(&self) -> bool {
        matches!(self, TrySubmitError::Rejected(_))
    }

    /// The task, unrun.
    pub fn into_inner(self) -> C {
        match self {
            TrySubmitError::Full(c) => c.into_inner(),
            TrySubmitError::Rejected(r) => r.into_inner(),
        }
    }

    pub(crate) fn map<D>(self, f: impl FnOnce(C) -> D) -> TrySubmitError<D> {
        match self {
            TrySubmitError::Full(c) => TrySubmitError::Full(Exclusive::new(f(c.into_inner()))),
            TrySubmitError::Rejected(r) => TrySubmitError::Rejected(r.map(f)),
        }
    }
}

impl<C> fmt::Debug for TrySubmitError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str("Full(..)"),
            TrySubmitError::Rejected(r) => f.debug_tuple("Rejected").field(r).finish(),
        }
    }
}

impl<C> fmt::Display for TrySubmitError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => {
                f.write_str("the completion service is full (take results to make room)")
            }
            TrySubmitError::Rejected(r) => fmt::Display::fmt(r, f),
        }
    }
}

impl<C> Error for TrySubmitError<C> {}

impl<C> From<Rejected<C>> for TrySubmitError<C> {
    fn from(r: Rejected<C>) -> Self {
        TrySubmitError::Rejected(r)
    }
}

/// The error of [`wait_any`](crate::wait_any).
///
/// # Examples
///
/// ```
/// use executor_completion::{wait_any, WaitAnyError};
/// let mut none: Vec<executor_futures::TaskHandle<u8>> = Vec::new();
/// assert_eq!(wait_any(&mut none).unwrap_err(), WaitAnyError::Empty);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitAnyError {
    /// No handle was given.
    Empty,
    /// The timeout passed before any task finished; the handles are untouched.
    TimedOut,
}

impl WaitAnyError {
    /// True if the timeout passed.
    pub fn is_timed_out(&self) -> bool {
        matches!(self, WaitAnyError::TimedOut)
    }
}

impl fmt::Display for WaitAnyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitAnyError::Empty => f.write_str("wait_any needs at least one handle"),
            WaitAnyError::TimedOut => fmt::Display::fmt(&TimedOut, f),
        }
    }
}

impl Error for WaitAnyError {}

impl From<TimedOut> for WaitAnyError {
    fn from(_: TimedOut) -> Self {
        WaitAnyError::TimedOut
    }
}
