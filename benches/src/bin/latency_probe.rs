//! Where `compare`'s `latency` tail comes from, on our pool alone: the same
//! open loop (20,000 jobs from outside at 70% of 2 workers, 20 µs each and
//! one in 100 of 2 ms), with each job's submission, start, end and worker
//! recorded. For the jobs that waited more than `SLOW_US` (default 1000 µs)
//! it reports how long each worker was *idle* (running no job) while they
//! waited: idle time there is capacity the scheduler left unused with work
//! queued; none means the wait was only queueing behind running jobs.
//!
//! `POOL=rayon` runs the same loop on a rayon pool (for `perf sched` of
//! both pools under the same load).
//!
//! ```text
//! ROUNDS=5 cargo run --release -p benches --bin latency_probe
//! ```

use benches::probe::rounds;
use executor_core::ThreadPool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const JOBS: usize = 20_000;
const SHORT: Duration = Duration::from_micros(20);
const LONG: Duration = Duration::from_millis(2);
const LONG_EVERY: usize = 100;
const THREADS: usize = 2;

/// One job's record: nanoseconds since the round's start.
#[derive(Default)]
struct Rec {
    submitted: AtomicU64,
    start: AtomicU64,
    end: AtomicU64,
    worker: AtomicU64,
}

fn work_for(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

fn main() {
    let slow_ns = std::env::var("SLOW_US")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(1000)
        * 1000;
    for round in 0..rounds() {
        let rayon_pool = (std::env::var("POOL").as_deref() == Ok("rayon")).then(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(THREADS)
                .thread_name(|i| format!("rayon-{i}"))
                .build()
                .expect("rayon pool")
        });
        let pool = ThreadPool::new(THREADS).expect("pool");
        let recs: Arc<Vec<Rec>> = Arc::new((0..JOBS).map(|_| Rec::default()).collect());
        let mean = (SHORT.as_secs_f64() * (LONG_EVERY - 1) as f64 + LONG.as_secs_f64())
            / LONG_EVERY as f64;
        let interval = Duration::from_secs_f64(mean / (THREADS as f64 * 0.7));
        let (tx, rx) = mpsc::channel::<()>();
        let t0 = Instant::now();
        for i in 0..JOBS {
            let due = t0 + interval * i as u32;
            let now = Instant::now();
            if now < due {
                std::thread::sleep(due - now);
            }
            let recs2 = recs.clone();
            let tx = tx.clone();
            recs[i]
                .submitted
                .store(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
            let job = move || {
                let r = &recs2[i];
                r.start
                    .store(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
                r.worker.store(
                    executor_core::current_thread_index()
                        .or_else(rayon::current_thread_index)
                        .unwrap_or(99) as u64,
                    Ordering::Relaxed,
                );
                work_for(if i % LONG_EVERY == LONG_EVERY - 1 {
                    LONG
                } else {
                    SHORT
                });
                r.end
                    .store(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
                drop(tx);
            };
            match &rayon_pool {
                Some(r) => r.spawn(job),
                None => pool.execute(job).expect("accepted"),
            }
        }
        drop(tx);
        let _ = rx.recv_timeout(Duration::from_secs(60));
        let recs: Vec<(u64, u64, u64, u64)> = recs
            .iter()
            .map(|r| {
                (
                    r.submitted.load(Ordering::Relaxed),
                    r.start.load(Ordering::Relaxed),
                    r.end.load(Ordering::Relaxed),
                    r.worker.load(Ordering::Relaxed),
                )
            })
            .collect();
        let mut delays: Vec<u64> = recs.iter().map(|r| r.1 - r.0).collect();
        delays.sort_unstable();
        let p = |q: f64| delays[((delays.len() - 1) as f64 * q) as usize] / 1000;
        // Busy intervals per worker, sorted by start.
        let mut busy: Vec<Vec<(u64, u64)>> = vec![Vec::new(); THREADS];
        for r in &recs {
            if (r.3 as usize) < THREADS {
                busy[r.3 as usize].push((r.1, r.2));
            }
        }
        for b in &mut busy {
            b.sort_unstable();
        }
        // Idle time of worker w inside [a, b].
        let idle = |w: usize, a: u64, b: u64| -> u64 {
            let mut covered = 0u64;
            for &(s, e) in &busy[w] {
                if e <= a {
                    continue;
                }
                if s >= b {
                    break;
                }
                covered += e.min(b) - s.max(a);
            }
            (b - a).saturating_sub(covered)
        };
        let slow: Vec<&(u64, u64, u64, u64)> =
            recs.iter().filter(|r| r.1 - r.0 > slow_ns).collect();
        let mut idle_sum = [0u64; THREADS];
        let mut wait_sum = 0u64;
        for r in &slow {
            wait_sum += r.1 - r.0;
            for (w, sum) in idle_sum.iter_mut().enumerate() {
                *sum += idle(w, r.0, r.1);
            }
        }
        let off_pool = recs.iter().filter(|r| r.3 as usize >= THREADS).count();
        println!(
            "round {round}: p50 {} µs, p99 {} µs, max {} µs; {} jobs waited > {} µs (total wait {} ms), \
             idle meanwhile: {} ms (worker 0), {} ms (worker 1); jobs off the two workers: {off_pool}",
            p(0.5),
            p(0.99),
            p(1.0),
            slow.len(),
            slow_ns / 1000,
            wait_sum / 1_000_000,
            idle_sum[0] / 1_000_000,
            idle_sum[1] / 1_000_000,
        );
        if let Some(worst) = recs.iter().max_by_key(|r| r.1 - r.0) {
            let (a, b) = (worst.0, worst.1);
            println!(
                "  worst: waited {} µs, ran on worker {}; in its wait worker 0 idle {} µs, worker 1 idle {} µs; jobs started in its wait: {} ({} submitted after it)",
                (b - a) / 1000,
                worst.3,
                idle(0, a, b) / 1000,
                idle(1, a, b) / 1000,
                recs.iter().filter(|r| r.1 > a && r.1 < b).count(),
                recs.iter().filter(|r| r.1 > a && r.1 < b && r.0 > a).count()
            );
        }
        pool.shutdown();
        let _ = pool.await_termination(Duration::from_secs(10));
    }
}
