//! [`Scope::submit`](crate::Scope::submit): scoped tasks that return a value
//! through a handle with `get` and `cancel`.
//!
//! ```text
//!            run (pool or get)           finish
//! PENDING ─────────────────────▶ RUNNING ──────────▶ DONE      get: Ok(T) | Err(Panicked)
//!    │ cancel
//!    ▼
//! CANCELLED (closure dropped by the canceller; the queued job finds nothing to do)
//! ```
//!
//! The closure lives in the shared cell, not in the queued job, so that `get` on a
//! task that has not started can claim it (PENDING → RUNNING, one CAS; whoever
//! wins runs it) and run it on the waiting thread: the task's closure runs exactly
//! once, and a waiter never deadlocks on a task queued behind itself. A task's
//! panic goes to its handle (it does not make the scope panic).

use crate::error::PanicPayload;
use crate::scope::Scope;
use crate::sync_lock;
use crate::wait::{wait_until, Waiter};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
const CANCELLED: u8 = 3;

type TaskFn<'scope, T> = Box<dyn FnOnce(&Scope<'scope>) -> T + Send + 'scope>;

pub(crate) struct Cell<'scope, T> {
    state: AtomicU8,
    /// The run panicked (set before `DONE`), for the statistics.
    panicked: AtomicBool,
    func: Mutex<Option<TaskFn<'scope, T>>>,
    result: Mutex<Option<std::thread::Result<T>>>,
    waiters: Mutex<Vec<Waiter>>,
}

impl<'scope, T: Send> Cell<'scope, T> {
    pub(crate) fn new(func: TaskFn<'scope, T>) -> Self {
        Cell {
            state: AtomicU8::new(PENDING),
            panicked: AtomicBool::new(false),
            func: Mutex::new(Some(func)),
            result: Mutex::new(None),
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// Runs the task if nobody started or cancelled it yet.
    /// Runs the task unless it was claimed or cancelled; returns the code its
    /// job's run counts as in the statistics (`crate::stats`): a task `get`
    /// ran on its own thread is counted when its job finds it run (its panic
    /// too, through `panicked`); a cancelled one not at all.
    pub(crate) fn run(&self, scope: &Scope<'scope>) -> u8 {
        if let Err(state) =
            self.state
                .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
        {
            return match state {
                CANCELLED => crate::stats::RUN_NOT_COUNTED,
                _ if self.panicked.load(Ordering::Acquire) => crate::stats::RUN_PANICKED,
                _ => crate::stats::RUN_DEFAULT,
            };
        }
        let func = sync_lock(&self.func).take().expect("claimed once");
        let result = catch_unwind(AssertUnwindSafe(|| func(scope)));
        let panicked = result.is_err();
        self.panicked.store(panicked, Ordering::Release);
        *sync_lock(&self.result) = Some(result);
        self.finish(DONE);
        if panicked {
            crate::stats::RUN_PANICKED
        } else {
            crate::stats::RUN_DEFAULT
        }
    }

    fn finish(&self, state: u8) {
        self.state.store(state, Ordering::Release);
        let waiters = std::mem::take(&mut *sync_lock(&self.waiters));
        for w in waiters {
            w.wake();
        }
    }

    fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) >= DONE
    }
}

/// Why a scoped task gave no value. Like every error of this workspace it is
/// `Error + Send + Sync + 'static`, so `handle.get()?` works in a function
/// returning `Result<_, Box<dyn Error + Send + Sync>>`.
///
/// # Examples
///
/// ```
/// use executor_core::{ScopedError, ThreadPool};
/// let pool = ThreadPool::new(1).unwrap();
/// let err = pool.scope(|s| s.submit(|_| -> u8 { panic!("bad") }).get().unwrap_err());
/// assert_eq!(err.message(), Some("bad"));
/// let boxed: Box<dyn std::error::Error + Send + Sync> = err.into();
/// assert_eq!(boxed.to_string(), "scoped task panicked: bad");
/// ```
pub enum ScopedError {
    /// The task was cancelled before it started.
    Cancelled,
    /// The task panicked; the payload is kept.
    Panicked(PanicPayload),
}

impl ScopedError {
    /// The panic message, if the task panicked with a string.
    pub fn message(&self) -> Option<&str> {
        match self {
            ScopedError::Panicked(p) => p.message(),
            ScopedError::Cancelled => None,
        }
    }
}

impl fmt::Debug for ScopedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopedError::Cancelled => f.write_str("Cancelled"),
            ScopedError::Panicked(_) => f.debug_tuple("Panicked").field(&self.message()).finish(),
        }
    }
}

impl fmt::Display for ScopedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopedError::Cancelled => f.write_str("scoped task was cancelled"),
            ScopedError::Panicked(_) => match self.message() {
                Some(m) => write!(f, "scoped task panicked: {m}"),
                None => f.write_str("scoped task panicked"),
            },
        }
    }
}

impl std::error::Error for ScopedError {}

/// The handle of a task submitted with [`Scope::submit`](crate::Scope::submit):
/// `get` its value (waiting, as [`wait_until`](crate::integration::wait_until) does, if
/// needed) or `cancel` it. Dropping it
/// leaves the task to run; the scope still waits for it. It borrows the scope,
/// so it cannot outlive it.
pub struct ScopedHandle<'h, 'scope, T> {
    cell: Arc<Cell<'scope, T>>,
    scope: &'h Scope<'scope>,
}

impl<T> fmt::Debug for ScopedHandle<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedHandle")
            .field("state", &self.cell.state.load(Ordering::Relaxed))
            .finish()
    }
}

impl<'h, 'scope, T: Send> ScopedHandle<'h, 'scope, T> {
    pub(crate) fn new(cell: Arc<Cell<'scope, T>>, scope: &'h Scope<'scope>) -> Self {
        ScopedHandle { cell, scope }
    }

    /// True once the task finished or was cancelled.
    pub fn is_done(&self) -> bool {
        self.cell.is_done()
    }

    /// Cancels the task if it has not started: it will never run and its closure
    /// is dropped now. Returns true iff this call cancelled it.
    pub fn cancel(&self) -> bool {
        if self
            .cell
            .state
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        drop(sync_lock(&self.cell.func).take());
        self.cell.finish(CANCELLED);
        true
    }

    /// Waits for the task and returns its value. A task that has not started runs
    /// right here, on the calling thread; otherwise the caller waits, running other
    /// queued work if it is a pool worker.
    ///
    /// # Errors
    ///
    /// [`ScopedError::Cancelled`] or [`ScopedError::Panicked`].
    pub fn get(self) -> Result<T, ScopedError> {
        if self.cell.state.load(Ordering::Acquire) == PENDING {
            // Not started: run it here (the CAS in `run` decides who runs it).
            self.cell.run(self.scope);
        }
        if !self.cell.is_done() {
            sync_lock(&self.cell.waiters).push(Waiter::current());
            let _ = wait_until(|| self.cell.is_done(), None);
        }
        match self.cell.state.load(Ordering::Acquire) {
            CANCELLED => Err(ScopedError::Cancelled),
            _ => match sync_lock(&self.cell.result)
                .take()
                .expect("done, so a result")
            {
                Ok(v) => Ok(v),
                Err(p) => Err(ScopedError::Panicked(PanicPayload::new(p))),
            },
        }
    }
}
