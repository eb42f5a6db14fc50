//! B.11 M4 and the termination of pending async tasks: when a pool terminates,
//! every async task spawned on it that still waits for a wake is cancelled and its
//! future dropped (tokio's owned-task list at shutdown); a task that ends is taken
//! out of its executor's set again.
#![allow(missing_docs)]

mod common;

use common::*;
use executor_core::integration::{Executor, Job, TerminationKey};
use executor_core::{Rejected, ThreadPool};
use executor_futures::{ExecutorService, TaskError, TaskHandle, TaskId, TaskState};
use futures::channel::oneshot;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::Poll;

/// Spawns A and B, where A awaits B's handle and B awaits A's, each holding a
/// token of `tokens`; returns once both are waiting (deadlocked), with their
/// task refs. Each handle is moved into the other task: the cycle runs through the
/// wakers each cell stores for the other.
fn deadlocked_pair(
    pool: &ThreadPool,
    tokens: &Arc<DropCounter>,
) -> (executor_futures::TaskRef, executor_futures::TaskRef) {
    let waiting = Latch::new(2);
    let (to_a, from_b) = oneshot::channel::<TaskHandle<()>>();
    let (to_b, from_a) = oneshot::channel::<TaskHandle<()>>();
    let (token_a, token_b) = (tokens.token(0), tokens.token(1));
    let (wa, wb) = (waiting.clone(), waiting.clone());
    let a = pool
        .spawn(async move {
            let _token = token_a;
            let b = from_b.await.unwrap();
            let _ = signal_pending(b, wa).await;
        })
        .unwrap();
    let b = pool
        .spawn(async move {
            let _token = token_b;
            let a = from_a.await.unwrap();
            let _ = signal_pending(a, wb).await;
        })
        .unwrap();
    let (ra, rb) = (a.task_ref(), b.task_ref());
    to_b.send(a).unwrap();
    to_a.send(b).unwrap();
    waiting.wait();
    assert_eq!(tokens.live(), 2);
    (ra, rb)
}

/// M4: async waker cycles are collected. `shutdown_now` and drop: both futures are
/// dropped, live == 0, and both tasks report cancelled.
#[test]
fn m4_async_waker_cycle_is_collected() {
    bounded(|| {
        let tokens = DropCounter::new(2);
        let pool = ThreadPool::new(2).unwrap();
        let (a, b) = deadlocked_pair(&pool, &tokens);
        assert!(!a.is_done() && !b.is_done());
        let handed_back = pool.shutdown_now();
        assert!(handed_back.is_empty(), "idle tasks are in no queue");
        assert!(pool.await_termination(LONG).is_ok());
        drop(pool);
        assert_eq!(tokens.live(), 0, "both futures dropped");
        tokens.assert_all_dropped_once(2);
        assert_eq!(a.state(), TaskState::Cancelled);
        assert_eq!(b.state(), TaskState::Cancelled);
    });
}

/// M4 exactly as written: `shutdown_now()` then `drop(pool)`, no explicit wait.
/// (The idle tasks hold no pool handle, only a `PoolRef`: the drop closes the
/// pool, waiting for the termination that `shutdown_now` started, which collects
/// them.)
#[test]
fn m4_shutdown_now_then_drop() {
    bounded(|| {
        let tokens = DropCounter::new(2);
        let pool = ThreadPool::new(2).unwrap();
        let (a, b) = deadlocked_pair(&pool, &tokens);
        drop(pool.shutdown_now());
        drop(pool);
        // Bounded waits: a hang fails the test.
        assert!(a.wait_timeout(LONG).is_ok(), "A resolved");
        assert!(b.wait_timeout(LONG).is_ok(), "B resolved");
        assert!(a.is_cancelled() && b.is_cancelled());
        until(|| tokens.live() == 0, "both futures dropped");
        tokens.assert_all_dropped_once(2);
    });
}

/// The same cycle on a pool that is only `shutdown`: the workers exit once the
/// queues are empty and the termination collects the pair.
#[test]
fn m4_cycle_collected_after_shutdown() {
    bounded(|| {
        let tokens = DropCounter::new(2);
        let pool = ThreadPool::new(1).unwrap();
        let (a, b) = deadlocked_pair(&pool, &tokens);
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(tokens.live(), 0);
        assert!(a.is_cancelled() && b.is_cancelled());
    });
}

/// An idle async task that is never woken is cancelled, and its future dropped,
/// by the time `shutdown` + `await_termination` returns; its waiters are woken
/// with the cancelled error.
#[test]
fn never_woken_idle_task_is_cancelled_at_termination() {
    bounded(|| {
        let tokens = DropCounter::new(1);
        let pool = ThreadPool::new(2).unwrap();
        let token = tokens.token(0);
        let idle = Latch::new(1);
        let polled = idle.clone();
        let handle = pool
            .spawn(async move {
                let _token = token;
                signal_pending(std::future::pending::<()>(), polled).await;
                unreachable!("never woken")
            })
            .unwrap();
        idle.wait();
        // A thread blocked on the handle is woken by the cancel.
        let task = handle.task_ref();
        let waiter = std::thread::spawn(move || task.wait().map(|()| task.state()));
        // And so is a completion hook, of a task with no handle, kept alive only by
        // the waker it left with a channel that never sends.
        let (tx, rx) = std::sync::mpsc::channel();
        let (_never_sends, never) = oneshot::channel::<()>();
        let idle2 = Latch::new(1);
        let polled2 = idle2.clone();
        pool.spawn_with(signal_pending(never, polled2), move |h: TaskHandle<_>| {
            tx.send(h.get().unwrap_err().is_cancelled()).unwrap()
        })
        .unwrap();
        idle2.wait();
        assert_eq!(tokens.live(), 1);
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(
            tokens.live(),
            0,
            "the future was dropped before termination"
        );
        tokens.assert_all_dropped_once(1);
        assert_eq!(waiter.join().unwrap(), Ok(TaskState::Cancelled));
        assert_eq!(rx.recv_timeout(LONG), Ok(true));
        assert!(handle.get().unwrap_err().is_cancelled());
    });
}

/// Spawned after the pool is shut down but while it still runs a task: rejected
/// as before (the future comes back unpolled), nothing tracked.
#[test]
fn spawn_after_shutdown_is_rejected_and_not_tracked() {
    bounded(|| {
        let tokens = DropCounter::new(1);
        let pool = ThreadPool::new(1).unwrap();
        pool.shutdown();
        let token = tokens.token(0);
        let rejected = pool
            .spawn(async move {
                let _token = token;
            })
            .unwrap_err();
        drop(rejected.into_inner());
        assert_eq!(tokens.live(), 0);
        assert!(pool.await_termination(LONG).is_ok());
    });
}

/// An executor that forwards to a pool and counts the termination hooks it holds
/// for executor-futures (registered and not yet removed or run).
#[derive(Clone)]
struct Counting {
    pool: ThreadPool,
    registered: Arc<AtomicUsize>,
    live: Arc<AtomicUsize>,
    ran: Arc<AtomicUsize>,
}

impl Executor for Counting {
    fn execute_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        self.pool.execute_job(job)
    }
    fn requeue_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        self.pool.requeue_job(job)
    }
    fn on_termination_job(&self, hook: Job) -> Option<TerminationKey> {
        let (live, ran) = (self.live.clone(), self.ran.clone());
        self.live.fetch_add(1, Ordering::SeqCst);
        self.registered.fetch_add(1, Ordering::SeqCst);
        // `None`: it ran at once (and counted itself out).
        self.pool.on_termination(move || {
            live.fetch_sub(1, Ordering::SeqCst);
            ran.fetch_add(1, Ordering::SeqCst);
            hook.run();
        })
    }
    fn remove_termination_hook(&self, key: TerminationKey) -> bool {
        let removed = self.pool.remove_termination_hook(key);
        if removed {
            self.live.fetch_sub(1, Ordering::SeqCst);
        }
        removed
    }
}

/// A task that completes normally is taken out of its executor's set: after
/// 10 000 short async tasks, no hook is left (so none runs at termination), and
/// every captured value was dropped once. Half of them go idle once (and so are
/// in the set for a while); the other half complete in their first poll and never
/// enter it.
#[test]
fn completed_tasks_leave_the_set() {
    bounded(|| {
        const N: usize = 10_000;
        let exec = Counting {
            pool: ThreadPool::new(2).unwrap(),
            registered: Arc::new(AtomicUsize::new(0)),
            live: Arc::new(AtomicUsize::new(0)),
            ran: Arc::new(AtomicUsize::new(0)),
        };
        let tokens = DropCounter::new(N);
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let token = tokens.token(i);
                exec.spawn(async move {
                    let _token = token;
                    if i % 2 == 1 {
                        yield_once().await;
                    }
                    i
                })
                .unwrap()
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.get().unwrap(), i);
        }
        assert_eq!(
            exec.registered.load(Ordering::SeqCst),
            N / 2,
            "every task that went idle was tracked, no other"
        );
        assert_eq!(exec.live.load(Ordering::SeqCst), 0, "every task removed");
        tokens.assert_all_dropped_once(N);
        exec.pool.close();
        assert_eq!(exec.ran.load(Ordering::SeqCst), 0, "no hook left to run");
    });
}

/// Cancelled idle tasks leave the set too.
#[test]
fn cancelled_tasks_leave_the_set() {
    bounded(|| {
        let exec = Counting {
            pool: ThreadPool::new(1).unwrap(),
            registered: Arc::new(AtomicUsize::new(0)),
            live: Arc::new(AtomicUsize::new(0)),
            ran: Arc::new(AtomicUsize::new(0)),
        };
        let idle = Latch::new(100);
        let handles: Vec<_> = (0..100)
            .map(|_| {
                let pending = signal_pending(std::future::pending::<()>(), idle.clone());
                exec.spawn(pending).unwrap()
            })
            .collect();
        idle.wait();
        for h in &handles {
            assert!(h.cancel());
        }
        // A task may be cancelled while its runner is still between the `Pending`
        // and going idle; the runner then tracks it and drops it at once. Closing
        // the pool joins the workers: every runner is done.
        exec.pool.close();
        assert_eq!(exec.registered.load(Ordering::SeqCst), 100);
        assert_eq!(exec.live.load(Ordering::SeqCst), 0, "all removed");
        assert_eq!(exec.ran.load(Ordering::SeqCst), 0, "none left to run");
        assert!(handles.iter().all(|h| h.is_cancelled()));
    });
}

/// A detached task that nothing can wake any more (its future dropped the waker,
/// its handle is gone) is freed while idle; it leaves the set then, not only at
/// termination.
#[test]
fn freed_idle_tasks_leave_the_set() {
    bounded(|| {
        let exec = Counting {
            pool: ThreadPool::new(2).unwrap(),
            registered: Arc::new(AtomicUsize::new(0)),
            live: Arc::new(AtomicUsize::new(0)),
            ran: Arc::new(AtomicUsize::new(0)),
        };
        let tokens = DropCounter::new(100);
        for i in 0..100 {
            let token = tokens.token(i);
            drop(
                exec.spawn(async move {
                    let _token = token;
                    std::future::pending::<()>().await
                })
                .unwrap(),
            );
        }
        until(|| tokens.live() == 0, "the idle tasks were freed");
        until(
            || exec.live.load(Ordering::SeqCst) == 0,
            "the freed tasks left the set",
        );
        assert_eq!(exec.registered.load(Ordering::SeqCst), 100);
        exec.pool.close();
        assert_eq!(exec.ran.load(Ordering::SeqCst), 0);
        tokens.assert_all_dropped_once(100);
    });
}

/// Executors without termination (the trait default, here `InlineExecutor`) still
/// run async tasks; nothing is tracked.
#[test]
fn inline_executor_still_runs_async_tasks() {
    let h = executor_core::integration::InlineExecutor
        .spawn(async { 5 })
        .unwrap();
    assert_eq!(h.get().unwrap(), 5);
    let tokens = DropCounter::new(1);
    let token = tokens.token(0);
    let h = executor_core::integration::InlineExecutor
        .spawn(async move {
            let _token = token;
            std::future::pending::<()>().await
        })
        .unwrap();
    assert_eq!(h.state(), TaskState::Running);
    assert!(h.cancel());
    assert_eq!(tokens.live(), 0);
}

/// A `spawn_with` future that signals `polled` on each poll and stays `Pending`
/// without keeping the waker: once its `TaskRef` is dropped, nothing can wake it.
fn pending_forever(token: Token, polled: mpsc::Sender<()>) -> impl Future<Output = u32> {
    std::future::poll_fn(move |_cx| {
        let _token = &token;
        let _ = polled.send(());
        Poll::Pending
    })
}

/// What a hook saw: the handle's id, done, state and outcome, and how many
/// futures were still alive when it ran.
type Seen = (TaskId, bool, TaskState, Result<u32, TaskError>, usize);

fn reporting_hook(
    tokens: &Arc<DropCounter>,
    seen: mpsc::Sender<Seen>,
) -> impl FnOnce(TaskHandle<u32>) + Send + 'static {
    let tokens = tokens.clone();
    move |h: TaskHandle<u32>| {
        let (id, done, state) = (h.id(), h.is_done(), h.state());
        let live = tokens.live();
        seen.send((id, done, state, h.get(), live)).unwrap();
    }
}

/// An idle `spawn_with` task that nothing can wake any more (its future kept no
/// waker, its `TaskRef` is dropped) is freed: its hook still runs exactly once,
/// after its future was dropped, with a done handle of the task's id that
/// resolves as cancelled. The last reference goes away on the test thread or on
/// the worker after the poll (both happen across iterations); only outcomes are
/// asserted.
#[test]
fn abandoned_idle_spawn_with_runs_its_hook_once_as_cancelled() {
    bounded(|| {
        const N: usize = 50;
        let pool = ThreadPool::new(2).unwrap();
        let tokens = DropCounter::new(N);
        for i in 0..N {
            let (polled_tx, polled) = mpsc::channel();
            let (seen_tx, seen) = mpsc::channel();
            let task = pool
                .spawn_with(
                    pending_forever(tokens.token(i), polled_tx),
                    reporting_hook(&tokens, seen_tx),
                )
                .unwrap();
            let id = task.id();
            polled.recv().expect("the future was polled");
            drop(task);
            let (hook_id, done, state, result, live) = seen.recv().expect("the hook ran");
            assert_eq!(hook_id, id);
            assert!(done);
            assert_eq!(state, TaskState::Cancelled);
            assert!(matches!(result, Err(TaskError::Cancelled)), "{result:?}");
            assert_eq!(live, 0, "the future was dropped before the hook ran");
            assert!(tokens.is_dropped(i));
            // The hook (and its sender) is gone: it ran once, and never again.
            assert!(seen.recv().is_err());
            // Polled exactly once (never woken), and the future is gone.
            assert!(polled.recv().is_err());
        }
        tokens.assert_all_dropped_once(N);
        // Nothing is left in the pool's set for its termination to cancel.
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
    });
}

/// The last reference of an abandoned task may be a waker the future left
/// behind: dropping it frees the cell, and the hook runs then (here on the
/// test thread, or on the worker if it still held the cell), exactly once.
#[test]
fn abandoned_task_freed_by_its_last_waker_runs_its_hook() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let tokens = DropCounter::new(1);
        let token = tokens.token(0);
        let (waker_tx, waker_rx) = mpsc::channel();
        let (seen_tx, seen) = mpsc::channel();
        let task = pool
            .spawn_with(
                std::future::poll_fn(move |cx| {
                    let _token = &token;
                    let _ = waker_tx.send(cx.waker().clone());
                    Poll::<u32>::Pending
                }),
                reporting_hook(&tokens, seen_tx),
            )
            .unwrap();
        let id = task.id();
        let waker = waker_rx.recv().expect("the future was polled");
        drop(task);
        drop(waker);
        let (hook_id, done, state, result, live) = seen.recv().expect("the hook ran");
        assert_eq!((hook_id, done, state), (id, true, TaskState::Cancelled));
        assert!(matches!(result, Err(TaskError::Cancelled)), "{result:?}");
        assert_eq!(live, 0, "the future was dropped before the hook ran");
        assert!(seen.recv().is_err(), "the hook ran once");
        tokens.assert_all_dropped_once(1);
    });
}

/// A hook that panics on the abandon path is caught like every other hook's: the
/// thread that freed the cell (maybe this one) and the pool carry on.
#[test]
fn abandoned_task_hook_panic_is_caught() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let tokens = DropCounter::new(1);
        let (polled_tx, polled) = mpsc::channel();
        let (ran_tx, ran) = mpsc::channel();
        let task = pool
            .spawn_with(
                pending_forever(tokens.token(0), polled_tx),
                move |h: TaskHandle<u32>| {
                    ran_tx.send(h.is_cancelled()).unwrap();
                    panic!("hook of an abandoned task");
                },
            )
            .unwrap();
        polled.recv().expect("the future was polled");
        drop(task);
        assert_eq!(ran.recv(), Ok(true));
        assert!(ran.recv().is_err(), "the hook ran once");
        tokens.assert_all_dropped_once(1);
        assert_eq!(pool.submit(|| 3).unwrap().get().unwrap(), 3);
    });
}

/// A rejected `spawn_with` (pool shut down first) hands the future back unpolled
/// and drops the hook without running it: the abandon path at free must not fire.
#[test]
fn rejected_spawn_with_never_runs_its_hook() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        pool.shutdown();
        let tokens = DropCounter::new(1);
        let (polled_tx, polled) = mpsc::channel();
        let (seen_tx, seen) = mpsc::channel();
        let rejected = pool
            .spawn_with(
                pending_forever(tokens.token(0), polled_tx),
                reporting_hook(&tokens, seen_tx),
            )
            .unwrap_err();
        // The hook was dropped unrun (its sender is gone, nothing was sent)...
        assert!(seen.recv().is_err(), "the hook of a rejected task ran");
        // ...and the future came back, never polled.
        assert_eq!(tokens.live(), 1);
        let future = rejected.into_inner();
        assert!(polled.try_recv().is_err());
        drop(future);
        tokens.assert_all_dropped_once(1);
        assert!(pool.await_termination(LONG).is_ok());
    });
}

/// The ordinary endings still run the hook exactly once, and freeing the cell
/// afterwards does not run it again: completed after going idle and being woken,
/// and cancelled while idle (then its `TaskRef` dropped).
#[test]
fn spawn_with_hook_runs_once_when_completed_or_cancelled() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let tokens = DropCounter::new(2);

        let (seen_tx, seen) = mpsc::channel();
        let token = tokens.token(0);
        let task = pool
            .spawn_with(
                async move {
                    let _token = token;
                    yield_once().await;
                    7u32
                },
                reporting_hook(&tokens, seen_tx),
            )
            .unwrap();
        let id = task.id();
        drop(task);
        let (hook_id, done, state, result, live) = seen.recv().expect("the hook ran");
        assert_eq!((hook_id, done, state), (id, true, TaskState::Completed));
        assert!(matches!(result, Ok(7)), "{result:?}");
        assert_eq!(live, 0);
        assert!(seen.recv().is_err(), "the hook ran once");

        let (seen_tx, seen) = mpsc::channel();
        let (polled_tx, polled) = mpsc::channel();
        let task = pool
            .spawn_with(
                pending_forever(tokens.token(1), polled_tx),
                reporting_hook(&tokens, seen_tx),
            )
            .unwrap();
        let id = task.id();
        polled.recv().expect("the future was polled");
        assert!(task.cancel());
        let (hook_id, done, state, result, _) = seen.recv().expect("the hook ran");
        assert_eq!((hook_id, done, state), (id, true, TaskState::Cancelled));
        assert!(matches!(result, Err(TaskError::Cancelled)), "{result:?}");
        drop(task);
        assert!(seen.recv().is_err(), "the hook ran once");
        // Cancelled maybe during its poll: then the runner drops the future after
        // the poll (and after the hook ran); its sender goes with it.
        assert!(polled.recv().is_err());
        tokens.assert_all_dropped_once(2);
    });
}
