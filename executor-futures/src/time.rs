//! Async timers: [`sleep`], [`sleep_until`], [`timeout`] and [`interval`], driven
//! by an `executor_core` [`Timer`]: the pool's when first polled on one of its
//! workers (`pool.spawn(async { sleep(d).await })` needs no other runtime), the
//! process-wide one anywhere else (`futures::executor::block_on`, tokio, a plain
//! thread).
//!
//! ```text
//!   poll ──now ≥ due?──yes──▶ Ready (the timer entry, if any, is removed)
//!     │ no
//!     ├─ registered and still pending ──▶ update its waker (if another) ──▶ Pending
//!     └─ not registered (or woken early: its pool's timer stopped)
//!          ──▶ Timer::current().wake_at(due, waker) ──▶ Pending
//!   drop ──▶ the entry is removed at once (O(log n)): nothing waits for the deadline
//! ```
//!
//! Deadlines: `Duration::ZERO` and past instants are due at once (ready on the
//! first poll, no timer entry); a deadline past what `Instant` can hold
//! (`Duration::MAX`) is due never: the future stays pending, holding no entry.
//! A timer never fires early: readiness is decided by `Instant::now() >= due` at
//! the poll, never by the wake alone.

use executor_core::integration::{Timer, TimerKey};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// `timeout`'s error: the deadline passed first (the inner future was dropped).
/// The workspace's one timed-out type, [`executor_core::TimedOut`].
pub use executor_core::TimedOut;

/// Registers `waker` for `due` with the timer of where we run now, or with the
/// process-wide one when that timer has stopped (its pool terminated). `Err`
/// only when no timer thread could be started (the system refused a thread).
pub(crate) fn try_register(due: Option<Instant>, waker: Waker) -> Result<TimerKey, Waker> {
    Timer::current()
        .wake_at(due, waker)
        .or_else(|waker| Timer::global().wake_at(due, waker))
}

/// [`try_register`], panicking with a clear message when no timer thread
/// could be started.
pub(crate) fn register(due: Option<Instant>, waker: Waker) -> TimerKey {
    try_register(due, waker).unwrap_or_else(|_| {
        panic!("no timer thread could be started (the system refused a thread): a deadline cannot be kept")
    })
}

/// `Instant::now() + d`, or `None` (due never) past what `Instant` can hold.
pub(crate) fn deadline_after(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

/// A future that is ready at its deadline; see [`sleep`] and [`sleep_until`].
/// Dropping it removes its timer entry at once.
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    due: Option<Instant>,
    key: Option<TimerKey>,
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("due", &self.due)
            .field("registered", &self.key.is_some())
            .finish()
    }
}

/// Waits for `duration`: ready once `duration` has passed since this call.
/// `Duration::ZERO` is ready at once; a duration too large for `Instant` never.
///
/// # Panics
///
/// A poll before the deadline panics if the timer's thread (started with the
/// first deadline of a pool's timer, or of the process-wide one) could not be
/// started because the system refused a thread: the sleep could never end. On
/// a pool, the task then ends panicked with that message.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use executor_futures::{time::sleep, ExecutorService};
///
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let start = Instant::now();
/// let handle = pool.spawn(async move {
///     sleep(Duration::from_millis(5)).await; // the worker runs other work meanwhile
///     start.elapsed()
/// }).unwrap();
/// assert!(handle.get().unwrap() >= Duration::from_millis(5));
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    Sleep {
        due: deadline_after(duration),
        key: None,
    }
}

/// Waits until `deadline`; a past deadline is ready at once.
///
/// # Panics
///
/// As [`sleep`]'s, when no timer thread can be started.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use executor_futures::time::sleep_until;
/// let due = Instant::now() + Duration::from_millis(2);
/// futures::executor::block_on(sleep_until(due));
/// assert!(Instant::now() >= due);
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        due: Some(deadline),
        key: None,
    }
}

impl Sleep {
    /// The deadline (`None`: never).
    pub fn deadline(&self) -> Option<Instant> {
        self.due
    }

    /// True once the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        self.due.is_some_and(|d| Instant::now() >= d)
    }

    /// Moves the deadline (the entry is registered again at the next poll).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use executor_futures::time::sleep;
    /// let mut s = sleep(Duration::from_secs(3600));
    /// s.reset(Instant::now());
    /// futures::executor::block_on(s);
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.unregister();
        self.due = Some(deadline);
    }

    fn reset_opt(&mut self, deadline: Option<Instant>) {
        self.unregister();
        self.due = deadline;
    }

    fn unregister(&mut self) {
        if let Some(key) = self.key.take() {
            key.cancel();
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let Some(due) = this.due else {
            return Poll::Pending; // due never: nothing will wake it
        };
        if Instant::now() >= due {
            this.unregister();
            return Poll::Ready(());
        }
        if let Some(key) = &this.key {
            if key.reset_waker(cx.waker()) {
                return Poll::Pending;
            }
        }
        // Not registered yet, or the entry fired early because its pool's timer
        // stopped: register with the timer of where we run now.
        this.key = Some(register(Some(due), cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// Runs `future` with a deadline `duration` from now: its output, or
/// [`TimedOut`] (and `future` dropped) if the deadline passes first. The future
/// is polled first, so a ready future wins even with `Duration::ZERO`.
///
/// # Errors
///
/// [`TimedOut`] when the deadline passed first.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use executor_futures::{time::{sleep, timeout, TimedOut}, ExecutorService};
///
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let slow = pool.spawn(timeout(Duration::from_millis(5), sleep(Duration::from_secs(3600)))).unwrap();
/// assert_eq!(slow.get().unwrap(), Err(TimedOut));
/// let fast = pool.spawn(timeout(Duration::from_secs(3600), async { 7 })).unwrap();
/// assert_eq!(fast.get().unwrap(), Ok(7));
/// ```
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, TimedOut> {
    let deadline = deadline_after(duration);
    timeout_at_opt(deadline, future).await
}

/// [`timeout`] with an instant for the deadline.
///
/// # Errors
///
/// [`TimedOut`] when the deadline passed first.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use executor_futures::time::timeout_at;
/// let r = futures::executor::block_on(timeout_at(Instant::now(), async { 1 }));
/// assert_eq!(r, Ok(1)); // polled first: a ready future wins
/// ```
pub async fn timeout_at<F: Future>(deadline: Instant, future: F) -> Result<F::Output, TimedOut> {
    timeout_at_opt(Some(deadline), future).await
}

async fn timeout_at_opt<F: Future>(
    deadline: Option<Instant>,
    future: F,
) -> Result<F::Output, TimedOut> {
    let mut future = std::pin::pin!(future);
    let mut timer = Sleep {
        due: deadline,
        key: None,
    };
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(&mut timer).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(TimedOut)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Ticks every `period`; see [`interval`].
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    /// The next tick's deadline (`None`: past what `Instant` holds: never).
    next: Option<Instant>,
    sleep: Sleep,
}

/// A stream of ticks every `period`, the first at once: `tick().await` returns
/// each tick's scheduled instant. Ticks stay on the grid `start + n·period` (no
/// drift). When ticks are missed (the consumer was late), the next `tick` is
/// ready at once (one catch-up tick) and the ones after return to the grid
/// after now: late ticks never bunch up.
///
/// # Panics
///
/// If `period` is zero (it would be a busy loop).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use executor_futures::{time::interval, ExecutorService};
///
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let handle = pool.spawn(async {
///     let mut every = interval(Duration::from_millis(2));
///     let first = every.tick().await;
///     let third = { every.tick().await; every.tick().await };
///     third - first
/// }).unwrap();
/// // On the grid (4 ms, or 6 ms after a catch-up on a loaded machine).
/// assert_eq!(handle.get().unwrap().as_micros() % 2_000, 0);
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// [`interval`] whose first tick is at `start`.
///
/// # Panics
///
/// If `period` is zero.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use executor_futures::time::interval_at;
/// let start = Instant::now() + Duration::from_millis(1);
/// let mut every = interval_at(start, Duration::from_millis(1));
/// assert_eq!(futures::executor::block_on(every.tick()), start);
/// ```
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval: the period must be positive");
    Interval {
        period,
        next: Some(start),
        sleep: Sleep {
            due: Some(start),
            key: None,
        },
    }
}

/// The next deadline of a fixed-rate series whose tick `due` just ran at `now`:
/// `due + period`, unless that has passed: then the latest missed grid point (one
/// catch-up, at once), so late ticks never bunch up. `None`: never.
pub(crate) fn next_on_grid(due: Instant, period: Duration, now: Instant) -> Option<Instant> {
    let next = due.checked_add(period)?;
    if next >= now {
        return Some(next);
    }
    let behind = now.duration_since(next).as_nanos() / period.as_nanos().max(1);
    let skip = u32::try_from(behind).unwrap_or(u32::MAX);
    next.checked_add(period.saturating_mul(skip))
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// [`tick`](Interval::tick) as a poll function (for hand-written futures).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let Some(due) = self.next else {
            return Poll::Pending;
        };
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.next = next_on_grid(due, self.period, Instant::now());
        self.sleep.reset_opt(self.next);
        Poll::Ready(due)
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_grid_has_one_catch_up_and_no_drift() {
        let t0 = Instant::now();
        let p = Duration::from_millis(10);
        let ms = |n| t0 + Duration::from_millis(n);
        assert_eq!(next_on_grid(t0, p, ms(3)), Some(ms(10)), "on time");
        assert_eq!(next_on_grid(t0, p, ms(10)), Some(ms(10)));
        // 35 ms late: the missed 10, 20 are skipped; 30 (past) is the catch-up.
        assert_eq!(next_on_grid(t0, p, ms(35)), Some(ms(30)));
        assert_eq!(
            next_on_grid(ms(30), p, ms(36)),
            Some(ms(40)),
            "back on the grid"
        );
        assert_eq!(next_on_grid(t0, Duration::MAX, t0), None, "due never");
    }
}
