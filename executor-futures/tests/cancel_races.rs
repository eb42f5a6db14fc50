//! B.8: cancellation races (R2, R3, R4, R6) and cooperative cancellation scoping.
//! Iteration counts are reduced so the suite stays fast in debug builds.
#![allow(missing_docs)]

mod common;

use common::*;
use executor_core::ThreadPool;
use executor_futures::{
    checkpoint, current_task, is_cancelled, Cancelled, ExecutorService, TaskHandle,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Barrier};

/// R2: 8 concurrent cancellers of one pending task: exactly one wins.
#[test]
fn r2_concurrent_cancellers_exactly_one_wins() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let blocker = pool.submit(move || g.wait()).unwrap();
        const THREADS: usize = 8;
        const ITERS: usize = 300;
        let barrier = Arc::new(Barrier::new(THREADS + 1));
        let wins = Arc::new(AtomicUsize::new(0));
        let (txs, threads): (Vec<_>, Vec<_>) = (0..THREADS)
            .map(|_| {
                let (tx, rx) = channel::<executor_futures::TaskRef>();
                let (barrier, wins) = (barrier.clone(), wins.clone());
                let t = std::thread::spawn(move || {
                    for r in rx {
                        barrier.wait();
                        if r.cancel() {
                            wins.fetch_add(1, Ordering::SeqCst);
                        }
                        barrier.wait();
                    }
                });
                (tx, t)
            })
            .unzip();
        for _ in 0..ITERS {
            let h = pool.submit(|| 1).unwrap();
            for tx in &txs {
                tx.send(h.task_ref()).unwrap();
            }
            wins.store(0, Ordering::SeqCst);
            barrier.wait();
            barrier.wait();
            assert_eq!(wins.load(Ordering::SeqCst), 1);
            assert!(h.get().unwrap_err().is_cancelled());
        }
        drop(txs);
        for t in threads {
            t.join().unwrap();
        }
        gate.open();
        blocker.get().unwrap();
    });
}

/// Consumed by the body, or dropped unrun; records which.
struct Guard {
    ran: Arc<AtomicUsize>,
    unrun: Arc<AtomicUsize>,
    done: bool,
}

impl Guard {
    fn run(mut self) {
        self.done = true;
        self.ran.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.done {
            self.unrun.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// R3: a task cancelled while pending never starts; each iteration ends in
/// exactly one of "ran" (and `cancel` false, or true while running) or "dropped
/// unrun by the cancel".
#[test]
fn r3_cancelled_task_never_starts() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let (tx, rx) = channel::<(TaskHandle<u32>, Arc<Barrier>)>();
        let (res_tx, res_rx) = channel::<(bool, Result<u32, bool>)>();
        let canceller = std::thread::spawn(move || {
            for (h, b) in rx {
                b.wait();
                let won = h.cancel();
                let r = h.get().map_err(|e| e.is_cancelled());
                res_tx.send((won, r)).unwrap();
            }
        });
        let (mut pending_wins, mut running_wins) = (0, 0);
        for i in 0..3_000u32 {
            let ran = Arc::new(AtomicUsize::new(0));
            let unrun = Arc::new(AtomicUsize::new(0));
            let guard = Guard {
                ran: ran.clone(),
                unrun: unrun.clone(),
                done: false,
            };
            let b = Arc::new(Barrier::new(2));
            let h = pool
                .submit(move || {
                    guard.run();
                    i
                })
                .unwrap();
            tx.send((h, b.clone())).unwrap();
            b.wait();
            let (won, result) = res_rx.recv_timeout(LONG).unwrap();
            // A cancel that won while the body ran returns before the body ends.
            until(
                || ran.load(Ordering::SeqCst) + unrun.load(Ordering::SeqCst) > 0,
                "the body or the cancel to consume the guard",
            );
            let (ran, unrun) = (ran.load(Ordering::SeqCst), unrun.load(Ordering::SeqCst));
            assert_eq!(
                ran + unrun,
                1,
                "iteration {i}: ran {ran}, dropped unrun {unrun}"
            );
            if won {
                assert_eq!(result, Err(true));
                if unrun == 1 {
                    pending_wins += 1;
                } else {
                    running_wins += 1;
                }
            } else {
                assert_eq!(ran, 1);
                assert_eq!(result, Ok(i));
            }
        }
        drop(tx);
        canceller.join().unwrap();
        eprintln!("r3: cancel won {pending_wins}x while pending, {running_wins}x while running");
    });
}

/// R4: cancel wakes every blocked timed waiter.
#[test]
fn r4_cancel_wakes_timed_waiters() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        let blocker = pool.submit(move || g.wait()).unwrap();
        let h = pool.submit(|| 1).unwrap();
        let ready = Arc::new(Barrier::new(5));
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let (r, ready) = (h.task_ref(), ready.clone());
                std::thread::spawn(move || {
                    ready.wait();
                    (r.wait_timeout(LONG), r.is_cancelled())
                })
            })
            .collect();
        ready.wait();
        assert!(h.cancel());
        for w in waiters {
            assert_eq!(w.join().unwrap(), (Ok(()), true));
        }
        gate.open();
        blocker.get().unwrap();
    });
}

/// R6: cancel, handle drop and completion race; every closure and output is
/// dropped exactly once.
#[test]
fn r6_cancel_drop_complete_race_drops_everything_once() {
    bounded(|| {
        const ITERS: usize = 3_000;
        let pool = ThreadPool::new(2).unwrap();
        let closures = DropCounter::new(ITERS);
        let outputs = DropCounter::new(ITERS);
        let barrier = Arc::new(Barrier::new(2));
        let (tx, rx) = channel::<executor_futures::TaskRef>();
        let b = barrier.clone();
        let canceller = std::thread::spawn(move || {
            for r in rx {
                b.wait();
                r.cancel();
            }
        });
        let mut refs = Vec::with_capacity(ITERS);
        for i in 0..ITERS {
            let c = closures.token(i);
            let out = outputs.clone();
            let h = pool
                .submit(move || {
                    let _c = c;
                    out.token(i)
                })
                .unwrap();
            refs.push(h.task_ref());
            tx.send(h.task_ref()).unwrap();
            barrier.wait();
            drop(h);
        }
        drop(tx);
        canceller.join().unwrap();
        for r in &refs {
            r.wait().unwrap();
        }
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        closures.assert_all_dropped_once(ITERS);
        assert_eq!(outputs.live(), 0);
        assert_eq!(outputs.dropped(), outputs.created());
        let ran = outputs.created();
        let cancelled = refs.iter().filter(|r| r.is_cancelled()).count();
        assert!(ran >= ITERS - cancelled, "every uncancelled task ran");
    });
}

#[test]
fn cancellation_flag_does_not_leak_into_the_next_task() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let started = Latch::new(1);
        let s = started.clone();
        let first = pool
            .submit(move || {
                s.count_down();
                Gate::new().wait_or_cancelled();
                (is_cancelled(), checkpoint())
            })
            .unwrap();
        let second = pool.submit(|| (is_cancelled(), checkpoint())).unwrap();
        started.wait();
        let first_ref = first.task_ref();
        assert!(first.cancel());
        first_ref.wait().unwrap();
        assert_eq!(second.get().unwrap(), (false, Ok(())));
        assert!(!is_cancelled(), "not a task");
    });
}

#[test]
fn nested_child_of_a_cancelled_parent_is_not_cancelled() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let started = Latch::new(1);
        let cancelled_seen = Latch::new(1);
        let (result_tx, result_rx) = channel();
        let (s, c, p) = (started.clone(), cancelled_seen.clone(), pool.clone());
        let outer = pool
            .submit(move || {
                s.count_down();
                Gate::new().wait_or_cancelled();
                c.count_down();
                let before = is_cancelled();
                let child = p.submit(|| (is_cancelled(), checkpoint())).unwrap();
                let child_saw = child.get().unwrap();
                let after = is_cancelled();
                result_tx.send((before, child_saw, after)).unwrap();
            })
            .unwrap();
        started.wait();
        assert!(outer.cancel());
        cancelled_seen.wait();
        let (before, child_saw, after) = result_rx.recv_timeout(LONG).unwrap();
        assert!(before);
        assert_eq!(child_saw, (false, Ok(())), "the child has its own flag");
        assert!(after, "the parent's flag is back after the nested task");
    });
}

#[test]
fn shutdown_now_raises_the_flag_of_running_tasks() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let started = Latch::new(1);
        let s = started.clone();
        let h = pool
            .submit(move || -> Result<u32, Cancelled> {
                s.count_down();
                while checkpoint().is_ok() {
                    std::thread::yield_now();
                }
                checkpoint()?;
                Ok(1)
            })
            .unwrap();
        started.wait();
        assert!(pool.shutdown_now().is_empty());
        assert_eq!(h.get().unwrap(), Err(Cancelled));
        assert!(pool.await_termination(LONG).is_ok());
    });
}

#[test]
fn current_task_is_a_cancellation_token_for_helper_threads() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let started = Latch::new(1);
        let s = started.clone();
        let stopped = Arc::new(AtomicBool::new(false));
        let st = stopped.clone();
        let h = pool
            .submit(move || {
                let token = current_task().expect("inside a task");
                let helper = std::thread::spawn(move || {
                    while !token.is_cancelled() {
                        std::thread::yield_now();
                    }
                    st.store(true, Ordering::SeqCst);
                });
                s.count_down();
                helper.join().unwrap();
            })
            .unwrap();
        started.wait();
        let r = h.task_ref();
        assert!(h.cancel());
        r.wait().unwrap();
        until(
            || stopped.load(Ordering::SeqCst),
            "helper thread saw the token",
        );
        assert!(current_task().is_none());
    });
}
