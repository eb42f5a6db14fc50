//! Fork-join on `executor_core::ThreadPool` next to rayon: `pool.install(|| ...)`
//! with `executor_core::join` inside, against `rayon::ThreadPool::install` with
//! `rayon::join`. The workloads are written once (`benches/src/forkjoin.rs`), so
//! the two rows of a group run the same code and differ only in `install`/`join`.
//!
//! Every group runs both pools with the same number of worker threads
//! (`EXECUTOR_BENCH_THREADS`, default 2), one pool at a time, each built once per
//! group outside the timing loop: read a figure as the ratio of the two rows of one
//! group in one run.
//!
//! | group | one element is | what it measures |
//! |---|---|---|
//! | `fib_coarse` | a `fib` call | naive `fib(32)`, forking both calls while `n >= 18`: a few hundred joins over milliseconds of work, so it is scaling and early stealing |
//! | `fib_fine` | a `join` | `fib(28)` with a `join` at every level: the cost of one fork-join when nearly every fork is taken back by its owner (ns per join) |
//! | `sum` | a `u64` | sum of 50M `u64`, halved recursively down to 64K elements: memory bandwidth and a few thousand joins |
//! | `quicksort` | a `u64` | quicksort of 10M pseudo-random `u64` (fixed seed; Lomuto partition, median-of-three pivot, both sides joined, `sort_unstable` below 5K elements); copying the unsorted input in is not timed |
//!
//! Sizes (defaults above): `EXECUTOR_BENCH_FIB_COARSE`, `EXECUTOR_BENCH_FIB_CUTOFF`,
//! `EXECUTOR_BENCH_FIB_FINE`, `EXECUTOR_BENCH_SUM_N`, `EXECUTOR_BENCH_SORT_N`.
//! Throughput is set per element, so the per-element time is the printed time
//! divided by the element count (or `1 / thrpt`).
//!
//! Run (the whole bench takes about 2 minutes at the default sizes):
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p benches --bench forkjoin
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p benches --bench forkjoin -- fib_fine
//! EXECUTOR_BENCH_SUM_N=5000000 EXECUTOR_BENCH_SORT_N=1000000 CARGO_TARGET_DIR=/work/target-bench cargo bench -p benches --bench forkjoin -- --quick
//! ```
//!
//! For ratios on a busy machine prefer the interleaved runner
//! (`--bin interleaved_forkjoin`), which runs these workloads at smaller sizes.

// `criterion_group!` generates a public, undocumented entry function.
#![allow(missing_docs)]

use benches::forkjoin::{
    fib_calls, fib_iter, fib_joins, for_each_fork_join, random_u64s, Sizes, SORT_SEED,
};
use benches::{bench_threads, ErasedForkJoin};
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use std::hint::black_box;
use std::time::Duration;

fn sizes() -> Sizes {
    Sizes::from_env(Sizes::CRITERION)
}

/// Runs `routine` for both pools in one group named `name`, `elements` per
/// iteration, `samples` samples in `measure` (after a warm-up of a fifth of it).
/// Flat sampling: every iteration takes milliseconds to a second, so every sample
/// runs the same number of them.
fn group(
    c: &mut Criterion,
    name: &str,
    elements: u64,
    samples: usize,
    measure: Duration,
    mut routine: impl FnMut(&mut criterion::Bencher<'_>, &dyn ErasedForkJoin),
) {
    let threads = bench_threads();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(elements));
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(samples)
        .warm_up_time(measure / 5)
        .measurement_time(measure);
    // One pool at a time: built here, measured, dropped before the next is built.
    for_each_fork_join(threads, |p| {
        g.bench_function(BenchmarkId::new(p.name(), threads), |b| routine(b, p));
    });
    g.finish();
}

fn fib_coarse(c: &mut Criterion) {
    let Sizes {
        fib_coarse: n,
        fib_cutoff: cutoff,
        ..
    } = sizes();
    group(
        c,
        "fib_coarse",
        fib_calls(n),
        20,
        Duration::from_secs(4),
        |b, p| {
            assert_eq!(p.fib_coarse(n, cutoff), fib_iter(n));
            b.iter(|| p.fib_coarse(black_box(n), cutoff));
        },
    );
}

fn fib_fine(c: &mut Criterion) {
    let n = sizes().fib_fine;
    group(
        c,
        "fib_fine",
        fib_joins(n),
        20,
        Duration::from_secs(4),
        |b, p| {
            assert_eq!(p.fib_fine(n), fib_iter(n));
            b.iter(|| p.fib_fine(black_box(n)));
        },
    );
}

fn sum(c: &mut Criterion) {
    let n = sizes().sum;
    let input: Vec<u64> = (0..n as u64).collect();
    let want = input.iter().fold(0u64, |s, &x| s.wrapping_add(x));
    group(c, "sum", n as u64, 10, Duration::from_secs(6), |b, p| {
        assert_eq!(p.sum(&input), want);
        b.iter(|| p.sum(black_box(&input)));
    });
}

fn quicksort(c: &mut Criterion) {
    let n = sizes().sort;
    let input = random_u64s(n, SORT_SEED);
    // About 1 s per iteration on 2 busy cores: 10 samples need some 15 s.
    group(
        c,
        "quicksort",
        n as u64,
        10,
        Duration::from_secs(15),
        |b, p| {
            let mut check = input.clone();
            p.quicksort(&mut check);
            assert!(check.windows(2).all(|w| w[0] <= w[1]));
            drop(check);
            b.iter_batched_ref(
                || input.clone(),
                |v| p.quicksort(v),
                BatchSize::PerIteration,
            );
        },
    );
}

criterion_group!(benches, fib_coarse, fib_fine, sum, quicksort);
criterion_main!(benches);
