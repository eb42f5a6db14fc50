//! The `timer_*` rows of `compare` (issue 19): our pool's timer
//! (`ScheduledExecutorService::schedule`, an indexed heap with a lazy driver
//! thread) against tokio's (`tokio::time::sleep` in a spawned task; tokio's
//! wheel) and a std baseline (one thread, `Mutex<BinaryHeap>` + `Condvar`,
//! cancel by a flag checked at the deadline, due jobs run on a std pool).
//!
//! | workload | figure |
//! |---|---|
//! | `timer_schedule` | ns per one-shot scheduled (random delays in 0–1 s) from one outside thread |
//! | `timer_schedule_contended` | the same from `threads` threads at once (the lock's contention) |
//! | `timer_cancel` | ns per cancel of a pending one-shot (until its closure is gone) |
//! | `timer_memory` | resident bytes per pending timer (handles dropped) |
//! | `timer_lateness_p50` / `_p99` / `_max` | µs from due to start, pool 70% busy |
//! | `timer_idle_cpu` | CPU ms/s of a fresh pool holding 100,000 pending timers, nothing due |
//!
//! tokio's figure for a schedule includes the spawn and the first poll that
//! registers the sleep (tokio registers on the worker, not on the caller), and
//! its cancel (`abort`) waits until the aborted tasks were dropped: both are
//! what it takes until the timer is in (or out of) tokio's wheel.

use super::baseline::StdMpsc;
use super::workloads::{Context, Entry, Planned};
use super::{probe, Sizes};
use crate::completion::spin;
use crate::Peer;
use executor_core::ThreadPool;
use executor_futures::ScheduledExecutorService;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Calls `$f::<T>($args)` with `T` the implementation of `$kind`.
macro_rules! with_timers {
    ($kind:expr, $f:ident($($arg:expr),*)) => {
        match $kind {
            Kind::Ours => $f::<OurTimers>($($arg),*),
            Kind::Tokio => $f::<TokioTimers>($($arg),*),
            Kind::StdHeap => $f::<StdHeapTimers>($($arg),*),
        }
    };
}

/// Pending timers of `timer_idle_cpu` (the figure).
const IDLE_TIMERS: usize = 100_000;

/// One timer implementation under test.
trait Timers: Send + Sync {
    /// The row's pool (one of `POOLS`) and variant.
    const POOL: &'static str;
    const VARIANT: &'static str;
    /// What a caller keeps to cancel.
    type Key: Send;
    /// A fresh instance with `threads` worker threads.
    fn build(threads: usize) -> Self;
    /// Runs `f` at `due` on the pool.
    fn schedule_at(&self, due: Instant, f: Box<dyn FnOnce() + Send>) -> Self::Key;
    /// Cancels a pending timer.
    fn cancel(&self, key: Self::Key);
    /// Waits until every timer scheduled so far is registered (tokio registers
    /// on its workers) or every cancelled one released.
    fn settle(&self) {}
    /// Runs a job on the pool now (the busy load of `timer_lateness`).
    fn submit(&self, f: Box<dyn FnOnce() + Send>);
}

struct OurTimers(ThreadPool);

impl Timers for OurTimers {
    const POOL: &'static str = "executor_core";
    const VARIANT: &'static str = "executor_core";
    type Key = executor_futures::ScheduledHandle<()>;
    fn build(threads: usize) -> Self {
        OurTimers(ThreadPool::new(threads).expect("build executor_core pool"))
    }
    fn schedule_at(&self, due: Instant, f: Box<dyn FnOnce() + Send>) -> Self::Key {
        self.0.schedule_at(due, f).expect("accepted")
    }
    fn cancel(&self, key: Self::Key) {
        key.cancel();
    }
    fn submit(&self, f: Box<dyn FnOnce() + Send>) {
        self.0.execute(f).expect("accepted");
    }
}

impl Drop for OurTimers {
    /// Hands back (and drops) the pending delayed tasks: a plain drop would wait
    /// for them (they are kept after `shutdown`, as in Java).
    fn drop(&mut self) {
        drop(self.0.shutdown_now());
    }
}

struct TokioTimers {
    rt: tokio::runtime::Runtime,
    /// Tasks spawned whose sleep is not registered yet / aborted not dropped yet.
    in_flight: Arc<AtomicUsize>,
}

/// Counts a tokio task out of `in_flight` when it is dropped (aborted).
struct Gone(Arc<AtomicUsize>);

impl Drop for Gone {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

impl Timers for TokioTimers {
    const POOL: &'static str = "tokio";
    const VARIANT: &'static str = "tokio_sleep";
    type Key = tokio::task::JoinHandle<()>;
    fn build(threads: usize) -> Self {
        TokioTimers {
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_time()
                .build()
                .expect("build tokio runtime"),
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }
    fn schedule_at(&self, due: Instant, f: Box<dyn FnOnce() + Send>) -> Self::Key {
        let in_flight = self.in_flight.clone();
        in_flight.fetch_add(1, Ordering::Relaxed);
        self.rt.spawn(async move {
            let sleep = tokio::time::sleep_until(due.into());
            in_flight.fetch_sub(1, Ordering::Release);
            sleep.await;
            f();
        })
    }
    fn cancel(&self, key: Self::Key) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let gone = Gone(self.in_flight.clone());
        key.abort();
        // The abort is asynchronous: count the task out when the runtime drops it.
        self.rt.spawn(async move {
            let _ = key.await;
            drop(gone);
        });
    }
    fn settle(&self) {
        while self.in_flight.load(Ordering::Acquire) > 0 {
            std::thread::yield_now();
        }
    }
    fn submit(&self, f: Box<dyn FnOnce() + Send>) {
        self.rt.spawn(async move { f() });
    }
}

/// The std baseline: a timer thread over a `BinaryHeap`; due jobs go to a std
/// pool (threads fed by one `mpsc` channel).
struct StdHeapTimers {
    shared: Arc<StdHeap>,
    pool: Arc<StdMpsc>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type HeapEntry = (Reverse<(Instant, u64)>, HeapJob);

struct HeapJob(Arc<AtomicBool>, Box<dyn FnOnce() + Send>);

impl PartialEq for HeapJob {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for HeapJob {}
impl PartialOrd for HeapJob {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapJob {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

#[derive(Default)]
struct StdHeap {
    heap: Mutex<(BinaryHeap<HeapEntry>, u64, bool)>,
    cv: Condvar,
}

impl Timers for StdHeapTimers {
    const POOL: &'static str = "std_mpsc";
    const VARIANT: &'static str = "std_heap_thread";
    type Key = Arc<AtomicBool>;
    fn build(threads: usize) -> Self {
        let shared = Arc::new(StdHeap::default());
        let pool = Arc::new(StdMpsc::build(threads));
        let (s, p) = (shared.clone(), pool.clone());
        let thread = std::thread::spawn(move || {
            let mut g = s.heap.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if g.2 {
                    return;
                }
                let now = Instant::now();
                match g.0.peek().map(|(Reverse((due, _)), _)| *due) {
                    Some(due) if due <= now => {
                        let (_, HeapJob(cancelled, f)) = g.0.pop().expect("peeked");
                        drop(g);
                        if !cancelled.load(Ordering::Relaxed) {
                            p.submit(f);
                        }
                        g = s.heap.lock().unwrap_or_else(PoisonError::into_inner);
                    }
                    Some(due) => {
                        g =
                            s.cv.wait_timeout(g, due - now)
                                .unwrap_or_else(PoisonError::into_inner)
                                .0;
                    }
                    None => g = s.cv.wait(g).unwrap_or_else(PoisonError::into_inner),
                }
            }
        });
        StdHeapTimers {
            shared,
            pool,
            thread: Some(thread),
        }
    }
    fn schedule_at(&self, due: Instant, f: Box<dyn FnOnce() + Send>) -> Self::Key {
        let flag = Arc::new(AtomicBool::new(false));
        let mut g = self
            .shared
            .heap
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let seq = g.1;
        g.1 += 1;
        let earliest = g.0.peek().is_none_or(|(Reverse((d, _)), _)| due < *d);
        g.0.push((Reverse((due, seq)), HeapJob(flag.clone(), f)));
        drop(g);
        if earliest {
            self.shared.cv.notify_one();
        }
        flag
    }
    fn cancel(&self, key: Self::Key) {
        key.store(true, Ordering::Relaxed);
    }
    fn submit(&self, f: Box<dyn FnOnce() + Send>) {
        self.pool.submit(f);
    }
}

impl Drop for StdHeapTimers {
    fn drop(&mut self) {
        {
            let mut g = self
                .shared
                .heap
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            g.2 = true;
            g.0.clear();
        }
        self.shared.cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `n` pseudo-random delays in 0–1 s (the same for every contestant).
fn delays(n: usize) -> Vec<Duration> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_nanos(x % 1_000_000_000)
        })
        .collect()
}

/// Schedules a no-op for each delay; returns (ns per schedule, the keys).
fn schedule_all<T: Timers>(t: &T, delays: &[Duration]) -> (f64, Vec<T::Key>) {
    let start = Instant::now();
    let keys: Vec<T::Key> = delays
        .iter()
        .map(|&d| t.schedule_at(start + d, Box::new(|| ())))
        .collect();
    t.settle();
    (
        start.elapsed().as_nanos() as f64 / delays.len() as f64,
        keys,
    )
}

/// Cancels every key; ns per cancel.
fn cancel_all<T: Timers>(t: &T, keys: Vec<T::Key>) -> f64 {
    let n = keys.len().max(1);
    let start = Instant::now();
    for k in keys {
        t.cancel(k);
    }
    t.settle();
    start.elapsed().as_nanos() as f64 / n as f64
}

fn schedule_contended<T: Timers>(t: &T, delays: &[Duration], threads: usize) -> f64 {
    let chunk = delays.len().div_ceil(threads.max(1));
    let start = Instant::now();
    let keys: Vec<Vec<T::Key>> = std::thread::scope(|s| {
        let workers: Vec<_> = delays
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&d| t.schedule_at(start + d, Box::new(|| ())))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("scheduler"))
            .collect()
    });
    t.settle();
    let ns = start.elapsed().as_nanos() as f64 / delays.len() as f64;
    cancel_all(t, keys.into_iter().flatten().collect());
    ns
}

/// Resident bytes of `n` pending timers: due in an hour, handles dropped, on a
/// fresh instance; VmRSS growth of the child process this runs in.
fn pending_memory<T: Timers>(threads: usize, n: usize) -> Result<u64, String> {
    let t = T::build(threads);
    let before = probe::status_bytes("VmRSS").ok_or("no VmRSS")?;
    let due = Instant::now() + Duration::from_secs(3600);
    for _ in 0..n {
        drop(t.schedule_at(due, Box::new(|| ())));
    }
    t.settle();
    let after = probe::status_bytes("VmRSS").ok_or("no VmRSS")?;
    drop(t);
    Ok(after.saturating_sub(before))
}

/// The child side of `timer_memory` (`compare --child memory timer:KIND THREADS
/// N`, KIND one of `executor_core`, `tokio_sleep`, `std_heap_thread`).
pub fn child_memory(kind: &str, threads: usize, n: usize) -> Result<u64, String> {
    let kind = [Kind::Ours, Kind::Tokio, Kind::StdHeap]
        .into_iter()
        .find(|k| k.variant() == kind)
        .ok_or_else(|| format!("unknown timer {kind:?}"))?;
    with_timers!(kind, pending_memory(threads, n))
}

/// Lateness (fire minus due, µs) of `count` timers spread over `window` while a
/// load keeps the pool's workers 70% busy; the `q`-quantile (1.0: the max).
fn lateness<T: Timers>(t: &T, threads: usize, count: usize, window: Duration, q: f64) -> f64 {
    let samples = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        // 70% busy: every millisecond, one 700 µs job per worker.
        s.spawn(|| {
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..threads {
                    t.submit(Box::new(|| spin(700_000)));
                }
                next += Duration::from_millis(1);
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        });
        let start = Instant::now() + Duration::from_millis(5);
        for i in 0..count {
            let due = start + window.mul_f64(i as f64 / count as f64);
            let samples = samples.clone();
            drop(t.schedule_at(
                due,
                Box::new(move || {
                    let late = Instant::now().saturating_duration_since(due);
                    samples
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(late);
                }),
            ));
        }
        let bound = Instant::now() + window + Duration::from_secs(10);
        while samples.lock().unwrap_or_else(PoisonError::into_inner).len() < count
            && Instant::now() < bound
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        stop.store(true, Ordering::Relaxed);
    });
    let mut v = samples
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_eq!(v.len(), count, "{}: every timer fired", T::VARIANT);
    v.sort_unstable();
    let at = ((v.len() - 1) as f64 * q).round() as usize;
    v[at].as_secs_f64() * 1e6
}

/// CPU ms/s of a fresh instance's threads holding `IDLE_TIMERS` pending timers.
fn idle_cpu<T: Timers>(threads: usize, window: Duration) -> f64 {
    let before = probe::thread_ids();
    let t = T::build(threads);
    let due = Instant::now() + Duration::from_secs(3600);
    let keys: Vec<T::Key> = (0..IDLE_TIMERS)
        .map(|_| t.schedule_at(due, Box::new(|| ())))
        .collect();
    t.settle();
    std::thread::sleep(Duration::from_millis(20)); // let every worker park
    let start_cpu = probe::cpu_of_new_threads(&before);
    let start = Instant::now();
    std::thread::sleep(window);
    let end_cpu = probe::cpu_of_new_threads(&before);
    let elapsed = start.elapsed();
    drop(keys);
    drop(t);
    let ns: u64 = end_cpu
        .iter()
        .map(|(id, &cpu)| cpu.saturating_sub(start_cpu.get(id).copied().unwrap_or(0)))
        .sum();
    ns as f64 / 1e6 / elapsed.as_secs_f64()
}

/// Timers per `timer_lateness_*` iteration, and the window they are spread over.
fn lateness_size(s: &Sizes) -> (usize, Duration) {
    if s.jobs >= 1_000_000 {
        (5_000, Duration::from_millis(500))
    } else {
        (500, Duration::from_millis(100))
    }
}

/// One entry per implementation (ours first), each iteration made by `make`.
fn per_impl<'a>(make: impl Fn(Kind) -> Box<dyn FnMut() -> f64 + 'a>) -> Vec<Entry<'a>> {
    [Kind::Ours, Kind::Tokio, Kind::StdHeap]
        .into_iter()
        .map(|k| Entry {
            pool: k.pool(),
            variant: k.variant(),
            run: make(k),
        })
        .collect()
}

/// The implementations, for dispatch without trait objects.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Ours,
    Tokio,
    StdHeap,
}

impl Kind {
    fn pool(self) -> &'static str {
        match self {
            Kind::Ours => OurTimers::POOL,
            Kind::Tokio => TokioTimers::POOL,
            Kind::StdHeap => StdHeapTimers::POOL,
        }
    }
    fn variant(self) -> &'static str {
        match self {
            Kind::Ours => OurTimers::VARIANT,
            Kind::Tokio => TokioTimers::VARIANT,
            Kind::StdHeap => StdHeapTimers::VARIANT,
        }
    }
}

/// Builds `T` once and returns an iteration that calls `f` on it.
fn kept<'a, T: Timers + 'a>(
    threads: usize,
    f: impl Fn(&T) -> f64 + 'a,
) -> Box<dyn FnMut() -> f64 + 'a> {
    let t = T::build(threads);
    Box::new(move || f(&t))
}

fn schedule_iter<'a, T: Timers + 'a>(threads: usize, n: usize) -> Box<dyn FnMut() -> f64 + 'a> {
    let d = delays(n);
    kept::<T>(threads, move |t| {
        let (ns, keys) = schedule_all(t, &d);
        cancel_all(t, keys);
        ns
    })
}

fn cancel_iter<'a, T: Timers + 'a>(threads: usize, n: usize) -> Box<dyn FnMut() -> f64 + 'a> {
    let d = delays(n);
    kept::<T>(threads, move |t| {
        let (_, keys) = schedule_all(t, &d);
        cancel_all(t, keys)
    })
}

fn contended_iter<'a, T: Timers + 'a>(threads: usize, n: usize) -> Box<dyn FnMut() -> f64 + 'a> {
    let d = delays(n);
    kept::<T>(threads, move |t| schedule_contended(t, &d, threads))
}

fn lateness_iter<'a, T: Timers + 'a>(
    threads: usize,
    size: (usize, Duration),
    q: f64,
) -> Box<dyn FnMut() -> f64 + 'a> {
    kept::<T>(threads, move |t| lateness(t, threads, size.0, size.1, q))
}

fn idle_iter<'a, T: Timers + 'a>(threads: usize, window: Duration) -> Box<dyn FnMut() -> f64 + 'a> {
    Box::new(move || idle_cpu::<T>(threads, window))
}

/// The timer workload `name`, ready to run; `None` if `name` is not one.
pub fn plan<'a>(name: &str, cx: &Context<'a>) -> Option<Planned<'a>> {
    let s = cx.sizes;
    let threads = cx.threads;
    let n = s.jobs;
    // Memory and idle CPU build a fresh pool per round: no warm-up.
    let planned = |name, what: String, unit, floor, rounds, entries| Planned {
        name,
        what,
        unit,
        floor,
        rounds,
        warm_up: !matches!(name, "timer_memory" | "timer_idle_cpu"),
        entries,
    };
    let rivals = "tokio: tokio::time::sleep in a spawned task; std_heap_thread: one thread over a \
                  Mutex<BinaryHeap>, cancel by a flag";
    Some(match name {
        "timer_schedule" => planned(
            "timer_schedule",
            format!("{n} one-shots with random delays in 0–1 s scheduled from one outside thread ({rivals})"),
            "ns/timer",
            0.0,
            cx.rounds,
            per_impl(|k| with_timers!(k, schedule_iter(threads, n))),
        ),
        "timer_schedule_contended" => planned(
            "timer_schedule_contended",
            format!("{n} one-shots scheduled from {threads} outside threads at once ({rivals})"),
            "ns/timer",
            0.0,
            cx.rounds,
            per_impl(|k| with_timers!(k, contended_iter(threads, n))),
        ),
        "timer_cancel" => planned(
            "timer_cancel",
            format!("{n} pending one-shots cancelled from one outside thread, until released ({rivals})"),
            "ns/timer",
            0.0,
            cx.rounds,
            per_impl(|k| with_timers!(k, cancel_iter(threads, n))),
        ),
        "timer_memory" => {
            let exe = cx.exe?;
            planned(
                "timer_memory",
                format!(
                    "resident memory per pending timer: {n} due in an hour, handles dropped, in \
                     a child process per implementation (VmRSS growth)"
                ),
                "B/timer",
                0.0,
                cx.rounds.min(s.memory_rounds),
                per_impl(|k| {
                    let child = format!("timer:{}", k.variant());
                    Box::new(move || super::workloads::memory_in_child(exe, &child, threads, n))
                }),
            )
        }
        "timer_lateness_p50" | "timer_lateness_p99" | "timer_lateness_max" => {
            let q = match name {
                "timer_lateness_p50" => 0.5,
                "timer_lateness_p99" => 0.99,
                _ => 1.0,
            };
            let size = lateness_size(&s);
            let label = super::workloads::WORKLOADS.iter().copied().find(|w| *w == name)?;
            planned(
                label,
                format!(
                    "{}: start minus due of {} timers spread over {} ms while jobs keep the workers 70% busy",
                    &name["timer_lateness_".len()..],
                    size.0,
                    size.1.as_millis()
                ),
                "µs",
                0.0,
                cx.rounds,
                per_impl(|k| with_timers!(k, lateness_iter(threads, size, q))),
            )
        }
        "timer_idle_cpu" => {
            probe::idle_cpu::<crate::Ours>(1, 1, Duration::ZERO)?;
            planned(
                "timer_idle_cpu",
                format!(
                    "CPU used by a fresh pool's threads over {:.2} s holding {IDLE_TIMERS} pending timers, none due",
                    s.idle_window.as_secs_f64()
                ),
                "CPU ms/s",
                1.0,
                cx.rounds.min(s.idle_rounds),
                per_impl(|k| with_timers!(k, idle_iter(threads, s.idle_window))),
            )
        }
        _ => return None,
    })
}
