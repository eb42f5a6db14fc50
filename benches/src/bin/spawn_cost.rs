//! Instruction counts of the in-pool spawn rows on our pool, for callgrind:
//! runs one of `chained_spawn`, `ping_pong`, `spawn_inside` once with `N`
//! operations (`fib_fine`: `fib_fine(N)`, `fib_joins(N)` joins) (after a warm-up round of the same size), on
//! `EXECUTOR_BENCH_THREADS` workers (default 2). The per-operation count is
//! the difference of two runs with different `N`, divided by the difference:
//!
//! ```text
//! valgrind --tool=callgrind target/release/spawn_cost chained_spawn 100000
//! valgrind --tool=callgrind target/release/spawn_cost chained_spawn 200000
//! ```
//!
//! Under valgrind the threads run one at a time, so with 2 workers the
//! thief's share is not the real one; with `EXECUTOR_BENCH_THREADS=1` the
//! count is the owner's exact path. With `ROUNDS` set, it times that many
//! rounds instead and prints the median and range of ns per operation
//! (`benches::probe::report`).

use benches::forkjoin::{fib_fine, fib_iter};
use benches::{ForkJoin, Harness, Ours};

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "chained_spawn".into());
    let n: usize = args.next().map_or(100_000, |s| s.parse().expect("N"));
    let h = Harness::<Ours>::new(benches::bench_threads());
    let run = |h: &Harness<Ours>| match workload.as_str() {
        "chained_spawn" => h.chained_spawn(n),
        "ping_pong" => h.ping_pong(n),
        "spawn_inside" => h.spawn_inside(n),
        "fib_fine" => {
            let r = h.pool.install(|| fib_fine::<Ours>(n as u64));
            assert_eq!(r, fib_iter(n as u64));
        }
        other => panic!("unknown workload {other}"),
    };
    run(&h);
    if std::env::var_os("ROUNDS").is_some() {
        let ops = match workload.as_str() {
            "fib_fine" => benches::forkjoin::fib_joins(n as u64) as f64,
            _ => n as f64,
        };
        let times = (0..benches::probe::rounds())
            .map(|_| {
                let t = std::time::Instant::now();
                run(&h);
                t.elapsed().as_nanos() as f64 / ops
            })
            .collect();
        benches::probe::report(&workload, "ns/op", times);
        return;
    }
    run(&h);
    let stats = h.pool.0.stats();
    println!("{workload} {n}: steals {}", stats.steals);
}
