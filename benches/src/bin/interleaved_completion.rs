//! The `completion` bench's workload, interleaved (issue 4): `N` tasks of skewed
//! 0–50 µs busy work submitted from outside, consumed in completion order, on
//! every row of `benches::completion` (`executor_core` by `take`,
//! `executor_core_iter` by the blocking iterator, the `_helping` rows with a
//! consumer that runs queued tasks while it waits, tokio `JoinSet`, `futures`
//! `FuturesUnordered`, rayon + mpsc), round by round with rotating order (see
//! `benches::interleave` for the method).
//!
//! Prints three things:
//!
//! 1. `order`: the interleave table: median time per task and the paired ratios
//!    `ours / this` of the total times (ours = `executor_core`, by `take`).
//! 2. The same rounds against the ideal (sum of the durations / threads, exact):
//!    per row the median `total / ideal` with its 25th–75th percentile; the
//!    paired `total / ideal_threads` (the ideal as the machine delivers it in
//!    that round: plain threads, no queue, no results; quote this one when
//!    `ideal_threads` itself is well above 1.0, i.e. the machine is busy); the
//!    median time to the first result (from the start of submission); and the
//!    paired ratio of that time to `rayon_mpsc`'s in the same round.
//! 3. `diagnose`: our rows `executor_core` and `executor_core_helping` (the
//!    consumer's tasks shown as the last "worker") rerun with a timestamp per `take` (median of 5 runs by
//!    total): time in task bodies per worker, worker time lost while work
//!    remained, the idle tail, and how late the consumer took results.
//!
//! | variable | default |
//! |---|---|
//! | `EXECUTOR_BENCH_THREADS` | 2 |
//! | `EXECUTOR_BENCH_COMPLETION_N` | 10,000 tasks |
//! | `EXECUTOR_BENCH_COMPLETION_MAX_US` | 50 (longest task, µs) |
//! | `EXECUTOR_BENCH_ROUNDS` | 15 (plus one warm-up round, not counted) |
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo run --release -p benches --bin interleaved_completion
//! CARGO_TARGET_DIR=/work/target-bench cargo run --release -p benches --bin interleaved_completion -- diagnose
//! ```
//! (arguments, if any, select `order` and/or `diagnose`; about 15 s in all).

use benches::completion::{diagnose, ideal_threads, CompletionOrder, Outcome, Work};
use benches::interleave::{command_line, interleave, quantile, Contestant};
use benches::{env_usize, FuturesPool, Ours, Peer, Rayon, Tokio};
use std::cell::RefCell;

fn main() {
    let selection = command_line(
        "interleaved_completion",
        "Completion order with skewed busy work, every pool interleaved round by round (order), \
         and where our pool's time goes (diagnose)",
        &["order", "diagnose"],
        "Environment: EXECUTOR_BENCH_THREADS (worker threads, default 2), EXECUTOR_BENCH_COMPLETION_N \
         (tasks, default 10000), EXECUTOR_BENCH_COMPLETION_MAX_US (longest task, default 50), \
         EXECUTOR_BENCH_ROUNDS (default 15).",
    );
    let work = Work::from_env();
    let threads = work.threads;
    let rounds = env_usize("EXECUTOR_BENCH_ROUNDS", 15);
    let ours = Ours::build(threads);
    let rayon = Rayon::build(threads);
    let tokio = Tokio::build(threads);
    let futures = FuturesPool::build(threads);
    println!("{}; {rounds} rounds (+1 warm-up)", work.describe());

    if selection.has("order") {
        let rows: Vec<_> = [
            ours.consumers(),
            rayon.consumers(),
            tokio.consumers(),
            futures.consumers(),
        ]
        .into_iter()
        .flatten()
        .chain([(
            "ideal_threads",
            Box::new(ideal_threads) as benches::completion::Consumer<'_>,
        )])
        .collect();
        // Every outcome, warm-up round included (index 0), per row.
        let outcomes: Vec<RefCell<Vec<Outcome>>> =
            rows.iter().map(|_| RefCell::new(Vec::new())).collect();
        let mut cs: Vec<_> = rows
            .iter()
            .zip(&outcomes)
            .map(|((name, run), log)| {
                let work = &work;
                Contestant::self_timed(name, move || {
                    let o = run(work);
                    log.borrow_mut().push(o);
                    o.total
                })
            })
            .collect();
        let title = format!(
            "completion_order: {} tasks of 0-{} µs busy work, consumed in completion order; element = a task",
            work.len(),
            work.durations.iter().max().copied().unwrap_or(0) / 1000 + 1,
        );
        interleave(&title, work.len(), rounds, &mut cs);
        drop(cs);

        let ideal = work.ideal().as_secs_f64();
        let outcomes: Vec<Vec<Outcome>> = outcomes
            .into_iter()
            .map(|l| l.into_inner().split_off(1))
            .collect();
        let position = |want: &str| {
            rows.iter()
                .position(|(name, _)| *name == want)
                .expect("row present")
        };
        let (reference, achievable) = (position("rayon_mpsc"), position("ideal_threads"));
        println!(
            "\nagainst the ideal ({:.2} ms); first = time to the first result from the start of submission",
            ideal * 1e3
        );
        println!(
            "| {:<21} | {:>11} | {:>15} | {:>24} | {:>10} | {:>20} |",
            "row",
            "total/ideal",
            "p25-p75",
            "total/ideal_threads (p25-75)",
            "first (ms)",
            "first/rayon (p25-75)"
        );
        println!(
            "|{:-<23}|{:->13}|{:->17}|{:->30}|{:->12}|{:->22}|",
            "", "", "", "", "", ""
        );
        for ((name, _), o) in rows.iter().zip(&outcomes) {
            let r: Vec<f64> = o.iter().map(|o| o.total.as_secs_f64() / ideal).collect();
            let first: Vec<f64> = o.iter().map(|o| o.first.as_secs_f64() * 1e3).collect();
            let paired: Vec<f64> = o
                .iter()
                .zip(&outcomes[reference])
                .map(|(a, b)| a.first.as_secs_f64() / b.first.as_secs_f64())
                .collect();
            let vs_achievable: Vec<f64> = o
                .iter()
                .zip(&outcomes[achievable])
                .map(|(a, b)| a.total.as_secs_f64() / b.total.as_secs_f64())
                .collect();
            println!(
                "| {:<21} | {:>11.3} | {:>7.3}-{:<7.3} | {:>12.3} ({:.3}-{:.3}) | {:>10.3} | {:>6.2} ({:.2}-{:.2}) |",
                name,
                quantile(&r, 0.5),
                quantile(&r, 0.25),
                quantile(&r, 0.75),
                quantile(&vs_achievable, 0.5),
                quantile(&vs_achievable, 0.25),
                quantile(&vs_achievable, 0.75),
                quantile(&first, 0.5),
                quantile(&paired, 0.5),
                quantile(&paired, 0.25),
                quantile(&paired, 0.75),
            );
        }
    }

    if selection.has("diagnose") {
        for (helping, row) in [(false, "executor_core"), (true, "executor_core_helping")] {
            let mut runs: Vec<_> = (0..5).map(|_| diagnose(&ours.0, &work, helping)).collect();
            runs.sort_by_key(|d| d.total);
            println!("\n{row} (take), median of 5 runs by total:");
            println!("{}", runs[2]);
        }
    }
}
