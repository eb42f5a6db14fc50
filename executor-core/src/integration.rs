//! For authors of executors and libraries built on the pool, not needed to use
//! it: the job type a pool queues and the trait that runs jobs ([`Job`],
//! [`Runnable`], [`Executor`], [`InlineExecutor`]), termination hooks
//! ([`TerminationKey`]), the pool's timer ([`Timer`], [`TimerKey`]), waiting
//! primitives that run owed work on a worker instead of blocking it
//! ([`Waiter`], [`wait_until`], [`spin_until`], [`run_pending_job`]), whether
//! this worker's pool still accepts work ([`can_execute`]) and running a job
//! in place of queueing it ([`run_as_job`]), and the
//! helpers an executor's own tasks use to be counted and to report panics
//! ([`report_run`], [`RunOutcome`], [`payload_message`], [`Exclusive`]).
//!
//! This module owns no code: it gathers the integrators' items in one place, out
//! of the crate's front page. Every item keeps the invariants documented where
//! it is defined.
//!
//! # Examples
//!
//! A job submitted through the trait every pool implements:
//!
//! ```
//! use executor_core::integration::{Executor, Job};
//! use executor_core::ThreadPool;
//!
//! fn run_on(exec: &impl Executor) {
//!     let (tx, rx) = std::sync::mpsc::channel();
//!     exec.execute_job(Job::new(move || tx.send(7).unwrap())).unwrap();
//!     assert_eq!(rx.recv().unwrap(), 7);
//! }
//! run_on(&ThreadPool::new(1).unwrap());
//! ```

pub use crate::exclusive::Exclusive;
pub use crate::job::{Job, RawRunnable, Runnable};
pub use crate::panic::payload_message;
pub use crate::pool::{can_execute, run_as_job, Executor, InlineExecutor};
pub use crate::registry::TerminationKey;
pub use crate::stats::{report_run, report_run_raw, RunOutcome};
pub use crate::timer::{Timer, TimerKey};
pub use crate::wait::{run_pending_job, spin_until, wait_until, Waiter};
