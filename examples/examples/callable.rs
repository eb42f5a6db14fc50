//! A `Callable` task struct on a pool: submit it, then `get`, `get_timeout`,
//! `cancel`, a panic, and `.await`.
//!
//! Run with `cargo run -p examples --example callable`.

use executor::prelude::*;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What a [`Timed`] task reports: its result, which thread ran it, how long it took.
#[derive(Debug)]
struct Report<T> {
    value: T,
    thread: String,
    took: Duration,
}

/// Wraps a piece of work and records which thread ran it and how long it took.
struct Timed<F> {
    name: &'static str,
    work: F,
}

impl<T, F: FnOnce() -> T> Callable<Report<T>> for Timed<F> {
    fn call(self) -> Report<T> {
        let start = Instant::now();
        let value = (self.work)();
        Report {
            value,
            thread: std::thread::current()
                .name()
                .unwrap_or("<unnamed>")
                .to_owned(),
            took: start.elapsed(),
        }
    }
}

fn timed<T, F: FnOnce() -> T>(name: &'static str, work: F) -> Timed<F> {
    println!("submitting {name}");
    Timed { name, work }
}

/// Sums 0..n, stopping early (with `Err(Cancelled)`) once cancelled.
fn sum_to(n: u64) -> Result<u64, Cancelled> {
    let mut total = 0;
    for i in 0..n {
        if i % 1024 == 0 {
            checkpoint()?;
        }
        total += i;
    }
    Ok(total)
}

fn main() {
    // Panics inside tasks are caught and returned as values (see "boom" below);
    // quiet_panics keeps std's panic hook from also printing them.
    let pool = ThreadPool::builder()
        .num_threads(2)
        .thread_name(|i| format!("callable-{i}"))
        .quiet_panics(true)
        .build()
        .expect("pool");

    // get: blocks for the value.
    let task = timed("sum", || sum_to(1_000_000));
    println!("  named {:?}", task.name);
    let report = pool
        .submit(task)
        .expect("accepted")
        .get()
        .expect("no panic");
    println!(
        "sum = {:?} on {} in {:?}",
        report.value, report.thread, report.took
    );

    // get_timeout: a timeout keeps the handle and the eventual result.
    let (release, gate) = mpsc::channel::<()>();
    let mut slow = pool
        .submit(timed("slow", move || gate.recv().map(|_| "finally")))
        .expect("accepted");
    match slow.get_timeout(Duration::from_millis(20)) {
        Err(e) if e.is_timed_out() => println!("slow: not yet ({e})"),
        other => println!("slow: unexpected {other:?}"),
    }
    release.send(()).expect("slow task waits");
    let report = slow.get().expect("no panic");
    println!("slow = {:?} on {}", report.value, report.thread);

    // cancel: a running task sees it cooperatively through checkpoint().
    let (started_tx, started_rx) = mpsc::channel();
    let endless = pool
        .submit(timed("endless", move || {
            started_tx.send(()).expect("main waits");
            sum_to(u64::MAX)
        }))
        .expect("accepted");
    started_rx.recv().expect("started");
    println!("cancel endless: {}", endless.cancel());
    println!("endless.get() = {:?}", endless.get().map(|r| r.value));

    // A panic comes back as a value, with its message.
    let boom = pool
        .submit(timed("boom", || -> u8 {
            panic!("the task failed on purpose")
        }))
        .expect("accepted");
    match boom.get() {
        Err(e) => println!("boom: {e} (is_panic: {})", e.is_panic()),
        Ok(r) => println!("boom: unexpected {r:?}"),
    }

    // .await: a handle is a Future, usable from any runtime.
    let awaited = pool.submit(timed("awaited", || 6 * 7)).expect("accepted");
    let report = futures::executor::block_on(awaited).expect("no panic");
    println!(
        "awaited = {} on {} in {:?}",
        report.value, report.thread, report.took
    );

    // Async code on the same pool.
    let inner = pool.submit(|| 1).expect("accepted");
    let outer = pool
        .spawn(async move { inner.await.map(|v| v + 1) })
        .expect("accepted");
    println!("spawned = {:?}", outer.get().expect("no panic"));

    pool.close();
}
