//! Tasks with results: submit tasks that return a value, keep their handles,
//! collect the values in submission order, on `executor_core::ThreadPool` (with
//! `executor_futures::ExecutorService::submit` and `TaskHandle::get`) next to
//! rayon, tokio, the `threadpool` crate and `futures`' thread pool; and nested
//! submit/get against a stack `join`.
//!
//! Every group runs every pool with the same number of worker threads
//! (`EXECUTOR_BENCH_THREADS`, default 2), one pool at a time, each built once per
//! group outside the timing loop: read a figure as a ratio to the other rows of
//! the same group in the same run.
//!
//! | group | one element is | what it measures |
//! |---|---|---|
//! | `submit_collect` | a task | `N` tasks (default 100,000) submitted from the bench thread, each returning a `u64`; the handles kept in a `Vec`, then the values taken in submission order |
//! | `fib_submit` | a fork | `fib(20)` where each level submits `fib(n-1)` with `submit` (capturing a clone of the pool handle), computes `fib(n-2)` inline, then `get`s; next to the same recursion with `executor_core::join` and `rayon::join`: the price of a heap task and its handle against a stack join |
//!
//! `submit_collect` rows (details in `benches/src/collect.rs`): `executor_core`
//! (`submit` + `get`), `executor_core_slot` (our `execute` with the one-shot slot
//! the rayon row uses: the pool without the handle), `rayon_slot` / `rayon_mpsc`
//! (`spawn` plus a per-task mutex-and-condvar slot / `sync_channel(1)`; quote the
//! faster), `tokio` (`Runtime::spawn`, handles awaited in one `block_on`),
//! `threadpool_slot` / `threadpool_mpsc`, `futures` (`spawn_with_handle`, handles
//! awaited in one `block_on`).
//!
//! Sizes: `EXECUTOR_BENCH_TASKS` (tasks of `submit_collect`, default 100,000),
//! `EXECUTOR_BENCH_FIB_SUBMIT` (`n` of `fib_submit`, default 20).
//!
//! Run (about 1.5 minutes):
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p benches --bench futures
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p benches --bench futures -- fib_submit
//! ```
//!
//! For ratios on a busy machine prefer `--bin interleaved_forkjoin -- submit_collect fib_submit`.

// `criterion_group!` generates a public, undocumented entry function.
#![allow(missing_docs)]

use benches::collect::{expected, fib_submit, for_each_collector};
use benches::forkjoin::{fib_iter, fib_joins};
use benches::{bench_threads, env_usize, ErasedForkJoin, Ours, Peer, Rayon};
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use std::hint::black_box;
use std::time::Duration;

fn submit_collect(c: &mut Criterion) {
    let threads = bench_threads();
    let n = env_usize("EXECUTOR_BENCH_TASKS", 100_000);
    let want = expected(n);
    let mut g = c.benchmark_group("submit_collect");
    // Flat sampling: an iteration takes 50–350 ms, depending on the pool.
    g.throughput(Throughput::Elements(n as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    // One pool at a time: built, its rows measured, dropped before the next.
    for_each_collector(threads, |name, collect| {
        assert_eq!(collect(n), want, "{name}");
        g.bench_function(BenchmarkId::new(name, threads), |b| {
            b.iter(|| collect(black_box(n)));
        });
    });
    g.finish();
}

fn fib_submit_group(c: &mut Criterion) {
    let threads = bench_threads();
    let n = env_usize("EXECUTOR_BENCH_FIB_SUBMIT", 20) as u64;
    let mut g = c.benchmark_group("fib_submit");
    g.throughput(Throughput::Elements(fib_joins(n)))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    {
        let ours = Ours::build(threads);
        let pool = &ours.0;
        assert_eq!(pool.install(|| fib_submit(pool, n)), fib_iter(n));
        g.bench_function(BenchmarkId::new("executor_core", threads), |b| {
            b.iter(|| pool.install(|| fib_submit(pool, black_box(n))));
        });
        g.bench_function(BenchmarkId::new("executor_core_join", threads), |b| {
            b.iter(|| ours.fib_fine(black_box(n)));
        });
    }
    {
        let rayon = Rayon::build(threads);
        g.bench_function(BenchmarkId::new("rayon", threads), |b| {
            b.iter(|| rayon.fib_fine(black_box(n)));
        });
    }
    g.finish();
}

criterion_group!(benches, submit_collect, fib_submit_group);
criterion_main!(benches);
