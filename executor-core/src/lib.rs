//! A work-stealing thread pool with the lifecycle control of Java's executors.
//!
//! * Build a pool with [`ThreadPool::new`] or [`ThreadPool::builder`] (thread count,
//!   names, stack size, start/stop hooks, panic handler).
//! * Hand it closures with [`ThreadPool::execute`] (fire-and-forget; a closure of
//!   at most one word is queued without allocating, a larger one is boxed). Typed results, cancellation and async interop live in
//!   `executor-futures`; completion order in `executor-completion`.
//! * Shut it down with [`ThreadPool::shutdown`] (finish queued work),
//!   [`ThreadPool::shutdown_now`] (get back what never started, interrupt what runs),
//!   [`ThreadPool::await_termination`], or [`ThreadPool::close`] / drop;
//!   [`ThreadPool::on_termination`] runs a hook when the pool has terminated.
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
//! 5. `await_termination` is true iff the pool was shut down, every accepted job
//!    finished (or was handed back) and every worker exited.
//! 6. No worker sleeps while work it can reach is queued (except, as in rayon, that
//!    a worker falling asleep at that instant may miss a `join`'s second half;
//!    the half's owner then runs it). An idle pool uses no CPU.
//! 7. Jobs submitted from outside by one thread start in submission order, up
//!    to the pool's parallelism; jobs spawned inside run newest first (LIFO).
//! 8. A wait on a worker ([`wait_until`], and the handle and completion waits
//!    built on it) never runs unrelated work: only jobs its own task queued,
//!    and a timed wait nothing. A blocked worker is compensated by a spare
//!    worker (up to [`Builder::max_spares`]), so the pool keeps its
//!    parallelism; so is one inside [`block_in_place`]. Fork-join waits
//!    (`join`, scopes) may still run other jobs, as rayon's do.
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | `lifecycle` | the state word and the submission/shutdown handshake |
//! | `registry` | the shared queues, the shutdown protocol, termination |
//! | `batch` | a long outside batch queued as one ticket, claimed by a worker |
//! | `worker` | a worker's loop: finding work (inside work LIFO, outside work FIFO), stealing, the owed-work wait |
//! | `sleep` | the parking protocol (no lost wake-ups, no wake-up per job) |
//! | `job` | the unit of work and the [`Runnable`] seam |
//! | `wait` | [`wait_until`] / [`Waiter`]: which work a wait may run, when it blocks |
//! | `compensate` | spare workers for blocked ones, [`block_in_place`] |
//! | `elastic` | extra workers for load (core/max sizes), stuck-worker detection |
//! | `join`, `scope`, `broadcast`, `latch` | fork-join: [`join`](fn@join), [`Scope`], `install`, `broadcast` (the only `unsafe` code) |
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
mod elastic;
mod error;
mod job;
mod join;
mod latch;
mod lifecycle;
mod panic;
mod pool;
mod registry;
mod scope;
mod scoped_task;
mod sleep;
mod stats;
mod sync;
mod wait;
mod worker;

pub use broadcast::BroadcastContext;
pub use builder::{Builder, DEFAULT_STACK_SIZE};
pub use compensate::{block_in_place, DEFAULT_MAX_SPARES, DEFAULT_SPARE_KEEP_ALIVE};
pub use elastic::DEFAULT_KEEP_ALIVE;
pub use error::{BuildError, RejectReason, Rejected};
pub use job::{Job, Runnable};
pub use join::join;
pub use panic::{payload_message, JobPanic};
pub use pool::{spawn, Executor, InlineExecutor, PoolRef, ThreadPool};
pub use registry::{PanicOrigin, TerminationKey};
pub use scope::{scope, Scope};
pub use scoped_task::{ScopedError, ScopedHandle};
pub use stats::Stats;
pub use wait::{
    current_thread_index, is_interrupted, isolate, run_pending_job, spin_until, wait_until,
    yield_now, Waiter, Yield,
};

/// Locks a `std` mutex, ignoring poison (no user code runs under our locks).
pub(crate) fn sync_lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
