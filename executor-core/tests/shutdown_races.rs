//! TESTS.md B.9: submissions racing shutdown and shutdown_now. Every accepted job
//! ran exactly once or was handed back, never both, never lost; every rejected one
//! came back to its submitter.

use executor_core::ThreadPool;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use testkit::*;

const SUBMITTERS: usize = 3;
const PER_SUBMITTER: usize = 20_000;

/// Submitters (outside threads, and jobs on the workers) race `shutdown` or
/// `shutdown_now`; the outcome of every submission is accounted for exactly.
fn race(stop_now: bool, iteration: usize) {
    let pool = ThreadPool::new(2).unwrap();
    let total = SUBMITTERS * PER_SUBMITTER * 2;
    let log = RunLog::new(total);
    let rejected = RunLog::new(total);
    let drops = DropCounter::new(total);
    let start = Arc::new(Barrier::new(SUBMITTERS + 1));
    let mut threads = Vec::new();
    for t in 0..SUBMITTERS {
        let (pool, log, rejected, drops, start) = (
            pool.clone(),
            log.clone(),
            rejected.clone(),
            drops.clone(),
            start.clone(),
        );
        threads.push(std::thread::spawn(move || {
            start.wait();
            for k in 0..PER_SUBMITTER {
                // Even ids from outside; odd ids from a job running on a worker.
                let id = 2 * (t * PER_SUBMITTER + k);
                let (l, d) = (log.clone(), drops.token(id));
                if let Err(e) = pool.execute(move || {
                    let _d = d;
                    l.mark(id);
                }) {
                    rejected.mark(id);
                    drop(e);
                    let (r, d2) = (rejected.clone(), drops.token(id + 1));
                    r.mark(id + 1);
                    drop(d2);
                    continue;
                }
                let (p, l, r, d) = (pool.clone(), log.clone(), rejected.clone(), drops.clone());
                let inner = move || {
                    let dd = d.token(id + 1);
                    let l2 = l.clone();
                    if p.execute(move || {
                        let _dd = dd;
                        l2.mark(id + 1);
                    })
                    .is_err()
                    {
                        r.mark(id + 1);
                    }
                };
                if let Err(e) = pool.execute(inner) {
                    // The carrier was rejected: run it here, so the inner submission
                    // happens from outside (and is rejected too).
                    (e.into_inner())();
                }
            }
        }));
    }
    start.wait();
    std::thread::yield_now();
    let handed_back = if stop_now {
        pool.shutdown_now()
    } else {
        pool.shutdown();
        Vec::new()
    };
    for t in threads {
        t.join().unwrap();
    }
    assert!(bounded_for(LONG, {
        let p = pool.clone();
        move || p.await_termination(LONG).is_ok()
    }));
    let back = handed_back.len();
    drop(handed_back); // handed-back jobs are dropped unrun
                       // The carrier closures that were handed back never submitted their inner job:
                       // count ids that were neither run nor rejected; they must be exactly the ones
                       // handed back (outer jobs) or the inner jobs of handed-back carriers.
    let ran = log.counts();
    let rej = rejected.counts();
    let mut unaccounted = 0;
    for id in 0..total {
        assert!(
            ran[id] <= 1,
            "iteration {iteration}: id {id} ran {} times",
            ran[id]
        );
        assert!(
            !(ran[id] == 1 && rej[id] == 1),
            "id {id} both ran and was rejected"
        );
        if ran[id] == 0 && rej[id] == 0 {
            unaccounted += 1;
        }
    }
    if stop_now {
        // Each handed-back job is an outer job (its id never ran) or a carrier
        // (its inner id was never created); either way one id per job.
        assert_eq!(unaccounted, back, "iteration {iteration}: ids lost");
    } else {
        assert_eq!(unaccounted, 0, "iteration {iteration}: shutdown lost ids");
        assert_eq!(back, 0);
    }
    assert_eq!(drops.live(), 0, "closures leaked");
    drops.assert_no_double_drop();
}

#[test]
fn submissions_racing_shutdown_are_never_lost() {
    bounded_for(LONG * 6, || {
        for i in 0..5 {
            race(false, i);
        }
    });
}

#[test]
fn submissions_racing_shutdown_now_are_run_or_handed_back() {
    bounded_for(LONG * 6, || {
        for i in 0..5 {
            race(true, i);
        }
    });
}

/// X3: a running job keeps submitting children until it sees a rejection; every
/// accepted child runs exactly once and the pool terminates.
#[test]
fn job_submitting_during_shutdown() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let started = Latch::new(1);
        let (p, r, a, s) = (pool.clone(), ran.clone(), accepted.clone(), started.clone());
        pool.execute(move || {
            s.count_down();
            loop {
                let r = r.clone();
                if p.execute(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                })
                .is_err()
                {
                    break;
                }
                a.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
        })
        .unwrap();
        started.wait();
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(ran.load(Ordering::SeqCst), accepted.load(Ordering::SeqCst));
    });
}

/// X4: shutdown, shutdown_now and await_termination at the same moment.
#[test]
fn concurrent_lifecycle_calls() {
    bounded_for(LONG, || {
        for _ in 0..20 {
            let pool = ThreadPool::new(2).unwrap();
            let log = RunLog::new(100);
            let gate = block_all_workers(&pool);
            for i in 0..100 {
                let log = log.clone();
                pool.execute(move || log.mark(i)).unwrap();
            }
            let barrier = Arc::new(Barrier::new(3));
            let handed = Arc::new(Mutex::new(Vec::new()));
            let gate_opened = Arc::new(AtomicBool::new(false));
            let ts: Vec<_> = (0..3)
                .map(|k| {
                    let (p, b, h) = (pool.clone(), barrier.clone(), handed.clone());
                    std::thread::spawn(move || {
                        b.wait();
                        match k {
                            0 => p.shutdown(),
                            1 => h.lock().unwrap().extend(p.shutdown_now()),
                            _ => assert!(p.await_termination(std::time::Duration::ZERO).is_err()),
                        }
                    })
                })
                .collect();
            for t in ts {
                t.join().unwrap();
            }
            gate.open();
            gate_opened.store(true, Ordering::SeqCst);
            assert!(pool.await_termination(LONG).is_ok());
            let back = handed.lock().unwrap().len();
            let ran: usize = log.counts().iter().map(|&c| c as usize).sum();
            assert_eq!(ran + back, 100, "every queued job ran or came back");
            assert!(log.counts().iter().all(|&c| c <= 1));
        }
    });
}
