//! TESTS.md B.1: pool lifecycle and shutdown.

use executor_core::ThreadPool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::*;

/// L1: a new pool is running and `await_termination` times out.
#[test]
fn new_pool_is_running_and_await_times_out() {
    let pool = ThreadPool::new(2).unwrap();
    let start = Instant::now();
    assert!(pool.await_termination(TIMEOUT).is_err());
    assert!(start.elapsed() >= TIMEOUT, "returned before the timeout");
    assert!(!pool.is_shutdown());
    assert!(!pool.is_terminated());
}

/// L2 + L10: an idle (parked) pool terminates on shutdown and its threads are gone.
#[test]
fn idle_pool_terminates_promptly() {
    bounded_for(LONG, || {
        let (pool, census) = pool_with_census(2);
        // Let the workers go through search into sleep.
        std::thread::sleep(Duration::from_millis(100));
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        assert!(pool.is_shutdown() && pool.is_terminated());
        assert_eq!(census.started.load(Ordering::SeqCst), 2);
        assert_eq!(census.live(), 0);
    });
}

/// L3: shutdown is orderly: queued work still runs.
#[test]
fn shutdown_runs_queued_work() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(1).unwrap();
        let gate = block_all_workers(&pool);
        let log = RunLog::new(5);
        for i in 0..5 {
            let log = log.clone();
            pool.execute(move || log.mark(i)).unwrap();
        }
        pool.shutdown();
        assert!(
            pool.await_termination(TIMEOUT).is_err(),
            "terminated while a job is blocked"
        );
        assert!(!pool.is_terminated());
        gate.open();
        assert!(pool.await_termination(LONG).is_ok());
        log.assert_all(1);
    });
}

/// L4: shutdown and shutdown_now are idempotent and combine.
#[test]
fn shutdown_calls_are_idempotent() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(1).unwrap();
        let gate = block_all_workers(&pool);
        for _ in 0..4 {
            pool.execute(|| panic!("must never run")).unwrap();
        }
        pool.shutdown();
        pool.shutdown();
        let first = pool.shutdown_now();
        let second = pool.shutdown_now();
        pool.shutdown();
        assert_eq!(first.len(), 4);
        assert!(second.is_empty());
        gate.open();
        assert!(pool.await_termination(LONG).is_ok());
        drop(first); // dropping never-started jobs drops their closures unrun
        assert_eq!(pool.stats().panicked, 0);
    });
}

/// L5: `is_terminated` is never true before shutdown and stays true after.
#[test]
fn is_terminated_is_monotonic() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..1000 {
            let d = done.clone();
            pool.execute(move || {
                d.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        for _ in 0..1000 {
            assert!(!pool.is_terminated());
        }
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        for _ in 0..1000 {
            assert!(pool.is_terminated());
        }
        assert!(pool.await_termination(Duration::ZERO).is_ok());
        assert_eq!(done.load(Ordering::SeqCst), 1000);
    });
}

/// L6: shutdown_now returns exactly the never-started jobs; they never run; the
/// running ones see the interrupt.
#[test]
fn shutdown_now_returns_exactly_the_queued_jobs() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let log = RunLog::new(5);
        let interrupted = Arc::new(AtomicUsize::new(0));
        let started = Latch::new(2);
        let gate = Gate::new();
        for i in 0..2 {
            let (log, interrupted, started, gate) = (
                log.clone(),
                interrupted.clone(),
                started.clone(),
                gate.clone(),
            );
            pool.execute(move || {
                log.mark(i);
                started.count_down();
                if !gate.wait_or_interrupted() {
                    interrupted.fetch_add(1, Ordering::SeqCst);
                }
            })
            .unwrap();
        }
        started.wait();
        for i in 2..5 {
            let log = log.clone();
            pool.execute(move || log.mark(i)).unwrap();
        }
        let never_started = pool.shutdown_now();
        assert_eq!(never_started.len(), 3);
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(interrupted.load(Ordering::SeqCst), 2);
        assert_eq!(log.counts(), vec![1, 1, 0, 0, 0]);
        // Handed back = owned by the caller: running them by hand runs each once.
        for job in never_started {
            job.run();
        }
        assert_eq!(log.counts(), vec![1, 1, 1, 1, 1]);
    });
}

/// L8: await_termination with a timeout while a job is stuck.
#[test]
fn await_termination_times_out_while_a_job_is_stuck() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let gate = block_workers(&pool, 1);
        pool.shutdown();
        let t = Instant::now();
        assert!(pool.await_termination(SHORT).is_err());
        assert!(t.elapsed() >= SHORT);
        gate.open();
        assert!(pool.await_termination(LONG).is_ok());
    });
}

/// L9: concurrent await_termination callers all return true.
#[test]
fn concurrent_awaiters_all_see_termination() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let gate = block_all_workers(&pool);
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let p = pool.clone();
                std::thread::spawn(move || p.await_termination(LONG).is_ok())
            })
            .collect();
        pool.shutdown();
        gate.open();
        for w in waiters {
            assert!(w.join().unwrap());
        }
    });
}

/// L11: shutdown called from inside a job; earlier queued jobs still run; later
/// submissions are rejected.
#[test]
fn shutdown_from_inside_a_job() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let gate = block_all_workers(&pool);
        let log = RunLog::new(5);
        for i in 0..5 {
            let log = log.clone();
            pool.execute(move || log.mark(i)).unwrap();
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let p = pool.clone();
        pool.execute(move || {
            p.shutdown();
            let rejected_inside = p.execute(|| {}).is_err();
            tx.send((7, rejected_inside)).unwrap();
        })
        .unwrap();
        gate.open();
        assert_eq!(rx.recv_timeout(LONG).unwrap(), (7, true));
        assert!(pool.await_termination(LONG).is_ok());
        assert!(pool.execute(|| {}).is_err());
        log.assert_all(1);
    });
}

/// L12: await_termination on one of the pool's own workers does not wait for itself.
#[test]
fn await_termination_on_own_worker_does_not_hang() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let p = pool.clone();
        pool.execute(move || {
            p.shutdown();
            tx.send(p.await_termination(LONG).is_ok()).unwrap();
        })
        .unwrap();
        assert!(!rx.recv_timeout(LONG).unwrap());
        assert!(pool.await_termination(LONG).is_ok());
    });
}

/// `close` waits for queued work and joins; it is idempotent.
#[test]
fn close_finishes_queued_work_and_is_idempotent() {
    bounded_for(LONG, || {
        let (pool, census) = pool_with_census(2);
        let log = RunLog::new(100);
        for i in 0..100 {
            let log = log.clone();
            pool.execute(move || log.mark(i)).unwrap();
        }
        pool.close();
        pool.close();
        log.assert_all(1);
        assert!(pool.is_terminated());
        assert_eq!(census.live(), 0);
    });
}
