//! The `core` bench's workloads, interleaved: ratios that hold up on a busy machine.
//!
//! Criterion measures one pool after the other, so when the load of a shared
//! machine changes between two pools' windows (other builds starting or stopping),
//! their ratio moves by ±50%. Here every pool is built up front and kept (idle
//! pools park), and each *round* runs one iteration of a workload on every pool
//! back to back, in an order that rotates each round. A round's ratio `ours / peer`
//! compares two measurements taken a fraction of a second apart; the table prints
//! the median of those paired ratios over the rounds, with the 25th–75th
//! percentile, next to each pool's median time per element (the runner is
//! `benches::interleave`, shared with `interleaved_forkjoin`).
//!
//! Workloads (see `benches/src/lib.rs` and `benches/core.rs` for what each
//! measures): `spawn_outside` and `spawn_inside` (`N` jobs), `chained_spawn`
//! (`N/10` links), `ping_pong` (`N/20` round trips), `round_trip` (1,000 single
//! jobs from outside, one at a time). `executor_core_handle` is our pool spawning
//! through a cloned handle instead of `executor_core::execute` (see `OursHandle`).
//!
//! | variable | default |
//! |---|---|
//! | `EXECUTOR_BENCH_THREADS` | 2 |
//! | `EXECUTOR_BENCH_N` | 1,000,000 |
//! | `EXECUTOR_BENCH_ROUNDS` | 15 (plus one warm-up round, not counted) |
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo run --release -p benches --bin interleaved
//! CARGO_TARGET_DIR=/work/target-bench cargo run --release -p benches --bin interleaved -- chained_spawn ping_pong
//! ```
//! (arguments, if any, select workloads by name).

use benches::interleave::{command_line, interleave, Contestant};
use benches::{
    bench_threads, env_usize, ErasedHarness, FuturesPool, Harness, Ours, OursHandle, Rayon,
    StdThreadpool, Tokio,
};

/// One workload: its name, elements per iteration, and how to run one iteration.
struct Workload {
    name: &'static str,
    elements: usize,
    run: fn(&dyn ErasedHarness, usize),
}

/// Single round trips per `round_trip` iteration (one is too short to time).
const ROUND_TRIPS: usize = 1000;

fn workloads(n: usize) -> Vec<Workload> {
    vec![
        Workload {
            name: "spawn_outside",
            elements: n,
            run: |h, n| h.spawn_outside(n),
        },
        Workload {
            name: "spawn_inside",
            elements: n,
            run: |h, n| h.spawn_inside(n),
        },
        Workload {
            name: "chained_spawn",
            elements: n / 10,
            run: |h, n| h.chained_spawn(n),
        },
        Workload {
            name: "ping_pong",
            elements: n / 20,
            run: |h, n| h.ping_pong(n),
        },
        Workload {
            name: "round_trip",
            elements: ROUND_TRIPS,
            run: |h, n| {
                for _ in 0..n {
                    h.round_trip();
                }
            },
        },
    ]
}

/// The workloads of [`workloads`], for the command line.
const NAMES: &[&str] = &[
    "spawn_outside",
    "spawn_inside",
    "chained_spawn",
    "ping_pong",
    "round_trip",
];

fn main() {
    let selection = command_line(
        "interleaved",
        "The core bench's workloads, every pool interleaved round by round: paired per-round ratios",
        NAMES,
        "Environment: EXECUTOR_BENCH_THREADS (worker threads, default 2), EXECUTOR_BENCH_N \
         (jobs per iteration, default 1000000), EXECUTOR_BENCH_ROUNDS (default 15).",
    );
    let threads = bench_threads();
    let n = env_usize("EXECUTOR_BENCH_N", 1_000_000);
    let rounds = env_usize("EXECUTOR_BENCH_ROUNDS", 15);

    // Ours first: it is the reference of every ratio.
    let pools: Vec<Box<dyn ErasedHarness>> = vec![
        Box::new(Harness::<Ours>::new(threads)),
        Box::new(Harness::<OursHandle>::new(threads)),
        Box::new(Harness::<Rayon>::new(threads)),
        Box::new(Harness::<Tokio>::new(threads)),
        Box::new(Harness::<StdThreadpool>::new(threads)),
        Box::new(Harness::<FuturesPool>::new(threads)),
    ];
    println!("{threads} worker threads per pool, N = {n}, {rounds} rounds (+1 warm-up)");

    for w in workloads(n) {
        if !selection.has(w.name) {
            continue;
        }
        let mut contestants: Vec<Contestant<'_>> = pools
            .iter()
            .map(|h| Contestant::timed(h.name(), || (w.run)(&**h, w.elements)))
            .collect();
        interleave(w.name, w.elements, rounds, &mut contestants);
    }
}
