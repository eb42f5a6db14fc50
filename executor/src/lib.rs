//! A thread pool you embed in your program: hand it work, get results back (in
//! the order you asked or in the order they finish), cancel what is no longer
//! needed, and shut it down cleanly. What `java.util.concurrent`'s executors and
//! Python's `concurrent.futures` give their users, for Rust, on a work-stealing
//! scheduler that also does rayon-style fork-join and runs `async` tasks.
//!
//! One dependency and one `use`:
//!
//! ```toml
//! [dependencies]
//! executor = { path = "executor" }   # this repository's `executor/` folder
//! ```
//!
//! ```
//! use executor::prelude::*;
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let pool = ThreadPool::new(4)?;
//!     let answer = pool.submit(|| 6 * 7)?;   // runs on the pool
//!     assert_eq!(answer.get()?, 42);         // waits for the result
//!     Ok(())
//! }
//! ```
//!
//! # Where to find what
//!
//! | you want to | use | Java / Python |
//! |---|---|---|
//! | make a pool | [`ThreadPool::new`], [`ThreadPool::builder`] (names, stack size, hooks, [quiet panics](Builder::quiet_panics)) | `Executors.newFixedThreadPool`, `ThreadPoolExecutor(max_workers)` |
//! | run a closure, no result | [`ThreadPool::execute`] | `execute(Runnable)` |
//! | run a closure, keep a handle to its result | [`submit`](ExecutorService::submit) → [`TaskHandle`]: [`get`](TaskHandle::get), [`get_timeout`](TaskHandle::get_timeout), [`cancel`](TaskHandle::cancel), `.await` | `submit(Callable)` → `Future`; `submit(fn)` → `Future` |
//! | a task type of your own | implement [`Callable`] (every `FnOnce() -> T` already is one) | `Callable<V>` |
//! | run many, wait for all / the first success | [`invoke_all`](ExecutorService::invoke_all), [`invoke_any`](ExecutorService::invoke_any), [`submit_all`](ExecutorService::submit_all) | `invokeAll`, `invokeAny`; `wait`, `map` |
//! | take results as they finish | [`CompletionService`] ([`take`](CompletionService::take), [`poll`](CompletionService::poll), a `for` loop), [`as_completed`] over handles | `ExecutorCompletionService`; `as_completed` |
//! | split work and join it (borrowing local data) | [`ThreadPool::join`], [`ThreadPool::scope`], [`ThreadPool::install`], [`ThreadPool::broadcast`] | `ForkJoinPool` / `RecursiveTask` |
//! | run later, or periodically; give a task a deadline | [`schedule`](ScheduledExecutorService::schedule), [`schedule_at_fixed_rate`](ScheduledExecutorService::schedule_at_fixed_rate), [`schedule_with_fixed_delay`](ScheduledExecutorService::schedule_with_fixed_delay) → [`ScheduledHandle`]; [`submit_with_timeout`](ScheduledExecutorService::submit_with_timeout), [`cancel_after`](TaskHandle::cancel_after); async [`time::sleep`], [`time::timeout`], [`time::interval`] | `ScheduledExecutorService`; `orTimeout` |
//! | run B after A, without a thread waiting | [`then`](TaskHandle::then), [`and_then`](TaskHandle::and_then), [`on_complete`](TaskHandle::on_complete); [`all_of`], [`any_of`], [`submit_after`](ExecutorService::submit_after); a [`TaskGraph`] of tasks and edges | `thenApply`, `thenCompose`, `whenComplete`, `allOf`, `anyOf`; `add_done_callback` |
//! | Python's `map` and `wait` | [`map`](ExecutorService::map), [`map_timeout`](ExecutorService::map_timeout); [`wait`] with [`ReturnWhen`] | `Executor.map`; `concurrent.futures.wait` |
//! | run `async` code on the pool | [`spawn`](ExecutorService::spawn) a future → the same [`TaskHandle`] | `CompletableFuture.supplyAsync` |
//! | call something that blocks (I/O, a lock, `block_on`) from a task | [`block_in_place`]: the pool runs a spare worker meanwhile; or an elastic pool ([`Builder::max_threads`], [`Builder::keep_alive`]) | `ManagedBlocker`; `ThreadPoolExecutor(core, max, keepAlive)` |
//! | stop | [`shutdown`](ThreadPool::shutdown) + [`await_termination`](ThreadPool::await_termination); [`shutdown_now`](ThreadPool::shutdown_now); [`close`](ThreadPool::close) or drop | the same names; `shutdown(wait=True)` |
//! | let a running task notice it should stop | [`is_cancelled()`] / [`checkpoint()`] (after [`cancel`](TaskHandle::cancel) or `shutdown_now`) | `Thread.interrupted()` |
//! | wait, but not forever | every timed wait is `x_timeout(d)` beside `x()` and reports [`TimedOut`] (or an error's `TimedOut` variant, `is_timed_out()`) | `TimeoutException`; `TimeoutError` |
//!
//! Everything above is in [`prelude`]. The methods `submit`, `spawn`,
//! `invoke_all`, ... come from the [`ExecutorService`] trait, which the prelude
//! brings into scope: without it, `pool.submit` is "no method named `submit`".
//!
//! # Words used in these docs
//!
//! - **Task**: one closure or future you hand to the pool. **Job**: the pool's
//!   internal form of a task (you only meet it in [`shutdown_now`](ThreadPool::shutdown_now)'s
//!   return value).
//! - **Worker**: one of the pool's threads. Each has its own queue; an idle
//!   worker takes ("steals") work from the others, so work queued on a busy
//!   worker still runs soon.
//! - **Rejected**: a submission the pool refused (it was shut down). You get the
//!   closure back inside [`Rejected`], never silently lost.
//! - **Cancel**: a request to stop a task. A task not yet started never starts;
//!   a running one is asked to stop and notices it with [`is_cancelled()`].
//! - **Waiting** on a worker (`get`, `take`, `invoke_all`, ...): the worker runs
//!   only tasks its own task queued, then blocks, and the pool runs a **spare**
//!   worker in its place, so waiting inside the pool never deadlocks it, even
//!   with one thread. A timed wait runs nothing and returns on time. Fork-join
//!   waits (`join`, a scope's end) may run other queued tasks, as rayon's do;
//!   [`isolate`] keeps them to their own.
//! - **Injector**: the pool's shared queue for tasks submitted from threads
//!   outside the pool (a worker's own submissions go to its own queue).
//! - **Claim**: the step that makes a queued task "started". Exactly one
//!   thread wins it, so a task that a waiting `get` runs itself is not run again
//!   by the worker that later finds it in the queue.
//! - **Tombstone**: that leftover queue entry, of a task already run or
//!   cancelled elsewhere; it is skipped when its turn comes.
//!
//! # Errors
//!
//! | error | when |
//! |---|---|
//! | [`BuildError`] | a pool could not start (zero threads, the OS refused a thread) |
//! | [`Rejected`] | a submission after shutdown (the task is inside) |
//! | [`TaskError`] | `get` on a task that panicked or was cancelled |
//! | [`GetTimeoutError`] | `get_timeout` ran out of time (the handle is kept) or the task failed |
//! | [`InvokeAnyError`] | `invoke_any` had no task, every task failed, or time ran out |
//! | [`TimedOut`] | any timed wait gave up: `await_termination`, `poll_timeout`, `as_completed_timeout`, `time::timeout`, ... (the enums below have a `TimedOut` variant and `is_timed_out()`) |
//! | [`WaitTimeoutError`] | `wait_timeout` ran out of time, or a task waited for itself |
//! | [`WaitAnyError`], [`TrySubmitError`] | completion order: nothing to wait for or time ran out; a bounded service is full |
//! | [`ScopedError`] | a task spawned in a scope panicked or was cancelled |
//!
//! Each implements [`std::error::Error`], so `?` moves it into a
//! `Box<dyn Error>` or an `anyhow::Error`.
//!
//! # Panics in tasks
//!
//! A panic inside a task never kills a worker or the pool: it is caught and
//! comes back as [`TaskError::Panicked`] from `get` (for [`submit`](ExecutorService::submit)),
//! or goes to the pool's [panic handler](Builder::panic_handler) (for
//! [`execute`](ThreadPool::execute)). As in rayon and tokio, the panic first
//! passes through std's panic hook, which prints `thread '...' panicked at ...`
//! on stderr. To keep the pool's caught panics quiet, build the pool with
//! [`Builder::quiet_panics`]: panics on that pool's workers are then not
//! printed, while every other thread's panics still are.
//!
//! # The crates behind this one
//!
//! `executor` re-exports three crates, each usable alone: [`executor_core`]
//! (the pool, fork-join, shutdown), [`executor_futures`] (typed tasks and
//! handles), [`executor_completion`](mod@executor_completion) (completion order). The items other
//! executors or libraries build on (the job type, the executor trait, waiting
//! primitives) are gathered in [`integration`].
//!
//! The repository's `README.md` is compiled and run as part of this crate's
//! tests, so every example in it works as written.

pub use executor_completion;
pub use executor_core;
pub use executor_futures;

pub use executor_completion::{
    as_completed, as_completed_timeout, wait_any, wait_any_timeout, AsCompleted, AsCompletedStream,
    AsCompletedTimeout, Completed, CompletionService, CompletionStream, Finished, IntoIter,
    IntoStream, Iter, TimedOut, TrySubmitError, WaitAnyError,
};
pub use executor_core::{
    block_in_place, current_thread_index, execute, isolate, join, scope, yield_now,
    BroadcastContext, BuildError, Builder, JobPanic, PanicOrigin, PoolRef, RejectReason, Rejected,
    Scope, ScopedError, ScopedHandle, Stats, ThreadPool, Yield, DEFAULT_KEEP_ALIVE,
    DEFAULT_MAX_SPARES, DEFAULT_SPARE_KEEP_ALIVE, DEFAULT_STACK_SIZE, MAX_THREADS,
};
pub use executor_futures::{
    all_of, all_of_or_cancel, any_of, checkpoint, current_task, is_cancelled, wait, wait_timeout,
    BatchRejected, BoxError, Callable, Cancelled, Deps, ExecutorService, Failure, GetTimeoutError,
    GraphError, InvokeAnyError, MapError, MapResults, NodeError, NodeFailed, NodeId, PanicPayload,
    ReturnWhen, ScheduleError, ScheduledExecutorService, ScheduledHandle, TaskError, TaskGraph,
    TaskGraphBuilder, TaskHandle, TaskId, TaskRef, TaskState, WaitTimeoutError, Waited,
    WouldDeadlock,
};

/// Timers for `async` code: [`sleep`](time::sleep), [`timeout`](time::timeout),
/// [`interval`](time::interval), driven by the pool's timer (or a process-wide
/// one off the pool), on any runtime.
pub use executor_futures::time;

/// Everything a program that uses the pool needs, in one `use`:
///
/// ```
/// use executor::prelude::*;
/// ```
///
/// The pool and its builder, the [`ExecutorService`]
/// trait (which gives a pool `submit`, `spawn`, `invoke_all`, ...), typed
/// handles, the completion service, the functions a running task calls to see
/// whether it should stop, and every error type. Names you define yourself take
/// precedence over the prelude's, so a glob import never breaks your code.
///
/// Without it (or `use executor::ExecutorService;`), `submit` is not found:
///
/// ```compile_fail,E0599
/// let pool = executor::ThreadPool::new(1).unwrap();
/// let handle = pool.submit(|| 1); // error[E0599]: no method named `submit`
/// ```
///
/// # Examples
///
/// ```
/// use executor::prelude::*;
/// use std::time::Duration;
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let pool = ThreadPool::builder().num_threads(2).build()?;
///     let handle: TaskHandle<u32> = pool.submit(|| 1 + 1)?;
///     let service = CompletionService::new(pool.clone());
///     service.submit(|| 3)?;
///     assert_eq!(handle.get()?, 2);
///     assert_eq!(service.take().map(|done| done.get()).transpose()?, Some(3));
///     pool.shutdown();
///     pool.await_termination(Duration::from_secs(10))?;
///     Ok(())
/// }
/// ```
pub mod prelude {
    pub use executor_completion::{
        as_completed, Completed, CompletionService, TimedOut, TrySubmitError, WaitAnyError,
    };
    pub use executor_core::{
        block_in_place, BuildError, Builder, RejectReason, Rejected, Scope, ScopedError, ThreadPool,
    };
    pub use executor_futures::{
        all_of, any_of, checkpoint, is_cancelled, wait, BatchRejected, Callable, Cancelled,
        ExecutorService, GetTimeoutError, GraphError, InvokeAnyError, MapError, NodeFailed,
        ReturnWhen, ScheduleError, ScheduledExecutorService, ScheduledHandle, TaskError, TaskGraph,
        TaskHandle, WaitTimeoutError,
    };
}

/// For authors of other executors and libraries, not needed to use the pool:
/// the job type a pool queues, the [`Executor`](integration::Executor) trait
/// that `submit` and the completion service are written against, and the
/// waiting primitives that help on a worker instead of blocking it, the pool's
/// timer, and the `futures::task::Spawn` adapter (`Spawner`): everything of
/// [`executor_core::integration`] and [`executor_futures::integration`].
///
/// # Examples
///
/// A task submitted through the trait that every pool implements:
///
/// ```
/// use executor::integration::{Executor, Job};
/// use executor::ThreadPool;
///
/// fn run_on(exec: &impl Executor) {
///     let (tx, rx) = std::sync::mpsc::channel();
///     exec.execute_job(Job::new(move || tx.send(7).unwrap())).unwrap();
///     assert_eq!(rx.recv().unwrap(), 7);
/// }
/// run_on(&ThreadPool::new(1).unwrap());
/// ```
pub mod integration {
    pub use executor_core::integration::*;
    pub use executor_futures::integration::*;
}

/// The repository's README, compiled and run as doctests (`cargo test -p executor
/// --doc`), so its examples cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
