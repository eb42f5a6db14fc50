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

/// Submits `n` jobs from this thread, each waited for before the next, with
/// a `pause` after every `pause_every`-th; asserts that all `n` ran.
fn submit_each_and_wait(pool: &ThreadPool, n: usize, pause_every: usize, pause: Duration) {
    let done = Arc::new(AtomicUsize::new(0));
    let me = std::thread::current();
    for i in 0..n {
        let (d, t) = (done.clone(), me.clone());
        pool.execute(move || {
            d.fetch_add(1, Ordering::SeqCst);
            t.unpark();
        })
        .unwrap();
        while done.load(Ordering::SeqCst) <= i {
            std::thread::park_timeout(Duration::from_millis(100));
        }
        if i % pause_every == 0 {
            std::thread::sleep(pause);
        }
    }
    assert_eq!(done.load(Ordering::SeqCst), n);
}

/// 100,000 submissions, each waited for, so the workers repeatedly go idle and
/// (often) to sleep between them: a lost wake-up would hang here.
#[test]
fn submissions_to_a_pool_that_keeps_falling_asleep() {
    bounded_for(LONG * 6, || {
        let pool = ThreadPool::new(2).unwrap();
        // 1 ms: long enough for the spinning workers to park.
        submit_each_and_wait(&pool, 100_000, 1000, Duration::from_millis(1));
        pool.close();
    });
}

/// The steal delay for a lone job (worker.rs): a job that spawns one child and
/// then runs until that child has run (tokio issue #4941's shape) is not left
/// waiting: its owner finishes no job meanwhile, so the idle worker steals the
/// child after the delay. Repeated, with the idle worker awake or asleep.
#[test]
fn a_lone_child_of_a_running_job_is_stolen() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        for round in 0..200 {
            let child_ran = Arc::new(AtomicUsize::new(0));
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            let c = child_ran.clone();
            pool.execute(move || {
                let c2 = c.clone();
                executor_core::execute(move || {
                    c2.store(1, Ordering::SeqCst);
                })
                .unwrap();
                // Runs until the child ran: only the other worker can run it.
                while c.load(Ordering::SeqCst) == 0 {
                    std::hint::spin_loop();
                }
                done_tx.send(()).unwrap();
            })
            .unwrap();
            done_rx.recv().unwrap();
            if round % 20 == 0 {
                // Long enough for the idle worker to park.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        pool.close();
        assert_eq!(pool.stats().completed, 400);
    });
}

fn link(log: Arc<RunLog>, i: usize, n: usize) {
    log.mark(i);
    if i + 1 < n {
        executor_core::execute(move || link(log, i + 1, n)).unwrap();
    }
}

/// A chain of 200,000 jobs, each spawned by the previous one (its closure is
/// two words: a recycled block, see job.rs), on 2 and on 4 workers: every link
/// runs once, whether its owner runs it or a thief takes it.
#[test]
fn a_chain_of_spawns_runs_every_link_once() {
    bounded_for(LONG * 6, || {
        for threads in [2, 4] {
            let pool = ThreadPool::new(threads).unwrap();
            let n = 200_000;
            let log = RunLog::new(n);
            let l = log.clone();
            pool.execute(move || link(l, 0, n)).unwrap();
            while pool.stats().completed < n as u64 {
                std::thread::sleep(Duration::from_millis(5));
            }
            pool.close();
            log.assert_all(1);
        }
    });
}

/// `latency`'s shape: one worker runs a long job while outside jobs trickle
/// in, each waited for, with a pause after every 8th; the other worker goes
/// idle between them and often parks (its peer finishes nothing meanwhile),
/// so many of these jobs land while it sleeps or is about to: a lost wake-up
/// would hang here. The long job ends only after all of them ran.
#[test]
fn outside_jobs_while_the_other_worker_runs_a_long_job() {
    bounded_for(LONG * 6, || {
        let pool = ThreadPool::new(2).unwrap();
        let release = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let r = release.clone();
        pool.execute(move || {
            started_tx.send(()).unwrap();
            while r.load(Ordering::SeqCst) == 0 {
                std::hint::spin_loop();
            }
        })
        .unwrap();
        started_rx.recv().unwrap();
        // 30 µs: long enough for the idle worker to finish its backoff.
        submit_each_and_wait(&pool, 5_000, 8, Duration::from_micros(30));
        release.store(1, Ordering::SeqCst);
        pool.close();
        assert_eq!(pool.stats().completed, 5_001);
    });
}
