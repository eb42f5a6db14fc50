//! Cooperative cancellation: which task is running on this thread, and whether it
//! was asked to stop.
//!
//! Each thread keeps a stack of the tasks it is running: a worker running a task
//! pushes it; if that task waits and the wait *helps* (runs another task inline),
//! the nested task is pushed on top and popped when it returns, so the top is
//! always the innermost task. [`is_cancelled`] reads the top only: a cancellation
//! never leaks into the next task on the same worker, nor into or out of a nested
//! one. The whole stack is what wait uses to refuse waiting for a task that runs
//! below the caller on the same thread ([`WouldDeadlock`](crate::WouldDeadlock)).
//!
//! The entry *owns* the task's `Arc` while it runs (moved in and out, so entering
//! and leaving a task costs no reference-count traffic).
//!
//! Limitation: a plain `executor_core` job (not a task of this crate) that runs
//! nested inside a task's helping wait sees that task as current.

use crate::error::Cancelled;
use crate::handle::TaskRef;
use crate::task::TaskCore;
use std::cell::RefCell;
use std::sync::Arc;

thread_local! {
    static STACK: RefCell<Vec<Arc<dyn TaskCore>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `task` as the current task of this thread, then gives the task
/// back. `f` must not unwind (callers wrap user code in `catch_unwind`).
#[inline]
pub(crate) fn run_as_current<R>(
    task: Arc<dyn TaskCore>,
    f: impl FnOnce() -> R,
) -> (Arc<dyn TaskCore>, R) {
    let mut task = Some(task);
    let pushed = STACK
        .try_with(|s| s.borrow_mut().push(task.take().expect("present")))
        .is_ok();
    let r = f();
    let task = if pushed {
        STACK
            .try_with(|s| s.borrow_mut().pop())
            .ok()
            .flatten()
            .expect("the task stack is balanced")
    } else {
        task.take().expect("kept when the thread-local is gone")
    };
    (task, r)
}

/// True if the task whose data lives at `ptr` runs on this thread (at any depth).
pub(crate) fn is_running_here(ptr: *const ()) -> bool {
    STACK
        .try_with(|s| {
            s.borrow()
                .iter()
                .any(|t| std::ptr::eq(Arc::as_ptr(t) as *const (), ptr))
        })
        .unwrap_or(false)
}

/// True when the task running on this thread should stop early: its handle was
/// cancelled, or its pool was stopped with `shutdown_now`
/// ([`executor_core::is_interrupted`]). False outside tasks (unless interrupted).
///
/// Cancellation in Rust is cooperative (there is no `Thread.interrupt` that
/// breaks a blocking call): long-running callables should poll this, or use
/// [`checkpoint`] with `?`.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc::channel;
/// use executor_futures::{is_cancelled, ExecutorService};
///
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let (started_tx, started_rx) = channel();
/// let handle = pool
///     .submit(move || {
///         started_tx.send(()).unwrap();
///         let mut spins = 0u64;
///         while !is_cancelled() {
///             spins += 1;
///             std::thread::yield_now();
///         }
///         spins
///     })
///     .unwrap();
/// started_rx.recv().unwrap();
/// assert!(handle.cancel());
/// assert!(handle.get().unwrap_err().is_cancelled());
/// assert!(!is_cancelled()); // not a task: never cancelled
/// ```
pub fn is_cancelled() -> bool {
    let own = STACK
        .try_with(|s| {
            s.borrow()
                .last()
                .is_some_and(|t| t.state_word().is_cancelled())
        })
        .unwrap_or(false);
    own || executor_core::is_interrupted()
}

/// `Err(Cancelled)` when [`is_cancelled`] is true: a cancellation point for the
/// `?` operator.
///
/// # Errors
///
/// [`Cancelled`] when the current task was cancelled or its pool stopped.
///
/// # Examples
///
/// ```
/// use executor_futures::{checkpoint, Cancelled, ExecutorService};
///
/// fn crunch(items: &[u64]) -> Result<u64, Cancelled> {
///     let mut total = 0;
///     for i in items {
///         checkpoint()?; // stop early once cancelled
///         total += i;
///     }
///     Ok(total)
/// }
///
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let handle = pool.submit(|| crunch(&[1, 2, 3])).unwrap();
/// assert_eq!(handle.get().unwrap(), Ok(6));
/// ```
pub fn checkpoint() -> Result<(), Cancelled> {
    if is_cancelled() {
        Err(Cancelled)
    } else {
        Ok(())
    }
}

/// A [`TaskRef`] to the task running on this thread, if any: a cancellation token
/// to hand to helper threads the task starts, or a way to learn its id.
///
/// # Examples
///
/// ```
/// use executor_futures::{current_task, ExecutorService};
/// assert!(current_task().is_none());
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let handle = pool.submit(|| current_task().map(|t| t.id())).unwrap();
/// let id = handle.id();
/// assert_eq!(handle.get().unwrap(), Some(id));
/// ```
pub fn current_task() -> Option<TaskRef> {
    STACK
        .try_with(|s| s.borrow().last().cloned())
        .ok()
        .flatten()
        .map(TaskRef::from_core)
}
