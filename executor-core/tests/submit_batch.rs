//! `Executor::execute_jobs`: a batch is accepted whole or refused whole from
//! outside the pool, is queued job by job on a worker, and every job of it runs
//! once or comes back, never both, never lost, also when it races `shutdown_now`.

use executor_core::integration::{Executor, Job};
use executor_core::{RejectReason, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use testkit::*;

/// Jobs `first..first + n`, each marking its id in `log` and holding a tracked
/// value.
fn jobs(first: usize, n: usize, log: &Arc<RunLog>, drops: &Arc<DropCounter>) -> Vec<Job> {
    (first..first + n)
        .map(|id| {
            let (log, d) = (log.clone(), drops.token(id));
            Job::new(move || {
                let _d = d;
                log.mark(id);
            })
        })
        .collect()
}

#[test]
fn an_outside_batch_runs_every_job_once_and_counts_each() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let (log, drops) = (RunLog::new(1000), DropCounter::new(1000));
        for b in 0..10 {
            pool.execute_jobs(jobs(100 * b, 100, &log, &drops)).unwrap();
        }
        pool.execute_jobs(Vec::new()).unwrap(); // an empty batch is a no-op
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        log.assert_all(1);
        assert_eq!((drops.created(), drops.live()), (1000, 0));
        drops.assert_no_double_drop();
        let s = pool.stats();
        assert_eq!((s.submitted, s.completed, s.rejected), (1000, 1000, 0));
    });
}

#[test]
fn a_pool_ref_and_an_arc_take_batches_too() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let (log, drops) = (RunLog::new(30), DropCounter::new(30));
        // Through the forwarding impls, not ThreadPool's own.
        fn via<E: Executor>(exec: E, jobs: Vec<Job>) {
            exec.execute_jobs(jobs).unwrap();
        }
        via(pool.downgrade(), jobs(0, 10, &log, &drops));
        via(Arc::new(pool.clone()), jobs(10, 10, &log, &drops));
        via(&pool, jobs(20, 10, &log, &drops));
        pool.close();
        log.assert_all(1);
        assert_eq!(drops.live(), 0);
        drops.assert_no_double_drop();
        assert_eq!(pool.stats().submitted, 30);
    });
}

#[test]
fn a_batch_after_shutdown_comes_back_whole_in_order_unrun() {
    let pool = ThreadPool::new(2).unwrap();
    pool.shutdown();
    let drops = DropCounter::new(5);
    let order = Arc::new(Mutex::new(Vec::new()));
    let batch = (0..5)
        .map(|id| {
            let (order, d) = (order.clone(), drops.token(id));
            Job::new(move || {
                let _d = d;
                order.lock().unwrap().push(id);
            })
        })
        .collect();
    let refused = pool.execute_jobs(batch).unwrap_err();
    assert_eq!(refused.reason(), RejectReason::Shutdown);
    let back = refused.into_inner();
    assert!(order.lock().unwrap().is_empty(), "none ran");
    // Handed back in submission order: run them by hand to see it.
    for job in back {
        job.run();
    }
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4]);
    assert_eq!(drops.live(), 0);
    drops.assert_no_double_drop();
    assert!(pool.await_termination(LONG).is_ok());
    assert_eq!(pool.stats().rejected, 5);
}

#[test]
fn a_batch_from_a_worker_goes_to_its_deque_and_runs() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let (log, drops) = (RunLog::new(300), DropCounter::new(300));
        let done = Latch::new(1);
        let (p, l, d, dn) = (pool.clone(), log.clone(), drops.clone(), done.clone());
        pool.execute(move || {
            p.execute_jobs(jobs(0, 300, &l, &d)).unwrap();
            dn.count_down();
        })
        .unwrap();
        done.wait();
        pool.close();
        log.assert_all(1);
        assert_eq!(drops.live(), 0);
        drops.assert_no_double_drop();
    });
}

#[test]
fn the_default_stops_at_the_first_refusal_and_returns_the_rest() {
    bounded_for(LONG, || {
        // Accepts 3 jobs onto a 1-thread pool, refuses the rest: the trait's
        // default (one by one, stop at the first refusal).
        let exec = Accepting::new(1, 3);
        let (log, drops) = (RunLog::new(8), DropCounter::new(8));
        let rest = exec.execute_jobs(jobs(0, 8, &log, &drops)).unwrap_err();
        assert_eq!(rest.reason(), RejectReason::Shutdown);
        let rest = rest.into_inner();
        assert_eq!(rest.len(), 5, "the refused job and every later one");
        exec.pool.close();
        assert_eq!(log.counts(), [1, 1, 1, 0, 0, 0, 0, 0]);
        // The rest are jobs 3..8, in order: run them and they fill the log.
        for job in rest {
            job.run();
        }
        log.assert_all(1);
        assert_eq!(drops.live(), 0);
        drops.assert_no_double_drop();
    });
}

/// Outside batches race `shutdown_now`: every job ran exactly once, or came
/// back (refused with its batch, or handed back by `shutdown_now`), never both,
/// never lost; a refused batch is refused whole. Batches of 50 are pushed job by
/// job; batches of 100 are queued as one ticket that a worker claims.
#[test]
fn batches_racing_shutdown_now_are_run_or_handed_back() {
    for per_batch in [50, 100] {
        race_batches_with_shutdown_now(per_batch);
    }
}

fn race_batches_with_shutdown_now(per_batch: usize) {
    const SUBMITTERS: usize = 2;
    const BATCHES: usize = 200;
    bounded_for(LONG * 6, move || {
        for _ in 0..5 {
            let pool = ThreadPool::new(2).unwrap();
            let total = SUBMITTERS * BATCHES * per_batch;
            let (log, drops) = (RunLog::new(total), DropCounter::new(total));
            let refused = Arc::new(AtomicUsize::new(0));
            let start = Arc::new(Barrier::new(SUBMITTERS + 1));
            let threads: Vec<_> = (0..SUBMITTERS)
                .map(|t| {
                    let (pool, log, drops, refused, start) = (
                        pool.clone(),
                        log.clone(),
                        drops.clone(),
                        refused.clone(),
                        start.clone(),
                    );
                    std::thread::spawn(move || {
                        start.wait();
                        for b in 0..BATCHES {
                            let first = (t * BATCHES + b) * per_batch;
                            if let Err(e) = pool.execute_jobs(jobs(first, per_batch, &log, &drops))
                            {
                                let back = e.into_inner();
                                assert_eq!(back.len(), per_batch, "refused whole");
                                refused.fetch_add(back.len(), Ordering::SeqCst);
                            }
                        }
                    })
                })
                .collect();
            start.wait();
            std::thread::yield_now();
            let handed_back = pool.shutdown_now();
            for t in threads {
                t.join().unwrap();
            }
            assert!(pool.await_termination(LONG).is_ok());
            let ran = log.counts();
            assert!(ran.iter().all(|&n| n <= 1), "a job ran twice");
            let ran: usize = ran.iter().map(|&n| n as usize).sum();
            let back = handed_back.len();
            // Handed back are the batches' own jobs (never a ticket): run by
            // hand, each marks its id for the first time.
            for job in handed_back {
                job.run();
            }
            assert!(
                log.counts().iter().all(|&n| n <= 1),
                "a handed-back job had run"
            );
            assert_eq!(
                ran + back + refused.load(Ordering::SeqCst),
                total,
                "every job ran, was handed back or was refused (per_batch {per_batch})"
            );
            assert_eq!(drops.live(), 0, "closures leaked");
            drops.assert_no_double_drop();
        }
    });
}

/// Jobs `first..first + n` that append their id to `order`.
fn ordered(first: usize, n: usize, order: &Arc<Mutex<Vec<usize>>>) -> Vec<Job> {
    (first..first + n)
        .map(|id| {
            let order = order.clone();
            Job::new(move || order.lock().unwrap().push(id))
        })
        .collect()
}

/// Short batches (pushed job by job) and long ones (queued as a ticket; the
/// worker that takes it moves a chunk onto its deque and puts the ticket back)
/// all run once; a ticket is counted neither as a job nor as a run, and while
/// queued it stands for its jobs in `stats().queued`. (No order is promised
/// across or within submissions: a worker looks at the injector before its own
/// deque now and then, for fairness, and may claim the next chunk early.)
#[test]
fn long_batches_run_once_and_are_counted_as_their_jobs() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(1).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let gate = block_all_workers(&pool);
        let mut first = 0;
        for n in [500, 10, 100, 10, 300, 1, 64] {
            pool.execute_jobs(ordered(first, n, &order)).unwrap();
            first += n;
        }
        assert_eq!(pool.stats().queued, first, "a ticket stands for its jobs");
        gate.open();
        pool.close();
        let mut ran = order.lock().unwrap().clone();
        ran.sort_unstable();
        assert_eq!(ran, (0..first).collect::<Vec<_>>(), "every job once");
        let s = pool.stats();
        // The gate's job is one more submission and one more run.
        assert_eq!(
            (s.submitted, s.completed),
            (first as u64 + 1, first as u64 + 1)
        );
        assert_eq!(s.queued, 0);
    });
}

/// `shutdown_now` hands back the jobs of a queued long batch, in place and in
/// order, and never its ticket.
#[test]
fn shutdown_now_hands_back_a_queued_long_batch_in_order() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(1).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let gate = block_all_workers(&pool);
        pool.execute_jobs(ordered(0, 5, &order)).unwrap();
        pool.execute_jobs(ordered(5, 200, &order)).unwrap();
        pool.execute_jobs(ordered(205, 5, &order)).unwrap();
        let back = pool.shutdown_now();
        gate.open();
        assert!(pool.await_termination(LONG).is_ok());
        assert!(order.lock().unwrap().is_empty(), "none ran");
        assert_eq!(back.len(), 210);
        for job in back {
            job.run();
        }
        assert_eq!(*order.lock().unwrap(), (0..210).collect::<Vec<_>>());
        assert_eq!(pool.stats().queued, 0);
    });
}
