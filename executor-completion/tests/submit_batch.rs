//! `CompletionService::submit_all`: a batch submitted at once is delivered
//! exactly like tasks submitted one by one; a refused batch (whole or in part)
//! leaves the service's accounting exact, so `take` never waits for a task that
//! was not accepted.

mod common;

use common::*;
use executor_completion::CompletionService;
use executor_core::{RejectReason, ThreadPool};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn a_batch_is_delivered_once_per_task_with_the_ids_returned() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let service = CompletionService::new(&pool);
        let drops = DropCounter::new(1000);
        let batch: Vec<_> = (0..1000)
            .map(|i| {
                let t = drops.token(i);
                move || t.id()
            })
            .collect();
        let ids = service.submit_all(batch).unwrap();
        assert_eq!(ids.len(), 1000);
        let mut got_ids = HashSet::new();
        let mut values = HashSet::new();
        let mut submitted_at = HashSet::new();
        while let Some(done) = service.take() {
            assert!(got_ids.insert(done.id()), "delivered twice");
            submitted_at.insert(done.submitted_at());
            assert!(values.insert(done.get().unwrap()));
        }
        assert_eq!(got_ids, ids.iter().copied().collect(), "the ids returned");
        assert_eq!(values, (0..1000).collect());
        assert_eq!(submitted_at.len(), 1, "a batch shares its submission time");
        // Mixed with single submissions and a second batch on the same service.
        let one = service.submit(|| 5000).unwrap();
        let more = service
            .submit_all((0..3).map(|i| move || 6000 + i))
            .unwrap();
        let mut rest: Vec<_> = service.iter().map(|d| (d.id(), d.get().unwrap())).collect();
        rest.sort();
        let mut want = vec![(one, 5000)];
        want.extend(more.iter().zip(6000..).map(|(&id, v)| (id, v)));
        want.sort();
        assert_eq!(rest, want);
        drops.assert_all_dropped_once(1000);
    });
}

#[test]
fn a_refused_batch_leaves_nothing_outstanding() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let service = CompletionService::new(&pool);
        service.submit(|| 1).unwrap();
        pool.shutdown();
        let err = service
            .submit_all((0..4).map(|i| move || 10 + i))
            .unwrap_err();
        assert_eq!(err.reason(), RejectReason::Shutdown);
        assert!(err.accepted().is_empty());
        let (_, refused) = err.into_parts();
        let back: Vec<i32> = refused.into_inner().into_iter().map(|f| f()).collect();
        assert_eq!(back, [10, 11, 12, 13], "handed back unrun, in order");
        // Only the accepted task is delivered, then `take` reports the end.
        assert_eq!(service.take().map(|d| d.get().unwrap()), Some(1));
        assert!(service.take().is_none());
        assert_eq!(service.outstanding(), 0);
    });
}

#[test]
fn a_partly_accepted_batch_delivers_its_first_part_and_no_more() {
    bounded(|| {
        let exec = Arc::new(Accepting::new(2, 3));
        let service = CompletionService::with_executor(exec.clone());
        let err = service.submit_all((0..8).map(|i| move || i)).unwrap_err();
        let accepted: HashSet<_> = err.accepted().iter().copied().collect();
        assert_eq!(accepted.len(), 3);
        assert_eq!(err.refused().len(), 5);
        let mut got = Vec::new();
        while let Some(done) = service.take() {
            assert!(accepted.contains(&done.id()));
            got.push(done.get().unwrap());
        }
        got.sort();
        assert_eq!(got, [0, 1, 2], "the accepted part, and then the end");
        let rest: Vec<i32> = err
            .into_parts()
            .1
            .into_inner()
            .into_iter()
            .map(|f| f())
            .collect();
        assert_eq!(rest, [3, 4, 5, 6, 7]);
    });
}

#[test]
fn a_bounded_service_submits_a_batch_as_room_frees_up() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let service = Arc::new(CompletionService::bounded(pool, 4));
        let consumer = {
            let service = service.clone();
            std::thread::spawn(move || {
                let (mut sum, mut taken) = (0, 0);
                while taken < 100 {
                    match service.take() {
                        Some(done) => (sum, taken) = (sum + done.get().unwrap(), taken + 1),
                        None => std::thread::yield_now(), // the batch has not started
                    }
                }
                sum
            })
        };
        let ids = service.submit_all((0..100u64).map(|i| move || i)).unwrap();
        assert_eq!(ids.len(), 100);
        assert_eq!(consumer.join().unwrap(), (0..100).sum::<u64>());
        assert!(service.take().is_none());
    });
}

#[test]
fn cancel_all_reaches_every_task_of_a_batch() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let g = gate.clone();
        pool.execute(move || g.wait()).unwrap();
        let service = CompletionService::new(&pool);
        let ran = RunLog::new(50);
        let batch = (0..50).map(|i| {
            let ran = ran.clone();
            move || ran.mark(i)
        });
        let ids = service.submit_all(batch).unwrap();
        assert!(service.cancel(ids[7]), "one by id");
        assert_eq!(service.cancel_all(), 49, "the others");
        gate.open();
        let cancelled = service.iter().filter(|d| d.is_cancelled()).count();
        assert_eq!(cancelled, 50);
        pool.close();
        ran.assert_all(0);
    });
}

/// An iterator whose `size_hint` promises more items than it yields.
struct Shorter<I>(I, usize);

impl<I: Iterator> Iterator for Shorter<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.1, None)
    }
}

#[test]
fn an_iterator_that_yields_less_than_its_hint_leaves_the_count_exact() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let service = CompletionService::new(&pool);
        let tasks = Shorter((0..3u32).map(|i| move || i), 1_000);
        assert_eq!(service.submit_all(tasks).unwrap().len(), 3);
        let mut got: Vec<u32> = service.iter().map(|d| d.get().unwrap()).collect();
        got.sort();
        assert_eq!(got, [0, 1, 2], "and then the end, not a wait for 997 more");
        assert_eq!(service.outstanding(), 0);
    });
}

/// The first task of a batch is queued on its own before the rest are built;
/// the others built before the iterator panicked end cancelled.
#[test]
fn a_panicking_iterator_delivers_the_built_tasks_as_cancelled_and_ends() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let service = CompletionService::new(&pool);
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let tasks = (0..5u32).map(move |i| {
            assert!(i < 3, "the iterator fails at its fourth item");
            let r = r.clone();
            move || {
                r.fetch_add(1, Ordering::SeqCst);
                i
            }
        });
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| service.submit_all(tasks)));
        assert!(outcome.is_err(), "the panic propagates");
        let mut delivered: Vec<_> = service.iter().collect();
        assert_eq!(delivered.len(), 3, "the three built tasks, once each");
        delivered.sort_by_key(|d| d.is_cancelled());
        assert_eq!(
            delivered.remove(0).get().ok(),
            Some(0),
            "the first was queued and ran"
        );
        assert!(delivered.iter().all(|d| d.is_cancelled()));
        assert!(service.take().is_none());
        assert_eq!(ran.load(Ordering::SeqCst), 1, "only the first was queued");
        assert_eq!(pool.stats().submitted, 1);
    });
}
