//! TESTS.md B.13 (core part): a million jobs accounted for exactly once, from
//! outside and from inside, and submissions to a pool that keeps falling asleep.

use executor_core::ThreadPool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use testkit::*;

/// LD1: one million outside jobs, each run exactly once.
#[test]
fn one_million_outside_jobs_exactly_once() {
    bounded_for(LONG * 6, || {
        let pool = ThreadPool::new(2).unwrap();
        let log = RunLog::new(1_000_000);
        for i in 0..1_000_000 {
            let log = log.clone();
            pool.execute(move || log.mark(i)).unwrap();
        }
        pool.shutdown();
        assert!(pool.await_termination(LONG * 6).is_ok());
        log.assert_all(1);
        assert_eq!(pool.stats().completed, 1_000_000);
    });
}

fn tree(pool: &ThreadPool, log: &Arc<RunLog>, node: usize, n: usize) {
    log.mark(node);
    for child in [2 * node + 1, 2 * node + 2] {
        if child < n {
            let (p, l) = (pool.clone(), log.clone());
            pool.execute(move || tree(&p, &l, child, n)).unwrap();
        }
    }
}

/// LD2: a binary tree of 2^20 - 1 jobs spawned from inside the pool; stealing
/// spreads it; every node runs once.
#[test]
fn one_million_jobs_spawned_inside_exactly_once() {
    bounded_for(LONG * 6, || {
        let pool = ThreadPool::new(2).unwrap();
        let n = (1 << 20) - 1;
        let log = RunLog::new(n);
        let (p, l) = (pool.clone(), log.clone());
        pool.execute(move || tree(&p, &l, 0, n)).unwrap();
        // Quiescence: every node counted (the tree is complete when all n ran).
        while pool.stats().completed < n as u64 {
            std::thread::sleep(Duration::from_millis(5));
        }
        pool.close();
        log.assert_all(1);
        assert_eq!(pool.stats().submitted, n as u64);
    });
}

/// 100,000 submissions, each waited for, so the workers repeatedly go idle and
/// (often) to sleep between them: a lost wake-up would hang here.
#[test]
fn submissions_to_a_pool_that_keeps_falling_asleep() {
    bounded_for(LONG * 6, || {
        let pool = ThreadPool::new(2).unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        let me = std::thread::current();
        for i in 0..100_000usize {
            let (d, t) = (done.clone(), me.clone());
            pool.execute(move || {
                d.fetch_add(1, Ordering::SeqCst);
                t.unpark();
            })
            .unwrap();
            while done.load(Ordering::SeqCst) <= i {
                std::thread::park_timeout(Duration::from_millis(100));
            }
            if i % 1000 == 0 {
                // Long enough for the spinning workers to park.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        pool.close();
        assert_eq!(done.load(Ordering::SeqCst), 100_000);
    });
}
