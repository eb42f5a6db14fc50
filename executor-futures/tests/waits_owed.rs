//! Issue 17, item 1: a wait on a worker runs only work it is owed (its own
//! subtree), otherwise it blocks while the pool compensates with a spare
//! worker. Each test is one scenario of the "Why" list.
#![allow(missing_docs)]

use executor_core::{block_in_place, ThreadPool};
use executor_futures::ExecutorService;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use testkit::{bounded, Gate, Latch, LONG};

/// Generous slack for a timed wait on a loaded 2-core machine; the unrelated
/// jobs below run for 2 s, so a wait that ran one inline would take longer.
const SLACK: Duration = Duration::from_millis(900);
const UNRELATED: Duration = Duration::from_secs(2);

/// `get_timeout(50 ms)` on a worker for a 10 ms child queued behind long
/// unrelated jobs returns within the slack (done or timed out): it must not
/// pick up an unrelated job (the old helping wait did, and returned after it).
#[test]
fn deadline_kept_while_long_unrelated_jobs_are_queued() {
    bounded(|| {
        for threads in [1, 2] {
            let pool = ThreadPool::new(threads).unwrap();
            let (tx, rx) = mpsc::channel();
            let waiter = pool
                .submit(move || {
                    let mut child: executor_futures::TaskHandle<()> = rx.recv().unwrap();
                    let t = Instant::now();
                    let r = child.get_timeout(Duration::from_millis(50));
                    (t.elapsed(), r.is_ok())
                })
                .unwrap();
            for _ in 0..4 {
                pool.execute(|| std::thread::sleep(UNRELATED)).unwrap();
            }
            let child = pool
                .submit(|| std::thread::sleep(Duration::from_millis(10)))
                .unwrap();
            tx.send(child).unwrap();
            let (took, _done_in_time) = waiter.get().unwrap();
            // Done in time, or timed out in time: both keep the deadline.
            assert!(took < SLACK, "{threads} threads: get_timeout took {took:?}");
            pool.shutdown_now();
        }
    });
}

/// On a 1-thread pool, `get_timeout(20 ms)` on a queued 500 ms task returns a
/// timeout after about 20 ms while a spare worker runs the task.
#[test]
fn timed_wait_on_a_queued_long_task_times_out_on_time() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let p = pool.clone();
        let r = pool
            .submit(move || {
                let mut long = p.submit(|| std::thread::sleep(UNRELATED)).unwrap();
                let t = Instant::now();
                let r = long.get_timeout(Duration::from_millis(20));
                let took = t.elapsed();
                let timed_out = r.as_ref().is_err_and(|e| e.is_timed_out());
                // The untimed wait then gets the value (run by a spare).
                (took, timed_out, long.get().is_ok())
            })
            .unwrap()
            .get()
            .unwrap();
        assert!(r.0 < SLACK, "get_timeout took {:?}", r.0);
        assert!(r.1, "it timed out");
        assert!(r.2, "the task still completed");
    });
}

/// A task submits a slow child, then queues a job that blocks on a channel
/// the task signals right after `child.get_timeout(20 ms)`. The wait must not
/// run that job inline (it would block forever).
#[test]
fn the_channel_case_returns() {
    bounded(|| {
        for threads in [1, 2] {
            let pool = ThreadPool::new(threads).unwrap();
            let p = pool.clone();
            let h = pool
                .submit(move || {
                    let (tx, rx) = mpsc::channel::<()>();
                    let mut child = p
                        .submit(|| std::thread::sleep(Duration::from_millis(300)))
                        .unwrap();
                    let blocked_on_channel = p.submit(move || rx.recv().unwrap()).unwrap();
                    let r = child.get_timeout(Duration::from_millis(20));
                    tx.send(()).unwrap();
                    blocked_on_channel.get().unwrap();
                    r.is_err_and(|e| e.is_timed_out())
                })
                .unwrap();
            assert!(h.get().unwrap(), "{threads} threads: timed out as asked");
        }
    });
}

/// 100,000 queued tasks each `wait()` on one slow task, on workers with a
/// small stack: no wait runs another waiter inside itself, so the stack does
/// not grow with the queue (the old helping wait overflowed it).
#[test]
fn flat_waiters_on_one_slow_task_do_not_grow_the_stack() {
    bounded(|| {
        let pool = ThreadPool::builder()
            .num_threads(2)
            .stack_size(256 << 10)
            .build()
            .unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let slow = pool.submit(move || g.wait()).unwrap().task_ref();
        let done = Arc::new(AtomicUsize::new(0));
        const N: usize = 100_000;
        for _ in 0..N {
            let (slow, done) = (slow.clone(), done.clone());
            pool.execute(move || {
                slow.wait().unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        gate.open();
        pool.close();
        assert_eq!(done.load(Ordering::Relaxed), N);
        assert_eq!(pool.stats().spares, 0, "every spare exited with the pool");
    });
}

/// A wait on pool A's worker never runs pool B's queued task inline.
#[test]
fn a_wait_on_pool_a_never_runs_pool_b_task() {
    bounded(|| {
        let a = ThreadPool::builder()
            .name("pool-a")
            .num_threads(1)
            .build()
            .unwrap();
        let b = ThreadPool::builder()
            .name("pool-b")
            .num_threads(1)
            .build()
            .unwrap();
        let gate = testkit::block_all_workers(&b);
        let task_b = b
            .submit(|| std::thread::current().name().map(str::to_owned))
            .unwrap();
        let waiter = a.submit(move || task_b.get().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        gate.open();
        let ran_on = waiter.get().unwrap().unwrap();
        assert!(ran_on.starts_with("pool-b"), "B's task ran on {ran_on}");
    });
}

/// A 2-thread pool whose 50 tasks each wait (through a task handle) on a task
/// that waits, in `block_in_place`, on a latch the 51st task releases:
/// compensation lets the 51st start.
#[test]
fn fifty_handle_waiters_and_the_releasing_task_complete() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let latch = Latch::new(1);
        let l = latch.clone();
        let gatekeeper = pool
            .submit(move || block_in_place(|| l.wait()))
            .unwrap()
            .task_ref();
        let waited = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let (g, w) = (gatekeeper.clone(), waited.clone());
                pool.submit(move || {
                    g.wait().unwrap();
                    w.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap()
            })
            .collect();
        let release = pool.submit(move || latch.count_down()).unwrap();
        release.get().unwrap();
        for h in handles {
            h.get().unwrap();
        }
        assert_eq!(waited.load(Ordering::SeqCst), 50);
        assert!(pool.stats().spares <= executor_core::DEFAULT_MAX_SPARES);
        let _ = LONG;
    });
}

/// Nested waits on a 1-thread pool with compensation off (no spares): the
/// awaited children are on the waiter's own deque, so the wait runs them.
#[test]
fn nested_waits_complete_on_one_thread_without_spares() {
    bounded(|| {
        fn chain(pool: ThreadPool, depth: usize) -> usize {
            if depth == 0 {
                return 0;
            }
            let p = pool.clone();
            pool.submit(move || chain(p, depth - 1))
                .unwrap()
                .get()
                .unwrap()
                + 1
        }
        let pool = ThreadPool::builder()
            .num_threads(1)
            .max_spares(0)
            .build()
            .unwrap();
        let p = pool.clone();
        assert_eq!(
            pool.submit(move || chain(p, 200)).unwrap().get().unwrap(),
            200
        );
        assert_eq!(pool.stats().spares, 0);
    });
}
