//! Completion order with skewed durations (issue 4): `N` tasks (default 10,000)
//! of 0–50 µs busy work each (`max · u²` from a seeded xorshift sequence, the
//! same for every pool), submitted from the bench thread and consumed in the
//! order they finish, on `executor_completion::CompletionService` over
//! `executor_core::ThreadPool` next to tokio's `JoinSet`, `FuturesUnordered` of
//! `futures` thread-pool handles and rayon `spawn` + an mpsc channel (rows and
//! work in `benches/src/completion.rs`).
//!
//! | group | one iteration is | measures |
//! |---|---|---|
//! | `completion_order` | submit all `N`, consume all `N` | the total time; compare it with the ideal printed first (sum of durations / threads) |
//! | `completion_first` | the same | only the time from the start of submission to the first result consumed (criterion's figure is that time, not the iteration's) |
//!
//! Every pool has `EXECUTOR_BENCH_THREADS` workers (default 2) and is built once
//! per row, outside the timing loop. Sizes: `EXECUTOR_BENCH_COMPLETION_N` (tasks,
//! default 10,000), `EXECUTOR_BENCH_COMPLETION_MAX_US` (longest task, default 50).
//!
//! Run (about 1 minute):
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p benches --bench completion
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p benches --bench completion -- completion_order
//! ```
//!
//! For ratios on a busy machine prefer `--bin interleaved_completion`, which
//! also prints each row's `total / ideal` and time to first result per round.

// `criterion_group!` generates a public, undocumented entry function.
#![allow(missing_docs)]

use benches::bench_threads;
use benches::completion::{for_each_consumer, Work};
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use std::time::Duration;

fn completion(c: &mut Criterion) {
    let work = Work::from_env();
    let threads = bench_threads();
    println!("completion: {}", work.describe());
    for (group, first_only) in [("completion_order", false), ("completion_first", true)] {
        let mut g = c.benchmark_group(group);
        // Flat sampling: an iteration takes about 100 ms.
        g.sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        if !first_only {
            g.throughput(Throughput::Elements(work.len() as u64));
        }
        for_each_consumer(threads, |name, run| {
            g.bench_function(BenchmarkId::new(name, threads), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            let o = run(&work);
                            if first_only {
                                o.first
                            } else {
                                o.total
                            }
                        })
                        .sum()
                });
            });
        });
        g.finish();
    }
}

criterion_group!(benches, completion);
criterion_main!(benches);
