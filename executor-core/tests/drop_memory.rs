//! TESTS.md B.10/B.11 (core part): dropping pools, and every closure dropped
//! exactly once on every path.

use executor_core::ThreadPool;
use std::sync::atomic::Ordering;
use testkit::*;

/// D3: dropping the pool = shutdown + run everything queued + join the threads.
#[test]
fn dropping_the_pool_finishes_queued_work() {
    bounded_for(LONG, || {
        let (pool, census) = pool_with_census(2);
        let log = RunLog::new(1000);
        let drops = DropCounter::new(1000);
        for i in 0..1000 {
            let (log, d) = (log.clone(), drops.token(i));
            pool.execute(move || {
                let _d = d;
                log.mark(i);
            })
            .unwrap();
        }
        drop(pool);
        log.assert_all(1);
        assert_eq!(drops.live(), 0);
        drops.assert_no_double_drop();
        assert_eq!(census.started.load(Ordering::SeqCst), 2);
        assert_eq!(
            census.live(),
            0,
            "threads still running after drop returned"
        );
    });
}

/// Dropping the last handle from inside one of the pool's own jobs neither joins
/// itself nor hangs; queued work still runs and the workers exit.
#[test]
fn dropping_the_pool_from_its_own_worker() {
    bounded_for(LONG, || {
        let (pool, census) = pool_with_census(2);
        let log = RunLog::new(10);
        let gate = block_all_workers(&pool);
        for i in 0..10 {
            let log = log.clone();
            pool.execute(move || log.mark(i)).unwrap();
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let last = pool.clone();
        pool.execute(move || {
            drop(last); // the last handle, once the test drops its own below
            tx.send(()).unwrap();
        })
        .unwrap();
        drop(pool);
        // `drop(pool)` above was not the last handle: it returned at once.
        gate.open();
        rx.recv_timeout(LONG).unwrap();
        while census.live() > 0 {
            std::thread::yield_now();
        }
        log.assert_all(1);
    });
}

/// Closures handed back by shutdown_now, rejected ones, and run ones are each
/// dropped exactly once.
#[test]
fn every_closure_is_dropped_exactly_once() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let drops = DropCounter::new(3000);
        let first = Latch::new(1000);
        for i in 0..1000 {
            let (d, f) = (drops.token(i), first.clone());
            pool.execute(move || {
                drop(d);
                f.count_down();
            })
            .unwrap();
        }
        // Local deques are LIFO: without this wait, a gate job could start before
        // some of the first 1000, which would then (correctly) be handed back.
        first.wait();
        let gate = block_all_workers(&pool);
        for i in 1000..2000 {
            let d = drops.token(i);
            pool.execute(move || drop(d)).unwrap();
        }
        let back = pool.shutdown_now();
        for i in 2000..3000 {
            let d = drops.token(i);
            drop(pool.execute(move || drop(d)).unwrap_err());
        }
        gate.open();
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(back.len(), 1000);
        assert_eq!(
            drops.live(),
            1000,
            "handed-back closures are alive until dropped"
        );
        drop(back);
        drops.assert_all_dropped_once(3000);
    });
}
