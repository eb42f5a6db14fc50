//! TESTS.md B.13 LD3: submit/take round trips through one completion service,
//! 2 producers and 2 consumers, every id accounted for exactly once (run and
//! taken). The full million runs in release builds only
//! (`cargo test --release -p executor-completion -- --ignored` in debug).

mod common;

use common::*;
use executor_completion::CompletionService;
use executor_core::ThreadPool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn round_trips(total: usize) {
    let per = total / 2;
    let pool = ThreadPool::new(2).unwrap();
    let cs = CompletionService::new(pool.clone());
    let ran = RunLog::new(total);
    let taken_log = RunLog::new(total);
    let taken = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for p in 0..2 {
            let (cs, ran) = (&cs, ran.clone());
            s.spawn(move || {
                for i in p * per..(p + 1) * per {
                    let ran = ran.clone();
                    cs.submit(move || {
                        ran.mark(i);
                        i
                    })
                    .unwrap();
                }
            });
        }
        for _ in 0..2 {
            s.spawn(|| {
                // Drain whole batches per wake-up; `None` only while producers lag.
                let deadline = Instant::now() + 6 * LONG;
                while taken.load(Ordering::SeqCst) < total {
                    let mut got = 0;
                    for done in cs.iter() {
                        taken_log.mark(done.get().unwrap());
                        got += 1;
                    }
                    taken.fetch_add(got, Ordering::SeqCst);
                    if got == 0 {
                        assert!(Instant::now() < deadline, "consumer stuck");
                        std::thread::yield_now();
                    }
                }
            });
        }
    });
    let elapsed: Duration = start.elapsed();
    eprintln!("LD3 {total} round trips in {elapsed:?}");
    ran.assert_all(1);
    taken_log.assert_all(1);
    assert_eq!(taken.load(Ordering::SeqCst), total);
    assert!(cs.poll().is_none() && cs.is_empty());
    drop(cs);
    pool.shutdown();
    assert!(pool.await_termination(LONG).is_ok());
}

#[test]
fn ld3_hundred_thousand_round_trips() {
    bounded(|| round_trips(100_000));
}

#[test]
#[cfg_attr(debug_assertions, ignore = "a million tasks: release builds only")]
fn ld3_one_million_round_trips() {
    bounded_for(6 * LONG, || round_trips(1_000_000));
}
