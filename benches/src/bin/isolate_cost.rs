//! What [`executor_core::isolate`] costs fork-join code (issue 17 item 2:
//! "measure both"): `fib_fine` (a `join` at every level) and `fib_coarse`
//! (joins down to a cutoff, sequential below) on a 2-worker pool, three ways:
//!
//! | row | what runs |
//! |---|---|
//! | `plain` | `pool.install(|| fib(n))`: joins steal freely while they wait |
//! | `isolated_root` | `pool.install(|| isolate(|| fib(n)))`: the root worker's joins run only their own subtree, and block (compensated by a spare) when their second half was stolen |
//! | `isolated_each` | every `join` inside its own `isolate` (the per-call price of entering it) |
//!
//! Rows interleaved round by round (`EXECUTOR_ISOLATE_ROUNDS`, default 9);
//! medians of ns per join (fine) or per call (coarse), with the 25th–75th
//! percentile, and the pool's spare count after the run.
//!
//! ```text
//! cargo run --release -p benches --bin isolate_cost
//! EXECUTOR_ISOLATE_THREADS=1 EXECUTOR_ISOLATE_ROW=0 valgrind --tool=callgrind target/release/isolate_cost
//! ```
//!
//! `EXECUTOR_ISOLATE_ROW=k` runs row `k` (in the table's order) once and
//! prints nothing: instruction counts of two rows, minus each other and
//! divided by the joins, are the per-join price, whatever the load.

use benches::env_usize;
use benches::forkjoin::{fib_calls, fib_iter, fib_joins, fib_seq};
use executor_core::{isolate, join, ThreadPool};
use std::hint::black_box;
use std::time::Instant;

const FINE: u64 = 25;
const COARSE: u64 = 32;
const CUTOFF: u64 = 20;

fn fine(n: u64, each: bool) -> u64 {
    if n < 2 {
        return n;
    }
    let f = || join(|| fine(n - 1, each), || fine(n - 2, each));
    let (a, b) = if each { isolate(f) } else { f() };
    a + b
}

fn coarse(n: u64, each: bool) -> u64 {
    if n < CUTOFF {
        return fib_seq(n);
    }
    let f = || join(|| coarse(n - 1, each), || coarse(n - 2, each));
    let (a, b) = if each { isolate(f) } else { f() };
    a + b
}

/// One run of `workload` ("fib_fine" or "fib_coarse") as `variant` (the
/// table in the module docs).
fn run(pool: &ThreadPool, workload: &str, variant: &str) -> u64 {
    let each = variant == "isolated_each";
    let fine_grained = workload == "fib_fine";
    let body = move || {
        if fine_grained {
            fine(black_box(FINE), each)
        } else {
            coarse(black_box(COARSE), each)
        }
    };
    if variant == "isolated_root" {
        pool.install(|| isolate(body))
    } else {
        pool.install(body)
    }
}

fn quartiles(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.25), at(0.75))
}

fn main() {
    let rounds = env_usize("EXECUTOR_ISOLATE_ROUNDS", 9);
    let pool = ThreadPool::new(env_usize("EXECUTOR_ISOLATE_THREADS", 2)).unwrap();
    let mut rows = Vec::new();
    for workload in ["fib_fine", "fib_coarse"] {
        for variant in ["plain", "isolated_root", "isolated_each"] {
            rows.push((workload, variant));
        }
    }
    if let Ok(k) = std::env::var("EXECUTOR_ISOLATE_ROW") {
        // One run of one row (for `valgrind --tool=callgrind`).
        let k: usize = k.parse().expect("a row index");
        let (workload, variant) = rows[k];
        black_box(run(&pool, workload, variant));
        return;
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    for round in 0..=rounds {
        for (k, &(workload, variant)) in rows.iter().enumerate() {
            let per = if workload == "fib_fine" {
                fib_joins(FINE)
            } else {
                fib_calls(COARSE)
            };
            let t = Instant::now();
            let r = run(&pool, workload, variant);
            let ns = t.elapsed().as_nanos() as f64 / per as f64;
            assert!(r == fib_iter(FINE) || r == fib_iter(COARSE));
            if round > 0 {
                times[k].push(ns);
            }
        }
    }
    println!("| workload | variant | ns per op (median) | p25-p75 | / plain |");
    println!("|---|---|---|---|---|");
    let mut plain = 0.0;
    for ((w, v), t) in rows.iter().zip(times.iter_mut()) {
        let (m, a, b) = quartiles(t);
        if *v == "plain" {
            plain = m;
        }
        println!("| {w} | {v} | {m:.2} | {a:.2}-{b:.2} | {:.2} |", m / plain);
    }
    println!("spares after the runs: {}", pool.stats().spares);
}
