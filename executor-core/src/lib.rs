//! A work-stealing thread pool with the lifecycle control of Java's executors.
//!
//! Programs usually depend on the `executor` crate instead, which re-exports
//! this one with the typed tasks and completion order, and has a prelude.
//!
//! Each worker thread has its own queue of tasks; a worker whose queue is empty
//! takes ("steals") tasks from the others, and sleeps only when there is
//! nothing left anywhere. A worker that waits (for a `join`, a scope, a task's
//! result) runs other queued tasks meanwhile ("helps") instead of blocking, so
//! waiting inside the pool never deadlocks it.
//!
//! * Build a pool with [`ThreadPool::new`] or [`ThreadPool::builder`] (thread count,
//!   names, stack size, start/stop hooks, panic handler).
//! * Hand it closures with [`ThreadPool::execute`] (fire-and-forget; a closure of
//!   at most one word is queued without allocating, a larger one is boxed). Typed results, cancellation and async interop live in
//!   `executor-futures`; completion order in `executor-completion`.
//! * Shut it down with [`ThreadPool::shutdown`] (finish queued work),
//!   [`ThreadPool::shutdown_now`] (get back what never started, interrupt what runs),
//!   [`ThreadPool::await_termination`], or [`ThreadPool::close`] / drop;
//!   [`Executor::on_termination`](integration::Executor::on_termination) runs a hook when the pool has terminated.
//!   A [`PoolRef`] ([`ThreadPool::downgrade`]) submits without keeping the pool open.
//!
//! # Guarantees
//!
//! 1. A submission is accepted or rejected (the closure is handed back in
//!    [`Rejected`]), never lost, even racing a shutdown.
//! 2. Every accepted job runs exactly once, unless `shutdown_now` handed it back.
//! 3. A panicking job never kills or shrinks the pool.
//! 4. `shutdown` is idempotent; `shutdown_now` returns exactly the jobs that never
//!    started.
//! 5. `await_termination` is `Ok` iff the pool was shut down, every accepted job
//!    finished (or was handed back) and every worker exited. Delayed jobs of the
//!    pool's [`Timer`](integration::Timer) count as accepted: after `shutdown` the pool waits for the
//!    kept ones to come due and run (see [`Builder::execute_delayed_after_shutdown`]).
//! 6. No worker sleeps while work it can reach is queued (except, as in rayon, that
//!    a worker falling asleep at that instant may miss a `join`'s second half;
//!    the half's owner then runs it). An idle pool uses no CPU.
//! 7. On a pool that no longer accepts work, [`ThreadPool::install`],
//!    [`ThreadPool::join`] and [`ThreadPool::scope`] run their closures on the
//!    calling thread (never on another pool, never a panic for it), and
//!    [`ThreadPool::broadcast`] returns [`Rejected`] with its closure.
//! 8. Jobs submitted from outside by one thread start in submission order, up
//!    to the pool's parallelism; jobs spawned inside run newest first (LIFO).
//! 9. A wait on a worker ([`wait_until`](integration::wait_until), and the handle and completion waits
//!    built on it) never runs unrelated work: only jobs its own task queued,
//!    and a timed wait nothing. A blocked worker is compensated by a spare
//!    worker (up to [`Builder::max_spares`]), so the pool keeps its
//!    parallelism; so is one inside [`block_in_place`]. Fork-join waits
//!    (`join`, scopes) may still run other jobs, as rayon's do.
//!
//! # Panics in jobs
//!
//! A panicking job is caught: the worker survives, and a panic that nobody
//! receives as a value (a fire-and-forget job, a task whose handle was dropped)
//! goes to the [panic handler](Builder::panic_handler) (by default a `tracing`
//! error event).
//! As in rayon and tokio, the panic first passes through std's panic hook, which
//! prints it; [`Builder::quiet_panics`] keeps a pool's caught panics quiet.
//!
//! # Examples
//!
//! ```
//! use executor_core::ThreadPool;
//! let pool = ThreadPool::new(2).unwrap();
//! let (tx, rx) = std::sync::mpsc::channel();
//! for i in 0..4 {
//!     let tx = tx.clone();
//!     pool.execute(move || tx.send(i * i).unwrap()).unwrap();
//! }
//! drop(tx);
//! pool.close();
//! let mut squares: Vec<i32> = rx.iter().collect();
//! squares.sort();
//! assert_eq!(squares, [0, 1, 4, 9]);
//! ```

mod batch;
mod broadcast;
mod builder;
mod compensate;
mod deque;
mod elastic;
mod error;
mod exclusive;
mod job;
mod join;
mod latch;
mod lifecycle;
mod panic;
mod pool;
mod quiet_panics;
mod registry;
mod scope;
mod scoped_task;
mod sleep;
mod stats;
mod sync;
mod timer;
mod wait;
mod worker;

pub mod integration;

pub use broadcast::BroadcastContext;
pub use builder::{Builder, DEFAULT_STACK_SIZE, MAX_THREADS};
pub use compensate::{block_in_place, DEFAULT_MAX_SPARES, DEFAULT_SPARE_KEEP_ALIVE};
pub use elastic::DEFAULT_KEEP_ALIVE;
pub use error::{BuildError, PanicPayload, RejectReason, Rejected, TimedOut};
pub use join::join;
pub use panic::JobPanic;
pub use pool::{execute, PoolRef, ThreadPool};
pub use registry::PanicOrigin;
pub use scope::{scope, Scope};
pub use scoped_task::{ScopedError, ScopedHandle};
pub use stats::Stats;
pub use wait::{current_thread_index, is_cancelled, isolate, yield_now, Yield};

/// Locks a `std` mutex, ignoring poison (no user code runs under our locks).
pub(crate) fn sync_lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
