//! Blocking work: a task that waits (for a disk, a socket, a lock, a child
//! process) holds its worker the whole time, and every task queued behind it
//! waits too. Give blocking calls a pool of their own, sized for how many may
//! wait at once, and keep the CPU pool at one thread per core.
//!
//! The example runs eight 100 ms blocking calls and, meanwhile, one short
//! computation: first all on a 2-thread pool (the computation waits behind the
//! blocked workers), then with the blocking calls on a 8-thread pool of their
//! own (it runs at once).
//!
//! Run it with `cargo run -p examples --example blocking` (CI runs it).

use executor::prelude::*;
use std::time::{Duration, Instant};

/// Stands for a blocking call: a file read, a database query, a `recv`.
fn blocking_call(i: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(100));
    i
}

/// A short computation.
fn compute() -> u64 {
    (1..=10_000u64).sum()
}

/// Submits 8 blocking calls to `io` and one computation to `cpu`; returns how
/// long the computation took to come back and how long everything took.
fn run(
    cpu: &ThreadPool,
    io: &ThreadPool,
) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let calls = (0..8)
        .map(|i| io.submit(move || blocking_call(i)))
        .collect::<Result<Vec<_>, _>>()?;
    assert_eq!(cpu.submit(compute)?.get()?, 50_005_000);
    let computed = start.elapsed();
    let total: u64 = calls
        .into_iter()
        .map(TaskHandle::get)
        .sum::<Result<u64, _>>()?;
    assert_eq!(total, 28);
    Ok((computed, start.elapsed()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cpu = ThreadPool::builder().num_threads(2).name("cpu").build()?;
    let (computed, all) = run(&cpu, &cpu)?;
    println!("one 2-thread pool for everything: the computation came back after {computed:?}, all done after {all:?}");

    let io = ThreadPool::builder().num_threads(8).name("io").build()?;
    let (computed, all) = run(&cpu, &io)?;
    println!("blocking calls on an 8-thread pool of their own: the computation came back after {computed:?}, all done after {all:?}");
    Ok(())
}
