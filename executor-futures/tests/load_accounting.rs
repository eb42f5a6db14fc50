//! B.13: exact accounting under many submit/get round trips.
#![allow(missing_docs)]

mod common;

use common::*;
use executor_core::ThreadPool;
use executor_futures::ExecutorService;

fn round_trips(total: usize) {
    let pool = ThreadPool::new(2).unwrap();
    let log = RunLog::new(total);
    const BATCH: usize = 10_000;
    let mut sum = 0u64;
    for start in (0..total).step_by(BATCH) {
        let handles: Vec<_> = (start..(start + BATCH).min(total))
            .map(|i| {
                let log = log.clone();
                pool.submit(move || {
                    log.mark(i);
                    i as u64
                })
                .unwrap()
            })
            .collect();
        for h in handles {
            sum += h.get().unwrap();
        }
    }
    log.assert_all(1);
    let n = total as u64;
    assert_eq!(sum, n * (n - 1) / 2);
    pool.shutdown();
    assert!(pool.await_termination(LONG).is_ok());
}

/// About 4 s in a debug build on a 2-core machine, so it always runs.
#[test]
fn ld_one_million_submit_get_round_trips() {
    bounded_for(std::time::Duration::from_secs(120), || {
        round_trips(1_000_000)
    });
}

#[test]
fn s7_concurrent_submitters() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let log = RunLog::new(40_000);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (pool, log) = (pool.clone(), log.clone());
                std::thread::spawn(move || {
                    let hs: Vec<_> = (0..10_000)
                        .map(|k| {
                            let id = t * 10_000 + k;
                            let log = log.clone();
                            pool.submit(move || log.mark(id)).unwrap()
                        })
                        .collect();
                    hs.into_iter().filter(|h| h.wait().is_ok()).count()
                })
            })
            .collect();
        let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(total, 40_000);
        log.assert_all(1);
    });
}
