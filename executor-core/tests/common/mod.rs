//! Test helpers shared by the behavioural tests (TESTS.md B.0): gates, run logs,
//! drop counters, a thread census and a watchdog that turns a hang into a failure.
#![allow(dead_code, unreachable_pub)]

use executor_core::{Builder, ThreadPool};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Bound for any wait in a test: past it, the test fails instead of hanging.
pub const LONG: Duration = Duration::from_secs(10);
pub const SHORT: Duration = Duration::from_millis(50);
pub const TIMEOUT: Duration = Duration::from_millis(12);

/// Runs `f` on a helper thread and fails the test if it does not finish within
/// `limit` (a hang must fail, not stall CI). Panics in `f` are re-raised.
/// `EXECUTOR_TEST_TIME_SCALE=k` multiplies `limit` by `k`, for runs under an
/// instrumenting tool (`.ci/soak` runs valgrind with 10).
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let scale = std::env::var("EXECUTOR_TEST_TIME_SCALE")
        .ok()
        .and_then(|k| k.parse::<u32>().ok())
        .unwrap_or(1);
    let limit = limit * scale.max(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(limit) {
        Ok(()) => t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(_) => unreachable!("the closure returned without reporting"),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("hang: not done within {limit:?}")
        }
    }
}

/// A latch that blocks until opened.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }
    /// Waits until opened; panics after LONG.
    pub fn wait(&self) {
        let (m, cv) = &*self.0;
        let (g, res) = cv
            .wait_timeout_while(m.lock().unwrap(), LONG, |open| !*open)
            .unwrap();
        assert!(*g && !res.timed_out(), "gate never opened");
    }
    /// Waits until opened or the pool interrupts the job; true if interrupted.
    pub fn wait_or_interrupt(&self) -> bool {
        let deadline = std::time::Instant::now() + LONG;
        loop {
            if *self.0 .0.lock().unwrap() {
                return false;
            }
            if executor_core::is_interrupted() {
                return true;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "neither opened nor interrupted"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// A countdown latch.
#[derive(Clone)]
pub struct Latch(Arc<(Mutex<usize>, Condvar)>);

impl Latch {
    pub fn new(n: usize) -> Self {
        Latch(Arc::new((Mutex::new(n), Condvar::new())))
    }
    pub fn count_down(&self) {
        let mut n = self.0 .0.lock().unwrap();
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.0 .1.notify_all();
        }
    }
    pub fn wait(&self) {
        let (m, cv) = &*self.0;
        let (g, _) = cv
            .wait_timeout_while(m.lock().unwrap(), LONG, |n| *n > 0)
            .unwrap();
        assert_eq!(*g, 0, "latch never reached zero");
    }
}

/// One counter per task id, incremented on entry: "exactly once" = all ones.
#[derive(Clone)]
pub struct RunLog(Arc<Vec<AtomicU8>>);

impl RunLog {
    pub fn new(n: usize) -> Self {
        RunLog(Arc::new((0..n).map(|_| AtomicU8::new(0)).collect()))
    }
    pub fn mark(&self, i: usize) {
        self.0[i].fetch_add(1, Ordering::SeqCst);
    }
    pub fn get(&self, i: usize) -> u8 {
        self.0[i].load(Ordering::SeqCst)
    }
    pub fn counts(&self) -> Vec<u8> {
        self.0.iter().map(|c| c.load(Ordering::SeqCst)).collect()
    }
    pub fn assert_all_once(&self) {
        let bad: Vec<(usize, u8)> = self
            .counts()
            .into_iter()
            .enumerate()
            .filter(|&(_, c)| c != 1)
            .take(10)
            .collect();
        assert!(
            bad.is_empty(),
            "tasks not run exactly once (id, runs): {bad:?}"
        );
    }
}

/// Counts created and dropped values, with a per-id bit that catches double drops.
#[derive(Clone)]
pub struct DropCounter(Arc<DropInner>);

pub struct DropInner {
    created: AtomicUsize,
    dropped: AtomicUsize,
    /// Up on creation, down on drop: one load gives the live count at one
    /// instant (`created - dropped` from two loads need not).
    live: AtomicUsize,
    dropped_ids: Vec<AtomicBool>,
}

/// A value whose drop is counted.
pub struct Tracked {
    id: usize,
    counter: DropCounter,
}

impl DropCounter {
    pub fn new(capacity: usize) -> Self {
        DropCounter(Arc::new(DropInner {
            created: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            dropped_ids: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
        }))
    }
    pub fn track(&self, id: usize) -> Tracked {
        self.0.created.fetch_add(1, Ordering::SeqCst);
        self.0.live.fetch_add(1, Ordering::SeqCst);
        Tracked {
            id,
            counter: self.clone(),
        }
    }
    pub fn created(&self) -> usize {
        self.0.created.load(Ordering::SeqCst)
    }
    pub fn dropped(&self) -> usize {
        self.0.dropped.load(Ordering::SeqCst)
    }
    /// Values created and not dropped yet, at one instant.
    pub fn live(&self) -> usize {
        self.0.live.load(Ordering::SeqCst)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let was = self.counter.0.dropped_ids[self.id].swap(true, Ordering::SeqCst);
        assert!(!was, "value {} dropped twice", self.id);
        self.counter.0.dropped.fetch_add(1, Ordering::SeqCst);
        self.counter.0.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Live worker threads, from the start/stop hooks.
#[derive(Clone, Default)]
pub struct Census {
    pub started: Arc<AtomicUsize>,
    pub stopped: Arc<AtomicUsize>,
}

impl Census {
    /// Threads started and not stopped yet (`stopped` read first, as in
    /// `DropCounter::live`).
    pub fn live(&self) -> usize {
        let stopped = self.stopped.load(Ordering::SeqCst);
        self.started.load(Ordering::SeqCst) - stopped
    }
    pub fn builder(&self, threads: usize) -> Builder {
        let (s, t) = (self.started.clone(), self.stopped.clone());
        ThreadPool::builder()
            .num_threads(threads)
            .on_thread_start(move |_| {
                s.fetch_add(1, Ordering::SeqCst);
            })
            .on_thread_stop(move |_| {
                t.fetch_add(1, Ordering::SeqCst);
            })
    }
}

/// A pool of `n` threads with a census.
pub fn pool_with_census(n: usize) -> (ThreadPool, Census) {
    let census = Census::default();
    let pool = census.builder(n).build().unwrap();
    (pool, census)
}

/// Occupies every worker of `pool` until the returned gate opens; returns once
/// all of them are blocked.
pub fn block_all_workers(pool: &ThreadPool) -> Gate {
    let gate = Gate::new();
    let started = Latch::new(pool.num_threads());
    for _ in 0..pool.num_threads() {
        let (g, s) = (gate.clone(), started.clone());
        pool.execute(move || {
            s.count_down();
            g.wait();
        })
        .unwrap();
    }
    started.wait();
    gate
}
