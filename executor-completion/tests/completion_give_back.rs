//! Issue 16, item 1: leaving a consumer of a completion service early (a
//! `break`, `find`, a dropped stream, a panic in the loop body) gives back the
//! results it had buffered, in completion order: `take` still returns each of
//! them exactly once, and `outstanding` counts them again. The same for the
//! owning consumers (`into_service`) and for `as_completed`, which owns its
//! handles (`by_ref` + `into_parts`).
//!
//! Every test runs its tasks on one worker, so the order in which bodies end
//! (logged by the bodies) is the order of delivery: a consumer must hand the
//! results out in exactly that order.
// The user's scenario is a loop left in its first round (`break`, a panic).
#![allow(clippy::never_loop)]

mod common;

use common::*;
use executor_completion::{as_completed, CompletionService, TrySubmitError};
use executor_core::ThreadPool;
use executor_futures::ExecutorService;
use futures::StreamExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

const N: usize = 1000;

/// Tasks `from..to` on `service`, each returning a counted token and logging
/// its index when its body ends.
fn submit_tokens(
    service: &CompletionService<Token>,
    drops: &Arc<DropCounter>,
    log: &Arc<Mutex<Vec<usize>>>,
    range: std::ops::Range<usize>,
) {
    for i in range {
        let (d, l) = (drops.clone(), log.clone());
        service
            .submit(move || {
                let t = d.token(i);
                l.lock().unwrap().push(i);
                t
            })
            .unwrap();
    }
}

fn until_ready(service: &CompletionService<Token>, n: usize) {
    until(|| service.ready() == n, "results ready");
}

/// Takes everything left; each result is a token whose id is its task's index.
fn take_rest(service: &CompletionService<Token>) -> Vec<usize> {
    let mut rest = Vec::new();
    while let Some(done) = service.poll() {
        rest.push(done.get().unwrap().id());
    }
    rest
}

type Fixture = (
    ThreadPool,
    CompletionService<Token>,
    Arc<DropCounter>,
    Arc<Mutex<Vec<usize>>>,
);

/// A service over a one-worker pool with `N` tasks done and ready.
fn ready_service() -> Fixture {
    let pool = ThreadPool::new(1).unwrap();
    let service = CompletionService::new(pool.clone());
    let drops = DropCounter::new(N);
    let log = Arc::new(Mutex::new(Vec::new()));
    submit_tokens(&service, &drops, &log, 0..N);
    until_ready(&service, N);
    (pool, service, drops, log)
}

/// `first` then the rest, taken: every task exactly once, in delivery order.
fn check_all_once_in_order(first: &[usize], rest: &[usize], log: &Mutex<Vec<usize>>) {
    let all: Vec<usize> = first.iter().chain(rest).copied().collect();
    assert_eq!(all, *log.lock().unwrap(), "completion order");
}

fn finish(pool: ThreadPool, service: CompletionService<Token>, drops: &DropCounter) {
    assert_eq!(service.outstanding(), 0);
    drop(service);
    pool.shutdown();
    assert!(pool.await_termination(LONG).is_ok());
    drops.assert_all_dropped_once(N);
}

#[test]
fn breaking_out_of_a_for_loop_gives_back_the_rest() {
    bounded(|| {
        let (pool, service, drops, log) = ready_service();
        let mut first = Vec::new();
        for done in &service {
            first.push(done.get().unwrap().id());
            break;
        }
        assert_eq!(service.outstanding(), N - 1);
        assert_eq!(service.ready(), N - 1);
        let rest = take_rest(&service);
        assert_eq!(rest.len(), N - 1);
        check_all_once_in_order(&first, &rest, &log);
        finish(pool, service, &drops);
    });
}

#[test]
fn find_gives_back_what_it_did_not_look_at() {
    bounded(|| {
        let (pool, service, drops, log) = ready_service();
        let target = log.lock().unwrap()[10];
        let found = service
            .iter()
            .find(|d| d.result().as_ref().unwrap().id() == target)
            .unwrap();
        assert_eq!(found.get().unwrap().id(), target);
        // The ten results before it were looked at and dropped by `find`.
        assert_eq!(drops.dropped(), 11);
        assert_eq!(service.outstanding(), N - 11);
        let rest = take_rest(&service);
        let expected: Vec<usize> = log.lock().unwrap()[11..].to_vec();
        assert_eq!(rest, expected);
        finish(pool, service, &drops);
    });
}

#[test]
fn a_panic_in_the_loop_body_gives_back_the_rest() {
    bounded(|| {
        let (pool, service, drops, log) = ready_service();
        let mut first = Vec::new();
        let caught = catch_unwind(AssertUnwindSafe(|| {
            for done in &service {
                first.push(done.get().unwrap().id());
                panic!("the loop body failed");
            }
        }));
        assert!(caught.is_err());
        assert_eq!(service.outstanding(), N - 1);
        let rest = take_rest(&service);
        check_all_once_in_order(&first, &rest, &log);
        finish(pool, service, &drops);
    });
}

#[test]
fn dropping_a_stream_after_one_item_gives_back_the_rest() {
    bounded(|| {
        let (pool, service, drops, log) = ready_service();
        let first = {
            let mut stream = service.stream();
            futures::executor::block_on(stream.next())
                .unwrap()
                .get()
                .unwrap()
                .id()
        };
        assert_eq!(service.outstanding(), N - 1);
        let rest = take_rest(&service);
        check_all_once_in_order(&[first], &rest, &log);
        finish(pool, service, &drops);
    });
}

#[test]
fn owning_consumers_give_the_service_back_with_the_rest() {
    bounded(|| {
        let (pool, service, drops, log) = ready_service();
        let mut iter = service.into_iter();
        let first = iter.next().unwrap().get().unwrap().id();
        let service = iter.into_service();
        assert_eq!(service.outstanding(), N - 1);

        let mut stream = service.into_stream();
        let second = futures::executor::block_on(stream.next())
            .unwrap()
            .get()
            .unwrap()
            .id();
        let service = stream.into_service();
        assert_eq!(service.outstanding(), N - 2);

        let rest = take_rest(&service);
        check_all_once_in_order(&[first, second], &rest, &log);
        finish(pool, service, &drops);
    });
}

/// Two iterators hold buffers at once and are dropped oldest first: the given
/// back results still come out in completion order.
#[test]
fn buffers_given_back_in_any_order_keep_completion_order() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let service = CompletionService::new(pool.clone());
        let drops = DropCounter::new(N);
        let log = Arc::new(Mutex::new(Vec::new()));
        submit_tokens(&service, &drops, &log, 0..N / 2);
        until_ready(&service, N / 2);
        let mut older = service.iter();
        let a = older.next().unwrap().get().unwrap().id();
        submit_tokens(&service, &drops, &log, N / 2..N);
        until_ready(&service, N / 2);
        let mut newer = service.iter();
        let b = newer.next().unwrap().get().unwrap().id();
        drop(older);
        drop(newer);
        assert_eq!(service.outstanding(), N - 2);
        let rest = take_rest(&service);
        let expected: Vec<usize> = log
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|&i| i != a && i != b)
            .collect();
        assert_eq!(rest, expected);
        finish(pool, service, &drops);
    });
}

/// In a bounded service a buffered result's room was released; giving it back
/// takes the room again, so the capacity still counts every untaken result.
#[test]
fn bounded_service_counts_given_back_results_against_its_capacity() {
    bounded(|| {
        const CAP: usize = 10;
        let pool = ThreadPool::new(1).unwrap();
        let service = CompletionService::bounded(pool.clone(), CAP);
        for i in 0..CAP {
            service.submit(move || i).unwrap();
        }
        until(|| service.ready() == CAP, "results ready");
        let first = service.iter().next().unwrap().get().unwrap();
        assert_eq!(service.outstanding(), CAP - 1);
        // Room for exactly one more.
        assert!(service.try_submit(move || CAP).is_ok());
        assert!(matches!(
            service.try_submit(|| 0),
            Err(TrySubmitError::Full(_))
        ));
        let mut got = vec![first];
        while let Some(done) = service.take() {
            got.push(done.get().unwrap());
        }
        got.sort_unstable();
        assert_eq!(got, (0..=CAP).collect::<Vec<_>>());
        // Every permit came back.
        for i in 0..CAP {
            service.try_submit(move || i).unwrap();
        }
        assert_eq!(service.iter().count(), CAP);
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
    });
}

/// `as_completed` owns the handles it was given: iterating `by_ref()` and then
/// `into_parts()` gets back, in completion order, what finished but was not
/// yielded, and the handles not finished; also after a panic in the loop body.
#[test]
fn as_completed_by_ref_then_into_parts_gives_back_the_rest() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let drops = DropCounter::new(N);
        let log = Arc::new(Mutex::new(Vec::new()));
        let gate = Gate::new();
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let (d, l, g) = (drops.clone(), log.clone(), gate.clone());
                pool.submit(move || {
                    if i == N - 1 {
                        g.wait();
                    }
                    let t = d.token(i);
                    l.lock().unwrap().push(i);
                    t
                })
                .unwrap()
            })
            .collect();
        until(
            || log.lock().unwrap().len() == N - 1,
            "all but the last done",
        );
        let mut it = as_completed(handles);
        let mut first = Vec::new();
        let caught = catch_unwind(AssertUnwindSafe(|| {
            for finished in it.by_ref() {
                first.push(finished.get().unwrap().id());
                panic!("the loop body failed");
            }
        }));
        assert!(caught.is_err());
        assert_eq!(it.remaining(), N - 1);
        let (finished, unfinished) = it.into_parts();
        assert_eq!(finished.len(), N - 2);
        assert_eq!(unfinished.len(), 1);
        gate.open();
        let last = unfinished.into_iter().next().unwrap().get().unwrap().id();
        let rest: Vec<usize> = finished
            .into_iter()
            .map(|f| f.get().unwrap().id())
            .chain([last])
            .collect();
        let all: Vec<usize> = first.iter().chain(&rest).copied().collect();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..N).collect::<Vec<_>>(), "each exactly once");
        drop(rest);
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        drops.assert_all_dropped_once(N);
    });
}
