//! B.10/B.11: drop semantics and memory accounting (D1, D2, D5, M1, M2, M3), the
//! completion hook on every path, panics in drops, and shutdown_now integration
//! (DD1: drained tasks resolve when run or dropped).
#![allow(missing_docs)]

mod common;

use common::*;
use executor_core::ThreadPool;
use executor_futures::{ExecutorService, TaskHandle, TaskState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;

#[test]
fn d1_dropping_the_handle_detaches_and_output_is_dropped_after_completion() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let outputs = DropCounter::new(1);
        let log = RunLog::new(1);
        let (g, o, l) = (gate.clone(), outputs.clone(), log.clone());
        let h = pool
            .submit(move || {
                g.wait();
                l.mark(0);
                o.token(0)
            })
            .unwrap();
        let r = h.task_ref();
        drop(h);
        gate.open();
        r.wait().unwrap();
        assert_eq!(r.state(), TaskState::Completed, "not cancelled by the drop");
        // Dropped by the completing thread before it woke us.
        assert_eq!(log.get(0), 1);
        outputs.assert_all_dropped_once(1);
    });
}

#[test]
fn d2_dropping_a_completed_handle_frees_the_output_at_once() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let outputs = DropCounter::new(1);
        let o = outputs.clone();
        let h = pool.submit(move || o.token(0)).unwrap();
        h.wait().unwrap();
        assert_eq!(outputs.live(), 1);
        let r = h.task_ref(); // a TaskRef does not keep the output alive
        drop(h);
        assert_eq!(outputs.live(), 0);
        outputs.assert_all_dropped_once(1);
        drop(r);
    });
}

/// D5 + DD1: handles outlive their pool; shutdown_now's drained tasks resolve
/// when the returned jobs are run (normally) or dropped (cancelled).
#[test]
fn d5_handles_outlive_the_pool_and_drained_tasks_resolve() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let completed = pool.submit(|| 1).unwrap();
        completed.wait().unwrap();
        let started = Latch::new(1);
        let s = started.clone();
        let running = pool
            .submit(move || {
                s.count_down();
                Gate::new().wait_or_cancelled();
                2
            })
            .unwrap();
        started.wait();
        let queued = pool.submit(|| 3).unwrap();
        let run_later = pool.submit(|| 4).unwrap();
        let mut drained = pool.shutdown_now();
        assert_eq!(drained.len(), 2);
        // Run one by hand (the second drained is `run_later`), drop the other.
        drained.pop().unwrap().run();
        drop(drained);
        drop(pool);
        assert_eq!(completed.get().unwrap(), 1);
        assert!(running.get().is_ok(), "interrupted, returned normally");
        assert!(queued.get().unwrap_err().is_cancelled());
        assert_eq!(run_later.get().unwrap(), 4);
    });
}

#[test]
fn get_never_hangs_on_a_drained_task_dropped_from_another_thread() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let started = Latch::new(1);
        let s = started.clone();
        let blocker = pool
            .submit(move || {
                s.count_down();
                g.wait()
            })
            .unwrap();
        started.wait();
        let queued: Vec<TaskHandle<u32>> =
            (0..5).map(|i| pool.submit(move || i).unwrap()).collect();
        let (tx, rx) = channel();
        let waiters: Vec<_> = queued
            .into_iter()
            .map(|h| {
                let tx = tx.clone();
                std::thread::spawn(move || tx.send(h.get().unwrap_err().is_cancelled()).unwrap())
            })
            .collect();
        let drained = pool.shutdown_now();
        assert_eq!(drained.len(), 5);
        std::thread::spawn(move || drop(drained)).join().unwrap();
        for _ in 0..5 {
            assert!(rx.recv_timeout(LONG).unwrap());
        }
        for w in waiters {
            w.join().unwrap();
        }
        gate.open();
        blocker.get().unwrap();
    });
}

/// M1: 20,000 tasks (closure and output counted), handles got or dropped at random.
#[test]
fn m1_no_closure_or_output_leaks() {
    bounded(|| {
        const N: usize = 20_000;
        let pool = ThreadPool::new(2).unwrap();
        let closures = DropCounter::new(N);
        let outputs = DropCounter::new(N);
        let mut keep = Vec::new();
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for i in 0..N {
            let c = closures.token(i);
            let o = outputs.clone();
            let h = pool
                .submit(move || {
                    let _c = c;
                    o.token(i)
                })
                .unwrap();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if seed % 2 == 0 {
                keep.push(h);
            }
        }
        for h in keep {
            assert!(h.get().is_ok());
        }
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        closures.assert_all_dropped_once(N);
        outputs.assert_all_dropped_once(N);
    });
}

/// M2: closures of cancelled queued tasks are released at cancel time, with the
/// pool still running; the tombstones do nothing when popped.
#[test]
fn m2_cancelled_closures_are_released_promptly() {
    bounded(|| {
        const N: usize = 10_000;
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let blocker = pool.submit(move || g.wait()).unwrap();
        let closures = DropCounter::new(N);
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let c = closures.token_with(i, 1024);
                pool.submit(move || drop(c)).unwrap()
            })
            .collect();
        for h in &handles {
            assert!(h.cancel());
        }
        assert_eq!(
            closures.live(),
            0,
            "released by cancel, before the gate opens"
        );
        gate.open();
        blocker.get().unwrap();
        assert_eq!(pool.submit(|| 1).unwrap().get().unwrap(), 1);
        assert_eq!(closures.live(), 0);
        closures.assert_all_dropped_once(N);
        drop(handles);
    });
}

/// M3: outputs of detached tasks are not retained.
#[test]
fn m3_outputs_of_detached_tasks_are_not_retained() {
    bounded(|| {
        const N: usize = 2_000;
        let pool = ThreadPool::new(2).unwrap();
        let outputs = DropCounter::new(N);
        let peak = Arc::new(AtomicUsize::new(0));
        let refs: Vec<_> = (0..N)
            .map(|i| {
                let (o, p) = (outputs.clone(), peak.clone());
                let h = pool
                    .submit(move || {
                        let t = o.token_with(i, 64 * 1024);
                        p.fetch_max(o.live(), Ordering::SeqCst);
                        t
                    })
                    .unwrap();
                h.task_ref()
            })
            .collect();
        for r in &refs {
            r.wait().unwrap();
        }
        // Dropped promptly by the completing worker (a leak fails this bounded
        // wait). Usually before the task is seen done; a handle dropped in the
        // instant between the runner's interest check and its terminal CAS makes
        // the drop happen just after, so `wait` returning does not order it.
        until(|| outputs.live() == 0, "every unread output to be dropped");
        outputs.assert_all_dropped_once(N);
        let peak = peak.load(Ordering::SeqCst);
        assert!(peak <= 2 + 2, "peak live outputs stays small: {peak}");
    });
}

/// The completion hook runs exactly once on every path: ran, panicked,
/// cancelled before start, cancelled while running, abandoned (drained + dropped).
#[test]
fn hook_runs_exactly_once_on_every_path() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let (tx, rx) = channel::<(usize, TaskState, bool)>();
        let hook = |k: usize| {
            let tx = tx.clone();
            move |h: TaskHandle<u32>| {
                let state = h.state();
                let on_worker = executor_core::current_thread_index().is_some();
                tx.send((k, state, on_worker)).unwrap();
            }
        };
        // 0: ran
        let r0 = pool.submit_with(|| 1, hook(0)).unwrap();
        r0.wait().unwrap();
        // 1: panicked
        let r1 = pool
            .submit_with(|| -> u32 { panic!("x") }, hook(1))
            .unwrap();
        r1.wait().unwrap();
        // 2: cancelled while running; 3: cancelled before start; 4: abandoned
        let started = Latch::new(1);
        let s = started.clone();
        let r2 = pool
            .submit_with(
                move || {
                    s.count_down();
                    Gate::new().wait_or_cancelled();
                    2
                },
                hook(2),
            )
            .unwrap();
        started.wait();
        let r3 = pool.submit_with(|| 3, hook(3)).unwrap();
        let _r4 = pool.submit_with(|| 4, hook(4)).unwrap();
        assert!(r3.cancel());
        assert!(r2.cancel());
        let drained = pool.shutdown_now();
        assert_eq!(drained.len(), 2, "r3's tombstone and r4");
        drop(drained);
        assert!(pool.await_termination(LONG).is_ok());
        drop(tx);
        let mut seen: Vec<(usize, TaskState, bool)> = rx.iter().collect();
        seen.sort_by_key(|e| e.0);
        assert_eq!(
            seen,
            vec![
                (0, TaskState::Completed, true),
                (1, TaskState::Panicked, true),
                (2, TaskState::Cancelled, false), // on the cancelling thread
                (3, TaskState::Cancelled, false),
                (4, TaskState::Cancelled, false), // where the job was dropped
            ]
        );
    });
}

#[test]
fn hook_owns_the_result_and_a_rejected_submission_drops_the_hook_unrun() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let outputs = DropCounter::new(2);
        let o = outputs.clone();
        let (tx, rx) = channel();
        pool.submit_with(move || o.token(0), move |h| tx.send(h).unwrap())
            .unwrap();
        let h = rx.recv_timeout(LONG).unwrap();
        assert!(h.is_done());
        assert_eq!(outputs.live(), 1, "kept for the hook's handle");
        assert_eq!(h.get().unwrap().id(), 0);
        assert_eq!(outputs.live(), 0);
        // Dropping the hook's handle drops the output.
        let o = outputs.clone();
        pool.submit_with(move || o.token(1), drop).unwrap();
        until(
            || outputs.dropped() == 2,
            "output dropped with the hook's handle",
        );
        // Rejected: hook never runs.
        pool.shutdown();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let rejected = pool
            .submit_with(
                || 5,
                move |_h: TaskHandle<i32>| {
                    r.fetch_add(1, Ordering::SeqCst);
                },
            )
            .unwrap_err();
        assert_eq!(rejected.into_inner()(), 5);
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        outputs.assert_all_dropped_once(2);
    });
}

/// A panic in an output's Drop or in a hook never kills the pool or corrupts the
/// task's outcome.
#[test]
fn panics_in_drops_and_hooks_are_contained() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("bomb");
        }
    }
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        // Output dropped by the completing thread (detached).
        let r = pool.submit(|| Bomb).unwrap().task_ref();
        r.wait().unwrap();
        // Output dropped by the handle.
        let h = pool.submit(|| Bomb).unwrap();
        h.wait().unwrap();
        drop(h);
        // A panicking hook.
        let r = pool.submit_with(|| 1, |_h| panic!("hook")).unwrap();
        r.wait().unwrap();
        assert_eq!(r.state(), TaskState::Completed);
        assert_eq!(pool.submit(|| 2).unwrap().get().unwrap(), 2);
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
    });
}

/// P1/P2: panics are captured; the pool keeps both workers.
#[test]
fn p1_p2_panics_are_captured_and_the_pool_keeps_its_capacity() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let before = pool.submit(|| 1).unwrap();
        let panicking: Vec<_> = (0..200)
            .map(|_| pool.submit(|| -> u8 { panic!("boom") }).unwrap())
            .collect();
        let after = pool.submit(|| 2).unwrap();
        for h in panicking {
            let e = h.get().unwrap_err();
            assert!(e.is_panic() && !e.is_cancelled());
            let payload = e.into_panic().unwrap().into_inner();
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
        }
        assert_eq!(before.get().unwrap() + after.get().unwrap(), 3);
        // Two tasks that need each other: proves two live workers.
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let pair: Vec<_> = (0..2)
            .map(|_| {
                let b = barrier.clone();
                pool.submit(move || {
                    b.wait();
                })
                .unwrap()
            })
            .collect();
        for h in pair {
            h.get().unwrap();
        }
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
    });
}
