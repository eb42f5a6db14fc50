//! Issue 20, item 5: `bounded_in_flight`, a bound on tasks submitted and not yet
//! finished, for a consumer that also submits (a crawler).
#![allow(missing_docs)]

mod common;

use common::*;
use executor_completion::CompletionService;
use executor_core::ThreadPool;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A crawler: one thread takes each page and submits its unseen links from the
/// same loop. With `bounded(.., 4)` this deadlocks once 4 results wait; with
/// `bounded_in_flight(.., 4)` it finishes, never more than 4 tasks in flight.
#[test]
fn a_crawler_finishes_with_a_bounded_number_of_tasks_in_flight() {
    bounded(|| {
        const CAP: usize = 4;
        const PAGES: u32 = 2000;
        let pool = ThreadPool::new(2).unwrap();
        let service = CompletionService::bounded_in_flight(pool.clone(), CAP);
        assert!(service.is_bounded_in_flight());
        let running = Arc::new(AtomicUsize::new(0));
        let most_running = Arc::new(AtomicUsize::new(0));
        let fetch = {
            let (running, most_running) = (running.clone(), most_running.clone());
            move |page: u32| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most_running.fetch_max(now, Ordering::SeqCst);
                // Each page links to three others (many seen already).
                let links: Vec<u32> = [2 * page + 1, 2 * page + 2, page / 2]
                    .into_iter()
                    .filter(|&p| p < PAGES)
                    .collect();
                running.fetch_sub(1, Ordering::SeqCst);
                (page, links)
            }
        };
        let mut seen = HashSet::from([0u32]);
        let f = fetch.clone();
        service.submit(move || f(0)).unwrap();
        let mut most_pending = 0;
        let fetched = RunLog::new(PAGES as usize);
        while let Some(done) = service.take() {
            let (page, links) = done.get().unwrap();
            fetched.mark(page as usize);
            for link in links {
                if seen.insert(link) {
                    let f = fetch.clone();
                    service.submit(move || f(link)).unwrap();
                    most_pending = most_pending.max(service.pending());
                }
            }
        }
        fetched.assert_all(1);
        assert!(most_pending <= CAP, "{most_pending} in flight");
        assert!(most_running.load(Ordering::SeqCst) <= CAP);
        assert_eq!(service.pending(), 0);
    });
}

/// The two bounds side by side: `bounded` counts results not taken,
/// `bounded_in_flight` does not.
#[test]
fn in_flight_permits_come_back_at_completion_not_at_take() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let in_flight = CompletionService::bounded_in_flight(pool.clone(), 2);
        for i in 0..10 {
            in_flight.submit(move || i).unwrap(); // never waits for a take
        }
        until(|| in_flight.ready() == 10, "all ten finished");
        assert_eq!(in_flight.pending(), 0);
        let taken: usize = in_flight.iter().map(|d| d.get().unwrap()).sum();
        assert_eq!(taken, 45);

        let results = CompletionService::bounded(pool, 2);
        results.submit(|| 1).unwrap();
        results.submit(|| 2).unwrap();
        until(|| results.ready() == 2, "both finished");
        assert!(
            results.try_submit(|| 3).unwrap_err().is_full(),
            "results not taken count"
        );
        results.take().unwrap();
        results.try_submit(|| 3).unwrap();
    });
}
