//! Completion order with skewed durations (issue 4): `N` tasks (default 10,000)
//! of deterministic pseudo-random busy work, submitted from a thread outside the
//! pool, their results consumed in the order they finish.
//!
//! # The work
//!
//! [`Work::from_env`] draws each task's duration from a seeded xorshift64*
//! sequence as `max · u²` (`u` uniform in `[0, 1)`, `max` 50 µs by default):
//! skewed toward short tasks (median `max/4`, mean `max/3`) with a long tail up to
//! `max`. Every contender runs the same sequence in the same submission order, and
//! each task runs [`spin`]: a busy loop on [`Instant::now`] until its duration has
//! passed. Spinning on the clock (not on a calibrated loop) makes the sum of the
//! durations exact, so the **ideal** ([`Work::ideal`]) is exact too: the sum of
//! the durations divided by the worker count, the wall time of a perfect
//! scheduler with zero overhead. A row's `total / ideal` is what the pool, the
//! completion mechanism and the consumer cost on top (each task also pays one
//! `Instant::now` past its end, about 25 ns, under 0.2% of the mean).
//!
//! # The contenders
//!
//! Every row submits all `N` tasks, then consumes until every result is in, and
//! reports the total wall time and the time to the first result, both from the
//! start of submission ([`Outcome`]). Each task returns its index; the consumer
//! sums them, and the sum is checked ([`Work::checksum`]).
//!
//! | row | submit | consume |
//! |---|---|---|
//! | `executor_core` | `CompletionService::new(&pool)` + `submit` | `take` until `None` |
//! | `executor_core_iter` | the same | `for done in &service` (the blocking iterator, which drains every ready result per wake-up) |
//! | `executor_core_batch` | one `CompletionService::submit_all` of the `N` tasks (one submission: one handshake, one timestamp, one registry append) | `take` until `None` |
//! | `executor_core_helping` | as `executor_core`, on a service with `helping(true)` | `take` until `None`; while no result is ready, the consumer runs the service's newest unstarted task itself instead of parking |
//! | `executor_core_batch_helping` | as `executor_core_batch`, with `helping(true)` | the same |
//! | `tokio` | `JoinSet::spawn_on` of an `async` block around the busy work (it runs on the runtime's workers) | `join_next` until `None`, in one `Runtime::block_on` |
//! | `futures` | `ThreadPool::spawn_with_handle`, the handles pushed into a `FuturesUnordered` | `block_on(set.next())` until `None` |
//! | `rayon_mpsc` | `ThreadPool::spawn` with a clone of an `mpsc::Sender` | `Receiver::recv`, `N` times |
//! | `executor_core_execute` | `ThreadPool::execute`, no result: the pool alone | a countdown latch the last job opens (first = the first job's end) |
//! | `ideal_threads` | none: `threads` plain threads take the next index from an atomic counter | none (first = the first task's end) |
//!
//! `ideal_threads` ([`ideal_threads`]) is the ideal as this machine achieves it
//! right now: no queue, no results, no consumer. On a shared machine whose other
//! load takes CPU from the workers, `total / ideal` of every row grows with that
//! load; `total / ideal_threads` in the same round does not, so quote that one
//! when the machine is busy (and `total / ideal` when `ideal_threads` itself is
//! within a few percent of the ideal). `executor_core_execute` splits the price of
//! the completion service from the price of the pool.
//!
//! All pools have the same number of worker threads (`EXECUTOR_BENCH_THREADS`,
//! default 2). The consumer is the bench thread, outside the pool: on a 2-core
//! machine with 2 workers it competes with them for the cores whenever it runs,
//! so a consumer that wakes up per result costs worker time, which shows in
//! `total / ideal`. The time to the first result includes the whole submission
//! (every row submits everything before it consumes).
//!
//! [`diagnose`] reruns the `executor_core` row with per-result timestamps and
//! splits its time beyond the ideal into workers' idle tail, per-task overhead
//! while work was queued, and consumer lag ([`Diagnosis`]).

use crate::{Countdown, FuturesPool, Ours, Peer, Rayon, Tokio};
use executor_completion::CompletionService;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::task::SpawnExt;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The seed of the duration sequence (fixed: every run measures the same work).
pub const SEED: u64 = 0x2545_F491_4F6C_DD1D;

/// Busy-waits for `ns` nanoseconds of wall time, on the clock.
#[inline(never)]
pub fn spin(ns: u64) {
    let start = Instant::now();
    let d = Duration::from_nanos(ns);
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// The tasks of one iteration: their durations in submission order, and the
/// worker count the ideal is computed for.
#[derive(Clone, Debug)]
pub struct Work {
    /// Task `i` spins for `durations[i]` nanoseconds.
    pub durations: Vec<u64>,
    /// The worker threads of every pool.
    pub threads: usize,
}

impl Work {
    /// `n` durations of `max_ns · u²` from the xorshift64* sequence seeded with
    /// [`SEED`].
    pub fn new(n: usize, max_ns: u64, threads: usize) -> Work {
        let mut x = SEED;
        let durations = (0..n)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
                // The top 53 bits as a uniform float in [0, 1).
                let u = (r >> 11) as f64 / (1u64 << 53) as f64;
                (max_ns as f64 * u * u) as u64
            })
            .collect();
        Work { durations, threads }
    }

    /// From the environment: `EXECUTOR_BENCH_COMPLETION_N` tasks (default
    /// 10,000) of at most `EXECUTOR_BENCH_COMPLETION_MAX_US` microseconds
    /// (default 50), for `EXECUTOR_BENCH_THREADS` workers (default 2).
    pub fn from_env() -> Work {
        let n = crate::env_usize("EXECUTOR_BENCH_COMPLETION_N", 10_000);
        let max_us = crate::env_usize("EXECUTOR_BENCH_COMPLETION_MAX_US", 50) as u64;
        Work::new(n, max_us * 1000, crate::bench_threads())
    }

    /// The number of tasks.
    pub fn len(&self) -> usize {
        self.durations.len()
    }

    /// True if there are no tasks.
    pub fn is_empty(&self) -> bool {
        self.durations.is_empty()
    }

    /// The exact sum of the durations.
    pub fn busy(&self) -> Duration {
        Duration::from_nanos(self.durations.iter().sum())
    }

    /// The ideal wall time: the sum of the durations over the worker count.
    pub fn ideal(&self) -> Duration {
        self.busy() / self.threads as u32
    }

    /// What every consumer's sum of task indices must be.
    pub fn checksum(&self) -> u64 {
        (0..self.len() as u64).sum()
    }

    /// One line: tasks, duration statistics and the ideal.
    pub fn describe(&self) -> String {
        let mut sorted = self.durations.clone();
        sorted.sort_unstable();
        let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1e3;
        format!(
            "{} tasks, {} threads; durations max·u² µs: median {:.1}, p90 {:.1}, max {:.1}, mean {:.1}; sum {:.1} ms, ideal {:.2} ms",
            self.len(),
            self.threads,
            q(0.5),
            q(0.9),
            q(1.0),
            self.busy().as_secs_f64() * 1e6 / self.len() as f64,
            self.busy().as_secs_f64() * 1e3,
            self.ideal().as_secs_f64() * 1e3,
        )
    }
}

/// What one iteration measured, both from the start of submission.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// Until the last result was consumed.
    pub total: Duration,
    /// Until the first result was consumed.
    pub first: Duration,
}

/// Tracks the first result and the checksum of one iteration.
struct Tally {
    start: Instant,
    first: Option<Duration>,
    sum: u64,
    count: usize,
}

impl Tally {
    fn start() -> Tally {
        Tally {
            start: Instant::now(),
            first: None,
            sum: 0,
            count: 0,
        }
    }

    #[inline]
    fn add(&mut self, v: u64) {
        if self.first.is_none() {
            self.first = Some(self.start.elapsed());
        }
        self.sum += v;
        self.count += 1;
    }

    fn finish(self, name: &str, work: &Work) -> Outcome {
        let total = self.start.elapsed();
        assert_eq!(
            (self.count, self.sum),
            (work.len(), work.checksum()),
            "{name}: every result exactly once"
        );
        Outcome {
            total,
            first: self.first.unwrap_or(total),
        }
    }
}

/// One way to run an iteration on an already built pool.
pub type Consumer<'a> = Box<dyn Fn(&Work) -> Outcome + 'a>;

/// A pool's rows of the completion-order table (see the module docs).
pub trait CompletionOrder: Peer {
    /// The row names and their runs.
    fn consumers(&self) -> Vec<(&'static str, Consumer<'_>)>;
}

/// Submits every task of `work` to a fresh service over `pool`, one `submit`
/// per task.
fn submit_all<'p>(
    pool: &'p executor_core::ThreadPool,
    work: &Work,
    helping: bool,
) -> CompletionService<u64, &'p executor_core::ThreadPool> {
    let service = CompletionService::with_executor(pool).helping(helping);
    for (i, &ns) in work.durations.iter().enumerate() {
        service
            .submit(move || {
                spin(ns);
                i as u64
            })
            .expect("pool accepts");
    }
    service
}

impl CompletionOrder for Ours {
    fn consumers(&self) -> Vec<(&'static str, Consumer<'_>)> {
        let take: Consumer<'_> = Box::new(move |work| {
            let mut tally = Tally::start();
            let service = submit_all(&self.0, work, false);
            while let Some(done) = service.take() {
                tally.add(done.get().expect("task returns"));
            }
            tally.finish("executor_core", work)
        });
        let iter: Consumer<'_> = Box::new(move |work| {
            let mut tally = Tally::start();
            let service = submit_all(&self.0, work, false);
            for done in &service {
                tally.add(done.get().expect("task returns"));
            }
            tally.finish("executor_core_iter", work)
        });
        let batch = |name: &'static str, helping: bool| -> Consumer<'_> {
            Box::new(move |work| {
                let mut tally = Tally::start();
                let service = CompletionService::new(&self.0).helping(helping);
                let tasks = work.durations.iter().enumerate().map(|(i, &ns)| {
                    move || {
                        spin(ns);
                        i as u64
                    }
                });
                service.submit_all(tasks).expect("pool accepts");
                while let Some(done) = service.take() {
                    tally.add(done.get().expect("task returns"));
                }
                tally.finish(name, work)
            })
        };
        let helping: Consumer<'_> = Box::new(move |work| {
            let mut tally = Tally::start();
            let service = submit_all(&self.0, work, true);
            while let Some(done) = service.take() {
                tally.add(done.get().expect("task returns"));
            }
            tally.finish("executor_core_helping", work)
        });
        let execute: Consumer<'_> = Box::new(move |work| {
            let start = Instant::now();
            let done = Arc::new(Countdown::new());
            let first = Arc::new(OnceLock::new());
            done.arm(work.len());
            for &ns in &work.durations {
                let (done, first) = (done.clone(), first.clone());
                self.submit(move || {
                    spin(ns);
                    first.get_or_init(Instant::now);
                    done.done();
                });
            }
            done.wait();
            let total = start.elapsed();
            let first = first
                .get()
                .map_or(total, |t| t.saturating_duration_since(start));
            Outcome { total, first }
        });
        vec![
            ("executor_core", take),
            ("executor_core_iter", iter),
            ("executor_core_batch", batch("executor_core_batch", false)),
            ("executor_core_helping", helping),
            (
                "executor_core_batch_helping",
                batch("executor_core_batch_helping", true),
            ),
            ("executor_core_execute", execute),
        ]
    }
}

/// The reference row `ideal_threads`: `work.threads` plain threads (spawned
/// inside the timing, about 0.1 ms) each take the next task index from one
/// atomic counter and spin; nothing is queued, returned or consumed. Its total
/// is the ideal as the machine delivers it at the moment (see the module docs).
pub fn ideal_threads(work: &Work) -> Outcome {
    let next = AtomicUsize::new(0);
    let first = OnceLock::new();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..work.threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&ns) = work.durations.get(i) else {
                    break;
                };
                spin(ns);
                first.get_or_init(Instant::now);
            });
        }
    });
    let total = start.elapsed();
    let first = first
        .get()
        .map_or(total, |t| t.saturating_duration_since(start));
    Outcome { total, first }
}

impl CompletionOrder for Tokio {
    fn consumers(&self) -> Vec<(&'static str, Consumer<'_>)> {
        let run: Consumer<'_> = Box::new(move |work| {
            let mut tally = Tally::start();
            let mut set = tokio::task::JoinSet::new();
            let handle = self.0.handle();
            for (i, &ns) in work.durations.iter().enumerate() {
                set.spawn_on(
                    async move {
                        spin(ns);
                        i as u64
                    },
                    handle,
                );
            }
            self.0.block_on(async {
                while let Some(r) = set.join_next().await {
                    tally.add(r.expect("task returns"));
                }
            });
            tally.finish("tokio", work)
        });
        vec![("tokio", run)]
    }
}

impl CompletionOrder for FuturesPool {
    fn consumers(&self) -> Vec<(&'static str, Consumer<'_>)> {
        let run: Consumer<'_> = Box::new(move |work| {
            let mut tally = Tally::start();
            let mut set = FuturesUnordered::new();
            for (i, &ns) in work.durations.iter().enumerate() {
                let h = self
                    .0
                    .spawn_with_handle(async move {
                        spin(ns);
                        i as u64
                    })
                    .expect("pool accepts");
                set.push(h);
            }
            while let Some(v) = futures::executor::block_on(set.next()) {
                tally.add(v);
            }
            tally.finish("futures", work)
        });
        vec![("futures", run)]
    }
}

impl CompletionOrder for Rayon {
    fn consumers(&self) -> Vec<(&'static str, Consumer<'_>)> {
        let run: Consumer<'_> = Box::new(move |work| {
            let mut tally = Tally::start();
            let (tx, rx) = std::sync::mpsc::channel();
            for (i, &ns) in work.durations.iter().enumerate() {
                let tx = tx.clone();
                self.0.spawn(move || {
                    spin(ns);
                    // The receiver outlives every task (it receives N times).
                    let _ = tx.send(i as u64);
                });
            }
            drop(tx);
            for _ in 0..work.len() {
                tally.add(rx.recv().expect("every task sends"));
            }
            tally.finish("rayon_mpsc", work)
        });
        vec![("rayon_mpsc", run)]
    }
}

/// Runs `f` with every completion-order row, one pool at a time in the order
/// ours, rayon, tokio, futures, then [`ideal_threads`]; each pool is dropped
/// before the next is built.
pub fn for_each_consumer(
    threads: usize,
    mut f: impl FnMut(&'static str, &dyn Fn(&Work) -> Outcome),
) {
    fn rows<P: CompletionOrder>(
        threads: usize,
        f: &mut impl FnMut(&'static str, &dyn Fn(&Work) -> Outcome),
    ) {
        let pool = P::build(threads);
        for (name, c) in pool.consumers() {
            f(name, &*c);
        }
    }
    rows::<Ours>(threads, &mut f);
    rows::<Rayon>(threads, &mut f);
    rows::<Tokio>(threads, &mut f);
    rows::<FuturesPool>(threads, &mut f);
    f("ideal_threads", &ideal_threads);
}

/// Where one `executor_core` iteration (`take` until `None`) spent its time
/// beyond the ideal; see [`diagnose`].
#[derive(Clone, Debug)]
pub struct Diagnosis {
    /// The ideal of the work.
    pub ideal: Duration,
    /// Until the last result was taken.
    pub total: Duration,
    /// How long the submission loop took.
    pub submit: Duration,
    /// Until the first result was taken.
    pub first: Duration,
    /// Per worker: tasks run, time inside task bodies, and when (from the start)
    /// it finished its last task.
    pub workers: Vec<(usize, Duration, Duration)>,
    /// Time inside bodies beyond their nominal durations, summed: wall time the
    /// machine's other load (or our own consumer) took from workers mid-task.
    pub stretch: Duration,
    /// From the last task's end to the consumer having taken it.
    pub last_lag: Duration,
    /// Median and 99th percentile of (taken − finished) over the results.
    pub lag_p50_p99: (Duration, Duration),
    /// Median time from submit to start of a task (queueing), for information.
    pub queued_p50: Duration,
    /// Results taken more than 2 µs after they finished (the consumer was
    /// asleep, descheduled or busy with another result).
    pub late_takes: usize,
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let end_of_work = self.workers.iter().map(|w| w.2).max().unwrap_or_default();
        let body: Duration = self.workers.iter().map(|w| w.1).sum();
        let tasks: usize = self.workers.iter().map(|w| w.0).sum();
        // Worker time while work remained, not spent in bodies.
        let threads = self.workers.len().max(1) as u32;
        let tail: Duration = self
            .workers
            .iter()
            .map(|w| end_of_work.saturating_sub(w.2))
            .sum();
        let busy_span = end_of_work * threads;
        let overhead = busy_span.saturating_sub(body).saturating_sub(tail);
        writeln!(
            f,
            "total {:.2} ms = {:.3} × ideal {:.2} ms; submit loop {:.2} ms; first result {:.3} ms",
            ms(self.total),
            self.total.as_secs_f64() / self.ideal.as_secs_f64(),
            ms(self.ideal),
            ms(self.submit),
            ms(self.first),
        )?;
        for (w, (n, b, last)) in self.workers.iter().enumerate() {
            writeln!(
                f,
                "  worker {w}: {n} tasks, {:.2} ms in bodies, last task done at {:.2} ms",
                ms(*b),
                ms(*last)
            )?;
        }
        writeln!(
            f,
            "  beyond the ideal ({:.2} ms of wall time = {:.2} ms of worker time):",
            ms(self.total.saturating_sub(self.ideal)),
            ms(self.total.saturating_sub(self.ideal) * threads),
        )?;
        writeln!(
            f,
            "    inside bodies beyond their durations (CPU taken from workers mid-task): {:.2} ms",
            ms(self.stretch)
        )?;
        writeln!(
            f,
            "    worker time not in bodies while work remained: {:.2} ms ({:.2} µs per task)",
            ms(overhead),
            us(overhead) / tasks.max(1) as f64
        )?;
        writeln!(
            f,
            "    idle tail (workers done before the last task ended): {:.2} ms",
            ms(tail)
        )?;
        write!(
            f,
            "    consumer: last result taken {:.1} µs after it finished; lag p50 {:.1} µs, p99 {:.1} µs; {} of {} results taken > 2 µs late; queued p50 {:.2} ms",
            us(self.last_lag),
            us(self.lag_p50_p99.0),
            us(self.lag_p50_p99.1),
            self.late_takes,
            tasks,
            ms(self.queued_p50),
        )
    }
}

/// Runs the `executor_core` row (or with `helping`, `executor_core_helping`)
/// once on `pool`, timestamping every `take`, and reports where the time
/// beyond the ideal went. A helping consumer's tasks are counted as one more
/// worker's (the last line of `workers`).
pub fn diagnose(pool: &executor_core::ThreadPool, work: &Work, helping: bool) -> Diagnosis {
    let threads = pool.num_threads();
    let start = Instant::now();
    let service = submit_all(pool, work, helping);
    let submit = start.elapsed();
    let mut first = None;
    let mut results = Vec::with_capacity(work.len());
    while let Some(done) = service.take() {
        let at = Instant::now();
        first.get_or_insert(at - start);
        results.push((done, at));
    }
    let total = start.elapsed();
    let mut workers =
        vec![(0usize, Duration::ZERO, Duration::ZERO); threads + usize::from(helping)];
    let mut lags = Vec::with_capacity(results.len());
    let mut queued = Vec::with_capacity(results.len());
    let mut last_lag = Duration::ZERO;
    let mut last_finished = start;
    let mut stretch = Duration::ZERO;
    for (done, at) in &results {
        let finished = done.finished_at();
        let lag = at.saturating_duration_since(finished);
        if finished >= last_finished {
            last_finished = finished;
            last_lag = lag;
        }
        lags.push(lag);
        queued.push(done.queued());
        let slot = match done.worker() {
            None if helping => Some(threads),
            w => w.filter(|&w| w < threads),
        };
        if let Some(w) = slot {
            let entry = &mut workers[w];
            entry.0 += 1;
            entry.1 += done.ran().unwrap_or_default();
            entry.2 = entry.2.max(finished.saturating_duration_since(start));
        }
        if let (Ok(i), Some(ran)) = (done.result(), done.ran()) {
            stretch += ran.saturating_sub(Duration::from_nanos(work.durations[*i as usize]));
        }
    }
    lags.sort_unstable();
    queued.sort_unstable();
    let pick = |v: &[Duration], q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Diagnosis {
        ideal: work.ideal(),
        total,
        submit,
        first: first.unwrap_or(total),
        workers,
        stretch,
        last_lag,
        lag_p50_p99: (pick(&lags, 0.5), pick(&lags, 0.99)),
        queued_p50: pick(&queued, 0.5),
        late_takes: lags
            .iter()
            .filter(|l| **l > Duration::from_micros(2))
            .count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row delivers every result exactly once (the tally asserts it).
    #[test]
    fn every_row_completes() {
        let work = Work::new(500, 5_000, 2);
        assert!(work.ideal() > Duration::ZERO);
        for_each_consumer(2, |_, run| {
            let o = run(&work);
            assert!(o.first <= o.total);
        });
        let ours = Ours::build(2);
        for helping in [false, true] {
            let d = diagnose(&ours.0, &work, helping);
            assert_eq!(d.workers.iter().map(|w| w.0).sum::<usize>(), 500);
        }
    }
}
