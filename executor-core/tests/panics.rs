//! TESTS.md B.4 (core part): panicking jobs, hooks and handlers never kill or
//! shrink the pool.

use executor_core::{PanicOrigin, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use testkit::*;

/// P2: workers survive panics and the pool keeps its capacity.
#[test]
fn workers_survive_panics() {
    bounded_for(LONG, || {
        let census = Census::default();
        let panics = Arc::new(AtomicUsize::new(0));
        let p = panics.clone();
        let pool = census
            .builder(2)
            .panic_handler(move |_| {
                p.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        for _ in 0..1000 {
            pool.execute(|| panic!("expected test panic")).unwrap();
        }
        // Two jobs that each wait for the other: only completes with 2 live workers.
        let barrier = Arc::new(Barrier::new(2));
        let done = Latch::new(2);
        for _ in 0..2 {
            let (b, d) = (barrier.clone(), done.clone());
            pool.execute(move || {
                b.wait();
                d.count_down();
            })
            .unwrap();
        }
        done.wait();
        let log = RunLog::new(1000);
        for i in 0..1000 {
            let log = log.clone();
            pool.execute(move || log.mark(i)).unwrap();
        }
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        log.assert_all(1);
        assert_eq!(panics.load(Ordering::SeqCst), 1000);
        assert_eq!(pool.stats().panicked, 1000);
        assert_eq!(
            census.started.load(Ordering::SeqCst),
            2,
            "no worker was respawned or lost"
        );
        assert_eq!(census.live(), 0);
    });
}

/// P3: panics in fire-and-forget jobs are reported to the handler with message and
/// worker, exactly once each.
#[test]
fn execute_panics_are_reported_exactly_once() {
    bounded_for(LONG, || {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let pool = ThreadPool::builder()
            .num_threads(2)
            .panic_handler(move |p| {
                assert_eq!(p.origin(), PanicOrigin::Job);
                assert!(p.worker().is_some_and(|w| w < 2));
                s.lock().unwrap().push(p.message().map(str::to_owned));
            })
            .build()
            .unwrap();
        for i in 0..50 {
            pool.execute(move || panic!("job {i} failed")).unwrap();
        }
        pool.close();
        let mut seen = seen.lock().unwrap().clone();
        seen.sort();
        let mut expected: Vec<_> = (0..50).map(|i| Some(format!("job {i} failed"))).collect();
        expected.sort();
        assert_eq!(seen, expected);
    });
}

/// Panicking hooks and a panicking panic handler are survived.
#[test]
fn panicking_hooks_and_handler_are_survived() {
    bounded_for(LONG, || {
        let origins = Arc::new(Mutex::new(Vec::new()));
        let o = origins.clone();
        let pool = ThreadPool::builder()
            .num_threads(2)
            .on_thread_start(|i| panic!("start hook {i}"))
            .on_thread_stop(|i| panic!("stop hook {i}"))
            .panic_handler(move |p| {
                o.lock().unwrap().push(p.origin());
                panic!("the handler itself panics");
            })
            .build()
            .unwrap();
        let log = RunLog::new(100);
        for i in 0..100 {
            let log = log.clone();
            pool.execute(move || log.mark(i)).unwrap();
        }
        pool.execute(|| panic!("job")).unwrap();
        pool.close();
        log.assert_all(1);
        let origins = origins.lock().unwrap();
        let count = |o: PanicOrigin| origins.iter().filter(|&&x| x == o).count();
        assert_eq!(count(PanicOrigin::StartHook), 2);
        assert_eq!(count(PanicOrigin::StopHook), 2);
        assert_eq!(count(PanicOrigin::Job), 1);
    });
}

/// A panic while dropping a job's captured value (after the job ran) is caught too.
#[test]
fn panic_in_a_captured_values_drop_is_survived() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("drop bomb");
        }
    }
    bounded_for(LONG, || {
        let pool = ThreadPool::new(1).unwrap();
        let b = Bomb;
        pool.execute(move || {
            let _b = b;
        })
        .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        pool.execute(move || tx.send(1).unwrap()).unwrap();
        assert_eq!(rx.recv_timeout(LONG), Ok(1));
        pool.close();
        assert_eq!(pool.stats().panicked, 1);
    });
}

/// Issue 16 item 7 (core's side): scoped tasks and broadcast calls catch their
/// own panics (re-raised on the caller), and are still counted once each; a
/// scoped task cancelled before it started is not completed; the panic handler
/// gets none of them (each was re-raised to its caller). One worker, so that
/// which thread runs what is fixed.
#[test]
fn scoped_and_broadcast_panics_are_counted_once() {
    bounded_for(LONG, || {
        let handled = Arc::new(AtomicUsize::new(0));
        let h = handled.clone();
        let pool = ThreadPool::builder()
            .num_threads(1)
            .panic_handler(move |_| {
                h.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.broadcast(|_| panic!("broadcast call"))
        }));
        assert!(caught.is_err());
        pool.scope(|s| {
            // Run by `get` inside the scope's body, then found run by its job.
            let failing = s.submit(|_| -> u8 { panic!("scoped submit") });
            assert!(failing.get().is_err());
            // Queued on the only worker, which runs this body: stays queued.
            let never = s.submit(|_| 1);
            assert!(never.cancel());
        });
        pool.close();
        // (Read after `close`: a worker counts a job after the job woke its
        // waiter, so counts read right after a call may lag behind it.)
        let stats = pool.stats();
        // broadcast: 1 call, panicked; scope from outside (1) + 2 scoped
        // tasks, the cancelled one not run, the other panicked.
        assert_eq!(
            (stats.submitted, stats.completed, stats.panicked),
            (4, 3, 2),
            "{stats:?}"
        );
        assert_eq!(handled.load(Ordering::SeqCst), 0);
    });
}
