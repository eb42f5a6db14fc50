//! Issue 20, items 1 and 2: continuations (`then`, `and_then`, `on_complete`)
//! and joins (`all_of`, `any_of`, `submit_after`), with their bad input.
#![allow(missing_docs)]

mod common;

use common::*;
use executor_core::ThreadPool;
use executor_futures::{
    all_of, all_of_or_cancel, any_of, is_cancelled, ExecutorService, RejectReason, TaskError,
    TaskHandle, TaskRef, TaskState,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};

/// A task on `pool` that returns `value` once the returned gate opens.
fn gated<T: Send + 'static>(pool: &ThreadPool, value: T) -> (Gate, TaskHandle<T>) {
    let gate = Gate::new();
    let g = gate.clone();
    let handle = pool
        .submit(move || {
            g.wait();
            value
        })
        .unwrap();
    (gate, handle)
}

#[test]
fn then_maps_and_propagates_errors_as_values() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let h = pool.submit(|| 20).unwrap().then(|x| x + 1).then(|x| x * 2);
        assert_eq!(h.get().unwrap(), 42);
        let p = pool
            .submit(|| -> u32 { panic!("up") })
            .unwrap()
            .then(|x| x + 1)
            .then(|x| x + 1);
        assert_eq!(p.get().unwrap_err().message(), Some("up"));
        // Cancelling upstream resolves downstream as cancelled, f never runs.
        let gate = block_all_workers(&pool);
        let queued = pool.submit(|| 1).unwrap();
        let up = queued.task_ref();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let down = queued.then(move |x| {
            r.fetch_add(1, Ordering::SeqCst);
            x
        });
        assert!(up.cancel());
        assert!(down.get().unwrap_err().is_cancelled());
        gate.open();
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    });
}

/// A user reading `pool.stats()` after a pipeline of continuations sees each
/// task counted once, whether a continuation was queued or run next on the
/// worker that finished its upstream (before, a `then` chain of 1,000 links
/// on 2 workers counted 1 submitted and 1 completed task).
#[test]
fn stats_count_every_continuation_once_wherever_it_ran() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let mut h = pool.submit(|| 0u64).unwrap();
        for _ in 0..1000 {
            h = h.then(|x| x + 1);
        }
        assert_eq!(h.get().unwrap(), 1000);
        let a = pool.submit(|| 20).unwrap();
        let b = pool.submit(|| 22).unwrap();
        let sum = pool.submit_after(vec![a, b], |v| v[0] + v[1]);
        assert_eq!(sum.get().unwrap(), 42);
        let boom = pool
            .submit(|| 1)
            .unwrap()
            .then(|_: i32| -> i32 { panic!("in a continuation") });
        assert!(boom.get().unwrap_err().is_panic());
        pool.shutdown();
        pool.await_termination(std::time::Duration::from_secs(30))
            .unwrap();
        let s = pool.stats();
        // 1 + 1000 (the chain), 2 + 1 (the join), 1 + 1 (the panicking link).
        assert_eq!(s.submitted, 1006, "{s:?}");
        assert_eq!(s.completed, 1006, "{s:?}");
        assert_eq!(s.panicked, 1, "{s:?}");
    });
}

#[test]
fn cancelling_downstream_leaves_upstream_running() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let (gate, up) = gated(&pool, 5);
        let up_ref = up.task_ref();
        let down = up.then(|x| x + 1);
        assert!(down.cancel());
        gate.open();
        up_ref.wait().unwrap();
        assert_eq!(up_ref.state(), TaskState::Completed);
        assert!(down.get().unwrap_err().is_cancelled());
    });
}

#[test]
fn and_then_flattens_a_returned_handle() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let p = pool.clone();
        let h = pool
            .submit(|| 6)
            .unwrap()
            .and_then(move |x| p.submit(move || x * 7).unwrap());
        assert_eq!(h.get().unwrap(), 42);
        // The inner task's panic comes through.
        let p = pool.clone();
        let h = pool
            .submit(|| 1)
            .unwrap()
            .and_then(move |_| p.submit(|| -> u8 { panic!("inner") }).unwrap());
        assert_eq!(h.get().unwrap_err().message(), Some("inner"));
        // f panicking.
        let h: TaskHandle<u8> = pool.submit(|| 1).unwrap().and_then(|_| panic!("f"));
        assert_eq!(h.get().unwrap_err().message(), Some("f"));
        // An async inner task.
        let p = pool.clone();
        let h = pool
            .submit(|| 2)
            .unwrap()
            .and_then(move |x| p.spawn(async move { x + 1 }).unwrap());
        assert_eq!(h.get().unwrap(), 3);
    });
}

#[test]
fn on_complete_runs_every_callback_once_also_on_cancel_and_panic() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = |tag: &'static str| {
            let seen = seen.clone();
            move |t: TaskRef| seen.lock().unwrap().push((tag, t.state()))
        };
        let ok = pool.submit(|| 1).unwrap();
        ok.on_complete(record("ok1"));
        ok.on_complete(record("ok2"));
        ok.wait().unwrap();
        let panics = pool.submit(|| -> u8 { panic!("x") }).unwrap();
        panics.on_complete(record("panic"));
        let gate = block_all_workers(&pool);
        let cancelled = pool.submit(|| 1).unwrap();
        cancelled.on_complete(record("cancel"));
        assert!(cancelled.cancel());
        gate.open();
        panics.wait().unwrap();
        // Done already: runs at once, on this thread.
        let me = std::thread::current().id();
        let here = Arc::new(Mutex::new(None));
        let h2 = here.clone();
        ok.on_complete(move |_| *h2.lock().unwrap() = Some(std::thread::current().id()));
        assert_eq!(*here.lock().unwrap(), Some(me));
        until(|| seen.lock().unwrap().len() == 4, "all callbacks");
        let mut got = seen.lock().unwrap().clone();
        got.sort_by_key(|(tag, _)| *tag);
        assert_eq!(
            got,
            [
                ("cancel", TaskState::Cancelled),
                ("ok1", TaskState::Completed),
                ("ok2", TaskState::Completed),
                ("panic", TaskState::Panicked),
            ]
        );
        assert_eq!(ok.get().unwrap(), 1, "callbacks leave the result alone");
    });
}

#[test]
fn a_panicking_callback_is_contained_and_the_others_still_run() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let gate = block_all_workers(&pool);
        let h = pool.submit(|| 3).unwrap();
        let c = count.clone();
        h.on_complete(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        h.on_complete(|_| panic!("callback fails"));
        let c = count.clone();
        h.on_complete(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        gate.open();
        assert_eq!(h.get().unwrap(), 3);
        until(|| count.load(Ordering::SeqCst) == 2, "the other callbacks");
        // The worker survived.
        assert_eq!(pool.submit(|| 4).unwrap().get().unwrap(), 4);
    });
}

/// Exactly once under races: completion vs cancel vs registration, 100,000 rounds.
#[test]
fn every_continuation_and_callback_fires_exactly_once_under_races() {
    bounded(|| {
        const ROUNDS: usize = 100_000;
        let pool = ThreadPool::new(2).unwrap();
        let callbacks = RunLog::new(ROUNDS);
        let bodies = RunLog::new(ROUNDS);
        let continued = RunLog::new(ROUNDS);
        let (cancel_tx, cancel_rx) = channel::<Option<TaskRef>>();
        let canceller = std::thread::spawn(move || {
            let mut wins = 0usize;
            while let Ok(Some(task)) = cancel_rx.recv() {
                wins += usize::from(task.cancel());
            }
            wins
        });
        let mut downstream = Vec::with_capacity(ROUNDS);
        for i in 0..ROUNDS {
            let b = bodies.clone();
            let h = pool.submit(move || b.mark(i)).unwrap();
            cancel_tx.send(Some(h.task_ref())).unwrap();
            let c = callbacks.clone();
            h.on_complete(move |_| c.mark(i));
            let k = continued.clone();
            downstream.push(h.then(move |()| k.mark(i)));
        }
        cancel_tx.send(None).unwrap();
        let cancels = canceller.join().unwrap();
        let mut ok = 0;
        for (i, d) in downstream.into_iter().enumerate() {
            match d.get() {
                Ok(()) => {
                    ok += 1;
                    assert_eq!(bodies.get(i), 1);
                    assert_eq!(continued.get(i), 1);
                }
                Err(e) => {
                    assert!(e.is_cancelled(), "{e}");
                    assert_eq!(
                        continued.get(i),
                        0,
                        "round {i}: f ran for a cancelled upstream"
                    );
                }
            }
        }
        until(
            || callbacks.counts().iter().all(|&c| c == 1),
            "every callback",
        );
        callbacks.assert_all(1);
        assert!(bodies.counts().iter().all(|&c| c <= 1));
        assert!(ok + cancels >= ROUNDS, "ok {ok} + cancelled {cancels}");
        println!("{ok} completed, {cancels} cancelled");
    });
}

/// A chain of 1,000,000 continuations, fired on the pool and, from its head,
/// inline on a thread with a small stack: no stack growth either way.
#[test]
fn chain_of_a_million_then_links_does_not_grow_the_stack() {
    bounded(|| {
        const LINKS: u64 = 1_000_000;
        let pool = ThreadPool::new(2).unwrap();
        // On the pool: the head completes on a worker.
        let (gate, mut h) = gated(&pool, 0u64);
        for _ in 0..LINKS {
            h = h.then(|x| x + 1);
        }
        gate.open();
        assert_eq!(h.get().unwrap(), LINKS);

        // Off the pool, from a thread with a 256 KiB stack: the head is run
        // inline (`try_run`), so every link fires synchronously on it; or the
        // head is cancelled, and the cancellation cascades. Both through the
        // trampoline.
        let blocker = block_all_workers(&pool);
        let end_on_small_stack = |end: fn(TaskRef) -> bool| {
            let head = pool.submit(|| 0u64).unwrap();
            let head_ref = head.task_ref();
            let mut h = head;
            for _ in 0..LINKS {
                h = h.then(|x| x + 1);
            }
            let runner = std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || end(head_ref))
                .unwrap();
            assert!(runner.join().unwrap());
            assert!(h.is_done(), "all resolved on the small stack");
            h.get()
        };
        assert_eq!(end_on_small_stack(|head| head.try_run()).unwrap(), LINKS);
        assert!(end_on_small_stack(|head| head.cancel())
            .unwrap_err()
            .is_cancelled());
        blocker.open();
    });
}

#[test]
fn a_continuation_after_shutdown_is_rejected_in_its_handle() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let (gate, up) = gated(&pool, 1);
        let down = up.then(|x| x + 1);
        pool.shutdown();
        gate.open();
        match down.get() {
            Err(TaskError::Rejected(RejectReason::Shutdown)) => {}
            other => panic!("{other:?}"),
        }
        // submit_after on a shut-down pool: rejected, reported, never lost.
        let after = pool.submit_after(Vec::<TaskRef>::new(), |_| 1);
        assert!(after.get().unwrap_err().is_rejected());
    });
}

#[test]
fn a_dependency_already_taken_is_an_error_not_a_panic() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let mut h = pool.submit(|| 1).unwrap();
        h.wait().unwrap();
        assert_eq!(h.try_get().unwrap().unwrap(), 1);
        assert!(h.then(|x| x + 1).get().unwrap_err().is_already_taken());
        let mut h = pool.submit(|| 1).unwrap();
        h.wait().unwrap();
        h.try_get().unwrap().unwrap();
        let err = pool.submit_after(vec![h], |v| v.len()).get().unwrap_err();
        assert!(err.is_already_taken());
    });
}

#[test]
fn dependencies_on_another_pools_tasks_work() {
    bounded(|| {
        let a = ThreadPool::new(1).unwrap();
        let b = ThreadPool::new(1).unwrap();
        let x = a.submit(|| 2).unwrap();
        let y = b.submit(|| 3).unwrap();
        let sum = a.submit_after(vec![x, y], |v| v.iter().sum::<i32>());
        assert_eq!(sum.get().unwrap(), 5);
        let on_b = b.submit(|| 1).unwrap().then(|x| x + 1);
        assert_eq!(on_b.get().unwrap(), 2);
    });
}

#[test]
fn all_of_any_of_and_submit_after() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let hs: Vec<_> = (0..100).map(|i| pool.submit(move || i).unwrap()).collect();
        assert_eq!(all_of(hs).get().unwrap(), (0..100).collect::<Vec<_>>());
        // Empty inputs.
        assert!(all_of(Vec::<TaskHandle<u8>>::new())
            .get()
            .unwrap()
            .is_empty());
        assert!(any_of(Vec::<TaskHandle<u8>>::new())
            .get()
            .unwrap_err()
            .is_cancelled());
        assert_eq!(
            pool.submit_after(Vec::<TaskRef>::new(), |v| v.len())
                .get()
                .unwrap(),
            0
        );
        // Fail fast: resolved while another dependency still blocks.
        let (gate, slow) = gated(&pool, ());
        let slow_ref = slow.task_ref();
        let bad = pool.submit(|| panic!("bad")).unwrap();
        let all = all_of(vec![slow, bad]);
        assert_eq!(all.get().unwrap_err().message(), Some("bad"));
        assert!(!slow_ref.is_done(), "fail fast, and the rest keeps running");
        gate.open();
        slow_ref.wait().unwrap();
        // all_of_or_cancel cancels the rest.
        let spin = pool
            .submit(|| {
                while !is_cancelled() {
                    std::thread::yield_now();
                }
            })
            .unwrap();
        let spin_ref = spin.task_ref();
        let bad = pool.submit(|| panic!("bad")).unwrap();
        assert!(all_of_or_cancel(vec![spin, bad]).get().is_err());
        spin_ref.wait().unwrap();
        assert!(spin_ref.is_cancelled());
        // any_of: first success; all failed: the first failure in input order.
        let a = pool.submit(|| -> u8 { panic!("a") }).unwrap();
        let b = pool.submit(|| 7u8).unwrap();
        assert_eq!(any_of(vec![a, b]).get().unwrap(), 7);
        let a = pool.submit(|| -> u8 { panic!("a") }).unwrap();
        let b = pool.submit(|| -> u8 { panic!("b") }).unwrap();
        assert_eq!(any_of(vec![a, b]).get().unwrap_err().message(), Some("a"));
        // submit_after on references: order, and a failure reported by id.
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        let first = pool
            .submit(move || l.lock().unwrap().push("first"))
            .unwrap();
        let l = log.clone();
        let second = pool.submit_after([first.task_ref()], move |_| {
            l.lock().unwrap().push("second")
        });
        second.get().unwrap();
        assert_eq!(*log.lock().unwrap(), ["first", "second"]);
        let bad = pool.submit(|| panic!("dep")).unwrap();
        let id = bad.id();
        match pool.submit_after([bad.task_ref()], |_| ()).get() {
            Err(TaskError::DependencyFailed(d)) => assert_eq!(d, id),
            other => panic!("{other:?}"),
        }
    });
}

/// Exact accounting for joins racing their dependencies' completion.
#[test]
fn joins_fire_once_under_races() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let runs = RunLog::new(10_000);
        for i in 0..10_000usize {
            let deps: Vec<_> = (0..3).map(|k| pool.submit(move || k).unwrap()).collect();
            let r = runs.clone();
            let h = pool.submit_after(deps, move |v| {
                r.mark(i);
                v.iter().sum::<usize>()
            });
            assert_eq!(h.get().unwrap(), 3);
        }
        runs.assert_all(1);
    });
}

/// `shutdown_now` hands the upstream back; dropping it resolves the whole
/// chain (cancelled), never a hang.
#[test]
fn a_chain_whose_head_is_handed_back_by_shutdown_now_resolves() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = block_all_workers(&pool);
        let head = pool.submit(|| 1).unwrap();
        let tail = head.then(|x| x + 1).then(|x| x * 2);
        let callback_ran = Arc::new(AtomicUsize::new(0));
        let c = callback_ran.clone();
        tail.on_complete(move |t| {
            assert!(t.is_cancelled());
            c.fetch_add(1, Ordering::SeqCst);
        });
        let handed_back = pool.shutdown_now();
        assert_eq!(handed_back.len(), 1);
        drop(handed_back);
        assert!(tail.get().unwrap_err().is_cancelled());
        assert_eq!(callback_ran.load(Ordering::SeqCst), 1);
        gate.open();
        assert!(pool.await_termination(LONG).is_ok());
    });
}

#[test]
fn a_worker_runs_the_next_continuation_itself_but_a_waiter_does_not() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        // A chain completed on the only worker: every link runs there, one
        // after the other (the runner keeps the next one), in order.
        let (gate, head) = gated(&pool, 0u32);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut h = head;
        for i in 1..=50u32 {
            let order = order.clone();
            h = h.then(move |x| {
                order
                    .lock()
                    .unwrap()
                    .push((i, executor_core::current_thread_index()));
                x + 1
            });
        }
        gate.open();
        assert_eq!(h.get().unwrap(), 50);
        let order = order.lock().unwrap();
        assert!(order.iter().map(|(i, _)| *i).eq(1..=50));
        assert!(order.iter().all(|(_, w)| *w == Some(0)));

        // A task on the worker waits for `b`, which has not started (the only
        // worker runs the waiter): the wait runs `b` itself, and returns as
        // soon as `b` is done; `b`'s continuation is queued, not run inside
        // the wait (the waiting rule).
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let p = pool.clone();
        let outer = pool
            .submit(move || {
                let b = p.submit(|| 1u32).unwrap();
                let r2 = r.clone();
                let c = b.task_ref();
                let after = {
                    let (tx, rx) = channel();
                    c.on_complete(move |_| tx.send(()).unwrap());
                    rx
                };
                let cont = p.submit_after([c], move |_| {
                    r2.fetch_add(1, Ordering::SeqCst);
                });
                assert!(b.task_ref().try_run(), "the waiter runs b");
                after.recv().unwrap();
                let during_wait = r.load(Ordering::SeqCst);
                (during_wait, cont)
            })
            .unwrap();
        let (during_wait, cont) = outer.get().unwrap();
        assert_eq!(during_wait, 0, "the continuation ran inside the wait");
        cont.get().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    });
}
