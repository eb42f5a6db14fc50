//! Typed tasks for `executor-core`: submit a [`Callable`], get a [`TaskHandle`]
//! (a cancellable future of its result), run bulk [`invoke_all`] /
//! [`invoke_any`], or spawn `async` code on the same pool. Tasks can depend on
//! each other without a thread waiting: continuations
//! ([`then`](TaskHandle::then), [`and_then`](TaskHandle::and_then),
//! [`on_complete`](TaskHandle::on_complete)), joins ([`all_of`], [`any_of`],
//! [`submit_after`](ExecutorService::submit_after)) and whole [`TaskGraph`]s.
//!
//! Programs usually depend on the `executor` crate instead, which re-exports
//! this one and has a prelude. The methods come from the [`ExecutorService`]
//! trait: bring it into scope (`use executor_futures::ExecutorService;`, or the
//! prelude) to call `pool.submit`.
//!
//! # The Java / Python analogy
//!
//! | here | `java.util.concurrent` | Python `concurrent.futures` |
//! |---|---|---|
//! | [`Callable<T>`] | `Callable<V>` | the `fn` passed to `submit` |
//! | [`ExecutorService::submit`] | `ExecutorService.submit` | `Executor.submit` |
//! | [`TaskHandle<T>`] | `Future<V>` / `FutureTask` | `Future` |
//! | [`TaskHandle::get`], [`get_timeout`](TaskHandle::get_timeout) | `get()`, `get(timeout)` | `result()`, `result(timeout)` |
//! | [`TaskHandle::cancel`], [`is_cancelled`](TaskHandle::is_cancelled), [`is_done`](TaskHandle::is_done) | `cancel(true)`, `isCancelled`, `isDone` | `cancel()`, `cancelled()`, `done()` |
//! | [`TaskHandle::state`] | `Future.state()` (Java 19) | `_state` |
//! | [`ExecutorService::submit_with`] hook | `FutureTask.done()` | `add_done_callback` |
//! | [`invoke_all`], [`invoke_any`] | `invokeAll`, `invokeAny` | `wait(ALL_COMPLETED)`, first of `as_completed` |
//! | [`ScheduledExecutorService::schedule`], [`schedule_at_fixed_rate`](ScheduledExecutorService::schedule_at_fixed_rate) | `ScheduledExecutorService.schedule`, `scheduleAtFixedRate` | `loop.call_later` |
//! | [`TaskHandle::cancel_after`] | `CompletableFuture.orTimeout` | `asyncio.wait_for` |
//! | [`TaskHandle::then`], [`and_then`](TaskHandle::and_then) | `thenApply`, `thenCompose` | — |
//! | [`TaskHandle::on_complete`] | `whenComplete` | `add_done_callback` |
//! | [`all_of`], [`any_of`], [`submit_after`](ExecutorService::submit_after) | `allOf`, `anyOf`, `thenCombine` | — |
//! | [`TaskGraph`] | — (TBB flow graph, Taskflow) | — |
//! | [`ExecutorService::map`], [`map_timeout`](ExecutorService::map_timeout) | — | `Executor.map(fn, *its, timeout=)` |
//! | [`wait`] with [`ReturnWhen`] | — | `wait(fs, timeout, return_when)` |
//! | [`is_cancelled()`], [`checkpoint()`] | `Thread.interrupted()` | — |
//! | [`TaskError`] | `ExecutionException`, `CancellationException` | the raised exception, `CancelledError` |
//!
//! Differences that come from Rust: `get` consumes the handle (the result is
//! moved out, not shared); a callable's own `Err(e)` is a value and comes back as
//! `Ok(Err(e))` (or flattened with [`TaskHandle::get_flat`]); cancellation of a
//! running task is cooperative (the body polls [`is_cancelled()`]); and the handle
//! is also a [`Future`](std::future::Future), so `handle.await` works on any
//! runtime.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use executor_futures::ExecutorService;
//!
//! let pool = executor_core::ThreadPool::new(2).unwrap();
//!
//! // A value, a panic, a timeout.
//! assert_eq!(pool.submit(|| 6 * 7).unwrap().get().unwrap(), 42);
//! let err = pool.submit(|| -> u8 { panic!("boom") }).unwrap().get().unwrap_err();
//! assert_eq!(err.message(), Some("boom"));
//! let (tx, rx) = std::sync::mpsc::channel::<()>();
//! let mut slow = pool.submit(move || rx.recv().is_ok()).unwrap();
//! assert!(slow.get_timeout(Duration::from_millis(1)).unwrap_err().is_timed_out());
//! tx.send(()).unwrap();
//! assert!(slow.get().unwrap());
//!
//! // Nested waits complete even on one thread: the waiting task runs the
//! // children it queued itself (nothing else), or a spare worker runs them.
//! let one = executor_core::ThreadPool::new(1).unwrap();
//! let inner_pool = one.clone();
//! let outer = one
//!     .submit(move || inner_pool.submit(|| 1).unwrap().get().unwrap() + 1)
//!     .unwrap();
//! assert_eq!(outer.get().unwrap(), 2);
//!
//! // Async code on the same pool, awaited from any runtime.
//! let handle = pool.spawn(async { "async" }).unwrap();
//! assert_eq!(futures::executor::block_on(handle).unwrap(), "async");
//! ```
//!
//! # Guarantees
//!
//! 1. Every accepted task runs at most once; exactly once unless cancelled
//!    before it started or its job was dropped unrun (after `shutdown_now`).
//! 2. A submission is accepted or rejected with the callable handed back.
//! 3. A task's terminal state is set once by the first writer and never changes;
//!    `is_done()` means `get` returns at once.
//! 4. `cancel` returns true iff it moved the task to cancelled; a task cancelled
//!    before it started never starts, and its closure is dropped by `cancel`.
//! 5. Every blocked waiter (`get`, `get_timeout`, `wait`, `.await`) is woken on
//!    completion and on cancellation.
//! 6. Every closure and output is dropped exactly once, promptly: by `cancel`, by
//!    the completing thread when no handle is interested, or when the handle drops.
//! 7. Waiting never deadlocks a pool: on a worker it runs the awaited task inline
//!    or other work; waiting on oneself, blocking or with `.await` from inside
//!    an async task, is [`TaskError::WouldDeadlock`].
//! 8. The jobs `shutdown_now` hands back resolve their handles when run (normally)
//!    or dropped (cancelled): no `get` hangs on a drained task once its job is
//!    run or dropped (while the caller holds the job, `get` waits for it).
//! 9. When a pool terminates, every async task spawned on it that is still
//!    pending (waiting for a wake) is cancelled and its future dropped, before
//!    `await_termination` returns `Ok`: no task, and no cycle of tasks awaiting
//!    each other, outlives its pool. A task keeps no pool handle of its own (only a
//!    [`PoolRef`](executor_core::PoolRef)), so dropping the last `ThreadPool`
//!    closes the pool even while tasks wait.
//!
//! [`invoke_all`]: ExecutorService::invoke_all
//! [`invoke_any`]: ExecutorService::invoke_any

mod async_task;
mod bulk;
mod callable;
mod cell_alloc;
mod cell_arc;
mod combinators;
mod continuation;
mod current;
mod error;
mod graph;
mod handle;
pub mod integration;
mod scheduled;
mod service;
mod state;
mod sync;
mod task;
pub mod time;
mod wait_set;

pub use callable::Callable;
pub use combinators::{all_of, all_of_or_cancel, any_of, Deps};
pub use current::{checkpoint, current_task, is_cancelled};
pub use error::{
    BatchRejected, Cancelled, Failure, GetTimeoutError, InvokeAnyError, PanicPayload, TaskError,
    WaitTimeoutError, WouldDeadlock,
};
pub use executor_core::{RejectReason, Rejected, TimedOut};
pub use graph::{BoxError, GraphError, NodeError, NodeFailed, NodeId, TaskGraph, TaskGraphBuilder};
pub use handle::{TaskHandle, TaskId, TaskRef};
pub use scheduled::{ScheduleError, ScheduledExecutorService, ScheduledHandle};
pub use service::ExecutorService;
pub use state::TaskState;
pub use wait_set::{wait, wait_timeout, MapError, MapResults, ReturnWhen, Waited};
