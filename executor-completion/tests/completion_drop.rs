//! TESTS.md B.6 C10 (dropping the service mid-flight) and B.10/B.11 drop
//! accounting: every closure and every result dropped exactly once, nothing left.

mod common;

use common::*;
use executor_completion::CompletionService;
use executor_core::ThreadPool;
use executor_futures::ExecutorService;

#[test]
fn c10_dropping_the_service_with_tasks_in_flight() {
    bounded(|| {
        const N: usize = 100;
        let pool = ThreadPool::new(2).unwrap();
        let closures = DropCounter::new(N);
        let outputs = DropCounter::new(N);
        let runs = RunLog::new(N);
        let gate = Gate::new();
        let started = Latch::new(2);
        let cs = CompletionService::new(pool.clone());
        for i in 0..N {
            let token = closures.token(i);
            let (g, s, r, out) = (gate.clone(), started.clone(), runs.clone(), outputs.clone());
            cs.submit(move || {
                let _token = token;
                r.mark(i);
                s.count_down();
                g.wait(); // keeps running after the cancel: cooperative
                out.token(i)
            })
            .unwrap();
        }
        started.wait(); // two running, 98 queued
        drop(cs);
        // The queued ones were cancelled: their closures are gone already.
        assert_eq!(closures.dropped(), N - 2);
        gate.open();
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        for i in 0..N {
            assert!(runs.get(i) <= 1, "ran twice");
        }
        let ran = (0..N).filter(|&i| runs.get(i) == 1).count();
        assert_eq!(ran, 2, "cancelled tasks never start");
        closures.assert_all_dropped_once(N);
        outputs.assert_all_dropped_once(ran);
    });
}

#[test]
fn dropping_the_service_drops_results_not_taken() {
    bounded(|| {
        const N: usize = 50;
        let pool = ThreadPool::new(2).unwrap();
        let outputs = DropCounter::new(N);
        let cs = CompletionService::new(pool.clone());
        for i in 0..N {
            let out = outputs.clone();
            cs.submit(move || out.token_with(i, 1024)).unwrap();
        }
        until(|| cs.ready() == N, "all done");
        let first = cs.take().unwrap();
        drop(cs);
        assert_eq!(outputs.live(), 1, "only the taken result is alive");
        drop(first);
        outputs.assert_all_dropped_once(N);
        pool.close();
    });
}

#[test]
fn results_arriving_after_the_drop_are_dropped_by_the_finishing_thread() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let outputs = DropCounter::new(1);
        let gate = Gate::new();
        let started = Latch::new(1);
        let cs = CompletionService::new(pool.clone());
        let (g, s, out) = (gate.clone(), started.clone(), outputs.clone());
        cs.submit(move || {
            s.count_down();
            // Ignores the cancel on purpose and returns a value anyway.
            g.wait();
            out.token(0)
        })
        .unwrap();
        started.wait();
        drop(cs);
        gate.open();
        pool.close();
        outputs.assert_all_dropped_once(1);
    });
}

#[test]
fn dropping_the_service_on_a_worker_with_queued_tasks_does_not_block() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let closures = DropCounter::new(10);
        let p = pool.clone();
        let c = closures.clone();
        let h = pool
            .submit(move || {
                let cs = CompletionService::new(p);
                for i in 0..10 {
                    let token = c.token(i);
                    cs.submit(move || drop(token)).unwrap();
                }
                drop(cs); // the tasks are queued behind us on the only worker
                c.dropped()
            })
            .unwrap();
        assert_eq!(h.get().unwrap(), 10, "cancelled at the drop");
        closures.assert_all_dropped_once(10);
    });
}

#[test]
fn a_panicking_result_drop_does_not_escape_the_service_drop() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("bomb dropped");
        }
    }
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let cs = CompletionService::new(pool.clone());
        cs.submit(|| Bomb).unwrap();
        until(|| cs.ready() == 1, "done");
        drop(cs); // must not panic
                  // The pool survives.
        assert_eq!(pool.submit(|| 1).unwrap().get().unwrap(), 1);
    });
}

#[test]
fn dropping_iterators_and_streams_midway_loses_nothing_else() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let outputs = DropCounter::new(20);
        let cs = CompletionService::new(pool.clone());
        for i in 0..20 {
            let out = outputs.clone();
            cs.submit(move || out.token(i)).unwrap();
        }
        until(|| cs.ready() == 20, "all done");
        {
            let mut it = cs.iter();
            let one = it.next().unwrap();
            drop(one);
            // The rest of the batch sits in the iterator's buffer: given back
            // to the service when the iterator is dropped (issue 16, item 1).
        }
        assert_eq!(outputs.live(), 19);
        assert_eq!(cs.outstanding(), 19);
        assert_eq!(cs.drain_ready().len(), 19);
        assert_eq!(outputs.live(), 0);
        assert!(cs.is_empty());
        let into = cs.into_iter();
        let _ = into.service().submit({
            let out = outputs.clone();
            move || out.token(0)
        });
        drop(into);
        pool.close();
        assert_eq!(outputs.live(), 0);
    });
}
