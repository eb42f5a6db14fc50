//! B.7: nested submission and waiting never deadlocks (W2, W3, W5–W8, P6, I8).
#![allow(missing_docs)]

mod common;

use common::*;
use executor_core::ThreadPool;
use executor_futures::{ExecutorService, TaskHandle};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn fib(pool: &ThreadPool, n: u64, log: &Arc<AtomicUsize>) -> u64 {
    log.fetch_add(1, Ordering::Relaxed);
    if n < 2 {
        return n;
    }
    let p = pool.clone();
    let l = log.clone();
    let left = pool.submit(move || fib(&p, n - 1, &l)).unwrap();
    let right = fib(pool, n - 2, log);
    left.get().unwrap() + right
}

#[test]
fn w2_recursive_fork_join() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let (p, c) = (pool.clone(), calls.clone());
        let h = pool.submit(move || fib(&p, 18, &c)).unwrap();
        assert_eq!(h.get().unwrap(), 2584);
        // fib calls for n=18: 2*fib(19)-1 = 8361; each exactly once.
        assert_eq!(calls.load(Ordering::SeqCst), 8361);
    });
}

fn chain(pool: ThreadPool, depth: usize) -> usize {
    if depth == 0 {
        return 0;
    }
    let p = pool.clone();
    let child = pool.submit(move || chain(p, depth - 1)).unwrap();
    child.get().unwrap() + 1
}

/// W3: a 1-thread pool runs a chain of tasks each submitting and waiting on the
/// next, to depth 1,000 (the waiting worker runs the child inline; the default
/// 8 MiB worker stack is the limit).
#[test]
fn w3_deep_nesting_on_one_thread() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        for depth in [200, 1000] {
            let p = pool.clone();
            let h = pool.submit(move || chain(p, depth)).unwrap();
            assert_eq!(h.get().unwrap(), depth);
        }
    });
}

#[test]
fn w5_p6_helping_get_on_cancelled_and_panicked_children() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let log = RunLog::new(1);
        let (p, l) = (pool.clone(), log.clone());
        let parent = pool
            .submit(move || {
                let c1 = p.submit(move || l.mark(0)).unwrap();
                let c2 = p.submit(|| -> u32 { panic!("child") }).unwrap();
                let s = p.submit(|| 1u32).unwrap();
                assert!(c1.cancel());
                let e1 = c1.get().unwrap_err();
                let e2 = c2.get().unwrap_err();
                (
                    e1.is_cancelled(),
                    e2.message().map(str::to_owned),
                    s.get().unwrap(),
                )
            })
            .unwrap();
        let (cancelled, msg, s) = parent.get().unwrap();
        assert!(cancelled);
        assert_eq!(msg.as_deref(), Some("child"));
        assert_eq!(s, 1);
        assert_eq!(log.get(0), 0, "helping never runs the cancelled child");
        // The worker survived.
        assert_eq!(pool.submit(|| 2).unwrap().get().unwrap(), 2);
    });
}

/// W6: at most once while the waiter hunts for specific children and the other
/// worker steals.
#[test]
fn w6_at_most_once_under_help_and_steal_races() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        const ROOTS: usize = 200;
        const CHILDREN: usize = 500;
        let log = RunLog::new(ROOTS * CHILDREN);
        let roots: Vec<TaskHandle<bool>> = (0..ROOTS)
            .map(|r| {
                let (p, log) = (pool.clone(), log.clone());
                pool.submit(move || {
                    let children: Vec<_> = (0..CHILDREN)
                        .map(|c| {
                            let log = log.clone();
                            let id = r * CHILDREN + c;
                            p.submit(move || {
                                log.mark(id);
                                id
                            })
                            .unwrap()
                        })
                        .collect();
                    let mut ok = true;
                    for (c, h) in children.into_iter().enumerate().rev() {
                        ok &= h.get().ok() == Some(r * CHILDREN + c);
                    }
                    ok
                })
                .unwrap()
            })
            .collect();
        for h in roots {
            assert!(h.get().unwrap());
        }
        log.assert_all(1);
    });
}

fn tree(pool: ThreadPool, depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    let (a, b) = (pool.clone(), pool.clone());
    let left = pool.submit(move || tree(a, depth - 1)).unwrap();
    let right = pool.submit(move || tree(b, depth - 1)).unwrap();
    left.get().unwrap() + right.get().unwrap()
}

#[test]
fn w7_every_worker_blocked_in_nested_get() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let roots: Vec<_> = (0..2)
            .map(|_| {
                let p = pool.clone();
                pool.submit(move || tree(p, 6)).unwrap()
            })
            .collect();
        for r in roots {
            assert_eq!(r.get().unwrap(), 64);
        }
    });
}

#[test]
fn w8_waiting_across_pools_completes() {
    bounded(|| {
        let a = ThreadPool::new(1).unwrap();
        let b = ThreadPool::new(1).unwrap();
        let (a2, b2) = (a.clone(), b.clone());
        let h = a
            .submit(move || {
                let a3 = a2.clone();
                let on_b = b2
                    .submit(move || a3.submit(|| 1).unwrap().get().unwrap() + 1)
                    .unwrap();
                on_b.get().unwrap() + 1
            })
            .unwrap();
        assert_eq!(h.get().unwrap(), 3);
    });
}

#[test]
fn i8_invoke_all_from_a_worker_of_a_one_thread_pool() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let p = pool.clone();
        let h = pool
            .submit(move || {
                let hs = p.invoke_all([|| 'a', || 'b', || 'c']).unwrap();
                hs.into_iter().map(|h| h.get().unwrap()).collect::<String>()
            })
            .unwrap();
        assert_eq!(h.get().unwrap(), "abc");
        let p = pool.clone();
        let any = pool
            .submit(move || p.invoke_any([|| -> u8 { panic!("x") }, || 2]).unwrap())
            .unwrap();
        assert_eq!(any.get().unwrap(), 2);
    });
}

/// A nested task waiting on the task that runs below it on the same thread gets
/// WouldDeadlock instead of hanging.
#[test]
fn nested_wait_on_an_outer_task_is_would_deadlock() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<executor_futures::TaskRef>();
        let p = pool.clone();
        let outer = pool
            .submit(move || {
                let rx = std::sync::Mutex::new(rx);
                let inner = p
                    .submit(move || {
                        let outer = rx.lock().unwrap().recv().unwrap();
                        outer.wait()
                    })
                    .unwrap();
                // Runs `inner` inline on this thread (it is pending).
                inner.get().unwrap()
            })
            .unwrap();
        tx.send(outer.task_ref()).unwrap();
        assert_eq!(outer.get().unwrap(), Err(executor_futures::WouldDeadlock));
    });
}
