//! B.12: async interop — handles awaited on foreign executors (futures' block_on
//! and a tokio current-thread runtime), the waker contract, and async tasks
//! spawned on the pool (A1, A2, A4, A5, A6, A7, A8, X5).
#![allow(missing_docs)]

mod common;

use common::*;
use executor_core::ThreadPool;
use executor_futures::{ExecutorService, TaskError, TaskHandle};
use futures::executor::block_on;
use futures::task::SpawnExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn a1_await_on_block_on_and_tokio() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        assert_eq!(block_on(pool.submit(|| 9).unwrap()).unwrap(), 9);
        let rt = tokio_rt();
        assert_eq!(rt.block_on(pool.submit(|| 10).unwrap()).unwrap(), 10);
        let e = block_on(pool.submit(|| -> u8 { panic!("p") }).unwrap()).unwrap_err();
        assert!(e.is_panic());
        let e = rt
            .block_on(pool.submit(|| -> u8 { panic!("q") }).unwrap())
            .unwrap_err();
        assert_eq!(e.message(), Some("q"));
    });
}

#[test]
fn a2_pending_then_one_wake_then_ready_and_no_wake_after_completion() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let mut h = pool
            .submit(move || {
                g.wait();
                4
            })
            .unwrap();
        let counter = Arc::new(CountWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut h).poll(&mut cx).is_pending());
        assert_eq!(counter.count(), 0);
        gate.open();
        until(|| counter.count() >= 1, "the wake");
        assert_eq!(counter.count(), 1);
        match Pin::new(&mut h).poll(&mut cx) {
            Poll::Ready(Ok(4)) => {}
            other => panic!("{other:?}"),
        }
        // A poll of an already-complete handle never wakes.
        let mut done = pool.submit(|| 5).unwrap();
        done.wait().unwrap();
        let panic_waker = Waker::from(Arc::new(PanicWaker));
        let mut cx = Context::from_waker(&panic_waker);
        assert!(matches!(
            Pin::new(&mut done).poll(&mut cx),
            Poll::Ready(Ok(5))
        ));
    });
}

#[test]
fn latest_registered_waker_is_the_one_woken() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let mut h = pool.submit(move || g.wait()).unwrap();
        let (first, second) = (
            Arc::new(CountWaker::default()),
            Arc::new(CountWaker::default()),
        );
        let w1 = Waker::from(first.clone());
        let w2 = Waker::from(second.clone());
        assert!(Pin::new(&mut h)
            .poll(&mut Context::from_waker(&w1))
            .is_pending());
        assert!(Pin::new(&mut h)
            .poll(&mut Context::from_waker(&w2))
            .is_pending());
        assert_eq!(
            Arc::strong_count(&first),
            2,
            "the replaced waker was released"
        );
        gate.open();
        until(|| second.count() == 1, "the latest waker");
        assert_eq!(first.count(), 0);
        drop(h);
    });
}

#[test]
fn a4_no_lost_wakeup_between_pending_poll_and_completion() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        for i in 0..3_000u64 {
            let spin = i % 6;
            let h = pool
                .submit(move || {
                    let t = std::time::Instant::now();
                    while t.elapsed().as_micros() < spin as u128 {
                        std::hint::spin_loop();
                    }
                    i
                })
                .unwrap();
            assert_eq!(block_on(h).unwrap(), i);
        }
    });
}

#[test]
fn a5_cancel_and_panic_seen_through_await() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let blocker = pool.submit(move || g.wait()).unwrap();
        let h1 = pool.submit(|| 1).unwrap();
        let r1 = h1.task_ref();
        let awaiting = std::thread::spawn(move || block_on(h1));
        until(
            || r1.state() == executor_futures::TaskState::Pending,
            "pending",
        );
        assert!(r1.cancel());
        assert!(awaiting.join().unwrap().unwrap_err().is_cancelled());
        gate.open();
        blocker.get().unwrap();
        let h2 = pool.submit(|| -> u8 { panic!("h2") }).unwrap();
        assert!(tokio_rt().block_on(h2).unwrap_err().is_panic());
    });
}

/// A6: a `select!`-style race where a timer wins: dropping the awaiting future
/// part-way releases the stored waker; `&mut H` stays usable (cancel-safe).
#[test]
fn a6_dropping_the_await_releases_the_waker_and_keeps_the_result() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let rt = tokio_rt();
        let gate = Gate::new();
        let g = gate.clone();
        let mut h = pool
            .submit(move || {
                g.wait();
                6
            })
            .unwrap();
        let timed_out = rt.block_on(async {
            tokio::select! {
                r = &mut h => Some(r),
                _ = tokio::time::sleep(std::time::Duration::from_millis(5)) => None,
            }
        });
        assert!(timed_out.is_none());
        gate.open();
        assert_eq!(rt.block_on(&mut h).unwrap(), 6);

        // Detached through select!: the counting waker is released on completion.
        let gate = Gate::new();
        let g = gate.clone();
        let mut h = pool.submit(move || g.wait()).unwrap();
        let counter = Arc::new(CountWaker::default());
        let waker = Waker::from(counter.clone());
        assert!(Pin::new(&mut h)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        let baseline = 1; // `counter` itself
        assert_eq!(Arc::strong_count(&counter), baseline + 2); // + `waker` + stored
        drop(h); // detach: the stored waker is released at once
        assert_eq!(Arc::strong_count(&counter), baseline + 1);
        gate.open();
        drop(waker);
        assert_eq!(Arc::strong_count(&counter), baseline);
    });
}

#[test]
fn a7_compile_time_contracts() {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    send_sync_unpin::<TaskHandle<u32>>();
    send_sync_unpin::<TaskHandle<std::cell::Cell<u32>>>(); // T: Send is enough
    send_sync_unpin::<executor_futures::TaskRef>();
    send_sync_unpin::<executor_futures::integration::Spawner<ThreadPool>>();
    fn error<E: std::error::Error + Send + Sync + 'static>() {}
    error::<TaskError>();
}

#[test]
fn spawn_runs_futures_on_the_pool_and_requeues_on_wake() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let (tx, rx) = futures::channel::oneshot::channel::<u32>();
        let h = pool
            .spawn(async move {
                let v = rx.await.unwrap();
                (v, executor_core::current_thread_index().is_some())
            })
            .unwrap();
        assert_eq!(h.state(), executor_futures::TaskState::Pending);
        tx.send(3).unwrap();
        assert_eq!(h.get().unwrap(), (3, true));
        // Handles of pool tasks awaited inside async tasks.
        let inner = pool.submit(|| 20).unwrap();
        let outer = pool.spawn(async move { inner.await.unwrap() + 1 }).unwrap();
        assert_eq!(block_on(outer).unwrap(), 21);
        // A panicking future.
        let p = pool.spawn(async { panic!("async boom") }).unwrap();
        let e: TaskError = p.get().unwrap_err();
        assert_eq!(e.message(), Some("async boom"));
    });
}

/// A future that counts its polls and stays pending until woken `n` times.
struct Countdown {
    left: usize,
    polls: Arc<AtomicUsize>,
    _token: Token,
}

impl Future for Countdown {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        if self.left == 0 {
            return Poll::Ready(self.polls.load(Ordering::SeqCst));
        }
        self.left -= 1;
        cx.waker().wake_by_ref(); // woken while running: re-queued after this poll
        Poll::Pending
    }
}

#[test]
fn self_waking_future_is_requeued_without_losing_wakes() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let drops = DropCounter::new(1);
        let polls = Arc::new(AtomicUsize::new(0));
        let h = pool
            .spawn(Countdown {
                left: 1000,
                polls: polls.clone(),
                _token: drops.token(0),
            })
            .unwrap();
        assert_eq!(h.get().unwrap(), 1001);
        drops.assert_all_dropped_once(1);
    });
}

/// A future pending forever until a stored waker is called, holding a token.
struct Parked {
    slot: Arc<Mutex<Option<Waker>>>,
    _token: Token,
}

impl Future for Parked {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn cancelling_an_async_task_drops_its_future() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let drops = DropCounter::new(1);
        let slot = Arc::new(Mutex::new(None));
        let h = pool
            .spawn(Parked {
                slot: slot.clone(),
                _token: drops.token(0),
            })
            .unwrap();
        until(|| slot.lock().unwrap().is_some(), "first poll");
        assert!(h.cancel());
        // Dropped by the canceller if idle, else by the runner right after the poll.
        until(|| drops.dropped() == 1, "future dropped");
        // A late wake of a cancelled task is harmless.
        slot.lock().unwrap().take().unwrap().wake();
        assert!(h.get().unwrap_err().is_cancelled());
    });
}

/// A refused re-queue (pool stopped) resolves the task as Cancelled and drops its
/// future (X5: a waker outliving its pool).
#[test]
fn x5_wake_after_shutdown_now_resolves_cancelled() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let drops = DropCounter::new(1);
        let slot = Arc::new(Mutex::new(None));
        let h = pool
            .spawn(Parked {
                slot: slot.clone(),
                _token: drops.token(0),
            })
            .unwrap();
        until(|| slot.lock().unwrap().is_some(), "first poll");
        assert!(
            pool.shutdown_now().is_empty(),
            "idle async tasks are not queued"
        );
        assert!(pool.await_termination(LONG).is_ok());
        let waker = slot.lock().unwrap().take().unwrap();
        waker.wake();
        drops.assert_all_dropped_once(1);
        assert!(h.get().unwrap_err().is_cancelled());
        // A detached handle's get after termination and a wake of a done task.
        let rejected = pool.submit(|| 1).unwrap_err();
        assert_eq!(rejected.into_inner()(), 1);
        drop(pool);
    });
}

/// After `shutdown`, an accepted async task woken while the pool still drains
/// (a gated job keeps it alive) is re-queued and finishes.
#[test]
fn async_task_woken_after_shutdown_still_finishes() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let (tx, rx) = futures::channel::oneshot::channel::<u8>();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let h = pool
            .spawn(async move {
                started_tx.send(()).unwrap();
                rx.await.unwrap()
            })
            .unwrap();
        started_rx.recv_timeout(LONG).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let blocker = pool.submit(move || g.wait()).unwrap();
        pool.shutdown(); // orderly: accepted async tasks may still be re-queued
        tx.send(8).unwrap();
        gate.open();
        blocker.get().unwrap();
        assert_eq!(h.get().unwrap(), 8);
        assert!(pool.await_termination(LONG).is_ok());
    });
}

#[test]
fn spawner_implements_futures_spawn() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let spawner = pool.spawner();
        let (tx, rx) = std::sync::mpsc::channel();
        for i in 0..10 {
            let tx = tx.clone();
            spawner.spawn(async move { tx.send(i).unwrap() }).unwrap();
        }
        let mut got: Vec<i32> = (0..10).map(|_| rx.recv_timeout(LONG).unwrap()).collect();
        got.sort();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        let remote = spawner.spawn_with_handle(async { 5 }).unwrap();
        assert_eq!(block_on(remote), 5);
        pool.shutdown();
        assert!(spawner.spawn(async {}).is_err());
    });
}

/// A8: a future whose Drop calls another task's waker during shutdown_now.
#[test]
fn a8_waker_called_from_a_drop_during_shutdown() {
    struct WakeOnDrop(Arc<Mutex<Option<Waker>>>);
    impl Drop for WakeOnDrop {
        fn drop(&mut self) {
            if let Some(w) = self.0.lock().unwrap().take() {
                w.wake();
            }
        }
    }
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let drops = DropCounter::new(2);
        let slot = Arc::new(Mutex::new(None));
        let f1 = pool
            .spawn(Parked {
                slot: slot.clone(),
                _token: drops.token(0),
            })
            .unwrap();
        until(|| slot.lock().unwrap().is_some(), "f1 polled");
        let guard = WakeOnDrop(slot.clone());
        let t = drops.token(1);
        let f2 = pool
            .spawn(async move {
                let _g = guard;
                let _t = t;
                futures::future::pending::<()>().await
            })
            .unwrap();
        let r2 = f2.task_ref();
        until(
            || r2.state() == executor_futures::TaskState::Running,
            "f2 polled",
        );
        assert!(f2.cancel()); // drops f2's future (now or after its poll), whose Drop wakes f1
        until(|| drops.is_dropped(1), "f2's future dropped");
        // f1 is now queued again or idle; either way stopping the pool neither
        // panics nor deadlocks, and a drained f1 resolves as cancelled.
        let drained = pool.shutdown_now();
        let was_queued = !drained.is_empty();
        drop(drained);
        drop(pool);
        if was_queued {
            assert!(f1.is_cancelled());
        }
        drop(f1);
    });
}

#[test]
fn spawn_on_inline_executor_and_rejection_gives_the_future_back() {
    let inline = executor_core::integration::InlineExecutor;
    assert_eq!(inline.spawn(async { 1 }).unwrap().get().unwrap(), 1);
    assert_eq!(inline.submit(|| 2).unwrap().get().unwrap(), 2);
    let pool = ThreadPool::new(1).unwrap();
    pool.shutdown();
    let fut = pool.spawn(async { 3 }).unwrap_err().into_inner();
    assert_eq!(block_on(fut), 3);
}

/// Issue 16, item 12: an async task that `.await`s its own handle gets the same
/// `WouldDeadlock` a blocking `get` on one's own handle returns, instead of
/// waiting for a wake that only its own completion could send. The task then
/// goes on (here: awaits the handle a second time, same answer) and completes;
/// its future is dropped once.
#[test]
fn awaiting_own_handle_is_would_deadlock() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let drops = DropCounter::new(1);
        let token = drops.token(0);
        let (tx, rx) = std::sync::mpsc::channel::<TaskHandle<u32>>();
        let (res_tx, res_rx) = std::sync::mpsc::channel();
        let h = pool
            .spawn(async move {
                let _token = token;
                let mut me = rx.recv().unwrap();
                let first = (&mut me).await;
                let second = (&mut me).await;
                res_tx
                    .send((
                        first.unwrap_err().is_would_deadlock(),
                        second.unwrap_err().is_would_deadlock(),
                    ))
                    .unwrap();
                7u32
            })
            .unwrap();
        let r = h.task_ref();
        tx.send(h).unwrap();
        assert_eq!(
            res_rx
                .recv_timeout(LONG)
                .expect("the task hung awaiting itself"),
            (true, true)
        );
        r.wait_timeout(LONG).unwrap();
        assert_eq!(r.state(), executor_futures::TaskState::Completed);
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        drops.assert_all_dropped_once(1);
    });
}
