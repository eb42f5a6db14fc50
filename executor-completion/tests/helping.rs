//! A helping consumer (`CompletionService::helping`): outside the pool, `take`
//! and the blocking iterator run the service's own unstarted tasks instead of
//! parking. Exact accounting: each task runs once (on the consumer or on a
//! worker, never both), each result is delivered once, nothing leaks; and the
//! cases where the consumer must *not* help (a timed wait, an async task, a
//! pool that was shut down) leave the tasks alone.

mod common;

use common::*;
use executor_completion::CompletionService;
use executor_core::ThreadPool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[test]
fn a_helping_consumer_runs_the_queued_tasks_itself_newest_first_and_once() {
    bounded(|| {
        const N: usize = 20;
        let pool = ThreadPool::new(1).unwrap();
        let gate = block_all_workers(&pool);
        let service = CompletionService::new(&pool).helping(true);
        assert!(service.is_helping());
        let ran = RunLog::new(N);
        let order = Arc::new(Mutex::new(Vec::new()));
        let drops = DropCounter::new(N);
        let me = std::thread::current().id();
        for i in 0..N {
            let (ran, order, token) = (ran.clone(), order.clone(), drops.token(i));
            service
                .submit(move || {
                    let _token = token;
                    ran.mark(i);
                    order.lock().unwrap().push(i);
                    (i, std::thread::current().id())
                })
                .unwrap();
        }
        // The only worker is held: every result comes from this thread's help.
        for _ in 0..N {
            let done = service.take().unwrap();
            assert_eq!(done.worker(), None, "{:?} ran on a worker", done.id());
            let (_, thread) = done.get().unwrap();
            assert_eq!(thread, me);
        }
        assert!(service.take().is_none());
        assert_eq!(
            *order.lock().unwrap(),
            (0..N).rev().collect::<Vec<_>>(),
            "newest first"
        );
        // The worker then reaches the N queued jobs: tombstones, none runs again.
        gate.open();
        pool.close();
        ran.assert_all(1);
        drop(service);
        drops.assert_all_dropped_once(N);
    });
}

#[test]
fn a_panicking_task_run_by_the_consumer_is_delivered_as_panicked() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = block_all_workers(&pool);
        let service = CompletionService::new(&pool).helping(true);
        let id = service
            .submit(|| -> u32 { panic!("boom on the consumer") })
            .unwrap();
        let done = service.take().unwrap();
        assert_eq!(done.id(), id);
        assert_eq!(done.worker(), None);
        let err = done.get().unwrap_err();
        assert!(err.is_panic(), "{err}");
        // The consumer survived and keeps working.
        service.submit(|| 7).unwrap();
        assert_eq!(service.take().unwrap().get().unwrap(), 7);
        gate.open();
        pool.close();
    });
}

#[test]
fn timed_waits_never_help() {
    bounded(|| {
        const N: usize = 5;
        let pool = ThreadPool::new(1).unwrap();
        let gate = block_all_workers(&pool);
        let service = CompletionService::new(&pool).helping(true);
        let ran = RunLog::new(N);
        for i in 0..N {
            let ran = ran.clone();
            service.submit(move || ran.mark(i)).unwrap();
        }
        assert!(service.poll_timeout(TIMEOUT).is_err());
        assert!(service.poll().is_none());
        assert!(service.drain_ready().is_empty());
        ran.assert_all(0);
        assert_eq!(service.pending(), N);
        gate.open();
        assert_eq!(service.iter().count(), N);
        ran.assert_all(1);
        pool.close();
    });
}

#[test]
fn an_async_task_is_never_claimed_and_the_consumer_then_parks() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = block_all_workers(&pool);
        let service = CompletionService::new(pool.clone()).helping(true);
        let ran = RunLog::new(2);
        let r = ran.clone();
        service
            .submit(move || {
                r.mark(0);
                0
            })
            .unwrap();
        let r = ran.clone();
        // The newest task is a future: the consumer may not poll it, so it
        // stops helping there (it does not skip past it) and parks.
        service
            .spawn(async move {
                r.mark(1);
                1
            })
            .unwrap();
        std::thread::scope(|s| {
            let consumer = s.spawn(|| {
                let mut got: Vec<u32> = service.iter().map(|d| d.get().unwrap()).collect();
                got.sort_unstable();
                got
            });
            until_waiting_consumers(&service, 1);
            ran.assert_all(0);
            gate.open();
            assert_eq!(consumer.join().unwrap(), [0, 1]);
        });
        ran.assert_all(1);
        pool.close();
    });
}

#[test]
fn after_shutdown_now_the_consumer_does_not_run_the_handed_back_tasks() {
    bounded(|| {
        const N: usize = 8;
        let pool = ThreadPool::new(1).unwrap();
        let gate = block_all_workers(&pool);
        let service = CompletionService::new(&pool).helping(true);
        let ran = RunLog::new(N);
        let drops = DropCounter::new(N);
        for i in 0..N {
            let (ran, token) = (ran.clone(), drops.token(i));
            service
                .submit(move || {
                    let _token = token;
                    ran.mark(i)
                })
                .unwrap();
        }
        let handed_back = pool.shutdown_now();
        assert_eq!(handed_back.len(), N);
        std::thread::scope(|s| {
            let consumer = s.spawn(|| {
                service
                    .iter()
                    .map(|d| d.get().unwrap_err().is_cancelled())
                    .filter(|&cancelled| cancelled)
                    .count()
            });
            // The consumer waits instead of running what shutdown_now handed back.
            until_waiting_consumers(&service, 1);
            ran.assert_all(0);
            assert_eq!(drops.dropped(), 0);
            // Dropping the unrun jobs cancels their tasks: delivered as cancelled.
            drop(handed_back);
            assert_eq!(consumer.join().unwrap(), N);
        });
        ran.assert_all(0);
        drops.assert_all_dropped_once(N);
        gate.open();
        assert!(pool.await_termination(LONG).is_ok());
    });
}

#[test]
fn helping_and_racing_cancels_deliver_every_task_once_and_run_it_at_most_once() {
    bounded(|| {
        const N: usize = 2_000;
        let pool = ThreadPool::new(2).unwrap();
        let service = CompletionService::new(&pool).helping(true);
        let ran = RunLog::new(N);
        let delivered = RunLog::new(N);
        let drops = DropCounter::new(N);
        let on_consumer = AtomicUsize::new(0);
        let mut ids = Vec::with_capacity(N);
        for i in 0..N {
            let (ran, token) = (ran.clone(), drops.token(i));
            let id = service
                .submit(move || {
                    let _token = token;
                    ran.mark(i);
                    for k in 0..(i % 97) * 200 {
                        std::hint::black_box(k);
                    }
                    i
                })
                .unwrap();
            ids.push(id);
        }
        std::thread::scope(|s| {
            s.spawn(|| {
                for id in ids.iter().step_by(3) {
                    service.cancel(*id);
                }
            });
            for done in &service {
                if done.worker().is_none() && !done.is_cancelled() {
                    on_consumer.fetch_add(1, Ordering::Relaxed);
                }
                let i = ids.iter().position(|&id| id == done.id()).unwrap();
                delivered.mark(i);
                match done.get() {
                    Ok(v) => {
                        assert_eq!(v, i);
                        assert_eq!(ran.get(i), 1, "task {i} delivered a value");
                    }
                    Err(e) => {
                        assert!(e.is_cancelled(), "{e}");
                        assert!(ran.get(i) <= 1, "task {i} ran twice");
                    }
                }
            }
        });
        delivered.assert_all(1);
        for i in 0..N {
            assert!(ran.get(i) <= 1, "task {i} ran twice");
        }
        pool.close();
        // Tombstones ran on the workers: still no task ran twice.
        for i in 0..N {
            assert!(ran.get(i) <= 1, "task {i} ran twice");
        }
        drop(service);
        drops.assert_all_dropped_once(N);
        println!(
            "{} of {N} tasks ran on the consumer",
            on_consumer.load(Ordering::Relaxed)
        );
    });
}
