//! A probe of the scheduler's hot paths on our pool alone: for each workload,
//! the median time per operation, the CPUs the process used while it ran
//! (from `/proc/self/task/*/schedstat`, nanosecond run times) and the steals
//! per operation. `EXECUTOR_PROBE_ROUNDS` (default 15) rounds;
//! `EXECUTOR_PROBE_WORKLOADS` (default all) a comma-separated subset of
//! `chained_spawn,ping_pong,spawn_inside,spawn_outside,round_trip`.
//!
//! ```text
//! cargo run --release -p benches --bin sched_probe
//! ```

use benches::{env_usize, Harness, Ours};
use std::time::Instant;

/// Nanoseconds every thread of this process has run so far.
fn cpu_ns() -> u64 {
    let mut sum = 0;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for e in dir.flatten() {
            let p = e.path().join("schedstat");
            if let Ok(s) = std::fs::read_to_string(p) {
                if let Some(v) = s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    sum += v;
                }
            }
        }
    }
    sum
}

/// One workload: runs a round on the harness.
type Workload = Box<dyn Fn(&Harness<Ours>)>;

fn main() {
    let rounds = env_usize("EXECUTOR_PROBE_ROUNDS", 15);
    let threads = benches::bench_threads();
    let list = std::env::var("EXECUTOR_PROBE_WORKLOADS")
        .unwrap_or_else(|_| "chained_spawn,ping_pong,spawn_inside,spawn_outside,round_trip".into());
    let h = Harness::<Ours>::new(threads);
    for w in list.split(',') {
        let (ops, f): (usize, Workload) = match w {
            "chained_spawn" => (100_000, Box::new(|h| h.chained_spawn(100_000))),
            "ping_pong" => (50_000, Box::new(|h| h.ping_pong(50_000))),
            "spawn_inside" => (1_000_000, Box::new(|h| h.spawn_inside(1_000_000))),
            "spawn_outside" => (1_000_000, Box::new(|h| h.spawn_outside(1_000_000))),
            "round_trip" => (
                1000,
                Box::new(|h| {
                    for _ in 0..1000 {
                        h.round_trip()
                    }
                }),
            ),
            other => panic!("unknown workload {other}"),
        };
        f(&h);
        let mut ns = Vec::new();
        let mut cpus = Vec::new();
        let mut steals = Vec::new();
        for _ in 0..rounds {
            let s0 = h.pool.0.stats().steals;
            let c0 = cpu_ns();
            let t0 = Instant::now();
            f(&h);
            let wall = t0.elapsed().as_nanos() as f64;
            let cpu = (cpu_ns() - c0) as f64;
            ns.push(wall / ops as f64);
            cpus.push(cpu / wall);
            steals.push((h.pool.0.stats().steals - s0) as f64 / ops as f64);
        }
        let med = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            (v[v.len() / 2], v[v.len() / 4], v[v.len() * 3 / 4])
        };
        let (n, n25, n75) = med(&mut ns);
        let (c, ..) = med(&mut cpus);
        let (s, ..) = med(&mut steals);
        println!("{w:14} {n:8.1} ns/op ({n25:.1}-{n75:.1})  cpus {c:.2}  steals/op {s:.3}");
    }
}
