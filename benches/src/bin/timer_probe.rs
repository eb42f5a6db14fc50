//! Where a timer's lateness comes from on a busy pool (issue 19): the
//! `timer_lateness` load of `compare` (every millisecond one 700 µs job per
//! worker) with each timer split in two parts, measured from outside the
//! library:
//!
//! * **fire**: the timer thread's delay after the deadline (a waker entry due
//!   at the same instant, inserted just before the job: it fires in the same
//!   look, and its `wake` runs on the timer thread right after the hand-over);
//! * **queue**: from there until a worker starts the job.
//!
//! At the start it also records how many load jobs were running and how many
//! were queued (submitted, not started), and prints percentiles of each part
//! and the make-up of the slowest 1%. The "real" figures are `schedule_at`
//! alone (compare's `timer_lateness` rows), to check the split stays close.
//!
//! ```text
//! cargo run --release -p benches --bin timer_probe -- [rounds] [real]
//! ```

use benches::completion::spin;
use executor_core::integration::Timer;
use executor_core::ThreadPool;
use executor_futures::ScheduledExecutorService;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

const THREADS: usize = 2;
const COUNT: usize = 5000;
const WINDOW: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Load {
    submitted: AtomicUsize,
    started: AtomicUsize,
    running: AtomicUsize,
}

#[derive(Clone, Copy, Default)]
struct Sample {
    fire: Duration,
    total: Duration,
    running: usize,
    queued: usize,
}

/// Records when the timer thread fired the entries due at one instant.
struct FireClock {
    base: Instant,
    at: AtomicU64,
}

impl Wake for FireClock {
    fn wake(self: Arc<Self>) {
        let ns = self.base.elapsed().as_nanos() as u64;
        self.at.store(ns.max(1), Ordering::Release);
    }
}

fn run_load<R>(pool: &ThreadPool, load: &Arc<Load>, body: impl FnOnce() -> R) -> R {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..THREADS {
                    let load = load.clone();
                    load.submitted.fetch_add(1, Ordering::Relaxed);
                    pool.execute(move || {
                        load.started.fetch_add(1, Ordering::Relaxed);
                        load.running.fetch_add(1, Ordering::Relaxed);
                        spin(700_000);
                        load.running.fetch_sub(1, Ordering::Relaxed);
                    })
                    .unwrap();
                }
                next += Duration::from_millis(1);
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        });
        let r = body();
        stop.store(true, Ordering::Relaxed);
        r
    })
}

fn pct(v: &mut [Duration], q: f64) -> f64 {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6
}

/// The `schedule_at` path, each timer with a waker entry due at the same
/// instant, scheduled just before it: fired in the same look (deadline, then
/// insertion order), the waker woken right after the job was handed over.
fn split_round() -> Vec<Sample> {
    let pool = ThreadPool::new(THREADS).unwrap();
    let timer: Timer = pool.timer();
    let load = Arc::new(Load::default());
    let out = Arc::new(Mutex::new(Vec::with_capacity(COUNT)));
    run_load(&pool, &load, || {
        let base = Instant::now();
        let start = base + Duration::from_millis(5);
        let mut keys = Vec::with_capacity(COUNT);
        for i in 0..COUNT {
            let due = start + WINDOW.mul_f64(i as f64 / COUNT as f64);
            let clock = Arc::new(FireClock {
                base,
                at: AtomicU64::new(0),
            });
            keys.push(
                timer
                    .wake_at(Some(due), Waker::from(clock.clone()))
                    .unwrap(),
            );
            let (out, load) = (out.clone(), load.clone());
            drop(pool.schedule_at(due, move || {
                let now = Instant::now();
                // The waker is woken just after the hand-over: wait for it.
                let mut fired = clock.at.load(Ordering::Acquire);
                while fired == 0 {
                    std::hint::spin_loop();
                    fired = clock.at.load(Ordering::Acquire);
                }
                let fired = base + Duration::from_nanos(fired);
                out.lock().unwrap().push(Sample {
                    fire: fired.saturating_duration_since(due),
                    total: now.saturating_duration_since(due),
                    running: load.running.load(Ordering::Relaxed),
                    queued: load.submitted.load(Ordering::Relaxed)
                        - load.started.load(Ordering::Relaxed),
                });
            }));
        }
        while out.lock().unwrap().len() < COUNT {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    drop(pool.shutdown_now());
    let v = out.lock().unwrap().clone();
    v
}

fn real_round() -> Vec<Duration> {
    let pool = ThreadPool::new(THREADS).unwrap();
    let load = Arc::new(Load::default());
    let out = Arc::new(Mutex::new(Vec::with_capacity(COUNT)));
    run_load(&pool, &load, || {
        let start = Instant::now() + Duration::from_millis(5);
        for i in 0..COUNT {
            let due = start + WINDOW.mul_f64(i as f64 / COUNT as f64);
            let out = out.clone();
            drop(pool.schedule_at(due, move || {
                let late = Instant::now().saturating_duration_since(due);
                out.lock().unwrap().push(late);
            }));
        }
        while out.lock().unwrap().len() < COUNT {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    drop(pool.shutdown_now());
    let v = out.lock().unwrap().clone();
    v
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    if std::env::args().nth(2).as_deref() == Some("real") {
        // `timer_probe N real`: the `schedule_at` path alone, one line per round.
        for _ in 0..rounds {
            let mut real = real_round();
            println!(
                "{:.0} {:.0} {:.0}",
                pct(&mut real, 0.5),
                pct(&mut real, 0.99),
                pct(&mut real, 1.0)
            );
        }
        return;
    }
    for round in 0..rounds {
        let mut real = real_round();
        let s = split_round();
        let mut fire: Vec<Duration> = s.iter().map(|x| x.fire).collect();
        let mut total: Vec<Duration> = s.iter().map(|x| x.total).collect();
        let mut queue: Vec<Duration> = s.iter().map(|x| x.total.saturating_sub(x.fire)).collect();
        println!(
            "round {round}: real p50/p99/max {:.0}/{:.0}/{:.0} µs | split total {:.0}/{:.0}/{:.0}, fire {:.0}/{:.0}/{:.0}, queue {:.0}/{:.0}/{:.0}",
            pct(&mut real, 0.5),
            pct(&mut real, 0.99),
            pct(&mut real, 1.0),
            pct(&mut total, 0.5),
            pct(&mut total, 0.99),
            pct(&mut total, 1.0),
            pct(&mut fire, 0.5),
            pct(&mut fire, 0.99),
            pct(&mut fire, 1.0),
            pct(&mut queue, 0.5),
            pct(&mut queue, 0.99),
            pct(&mut queue, 1.0),
        );
        // The slowest 1%: what made them late.
        let mut sorted = s.clone();
        sorted.sort_by_key(|x| std::cmp::Reverse(x.total));
        let tail = &sorted[..COUNT / 100];
        let n = tail.len() as f64;
        let avg = |f: &dyn Fn(&Sample) -> f64| tail.iter().map(f).sum::<f64>() / n;
        let mut by_running = [0usize; 4];
        let mut by_queued = [0usize; 4];
        for x in tail {
            by_running[x.running.min(3)] += 1;
            by_queued[x.queued.min(3)] += 1;
        }
        println!(
            "  slowest 1%: total {:.0} µs = fire {:.0} + queue {:.0}; running load jobs at start 0/1/2/3+: {:?}; queued load jobs at start 0/1/2/3+: {:?}",
            avg(&|x| x.total.as_secs_f64() * 1e6),
            avg(&|x| x.fire.as_secs_f64() * 1e6),
            avg(&|x| x.total.saturating_sub(x.fire).as_secs_f64() * 1e6),
            by_running,
            by_queued,
        );
    }
}
