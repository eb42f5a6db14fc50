//! TESTS.md B.2: execute and rejection.

use executor_core::integration::Executor;
use executor_core::integration::Job;
use executor_core::{RejectReason, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use testkit::*;

/// S2: execute runs each closure exactly once.
#[test]
fn execute_runs_each_job_once() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let log = RunLog::new(1000);
        for i in 0..1000 {
            let log = log.clone();
            pool.execute(move || log.mark(i)).unwrap();
        }
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        log.assert_all(1);
        let s = pool.stats();
        assert_eq!((s.submitted, s.completed, s.rejected), (1000, 1000, 0));
    });
}

/// S3: submitting after shutdown is rejected; the closure comes back unrun and is
/// dropped exactly once.
#[test]
fn rejected_after_shutdown_hands_the_closure_back() {
    let pool = ThreadPool::new(2).unwrap();
    pool.shutdown();
    let drops = DropCounter::new(2);
    let ran = Arc::new(AtomicUsize::new(0));
    let (t, r) = (drops.token(0), ran.clone());
    let err = pool
        .execute(move || {
            let _t = t;
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap_err();
    assert_eq!(err.reason(), RejectReason::Shutdown);
    assert!(err.to_string().contains("shut down"));
    let f = err.into_inner();
    f(); // running it by hand works
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    let t = drops.token(1);
    drop(pool.execute_job(Job::new(move || drop(t))).unwrap_err());
    drops.assert_all_dropped_once(2);
    assert!(pool.await_termination(LONG).is_ok());
    assert_eq!(pool.stats().rejected, 2);
}

/// S4: rejection lasts through every phase (after shutdown_now before termination,
/// and after termination).
#[test]
fn rejection_lasts_through_every_phase() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(1).unwrap();
        let gate = block_all_workers(&pool);
        pool.shutdown_now();
        assert_eq!(
            pool.execute(|| {}).unwrap_err().reason(),
            RejectReason::Stopped
        );
        assert!(pool.requeue_job(Job::new(|| {})).is_err());
        assert!(!pool.is_terminated());
        gate.open();
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(
            pool.execute(|| {}).unwrap_err().reason(),
            RejectReason::Stopped
        );
        let pool = ThreadPool::new(1).unwrap();
        let gate = block_all_workers(&pool); // it cannot terminate yet
        pool.shutdown();
        assert_eq!(
            pool.execute(|| {}).unwrap_err().reason(),
            RejectReason::Shutdown
        );
        // Continuations of accepted work are still accepted after `shutdown`.
        let (tx, rx) = std::sync::mpsc::channel();
        pool.requeue_job(Job::new(move || tx.send(1).unwrap()))
            .unwrap();
        gate.open();
        assert_eq!(rx.recv_timeout(LONG), Ok(1));
        assert!(pool.await_termination(LONG).is_ok());
        // Terminated after a graceful shutdown: the reason stays SHUTDOWN.
        assert_eq!(
            pool.execute(|| {}).unwrap_err().reason(),
            RejectReason::Shutdown
        );
    });
}

/// S5: the same callable object submitted 1000 times runs 1000 times.
#[test]
fn resubmitting_one_callable() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let latch = Latch::new(1000);
        let count = Arc::new(AtomicUsize::new(0));
        let task: Arc<dyn Fn() + Send + Sync> = {
            let (latch, count) = (latch.clone(), count.clone());
            Arc::new(move || {
                count.fetch_add(1, Ordering::SeqCst);
                latch.count_down();
            })
        };
        for _ in 0..1000 {
            let t = task.clone();
            pool.execute(move || t()).unwrap();
        }
        latch.wait();
        assert_eq!(count.load(Ordering::SeqCst), 1000);
    });
}

/// S7: many outside threads submit concurrently.
#[test]
fn concurrent_submitters() {
    bounded_for(LONG * 3, || {
        let pool = ThreadPool::new(2).unwrap();
        let log = RunLog::new(100_000);
        let submitters: Vec<_> = (0..4)
            .map(|t| {
                let (pool, log) = (pool.clone(), log.clone());
                std::thread::spawn(move || {
                    for i in t * 25_000..(t + 1) * 25_000 {
                        let log = log.clone();
                        pool.execute(move || log.mark(i)).unwrap();
                    }
                })
            })
            .collect();
        for s in submitters {
            s.join().unwrap();
        }
        pool.close();
        log.assert_all(1);
        assert_eq!(pool.stats().completed, 100_000);
    });
}

/// S8: jobs submitted from inside a job run (they go to the worker's own deque).
#[test]
fn jobs_submitted_from_inside_run() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let log = RunLog::new(10);
        let p = pool.clone();
        let l = log.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        pool.execute(move || {
            let accepted = (0..10)
                .filter(|&i| {
                    let l = l.clone();
                    p.execute(move || l.mark(i)).is_ok()
                })
                .count();
            tx.send((p.is_worker_thread(), accepted)).unwrap();
        })
        .unwrap();
        // Close only after the root submitted: children submitted after shutdown
        // would (correctly) be rejected.
        assert_eq!(rx.recv_timeout(LONG).unwrap(), (true, 10));
        pool.close();
        log.assert_all(1);
    });
}

/// A job submitted to another pool from a worker goes to that pool.
#[test]
fn submitting_across_pools() {
    bounded_for(LONG, || {
        let a = ThreadPool::new(1).unwrap();
        let b = ThreadPool::new(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let b2 = b.clone();
        a.execute(move || {
            let b3 = b2.clone();
            b2.execute(move || tx.send(b3.current_thread_index()).unwrap())
                .unwrap();
        })
        .unwrap();
        assert_eq!(rx.recv_timeout(LONG).unwrap(), Some(0));
        a.close();
        b.close();
    });
}
