//! B.5: invoke_all / invoke_any (I1–I5, I7), and P5's invoke_all part.
#![allow(missing_docs)]

mod common;

use common::*;
use executor_core::{RejectReason, ThreadPool};
use executor_futures::{ExecutorService, Failure, InvokeAnyError, TaskState};
use std::time::{Duration, Instant};

type Task<T> = Box<dyn FnOnce() -> T + Send>;

#[test]
fn i1_invoke_all_empty_returns_empty() {
    let pool = ThreadPool::new(1).unwrap();
    let none: Vec<Task<u8>> = Vec::new();
    assert!(pool.invoke_all(none).unwrap().is_empty());
    assert_eq!(pool.stats().submitted, 0, "the pool is untouched");
}

#[test]
fn i2_invoke_all_returns_done_handles_in_input_order() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let gates: Vec<Gate> = (0..10).map(|_| Gate::new()).collect();
        let tasks: Vec<Task<usize>> = (0..10)
            .map(|i| {
                let g = gates[i].clone();
                Box::new(move || {
                    g.wait();
                    i
                }) as Task<usize>
            })
            .collect();
        // Open in reverse order from another thread.
        let opener = {
            let gates = gates.clone();
            std::thread::spawn(move || {
                for g in gates.iter().rev() {
                    g.open();
                }
            })
        };
        let handles = pool.invoke_all(tasks).unwrap();
        opener.join().unwrap();
        assert!(handles.iter().all(|h| h.is_done()));
        let values: Vec<usize> = handles.into_iter().map(|h| h.get().unwrap()).collect();
        assert_eq!(values, (0..10).collect::<Vec<_>>());
    });
}

#[test]
fn i3_timed_invoke_all_cancels_the_stragglers() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let log = RunLog::new(3);
        let (l0, l1, l2) = (log.clone(), log.clone(), log.clone());
        let never = Gate::new();
        let tasks: Vec<Task<bool>> = vec![
            Box::new(move || {
                l0.mark(0);
                true
            }),
            Box::new(move || {
                l1.mark(1);
                never.wait_or_cancelled()
            }),
            Box::new(move || {
                l2.mark(2);
                true
            }),
        ];
        let start = Instant::now();
        let handles = pool
            .invoke_all_timeout(tasks, Duration::from_millis(50))
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert!(handles.iter().all(|h| h.is_done()));
        assert_eq!(handles[1].state(), TaskState::Cancelled);
        let mut it = handles.into_iter();
        assert!(it.next().unwrap().get().unwrap());
        assert!(it.next().unwrap().get().unwrap_err().is_cancelled());
        assert!(it.next().unwrap().get().unwrap());
        pool.shutdown();
        assert!(
            pool.await_termination(LONG).is_ok(),
            "the slow task saw its flag"
        );
    });
}

#[test]
fn i4_invoke_any_empty_is_an_error_at_once() {
    let pool = ThreadPool::new(1).unwrap();
    let none: Vec<Task<u8>> = Vec::new();
    assert!(matches!(pool.invoke_any(none), Err(InvokeAnyError::Empty)));
    let none: Vec<Task<Result<u8, ()>>> = Vec::new();
    assert!(matches!(
        pool.invoke_any_ok(none),
        Err(InvokeAnyError::Empty)
    ));
}

#[test]
fn i5_invoke_any_success_wins_and_all_failed_carries_failures() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        // (a) [fail, fail, ok("x")] with Err counted as failure.
        let tasks: Vec<Task<Result<&str, u8>>> = vec![
            Box::new(|| Err(1)),
            Box::new(|| Err(2)),
            Box::new(|| Ok("x")),
        ];
        assert_eq!(pool.invoke_any_ok(tasks).unwrap(), "x");
        // ... and with plain invoke_any a panic is the failure.
        let tasks: Vec<Task<&str>> = vec![
            Box::new(|| panic!("one")),
            Box::new(|| panic!("two")),
            Box::new(|| "x"),
        ];
        assert_eq!(pool.invoke_any(tasks).unwrap(), "x");
        // (b) [fail(e1), panic, fail(e3)]: all failed, in input order.
        let tasks: Vec<Task<Result<&str, u8>>> = vec![
            Box::new(|| Err(1)),
            Box::new(|| panic!("p")),
            Box::new(|| Err(3)),
        ];
        let err = pool.invoke_any_ok(tasks).unwrap_err();
        let failures = err.failures().unwrap();
        assert_eq!(failures.len(), 3);
        assert!(matches!(failures[0], Failure::Failed(1)));
        assert!(failures[1].is_panic());
        assert!(matches!(failures[2], Failure::Failed(3)));
    });
}

#[test]
fn invoke_any_cancels_the_losers() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let slow_started = Latch::new(1);
        let s = slow_started.clone();
        let go = Gate::new();
        let g = go.clone();
        let tasks: Vec<Task<u8>> = vec![
            Box::new(move || {
                s.count_down();
                Gate::new().wait_or_cancelled();
                0
            }),
            Box::new(move || {
                g.wait();
                7
            }),
        ];
        let opener = std::thread::spawn(move || {
            slow_started.wait();
            go.open();
        });
        assert_eq!(pool.invoke_any(tasks).unwrap(), 7);
        opener.join().unwrap();
        pool.shutdown();
        assert!(
            pool.await_termination(LONG).is_ok(),
            "the loser was cancelled and stopped"
        );
    });
}

#[test]
fn i7_timed_invoke_any_where_nothing_finishes() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let log = RunLog::new(3);
        let gate = Gate::new();
        let tasks: Vec<Task<u8>> = (0..3)
            .map(|i| {
                let (l, g) = (log.clone(), gate.clone());
                Box::new(move || {
                    l.mark(i);
                    g.wait_or_cancelled();
                    1u8
                }) as Task<u8>
            })
            .collect();
        let start = Instant::now();
        let err = pool
            .invoke_any_timeout(tasks, Duration::from_millis(50))
            .unwrap_err();
        assert!(err.is_timed_out(), "{err}");
        assert!(start.elapsed() >= Duration::from_millis(50));
        let started: Vec<u8> = (0..3).map(|i| log.get(i)).collect();
        gate.open();
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        let after: Vec<u8> = (0..3).map(|i| log.get(i)).collect();
        assert_eq!(started, after, "no task started after the call returned");
    });
}

#[test]
fn p5_invoke_all_mixed_outcomes_in_input_order() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let mut tasks: Vec<Task<Result<&str, u32>>> = Vec::new();
        for _ in 0..2 {
            tasks.push(Box::new(|| Ok("s")));
            tasks.push(Box::new(|| Err(5)));
            tasks.push(Box::new(|| panic!("p")));
        }
        let handles = pool.invoke_all(tasks).unwrap();
        assert_eq!(handles.len(), 6);
        for (i, h) in handles.into_iter().enumerate() {
            match (i % 3, h.get_flat()) {
                (0, Ok("s")) => {}
                (1, Err(Failure::Failed(5))) => {}
                (2, Err(f)) if f.is_panic() => {}
                (k, other) => panic!("task {i} (kind {k}): {other:?}"),
            }
        }
    });
}

#[test]
fn rejected_bulk_submission_hands_back_the_rest_and_cancels_the_accepted() {
    let pool = ThreadPool::new(1).unwrap();
    pool.shutdown();
    let tasks: Vec<Task<u8>> = vec![Box::new(|| 1), Box::new(|| 2)];
    let rejected = pool.invoke_all(tasks).unwrap_err();
    assert_eq!(rejected.reason(), RejectReason::Shutdown);
    let back: Vec<u8> = rejected.into_inner().into_iter().map(|f| f()).collect();
    assert_eq!(back, [1, 2]);
    let tasks: Vec<Task<u8>> = vec![Box::new(|| 1)];
    assert!(matches!(
        pool.invoke_any(tasks),
        Err(InvokeAnyError::Rejected(RejectReason::Shutdown))
    ));
}

/// Issue 16, item 11: `invoke_any` whose input iterator panics part-way cancels
/// the tasks it already submitted (none of them runs, each closure is dropped
/// once, by the cancel) and resumes the iterator's panic.
#[test]
fn invoke_any_with_a_panicking_iterator_cancels_what_it_submitted() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let gate = block_all_workers(&pool);
        let runs = RunLog::new(3);
        let drops = DropCounter::new(3);
        let (r, d) = (runs.clone(), drops.clone());
        let tasks = (0..4).map(move |i| {
            assert!(i < 3, "the input iterator broke");
            let (r, token) = (r.clone(), d.token(i));
            move || {
                r.mark(token.id());
                token.id()
            }
        });
        let caught =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.invoke_any(tasks)));
        let payload = caught.expect_err("the iterator's panic propagates");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"the input iterator broke")
        );
        // Cancelled before they started: their closures are already dropped.
        drops.assert_all_dropped_once(3);
        gate.open();
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        runs.assert_all(0);
    });
}
