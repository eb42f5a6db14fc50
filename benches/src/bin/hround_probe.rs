//! Probe for `compare`'s `round_trip` (issue 21): one job submitted from
//! outside into an idle pool, then a blocking wait on the latch it opens, in
//! a loop. Prints ns per trip and the context switches per trip of the whole
//! process and of the submitting thread (from `/proc/self/task/*/status`).
//!
//! `hround_probe [ours|rayon|tokio] [trips] [latch] [threads]`, latch one of
//! `countdown` (the harness's `Countdown`: a mutex and a condvar, notified
//! after the unlock), `locked` (the same, notified under the lock, as the
//! harness did before) and `park` (an atomic flag and `thread::park`/`unpark`, as Java's
//! `CountDownLatch` does with `LockSupport`).
//!
//! `hround_probe spawn [jobs] [rounds]`: `spawn_outside` on our pool only
//! (for `perf record` of the submitting thread).

use benches::{Countdown, Ours, Peer, Rayon, Tokio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::Instant;

fn switches(path: &str) -> (u64, u64) {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (
        field("voluntary_ctxt_switches:"),
        field("nonvoluntary_ctxt_switches:"),
    )
}

fn all_switches() -> (u64, u64) {
    let mut total = (0, 0);
    for e in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let (v, n) = switches(&format!("{}/status", e.path().display()));
        total.0 += v;
        total.1 += n;
    }
    total
}

/// The harness's latch as it was: notified under the lock.
#[derive(Default)]
struct Locked {
    left: AtomicUsize,
    open: Mutex<bool>,
    cv: Condvar,
}

impl Locked {
    fn arm(&self, n: usize) {
        *self.open.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.left.store(n, Ordering::Relaxed);
    }
    fn done(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            *open = true;
            self.cv.notify_one();
        }
    }
    fn wait(&self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        while !*open {
            open = self.cv.wait(open).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A latch like Java's `CountDownLatch` for one waiter: a flag, and a park.
struct Parked {
    left: AtomicUsize,
    open: AtomicBool,
    waiter: OnceLock<Thread>,
}

impl Parked {
    fn arm(&self, n: usize) {
        self.open.store(false, Ordering::Relaxed);
        self.left.store(n, Ordering::Relaxed);
    }
    fn done(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.open.store(true, Ordering::Release);
            self.waiter
                .get()
                .expect("set before the first trip")
                .unpark();
        }
    }
    fn wait(&self) {
        while !self.open.load(Ordering::Acquire) {
            std::thread::park();
        }
    }
}

/// Nanoseconds since the first call (a shared clock for the job and the
/// waiting thread).
fn now_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// When the last trip's job started (`now_ns`).
static STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Submit-to-start and start-to-resume of `trips` trips, in ns: median,
/// 99th percentile and mean of each.
fn split(trips: usize, mut trip: impl FnMut()) -> ([u64; 3], [u64; 3]) {
    let (mut to_start, mut to_resume) = (Vec::new(), Vec::new());
    for _ in 0..trips {
        let t0 = now_ns();
        trip();
        let t2 = now_ns();
        let t1 = STARTED.load(Ordering::Acquire);
        to_start.push(t1.saturating_sub(t0));
        to_resume.push(t2.saturating_sub(t1));
    }
    let stats = |mut v: Vec<u64>| {
        v.sort_unstable();
        let mean = v.iter().sum::<u64>() / v.len() as u64;
        [v[v.len() / 2], v[v.len() * 99 / 100], mean]
    };
    (stats(to_start), stats(to_resume))
}

fn measure(name: &str, trips: usize, mut trip: impl FnMut()) {
    for _ in 0..trips / 10 {
        trip();
    }
    let main0 = switches("/proc/thread-self/status");
    let all0 = all_switches();
    let t = Instant::now();
    for _ in 0..trips {
        trip();
    }
    let ns = t.elapsed().as_nanos() as f64 / trips as f64;
    let main1 = switches("/proc/thread-self/status");
    let all1 = all_switches();
    let per = |a: u64, b: u64| (b - a) as f64 / trips as f64;
    let (to_start, to_resume) = split(trips, &mut trip);
    println!(
        "{name:>24}: median/p99/mean ns: submit to job start {to_start:?}, job start to waiter resumed {to_resume:?}"
    );
    println!(
        "{name:>24}: {ns:8.0} ns/trip; ctx switches per trip: all vol {:.2} invol {:.2}; main vol {:.2} invol {:.2}",
        per(all0.0, all1.0),
        per(all0.1, all1.1),
        per(main0.0, main1.0),
        per(main0.1, main1.1),
    );
}

/// The latches a round trip can wait on.
trait Latch: Sync + 'static {
    fn arm(&self, n: usize);
    fn done(&self);
    fn wait(&self);
}

impl Latch for Countdown {
    fn arm(&self, n: usize) {
        Countdown::arm(self, n);
    }
    fn done(&self) {
        Countdown::done(self);
    }
    fn wait(&self) {
        Countdown::wait(self);
    }
}

impl Latch for Locked {
    fn arm(&self, n: usize) {
        Locked::arm(self, n);
    }
    fn done(&self) {
        Locked::done(self);
    }
    fn wait(&self) {
        Locked::wait(self);
    }
}

impl Latch for Parked {
    fn arm(&self, n: usize) {
        Parked::arm(self, n);
    }
    fn done(&self) {
        Parked::done(self);
    }
    fn wait(&self) {
        Parked::wait(self);
    }
}

/// Round trips on `pool`, each waiting on `done`.
fn trips<P: Peer>(pool: &P, name: &str, trips: usize, done: &'static impl Latch) {
    measure(name, trips, || {
        done.arm(1);
        pool.submit(move || {
            STARTED.store(now_ns(), Ordering::Release);
            done.done()
        });
        done.wait();
    });
}

fn run<P: Peer>(n: usize, latch: &str, threads: usize) {
    let pool = P::build(threads);
    let name = format!("{} {latch}", P::NAME);
    match latch {
        "countdown" => trips(&pool, &name, n, Box::leak(Box::<Countdown>::default())),
        "locked" => trips(&pool, &name, n, Box::leak(Box::<Locked>::default())),
        "park" => {
            let done: &'static Parked = Box::leak(Box::new(Parked {
                left: AtomicUsize::new(0),
                open: AtomicBool::new(false),
                waiter: OnceLock::new(),
            }));
            done.waiter.set(std::thread::current()).unwrap();
            trips(&pool, &name, n, done);
        }
        other => panic!("unknown latch {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map(String::as_str).unwrap_or("ours");
    let trips = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let latch = args.get(3).map(String::as_str).unwrap_or("countdown");
    let threads = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2);
    if which == "spawn" {
        let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
        let h = benches::Harness::<Ours>::new(2);
        for _ in 0..rounds {
            let t = Instant::now();
            h.spawn_outside(trips);
            println!(
                "spawn_outside: {:.1} ns/job",
                t.elapsed().as_nanos() as f64 / trips as f64
            );
        }
        return;
    }
    match which {
        "ours" => run::<Ours>(trips, latch, threads),
        "rayon" => run::<Rayon>(trips, latch, threads),
        "tokio" => run::<Tokio>(trips, latch, threads),
        other => panic!("unknown pool {other}"),
    }
}
