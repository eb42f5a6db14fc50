//! Timed execution on a pool (Java's `ScheduledExecutorService`):
//! [`ScheduledExecutorService`] (`schedule`, `schedule_at`,
//! `schedule_at_fixed_rate`, `schedule_with_fixed_delay`, `submit_with_timeout`),
//! [`ScheduledHandle`], and per-task deadlines ([`TaskHandle::cancel_after`]).
//!
//! ## How each kind of task is built
//!
//! ```text
//!  schedule(delay, f)      task cell (work: DelayedCall(f), never run inline by a waiter)
//!                          └─ its job waits in the pool's Timer ──due──▶ submitted to the pool
//!                          cancel: the cell is cancelled (f dropped) and the timer
//!                          entry removed (O(log n)): nothing is left until the deadline
//!
//!  schedule_at_fixed_rate  an async task running a Series future on the pool:
//!  schedule_with_fixed_delay   loop { sleep until due; shut down? end cancelled;
//!                                     f(); due = next on the grid / now + delay }
//!                          one task: runs never overlap; a panic in f ends the task
//!                          (the handle reports it); cancel drops the future and with
//!                          it the sleep's timer entry
//!
//!  cancel_after(d)         a waker entry in the Timer whose wake cancels the task
//!                          (on the timer's thread; hooks run there)
//! ```
//!
//! ## Shutdown (Java's policies)
//!
//! * A delayed one-shot still runs when due after `shutdown` (or is cancelled at
//!   `shutdown` with `Builder::execute_delayed_after_shutdown(false)`); the pool
//!   terminates after the last kept one ran, so `close` (and the drop of the
//!   last pool handle) waits for them too, as Java's `close` does; use
//!   `shutdown_now` or the policy to not wait. `shutdown_now` hands back the
//!   delayed tasks that never started, with the queued ones: run the returned
//!   job to run the task now, drop it to cancel the task.
//! * A periodic series stops at `shutdown`: a run that comes due after it ends
//!   the series as cancelled instead, and the series waiting for its next run
//!   is cancelled when the pool terminates (like every waiting async task).
//!
//! ## Fixed rate
//!
//! The n-th run is due at `first + n·period`. A run that ends after the next one
//! was due is followed at once by one catch-up run (the latest missed one); the
//! other missed ones are skipped, so late runs never bunch up and the series
//! stays on its grid (no drift).

use crate::cell_arc::upcast;
use crate::handle::{TaskHandle, TaskId, TaskRef};
use crate::service::ExecutorService;
use crate::state::TaskState;
use crate::task::{DelayedCall, NoHook, TaskCell};
use crate::time::{deadline_after, next_on_grid, Sleep};
use crate::{Callable, GetTimeoutError, TaskError, WouldDeadlock};
use executor_core::integration::{Executor, Job, Timer, TimerKey};
use executor_core::{PoolRef, Rejected};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// Why a periodic task was not scheduled: the executor refused it, or the period
/// was zero. Either way the closure comes back.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use executor_futures::{ScheduleError, ScheduledExecutorService};
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let err = pool.schedule_at_fixed_rate(Duration::ZERO, Duration::ZERO, || ()).unwrap_err();
/// assert!(matches!(err, ScheduleError::ZeroPeriod(_)));
/// let _task = err.into_inner(); // handed back, never run
/// ```
pub enum ScheduleError<F> {
    /// The executor refused the task (it is shut down).
    Rejected(Rejected<F>),
    /// The period (or delay between runs) was zero: it would be a busy loop.
    ZeroPeriod(F),
}

impl<F> ScheduleError<F> {
    /// The closure, never run.
    pub fn into_inner(self) -> F {
        match self {
            ScheduleError::Rejected(r) => r.into_inner(),
            ScheduleError::ZeroPeriod(f) => f,
        }
    }
}

impl<F> fmt::Debug for ScheduleError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::Rejected(r) => f.debug_tuple("Rejected").field(r).finish(),
            ScheduleError::ZeroPeriod(_) => f.write_str("ZeroPeriod(..)"),
        }
    }
}

impl<F> fmt::Display for ScheduleError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::Rejected(r) => fmt::Display::fmt(r, f),
            ScheduleError::ZeroPeriod(_) => {
                f.write_str("the period of a periodic task must be positive")
            }
        }
    }
}

impl<F> std::error::Error for ScheduleError<F> {}

/// When a scheduled task runs next.
enum Due {
    Once(Option<Instant>),
    Series(Arc<NextRun>),
}

/// The next run of a series (updated by the series after each run).
struct NextRun(Mutex<Option<Instant>>);

impl NextRun {
    fn get(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
    fn set(&self, due: Option<Instant>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = due;
    }
}

/// The handle of a scheduled task: everything a [`TaskHandle`] does (`get`,
/// `get_timeout`, `cancel`, `.await`, ...) plus the time left before it runs
/// ([`remaining`](ScheduledHandle::remaining)). Java's `ScheduledFuture`.
///
/// For a periodic task it stands for the whole series: `cancel` stops it, and
/// `get` returns when the series ended: [`TaskError::Cancelled`] (cancelled, or
/// stopped by the pool's shutdown) or [`TaskError::Panicked`] with the panic of
/// the run that ended it; it never returns `Ok`.
///
/// Dropping it leaves the task scheduled.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use executor_futures::ScheduledExecutorService;
///
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let later = pool.schedule(Duration::from_secs(3600), || unreachable!()).unwrap();
/// assert!(later.remaining().unwrap() > Duration::from_secs(3000));
/// assert!(later.cancel()); // its closure is dropped now, and its timer entry removed
///
/// let soon = pool.schedule(Duration::from_millis(1), || 42).unwrap();
/// assert_eq!(soon.get().unwrap(), 42);
/// ```
pub struct ScheduledHandle<T> {
    handle: TaskHandle<T>,
    entry: Option<TimerKey>,
    due: Due,
}

impl<T> fmt::Debug for ScheduledHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScheduledHandle")
            .field("id", &self.id())
            .field("state", &self.state())
            .field("due", &self.due())
            .finish()
    }
}

impl<T> ScheduledHandle<T> {
    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.handle.id()
    }

    /// The task's current state (`Pending` until it is due and starts).
    pub fn state(&self) -> TaskState {
        self.handle.state()
    }

    /// True once the task (for a series: the series) is over.
    pub fn is_done(&self) -> bool {
        self.handle.is_done()
    }

    /// True if cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.handle.is_cancelled()
    }

    /// When the task runs next: `None` when done, or due never.
    pub fn due(&self) -> Option<Instant> {
        if self.is_done() {
            return None;
        }
        match &self.due {
            Due::Once(due) if self.state() == TaskState::Pending => *due,
            Due::Once(_) => None,
            Due::Series(next) => next.get(),
        }
    }

    /// The time left before the task runs next (Java's `getDelay`): zero when
    /// due (or running late), `None` when done or due never.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_futures::ScheduledExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let never = pool.schedule(Duration::MAX, || ()).unwrap(); // saturates: due never
    /// assert_eq!(never.remaining(), None);
    /// assert!(never.cancel());
    /// ```
    pub fn remaining(&self) -> Option<Duration> {
        self.due()
            .map(|due| due.saturating_duration_since(Instant::now()))
    }

    /// Cancels the task (for a series: stops it). True iff this call cancelled
    /// it. A task not yet due never runs: its closure is dropped by this call and
    /// its timer entry removed at once. A running one sees
    /// [`is_cancelled`](crate::is_cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_futures::ScheduledExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let series = pool.schedule_with_fixed_delay(Duration::ZERO, Duration::from_millis(1), || ()).unwrap();
    /// assert!(series.cancel());
    /// assert!(series.get().unwrap_err().is_cancelled());
    /// ```
    pub fn cancel(&self) -> bool {
        let cancelled = self.handle.cancel();
        if let Some(entry) = &self.entry {
            entry.cancel();
        }
        cancelled
    }

    /// Cancels the task if it has not finished `delay` from now (see
    /// [`TaskHandle::cancel_after`]).
    ///
    /// # Panics
    ///
    /// As [`TaskHandle::cancel_after`]: if no timer thread can be started.
    pub fn cancel_after(&self, delay: Duration) -> TimerKey {
        self.handle.cancel_after(delay)
    }

    /// A [`TaskRef`] to the task. Cancelling through it cancels the task too
    /// (its closure is dropped), but leaves the empty timer entry until its
    /// deadline.
    pub fn task_ref(&self) -> TaskRef {
        self.handle.task_ref()
    }

    /// Blocks until the task is done. Never runs a delayed task early: a waiter
    /// on a worker runs other work meanwhile.
    ///
    /// # Errors
    ///
    /// [`WouldDeadlock`] from inside the task itself.
    pub fn wait(&self) -> Result<(), WouldDeadlock> {
        self.handle.wait()
    }

    /// Blocks until done (`Ok`) or `timeout` passes.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::TimedOut`](crate::WaitTimeoutError::TimedOut) when
    /// `timeout` passed first; `WouldDeadlock` from inside the task itself.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), crate::WaitTimeoutError> {
        self.handle.wait_timeout(timeout)
    }

    /// Blocks until the task ran and returns its result (see
    /// [`TaskHandle::get`]).
    ///
    /// # Errors
    ///
    /// As [`TaskHandle::get`].
    ///
    /// # Panics
    ///
    /// If the result was already taken.
    pub fn get(self) -> Result<T, TaskError> {
        self.handle.get()
    }

    /// [`get`](ScheduledHandle::get) with a timeout (see
    /// [`TaskHandle::get_timeout`]).
    ///
    /// # Errors
    ///
    /// As [`TaskHandle::get_timeout`].
    ///
    /// # Panics
    ///
    /// If the result was already taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_futures::ScheduledExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let mut h = pool.schedule(Duration::from_secs(3600), || 1).unwrap();
    /// assert!(h.get_timeout(Duration::from_millis(1)).unwrap_err().is_timed_out());
    /// h.cancel();
    /// ```
    pub fn get_timeout(&mut self, timeout: Duration) -> Result<T, GetTimeoutError> {
        self.handle.get_timeout(timeout)
    }

    /// The result if done, without blocking.
    ///
    /// # Panics
    ///
    /// If the result was already taken.
    pub fn try_get(&mut self) -> Option<Result<T, TaskError>> {
        self.handle.try_get()
    }

    /// The plain [`TaskHandle`] (the timer entry stays; cancelling through the
    /// handle leaves it until its deadline, without the closure).
    pub fn into_handle(self) -> TaskHandle<T> {
        self.handle
    }
}

impl<T> Future for ScheduledHandle<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.handle).poll(cx)
    }
}

/// A waker entry's wake that cancels tasks: the per-task deadline.
struct CancelOnWake {
    tasks: Vec<TaskRef>,
    due: Option<Instant>,
}

impl Wake for CancelOnWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.due.is_none_or(|due| Instant::now() < due) {
            // Woken before the deadline: its pool's timer stopped (the pool
            // terminated). The deadline moves to the process-wide timer.
            if Timer::global()
                .wake_at(self.due, Waker::from(self.clone()))
                .is_err()
            {
                tracing::error!("no timer thread could be started: a task deadline (cancel_after) moved off a terminated pool is dropped");
            }
            return;
        }
        for task in &self.tasks {
            task.cancel();
        }
    }
}

/// Cancels every task of `tasks` still unfinished at `due`, from the current
/// [`Timer`]'s thread. Cancel the key to disarm (unless the pool whose timer
/// holds it terminated meanwhile: the deadline then moved to the global timer
/// and stays armed; cancelling a done task changes nothing).
/// `None` when no timer thread could be started (the system refused a thread):
/// the caller keeps the deadline itself, or reports it.
pub(crate) fn try_cancel_at(tasks: Vec<TaskRef>, due: Option<Instant>) -> Option<TimerKey> {
    let waker = Waker::from(Arc::new(CancelOnWake { tasks, due }));
    crate::time::try_register(due, waker).ok()
}

impl<T> TaskHandle<T> {
    /// A per-task deadline (Java's `orTimeout`): cancels the task (a running one
    /// sees [`is_cancelled`](crate::is_cancelled)) unless it is done `delay`
    /// from now. The cancel happens on the thread of the calling worker's pool's
    /// timer (of the process-wide timer elsewhere), where a completion hook of
    /// the task then runs. Cancel the returned key to disarm the deadline; until
    /// its deadline the entry keeps the (empty, once done) task cell allocated.
    ///
    /// # Panics
    ///
    /// If no timer thread can be started (the system refused a thread), as
    /// the deadline could never be kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_futures::{is_cancelled, ExecutorService};
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let stuck = pool.submit(|| while !is_cancelled() { std::thread::yield_now() }).unwrap();
    /// stuck.cancel_after(Duration::from_millis(5));
    /// assert!(stuck.get().unwrap_err().is_cancelled());
    /// ```
    pub fn cancel_after(&self, delay: Duration) -> TimerKey {
        try_cancel_at(vec![self.task_ref()], deadline_after(delay)).unwrap_or_else(|| {
            panic!("cancel_after: no timer thread could be started (the system refused a thread)")
        })
    }
}

/// Schedules a one-shot delayed task (module docs).
fn schedule_once<E, C, T>(
    exec: &E,
    due: Option<Instant>,
    task: C,
) -> Result<ScheduledHandle<T>, Rejected<C>>
where
    E: Executor + Clone + 'static,
    C: Callable<T> + Send + 'static,
    T: Send + 'static,
{
    let cell = TaskCell::new(DelayedCall(task), (), NoHook);
    let job = cell.clone().into_job();
    let scheduled = match exec.pool_ref() {
        Some(pool) => pool.timer().schedule_job(due, job),
        // Not a pool: the process-wide timer hands the job to the executor.
        None => {
            let exec = exec.clone();
            Timer::global().schedule_job(
                due,
                Job::new(move || {
                    // A refused job is dropped: its task ends cancelled.
                    let _ = exec.execute_job(job);
                }),
            )
        }
    };
    match scheduled {
        Ok(key) => Ok(ScheduledHandle {
            handle: TaskHandle::from_raw(upcast!(cell)),
            entry: Some(key),
            due: Due::Once(due),
        }),
        Err(rejected) => {
            let reason = rejected.reason();
            // Reclaim first: dropping the job would abandon (cancel) the cell.
            let DelayedCall(task) = cell.reclaim();
            drop(rejected);
            Err(Rejected::new(task, reason))
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    FixedRate(Duration),
    FixedDelay(Duration),
}

/// The future of a periodic series (module docs). Its closure is never pinned,
/// so the series is `Unpin` whatever the closure.
struct Series<F> {
    task: F,
    mode: Mode,
    sleep: Sleep,
    next: Arc<NextRun>,
    pool: Option<PoolRef>,
}

impl<F> Unpin for Series<F> {}

impl<F: FnMut() + Send + 'static> Future for Series<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            if Pin::new(&mut this.sleep).poll(cx).is_pending() {
                return Poll::Pending;
            }
            if this.pool.as_ref().is_some_and(PoolRef::is_shutdown) {
                // Java's default: periodic tasks stop at shutdown.
                this.next.set(None);
                if let Some(me) = crate::current_task() {
                    me.cancel();
                }
                return Poll::Pending;
            }
            let due = this
                .sleep
                .deadline()
                .expect("a series waits for a deadline");
            (this.task)();
            let now = Instant::now();
            let next = match this.mode {
                Mode::FixedRate(period) => next_on_grid(due, period, now),
                Mode::FixedDelay(delay) => now.checked_add(delay),
            };
            this.next.set(next);
            match next {
                Some(next) => this.sleep.reset(next),
                None => return Poll::Pending, // due never: the series waits for cancel
            }
            if crate::is_cancelled() {
                return Poll::Pending; // the runner drops the series now
            }
        }
    }
}

fn schedule_series<E, F>(
    exec: &E,
    initial: Duration,
    mode: Mode,
    task: F,
) -> Result<ScheduledHandle<()>, ScheduleError<F>>
where
    E: Executor + Clone + 'static,
    F: FnMut() + Send + 'static,
{
    let (Mode::FixedRate(period) | Mode::FixedDelay(period)) = mode;
    if period.is_zero() {
        return Err(ScheduleError::ZeroPeriod(task));
    }
    let first = deadline_after(initial);
    let next = Arc::new(NextRun(Mutex::new(first)));
    let mut sleep = crate::time::sleep(Duration::ZERO);
    match first {
        Some(first) => sleep.reset(first),
        None => sleep = crate::time::sleep(Duration::MAX),
    }
    let series = Series {
        task,
        mode,
        sleep,
        next: next.clone(),
        pool: exec.pool_ref(),
    };
    match exec.spawn(series) {
        Ok(handle) => Ok(ScheduledHandle {
            handle,
            entry: None,
            due: Due::Series(next),
        }),
        Err(rejected) => Err(ScheduleError::Rejected(rejected.map(|s| s.task))),
    }
}

/// Timed execution on an executor: Java's `ScheduledExecutorService` (module
/// docs), plus per-task deadlines. Implemented for every [`Executor`] that is
/// `Clone + 'static` (a [`ThreadPool`](executor_core::ThreadPool), a
/// [`PoolRef`], an `Arc<E>`, ...): on a pool the pool's [`Timer`] fires the
/// tasks; on another executor the process-wide timer hands them to it when due.
///
/// Deadlines: `Duration::ZERO` and past instants are due at once; a delay too
/// large for `Instant` (`Duration::MAX`) saturates to *due never* (the task waits
/// until cancelled, and is cancelled at `shutdown`). Never before its deadline:
/// the timer fires an entry only once `Instant::now()` has reached it.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use executor_futures::ScheduledExecutorService;
///
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let beats = Arc::new(AtomicUsize::new(0));
/// let b = beats.clone();
/// let heartbeat = pool
///     .schedule_at_fixed_rate(Duration::ZERO, Duration::from_millis(1), move || {
///         b.fetch_add(1, Ordering::Relaxed);
///     })
///     .unwrap();
/// let check = pool.schedule(Duration::from_millis(20), move || beats.load(Ordering::Relaxed)).unwrap();
/// assert!(check.get().unwrap() >= 1);
/// heartbeat.cancel();
/// ```
pub trait ScheduledExecutorService: Executor {
    /// Runs `task` once, `delay` from now, and returns its handle.
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding `task` (never run) when the executor is shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use executor_futures::ScheduledExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let start = Instant::now();
    /// let h = pool.schedule(Duration::from_millis(5), move || start.elapsed()).unwrap();
    /// assert!(h.get().unwrap() >= Duration::from_millis(5));
    /// pool.shutdown();
    /// let refused = pool.schedule(Duration::ZERO, || 7).unwrap_err();
    /// assert_eq!(refused.into_inner()(), 7); // handed back unrun
    /// ```
    fn schedule<C, T>(&self, delay: Duration, task: C) -> Result<ScheduledHandle<T>, Rejected<C>>
    where
        Self: Clone + Sized + 'static,
        C: Callable<T> + Send + 'static,
        T: Send + 'static,
    {
        schedule_once(self, deadline_after(delay), task)
    }

    /// Runs `task` once at `instant` (at once if it has passed).
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding `task` when the executor is shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use executor_futures::ScheduledExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let at = Instant::now() + Duration::from_millis(3);
    /// let h = pool.schedule_at(at, Instant::now).unwrap();
    /// assert!(h.get().unwrap() >= at);
    /// ```
    fn schedule_at<C, T>(
        &self,
        instant: Instant,
        task: C,
    ) -> Result<ScheduledHandle<T>, Rejected<C>>
    where
        Self: Clone + Sized + 'static,
        C: Callable<T> + Send + 'static,
        T: Send + 'static,
    {
        schedule_once(self, Some(instant), task)
    }

    /// Runs `task` first `initial` from now, then every `period` on the grid
    /// `first + n·period` (module docs, "Fixed rate"): runs never overlap, a late
    /// series catches up by one run at most, a panic ends the series (the
    /// handle's `get` reports it), and `shutdown` stops it.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::ZeroPeriod`] for a zero `period`;
    /// [`ScheduleError::Rejected`] when the executor is shut down. Both hand the
    /// closure back.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_futures::ScheduledExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let mut runs = 0;
    /// let series = pool
    ///     .schedule_at_fixed_rate(Duration::ZERO, Duration::from_millis(1), move || {
    ///         runs += 1;
    ///         assert!(runs < 3, "third run");
    ///     })
    ///     .unwrap();
    /// assert_eq!(series.get().unwrap_err().message(), Some("third run"));
    /// ```
    fn schedule_at_fixed_rate<F>(
        &self,
        initial: Duration,
        period: Duration,
        task: F,
    ) -> Result<ScheduledHandle<()>, ScheduleError<F>>
    where
        Self: Clone + Sized + 'static,
        F: FnMut() + Send + 'static,
    {
        schedule_series(self, initial, Mode::FixedRate(period), task)
    }

    /// Runs `task` first `initial` from now, then again `delay` after each run
    /// ends (runs never overlap); otherwise as
    /// [`schedule_at_fixed_rate`](ScheduledExecutorService::schedule_at_fixed_rate).
    ///
    /// # Errors
    ///
    /// As [`schedule_at_fixed_rate`](ScheduledExecutorService::schedule_at_fixed_rate).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    /// use std::time::Duration;
    /// use executor_futures::ScheduledExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let (tx, rx) = channel();
    /// let poll = pool
    ///     .schedule_with_fixed_delay(Duration::ZERO, Duration::from_millis(1), move || {
    ///         let _ = tx.send(());
    ///     })
    ///     .unwrap();
    /// rx.recv().unwrap();
    /// rx.recv().unwrap();
    /// poll.cancel();
    /// ```
    fn schedule_with_fixed_delay<F>(
        &self,
        initial: Duration,
        delay: Duration,
        task: F,
    ) -> Result<ScheduledHandle<()>, ScheduleError<F>>
    where
        Self: Clone + Sized + 'static,
        F: FnMut() + Send + 'static,
    {
        schedule_series(self, initial, Mode::FixedDelay(delay), task)
    }

    /// Submits `task` with a deadline: it is cancelled (a running one sees
    /// [`is_cancelled`](crate::is_cancelled)) unless done `timeout` from now
    /// ([`TaskHandle::cancel_after`]).
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding `task` when the executor is shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_futures::{is_cancelled, ScheduledExecutorService};
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let quick = pool.submit_with_timeout(Duration::from_secs(10), || 5).unwrap();
    /// assert_eq!(quick.get().unwrap(), 5);
    /// let stuck = pool
    ///     .submit_with_timeout(Duration::from_millis(5), || {
    ///         while !is_cancelled() {
    ///             std::thread::yield_now();
    ///         }
    ///     })
    ///     .unwrap();
    /// assert!(stuck.get().unwrap_err().is_cancelled());
    /// ```
    fn submit_with_timeout<C, T>(
        &self,
        timeout: Duration,
        task: C,
    ) -> Result<TaskHandle<T>, Rejected<C>>
    where
        C: Callable<T> + Send + 'static,
        T: Send + 'static,
    {
        let handle = self.submit(task)?;
        drop(handle.cancel_after(timeout));
        Ok(handle)
    }
}

impl<E: Executor + ?Sized> ScheduledExecutorService for E {}
