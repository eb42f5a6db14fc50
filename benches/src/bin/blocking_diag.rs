//! Diagnostic for `compare`'s `blocking_mix` (issue 17): where our pool's
//! time goes against a pool sized by hand (12 `threadpool` threads) and
//! tokio (`block_in_place`), on the same mix (2000 jobs from outside, every
//! fifth sleeping 1 ms, the others computing 50 µs), pools alternated round
//! by round. Per pool: median wall time and the CPU time the whole process
//! used meanwhile (`/proc/self/task/*/schedstat`); for ours, the spare
//! threads started per round (reuse makes it 0 after the first round).
//!
//! * `PROFILE=1`: each job logs its start and end; per round and pool it
//!   prints the share of the run with 0, 1, 2, 3+ computing jobs, the mean
//!   number of sleeping jobs, and the stretches with fewer than 2 computing
//!   jobs in mid-run (those in which a job started sleeping are the
//!   hand-offs to a spare).
//! * `CPU_WORK=1`: the 50 µs jobs do a fixed count of steps (calibrated on an
//!   idle core) instead of spinning until the clock says 50 µs: a spin on
//!   the clock that is preempted finishes on time having used less CPU, so
//!   a pool running more jobs than cores gets work done for free.
//!
//! ```text
//! cargo run --release -p benches --bin blocking_diag -- [rounds]
//! ```

use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

fn cpu_ns() -> u64 {
    let mut total = 0;
    if let Ok(dir) = fs::read_dir("/proc/self/task") {
        for e in dir.flatten() {
            if let Some(n) = fs::read_to_string(e.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            {
                total += n;
            }
        }
    }
    total
}

fn work_for(d: Duration) {
    let iters = ITERS.load(Ordering::Relaxed);
    if iters > 0 {
        // CPU work: a fixed count of dependent steps (calibrated to `d` on
        // an idle core), which a preemption delays instead of shortening.
        let mut x = 1u64;
        for _ in 0..iters {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        std::hint::black_box(x);
        return;
    }
    let until = Instant::now() + d;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

static ITERS: AtomicUsize = AtomicUsize::new(0);

/// Iterations of `work_for`'s CPU loop that take `d` at best (the minimum
/// over many trials, so a preempted trial does not count).
fn calibrate(d: Duration) -> usize {
    let n = 100_000;
    let mut best = Duration::MAX;
    for _ in 0..200 {
        ITERS.store(n, Ordering::Relaxed);
        let t = Instant::now();
        work_for(d);
        best = best.min(t.elapsed());
    }
    ITERS.store(0, Ordering::Relaxed);
    (n as f64 * d.as_secs_f64() / best.as_secs_f64()) as usize
}

#[derive(Default)]
struct Done {
    left: AtomicUsize,
    open: Mutex<bool>,
    cv: Condvar,
}

impl Done {
    fn arm(&self, n: usize) {
        *self.open.lock().unwrap() = false;
        self.left.store(n, Ordering::Relaxed);
    }
    fn done(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.open.lock().unwrap() = true;
            self.cv.notify_one();
        }
    }
    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.cv.wait(open).unwrap();
        }
    }
}

const TASKS: usize = 2000;

static LOG: std::sync::OnceLock<Vec<[std::sync::atomic::AtomicU64; 2]>> =
    std::sync::OnceLock::new();
static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
static T0: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn now_ns() -> u64 {
    (BASE.get().unwrap().elapsed().as_nanos() as u64).saturating_sub(T0.load(Ordering::Relaxed))
}

static PROFILE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn job(i: usize, block: impl FnOnce(&dyn Fn())) {
    let log = &LOG.get().unwrap()[i];
    let prof = PROFILE.load(Ordering::Relaxed);
    if prof {
        log[0].store(now_ns(), Ordering::Relaxed);
    }
    if i.is_multiple_of(5) {
        block(&|| std::thread::sleep(Duration::from_millis(1)));
    } else {
        work_for(Duration::from_micros(50));
    }
    if prof {
        log[1].store(now_ns(), Ordering::Relaxed);
    }
}

/// Fraction of wall time (until the last job ends) with 0, 1, 2, 3+ compute
/// jobs running, and the mean number of sleeping jobs.
fn profile() -> String {
    let log = LOG.get().unwrap();
    let mut ev: Vec<(u64, i32, bool)> = Vec::new();
    for (i, l) in log.iter().enumerate() {
        let sleep = i.is_multiple_of(5);
        ev.push((l[0].load(Ordering::Relaxed), 1, sleep));
        ev.push((l[1].load(Ordering::Relaxed), -1, sleep));
    }
    ev.sort_by_key(|e| (e.0, e.1));
    let end = ev.last().unwrap().0;
    let mut hist = [0u64; 4];
    let (mut c, mut s, mut last, mut sleep_int) = (0i32, 0i32, 0u64, 0u64);
    let mut gaps: Vec<(u64, bool)> = Vec::new();
    let mut gap_start: Option<(u64, bool)> = None;
    for (t, d, sl) in ev {
        if c < 2 && t > last && gap_start.is_none() {
            gap_start = Some((last, false));
        }
        hist[(c.max(0) as usize).min(3)] += t - last;
        sleep_int += s as u64 * (t - last);
        last = t;
        if sl {
            s += d
        } else {
            c += d
        }
        if sl && d > 0 {
            if let Some(g) = gap_start.as_mut() {
                g.1 = true;
            }
        }
        if c >= 2 {
            if let Some((g, by_sleep)) = gap_start.take() {
                if t > g && t < end - 3_000_000 && g > 2_000_000 {
                    gaps.push((t - g, by_sleep));
                }
            }
        } else if gap_start.is_none() {
            gap_start = Some((t, false));
        }
    }
    gaps.sort();
    let n = gaps.len();
    let tot: u64 = gaps.iter().map(|g| g.0).sum();
    let by_sleep = gaps.iter().filter(|g| g.1).count();
    let tot_sleep: u64 = gaps.iter().filter(|g| g.1).map(|g| g.0).sum();
    let mut sl: Vec<u64> = gaps.iter().filter(|g| g.1).map(|g| g.0).collect();
    sl.sort();
    let sq = |q: f64| {
        if sl.is_empty() {
            0.0
        } else {
            sl[((sl.len() - 1) as f64 * q) as usize] as f64 / 1e3
        }
    };
    let gq = |q: f64| {
        if n == 0 {
            0.0
        } else {
            gaps[((n - 1) as f64 * q) as usize].0 as f64 / 1e3
        }
    };
    let gapinfo = format!("gaps<2 (mid-run): n={n} (with a sleep start {by_sleep}: total {:.1} ms p50 {:.0} p90 {:.0} us) total {:.1} ms, p50 {:.0} p90 {:.0} max {:.0} us", tot_sleep as f64 / 1e6, sq(0.5), sq(0.9), tot as f64/1e6, gq(0.5), gq(0.9), gq(1.0));
    let f = |x: u64| x as f64 / end as f64 * 100.0;
    format!("{gapinfo}; compute 0:{:.0}% 1:{:.0}% 2:{:.0}% 3+:{:.0}%, mean sleeping {:.1}, end {:.1} ms",
        f(hist[0]), f(hist[1]), f(hist[2]), f(hist[3]), sleep_int as f64 / end as f64, end as f64 / 1e6)
}

fn run(
    submit: &dyn Fn(Box<dyn FnOnce() + Send>),
    done: &Arc<Done>,
    managed: fn(&dyn Fn()),
) -> (f64, f64) {
    done.arm(TASKS);
    let c0 = cpu_ns();
    let t = Instant::now();
    T0.store(
        t.duration_since(*BASE.get_or_init(Instant::now)).as_nanos() as u64,
        Ordering::Relaxed,
    );
    for i in 0..TASKS {
        let d = done.clone();
        submit(Box::new(move || {
            job(i, |f| managed(f));
            d.done();
        }));
    }
    done.wait();
    let wall = t.elapsed().as_secs_f64() * 1e3;
    let cpu = (cpu_ns() - c0) as f64 / 1e6;
    (wall, cpu)
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(9);
    let spare_starts = Arc::new(AtomicUsize::new(0));
    let ss = spare_starts.clone();
    let ours = executor_core::ThreadPool::builder()
        .num_threads(2)
        .on_thread_start(move |i| {
            if i >= 2 {
                ss.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build()
        .unwrap();
    let sized = threadpool::ThreadPool::new(12);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    BASE.get_or_init(Instant::now);
    PROFILE.store(std::env::var_os("PROFILE").is_some(), Ordering::Relaxed);
    if std::env::var_os("CPU_WORK").is_some() {
        let iters = calibrate(Duration::from_micros(50));
        eprintln!("CPU work: {iters} iterations for 50 us");
        ITERS.store(iters, Ordering::Relaxed);
    }
    let done = Arc::new(Done::default());
    LOG.get_or_init(|| (0..TASKS).map(|_| Default::default()).collect());
    let mut rows: Vec<(&str, Vec<(f64, f64)>)> =
        vec![("ours", vec![]), ("sized12", vec![]), ("tokio", vec![])];
    // `ONLY=ours` (or `sized`, `tokio`): run that pool alone (for `perf
    // sched record`, whose trace then holds one pool's threads).
    let only = std::env::var("ONLY").ok();
    let runs = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let skipped = || ((0.0, 0.0), String::new());
    for round in 0..=rounds {
        let before = spare_starts.load(Ordering::Relaxed);
        let (o, po) = if runs("ours") {
            let o = run(&|f| ours.execute(f).unwrap(), &done, |f| {
                executor_core::block_in_place(f)
            });
            (o, profile())
        } else {
            skipped()
        };
        let started = spare_starts.load(Ordering::Relaxed) - before;
        let (s, ps) = if runs("sized") {
            (run(&|f| sized.execute(f), &done, |f| f()), profile())
        } else {
            skipped()
        };
        let h = tokio.handle().clone();
        let (k, pk) = if runs("tokio") {
            let k = run(&|f| drop(h.spawn(async move { f() })), &done, |f| {
                tokio::task::block_in_place(f)
            });
            (k, profile())
        } else {
            skipped()
        };
        if round > 0 && PROFILE.load(Ordering::Relaxed) {
            eprintln!("  ours  {po}\n  sized {ps}\n  tokio {pk}");
        }
        if round == 0 {
            continue; // warm-up
        }
        eprintln!(
            "round {round}: ours {:.1} ms cpu {:.1} (spare threads started {started}, spares now {}) | sized {:.1} cpu {:.1} | tokio {:.1} cpu {:.1}",
            o.0, o.1, ours.stats().spares, s.0, s.1, k.0, k.1
        );
        rows[0].1.push(o);
        rows[1].1.push(s);
        rows[2].1.push(k);
    }
    for (name, v) in &mut rows {
        let mut w: Vec<f64> = v.iter().map(|x| x.0).collect();
        let mut c: Vec<f64> = v.iter().map(|x| x.1).collect();
        w.sort_by(f64::total_cmp);
        c.sort_by(f64::total_cmp);
        println!(
            "{name}: wall median {:.1} ms, cpu median {:.1} ms",
            w[w.len() / 2],
            c[c.len() / 2]
        );
    }
}
