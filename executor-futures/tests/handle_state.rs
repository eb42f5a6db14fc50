//! B.3: the handle / future state machine (S1, S6, F1–F4, F6–F10, F12–F14, F16).
#![allow(missing_docs)]

mod common;

use common::*;
use executor_core::ThreadPool;
use executor_futures::{
    ExecutorService, Failure, GetTimeoutError, TaskError, TaskState, WaitTimeoutError,
};
use std::future::Future as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

#[test]
fn s1_submit_returns_value_and_runs_once() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let h = pool
            .submit(move || {
                r.fetch_add(1, Ordering::SeqCst);
                42
            })
            .unwrap();
        h.wait().unwrap();
        assert!(h.is_done());
        assert_eq!(h.state(), TaskState::Completed);
        assert_eq!(h.get().unwrap(), 42);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn s6_happens_before_submit_task_get() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        for _ in 0..2_000 {
            let data: Vec<u32> = (0..1000).collect();
            let flag = Arc::new(AtomicUsize::new(1));
            let f = flag.clone();
            let h = pool
                .submit(move || {
                    let ok =
                        data.len() == 1000 && data[999] == 999 && f.load(Ordering::Relaxed) == 1;
                    f.store(2, Ordering::Relaxed);
                    ok
                })
                .unwrap();
            assert!(h.get().unwrap(), "task saw stale data");
            assert_eq!(flag.load(Ordering::Relaxed), 2);
        }
    });
}

#[test]
fn f1_is_done_is_monotonic() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let mut h = pool.submit(move || g.wait()).unwrap();
        assert!(!h.is_done());
        assert!(!h.is_cancelled());
        gate.open();
        h.get_timeout(LONG).unwrap();
        for _ in 0..1000 {
            assert!(h.is_done());
            assert!(!h.is_cancelled());
        }
    });
}

#[test]
fn f2_get_on_another_thread_receives_value() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let h = pool
            .submit(move || {
                g.wait();
                "v"
            })
            .unwrap();
        let t = std::thread::spawn(move || h.get());
        gate.open();
        assert_eq!(t.join().unwrap().unwrap(), "v");
    });
}

#[test]
fn f3_timed_get_on_completed_task_returns_at_once() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let mut h = pool.submit(|| 3).unwrap();
        h.wait().unwrap();
        let t = Instant::now();
        assert_eq!(h.get_timeout(LONG).unwrap(), 3);
        assert!(t.elapsed() < LONG / 2);
    });
}

#[test]
fn f4_timed_get_times_out_and_task_is_unaffected() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let mut h = pool
            .submit(move || {
                g.wait();
                r.fetch_add(1, Ordering::SeqCst);
                11
            })
            .unwrap();
        let t = Instant::now();
        let err = h.get_timeout(TIMEOUT).unwrap_err();
        assert!(err.is_timed_out(), "{err:?}");
        assert!(t.elapsed() >= TIMEOUT);
        assert!(!h.is_done());
        // try_get and wait_timeout do not disturb it either.
        assert!(h.try_get().is_none());
        assert_eq!(h.wait_timeout(TIMEOUT), Err(WaitTimeoutError::TimedOut));
        gate.open();
        assert_eq!(h.get().unwrap(), 11);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn f6_cancel_before_run_never_runs_and_drops_closure() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let blocker = pool.submit(move || g.wait()).unwrap();
        let drops = DropCounter::new(1);
        let token = drops.token(0);
        let log = RunLog::new(1);
        let l = log.clone();
        let x = pool
            .submit(move || {
                let _t = token;
                l.mark(0);
            })
            .unwrap();
        assert!(x.cancel());
        // Dropped by the canceller, at once.
        assert_eq!(drops.dropped(), 1);
        assert!(x.is_cancelled() && x.is_done());
        assert_eq!(x.state(), TaskState::Cancelled);
        let mut x = x;
        assert!(x.get_timeout(LONG).unwrap_err().is_cancelled());
        gate.open();
        blocker.get().unwrap();
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(log.get(0), 0);
        drops.assert_all_dropped_once(1);
    });
}

#[test]
fn f7_cancel_after_completion_fails_and_keeps_result() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let h = pool.submit(|| 5).unwrap();
        h.wait().unwrap();
        assert!(!h.cancel());
        assert!(!h.cancel());
        assert!(!h.is_cancelled());
        assert_eq!(h.get().unwrap(), 5);
    });
}

#[test]
fn f8_only_the_first_cancel_wins() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let blocker = pool.submit(move || g.wait()).unwrap();
        let h = pool.submit(|| 1).unwrap();
        assert!(h.cancel());
        for _ in 0..3 {
            assert!(!h.cancel());
            assert!(!h.task_ref().cancel());
        }
        assert!(h.is_cancelled());
        gate.open();
        blocker.get().unwrap();
        assert!(h.get().unwrap_err().is_cancelled());
    });
}

#[test]
fn f9_cancel_running_task_discards_output_after_body_finishes() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let started = Latch::new(1);
        let gate = Gate::new();
        let drops = DropCounter::new(1);
        let (s, g, d) = (started.clone(), gate.clone(), drops.clone());
        let saw_cancel = Arc::new(AtomicUsize::new(9));
        let saw = saw_cancel.clone();
        let h = pool
            .submit(move || {
                s.count_down();
                g.wait();
                saw.store(executor_futures::is_cancelled() as usize, Ordering::SeqCst);
                d.token(0)
            })
            .unwrap();
        started.wait();
        assert!(h.cancel());
        assert!(
            h.is_done() && h.is_cancelled(),
            "done at once, before the body ends"
        );
        let r = h.task_ref();
        assert!(h.get().unwrap_err().is_cancelled());
        assert_eq!(drops.created(), 0, "body still blocked");
        gate.open();
        r.wait().unwrap();
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        // Our cancel raised the task's own flag (there is no "cancel(false)").
        assert_eq!(saw_cancel.load(Ordering::SeqCst), 1);
        drops.assert_all_dropped_once(1);
    });
}

#[test]
fn f10_cancel_raises_the_flag_of_a_running_task() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let started = Latch::new(1);
        let s = started.clone();
        let h = pool
            .submit(move || {
                s.count_down();
                let gate = Gate::new(); // never opened
                gate.wait_or_cancelled()
            })
            .unwrap();
        started.wait();
        assert!(h.cancel());
        assert!(h.get().unwrap_err().is_cancelled());
        pool.shutdown();
        assert!(
            pool.await_termination(LONG).is_ok(),
            "the loop saw the flag and exited"
        );
    });
}

#[test]
fn f12_terminal_state_cannot_change() {
    bounded(|| {
        #[derive(Debug, PartialEq)]
        struct MyError {
            id: u32,
        }
        let pool = ThreadPool::new(1).unwrap();
        let ok = pool.submit(|| Ok::<u32, MyError>(7)).unwrap();
        let failed = pool.submit(|| Err::<u32, _>(MyError { id: 9 })).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let blocker = pool.submit(move || g.wait()).unwrap();
        let cancelled = pool.submit(|| Ok::<u32, MyError>(1)).unwrap();
        assert!(cancelled.cancel());
        gate.open();
        blocker.get().unwrap();
        ok.wait().unwrap();
        failed.wait().unwrap();
        for h in [&ok, &failed, &cancelled] {
            for _ in 0..3 {
                assert!(!h.cancel());
            }
        }
        assert_eq!(ok.state(), TaskState::Completed);
        assert_eq!(failed.state(), TaskState::Completed);
        assert_eq!(cancelled.state(), TaskState::Cancelled);
        assert_eq!(ok.get().unwrap(), Ok(7));
        assert_eq!(failed.get().unwrap(), Err(MyError { id: 9 }));
        assert!(cancelled.get().unwrap_err().is_cancelled());
    });
}

#[test]
fn f13_callable_error_passes_through_unchanged() {
    bounded(|| {
        #[derive(Debug, PartialEq)]
        struct MyError {
            id: u32,
        }
        let pool = ThreadPool::new(1).unwrap();
        let h = pool.submit(|| Err::<(), _>(MyError { id: 9 })).unwrap();
        h.wait().unwrap();
        assert!(h.is_done() && !h.is_cancelled());
        assert_eq!(h.get().unwrap(), Err(MyError { id: 9 }));
        let mut h = pool.submit(|| Err::<(), _>(MyError { id: 9 })).unwrap();
        assert_eq!(h.get_timeout(LONG).unwrap(), Err(MyError { id: 9 }));
        let h = pool.submit(|| Err::<(), _>(MyError { id: 9 })).unwrap();
        match h.get_flat() {
            Err(Failure::Failed(e)) => assert_eq!(e, MyError { id: 9 }),
            other => panic!("{other:?}"),
        }
    });
}

/// F14: several waiters (wait, wait_timeout, TaskRef::wait) all wake with the same
/// outcome, on completion (a) and on cancel (b).
#[test]
fn f14_all_waiters_wake_on_completion_and_on_cancel() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        const WAITERS: usize = 8;
        for iter in 0..150 {
            let cancel = iter % 2 == 1;
            let gate = Gate::new();
            let g = gate.clone();
            let h = pool.submit(move || g.wait_or_cancelled()).unwrap();
            let ready = Arc::new(Barrier::new(WAITERS + 1));
            let outcomes: Vec<_> = (0..WAITERS)
                .map(|i| {
                    let r = h.task_ref();
                    let ready = ready.clone();
                    std::thread::spawn(move || {
                        ready.wait();
                        let done = if i % 2 == 0 {
                            r.wait().is_ok()
                        } else {
                            r.wait_timeout(LONG).is_ok()
                        };
                        (done, r.state())
                    })
                })
                .collect();
            ready.wait();
            if cancel {
                assert!(h.cancel());
            } else {
                gate.open();
            }
            for t in outcomes {
                let (done, state) = t.join().unwrap();
                assert!(done);
                let expected = if cancel {
                    TaskState::Cancelled
                } else {
                    TaskState::Completed
                };
                assert_eq!(state, expected);
            }
            gate.open();
            let result = h.get();
            assert_eq!(result.is_err(), cancel);
        }
    });
}

#[test]
fn f14_several_threads_wait_on_one_handle_by_reference() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let h = pool
            .submit(move || {
                g.wait();
                1
            })
            .unwrap();
        let ready = Barrier::new(5);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    ready.wait();
                    h.wait().unwrap();
                    assert!(h.is_done());
                });
            }
            ready.wait();
            gate.open();
        });
        assert_eq!(h.get().unwrap(), 1);
    });
}

/// F16: a completion racing the deadline: the value is never lost.
#[test]
fn f16_completion_racing_the_deadline_never_loses_the_value() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        for i in 0..300u64 {
            let spin = (i % 7) * 300;
            let mut h = pool
                .submit(move || {
                    let t = Instant::now();
                    while t.elapsed().as_micros() < spin as u128 {
                        std::hint::spin_loop();
                    }
                    i
                })
                .unwrap();
            let start = Instant::now();
            let v = match h.get_timeout(std::time::Duration::from_micros(600)) {
                Ok(v) => v,
                Err(GetTimeoutError::TimedOut) => {
                    assert!(start.elapsed() >= std::time::Duration::from_micros(600));
                    h.get().unwrap()
                }
                Err(e) => panic!("{e}"),
            };
            assert_eq!(v, i);
        }
    });
}

#[test]
fn ids_states_and_debug() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let running = pool.submit(move || g.wait()).unwrap();
        let pending = pool.submit(|| ()).unwrap();
        assert_eq!(pending.state(), TaskState::Pending);
        until(|| running.state() == TaskState::Running, "running");
        assert_ne!(running.id(), pending.id());
        assert_eq!(running.task_ref(), running.task_ref());
        assert!(format!("{running:?}").contains("Running"));
        assert!(format!("{:?}", pending.task_ref()).contains("Pending"));
        gate.open();
        running.get().unwrap();
        pending.get().unwrap();
    });
}

/// Issue 16, item 9: reading a handle again after its result was taken is a
/// legal call sequence; it reports `AlreadyTaken` instead of panicking, and the
/// value is handed out (and dropped) exactly once.
#[test]
fn second_read_reports_already_taken() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let drops = DropCounter::new(3);

        // try_get, then try_get, get_timeout, poll and get again.
        let d = drops.clone();
        let mut h = pool.submit(move || d.token(0)).unwrap();
        h.wait().unwrap();
        assert_eq!(h.try_get().unwrap().unwrap().id(), 0);
        assert!(drops.is_dropped(0));
        assert!(h.try_get().unwrap().unwrap_err().is_already_taken());
        let err = h.get_timeout(LONG).unwrap_err();
        assert!(err.is_already_taken(), "{err:?}");
        assert!(!err.is_timed_out());
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        match std::pin::Pin::new(&mut h).poll(&mut cx) {
            std::task::Poll::Ready(Err(e)) => assert!(e.is_already_taken()),
            other => panic!("expected Ready(Err(AlreadyTaken)), got {other:?}"),
        }
        let err = h.get().unwrap_err();
        assert!(matches!(err, TaskError::AlreadyTaken));
        assert_eq!(err.to_string(), "the task's result was already taken");

        // get_timeout, then get_timeout again.
        let d = drops.clone();
        let mut h = pool.submit(move || d.token(1)).unwrap();
        assert_eq!(h.get_timeout(LONG).unwrap().id(), 1);
        assert!(h.get_timeout(LONG).unwrap_err().is_already_taken());

        // .await, then try_get.
        let d = drops.clone();
        let mut h = pool.submit(move || d.token(2)).unwrap();
        assert_eq!(futures::executor::block_on(&mut h).unwrap().id(), 2);
        assert!(h.try_get().unwrap().unwrap_err().is_already_taken());
        drop(h);

        drops.assert_all_dropped_once(3);
    });
}

#[test]
fn would_deadlock_for_a_task_waiting_on_itself() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<executor_futures::TaskRef>();
        let h = pool
            .submit(move || {
                let me = rx.recv().unwrap();
                (me.wait(), me.wait_timeout(LONG), me.is_done())
            })
            .unwrap();
        tx.send(h.task_ref()).unwrap();
        let (w, wt, done) = h.get().unwrap();
        assert_eq!(w, Err(executor_futures::WouldDeadlock));
        assert_eq!(
            wt,
            Err(WaitTimeoutError::WouldDeadlock(
                executor_futures::WouldDeadlock
            ))
        );
        assert!(!done);
        assert!(TaskError::from(executor_futures::WouldDeadlock).is_would_deadlock());
    });
}

#[test]
fn get_on_own_handle_is_would_deadlock() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<executor_futures::TaskHandle<u32>>();
        let (res_tx, res_rx) = std::sync::mpsc::channel();
        let h = pool
            .submit(move || {
                let me = rx.recv().unwrap();
                res_tx
                    .send(me.get().unwrap_err().is_would_deadlock())
                    .unwrap();
                5u32
            })
            .unwrap();
        let r = h.task_ref();
        tx.send(h).unwrap();
        assert!(res_rx.recv_timeout(LONG).unwrap());
        r.wait().unwrap();
        assert_eq!(r.state(), TaskState::Completed);
    });
}

/// `TaskRef::try_run`: only a task that has not started is claimed, once; it
/// runs here as the current task, a panic lands in its result, and the pool's
/// queued job is left a tombstone.
#[test]
fn try_run_claims_only_an_unstarted_callable_and_only_once() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let blocker = pool.submit(move || g.wait()).unwrap();
        until(
            || blocker.state() == TaskState::Running,
            "the worker to be held",
        );
        // A running task is not claimed (and a task cannot claim itself).
        assert!(!blocker.task_ref().try_run());

        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let here = pool
            .submit(move || {
                r.fetch_add(1, Ordering::SeqCst);
                let me = executor_futures::current_task().expect("runs as the current task");
                assert!(!me.try_run(), "a running task is never claimed again");
                me.id()
            })
            .unwrap();
        assert_eq!(here.state(), TaskState::Pending);
        assert!(here.task_ref().try_run());
        assert!(!here.task_ref().try_run());
        let id = here.id();
        assert_eq!(here.get().unwrap(), id);

        let boom = pool.submit(|| -> u8 { panic!("boom here") }).unwrap();
        assert!(
            boom.task_ref().try_run(),
            "a panic is the task's, not the caller's"
        );
        assert!(boom.get().unwrap_err().is_panic());

        let drops = DropCounter::new(1);
        let token = drops.token(0);
        let cancelled = pool.submit(move || drop(token)).unwrap();
        assert!(cancelled.cancel());
        assert!(!cancelled.task_ref().try_run());
        drops.assert_all_dropped_once(1);

        let future = pool.spawn(async { 5 }).unwrap();
        assert!(
            !future.task_ref().try_run(),
            "a future is only polled by its executor"
        );

        gate.open();
        assert_eq!(future.get().unwrap(), 5);
        blocker.get().unwrap();
        pool.close();
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the worker found a tombstone"
        );
    });
}
