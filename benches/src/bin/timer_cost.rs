//! Instruction counts for the timer's cost on other paths (issue 19), to run
//! under `valgrind --tool=callgrind` (deterministic whatever the load):
//!
//! ```text
//! cargo build --release -p benches --bin timer_cost
//! valgrind --tool=callgrind target/release/timer_cost outside 0       # no timer
//! valgrind --tool=callgrind target/release/timer_cost outside 1000    # 1000 pending, none due
//! valgrind --tool=callgrind target/release/timer_cost schedule 100000 # schedule + cancel
//! ```
//!
//! `outside N`: N timers pending (due in an hour), then 100,000 empty jobs
//! from outside on a 1-thread pool, waited for. `schedule N`: N one-shots
//! scheduled with random delays in 0-1 s, then cancelled.

use executor_core::ThreadPool;
use executor_futures::ScheduledExecutorService;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "outside".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let pool = ThreadPool::new(1).unwrap();
    match mode.as_str() {
        "outside" => {
            let far = Instant::now() + Duration::from_secs(3600);
            let keys: Vec<_> = (0..n)
                .map(|_| pool.schedule_at(far, || ()).unwrap())
                .collect();
            let done = Arc::new(AtomicUsize::new(0));
            const JOBS: usize = 100_000;
            for _ in 0..JOBS {
                let done = done.clone();
                pool.execute(move || {
                    done.fetch_add(1, Ordering::Relaxed);
                })
                .unwrap();
            }
            while done.load(Ordering::Relaxed) < JOBS {
                std::thread::yield_now();
            }
            for k in keys {
                k.cancel();
            }
        }
        "schedule" => {
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            let start = Instant::now();
            let keys: Vec<_> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let due = start + Duration::from_nanos(x % 1_000_000_000);
                    pool.schedule_at(due, || ()).unwrap()
                })
                .collect();
            for k in keys {
                k.cancel();
            }
        }
        other => panic!("unknown mode {other:?}"),
    }
    drop(pool.shutdown_now());
}
