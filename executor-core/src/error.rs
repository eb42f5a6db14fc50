//! Errors as values: building a pool, and submitting to one that no longer accepts.

use std::error::Error;
use std::fmt;
use std::io;

/// Why [`Builder::build`](crate::Builder::build) failed. No thread is left running.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// `num_threads(0)` was asked for: a pool needs at least one worker.
    ZeroThreads,
    /// The core size (`num_threads`) is larger than `max_threads`.
    CoreAboveMax {
        /// The core size asked for.
        core: usize,
        /// The maximum size asked for.
        max: usize,
    },
    /// The operating system refused to start worker `index`.
    Spawn {
        /// The worker that could not be started.
        index: usize,
        /// What the operating system said.
        source: io::Error,
    },
    /// The thread-name closure panicked for worker `index`.
    ThreadNamePanicked {
        /// The worker whose name could not be made.
        index: usize,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroThreads => f.write_str("a thread pool needs at least one thread"),
            BuildError::CoreAboveMax { core, max } => write!(
                f,
                "the core size ({core} threads) is larger than the maximum size ({max})"
            ),
            BuildError::Spawn { index, source } => {
                write!(f, "could not spawn worker thread {index}: {source}")
            }
            BuildError::ThreadNamePanicked { index } => {
                write!(f, "the thread-name closure panicked for worker {index}")
            }
        }
    }
}

impl Error for BuildError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            BuildError::Spawn { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a submission was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// The pool was shut down gracefully (`shutdown`, `close`, or the drop of
    /// its last handle): queued work still runs, or ran, and new work is
    /// refused. It stays the reason after the pool terminates.
    Shutdown,
    /// `shutdown_now` was called (before or after the pool terminated).
    Stopped,
    /// [`spawn`](crate::spawn) was called on a thread that is not a pool worker.
    NotInPool,
}

/// A submission the pool refused; owns the task, which the caller gets back with
/// [`into_inner`](Rejected::into_inner). Dropping it drops the task unrun.
///
/// # Examples
///
/// ```
/// use executor_core::{RejectReason, ThreadPool};
/// let pool = ThreadPool::new(1).unwrap();
/// pool.shutdown();
/// let (tx, rx) = std::sync::mpsc::channel();
/// let err = pool.execute(move || tx.send(42).unwrap()).unwrap_err();
/// assert_eq!(err.reason(), RejectReason::Shutdown);
/// let f = err.into_inner(); // the closure comes back, still runnable
/// f();
/// assert_eq!(rx.recv(), Ok(42));
/// ```
pub struct Rejected<T> {
    task: T,
    reason: RejectReason,
}

impl<T> Rejected<T> {
    /// A rejection of `task` for `reason`. Public so that other executors built on
    /// this crate's traits report rejections the same way.
    pub fn new(task: T, reason: RejectReason) -> Self {
        Rejected { task, reason }
    }

    /// Why the task was rejected.
    pub fn reason(&self) -> RejectReason {
        self.reason
    }

    /// The task that was not accepted.
    pub fn into_inner(self) -> T {
        self.task
    }

    /// A reference to the task that was not accepted.
    pub fn task(&self) -> &T {
        &self.task
    }

    /// Replaces the task, keeping the reason (used by layers that wrap tasks).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Rejected<U> {
        Rejected {
            task: f(self.task),
            reason: self.reason,
        }
    }
}

impl<T> fmt::Debug for Rejected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for Rejected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            RejectReason::Shutdown => f.write_str("task rejected: the pool has been shut down"),
            RejectReason::Stopped => {
                f.write_str("task rejected: the pool has been stopped (shutdown_now)")
            }
            RejectReason::NotInPool => f.write_str(
                "task rejected: spawn was called outside a pool (use ThreadPool::execute)",
            ),
        }
    }
}

impl<T> Error for Rejected<T> {}
