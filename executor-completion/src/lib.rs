//! Results in completion order for `executor-core` pools: a
//! [`CompletionService`] that queues each task's result as it finishes, and
//! [`as_completed`](fn@as_completed) / [`wait_any`] over handles you already hold.
//!
//! Programs usually depend on the `executor` crate instead, which re-exports
//! this one and has a prelude.
//!
//! # The Java / Python analogy
//!
//! | here | `java.util.concurrent` | Python `concurrent.futures` |
//! |---|---|---|
//! | [`CompletionService::new`] | `new ExecutorCompletionService<>(executor)` | — |
//! | [`CompletionService::submit`], [`spawn`](CompletionService::spawn) | `submit(Callable)` | `executor.submit(fn)` |
//! | [`CompletionService::submit_all`] (the first task at once, the rest as one submission: about half the cost per task) | a loop of `submit` | `[executor.submit(fn) for fn in fns]` |
//! | [`CompletionService::take`] | `take()` (but `None` when nothing is outstanding) | `next(as_completed(fs))` |
//! | [`CompletionService::poll`], [`poll_timeout`](CompletionService::poll_timeout) | `poll()`, `poll(timeout, unit)` | — |
//! | `for done in &service`, [`CompletionService::stream`] | — | `for f in as_completed(fs)` |
//! | [`CompletionService::bounded`] | an ECS over a bounded queue + a `Semaphore` | — |
//! | [`CompletionService::helping`] (the consumer runs queued tasks while no result is ready) | — (like `ForkJoinTask.join` helping, for the consumer) | — |
//! | [`Completed`] | the done `Future` `take()` returns | the done `Future` |
//! | [`as_completed`](fn@as_completed), [`as_completed_timeout`] | — | `as_completed(fs)`, `as_completed(fs, timeout)` |
//! | [`wait_any`] | — | `wait(fs, return_when=FIRST_COMPLETED)` |
//!
//! Differences that come from Rust: a result is moved out, so `take` returns a
//! [`Completed`] (id, result, timing) rather than a shared future; `take` with
//! nothing outstanding returns `None` instead of blocking forever; dropping the
//! service cancels what it started (Rust values own their work).
//!
//! # Examples
//!
//! Print each result as soon as it is ready, with the worker that ran it:
//!
//! ```
//! use executor_completion::CompletionService;
//! use executor_core::ThreadPool;
//!
//! let pool = ThreadPool::new(3).unwrap();
//! let service = CompletionService::new(pool.clone());
//! for n in [30u64, 10, 20] {
//!     service.submit(move || (1..=n).sum::<u64>()).unwrap();
//! }
//! service.submit(|| -> u64 { panic!("bad input") }).unwrap();
//!
//! let mut ok = 0;
//! for done in &service {
//!     match done.result() {
//!         Ok(sum) => {
//!             println!("{} = {sum} on worker {:?} after {:?}", done.id(), done.worker(), done.elapsed());
//!             ok += 1;
//!         }
//!         Err(e) => println!("{} failed: {e}", done.id()),
//!     }
//! }
//! assert_eq!(ok, 3);
//! assert!(service.take().is_none()); // drained: nothing outstanding
//! pool.shutdown();
//! assert!(pool.await_termination(std::time::Duration::from_secs(10)).is_ok());
//! ```
//!
//! Completion order over handles:
//!
//! ```
//! use executor_completion::as_completed;
//! use executor_futures::ExecutorService;
//!
//! let pool = executor_core::ThreadPool::new(2).unwrap();
//! let handles: Vec<_> = (0..5u32).map(|i| pool.submit(move || i * 10).unwrap()).collect();
//! let mut total = 0;
//! for finished in as_completed(handles) {
//!     total += finished.get().unwrap();
//! }
//! assert_eq!(total, 100);
//! ```
//!
//! # Guarantees
//!
//! 1. **Exactly once.** Every task a service accepted is delivered exactly once,
//!    whatever its ending: value (including an `Err` value), panic, or cancel.
//!    The completion hook of `executor-futures` runs exactly once per task; it
//!    pushes one [`Completed`] under the service's lock, and a consumer removes
//!    it under that lock. A rejected submission hands the task back and leaves
//!    nothing in the service (for a batch: the refused part, with the ids of the
//!    accepted part, which is delivered as usual).
//! 2. **No lost wake-up.** `take`, `poll_timeout`, the iterators and the streams
//!    register as waiters, then re-check, under the lock the hooks deliver
//!    under. One delivered result wakes at most one waiting consumer; a waiter
//!    that leaves without taking passes its wake-up on.
//! 3. **No hang on empty.** `take` returns `None` at once when nothing is
//!    outstanding; when the last outstanding task finishes, every waiting
//!    consumer is woken (one gets the result, the others `None`).
//! 4. **Waiting runs only what it is owed.** A consumer (or a bounded
//!    submitter) that waits on a pool worker runs, in an untimed wait, only the
//!    tasks it queued itself (from that worker), and otherwise blocks while the
//!    pool runs a spare worker in its place; a timed wait (`poll_timeout`)
//!    runs nothing. So a task can take results of tasks it submitted even on a
//!    1-thread pool, and a wait never runs unrelated work.
//! 5. **Happens-before.** A task's body happens-before the `take` (or `poll`,
//!    iterator, stream) that returns its result.
//! 6. **Leaving early loses nothing.** An iterator or stream that is dropped
//!    before it ends (a `break`, `find`, a dropped stream, a panic in the loop
//!    body) gives the results it buffered back to the service, in completion
//!    order: `take` returns them and `outstanding` counts them again. The
//!    owning ones hand the service back with `into_service`. [`as_completed`](fn@as_completed)
//!    owns the handles it was given: iterate it `by_ref()` and call
//!    [`AsCompleted::into_parts`] to keep what it did not yield.
//! 7. **Nothing leaks.** Dropping the service cancels the tasks it started that
//!    are not done and drops the results not taken; results that arrive later are
//!    dropped by the finishing thread. Every closure and result is dropped once.
//!

mod as_completed;
mod completed;
mod error;
mod iter;
mod registry;
mod service;
mod shared;
mod waitlist;

pub use as_completed::{
    as_completed, as_completed_timeout, wait_any, wait_any_timeout, AsCompleted, AsCompletedStream,
    AsCompletedTimeout, Finished,
};
pub use completed::Completed;
pub use error::{TrySubmitError, WaitAnyError};
pub use executor_core::TimedOut;
pub use executor_futures::{BatchRejected, TaskError, TaskId};
pub use iter::{CompletionStream, IntoIter, IntoStream, Iter};
pub use service::CompletionService;
