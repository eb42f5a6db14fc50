//! Issue 16 item 7: `Stats` counts what its names say for every kind of task.
//! `panicked` counts the panics of `execute` jobs, `submit`ted callables, async
//! tasks and scoped tasks; `completed` counts only tasks that ran to the end
//! (never a task cancelled before it started, never an async task per poll);
//! `submitted` does not count the re-queues of woken async tasks. Panics that
//! go to a live handle are not passed to the panic handler; panics nobody can
//! receive (the handle was dropped) are.
#![allow(missing_docs)]

mod common;

use common::*;
use executor_core::{JobPanic, PanicOrigin, ThreadPool};
use executor_futures::ExecutorService;
use std::sync::{Arc, Mutex};

/// A one-worker pool whose panic handler records the messages it gets.
fn pool_with_handler() -> (ThreadPool, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let pool = ThreadPool::builder()
        .num_threads(1)
        .panic_handler(move |p: JobPanic| {
            assert_eq!(p.origin(), PanicOrigin::Job);
            s.lock()
                .unwrap()
                .push(p.message().unwrap_or("?").to_owned());
        })
        .build()
        .unwrap();
    (pool, seen)
}

/// The scenario: five panics, four of them in `submit`/`spawn`/scoped
/// tasks. All five are counted; the handler gets the `execute` panic and the
/// panic of the task whose handle was dropped, not those a handle received.
#[test]
fn panics_of_every_kind_of_task_are_counted() {
    bounded_for(LONG, || {
        let (pool, seen) = pool_with_handler();
        // 1. execute: nobody else can receive it.
        pool.execute(|| panic!("execute")).unwrap();
        // 2. submit, handle kept: the handle receives it.
        let kept = pool.submit(|| -> u8 { panic!("submit kept") }).unwrap();
        assert_eq!(kept.get().unwrap_err().message(), Some("submit kept"));
        // 3. submit, handle dropped before it ran: nobody can receive it.
        let gate = block_all_workers(&pool);
        drop(pool.submit(|| -> u8 { panic!("submit detached") }).unwrap());
        gate.open();
        // 4. async spawn, handle kept.
        let task = pool.spawn(async { panic!("async kept") }).unwrap();
        assert_eq!(task.get().unwrap_err().message(), Some("async kept"));
        // 5. a scoped task: the scope re-raises it on its caller.
        let scoped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.scope(|s| s.spawn(|_| panic!("scoped")))
        }));
        assert!(scoped.is_err());
        pool.close();
        let stats = pool.stats();
        assert_eq!(stats.panicked, 5, "{stats:?}");
        // execute, 2 submits, the blocker, the async task, the scope's install
        // from outside and its task: each submitted once and run to its end.
        assert_eq!((stats.submitted, stats.completed), (7, 7), "{stats:?}");
        let mut seen = seen.lock().unwrap().clone();
        seen.sort();
        assert_eq!(seen, ["execute", "submit detached"]);
    });
}

/// `completed` counts tasks that ran to the end, once each: tasks cancelled
/// before they started are not counted, nor is each poll of an async task, and
/// the re-queues of an async task are not submissions.
#[test]
fn completed_counts_only_tasks_that_ran_to_the_end() {
    bounded_for(LONG, || {
        let (pool, seen) = pool_with_handler();
        let gate = block_all_workers(&pool); // one task: submitted and completed
        let log = RunLog::new(10);
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let log = log.clone();
                pool.submit(move || log.mark(i)).unwrap()
            })
            .collect();
        for h in &handles[..4] {
            assert!(h.cancel());
        }
        gate.open();
        for h in handles.into_iter().skip(4) {
            h.get().unwrap();
        }
        assert_eq!(log.counts(), [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
        // An async task that waits twice: three polls, one task.
        let async_task = pool
            .spawn(async {
                yield_once().await;
                yield_once().await;
                7
            })
            .unwrap();
        assert_eq!(async_task.get().unwrap(), 7);
        pool.close();
        let stats = pool.stats();
        // blocker + 10 submitted + 1 async
        assert_eq!(stats.submitted, 12, "{stats:?}");
        // blocker + 6 that ran + the async task; the 4 cancelled did not run.
        assert_eq!(stats.completed, 8, "{stats:?}");
        assert_eq!(stats.panicked, 0, "{stats:?}");
        assert!(seen.lock().unwrap().is_empty());
    });
}

/// A task run on another thread than its job's (`TaskRef::try_run`, or `get`
/// on a worker for a task that had not started) is counted once, when its job
/// reaches a worker and finds it run, with its panic.
#[test]
fn a_task_run_by_its_waiter_is_counted_once() {
    bounded_for(LONG, || {
        let (pool, seen) = pool_with_handler();
        let gate = block_all_workers(&pool);
        let value = pool.submit(|| 5).unwrap();
        let panics = pool.submit(|| -> u8 { panic!("inline") }).unwrap();
        // Run here (the worker is busy), not on the pool.
        assert!(value.task_ref().try_run() && panics.task_ref().try_run());
        assert_eq!(value.get().unwrap(), 5);
        assert_eq!(panics.get().unwrap_err().message(), Some("inline"));
        gate.open();
        pool.close();
        let stats = pool.stats();
        assert_eq!(
            (stats.submitted, stats.completed, stats.panicked),
            (3, 3, 1),
            "{stats:?}"
        );
        assert!(seen.lock().unwrap().is_empty(), "delivered to its handle");
    });
}
