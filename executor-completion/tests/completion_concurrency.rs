//! TESTS.md B.6 C5–C6 (exactly-once under load, no lost wake-up), B.8 R5 (cancel
//! racing completion, delivered once), and bounded mode.

mod common;

use common::*;
use executor_completion::{CompletionService, TrySubmitError};
use executor_core::ThreadPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;

/// A tiny, varying amount of work (no sleeps).
fn spin(n: usize) {
    for i in 0..(n % 64) {
        std::hint::black_box(i);
    }
}

/// `take` until `total` results were taken by all consumers together; `take`
/// returns `None` while producers lag behind (nothing outstanding), so retry.
fn consume(cs: &CompletionService<usize>, taken: &AtomicUsize, total: usize, log: &RunLog) {
    while taken.load(Ordering::SeqCst) < total {
        match cs.take() {
            Some(done) => {
                log.mark(done.get().unwrap());
                taken.fetch_add(1, Ordering::SeqCst);
            }
            None => std::thread::yield_now(),
        }
    }
}

#[test]
fn c5_exactly_once_delivery_under_load() {
    bounded(|| {
        const PER: usize = 10_000;
        let pool = ThreadPool::new(2).unwrap();
        let cs = CompletionService::new(pool);
        let ran = RunLog::new(2 * PER);
        let taken_log = RunLog::new(2 * PER);
        let taken = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for p in 0..2 {
                let (cs, ran) = (&cs, ran.clone());
                s.spawn(move || {
                    for i in p * PER..(p + 1) * PER {
                        let ran = ran.clone();
                        cs.submit(move || {
                            ran.mark(i);
                            spin(i);
                            i
                        })
                        .unwrap();
                    }
                });
            }
            for _ in 0..2 {
                s.spawn(|| consume(&cs, &taken, 2 * PER, &taken_log));
            }
        });
        ran.assert_all(1);
        taken_log.assert_all(1);
        assert_eq!(taken.load(Ordering::SeqCst), 2 * PER);
        assert!(cs.poll().is_none());
        assert!(cs.is_empty());
    });
}

/// A task that stays outstanding until its gate opens, so `take` blocks (DD5
/// would otherwise return `None` between tasks).
fn anchor(cs: &CompletionService<usize>) -> Gate {
    let gate = Gate::new();
    let g = gate.clone();
    cs.submit(move || {
        g.wait();
        usize::MAX
    })
    .unwrap();
    gate
}

#[test]
fn c6_no_lost_wakeup_in_take() {
    bounded(|| {
        const N: usize = 10_000;
        let pool = ThreadPool::new(2).unwrap();
        let cs = CompletionService::new(pool);
        let gate = anchor(&cs);
        let (tx, rx) = channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..N {
                    let done = cs.take().expect("the anchor is outstanding");
                    tx.send(done.get().unwrap()).unwrap();
                }
            });
            for i in 0..N {
                cs.submit(move || i).unwrap();
                let got = rx.recv_timeout(LONG).expect("take stalled: lost wake-up");
                assert_eq!(got, i);
            }
            gate.open();
        });
        assert_eq!(cs.take().unwrap().get().unwrap(), usize::MAX);
    });
}

#[test]
fn c6_no_lost_wakeup_in_poll_timeout() {
    bounded(|| {
        const N: usize = 5_000;
        let pool = ThreadPool::new(2).unwrap();
        let cs = CompletionService::new(pool);
        let gate = anchor(&cs);
        let (tx, rx) = channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..N {
                    let done = cs.poll_timeout(LONG).ok().flatten().expect("within LONG");
                    tx.send(done.get().unwrap()).unwrap();
                }
            });
            for i in 0..N {
                cs.submit(move || i).unwrap();
                assert_eq!(rx.recv_timeout(LONG).expect("lost wake-up"), i);
            }
            gate.open();
        });
    });
}

#[test]
fn hand_off_between_consumers_loses_no_result() {
    // Many consumers blocked at once, results arriving in bursts: every result is
    // taken (a wake-up per result, passed on when a woken consumer finds none).
    bounded(|| {
        const ROUNDS: usize = 300;
        const CONSUMERS: usize = 4;
        let pool = ThreadPool::new(2).unwrap();
        let cs = CompletionService::new(pool);
        let gate = anchor(&cs);
        let taken = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..CONSUMERS {
                s.spawn(|| {
                    while let Some(done) = cs.take() {
                        if done.get().unwrap() == usize::MAX {
                            stop.store(true, Ordering::SeqCst);
                            break;
                        }
                        taken.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
            for round in 0..ROUNDS {
                for k in 0..3 {
                    cs.submit(move || round * 3 + k).unwrap();
                }
                until(
                    || taken.load(Ordering::SeqCst) == (round + 1) * 3,
                    "a burst to be taken",
                );
            }
            gate.open();
        });
        assert!(stop.load(Ordering::SeqCst));
        assert_eq!(taken.load(Ordering::SeqCst), ROUNDS * 3);
    });
}

#[test]
fn r5_cancel_racing_completion_is_delivered_once() {
    bounded(|| {
        const N: usize = 20_000;
        let pool = ThreadPool::new(2).unwrap();
        let cs = CompletionService::new(pool);
        let (id_tx, id_rx) = channel();
        let mut cancelled = HashMap::new();
        let mut outcomes = HashMap::new();
        std::thread::scope(|s| {
            let canceller = s.spawn(|| {
                let mut won = HashMap::new();
                for id in id_rx {
                    won.insert(id, cs.cancel(id));
                }
                won
            });
            let consumer = s.spawn(|| {
                let mut seen = HashMap::new();
                let mut n = 0;
                while n < N {
                    match cs.take() {
                        Some(done) => {
                            let prev = seen.insert(done.id(), done.is_cancelled());
                            assert!(prev.is_none(), "delivered twice");
                            if !done.is_cancelled() {
                                assert_eq!(done.get().unwrap(), 1);
                            }
                            n += 1;
                        }
                        None => std::thread::yield_now(),
                    }
                }
                seen
            });
            for _ in 0..N {
                let id = cs.submit(|| 1usize).unwrap();
                id_tx.send(id).unwrap();
            }
            drop(id_tx);
            cancelled = canceller.join().unwrap();
            outcomes = consumer.join().unwrap();
        });
        assert_eq!(outcomes.len(), N);
        for (id, won) in &cancelled {
            assert_eq!(
                outcomes[id], *won,
                "the outcome agrees with cancel's answer"
            );
        }
        assert!(cs.poll().is_none());
    });
}

#[test]
fn bounded_submit_blocks_until_a_take_and_try_submit_reports_full() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let cs = CompletionService::bounded(pool, 2);
        cs.submit(|| 1usize).unwrap();
        cs.submit(|| 2usize).unwrap();
        // Full even once both are done: results count until taken.
        until(|| cs.ready() == 2, "both done");
        match cs.try_submit(|| 3usize) {
            Err(TrySubmitError::Full(f)) => assert_eq!(f.into_inner()(), 3),
            other => panic!("expected Full, got {other:?}"),
        }
        let (tx, rx) = channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                cs.submit(|| 4usize).unwrap();
                tx.send(()).unwrap();
            });
            until_waiting_submitters(&cs, 1);
            assert!(rx.try_recv().is_err(), "submit returned while full");
            assert!(cs.take().is_some());
            rx.recv_timeout(LONG).expect("take released the submitter");
        });
        assert_eq!(cs.outstanding(), 2);
        let rest: Vec<usize> = cs.iter().map(|d| d.get().unwrap()).collect();
        assert_eq!(rest.len(), 2);
        assert!(cs.try_submit(|| 5usize).is_ok());
    });
}

#[test]
fn bounded_mode_caps_outstanding_under_concurrency() {
    bounded(|| {
        const CAP: usize = 8;
        const PER: usize = 2_000;
        let pool = ThreadPool::new(2).unwrap();
        let cs = CompletionService::bounded(pool, CAP);
        let over = AtomicUsize::new(0);
        let taken = AtomicUsize::new(0);
        let log = RunLog::new(3 * PER);
        std::thread::scope(|s| {
            for p in 0..3 {
                let (cs, over) = (&cs, &over);
                s.spawn(move || {
                    for i in p * PER..(p + 1) * PER {
                        cs.submit(move || i).unwrap();
                        if cs.outstanding() > CAP {
                            over.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
            for _ in 0..2 {
                s.spawn(|| consume(&cs, &taken, 3 * PER, &log));
            }
        });
        assert_eq!(over.load(Ordering::SeqCst), 0, "more than CAP outstanding");
        log.assert_all(1);
    });
}

#[test]
fn bounded_submitters_blocked_together_are_all_released() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let cs = Arc::new(CompletionService::bounded(pool, 1));
        let gate = Gate::new();
        let g = gate.clone();
        cs.submit(move || {
            g.wait();
            0usize
        })
        .unwrap();
        let (tx, rx) = channel();
        let submitters: Vec<_> = (1..=3usize)
            .map(|i| {
                let (cs, tx) = (cs.clone(), tx.clone());
                std::thread::spawn(move || {
                    cs.submit(move || i).unwrap();
                    tx.send(i).unwrap();
                })
            })
            .collect();
        until_waiting_submitters(&*cs, 3);
        gate.open();
        let mut sum = 0;
        for _ in 0..4 {
            // `take` is None while a released submitter has not submitted yet.
            let mut next = None;
            until(
                || {
                    next = cs.take();
                    next.is_some()
                },
                "the next result",
            );
            sum += next.unwrap().get().unwrap();
        }
        assert_eq!(sum, 6);
        for _ in 0..3 {
            rx.recv_timeout(LONG).expect("every submitter got room");
        }
        for t in submitters {
            t.join().unwrap();
        }
        assert!(cs.is_empty());
    });
}
