//! `submit_all` / `submit_all_with`: a batch of tasks in one submission. Every
//! task of it ends once (value, panic or cancel) and its hook runs once, or it
//! comes back unrun with its hook dropped unrun; never both, never lost.
#![allow(missing_docs)]

mod common;

use common::*;
use executor_core::{RejectReason, ThreadPool};
use executor_futures::{ExecutorService, TaskError, TaskHandle};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

#[test]
fn handles_come_back_in_order_and_every_closure_is_dropped_once() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let drops = DropCounter::new(500);
        let batch: Vec<_> = (0..500)
            .map(|i| {
                let t = drops.token(i);
                move || t.id() * 2
            })
            .collect();
        let handles = pool.submit_all(batch).unwrap();
        let ids: Vec<_> = handles.iter().map(TaskHandle::id).collect();
        let values: Vec<usize> = handles.into_iter().map(|h| h.get().unwrap()).collect();
        assert_eq!(values, (0..500).map(|i| i * 2).collect::<Vec<_>>());
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 500, "every task has its own id");
        pool.close();
        drops.assert_all_dropped_once(500);
        assert_eq!(pool.stats().submitted, 500);
    });
}

#[test]
fn a_refused_batch_comes_back_whole_and_its_hooks_never_run() {
    let pool = ThreadPool::new(1).unwrap();
    pool.shutdown();
    let drops = DropCounter::new(6);
    let hooks_run = Arc::new(AtomicUsize::new(0));
    let batch = (0..3).map(|i| {
        let (t, h, n) = (drops.token(i), drops.token(3 + i), hooks_run.clone());
        (
            move || t.id(),
            move |_: TaskHandle<usize>| {
                let _h = h;
                n.fetch_add(1, Ordering::SeqCst);
            },
        )
    });
    let err = pool.submit_all_with(batch).unwrap_err();
    assert_eq!(err.reason(), RejectReason::Shutdown);
    assert!(err.accepted().is_empty());
    assert!(err.to_string().contains("3 of 3 tasks rejected"));
    // The three hooks were dropped unrun; the callables come back in order.
    assert_eq!((drops.dropped(), hooks_run.load(Ordering::SeqCst)), (3, 0));
    let (_, refused) = err.into_parts();
    let ids: Vec<usize> = refused.into_inner().into_iter().map(|f| f()).collect();
    assert_eq!(ids, [0, 1, 2]);
    drops.assert_all_dropped_once(6);
}

#[test]
fn every_hook_of_a_batch_runs_once_with_its_own_result() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let batch = (0..200u32).map(|i| {
            let seen = seen.clone();
            (
                move || -> u32 {
                    if i % 50 == 7 {
                        panic!("task {i}");
                    }
                    i
                },
                move |h: TaskHandle<u32>| {
                    let r = h.get();
                    seen.lock().unwrap().push((i, r.map_err(|e| e.is_panic())));
                },
            )
        });
        let refs = pool.submit_all_with(batch).unwrap();
        for r in &refs {
            r.wait().unwrap();
        }
        pool.close();
        let mut seen = std::mem::take(&mut *seen.lock().unwrap());
        seen.sort_by_key(|&(i, _)| i);
        assert_eq!(seen.len(), 200, "one hook call per task");
        for (i, r) in seen {
            if i % 50 == 7 {
                assert_eq!(r, Err(true), "task {i} panicked");
            } else {
                assert_eq!(r, Ok(i));
            }
        }
    });
}

#[test]
fn a_task_of_a_batch_cancelled_before_it_starts_never_runs() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        pool.execute(move || g.wait()).unwrap();
        let ran = RunLog::new(4);
        let batch: Vec<_> = (0..4)
            .map(|i| {
                let ran = ran.clone();
                move || ran.mark(i)
            })
            .collect();
        let handles = pool.submit_all(batch).unwrap();
        assert!(handles[1].cancel());
        gate.open();
        let outcomes: Vec<_> = handles.into_iter().map(|h| h.get()).collect();
        assert!(matches!(outcomes[1], Err(TaskError::Cancelled)));
        assert!(outcomes
            .iter()
            .enumerate()
            .all(|(i, o)| i == 1 || o.is_ok()));
        pool.close();
        assert_eq!(
            [ran.get(0), ran.get(1), ran.get(2), ran.get(3)],
            [1, 0, 1, 1]
        );
    });
}

#[test]
fn a_partly_accepted_batch_runs_its_first_part_and_returns_the_rest() {
    bounded(|| {
        let exec = Accepting::new(2, 2);
        let drops = DropCounter::new(5);
        let batch: Vec<_> = (0..5)
            .map(|i| {
                let t = drops.token(i);
                move || t.id() + 10
            })
            .collect();
        let err = exec.submit_all(batch).unwrap_err();
        let (accepted, refused) = err.into_parts();
        let values: Vec<usize> = accepted.into_iter().map(|h| h.get().unwrap()).collect();
        assert_eq!(values, [10, 11]);
        let rest: Vec<usize> = refused.into_inner().into_iter().map(|f| f()).collect();
        assert_eq!(rest, [12, 13, 14]);
        exec.pool.close();
        drops.assert_all_dropped_once(5);
    });
}

/// Batches from outside race `shutdown_now`: each task has a value, or was
/// cancelled (its job handed back and dropped), or came back refused with its
/// batch (all of it but the first task, which is queued on its own); each hook ran exactly once for the accepted ones and never for
/// the refused ones.
#[test]
fn batches_racing_shutdown_now_account_for_every_task() {
    const SUBMITTERS: usize = 2;
    const BATCHES: usize = 100;
    const PER_BATCH: usize = 20;
    const TOTAL: usize = SUBMITTERS * BATCHES * PER_BATCH;
    bounded(|| {
        for _ in 0..5 {
            let pool = ThreadPool::new(2).unwrap();
            let hooks = RunLog::new(TOTAL);
            let drops = DropCounter::new(TOTAL);
            let start = Arc::new(Barrier::new(SUBMITTERS + 1));
            let threads: Vec<_> = (0..SUBMITTERS)
                .map(|t| {
                    let (pool, hooks, drops, start) =
                        (pool.clone(), hooks.clone(), drops.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        let (mut values, mut cancelled, mut refused) = (0, 0, 0);
                        for b in 0..BATCHES {
                            let first = (t * BATCHES + b) * PER_BATCH;
                            let batch = (first..first + PER_BATCH).map(|id| {
                                let (tok, hooks) = (drops.token(id), hooks.clone());
                                (move || tok.id(), move |_: TaskHandle<usize>| hooks.mark(id))
                            });
                            let accepted = match pool.submit_all_with(batch) {
                                Ok(refs) => refs,
                                Err(e) => {
                                    assert!(
                                        e.accepted().len() <= 1,
                                        "refused whole but for the first task, queued on its own"
                                    );
                                    refused += e.refused().len();
                                    e.into_parts().0
                                }
                            };
                            for r in accepted {
                                match r.wait() {
                                    Ok(()) if r.is_cancelled() => cancelled += 1,
                                    Ok(()) => values += 1,
                                    Err(e) => panic!("wait failed: {e}"),
                                }
                            }
                        }
                        (values, cancelled, refused)
                    })
                })
                .collect();
            start.wait();
            std::thread::yield_now();
            drop(pool.shutdown_now()); // handed-back jobs are dropped: their tasks cancel
            let (mut values, mut cancelled, mut refused) = (0, 0, 0);
            for t in threads {
                let (v, c, r) = t.join().unwrap();
                (values, cancelled, refused) = (values + v, cancelled + c, refused + r);
            }
            assert!(pool
                .await_termination(std::time::Duration::from_secs(10))
                .is_ok());
            assert_eq!(
                values + cancelled + refused,
                TOTAL,
                "every task accounted for"
            );
            let hook_runs: usize = (0..TOTAL).map(|id| hooks.get(id) as usize).sum();
            assert!((0..TOTAL).all(|id| hooks.get(id) <= 1), "a hook ran twice");
            assert_eq!(
                hook_runs,
                values + cancelled,
                "one hook run per accepted task"
            );
            assert_eq!(drops.live(), 0, "closures leaked");
        }
    });
}

#[test]
fn a_panicking_iterator_queues_only_the_first_task_and_every_other_built_hook_runs_cancelled() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let drops = DropCounter::new(3);
        let (ran, cancelled) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let batch = (0..4).map(|i| {
            assert!(i < 3, "the iterator fails at its fourth item");
            let (t, r, c) = (drops.token(i), ran.clone(), cancelled.clone());
            (
                move || {
                    r.fetch_add(1, Ordering::SeqCst);
                    t.id()
                },
                move |h: TaskHandle<usize>| {
                    if h.is_cancelled() {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                },
            )
        });
        let p = pool.clone();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            p.submit_all_with(batch)
        }));
        assert!(outcome.is_err(), "the panic propagates");
        pool.close();
        // The first task is queued on its own before the rest are built.
        assert_eq!(ran.load(Ordering::SeqCst), 1, "only the first was queued");
        assert_eq!(
            cancelled.load(Ordering::SeqCst),
            2,
            "each other built hook ran once, cancelled"
        );
        drops.assert_all_dropped_once(3);
        assert_eq!(pool.stats().submitted, 1);
    });
}
