//! `invoke_all` and `invoke_any` (Java's `ExecutorService.invokeAll/invokeAny`,
//! Python's `concurrent.futures.wait(ALL_COMPLETED / FIRST_COMPLETED)`).
//!
//! * `invoke_all` submits everything as one batch (`submit_all`: on a pool
//!   called from outside, the first task, then the rest as one submission), then
//!   waits for the handles *in input order*
//!   (on a pool worker each wait runs a not-yet-started task inline, so a 1-thread
//!   pool can call it from a task). With a deadline, one timer entry cancels the
//!   tasks not done by then (`scheduled::try_cancel_at`), so every returned handle is
//!   done. If no timer thread can be started (the system refused a thread), the
//!   calling thread keeps the deadline itself with timed waits and cancels the
//!   stragglers when it passes.
//! * `invoke_any` submits everything with a completion hook that pushes each done
//!   handle into a small queue (a one-shot completion service) and waits for
//!   arrivals with [`executor_core::integration::wait_until`] (on a worker: running only the
//!   tasks it queued itself, then blocked and compensated). The first
//!   success wins and the rest are cancelled; if all fail, the failures come back
//!   in input order. The submitted tasks are held by a guard that cancels them
//!   when the call ends, whichever way: a win, a timeout, a rejection, or a
//!   panic of the input iterator (which then resumes). So no task of an
//!   `invoke_any` outlives the call unreported.

use crate::error::{Failure, InvokeAnyError, TaskError};
use crate::handle::{TaskHandle, TaskRef};
use crate::service::ExecutorService;
use crate::Callable;
use executor_core::integration::{Executor, Waiter};
use executor_core::Rejected;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

pub(crate) fn invoke_all<E, I, C, T>(
    exec: &E,
    tasks: I,
    deadline: Option<Instant>,
) -> Result<Vec<TaskHandle<T>>, Rejected<Vec<C>>>
where
    E: Executor + ?Sized,
    I: IntoIterator<Item = C>,
    C: Callable<T> + Send + 'static,
    T: Send + 'static,
{
    // One submission for the lot (see `ExecutorService::submit_all`).
    let handles = match exec.submit_all(tasks) {
        Ok(handles) => handles,
        Err(e) => {
            let (accepted, refused) = e.into_parts();
            for handle in &accepted {
                handle.cancel();
            }
            return Err(refused);
        }
    };
    // The deadline is one timer entry that cancels the stragglers (no waiting
    // thread keeps time); every wait is then untimed, and ends by the deadline.
    let entry = deadline.map(|due| {
        let tasks = handles.iter().map(TaskHandle::task_ref).collect();
        crate::scheduled::try_cancel_at(tasks, Some(due))
    });
    if let (Some(due), Some(None)) = (deadline, &entry) {
        // No timer thread could be started: this thread keeps the deadline
        // (timed waits run nothing inline) and cancels the stragglers itself.
        for handle in &handles {
            if !matches!(handle.wait_deadline(Some(due)), Ok(true)) {
                break;
            }
        }
        for handle in &handles {
            handle.cancel();
        }
        return Ok(handles);
    }
    let deadline = entry.flatten();
    for handle in &handles {
        // A fresh task never runs below us on this thread, so no WouldDeadlock.
        // With a deadline a worker does not claim a task inline (a body that
        // ignores its cancel would hold the caller past the deadline); it
        // helps with other work while it waits.
        let _ = match deadline {
            Some(_) => handle.wait_timeout(std::time::Duration::MAX).is_ok(),
            None => handle.wait_deadline(None).is_ok(),
        };
    }
    if let Some(entry) = deadline {
        entry.cancel();
    }
    Ok(handles)
}

/// The meeting point of the tasks of one `invoke_any` call.
struct Race<T> {
    arrivals: Mutex<VecDeque<(usize, TaskHandle<T>)>>,
    arrived: AtomicUsize,
    waiter: Waiter,
}

impl<T> Race<T> {
    /// The completion hook of task `index`.
    fn arrive(&self, index: usize, handle: TaskHandle<T>) {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back((index, handle));
        // Release: the push above happens-before the caller's Acquire load.
        self.arrived.fetch_add(1, Ordering::Release);
        self.waiter.wake();
    }

    fn next(&self) -> Option<(usize, TaskHandle<T>)> {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }
}

/// `invoke_any` with a classification of each outcome: `on_value` says whether a
/// value counts as success, `on_error` turns a task error into a failure.
/// [`invoke_any`] for callables returning `Result<T, Er>`: an `Err` is a
/// failure too ([`Failure::Failed`]), the first `Ok` wins.
pub(crate) fn invoke_any_ok<E, I, C, T, Er>(
    exec: &E,
    tasks: I,
    deadline: Option<Instant>,
) -> Result<T, InvokeAnyError<Failure<Er>>>
where
    E: Executor + ?Sized,
    I: IntoIterator<Item = C>,
    C: Callable<Result<T, Er>> + Send + 'static,
    T: Send + 'static,
    Er: Send + 'static,
{
    invoke_any(
        exec,
        tasks,
        deadline,
        |r: Result<T, Er>| r.map_err(Failure::Failed),
        Failure::Task,
    )
}

pub(crate) fn invoke_any<E, I, C, T, R, F>(
    exec: &E,
    tasks: I,
    deadline: Option<Instant>,
    on_value: impl Fn(T) -> Result<R, F>,
    on_error: impl Fn(TaskError) -> F,
) -> Result<R, InvokeAnyError<F>>
where
    E: Executor + ?Sized,
    I: IntoIterator<Item = C>,
    C: Callable<T> + Send + 'static,
    T: Send + 'static,
{
    let mut iter = tasks.into_iter().peekable();
    if iter.peek().is_none() {
        return Err(InvokeAnyError::Empty);
    }
    let race = Arc::new(Race {
        arrivals: Mutex::new(VecDeque::new()),
        arrived: AtomicUsize::new(0),
        waiter: Waiter::current(),
    });
    // Every return (and an unwind out of `iter`) cancels what is not done.
    let mut refs = CancelOnDrop(Vec::with_capacity(iter.size_hint().0));
    for (index, task) in iter.enumerate() {
        let race = race.clone();
        match exec.submit_with(task, move |handle| race.arrive(index, handle)) {
            Ok(task_ref) => refs.0.push(task_ref),
            Err(rejected) => return Err(InvokeAnyError::Rejected(rejected.reason())),
        }
    }
    let mut failures = Vec::new();
    let mut seen = 0;
    while seen < refs.0.len() {
        let Some((index, handle)) = race.next() else {
            let arrived = &race.arrived;
            if executor_core::integration::wait_until(
                || arrived.load(Ordering::Acquire) > seen,
                deadline,
            )
            .is_err()
            {
                return Err(InvokeAnyError::TimedOut);
            }
            continue;
        };
        seen += 1;
        let outcome = match handle.get() {
            Ok(value) => on_value(value),
            Err(e) => Err(on_error(e)),
        };
        match outcome {
            Ok(winner) => return Ok(winner),
            Err(failure) => failures.push((index, failure)),
        }
    }
    failures.sort_by_key(|(index, _)| *index);
    Err(InvokeAnyError::AllFailed(
        failures.into_iter().map(|(_, f)| f).collect(),
    ))
}

/// The tasks an `invoke_any` submitted; dropping it cancels those not done
/// (a no-op for done ones).
struct CancelOnDrop(Vec<TaskRef>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.cancel();
        }
    }
}
