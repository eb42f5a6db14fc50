//! The completion service as a `futures_core::Stream` on foreign executors
//! (futures' `block_on`, a tokio current-thread runtime), its wake-up contract,
//! and hand-off between a stream and a blocked `take`.

mod common;

use common::*;
use executor_completion::CompletionService;
use executor_core::ThreadPool;
use futures::{Stream, StreamExt};
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

#[test]
fn stream_yields_in_completion_order_on_block_on() {
    bounded(|| {
        let pool = ThreadPool::new(3).unwrap();
        let cs = CompletionService::new(pool);
        let gates: Vec<Gate> = (0..3).map(|_| Gate::new()).collect();
        for (i, gate) in gates.iter().enumerate() {
            let g = gate.clone();
            cs.submit(move || {
                g.wait();
                i
            })
            .unwrap();
        }
        let mut stream = cs.stream();
        let mut order = Vec::new();
        for i in [2usize, 0, 1] {
            gates[i].open();
            let done = futures::executor::block_on(stream.next()).expect("outstanding");
            order.push(done.get().unwrap());
        }
        assert_eq!(order, [2, 0, 1]);
        assert!(futures::executor::block_on(stream.next()).is_none());
    });
}

#[test]
fn stream_on_a_tokio_current_thread_runtime() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let cs = CompletionService::new(pool);
        for i in 0..100u64 {
            cs.submit(move || i).unwrap();
        }
        let sum = rt.block_on(async {
            let mut sum = 0;
            let mut stream = cs.stream();
            while let Some(done) = stream.next().await {
                sum += done.get().unwrap();
            }
            sum
        });
        assert_eq!(sum, (0..100).sum());

        // An owned stream moved into a spawned tokio task, fed while it waits.
        let cs = CompletionService::new(ThreadPool::new(2).unwrap());
        let gate = Gate::new();
        let g = gate.clone();
        cs.submit(move || {
            g.wait();
            0
        })
        .unwrap();
        let mut stream = cs.into_stream();
        for i in 1..=10u64 {
            stream.service().submit(move || i).unwrap();
        }
        let total = rt.block_on(async move {
            let task = tokio::spawn(async move {
                let mut total = 0;
                let mut n = 0;
                while let Some(done) = stream.next().await {
                    total += done.get().unwrap();
                    n += 1;
                    if n == 10 {
                        gate.open(); // the last one can finish now
                    }
                }
                total
            });
            task.await.unwrap()
        });
        assert_eq!(total, 55);
    });
}

#[test]
fn stream_no_lost_wakeup_hammer() {
    bounded(|| {
        const N: usize = 5_000;
        let pool = ThreadPool::new(2).unwrap();
        let cs = CompletionService::new(pool);
        let gate = Gate::new();
        let g = gate.clone();
        cs.submit(move || {
            g.wait();
            usize::MAX
        })
        .unwrap();
        let mut stream = cs.stream();
        for i in 0..N {
            cs.submit(move || i).unwrap();
            let got = futures::executor::block_on(stream.next()).unwrap();
            assert_eq!(got.get().unwrap(), i);
        }
        gate.open();
        assert_eq!(
            futures::executor::block_on(stream.next())
                .unwrap()
                .get()
                .unwrap(),
            usize::MAX
        );
    });
}

#[test]
fn stream_registers_its_waker_and_is_woken_once_per_delivery() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let cs = CompletionService::new(pool);
        let gate = Gate::new();
        let g = gate.clone();
        cs.submit(move || {
            g.wait();
            1
        })
        .unwrap();
        let counter = Arc::new(CountWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut stream = cs.stream();
        assert!(Pin::new(&mut stream).poll_next(&mut cx).is_pending());
        // Polled again with the same waker: still one registration.
        assert!(Pin::new(&mut stream).poll_next(&mut cx).is_pending());
        until_waiting_consumers(&cs, 1);
        gate.open();
        until(|| counter.count() == 1, "the stream's waker to be woken");
        match Pin::new(&mut stream).poll_next(&mut cx) {
            Poll::Ready(Some(done)) => assert_eq!(done.get().unwrap(), 1),
            other => panic!("expected the result, got {:?}", other.is_pending()),
        }
        assert!(matches!(
            Pin::new(&mut stream).poll_next(&mut cx),
            Poll::Ready(None)
        ));
        assert_eq!(counter.count(), 1);
    });
}

#[test]
fn a_woken_stream_dropped_unpolled_passes_its_wakeup_on() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let cs = CompletionService::new(pool);
        let gate = Gate::new();
        let g = gate.clone();
        cs.submit(move || {
            g.wait();
            7
        })
        .unwrap();
        let g2 = Gate::new();
        let g3 = g2.clone();
        cs.submit(move || {
            g3.wait();
            8
        })
        .unwrap();
        let counter = Arc::new(CountWaker::default());
        let waker = Waker::from(counter.clone());
        let mut stream = cs.stream();
        // The stream registers first, so it is the one woken first.
        assert!(Pin::new(&mut stream)
            .poll_next(&mut Context::from_waker(&waker))
            .is_pending());
        std::thread::scope(|s| {
            let taker = s.spawn(|| cs.take().map(|d| d.get().unwrap()));
            until_waiting_consumers(&cs, 2);
            gate.open();
            until(|| counter.count() == 1, "the stream to be woken");
            drop(stream); // never polls again: the result must reach the taker
            assert_eq!(taker.join().unwrap(), Some(7));
        });
        g2.open();
        assert_eq!(cs.take().unwrap().get().unwrap(), 8);
    });
}

#[test]
fn several_streams_and_takers_share_the_results_exactly_once() {
    bounded(|| {
        const N: usize = 2_000;
        let pool = ThreadPool::new(2).unwrap();
        let cs = CompletionService::new(pool);
        let gate = Gate::new();
        let g = gate.clone();
        let anchor = cs
            .submit(move || {
                g.wait();
                usize::MAX
            })
            .unwrap();
        let results = std::thread::scope(|s| {
            let consumers: Vec<_> = (0..4)
                .map(|k| {
                    let cs = &cs;
                    s.spawn(move || {
                        let mut got = Vec::new();
                        if k % 2 == 0 {
                            let mut stream = cs.stream();
                            while let Some(d) = futures::executor::block_on(stream.next()) {
                                got.push(d.id());
                            }
                        } else {
                            while let Some(d) = cs.take() {
                                got.push(d.id());
                            }
                        }
                        got
                    })
                })
                .collect();
            let mut ids = HashSet::new();
            for i in 0..N {
                ids.insert(cs.submit(move || i).unwrap());
            }
            ids.insert(anchor);
            until(|| cs.pending() == 1, "all but the anchor done");
            gate.open();
            let mut all = Vec::new();
            for c in consumers {
                all.extend(c.join().unwrap());
            }
            (ids, all)
        });
        let (ids, all) = results;
        assert_eq!(all.len(), N + 1, "no loss, no duplicate");
        assert_eq!(all.into_iter().collect::<HashSet<_>>(), ids);
    });
}
