//! TESTS.md B.6 (C1–C4, C7–C9), P5 (completion part), and the service's API:
//! timing, cancel, async tasks, inline executors, waiting on a worker.

mod common;

use common::*;
use executor_completion::{CompletionService, TaskError};
use executor_core::integration::InlineExecutor;
use executor_core::{RejectReason, ThreadPool};
use executor_futures::ExecutorService;
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[test]
fn c1_take_yields_the_submitted_task() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let cs = CompletionService::new(pool);
        let k = cs.submit(|| "s").unwrap();
        let done = cs.take().expect("one outstanding");
        assert_eq!(done.id(), k, "the same task");
        assert!(done.is_ok() && !done.is_cancelled() && !done.is_panic());
        assert_eq!(done.get().unwrap(), "s");
        // C1 `testTake2`: a second round on the same service.
        let k2 = cs.submit(|| "t").unwrap();
        assert_ne!(k, k2);
        let done = cs.take().unwrap();
        assert_eq!((done.id(), done.get().unwrap()), (k2, "t"));
    });
}

#[test]
fn c2_poll_and_poll_timeout_before_completion() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let cs = CompletionService::new(pool);
        assert!(cs.poll().is_none(), "nothing submitted");
        let gate = Gate::new();
        let g = gate.clone();
        let id = cs
            .submit(move || {
                g.wait();
                7
            })
            .unwrap();
        assert!(cs.poll().is_none());
        assert!(cs.poll_timeout(Duration::ZERO).is_err());
        let start = Instant::now();
        assert!(cs.poll_timeout(TIMEOUT).is_err());
        assert!(start.elapsed() >= TIMEOUT, "returned before the timeout");
        assert_eq!(cs.outstanding(), 1, "a timeout loses nothing");
        gate.open();
        let done = cs.take().unwrap();
        assert_eq!((done.id(), done.get().unwrap()), (id, 7));
        assert!(cs.poll().is_none());
    });
}

#[test]
fn c3_strict_completion_order() {
    bounded(|| {
        let pool = ThreadPool::new(5).unwrap();
        let cs = CompletionService::new(pool);
        let gates: Vec<Gate> = (0..5).map(|_| Gate::new()).collect();
        for (i, gate) in gates.iter().enumerate() {
            let g = gate.clone();
            cs.submit(move || {
                g.wait();
                i
            })
            .unwrap();
        }
        let order = [3usize, 1, 4, 0, 2];
        for (k, &i) in order.iter().enumerate() {
            gates[i].open();
            // Wait until that task is delivered before opening the next gate.
            until(|| cs.ready() == k + 1, "the opened task to finish");
        }
        let taken: Vec<usize> = (0..5).map(|_| cs.take().unwrap().get().unwrap()).collect();
        assert_eq!(taken, order);
        assert!(cs.take().is_none());
    });
}

#[test]
fn c3_completion_order_ids_match() {
    bounded(|| {
        let pool = ThreadPool::new(3).unwrap();
        let cs = CompletionService::new(pool);
        let gates: Vec<Gate> = (0..3).map(|_| Gate::new()).collect();
        let ids: Vec<_> = (0..3usize)
            .map(|i| {
                let g = gates[i].clone();
                cs.submit(move || g.wait()).unwrap()
            })
            .collect();
        for i in [2usize, 0, 1] {
            gates[i].open();
            let done = cs.poll_timeout(LONG).ok().flatten().expect("delivered");
            assert_eq!(done.id(), ids[i]);
        }
    });
}

#[test]
fn c4_cancelled_tasks_are_delivered_exactly_once() {
    bounded(|| {
        // Running tasks (3 threads): the 2nd is cancelled while it runs.
        let pool = ThreadPool::new(3).unwrap();
        let cs = CompletionService::new(pool);
        let gate = Gate::new();
        let started = Latch::new(3);
        let ids: Vec<_> = (0..3)
            .map(|i| {
                let (g, s) = (gate.clone(), started.clone());
                cs.submit(move || {
                    s.count_down();
                    g.wait_or_cancelled();
                    i
                })
                .unwrap()
            })
            .collect();
        started.wait();
        assert!(cs.cancel(ids[1]));
        assert!(!cs.cancel(ids[1]), "only the first cancel wins");
        gate.open();
        let mut seen = Vec::new();
        for _ in 0..3 {
            let done = cs.take().unwrap();
            assert_eq!(done.is_cancelled(), done.id() == ids[1]);
            seen.push(done.id());
        }
        seen.sort();
        let mut expected = ids.clone();
        expected.sort();
        assert_eq!(seen, expected);
        assert!(
            matches!(cs.poll_timeout(SHORT), Ok(None)),
            "no duplicate after the body returns"
        );
        assert!(cs.take().is_none());
    });
}

#[test]
fn c4_cancelled_before_start_never_runs_and_is_delivered_once() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let cs = CompletionService::new(pool);
        let gate = Gate::new();
        let runs = RunLog::new(3);
        let ids: Vec<_> = (0..3)
            .map(|i| {
                let (g, r) = (gate.clone(), runs.clone());
                cs.submit(move || {
                    r.mark(i);
                    g.wait();
                })
                .unwrap()
            })
            .collect();
        assert!(cs.cancel(ids[1]));
        // Delivered at cancel time, before the gate opens.
        let first = cs.take().unwrap();
        assert!(first.id() == ids[1] && first.is_cancelled());
        assert!(first.started_at().is_none() && first.worker().is_none());
        gate.open();
        let rest: HashSet<_> = (0..2).map(|_| cs.take().unwrap().id()).collect();
        assert_eq!(rest, HashSet::from([ids[0], ids[2]]));
        assert_eq!((runs.get(0), runs.get(1), runs.get(2)), (1, 0, 1));
        assert!(matches!(cs.poll_timeout(SHORT), Ok(None)));
    });
}

#[test]
fn cancel_all_cancels_pending_and_running_and_delivers_them() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let cs = CompletionService::new(pool);
        let started = Latch::new(1);
        let s = started.clone();
        cs.submit(move || {
            s.count_down();
            while !executor_futures::is_cancelled() {
                std::thread::yield_now();
            }
            0
        })
        .unwrap();
        started.wait();
        for i in 1..5 {
            cs.submit(move || i).unwrap();
        }
        assert_eq!(cs.cancel_all(), 5);
        assert_eq!(cs.cancel_all(), 0, "nothing left to cancel");
        let all: Vec<_> = cs.iter().collect();
        assert_eq!(all.len(), 5);
        assert!(all.iter().all(|d| d.is_cancelled()));
        assert!(!cs.cancel(all[0].id()), "done tasks are not cancelled");
    });
}

#[test]
fn c7_completion_services_are_isolated() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let cs1 = CompletionService::new(&pool);
        let cs2 = CompletionService::new(&pool);
        let mut ids1 = HashSet::new();
        let mut ids2 = HashSet::new();
        for i in 0..100 {
            ids1.insert(cs1.submit(move || (1, i)).unwrap());
            ids2.insert(cs2.submit(move || (2, i)).unwrap());
        }
        for (cs, ids, tag) in [(&cs1, &ids1, 1), (&cs2, &ids2, 2)] {
            let mut seen = HashSet::new();
            let mut values = HashSet::new();
            while let Some(done) = cs.take() {
                assert!(seen.insert(done.id()), "duplicate");
                let (t, i) = done.get().unwrap();
                assert_eq!(t, tag, "cross-delivery");
                values.insert(i);
            }
            assert_eq!(&seen, ids);
            assert_eq!(values.len(), 100);
        }
    });
}

#[test]
fn c8_service_over_a_pool_that_shut_down() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let cs = CompletionService::new(pool.clone());
        let gate = Gate::new();
        let ids: HashSet<_> = (0..5)
            .map(|i| {
                let g = gate.clone();
                cs.submit(move || {
                    g.wait();
                    i
                })
                .unwrap()
            })
            .collect();
        pool.shutdown();
        let rejected = cs.submit(|| 99).unwrap_err();
        assert_eq!(rejected.reason(), RejectReason::Shutdown);
        assert_eq!(rejected.into_inner()(), 99, "the closure comes back unrun");
        assert_eq!(cs.outstanding(), 5, "nothing new enqueued");
        let try_rejected = cs.try_submit(|| 98).unwrap_err();
        assert!(try_rejected.is_rejected() && !try_rejected.is_full());
        gate.open();
        let got: HashSet<_> = (0..5).map(|_| cs.take().unwrap().id()).collect();
        assert_eq!(got, ids, "earlier tasks all delivered");
        assert!(cs.take().is_none(), "DD5: nothing outstanding");
        assert!(pool.await_termination(LONG).is_ok());
    });
}

#[test]
fn c9_take_with_nothing_outstanding_returns_none_at_once() {
    let cs = CompletionService::<u32>::new(ThreadPool::new(1).unwrap());
    let cs = bounded_for(LONG, move || {
        assert!(cs.take().is_none());
        assert!(matches!(cs.poll_timeout(LONG), Ok(None)), "no wait either");
        assert!(cs.iter().next().is_none());
        cs
    });
    assert!(cs.is_empty());
    assert_eq!((cs.len(), cs.outstanding()), (0, 0));
}

#[test]
fn p5_error_panic_and_success_mixed_in_one_batch() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let cs = CompletionService::<Result<&'static str, String>>::new(pool);
        for _ in 0..2 {
            cs.submit(|| Ok("s")).unwrap();
            cs.submit(|| Err("e".to_string())).unwrap();
            cs.submit(|| -> Result<&'static str, String> { panic!("p") })
                .unwrap();
        }
        let (mut ok, mut failed, mut panicked) = (0, 0, 0);
        for _ in 0..6 {
            let done = cs.take().unwrap();
            if done.is_failed() {
                failed += 1;
                assert_eq!(done.get_flat().unwrap_err().into_failed().unwrap(), "e");
            } else if done.is_panic() {
                panicked += 1;
                assert_eq!(done.get().unwrap_err().message(), Some("p"));
            } else {
                ok += 1;
                assert_eq!(done.get_flat().unwrap(), "s");
            }
        }
        assert_eq!((ok, failed, panicked), (2, 2, 2));
        assert!(cs.poll().is_none());
    });
}

#[test]
fn completed_records_worker_and_timing() {
    bounded(|| {
        let pool = ThreadPool::new(3).unwrap();
        let cs = CompletionService::new(pool);
        let before = Instant::now();
        for _ in 0..20 {
            cs.submit(executor_core::current_thread_index).unwrap();
        }
        cs.submit(|| -> Option<usize> { panic!("timed too") })
            .unwrap();
        for done in &cs {
            assert!(done.submitted_at() >= before);
            let started = done.started_at().expect("it ran");
            assert!(started >= done.submitted_at() && done.finished_at() >= started);
            assert_eq!(done.queued(), started - done.submitted_at());
            assert_eq!(done.ran(), Some(done.finished_at() - started));
            assert_eq!(done.elapsed(), done.finished_at() - done.submitted_at());
            let worker = done.worker().expect("ran on a worker");
            assert!(worker < 3);
            if !done.is_panic() {
                assert_eq!(done.get().unwrap(), Some(worker), "the worker that ran it");
            }
        }
    });
}

#[test]
fn works_on_the_inline_executor() {
    let cs = CompletionService::with_executor(InlineExecutor);
    for i in 0..3 {
        cs.submit(move || i).unwrap();
    }
    cs.submit(|| -> i32 { panic!("inline") }).unwrap();
    assert_eq!(cs.ready(), 4);
    let all = cs.drain_ready();
    assert_eq!(all.len(), 4);
    assert!(all[3].is_panic() && all[0].worker().is_none());
    let values: Vec<i32> = all.into_iter().take(3).map(|d| d.get().unwrap()).collect();
    assert_eq!(values, [0, 1, 2]);
    assert!(cs.is_empty());
}

#[test]
fn async_tasks_are_delivered_like_callables() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let inner = pool.submit(|| 20).unwrap();
        let cs = CompletionService::new(pool.clone());
        let a = cs.spawn(async move { inner.await.unwrap() + 1 }).unwrap();
        let b = cs
            .spawn(async {
                if c_panics() {
                    panic!("async boom");
                }
                0
            })
            .unwrap();
        let c = cs.submit(|| 3).unwrap();
        let mut seen = HashSet::new();
        for done in &cs {
            seen.insert(done.id());
            if done.id() == a {
                assert!(done.started_at().is_some() && done.worker().is_some());
                assert_eq!(done.get().unwrap(), 21);
            } else if done.id() == b {
                assert_eq!(done.get().unwrap_err().message(), Some("async boom"));
            } else {
                assert_eq!(done.get().unwrap(), 3);
            }
        }
        assert_eq!(seen, HashSet::from([a, b, c]));
        pool.shutdown();
        let fut = cs.spawn(async { 5 }).unwrap_err().into_inner();
        assert_eq!(
            futures::executor::block_on(fut),
            5,
            "the future comes back unpolled"
        );
    });
}

fn c_panics() -> bool {
    true
}

#[test]
fn take_on_a_one_thread_pool_worker_does_not_deadlock() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let p = pool.clone();
        let outer = pool
            .submit(move || {
                let cs = CompletionService::new(p);
                for i in 1..=10u64 {
                    cs.submit(move || i).unwrap();
                }
                // Each take waits on the only worker: it must run the queued tasks.
                let mut sum = 0;
                while let Some(done) = cs.take() {
                    sum += done.get().unwrap();
                }
                // And the blocking iterator and poll_timeout the same way.
                cs.submit(|| 100).unwrap();
                sum += cs.poll_timeout(LONG).unwrap().unwrap().get().unwrap();
                cs.submit(|| 1000).unwrap();
                sum += cs.iter().map(|d| d.get().unwrap()).sum::<u64>();
                sum
            })
            .unwrap();
        assert_eq!(outer.get().unwrap(), 55 + 100 + 1000);
    });
}

#[test]
fn every_consumer_wakes_when_the_last_task_finishes() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let cs = CompletionService::new(pool);
        let gate = Gate::new();
        let g = gate.clone();
        cs.submit(move || g.wait()).unwrap();
        std::thread::scope(|s| {
            let takers: Vec<_> = (0..3).map(|_| s.spawn(|| cs.take().is_some())).collect();
            until_waiting_consumers(&cs, 3);
            gate.open();
            let got: usize = takers.into_iter().map(|t| t.join().unwrap() as usize).sum();
            assert_eq!(got, 1, "one gets the result, the others None");
        });
    });
}

#[test]
fn counts_and_debug() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let cs = CompletionService::new(pool);
        let gate = Gate::new();
        let g = gate.clone();
        cs.submit(move || g.wait()).unwrap();
        cs.submit(|| ()).unwrap();
        assert_eq!((cs.outstanding(), cs.pending()), (2, 2));
        assert!(format!("{cs:?}").contains("pending: 2"));
        gate.open();
        until(|| cs.ready() == 2, "both done");
        assert_eq!((cs.outstanding(), cs.pending(), cs.ready()), (2, 0, 2));
        let mut it = cs.iter();
        assert!(it.next().is_some());
        assert_eq!(cs.outstanding(), 0, "the iterator took the whole batch");
        assert_eq!(it.size_hint().0, 1);
        assert!(it.next().is_some() && it.next().is_none());
        assert!(format!("{it:?}").contains("Iter"));
    });
}

#[test]
fn errors_are_values() {
    let cs = CompletionService::<u8, _>::bounded_with_executor(InlineExecutor, 1);
    cs.submit(|| 1).unwrap();
    let full = cs.try_submit(|| 2).unwrap_err();
    assert!(full.is_full());
    assert!(full.to_string().contains("full"));
    assert_eq!(format!("{full:?}"), "Full(..)");
    assert_eq!(full.into_inner()(), 2);
    let _: TaskError = TaskError::Cancelled;
}

#[test]
#[should_panic(expected = "capacity of at least 1")]
fn zero_capacity_is_refused() {
    let _ = CompletionService::<u8, _>::bounded_with_executor(InlineExecutor, 0);
}
