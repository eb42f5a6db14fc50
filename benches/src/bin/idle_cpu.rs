//! CPU that each pool burns while it has nothing to do.
//!
//! For each pool (ours, rayon, tokio, threadpool, futures; same thread count,
//! `EXECUTOR_BENCH_THREADS`, default 2): build it, run a burst of work
//! (`EXECUTOR_IDLE_BURST` empty jobs from outside, default 100,000, then as many
//! spawned from inside), wait for the burst to finish, then sleep two seconds and
//! report, for each idle second, the CPU time the whole process used and its
//! number of context switches (each one a thread going to sleep or being
//! preempted: a pool that wakes up on a timer shows here even when its CPU is
//! small). A first row with no pool at all is the floor.
//!
//! An idle pool should use ~0 ms: workers that spin for a short while after the
//! burst show in the first second only; anything in the second second is a pool
//! that never really sleeps (polling, timed parks).
//!
//! CPU time comes from `/proc/self/task/*/schedstat` (nanoseconds on CPU, per
//! thread; no `unsafe` needed), falling back to `/proc/self/stat` (clock ticks,
//! assumed 100 Hz, so 10 ms resolution) when schedstat is not available. Linux only.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo run --release -p benches --bin idle_cpu
//! ```

use benches::{bench_threads, env_usize, for_each_peer};
use std::collections::HashMap;
use std::fs;
use std::thread;
use std::time::Duration;

/// Per-thread counters at one instant, keyed by thread id.
#[derive(Debug, Default)]
struct Snapshot {
    /// Thread id → (CPU nanoseconds, voluntary + involuntary context switches).
    threads: HashMap<u64, (u64, u64)>,
    /// Process CPU from `/proc/self/stat` (utime + stime), in nanoseconds; the
    /// fallback when schedstat is missing.
    process_ns: u64,
}

/// Nanoseconds per clock tick of `/proc/self/stat`, assuming the usual 100 Hz.
const TICK_NS: u64 = 10_000_000;

fn snapshot() -> Snapshot {
    let mut snap = Snapshot {
        process_ns: process_cpu_ns().unwrap_or(0),
        ..Snapshot::default()
    };
    let Ok(dir) = fs::read_dir("/proc/self/task") else {
        return snap;
    };
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let path = entry.path();
        // A thread may exit between read_dir and the reads: skip it.
        let Some(cpu) = fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
        else {
            continue;
        };
        let switches = fs::read_to_string(path.join("status"))
            .map(|s| {
                s.lines()
                    .filter(|l| l.contains("ctxt_switches"))
                    .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        snap.threads.insert(tid, (cpu, switches));
    }
    snap
}

/// utime + stime of the process, from `/proc/self/stat`.
fn process_cpu_ns() -> Option<u64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count the
    // fields after its closing parenthesis. utime and stime are fields 14 and 15,
    // so the 12th and 13th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) * TICK_NS)
}

/// CPU milliseconds and context switches between two snapshots. Threads born in
/// between count from zero; threads that died in between are lost (none should:
/// the pool is idle).
fn used(before: &Snapshot, after: &Snapshot) -> (f64, u64) {
    if after.threads.is_empty() {
        let ns = after.process_ns.saturating_sub(before.process_ns);
        return (ns as f64 / 1e6, 0);
    }
    let (mut ns, mut switches) = (0, 0);
    for (tid, &(cpu, sw)) in &after.threads {
        let (cpu0, sw0) = before.threads.get(tid).copied().unwrap_or((0, 0));
        ns += cpu.saturating_sub(cpu0);
        switches += sw.saturating_sub(sw0);
    }
    (ns as f64 / 1e6, switches)
}

/// Sleeps through two idle seconds; the usage in each.
fn idle_seconds() -> [(f64, u64); 2] {
    let s0 = snapshot();
    thread::sleep(Duration::from_secs(1));
    let s1 = snapshot();
    thread::sleep(Duration::from_secs(1));
    let s2 = snapshot();
    [used(&s0, &s1), used(&s1, &s2)]
}

fn print_row(name: &str, [(ms1, sw1), (ms2, sw2)]: [(f64, u64); 2]) {
    println!("| {name:<13} | {ms1:>13.2} | {sw1:>13} | {ms2:>13.2} | {sw2:>13} |");
}

fn main() {
    benches::interleave::command_line(
        "idle_cpu",
        "CPU burned by each pool while idle, after a burst of jobs",
        &[],
        "Environment: EXECUTOR_BENCH_THREADS (worker threads, default 2), EXECUTOR_IDLE_BURST \
         (jobs per burst, default 100000).",
    );
    let threads = bench_threads();
    let burst = env_usize("EXECUTOR_IDLE_BURST", 100_000);
    println!("idle CPU after a burst of {burst} + {burst} jobs, {threads} worker threads");
    println!("(whole process; \"switches\" = context switches of all its threads)\n");
    println!(
        "| {:<13} | {:>13} | {:>13} | {:>13} | {:>13} |",
        "pool", "0-1 s CPU ms", "0-1 s switch", "1-2 s CPU ms", "1-2 s switch"
    );
    println!(
        "|{:-<15}|{:->15}|{:->15}|{:->15}|{:->15}|",
        "", "", "", "", ""
    );
    print_row("(no pool)", idle_seconds());
    for_each_peer(threads, false, |h| {
        h.spawn_outside(burst);
        h.spawn_inside(burst);
        print_row(h.name(), idle_seconds());
    });
}
