//! Python's `concurrent.futures` vocabulary for sets of tasks:
//! [`ExecutorService::map`](crate::ExecutorService::map) (`Executor.map`,
//! results in input order, optional overall timeout) and [`wait`]
//! (`concurrent.futures.wait` with [`ReturnWhen`], done and not-done sets).
//!
//! * `map` submits every call as one batch and hands back a [`MapResults`]
//!   iterator that takes the results in input order. With a timeout (measured
//!   from the `map` call, as in Python), the first result not ready by the
//!   deadline yields [`MapError::TimedOut`], every call not finished is
//!   cancelled, and the iteration ends. Dropping the iterator early cancels the
//!   calls whose results were not taken (Python's generator `close()`).
//! * `wait` registers one `on_complete` callback per handle (a counter and a
//!   wake-up), then waits until the condition holds or the deadline passes; on
//!   a pool worker the wait runs other queued work meanwhile. An empty input
//!   returns at once with two empty sets, as in Python.

use crate::error::TaskError;
use crate::handle::TaskHandle;
use crate::state::TaskState;
use crate::Callable;
use executor_core::integration::Waiter;
use executor_core::Rejected;
use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One call of `map`: the shared function and one input.
pub(crate) struct MapCall<F, X> {
    pub(crate) f: Arc<F>,
    pub(crate) input: X,
}

impl<F, X, U> Callable<U> for MapCall<F, X>
where
    F: Fn(X) -> U,
{
    fn call(self) -> U {
        (self.f)(self.input)
    }
}

/// When [`wait`] returns (Python's `FIRST_COMPLETED`, `FIRST_EXCEPTION`,
/// `ALL_COMPLETED`).
///
/// # Examples
///
/// ```
/// use executor_futures::ReturnWhen;
/// assert_ne!(ReturnWhen::FirstCompleted, ReturnWhen::AllCompleted);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReturnWhen {
    /// As soon as any task is done (completed, panicked or cancelled).
    FirstCompleted,
    /// As soon as any task panicked; if none does, when all are done. A
    /// cancelled task is not an exception (as in Python).
    FirstException,
    /// When every task is done.
    AllCompleted,
}

/// The outcome of [`wait`]: the handles that are done and those that are not,
/// each in input order.
///
/// # Examples
///
/// ```
/// use executor_futures::{wait, ExecutorService, ReturnWhen};
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let handles = vec![pool.submit(|| 1).unwrap(), pool.submit(|| 2).unwrap()];
/// let waited = wait(handles, ReturnWhen::AllCompleted);
/// assert_eq!((waited.done.len(), waited.not_done.len()), (2, 0));
/// ```
#[derive(Debug)]
pub struct Waited<T> {
    /// The done handles (`get` returns at once).
    pub done: Vec<TaskHandle<T>>,
    /// The others, still running or queued.
    pub not_done: Vec<TaskHandle<T>>,
}

struct WaitState {
    done: AtomicUsize,
    panicked: AtomicUsize,
    waiter: Waiter,
}

/// Waits until `return_when` holds for `handles`, then splits them into done and
/// not done, keeping input order: Python's `concurrent.futures.wait`
/// ([`wait_timeout`] bounds the wait). An empty input returns at once with two
/// empty sets.
///
/// No thread but the caller waits: each handle gets a completion callback
/// that counts and wakes the caller. On a pool worker the caller runs other
/// queued work while it waits.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use executor_futures::{wait, ExecutorService, ReturnWhen};
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let quick = pool.submit(|| 1).unwrap();
/// let slow = pool.submit(move || { rx.recv().unwrap(); 2 }).unwrap();
/// let w = wait(vec![quick, slow], ReturnWhen::FirstCompleted);
/// assert_eq!((w.done.len(), w.not_done.len()), (1, 1));
/// tx.send(()).unwrap();
/// ```
pub fn wait<T>(handles: Vec<TaskHandle<T>>, return_when: ReturnWhen) -> Waited<T> {
    wait_deadline(handles, return_when, None)
}

/// [`wait`] that gives up after `timeout`: Python's `wait(fs, timeout,
/// return_when)`. Like Python's, giving up is not an error: the split is
/// returned as it stands, and `return_when` did not hold iff the handles it
/// needed are still in `not_done` (for `AllCompleted`: `not_done` is not
/// empty). It bounds an operation, as `invoke_all_timeout` does, rather than
/// report a timed-out wait.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use executor_futures::{wait_timeout, ExecutorService, ReturnWhen};
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let slow = pool.submit(move || rx.recv().unwrap()).unwrap();
/// let w = wait_timeout(vec![slow], ReturnWhen::AllCompleted, Duration::from_millis(5));
/// assert_eq!((w.done.len(), w.not_done.len()), (0, 1)); // gave up
/// tx.send(()).unwrap();
/// ```
pub fn wait_timeout<T>(
    handles: Vec<TaskHandle<T>>,
    return_when: ReturnWhen,
    timeout: Duration,
) -> Waited<T> {
    wait_deadline(handles, return_when, Instant::now().checked_add(timeout))
}

fn wait_deadline<T>(
    handles: Vec<TaskHandle<T>>,
    return_when: ReturnWhen,
    deadline: Option<Instant>,
) -> Waited<T> {
    let n = handles.len();
    if n > 0 {
        let state = Arc::new(WaitState {
            done: AtomicUsize::new(0),
            panicked: AtomicUsize::new(0),
            waiter: Waiter::current(),
        });
        for h in &handles {
            let state = state.clone();
            h.on_complete(move |task| {
                if task.state() == TaskState::Panicked {
                    state.panicked.fetch_add(1, Ordering::Relaxed);
                }
                // Release: pairs with the Acquire loads of the condition.
                state.done.fetch_add(1, Ordering::Release);
                state.waiter.wake();
            });
        }
        let ready = || {
            let done = state.done.load(Ordering::Acquire);
            match return_when {
                ReturnWhen::FirstCompleted => done >= 1,
                ReturnWhen::FirstException => {
                    state.panicked.load(Ordering::Relaxed) >= 1 || done == n
                }
                ReturnWhen::AllCompleted => done == n,
            }
        };
        if !ready() {
            let _ = executor_core::integration::wait_until(ready, deadline);
        }
    }
    let (done, not_done) = handles.into_iter().partition(TaskHandle::is_done);
    Waited { done, not_done }
}

/// The error of one item of [`MapResults`].
///
/// # Examples
///
/// ```
/// use executor_futures::MapError;
/// assert!(MapError::TimedOut.is_timed_out());
/// assert_eq!(MapError::TimedOut.to_string(), "map: the deadline passed before this result was ready");
/// ```
#[derive(Debug)]
pub enum MapError {
    /// The overall deadline passed before this result was ready; this call and
    /// every later one were cancelled, and the iteration ends.
    TimedOut,
    /// The call produced no value (it panicked, or was cancelled).
    Task(TaskError),
}

impl MapError {
    /// True for [`MapError::TimedOut`].
    pub fn is_timed_out(&self) -> bool {
        matches!(self, MapError::TimedOut)
    }
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::TimedOut => {
                f.write_str("map: the deadline passed before this result was ready")
            }
            MapError::Task(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl Error for MapError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            MapError::Task(e) => Some(e),
            MapError::TimedOut => None,
        }
    }
}

/// The results of [`ExecutorService::map`](crate::ExecutorService::map), in
/// input order (module docs for the timeout). Dropping it cancels the calls
/// whose results were not taken.
///
/// # Examples
///
/// ```
/// use executor_futures::ExecutorService;
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let results = pool.map(1..=3, |x: u32| x * x).unwrap();
/// assert_eq!(results.len(), 3);
/// let squares: Vec<u32> = results.map(Result::unwrap).collect();
/// assert_eq!(squares, [1, 4, 9]);
/// ```
#[derive(Debug)]
pub struct MapResults<U> {
    handles: VecDeque<TaskHandle<U>>,
    deadline: Option<Instant>,
}

impl<U> MapResults<U> {
    pub(crate) fn new(handles: Vec<TaskHandle<U>>, deadline: Option<Instant>) -> Self {
        MapResults {
            handles: handles.into(),
            deadline,
        }
    }

    fn cancel_rest(&mut self) {
        for h in self.handles.drain(..) {
            h.cancel();
        }
    }
}

impl<U> Iterator for MapResults<U> {
    type Item = Result<U, MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        let handle = self.handles.pop_front()?;
        if let Some(deadline) = self.deadline {
            // A fresh task never runs below us on this thread: no WouldDeadlock.
            if !handle.wait_deadline(Some(deadline)).unwrap_or(true) {
                handle.cancel();
                self.cancel_rest();
                return Some(Err(MapError::TimedOut));
            }
        }
        Some(handle.get().map_err(MapError::Task))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.handles.len(), Some(self.handles.len()))
    }
}

impl<U> ExactSizeIterator for MapResults<U> {}

impl<U> Drop for MapResults<U> {
    fn drop(&mut self) {
        self.cancel_rest();
    }
}

/// Takes the inputs back out of refused calls.
pub(crate) fn refused_inputs<F, X>(refused: Rejected<Vec<MapCall<F, X>>>) -> Rejected<Vec<X>> {
    refused.map(|calls| calls.into_iter().map(|c| c.input).collect())
}
