//! Errors as values: building a pool, submitting to one that no longer accepts,
//! and the payload of a task's panic.
//!
//! Every error type here is `std::error::Error + Send + Sync + 'static`
//! whatever the user's closure is (for a `Send + 'static` closure, as every
//! submission requires), so `?` converts it into `Box<dyn Error + Send + Sync>`
//! or `anyhow::Error`: what an error owns and gives back (a closure, a panic
//! payload) is kept in an [`Exclusive`], which is `Sync` because it is only
//! reached by value or through `&mut`.

use crate::exclusive::Exclusive;
use crate::panic::payload_message;
use std::any::Any;
use std::error::Error;
use std::fmt;
use std::io;

/// A timed wait gave up: its timeout elapsed (or its deadline passed) first.
///
/// The one way every timed wait of the workspace reports giving up: each
/// `x_timeout(d)` beside an untimed `x()` returns `Err(TimedOut)`, or an error
/// enum's `TimedOut` variant with an `is_timed_out()` method
/// ([`ThreadPool::await_termination`](crate::ThreadPool::await_termination),
/// `TaskHandle::get_timeout`, `CompletionService::poll_timeout`, the async
/// `time::timeout`, ...). Python's `TimeoutError`, Java's `TimeoutException`.
///
/// # Examples
///
/// ```
/// use executor_core::TimedOut;
///
/// assert_eq!(TimedOut.to_string(), "timed out");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TimedOut;

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out")
    }
}

impl Error for TimedOut {}

/// Why [`Builder::build`](crate::Builder::build) failed. No thread is left running.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// `num_threads(0)` was asked for: a pool needs at least one worker.
    ZeroThreads,
    /// More threads were asked for than a pool can have
    /// ([`MAX_THREADS`](crate::MAX_THREADS)); nothing was allocated or started.
    TooManyThreads {
        /// The thread count asked for.
        requested: usize,
        /// The largest thread count a pool can have.
        max: usize,
    },
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
    /// The name made for worker `index` cannot name a thread: it contains a NUL
    /// byte (which `std` refuses with a panic; the build checks it first).
    InvalidThreadName {
        /// The worker the name was made for.
        index: usize,
        /// The name, as the thread-name closure returned it.
        name: String,
    },
    /// The pool's [name](crate::Builder::name) contains a NUL byte, so it cannot
    /// be part of a thread name (the default worker, spare, timer and monitor
    /// thread names are made from it).
    InvalidPoolName {
        /// The name given to the builder.
        name: String,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroThreads => f.write_str("a thread pool needs at least one thread"),
            BuildError::TooManyThreads { requested, max } => {
                write!(f, "{requested} threads asked for; a pool has at most {max}")
            }
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
            BuildError::InvalidThreadName { index, name } => {
                write!(
                    f,
                    "the name {name:?} for worker {index} contains a NUL byte"
                )
            }
            BuildError::InvalidPoolName { name } => {
                write!(f, "the pool name {name:?} contains a NUL byte")
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
    /// [`execute`](crate::execute) was called on a thread that is not a pool worker.
    NotInPool,
    /// A delayed task's timer needed its thread (it starts with the first
    /// entry that has a deadline) and the operating system refused to start
    /// it. Nothing was left pending; scheduling again tries again.
    NoTimerThread,
}

/// A submission the pool refused; owns the task, which the caller gets back with
/// [`into_inner`](Rejected::into_inner). Dropping it drops the task unrun.
///
/// It is `Error + Send + Sync + 'static` for any `Send + 'static` task, `Sync`
/// or not (the task is kept in an [`Exclusive`]), so `pool.execute(f)?` works
/// in a function returning `Result<_, Box<dyn Error + Send + Sync>>`.
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
    task: Exclusive<T>,
    reason: RejectReason,
}

impl<T> Rejected<T> {
    /// A rejection of `task` for `reason`. Public so that other executors built on
    /// this crate's traits report rejections the same way.
    pub fn new(task: T, reason: RejectReason) -> Self {
        Rejected {
            task: Exclusive::new(task),
            reason,
        }
    }

    /// Why the task was rejected.
    pub fn reason(&self) -> RejectReason {
        self.reason
    }

    /// The task that was not accepted.
    pub fn into_inner(self) -> T {
        self.task.into_inner()
    }

    /// A reference to the task that was not accepted; for a `Sync` task (see
    /// [`task_mut`](Rejected::task_mut) for any task).
    pub fn task(&self) -> &T
    where
        T: Sync,
    {
        self.task.get()
    }

    /// A mutable reference to the task that was not accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_core::{RejectReason, Rejected};
    /// use std::cell::Cell;
    /// // A `Cell` is not `Sync`: `task()` is not available, `task_mut()` is.
    /// let mut err = Rejected::new(Cell::new(1), RejectReason::Shutdown);
    /// err.task_mut().set(2);
    /// assert_eq!(err.into_inner().get(), 2);
    /// ```
    pub fn task_mut(&mut self) -> &mut T {
        self.task.get_mut()
    }

    /// Replaces the task, keeping the reason (used by layers that wrap tasks).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Rejected<U> {
        Rejected {
            task: Exclusive::new(f(self.task.into_inner())),
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
            RejectReason::NoTimerThread => f.write_str(
                "task rejected: the timer thread could not be started (the system refused a thread)",
            ),
        }
    }
}

impl<T> Error for Rejected<T> {}

/// The payload of a task that panicked, with its message when it had one: the
/// `Err` of a scoped task ([`ScopedError::Panicked`](crate::ScopedError::Panicked))
/// and of a typed task in `executor-futures` (`TaskError::Panicked`).
///
/// The payload is kept in an [`Exclusive`], so this type (and the errors that
/// hold it) is `Sync`, which `Box<dyn Error + Send + Sync>` needs.
///
/// # Examples
///
/// ```
/// use executor_core::PanicPayload;
/// let caught = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
/// let panic = PanicPayload::new(caught);
/// assert_eq!(panic.message(), Some("boom"));
/// assert_eq!(panic.into_inner().downcast_ref::<&str>(), Some(&"boom"));
/// ```
pub struct PanicPayload {
    message: Option<String>,
    payload: Exclusive<Box<dyn Any + Send + 'static>>,
}

impl PanicPayload {
    /// Wraps a payload caught with `catch_unwind`, reading its message.
    pub fn new(payload: Box<dyn Any + Send + 'static>) -> PanicPayload {
        PanicPayload {
            message: payload_message(&*payload).map(str::to_owned),
            payload: Exclusive::new(payload),
        }
    }

    /// The panic message, when the payload is a `&str` or a `String` (as with
    /// `panic!("...")`).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The payload, e.g. to `downcast` it or to re-raise it elsewhere.
    pub fn into_inner(self) -> Box<dyn Any + Send + 'static> {
        self.payload.into_inner()
    }

    /// Re-raises the panic on the calling thread with the original payload.
    ///
    /// # Panics
    ///
    /// Always: that is its purpose.
    pub fn resume(self) -> ! {
        std::panic::resume_unwind(self.into_inner())
    }
}

impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PanicPayload")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}
