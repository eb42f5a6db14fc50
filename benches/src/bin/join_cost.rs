//! What one fork-join costs on this machine, and how much of it is the one
//! SeqCst fence on its fast path.
//!
//! A `join` whose second half nobody steals pushes that half onto the worker's
//! deque, runs the first half, and pops the second back. The pop is
//! `crossbeam_deque::Worker::pop`, Chase–Lev's: store the new bottom, a SeqCst
//! fence, load the top (the fence keeps a thief and the owner from both taking
//! the last job). rayon's `join` has the same fast path on the same deque, so
//! this fence is a floor that both pay per join. This binary measures, on one
//! thread (no contention):
//!
//! | row | what runs per iteration |
//! |---|---|
//! | `store_load` | a store and a load of two atomics, no ordering |
//! | `store_fence_load` | the same with `fence(SeqCst)` between them (the pop's pattern) |
//! | `swap_load` | a SeqCst `swap` then a load (a locked instruction instead of the fence) |
//! | `join_ours`, `join_rayon` | one join of `fib_fine(22)` on a 1-worker pool |
//!
//! Each row is timed `EXECUTOR_JOIN_COST_ROUNDS` times (default 9), rows
//! interleaved; the median ns per iteration is printed with the 25th–75th
//! percentile. Read the rows as ratios to each other: absolute figures move
//! with the machine.
//!
//! ```text
//! cargo run --release -p benches --bin join_cost
//! ```

use benches::forkjoin::{fib_fine, fib_joins};
use benches::{env_usize, ForkJoin, Ours, Peer, Rayon};
use std::hint::black_box;
use std::sync::atomic::{fence, AtomicIsize, Ordering};
use std::time::Instant;

const ITERS: usize = 20_000_000;
const FIB: u64 = 22;

/// Runs `step` `n` times on two atomics and sums what it returns. Generic and
/// never inlined, so each row gets its own loop around its own `step`.
#[inline(never)]
fn kernel(
    a: &AtomicIsize,
    b: &AtomicIsize,
    n: usize,
    step: impl Fn(&AtomicIsize, &AtomicIsize, isize) -> isize,
) -> isize {
    (0..n).map(|i| step(a, b, i as isize)).sum()
}

fn store_load(a: &AtomicIsize, b: &AtomicIsize, i: isize) -> isize {
    a.store(i, Ordering::Relaxed);
    b.load(Ordering::Relaxed)
}

fn store_fence_load(a: &AtomicIsize, b: &AtomicIsize, i: isize) -> isize {
    a.store(i, Ordering::Relaxed);
    fence(Ordering::SeqCst);
    b.load(Ordering::Relaxed)
}

fn swap_load(a: &AtomicIsize, b: &AtomicIsize, i: isize) -> isize {
    a.swap(i, Ordering::SeqCst);
    b.load(Ordering::SeqCst)
}

/// ns per iteration of `f`, which runs `n` iterations.
fn time(n: usize, f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    benches::interleave::command_line(
        "join_cost",
        "One join (ours, rayon) on one worker, against the deque's SeqCst fence alone",
        &[],
        "Environment: EXECUTOR_JOIN_COST_ROUNDS (default 9).",
    );
    let rounds = env_usize("EXECUTOR_JOIN_COST_ROUNDS", 9).max(1);
    let a = AtomicIsize::new(0);
    let b = AtomicIsize::new(1);
    let ours = Ours::build(1);
    let rayon = Rayon::build(1);
    let joins = fib_joins(FIB) as usize;
    let want = benches::forkjoin::fib_iter(FIB);
    let reps = 40;
    let names = [
        "store_load",
        "store_fence_load",
        "swap_load",
        "join_ours",
        "join_rayon",
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..rounds {
        samples[0].push(time(ITERS, || {
            black_box(kernel(&a, &b, black_box(ITERS), store_load));
        }));
        samples[1].push(time(ITERS, || {
            black_box(kernel(&a, &b, black_box(ITERS), store_fence_load));
        }));
        samples[2].push(time(ITERS, || {
            black_box(kernel(&a, &b, black_box(ITERS), swap_load));
        }));
        samples[3].push(time(joins * reps, || {
            for _ in 0..reps {
                assert_eq!(ours.install(|| fib_fine::<Ours>(black_box(FIB))), want);
            }
        }));
        samples[4].push(time(joins * reps, || {
            for _ in 0..reps {
                assert_eq!(rayon.install(|| fib_fine::<Rayon>(black_box(FIB))), want);
            }
        }));
    }
    println!("one thread, {rounds} rounds, median ns per iteration (p25-p75):");
    for (name, mut v) in names.iter().zip(samples) {
        v.sort_by(f64::total_cmp);
        let pick = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        println!(
            "  {name:<17} {:>7.2}  ({:.2}-{:.2})",
            pick(0.5),
            pick(0.25),
            pick(0.75)
        );
    }
}
