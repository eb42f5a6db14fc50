//! The `forkjoin` and `futures` benches' workloads, interleaved: paired per-round
//! ratios that hold up on a busy machine (see `benches::interleave` for the
//! method: all pools built up front, one iteration per pool per round, rotating
//! order, median and 25th–75th percentile of the per-round ratios `ours / this`).
//!
//! | workload | contestants | one element is |
//! |---|---|---|
//! | `fib_coarse` | ours, rayon | a `fib` call: `fib(n)` forking while `n >= cutoff` |
//! | `fib_fine` | ours, rayon | a `join`: `fib(n)` with a join at every level |
//! | `sum` | ours, rayon | a `u64` summed, halved down to 64K elements |
//! | `quicksort` | ours, rayon | a `u64` sorted (the copy of the unsorted input is not timed) |
//! | `submit_collect` | every pool (see `benches::collect`) | a task submitted from outside, its value collected in order |
//! | `fib_submit` | ours by `submit`/`get`, ours by `join`, rayon by `join` | a fork: `fib(n)`, one half submitted at every level |
//!
//! The fork-join workloads are in `benches::forkjoin`, submit-and-collect in
//! `benches::collect`. Sizes default to a few times smaller than the criterion
//! bench's, so a round of everything takes a couple of seconds:
//!
//! | variable | default |
//! |---|---|
//! | `EXECUTOR_BENCH_THREADS` | 2 |
//! | `EXECUTOR_BENCH_FIB_COARSE` / `EXECUTOR_BENCH_FIB_CUTOFF` | 30 / 18 |
//! | `EXECUTOR_BENCH_FIB_FINE` | 25 |
//! | `EXECUTOR_BENCH_SUM_N` | 10,000,000 |
//! | `EXECUTOR_BENCH_SORT_N` | 2,000,000 |
//! | `EXECUTOR_BENCH_TASKS` | 100,000 (tasks of `submit_collect`) |
//! | `EXECUTOR_BENCH_FIB_SUBMIT` | 20 |
//! | `EXECUTOR_BENCH_ROUNDS` | 15 (plus one warm-up round, not counted) |
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo run --release -p benches --bin interleaved_forkjoin
//! CARGO_TARGET_DIR=/work/target-bench cargo run --release -p benches --bin interleaved_forkjoin -- fib_fine submit_collect
//! ```
//! (arguments, if any, select workloads by name).

use benches::collect::{expected, fib_submit, SubmitCollect};
use benches::forkjoin::{fib_calls, fib_joins, random_u64s, Sizes, SORT_SEED};
use benches::interleave::{command_line, interleave, Contestant};
use benches::{
    bench_threads, env_usize, ErasedForkJoin, FuturesPool, Ours, Peer, Rayon, StdThreadpool, Tokio,
};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let selection = command_line(
        "interleaved_forkjoin",
        "The forkjoin and futures benches' workloads, every pool interleaved round by round",
        &[
            "fib_coarse",
            "fib_fine",
            "sum",
            "quicksort",
            "submit_collect",
            "fib_submit",
        ],
        "Environment: EXECUTOR_BENCH_THREADS (worker threads, default 2), EXECUTOR_BENCH_ROUNDS \
         (default 15), EXECUTOR_BENCH_TASKS (submit_collect, default 100000), \
         EXECUTOR_BENCH_FIB_SUBMIT (default 20), EXECUTOR_BENCH_FIB_COARSE, \
         EXECUTOR_BENCH_FIB_CUTOFF, EXECUTOR_BENCH_FIB_FINE, EXECUTOR_BENCH_SUM_N, \
         EXECUTOR_BENCH_SORT_N (sizes; see benches/README.md).",
    );
    let threads = bench_threads();
    let sizes = Sizes::from_env(Sizes::INTERLEAVED);
    let tasks = env_usize("EXECUTOR_BENCH_TASKS", 100_000);
    let fib_submit_n = env_usize("EXECUTOR_BENCH_FIB_SUBMIT", 20) as u64;
    let rounds = env_usize("EXECUTOR_BENCH_ROUNDS", 15);

    // Every pool, kept for the whole run; ours first (the reference of the ratios).
    let ours = Ours::build(threads);
    let rayon = Rayon::build(threads);
    let tokio = Tokio::build(threads);
    let threadpool = StdThreadpool::build(threads);
    let futures = FuturesPool::build(threads);
    let fork_join: [&dyn ErasedForkJoin; 2] = [&ours, &rayon];
    println!("{threads} worker threads per pool, {sizes:?}, {rounds} rounds (+1 warm-up)");

    if selection.has("fib_coarse") {
        let (n, cutoff) = (sizes.fib_coarse, sizes.fib_cutoff);
        let mut cs = fork_join.map(|p| {
            Contestant::timed(p.name(), move || {
                black_box(p.fib_coarse(black_box(n), cutoff));
            })
        });
        let title = format!("fib_coarse: fib({n}), cutoff {cutoff}; element = a fib call");
        interleave(&title, fib_calls(n) as usize, rounds, &mut cs);
    }

    if selection.has("fib_fine") {
        let n = sizes.fib_fine;
        let mut cs = fork_join.map(|p| {
            Contestant::timed(p.name(), move || {
                black_box(p.fib_fine(black_box(n)));
            })
        });
        let title = format!("fib_fine: fib({n}), join at every level; element = a join");
        interleave(&title, fib_joins(n) as usize, rounds, &mut cs);
    }

    if selection.has("sum") {
        let input: Vec<u64> = (0..sizes.sum as u64).collect();
        let input = &input;
        let mut cs = fork_join.map(|p| {
            Contestant::timed(p.name(), move || {
                black_box(p.sum(black_box(input)));
            })
        });
        interleave(
            "sum: halved down to 64K elements",
            sizes.sum,
            rounds,
            &mut cs,
        );
    }

    if selection.has("quicksort") {
        let input = random_u64s(sizes.sort, SORT_SEED);
        let input = &input;
        let mut cs = fork_join.map(|p| {
            let mut buf = input.clone();
            Contestant::self_timed(p.name(), move || {
                buf.copy_from_slice(input);
                let start = Instant::now();
                p.quicksort(black_box(&mut buf));
                let elapsed = start.elapsed();
                debug_assert!(buf.windows(2).all(|w| w[0] <= w[1]));
                elapsed
            })
        });
        interleave("quicksort", sizes.sort, rounds, &mut cs);
    }

    if selection.has("submit_collect") {
        let want = expected(tasks);
        let rows: Vec<_> = [
            ours.collectors(),
            rayon.collectors(),
            tokio.collectors(),
            threadpool.collectors(),
            futures.collectors(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut cs: Vec<_> = rows
            .iter()
            .map(|(name, c)| Contestant::timed(name, move || assert_eq!(c(tasks), want, "{name}")))
            .collect();
        let title =
            format!("submit_collect: {tasks} tasks submitted from outside, collected in order");
        interleave(&title, tasks, rounds, &mut cs);
    }

    if selection.has("fib_submit") {
        let n = fib_submit_n;
        let mut cs = [
            Contestant::timed("executor_core", || {
                black_box(ours.0.install(|| fib_submit(&ours.0, black_box(n))));
            }),
            Contestant::timed("executor_core_join", || {
                black_box(ours.fib_fine(black_box(n)));
            }),
            Contestant::timed("rayon", || {
                black_box(rayon.fib_fine(black_box(n)));
            }),
        ];
        let title =
            format!("fib_submit: fib({n}), one half submitted at every level; element = a fork");
        interleave(&title, fib_joins(n) as usize, rounds, &mut cs);
    }
}
