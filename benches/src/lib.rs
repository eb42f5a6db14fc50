//! Benchmark support: one [`Peer`] interface over our pool and the peers, and the
//! workloads every benchmark runs on each of them.
//!
//! Everything that decides what is measured lives here, so that the criterion
//! bench (`benches/core.rs`) and the `idle_cpu` binary run the very same code on
//! every pool:
//!
//! * [`Peer`] is the smallest common surface of the pools compared: submit a job
//!   from a thread outside the pool, and spawn a job from inside one of the pool's
//!   own jobs. [`Ours`], [`Rayon`], [`Tokio`], [`StdThreadpool`] and
//!   [`FuturesPool`] implement it, each the way a user of that pool would write it;
//!   [`OursHandle`] is our pool spawning through a cloned handle, to split that
//!   cost out.
//! * [`Countdown`] is the one completion mechanism: an atomic countdown plus a
//!   latch that the last job opens. Every pool gets the same one, so it costs every
//!   pool the same.
//! * [`Harness`] holds a built pool and runs the workloads ([`Harness::spawn_outside`],
//!   [`Harness::spawn_inside`], [`Harness::chained_spawn`], [`Harness::ping_pong`],
//!   [`Harness::round_trip`]). Building the pool is not part of any workload.
//!
//! Every job captures a pointer (never nothing): a zero-sized closure would let
//! `Box::new` skip the allocation that real jobs pay on the pools that box closures.
//!
//! Beyond the job-scheduling workloads:
//!
//! * [`forkjoin`]: `fib`, `sum` and quicksort written once over a [`ForkJoin`]
//!   trait (`install` + `join`), for our pool and rayon (`benches/forkjoin.rs`).
//! * [`collect`]: submit tasks that return values and collect them through each
//!   pool's handle (or a one-shot slot), and `fib` by nested submit/get
//!   (`benches/futures.rs`).
//! * [`interleave`]: the round-robin runner of the `interleaved*` binaries.
//! * [`probe_alloc`]: a per-thread free-list allocator for the
//!   `*_alloc_probe` binaries (what the allocator costs the task path).
//! * [`probe`]: rounds and reports of the probe binaries.

pub mod collect;
pub mod compare;
pub mod completion;
pub mod forkjoin;
pub mod interleave;
pub mod probe;
// A global allocator is `unsafe` by nature; it is this module's whole point.
#[allow(unsafe_code)]
pub mod probe_alloc;
pub mod waiting;

pub use forkjoin::{ErasedForkJoin, ForkJoin};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

/// Reads a positive integer from the environment variable `name`, or `default` when
/// it is unset. Panics on a value that is not a positive integer, so that a typo is
/// not silently measured as the default.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => panic!("{name} must be a positive integer, got {v:?}"),
        },
        Err(_) => default,
    }
}

/// The number of worker threads every pool gets: `EXECUTOR_BENCH_THREADS`, default 2.
pub fn bench_threads() -> usize {
    env_usize("EXECUTOR_BENCH_THREADS", 2)
}

/// An atomic countdown and a latch that the job bringing it to zero opens.
///
/// The waiter blocks on a condition variable, so waiting costs the pool's threads
/// nothing; the one wake-up per batch is the same for every pool.
///
/// # Examples
///
/// ```
/// let done: &'static benches::Countdown = Box::leak(Box::new(benches::Countdown::new()));
/// done.arm(2);
/// std::thread::spawn(move || done.done());
/// done.done();
/// done.wait();
/// ```
///
/// Aligned to 128 bytes (two cache lines, as `crossbeam_utils::CachePadded` on
/// x86-64) so the counter every job decrements never shares a line with another
/// harness's counter or a pool's own data: each pool is measured without
/// accidental false sharing.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Countdown {
    left: AtomicUsize,
    open: Mutex<bool>,
    cv: Condvar,
}

impl Countdown {
    /// A countdown at zero with its latch closed; [`arm`](Countdown::arm) it first.
    pub const fn new() -> Self {
        Countdown {
            left: AtomicUsize::new(0),
            open: Mutex::new(false),
            cv: Condvar::new(),
        }
    }

    /// Closes the latch and expects `n` calls to [`done`](Countdown::done). Call it
    /// before submitting the jobs: submission orders this store before the jobs run.
    pub fn arm(&self, n: usize) {
        *self.open.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.left.store(n, Ordering::Relaxed);
    }

    /// Counts one job down; the last one opens the latch.
    ///
    /// The waiter is notified after the lock is released, as Java's
    /// `CountDownLatch` (the anchors' latch) signals without holding a lock the
    /// waiter needs: notified under the lock, the woken waiter found the mutex
    /// still held and blocked a second time (`hround_probe`: 2.0 instead of 1.0
    /// blocking context switches of the waiter per `round_trip`, and 4.7 µs
    /// instead of 1.2 µs from the job's start to the waiter running again, on
    /// every pool alike).
    #[inline]
    pub fn done(&self) {
        // AcqRel: the job that reaches zero sees every other job's effects, and the
        // waiter, through the mutex, sees them too.
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.open.lock().unwrap_or_else(PoisonError::into_inner) = true;
            // The flag is set under the lock, so a waiter either sees it or is
            // already waiting on the condvar when this notify comes.
            self.cv.notify_one();
        }
    }

    /// Blocks until the latch is open.
    pub fn wait(&self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        while !*open {
            open = self.cv.wait(open).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The common surface of the pools compared.
pub trait Peer: Sized {
    /// The name criterion and the tables print.
    const NAME: &'static str;

    /// What a job needs to spawn more jobs on the same pool. `()` for pools with an
    /// ambient spawn (`rayon::spawn`, `tokio::spawn` find their pool through a
    /// thread-local); a clone of the pool handle for the others.
    type Spawner: Clone + Send + Sync + 'static;

    /// A pool with `threads` worker threads.
    fn build(threads: usize) -> Self;

    /// Submits `f` from a thread outside the pool.
    fn submit<F: FnOnce() + Send + 'static>(&self, f: F);

    /// What jobs of this pool use to spawn more jobs.
    fn spawner(&self) -> Self::Spawner;

    /// Spawns `f` from inside one of this pool's jobs.
    fn spawn_inside<F: FnOnce() + Send + 'static>(spawner: &Self::Spawner, f: F);

    /// Runs a blocking call `f` inside one of this pool's jobs, telling the
    /// pool where it can (managed blocking); plainly by default.
    fn block<R>(f: impl FnOnce() -> R) -> R {
        f()
    }
}

/// `executor_core::ThreadPool`: `execute` (the injector) from outside;
/// `executor_core::execute` (the current worker's deque, no handle) from inside, like
/// `rayon::spawn` and `tokio::spawn`.
#[derive(Debug)]
pub struct Ours(pub executor_core::ThreadPool);

impl Peer for Ours {
    const NAME: &'static str = "executor_core";
    type Spawner = ();

    fn build(threads: usize) -> Self {
        Ours(executor_core::ThreadPool::new(threads).expect("build executor_core pool"))
    }

    #[inline]
    fn submit<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.0.execute(f).expect("executor_core rejected a job");
    }

    fn spawner(&self) -> Self::Spawner {}

    #[inline]
    fn spawn_inside<F: FnOnce() + Send + 'static>((): &(), f: F) {
        executor_core::execute(f).expect("executor_core rejected a job");
    }

    fn block<R>(f: impl FnOnce() -> R) -> R {
        executor_core::block_in_place(f)
    }
}

/// `executor_core::ThreadPool` whose jobs spawn through a cloned pool handle
/// (`pool.clone()` captured, then `execute`), as code that holds a `ThreadPool` does.
/// The difference to [`Ours`] in `chained_spawn`/`ping_pong` is the price of the
/// handle clone: an `Arc` increment and decrement per job, on a cache line both
/// workers touch.
#[derive(Debug)]
pub struct OursHandle(pub executor_core::ThreadPool);

impl Peer for OursHandle {
    const NAME: &'static str = "executor_core_handle";
    type Spawner = executor_core::ThreadPool;

    fn build(threads: usize) -> Self {
        OursHandle(Ours::build(threads).0)
    }

    #[inline]
    fn submit<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.0.execute(f).expect("executor_core rejected a job");
    }

    fn spawner(&self) -> Self::Spawner {
        self.0.clone()
    }

    #[inline]
    fn spawn_inside<F: FnOnce() + Send + 'static>(spawner: &Self::Spawner, f: F) {
        spawner.execute(f).expect("executor_core rejected a job");
    }
}

/// `rayon::ThreadPool::spawn` from outside; `rayon::spawn` (the current worker's
/// deque) from inside.
#[derive(Debug)]
pub struct Rayon(pub rayon::ThreadPool);

impl Peer for Rayon {
    const NAME: &'static str = "rayon";
    type Spawner = ();

    fn build(threads: usize) -> Self {
        Rayon(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("build rayon pool"),
        )
    }

    #[inline]
    fn submit<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.0.spawn(f);
    }

    fn spawner(&self) -> Self::Spawner {}

    #[inline]
    fn spawn_inside<F: FnOnce() + Send + 'static>((): &(), f: F) {
        // Only ever called from a job of this pool, so it lands on this pool.
        rayon::spawn(f);
    }
}

/// A tokio multi-thread runtime: `Runtime::spawn` from outside, `tokio::spawn`
/// (the worker's local queue) from inside. Each job is an `async` block around the
/// closure; its `JoinHandle` is dropped (detached).
#[derive(Debug)]
pub struct Tokio(pub tokio::runtime::Runtime);

impl Peer for Tokio {
    const NAME: &'static str = "tokio";
    type Spawner = ();

    fn build(threads: usize) -> Self {
        Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .build()
                .expect("build tokio runtime"),
        )
    }

    #[inline]
    fn submit<F: FnOnce() + Send + 'static>(&self, f: F) {
        drop(self.0.spawn(async move { f() }));
    }

    fn spawner(&self) -> Self::Spawner {}

    #[inline]
    fn spawn_inside<F: FnOnce() + Send + 'static>((): &(), f: F) {
        drop(tokio::spawn(async move { f() }));
    }

    fn block<R>(f: impl FnOnce() -> R) -> R {
        tokio::task::block_in_place(f)
    }
}

/// The `threadpool` crate (one shared channel, no work stealing): `execute` from
/// everywhere, through a clone of the pool inside jobs.
#[derive(Debug)]
pub struct StdThreadpool(pub threadpool::ThreadPool);

impl Peer for StdThreadpool {
    const NAME: &'static str = "threadpool";
    type Spawner = threadpool::ThreadPool;

    fn build(threads: usize) -> Self {
        StdThreadpool(threadpool::ThreadPool::new(threads))
    }

    #[inline]
    fn submit<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.0.execute(f);
    }

    fn spawner(&self) -> Self::Spawner {
        self.0.clone()
    }

    #[inline]
    fn spawn_inside<F: FnOnce() + Send + 'static>(spawner: &Self::Spawner, f: F) {
        spawner.execute(f);
    }
}

/// `futures::executor::ThreadPool`: `spawn_ok` of an `async` block around the
/// closure, through a clone of the pool inside jobs.
#[derive(Debug)]
pub struct FuturesPool(pub futures::executor::ThreadPool);

impl Peer for FuturesPool {
    const NAME: &'static str = "futures";
    type Spawner = futures::executor::ThreadPool;

    fn build(threads: usize) -> Self {
        FuturesPool(
            futures::executor::ThreadPool::builder()
                .pool_size(threads)
                .create()
                .expect("build futures pool"),
        )
    }

    #[inline]
    fn submit<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.0.spawn_ok(async move { f() });
    }

    fn spawner(&self) -> Self::Spawner {
        self.0.clone()
    }

    #[inline]
    fn spawn_inside<F: FnOnce() + Send + 'static>(spawner: &Self::Spawner, f: F) {
        spawner.spawn_ok(async move { f() });
    }
}

/// A built pool and its countdown; runs the workloads. Each workload returns once
/// every job it started has finished.
#[derive(Debug)]
pub struct Harness<P> {
    /// The pool under test.
    pub pool: P,
    /// Leaked once per harness (a few dozen bytes), so that jobs capture a plain
    /// `&'static` and no reference count is touched per job.
    done: &'static Countdown,
}

impl<P: Peer> Harness<P> {
    /// Builds `P` with `threads` workers.
    pub fn new(threads: usize) -> Self {
        Harness {
            pool: P::build(threads),
            done: Box::leak(Box::new(Countdown::new())),
        }
    }

    /// Submits `n` empty jobs from the calling thread, then waits for all of them.
    pub fn spawn_outside(&self, n: usize) {
        let done = self.done;
        done.arm(n);
        for _ in 0..n {
            self.pool.submit(move || done.done());
        }
        done.wait();
    }

    /// Submits one root job that spawns `n` empty jobs from inside the pool, then
    /// waits for all `n`.
    pub fn spawn_inside(&self, n: usize) {
        let done = self.done;
        done.arm(n);
        let spawner = self.pool.spawner();
        self.pool.submit(move || {
            for _ in 0..n {
                P::spawn_inside(&spawner, move || done.done());
            }
        });
        done.wait();
    }

    /// Runs a chain of `links` jobs (at least one), each spawned by the previous one
    /// from inside the pool; the first is submitted from outside. Waits for the last.
    pub fn chained_spawn(&self, links: usize) {
        let done = self.done;
        done.arm(1);
        let spawner = self.pool.spawner();
        let rest = links.saturating_sub(1);
        self.pool.submit(move || link::<P>(spawner, done, rest));
        done.wait();
    }

    /// Bounces a token `rounds` times between a "ping" and a "pong" job, each hop a
    /// new job spawned from inside the pool (two hops per round trip). Waits for
    /// the last hop.
    pub fn ping_pong(&self, rounds: usize) {
        let done = self.done;
        done.arm(1);
        let spawner = self.pool.spawner();
        self.pool.submit(move || ping::<P>(spawner, done, rounds));
        done.wait();
    }

    /// One job submitted from outside into an otherwise idle pool, and the wait
    /// for it: submit → a worker notices (waking it if it sleeps) → run → the
    /// submitter is woken.
    pub fn round_trip(&self) {
        let done = self.done;
        done.arm(1);
        self.pool.submit(move || done.done());
        done.wait();
    }
}

/// One link of [`Harness::chained_spawn`]: spawns the next while `left > 0`.
fn link<P: Peer>(spawner: P::Spawner, done: &'static Countdown, left: usize) {
    if left == 0 {
        done.done();
        return;
    }
    // The next job owns a handle of its own; for pools without an ambient spawn
    // this clone is what a user pays too.
    let next = spawner.clone();
    P::spawn_inside(&spawner, move || link::<P>(next, done, left - 1));
}

/// The "ping" half of [`Harness::ping_pong`]: hands the token to a new "pong" job.
fn ping<P: Peer>(spawner: P::Spawner, done: &'static Countdown, rounds: usize) {
    if rounds == 0 {
        done.done();
        return;
    }
    let next = spawner.clone();
    P::spawn_inside(&spawner, move || pong::<P>(next, done, rounds));
}

/// The "pong" half of [`Harness::ping_pong`]: hands the token back, one round done.
fn pong<P: Peer>(spawner: P::Spawner, done: &'static Countdown, rounds: usize) {
    let next = spawner.clone();
    P::spawn_inside(&spawner, move || ping::<P>(next, done, rounds - 1));
}

/// Runs `f` once with a freshly built harness of every pool, in a fixed order: ours
/// first (and, if `borrowed`, [`OursHandle`] right after it), then rayon, tokio,
/// threadpool, futures. Each harness is dropped (its threads shut down) before the
/// next is built, so only one pool's threads exist at a time.
pub fn for_each_peer(threads: usize, borrowed: bool, mut f: impl FnMut(&dyn ErasedHarness)) {
    f(&Harness::<Ours>::new(threads));
    if borrowed {
        f(&Harness::<OursHandle>::new(threads));
    }
    f(&Harness::<Rayon>::new(threads));
    f(&Harness::<Tokio>::new(threads));
    f(&Harness::<StdThreadpool>::new(threads));
    f(&Harness::<FuturesPool>::new(threads));
}

/// [`Harness`] with its pool type erased, so one loop can run every pool.
pub trait ErasedHarness {
    /// The pool's name ([`Peer::NAME`]).
    fn name(&self) -> &'static str;
    /// [`Harness::spawn_outside`].
    fn spawn_outside(&self, n: usize);
    /// [`Harness::spawn_inside`].
    fn spawn_inside(&self, n: usize);
    /// [`Harness::chained_spawn`].
    fn chained_spawn(&self, links: usize);
    /// [`Harness::ping_pong`].
    fn ping_pong(&self, rounds: usize);
    /// [`Harness::round_trip`].
    fn round_trip(&self);
    /// [`waiting::latency`]: p50, p99, max queueing delay in µs.
    fn latency(&self, threads: usize, jobs: usize) -> [f64; 3];
    /// [`waiting::blocking_mix`]: wall time in ms.
    fn blocking_mix(&self, tasks: usize) -> f64;
    /// [`waiting::nested_wait`]: tasks run.
    fn nested_wait(&self, roots: usize) -> u64;
}

impl<P: Peer> ErasedHarness for Harness<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }
    fn spawn_outside(&self, n: usize) {
        Harness::spawn_outside(self, n);
    }
    fn spawn_inside(&self, n: usize) {
        Harness::spawn_inside(self, n);
    }
    fn chained_spawn(&self, links: usize) {
        Harness::chained_spawn(self, links);
    }
    fn ping_pong(&self, rounds: usize) {
        Harness::ping_pong(self, rounds);
    }
    fn round_trip(&self) {
        Harness::round_trip(self);
    }
    fn latency(&self, threads: usize, jobs: usize) -> [f64; 3] {
        waiting::latency(&self.pool, threads, jobs, self.done)
    }
    fn blocking_mix(&self, tasks: usize) -> f64 {
        waiting::blocking_mix(&self.pool, tasks, self.done)
    }
    fn nested_wait(&self, roots: usize) -> u64 {
        waiting::nested_wait(&self.pool, roots, self.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every workload finishes on every pool (a hang here is a bug in the harness
    /// or in a pool).
    #[test]
    fn every_workload_completes_on_every_pool() {
        for_each_peer(2, true, |h| {
            h.spawn_outside(1000);
            h.spawn_inside(1000);
            h.chained_spawn(100);
            h.ping_pong(50);
            h.round_trip();
        });
    }
}
