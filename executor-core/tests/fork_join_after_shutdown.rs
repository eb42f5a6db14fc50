//! Issue 16 item 4: `scope`, `join`, `install` and `broadcast` on a pool that
//! no longer accepts work (after `shutdown`, `shutdown_now`, `close`, the drop
//! of the last handle, or racing one of them). One documented behaviour: the
//! first three run on the calling thread (never a panic, never on another pool
//! such as the global one); `broadcast`, whose signature has an error, returns
//! `Rejected` with the closure. Every closure runs exactly once.

use executor_core::{RejectReason, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, ThreadId};
use testkit::*;

/// The ways a pool stops accepting work, each giving back a pool in that state
/// (and the gate of a still-busy worker, for the one that has not terminated).
fn stopped_pools() -> Vec<(&'static str, ThreadPool, Option<Gate>)> {
    let closed = ThreadPool::new(2).unwrap();
    closed.close();
    let shut_down = ThreadPool::new(2).unwrap();
    shut_down.shutdown();
    assert!(shut_down.await_termination(LONG).is_ok());
    let shutting_down = ThreadPool::new(2).unwrap();
    let busy = block_workers(&shutting_down, 1);
    shutting_down.shutdown();
    let stopped = ThreadPool::new(2).unwrap();
    assert!(stopped.shutdown_now().is_empty());
    assert!(stopped.await_termination(LONG).is_ok());
    let weak_owner = ThreadPool::new(2).unwrap();
    let dropped = weak_owner.clone();
    drop(weak_owner);
    dropped.close();
    vec![
        ("after close", closed, None),
        ("after shutdown finished", shut_down, None),
        ("during shutdown, a worker busy", shutting_down, Some(busy)),
        ("after shutdown_now", stopped, None),
        ("after the last other handle closed it", dropped, None),
    ]
}

/// `install`, `join` and `scope` on `pool` (no longer accepting) run every
/// closure once, on the calling thread, and return their results.
fn check_runs_on_caller(what: &str, pool: &ThreadPool) {
    let me = thread::current().id();
    let here = || (thread::current().id(), pool.current_thread_index());

    let (id, index) = pool.install(here);
    assert_eq!((id, index), (me, None), "{what}: install ran elsewhere");

    let ((ida, ia), (idb, ib)) = pool.join(here, here);
    assert_eq!(
        (ida, ia, idb, ib),
        (me, None, me, None),
        "{what}: join ran elsewhere (the global pool?)"
    );

    let data: Vec<u64> = (1..=100).collect();
    let ran = AtomicUsize::new(0);
    let mut sums = [0u64; 4];
    let threads = std::sync::Mutex::new(Vec::<ThreadId>::new());
    let from_handle = pool.scope(|s| {
        threads.lock().unwrap().push(thread::current().id());
        for (chunk, sum) in data.chunks(25).zip(sums.iter_mut()) {
            let (ran, threads) = (&ran, &threads);
            s.spawn(move |s| {
                threads.lock().unwrap().push(thread::current().id());
                *sum = chunk.iter().sum();
                ran.fetch_add(1, Ordering::SeqCst);
                // A task spawning more from inside the scope.
                s.spawn(move |_| {
                    ran.fetch_add(1, Ordering::SeqCst);
                });
            });
        }
        let h = s.submit(|_| 7);
        h.get().unwrap()
    });
    assert_eq!(from_handle, 7, "{what}");
    assert_eq!(sums.iter().sum::<u64>(), 5050, "{what}");
    assert_eq!(ran.load(Ordering::SeqCst), 8, "{what}: every task once");
    assert!(
        threads.lock().unwrap().iter().all(|&t| t == me),
        "{what}: scope work ran elsewhere"
    );

    // A panic of a task still comes back to the scope's caller.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.scope(|s| s.spawn(|_| panic!("task panic")))
    }));
    assert!(caught.is_err(), "{what}: the task's panic was lost");
}

#[test]
fn install_join_and_scope_run_on_the_caller_once_the_pool_stopped_accepting() {
    bounded_for(LONG, || {
        for (what, pool, busy) in stopped_pools() {
            check_runs_on_caller(what, &pool);
            if let Some(busy) = busy {
                busy.open();
            }
            assert!(pool.await_termination(LONG).is_ok(), "{what}");
        }
    });
}

/// The same from a worker of another pool: the closures run on that thread,
/// not on the other pool's queues.
#[test]
fn on_another_pools_worker_they_run_on_that_worker_thread() {
    bounded_for(LONG, || {
        let other = ThreadPool::new(2).unwrap();
        for (what, pool, busy) in stopped_pools() {
            let (tx, rx) = std::sync::mpsc::channel();
            other
                .execute(move || {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        check_runs_on_caller(what, &pool)
                    }));
                    if let Some(busy) = busy {
                        busy.open();
                    }
                    tx.send(r.map_err(|p| {
                        executor_core::integration::payload_message(&*p)
                            .unwrap_or("?")
                            .to_owned()
                    }))
                    .unwrap();
                })
                .unwrap();
            rx.recv_timeout(LONG).unwrap().unwrap();
        }
        other.close();
    });
}

/// `broadcast` says no, with the closure given back, and the reason.
#[test]
fn broadcast_is_rejected_with_its_closure_once_the_pool_stopped_accepting() {
    bounded_for(LONG, || {
        for (what, pool, busy) in stopped_pools() {
            let calls = AtomicUsize::new(0);
            let err = pool
                .broadcast(|_| calls.fetch_add(1, Ordering::SeqCst))
                .unwrap_err();
            let expected = if what == "after shutdown_now" {
                RejectReason::Stopped
            } else {
                RejectReason::Shutdown
            };
            assert_eq!(err.reason(), expected, "{what}");
            let _op = err.into_inner(); // the closure, given back unrun
            assert_eq!(calls.load(Ordering::SeqCst), 0, "{what}");
            if let Some(busy) = busy {
                busy.open();
            }
        }
    });
}

/// Racing another thread's `shutdown_now`: every call returns (no panic), and
/// every closure ran exactly once, wherever it ran.
#[test]
fn scope_join_install_and_broadcast_racing_shutdown_now_never_panic() {
    bounded_for(LONG * 3, || {
        for round in 0..200 {
            let pool = ThreadPool::new(2).unwrap();
            let start = Arc::new(Barrier::new(2));
            let stopper = {
                let (pool, start) = (pool.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    if round % 2 == 0 {
                        thread::yield_now();
                    }
                    drop(pool.shutdown_now());
                })
            };
            start.wait();
            let ran = AtomicUsize::new(0);
            let tick = || {
                ran.fetch_add(1, Ordering::SeqCst);
            };
            let mut expected = 0;
            for _ in 0..20 {
                pool.scope(|s| {
                    s.spawn(|_| tick());
                    s.spawn(|_| tick());
                    tick();
                });
                pool.join(tick, tick);
                pool.install(tick);
                expected += 6;
                if let Ok(calls) = pool.broadcast(|_| tick()) {
                    expected += calls.len();
                }
            }
            stopper.join().unwrap();
            assert!(pool.await_termination(LONG).is_ok());
            assert_eq!(ran.load(Ordering::SeqCst), expected, "round {round}");
        }
    });
}
