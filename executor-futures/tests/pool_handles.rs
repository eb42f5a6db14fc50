//! Async tasks do not count as users' handles of their pool: a task keeps the
//! pool's non-owning `PoolRef` (`Executor::pool_ref`), so dropping the last
//! `ThreadPool` closes the pool even while tasks wait for wakes that never come;
//! the pool then terminates, and its termination cancels those tasks (their
//! futures dropped exactly once, their handles resolved Cancelled). Before, each
//! idle task held a `ThreadPool` clone: the pool never closed, its threads and
//! the futures leaked.
#![allow(missing_docs)]

mod common;

use common::*;
use executor_core::{PoolRef, ThreadPool};
use executor_futures::{ExecutorService, TaskError, TaskHandle, TaskState};
use futures::channel::oneshot;
use futures::task::SpawnExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A pool whose workers count their exits (the thread-stop hook).
fn counted_pool(threads: usize) -> (ThreadPool, Arc<AtomicUsize>) {
    let stopped = Arc::new(AtomicUsize::new(0));
    let s = stopped.clone();
    let pool = ThreadPool::builder()
        .num_threads(threads)
        .on_thread_stop(move |_| {
            s.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    (pool, stopped)
}

/// A wake that never comes but keeps the task alive: the receiver stores the
/// task's waker in the channel, and the sender (kept by the caller) keeps the
/// channel. (A bare `pending()` stores no waker: such a task is freed as soon as
/// it goes idle, and never kept the pool open.)
fn never() -> (oneshot::Sender<()>, oneshot::Receiver<()>) {
    oneshot::channel()
}

/// The bug: a never-woken task, the user drops the last handle. The pool closes
/// (the drop returns: threads joined), the future is dropped exactly once, the
/// handle resolves Cancelled, and the hook of a detached one sees Cancelled.
#[test]
fn never_woken_task_does_not_keep_the_pool_open() {
    bounded(|| {
        let (pool, stopped) = counted_pool(2);
        let observer: PoolRef = pool.downgrade();
        let tokens = DropCounter::new(2);
        let idle = Latch::new(2);
        let (_keep_a, never_a) = never();
        let (_keep_b, never_b) = never();
        let token = tokens.token(0);
        let handle = pool
            .spawn({
                let idle = idle.clone();
                async move {
                    let _token = token;
                    let _ = signal_pending(never_a, idle).await;
                    unreachable!("never woken")
                }
            })
            .unwrap();
        let token = tokens.token(1);
        let (tx, rx) = std::sync::mpsc::channel();
        pool.spawn_with(
            {
                let idle = idle.clone();
                async move {
                    let _token = token;
                    let _ = signal_pending(never_b, idle).await;
                }
            },
            move |h: TaskHandle<()>| tx.send(h.get()).unwrap(),
        )
        .unwrap();
        idle.wait();
        assert_eq!(tokens.live(), 2);

        drop(pool); // the user's last handle: close, which joins the threads

        assert!(observer.is_terminated(), "the drop closed the pool");
        assert_eq!(stopped.load(Ordering::SeqCst), 2, "both workers exited");
        tokens.assert_all_dropped_once(2);
        assert_eq!(handle.state(), TaskState::Cancelled);
        assert!(matches!(handle.get(), Err(TaskError::Cancelled)));
        assert!(matches!(rx.try_recv(), Ok(Err(TaskError::Cancelled))));
        // What a task would re-queue on is refused now.
        assert!(observer.spawn(async {}).is_err());
    });
}

/// The same through `futures::task::Spawn`: the spawned tasks keep no handle,
/// only the user's `Spawner` (a clone, like any handle) does.
#[test]
fn spawner_tasks_do_not_keep_the_pool_open() {
    bounded(|| {
        let (pool, stopped) = counted_pool(2);
        let observer = pool.downgrade();
        let tokens = DropCounter::new(10);
        let idle = Latch::new(10);
        let mut keep = Vec::new();
        let spawner = pool.spawner();
        for i in 0..10 {
            let (tx, rx) = never();
            keep.push(tx);
            let (token, idle) = (tokens.token(i), idle.clone());
            spawner
                .spawn(async move {
                    let _token = token;
                    let _ = signal_pending(rx, idle).await;
                })
                .unwrap();
        }
        idle.wait();
        drop(spawner);
        drop(pool);
        assert!(observer.is_terminated());
        assert_eq!(stopped.load(Ordering::SeqCst), 2);
        tokens.assert_all_dropped_once(10);
    });
}

/// Tasks that are woken and complete while the user holds the pool: unchanged.
/// Each goes idle on a channel, is woken from this thread, yields once more (a
/// re-queue from the worker) and returns its value.
#[test]
fn woken_tasks_complete_while_the_pool_is_held() {
    bounded(|| {
        const N: usize = 200;
        let (pool, stopped) = counted_pool(2);
        let tokens = DropCounter::new(N);
        let idle = Latch::new(N);
        let mut senders = Vec::new();
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let (tx, rx) = oneshot::channel::<usize>();
                senders.push(tx);
                let (token, idle) = (tokens.token(i), idle.clone());
                pool.spawn(async move {
                    let _token = token;
                    let v = signal_pending(rx, idle).await.unwrap();
                    yield_once().await;
                    v * 2
                })
                .unwrap()
            })
            .collect();
        idle.wait();
        for (i, tx) in senders.into_iter().enumerate() {
            tx.send(i).unwrap();
        }
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.get().unwrap(), i * 2);
        }
        tokens.assert_all_dropped_once(N);
        assert!(!pool.is_shutdown(), "tasks did not close the pool");
        assert_eq!(stopped.load(Ordering::SeqCst), 0);
        drop(pool);
        assert_eq!(stopped.load(Ordering::SeqCst), 2);
    });
}

/// Closing by drop still waits for accepted work, and a task woken after the
/// drop started (the pool is shut down, a worker still busy) re-queues itself
/// and completes with its value.
#[test]
fn task_woken_during_close_requeues_and_completes() {
    bounded(|| {
        let (pool, stopped) = counted_pool(1);
        let observer = pool.downgrade();
        let idle = Latch::new(1);
        let (tx, rx) = oneshot::channel::<u32>();
        let handle = pool
            .spawn({
                let idle = idle.clone();
                async move {
                    let v = signal_pending(rx, idle).await.unwrap();
                    yield_once().await; // re-queued by the worker, in SHUTDOWN
                    v + 1
                }
            })
            .unwrap();
        idle.wait();
        // Keep the only worker busy, so the pool cannot terminate yet.
        let gate = block_all_workers(&pool);
        let dropper = std::thread::spawn(move || drop(pool));
        until(|| observer.is_shutdown(), "the drop shut the pool down");
        assert!(!observer.is_terminated());
        tx.send(41).unwrap(); // the wake: a re-queue accepted in SHUTDOWN
        gate.open();
        dropper.join().unwrap();
        assert!(observer.is_terminated());
        assert_eq!(stopped.load(Ordering::SeqCst), 1);
        assert_eq!(handle.get().unwrap(), 42);
    });
}

/// A task that holds the last `ThreadPool` (the user dropped theirs) and drops
/// it on a worker: the pool shuts down without joining itself, the task still
/// completes, and the pool terminates.
#[test]
fn task_dropping_the_last_handle_completes() {
    bounded(|| {
        let (pool, stopped) = counted_pool(2);
        let observer = pool.downgrade();
        let idle = Latch::new(1);
        let (tx, rx) = oneshot::channel::<()>();
        let inside = pool.clone();
        let handle = pool
            .spawn({
                let idle = idle.clone();
                async move {
                    signal_pending(rx, idle).await.unwrap();
                    drop(inside); // the last handle, on a worker
                    yield_once().await; // re-queued in SHUTDOWN
                    7
                }
            })
            .unwrap();
        idle.wait();
        drop(pool); // not the last: the future holds one
        assert!(!observer.is_shutdown());
        tx.send(()).unwrap();
        assert_eq!(handle.get().unwrap(), 7);
        assert!(observer.await_termination(LONG).is_ok());
        assert_eq!(stopped.load(Ordering::SeqCst), 2);
    });
}

/// A task that drops the last `ThreadPool` and then waits forever: the pool
/// shuts down from the worker, terminates once idle, and cancels the task.
#[test]
fn task_dropping_the_last_handle_then_waiting_is_cancelled() {
    bounded(|| {
        let (pool, stopped) = counted_pool(2);
        let observer = pool.downgrade();
        let tokens = DropCounter::new(1);
        let token = tokens.token(0);
        let (_keep, rx) = never();
        let inside = pool.clone();
        let handle = pool
            .spawn(async move {
                let _token = token;
                drop(inside);
                let _ = rx.await;
                unreachable!("never woken")
            })
            .unwrap();
        drop(pool);
        assert!(observer.await_termination(LONG).is_ok());
        assert_eq!(stopped.load(Ordering::SeqCst), 2);
        tokens.assert_all_dropped_once(1);
        assert!(matches!(handle.get(), Err(TaskError::Cancelled)));
    });
}

/// The last `ThreadPool` lives in an idle task's future, and the user shuts the
/// pool down: the termination cancels the task, whose future's drop releases
/// that last handle on the terminating worker; nothing waits for itself.
#[test]
fn termination_dropping_the_last_handle_does_not_hang() {
    bounded(|| {
        let (pool, stopped) = counted_pool(2);
        let observer = pool.downgrade();
        let tokens = DropCounter::new(1);
        let token = tokens.token(0);
        let idle = Latch::new(1);
        let (_keep, rx) = never();
        let inside = pool.clone();
        let handle = pool
            .spawn({
                let idle = idle.clone();
                async move {
                    let _token = token;
                    let _pool = inside;
                    let _ = signal_pending(rx, idle).await;
                }
            })
            .unwrap();
        idle.wait();
        pool.shutdown();
        drop(pool); // not the last handle: returns at once
        assert!(observer.await_termination(LONG).is_ok());
        assert_eq!(stopped.load(Ordering::SeqCst), 2);
        tokens.assert_all_dropped_once(1);
        assert!(handle.is_cancelled());
    });
}

/// A task given a `PoolRef` (not a clone) spawns children on it; the children
/// keep no handle either, so the user's drop closes the pool and cancels every
/// idle task.
#[test]
fn tasks_spawning_through_a_pool_ref_do_not_keep_the_pool_open() {
    bounded(|| {
        const CHILDREN: usize = 8;
        let (pool, stopped) = counted_pool(2);
        let observer = pool.downgrade();
        let tokens = DropCounter::new(CHILDREN + 1);
        let idle = Latch::new(CHILDREN + 1);
        let (keep_tx, keep_rx) = std::sync::mpsc::channel();
        let weak = pool.downgrade();
        let parent_token = tokens.token(CHILDREN);
        let child_tokens: Vec<_> = (0..CHILDREN).map(|i| tokens.token(i)).collect();
        let (_keep, parent_rx) = never();
        let parent = pool
            .spawn({
                let idle = idle.clone();
                async move {
                    let _token = parent_token;
                    for token in child_tokens {
                        let (tx, rx) = never();
                        keep_tx.send(tx).unwrap();
                        let idle = idle.clone();
                        weak.spawn(async move {
                            let _token = token;
                            let _ = signal_pending(rx, idle).await;
                        })
                        .unwrap();
                    }
                    let _ = signal_pending(parent_rx, idle).await;
                }
            })
            .unwrap();
        idle.wait();
        let _senders: Vec<_> = keep_rx.iter().take(CHILDREN).collect();
        drop(pool);
        assert!(observer.is_terminated());
        assert_eq!(stopped.load(Ordering::SeqCst), 2);
        tokens.assert_all_dropped_once(CHILDREN + 1);
        assert!(parent.is_cancelled());
    });
}
