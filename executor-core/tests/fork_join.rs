//! Fork-join (issue 5): join, install, scope and yield_now, checked against
//! sequential results, with panics, drop counters and shutdown.

use executor_core::{join, scope, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use testkit::*;

fn fib_seq(n: u64) -> u64 {
    (0..n).fold((0u64, 1u64), |(a, b), _| (b, a + b)).0
}

fn fib(n: u64, cutoff: u64) -> u64 {
    if n <= cutoff.max(1) {
        return fib_seq(n);
    }
    let (a, b) = join(|| fib(n - 1, cutoff), || fib(n - 2, cutoff));
    a + b
}

fn quicksort<T: Ord + Send>(v: &mut [T]) {
    if v.len() <= 256 {
        v.sort();
        return;
    }
    let mid = v.len() / 2;
    v.swap(mid, v.len() - 1);
    let mut store = 0;
    for i in 0..v.len() - 1 {
        if v[i] <= v[v.len() - 1] {
            v.swap(i, store);
            store += 1;
        }
    }
    let last = v.len() - 1;
    v.swap(store, last);
    let (left, right) = v.split_at_mut(store);
    join(|| quicksort(left), || quicksort(&mut right[1..]));
}

fn tree_sum(v: &[u64]) -> u64 {
    if v.len() <= 1000 {
        return v.iter().sum();
    }
    let (l, r) = v.split_at(v.len() / 2);
    let (a, b) = join(|| tree_sum(l), || tree_sum(r));
    a + b
}

fn pseudo_random(n: usize, seed: u64) -> Vec<u64> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % 1_000_000
        })
        .collect()
}

#[test]
fn recursive_fork_join_matches_sequential_at_every_thread_count() {
    bounded_for(LONG * 3, || {
        for threads in [1, 2, 3] {
            let pool = ThreadPool::new(threads).unwrap();
            for (n, cutoff) in [(10, 0), (20, 2), (25, 10)] {
                assert_eq!(
                    pool.install(|| fib(n, cutoff)),
                    fib_seq(n),
                    "fib({n}) on {threads}"
                );
            }
            for size in [0, 1, 1000, 100_000] {
                let mut v = pseudo_random(size, size as u64 + 7);
                let mut expected = v.clone();
                expected.sort();
                pool.install(|| quicksort(&mut v));
                assert_eq!(v, expected, "quicksort of {size} on {threads}");
                // Sorted input: the recursion is as deep as it gets with this pivot.
                pool.install(|| quicksort(&mut v));
                assert_eq!(v, expected);
                let data: Vec<u64> = (0..size as u64).collect();
                assert_eq!(pool.install(|| tree_sum(&data)), data.iter().sum::<u64>());
            }
            pool.close();
        }
    });
}

/// Deep recursion with a sequential cutoff stays within the stack: a chain of
/// 100,000 elements split one join per 1,000.
#[test]
fn deep_recursion_with_a_cutoff() {
    fn chain(v: &[u64]) -> u64 {
        if v.len() <= 1000 {
            return v.iter().sum();
        }
        let (head, tail) = v.split_at(1000);
        let (a, b) = join(|| head.iter().sum::<u64>(), || chain(tail));
        a + b
    }
    bounded_for(LONG, || {
        let pool = ThreadPool::new(1).unwrap();
        let data: Vec<u64> = (0..100_000).collect();
        assert_eq!(pool.install(|| chain(&data)), data.iter().sum::<u64>());
    });
}

#[test]
fn join_outside_a_pool_uses_the_global_pool() {
    bounded_for(LONG, || {
        let (a, b) = join(|| ThreadPool::global().current_thread_index(), || 2);
        assert!(a.is_some());
        assert_eq!(b, 2);
        assert_eq!(fib(20, 5), fib_seq(20));
    });
}

#[test]
fn a_panic_in_either_half_propagates_after_both_finish() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let other_ran = Arc::new(AtomicUsize::new(0));
        for panic_in_a in [true, false] {
            let o = other_ran.clone();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.join(
                    || {
                        if panic_in_a {
                            panic!("a fails")
                        }
                        o.fetch_add(1, Ordering::SeqCst);
                    },
                    || {
                        if !panic_in_a {
                            panic!("b fails")
                        }
                        o.fetch_add(1, Ordering::SeqCst);
                    },
                )
            }));
            let msg =
                executor_core::integration::payload_message(&*r.unwrap_err()).map(str::to_owned);
            assert_eq!(
                msg.as_deref(),
                Some(if panic_in_a { "a fails" } else { "b fails" })
            );
        }
        assert_eq!(
            other_ran.load(Ordering::SeqCst),
            2,
            "the other half always ran"
        );
        // The pool is intact.
        assert_eq!(pool.install(|| fib(18, 3)), fib_seq(18));
    });
}

#[test]
fn scope_tasks_borrow_and_all_finish() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let mut slots = vec![0usize; 1000];
        let counter = AtomicUsize::new(0);
        pool.scope(|s| {
            for (i, slot) in slots.iter_mut().enumerate() {
                let counter = &counter;
                s.spawn(move |s2| {
                    *slot = i * 2;
                    counter.fetch_add(1, Ordering::SeqCst);
                    if i % 100 == 0 {
                        s2.spawn(move |_| {
                            counter.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                });
            }
        });
        assert_eq!(counter.load(Ordering::SeqCst), 1010);
        assert!(slots.iter().enumerate().all(|(i, &v)| v == i * 2));
    });
}

#[test]
fn scope_panics_are_raised_after_every_task_finished() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let finished = AtomicUsize::new(0);
        // A panicking task.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.scope(|s| {
                s.spawn(|_| panic!("task fails"));
                for _ in 0..100 {
                    s.spawn(|_| {
                        finished.fetch_add(1, Ordering::SeqCst);
                    });
                }
            })
        }));
        assert!(r.is_err());
        assert_eq!(finished.load(Ordering::SeqCst), 100);
        // A panicking body: tasks already spawned still finish first.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.scope(|s| {
                for _ in 0..100 {
                    s.spawn(|_| {
                        finished.fetch_add(1, Ordering::SeqCst);
                    });
                }
                panic!("body fails");
            })
        }));
        let msg = executor_core::integration::payload_message(&*r.unwrap_err()).map(str::to_owned);
        assert_eq!(msg.as_deref(), Some("body fails"));
        assert_eq!(finished.load(Ordering::SeqCst), 200);
    });
}

#[test]
fn scope_closures_are_dropped_exactly_once() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let drops = DropCounter::new(500);
        pool.scope(|s| {
            for i in 0..500 {
                let t = drops.token(i);
                s.spawn(move |_| drop(t));
            }
        });
        drops.assert_all_dropped_once(500);
    });
}

/// Work already inside a scope finishes during `shutdown`, and even during
/// `shutdown_now` (its tasks are given back to the waiting worker, never to the
/// caller of `shutdown_now`).
#[test]
fn scopes_finish_during_shutdown_and_shutdown_now() {
    for stop_now in [false, true] {
        bounded_for(LONG, move || {
            let pool = ThreadPool::new(2).unwrap();
            let gate = Gate::new();
            let started = Latch::new(1);
            let done = Arc::new(AtomicUsize::new(0));
            let (p, g, s0, d) = (pool.clone(), gate.clone(), started.clone(), done.clone());
            let (tx, rx) = std::sync::mpsc::channel();
            pool.execute(move || {
                let n = p.scope(|s| {
                    s0.count_down();
                    g.wait();
                    for _ in 0..1000 {
                        s.spawn(|_| {
                            d.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                    7
                });
                tx.send(n).unwrap();
            })
            .unwrap();
            started.wait();
            let handed_back = if stop_now {
                pool.shutdown_now()
            } else {
                pool.shutdown();
                Vec::new()
            };
            assert!(handed_back.is_empty(), "scope work is never handed back");
            gate.open();
            assert_eq!(rx.recv_timeout(LONG), Ok(7));
            assert_eq!(done.load(Ordering::SeqCst), 1000);
            assert!(pool.await_termination(LONG).is_ok());
        });
    }
}

/// A pool's worker installing into another pool helps its own pool meanwhile, so
/// mutual installs between two 1-thread pools complete.
#[test]
fn installs_across_pools_complete() {
    bounded_for(LONG, || {
        let a = ThreadPool::new(1).unwrap();
        let b = ThreadPool::new(1).unwrap();
        let (a2, b2) = (a.clone(), b.clone());
        let r = a.install(move || {
            let a3 = a2.clone();
            b2.install(move || a3.install(|| 40) + 1) + 1
        });
        assert_eq!(r, 42);
    });
}

#[test]
fn install_on_a_shut_down_pool_runs_on_the_caller() {
    let pool = ThreadPool::new(1).unwrap();
    pool.shutdown();
    assert!(pool.await_termination(LONG).is_ok());
    let here = std::thread::current().id();
    assert_eq!(pool.install(|| std::thread::current().id()), here);
}

#[test]
fn global_scope_outside_any_pool() {
    let mut v = vec![1, 2, 3];
    scope(|s| {
        for x in v.iter_mut() {
            s.spawn(move |_| *x += 1);
        }
    });
    assert_eq!(v, [2, 3, 4]);
}

#[test]
fn broadcast_visits_each_worker_exactly_once() {
    bounded_for(LONG, || {
        for threads in [1, 2, 4] {
            let pool = ThreadPool::new(threads).unwrap();
            let calls = AtomicUsize::new(0);
            let r = pool
                .broadcast(|ctx| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(ctx.num_threads(), threads);
                    (ctx.index(), executor_core::current_thread_index())
                })
                .unwrap();
            let expected: Vec<_> = (0..threads).map(|i| (i, Some(i))).collect();
            assert_eq!(r, expected);
            assert_eq!(calls.load(Ordering::SeqCst), threads);
            // From inside the pool too (the calling worker runs its own call).
            let inner = pool.install(|| pool.broadcast(|ctx| ctx.index()).unwrap());
            assert_eq!(inner, (0..threads).collect::<Vec<_>>());
        }
    });
}

#[test]
fn broadcast_waits_for_busy_workers_and_is_rejected_after_shutdown() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let gate = block_all_workers(&pool);
        let p = pool.clone();
        let t = std::thread::spawn(move || p.broadcast(|ctx| ctx.index() * 10).unwrap());
        gate.open();
        assert_eq!(t.join().unwrap(), vec![0, 10]);
        pool.shutdown();
        let err = pool.broadcast(|_| ()).unwrap_err();
        assert_eq!(err.reason(), executor_core::RejectReason::Shutdown);
    });
}

/// A broadcast in flight when shutdown_now drains the queues still returns one
/// result per worker (calls the pool cannot run any more run on the caller).
#[test]
fn broadcast_survives_shutdown_now() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let gate = block_all_workers(&pool);
        let p = pool.clone();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let t = std::thread::spawn(move || {
            p.broadcast(move |ctx| {
                c.fetch_add(1, Ordering::SeqCst);
                ctx.index()
            })
            .unwrap()
        });
        // Wait until both broadcast jobs are queued, then stop the pool.
        while pool.stats().queued < 2 {
            std::thread::yield_now();
        }
        assert!(
            pool.shutdown_now().is_empty(),
            "broadcast jobs are never handed back"
        );
        gate.open();
        assert_eq!(t.join().unwrap(), vec![0, 1]);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(pool.await_termination(LONG).is_ok());
    });
}

#[test]
fn yield_now_runs_pending_work() {
    use executor_core::{yield_now, Yield};
    let pool = ThreadPool::new(1).unwrap();
    let ran = AtomicUsize::new(0);
    let r = pool.install(|| {
        executor_core::scope(|s| {
            s.spawn(|_| {
                ran.fetch_add(1, Ordering::SeqCst);
            });
            (yield_now(), yield_now())
        })
    });
    assert_eq!(r, (Some(Yield::Executed), Some(Yield::Idle)));
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(yield_now(), None);
}

#[test]
fn scoped_submit_returns_values_cancels_and_keeps_panics_in_handles() {
    use executor_core::ScopedError;
    bounded_for(LONG, || {
        // One thread: the body occupies the only worker, so `get` must run the
        // pending task inline (a wait here would never end).
        let pool = ThreadPool::new(1).unwrap();
        let drops = DropCounter::new(1);
        let data = [1u64, 2, 3, 4];
        let detached = std::sync::atomic::AtomicBool::new(false);
        let (sum, cancelled, panicked) = pool.scope(|s| {
            let h = s.submit(|_| data.iter().sum::<u64>());
            let t = drops.token(0);
            let c = s.submit(move |_| {
                let _t = t;
                unreachable!("cancelled before it started")
            });
            let cancelled = c.cancel();
            assert!(!c.cancel(), "only the first cancel wins");
            let p = s.submit(|_| -> u8 { panic!("scoped task fails") });
            let d = &detached;
            drop(s.submit(move |_| d.store(true, Ordering::SeqCst)));
            (h.get().unwrap(), (cancelled, c.get()), p.get())
        });
        assert_eq!(sum, 10);
        assert!(cancelled.0);
        assert!(matches!(cancelled.1, Err(ScopedError::Cancelled)));
        assert_eq!(drops.dropped(), 1, "a cancelled task's closure is dropped");
        drops.assert_no_double_drop();
        let err = panicked.unwrap_err();
        assert_eq!(err.message(), Some("scoped task fails"));
        assert!(
            detached.load(Ordering::SeqCst),
            "a dropped handle's task still runs"
        );
    });
}

#[test]
fn scoped_get_waits_for_a_task_running_elsewhere() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let gate = Gate::new();
        let started = Latch::new(1);
        let v = pool.scope(|s| {
            let (g, st) = (gate.clone(), started.clone());
            let h = s.submit(move |_| {
                st.count_down();
                g.wait();
                5
            });
            started.wait();
            gate.open();
            h.get().unwrap()
        });
        assert_eq!(v, 5);
    });
}
