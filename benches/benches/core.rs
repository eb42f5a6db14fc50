//! Job-scheduling costs of `executor_core::ThreadPool` next to its peers (rayon,
//! tokio's multi-thread runtime, the `threadpool` crate, `futures`' thread pool).
//!
//! Every group runs every pool with the same number of worker threads
//! (`EXECUTOR_BENCH_THREADS`, default 2), one pool at a time, so a figure is read as
//! a ratio to the other pools of the same group in the same run. The workloads live
//! in the `benches` library (`benches/src/lib.rs`) and are shared by all pools; each
//! pool is built once per group, outside the timing loop, which only submits and
//! waits. Completion is detected the same way for all: an atomic countdown and a
//! latch that the last job opens.
//!
//! | group | one element is | what it measures |
//! |---|---|---|
//! | `spawn_outside` | a job | `N` empty jobs submitted from the bench thread (the injector path, bound by the submitting thread), then wait for all |
//! | `spawn_inside` | a job | one root job spawns `N` empty jobs from inside a worker (the local-deque path, the other worker steals), then wait for all |
//! | `chained_spawn` | a link | each job spawns the next, `N / 10` links: one job in flight at a time, so it is push + pop + run latency on a warm worker |
//! | `ping_pong` | a round trip | a token bounced between a "ping" and a "pong" job, each hop a new job: two chained spawns per round trip |
//! | `round_trip` | a job | one job from outside into an idle pool and back to the waiting bench thread: wake-up latency |
//!
//! `chained_spawn` and `ping_pong` also run `executor_core_handle`: our pool with
//! jobs that spawn through a cloned `ThreadPool` handle instead of the ambient
//! `executor_core::execute`. The difference between the two `executor_core` rows is
//! the price of that clone.
//!
//! `N` is `EXECUTOR_BENCH_N` (default 1,000,000). Throughput is set per element,
//! so criterion prints element rates; the per-element time is the printed time
//! divided by the element count.
//!
//! Run (the whole bench takes a few minutes):
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p benches --bench core
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p benches --bench core -- spawn_outside
//! EXECUTOR_BENCH_N=100000 CARGO_TARGET_DIR=/work/target-bench cargo bench -p benches --bench core -- --quick
//! ```

// `criterion_group!` generates a public, undocumented entry function.
#![allow(missing_docs)]

use benches::{bench_threads, env_usize, for_each_peer, ErasedHarness};
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use std::time::Duration;

/// `EXECUTOR_BENCH_N`: jobs per iteration of the bulk groups.
fn bulk_n() -> usize {
    env_usize("EXECUTOR_BENCH_N", 1_000_000)
}

/// Runs `routine(harness, elements)` for every pool in one group named `name`.
///
/// `elements` is the number of jobs (or links, or round trips) one iteration runs;
/// it is also the criterion throughput, so the printed rate is per element.
/// `long`: one iteration takes a large fraction of a second. `borrowed`: also run
/// `executor_core_handle` (our pool, spawning through a cloned handle).
fn group(
    c: &mut Criterion,
    name: &str,
    elements: usize,
    long: bool,
    borrowed: bool,
    routine: impl Fn(&dyn ErasedHarness, usize),
) {
    let threads = bench_threads();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(elements as u64));
    if long {
        // One iteration takes a good fraction of a second: same iteration count in
        // every sample, ten samples, a short warm-up.
        g.sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4));
    } else {
        g.sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
    }
    // One pool at a time: built here, measured, dropped before the next is built.
    for_each_peer(threads, borrowed, |h| {
        g.bench_function(BenchmarkId::new(h.name(), threads), |b| {
            b.iter(|| routine(h, elements));
        });
    });
    g.finish();
}

fn spawn_outside(c: &mut Criterion) {
    group(c, "spawn_outside", bulk_n(), true, false, |h, n| {
        h.spawn_outside(n)
    });
}

fn spawn_inside(c: &mut Criterion) {
    group(c, "spawn_inside", bulk_n(), true, false, |h, n| {
        h.spawn_inside(n)
    });
}

fn chained_spawn(c: &mut Criterion) {
    group(c, "chained_spawn", bulk_n() / 10, false, true, |h, n| {
        h.chained_spawn(n);
    });
}

fn ping_pong(c: &mut Criterion) {
    group(c, "ping_pong", bulk_n() / 20, false, true, |h, n| {
        h.ping_pong(n)
    });
}

fn round_trip(c: &mut Criterion) {
    group(c, "round_trip", 1, false, false, |h, _| h.round_trip());
}

criterion_group!(
    benches,
    spawn_outside,
    spawn_inside,
    chained_spawn,
    ping_pong,
    round_trip
);
criterion_main!(benches);
