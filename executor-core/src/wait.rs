//! Waiting: the seam upper layers (typed handles, completion services, bulk
//! waits) use to wait for a condition, and the rule for what a waiting worker
//! may run.
//!
//! The waiting side registers a [`Waiter`] wherever the condition will be made
//! true, then calls [`wait_until`]. The completing side makes the condition true,
//! then calls [`Waiter::wake`]. The waiter's re-check of the condition after
//! registering, together with wake-up tokens (a thread's park token, a worker's
//! parker), means no wake-up is lost.
//!
//! ## What a wait on a worker may run
//!
//! A wait runs only work it is owed, never unrelated work:
//!
//! ```text
//!  wait_until(done, deadline) on a worker
//!    │
//!    ├─ untimed: while !done and the deque holds jobs above the floor (pushed
//!    │  by the job now running, i.e. the waiting task's own subtree): pop the
//!    │  newest and run it                       (nothing else, ever)
//!    │
//!    └─ then, or at once when timed:  BLOCKED
//!         blocked += 1, needy token         ──▶ work queued and nobody to run
//!         park until woken or deadline           it: a sleeper is woken, or a
//!         token back (if no spare took it)       spare worker starts (see
//!         blocked -= 1                           `crate::compensate`)
//! ```
//!
//! * A timed wait runs nothing inline, so it returns within the scheduler's
//!   slack of its deadline, whatever the length of any queued job.
//! * A job that waits never runs another task of another pool, nor a job
//!   queued before it: a stack holds one wait per *nested* task, never one
//!   per queued task.
//! * The awaited work still runs: it is on the waiter's deque (run inline),
//!   or another worker or a spare runs it. With a spare cap of 0 a wait whose
//!   work sits elsewhere behind every worker's own wait cannot complete.
//! * Upper layers add what they are owed themselves: a completion service's
//!   helping consumer outside the pool runs its own unstarted tasks;
//!   `TaskRef::try_run` runs a task on request.
//! * Fork-join waits (`join`, the end of a `scope`, `ScopedHandle::get`) are
//!   different: they keep running any queued job while they wait, as rayon's
//!   do, because fork-join speed depends on it. A fork-join wait may thus run
//!   an unrelated job (and its wait) on its stack; code that must not can run
//!   inside [`isolate`] (TBB's `this_task_arena::isolate`): its fork-join
//!   waits then follow the rule above, with the floor at `isolate`'s entry.
//!
//! This departs from the first design (every wait on a worker *helped*: ran
//! any queued job), which kept nested waits on one thread safe but broke
//! deadlines, ran jobs that blocked on their own waiter, grew the stack by one
//! frame per queued waiter and ran pool B's tasks on pool A's threads.
//!
//! Elsewhere (not a worker) [`wait_until`] parks the thread.

use crate::error::TimedOut;
use crate::registry::Registry;
use crate::worker::WorkerThread;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

/// Whom to wake when a condition becomes true: a plain thread or a pool worker.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::{Arc, Mutex};
/// use executor_core::ThreadPool;
/// use executor_core::integration::{wait_until, Waiter};
///
/// let pool = ThreadPool::new(1).unwrap();
/// let done = Arc::new(AtomicBool::new(false));
/// let waiter = Arc::new(Mutex::new(None::<Waiter>));
/// // Register first, then wait: the completer wakes whoever registered.
/// *waiter.lock().unwrap() = Some(Waiter::current());
/// let (d, w) = (done.clone(), waiter.clone());
/// pool.execute(move || {
///     d.store(true, Ordering::SeqCst);
///     if let Some(w) = w.lock().unwrap().take() {
///         w.wake();
///     }
/// })
/// .unwrap();
/// assert!(wait_until(|| done.load(Ordering::SeqCst), None).is_ok());
/// ```
#[derive(Clone)]
pub struct Waiter(Kind);

#[derive(Clone)]
enum Kind {
    Thread(std::thread::Thread),
    Worker {
        registry: Arc<Registry>,
        index: usize,
    },
}

impl Waiter {
    /// The waiter for the calling thread.
    pub fn current() -> Waiter {
        WorkerThread::with_current(|w| match w {
            Some(w) => Waiter(Kind::Worker {
                registry: w.registry_arc().clone(),
                index: w.index(),
            }),
            None => Waiter(Kind::Thread(std::thread::current())),
        })
    }

    /// Wakes the waiter so it re-checks its condition. Waking a waiter that is not
    /// waiting is harmless (it costs at most one spurious re-check later).
    pub fn wake(&self) {
        match &self.0 {
            Kind::Thread(t) => t.unpark(),
            Kind::Worker { registry, index } => registry.sleep.unpark(*index),
        }
    }

    /// True when the waiter is the calling thread.
    pub fn is_current(&self) -> bool {
        match &self.0 {
            Kind::Thread(t) => t.id() == std::thread::current().id(),
            Kind::Worker { registry, index } => WorkerThread::with_current(|w| {
                w.is_some_and(|w| std::ptr::eq(w.registry(), &**registry) && w.index() == *index)
            }),
        }
    }
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Thread(t) => f.debug_tuple("Waiter::Thread").field(&t.id()).finish(),
            Kind::Worker { registry, index } => f
                .debug_struct("Waiter::Worker")
                .field("pool", &registry.name)
                .field("index", index)
                .finish(),
        }
    }
}

/// Blocks until `done()` returns true (then returns `Ok`) or `deadline` passes
/// (then returns `Ok` if `done()` holds, else `Err(TimedOut)`). Register a [`Waiter`] with whoever makes `done` true
/// *before* calling this.
///
/// On a pool worker an untimed wait first runs the jobs the running job pushed
/// onto the worker's deque (its own subtree); then, and for a timed wait at
/// once, the worker blocks and the pool starts a spare worker in its place
/// while work is queued (module docs). It never runs unrelated work.
///
/// # Errors
///
/// [`TimedOut`] when `deadline` passed with `done()` still false (never for
/// `None`).
///
/// # Examples
///
/// See [`Waiter`].
pub fn wait_until(done: impl Fn() -> bool, deadline: Option<Instant>) -> Result<(), TimedOut> {
    if wait_until_bool(&done, deadline) {
        Ok(())
    } else {
        Err(TimedOut)
    }
}

fn wait_until_bool(done: &dyn Fn() -> bool, deadline: Option<Instant>) -> bool {
    let helped = WorkerThread::with_current(|w| w.map(|w| w.wait_owed(done, deadline)));
    if let Some(result) = helped {
        return result;
    }
    loop {
        if done() {
            return true;
        }
        match deadline {
            None => std::thread::park(),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return done();
                }
                std::thread::park_timeout(d - now);
            }
        }
    }
}

/// On a pool worker, runs one queued job (the worker's own first) and returns true;
/// returns false when there was nothing to run or the caller is not a worker. For
/// code that polls for a condition and wants to be useful meanwhile: unlike
/// [`wait_until`], it may run any job of the pool, so call it only where an
/// unrelated job (of any length) is acceptable.
///
/// # Examples
///
/// ```
/// assert!(!executor_core::integration::run_pending_job()); // not on a worker
/// ```
pub fn run_pending_job() -> bool {
    WorkerThread::with_current(|w| w.is_some_and(WorkerThread::run_one))
}

/// Runs `f` isolated, like TBB's `this_task_arena::isolate`: while it runs,
/// fork-join waits on this worker ([`join`](crate::join), the end of a
/// [`scope`](crate::scope)) run only jobs pushed inside `f` (its own
/// subtree), and otherwise block while the pool runs a spare worker in their
/// place, instead of running any queued job as they do by default (for
/// speed). Use it where running an unrelated job inside a `join` would hurt:
/// code holding a lock or a thread-local another job may need, or with
/// deadlines. Jobs that run inside `f` are isolated too. Outside a pool it
/// just calls `f`.
///
/// # Cost
///
/// Entering it costs about 26 instructions on a worker: on one worker,
/// `fib_fine(25)` (121,392 joins) took 24.9 M instructions plain and 28.0 M
/// with every `join` in its own `isolate` (callgrind, deterministic; a plain
/// join averages at most 205, pool start-up included). The other price is
/// behavioural: inside, a `join` whose second half was stolen blocks
/// (compensated by a spare worker) instead of running other jobs until the
/// thief is done. `fib_coarse(32)` (cutoff 20) and `fib_fine(25)` isolated at
/// the root against plain, 2 workers, gave per-run median ratios from 0.83
/// to 1.83 in five interleaved runs of 15 rounds, at a load average of 9 on
/// 2 CPUs: too loaded to tell them apart, and not measured on a quiet
/// machine. `cargo run --release -p benches --bin isolate_cost` prints both.
///
/// # Examples
///
/// ```
/// use executor_core::{isolate, join, ThreadPool};
/// let pool = ThreadPool::new(2).unwrap();
/// let (a, b) = pool.install(|| isolate(|| join(|| 1 + 1, || 2 + 2)));
/// assert_eq!((a, b), (2, 4));
/// assert_eq!(isolate(|| 5), 5); // outside a pool
/// ```
pub fn isolate<R>(f: impl FnOnce() -> R) -> R {
    WorkerThread::with_current(|w| match w {
        Some(w) => w.isolated(f),
        None => f(),
    })
}

/// Bounds of [`spin_until`]'s budget, in rounds (round `i` spins `2^i` times).
const MAX_SPIN_ROUNDS: u32 = 9;
const MIN_SPIN_ROUNDS: u32 = 4;

thread_local! {
    /// This thread's current spin budget, in rounds (see [`spin_until`]).
    static SPIN_ROUNDS: std::cell::Cell<u32> = const { std::cell::Cell::new(MAX_SPIN_ROUNDS) };
}

/// Spins until `ready()` or `deadline`, re-checking between rounds of
/// `spin_loop` hints that double in length (1, 2, ..., 256: about 15 µs in all on
/// the reference machine, a third of a park/unpark round trip). True: `ready()`
/// held. For a thread about to park for something that is often done within
/// microseconds (a short task's result).
///
/// Adaptive per thread: a spin that fails costs the next one two rounds (down to
/// about 0.5 µs), one that succeeds gives one back. On an oversubscribed machine a
/// spinning waiter takes the CPU the completing worker needs and keeps missing:
/// it then spins hardly at all. No `yield_now` phase: on a loaded machine it gave
/// the CPU away for a whole time slice. (Measured in `executor-futures` on "submit
/// one, get it", 2 threads, quiet machine: 6.7 → 3.3 µs per round trip.)
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// let flag = AtomicBool::new(true);
/// assert!(executor_core::integration::spin_until(|| flag.load(Ordering::Acquire), None));
/// ```
pub fn spin_until(ready: impl Fn() -> bool, deadline: Option<Instant>) -> bool {
    let rounds = SPIN_ROUNDS.with(std::cell::Cell::get);
    for round in 0..rounds {
        for _ in 0..1u32 << round {
            std::hint::spin_loop();
        }
        if ready() {
            SPIN_ROUNDS.with(|r| r.set((rounds + 1).min(MAX_SPIN_ROUNDS)));
            return true;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
    }
    SPIN_ROUNDS.with(|r| r.set(rounds.saturating_sub(2).max(MIN_SPIN_ROUNDS)));
    false
}

/// What [`yield_now`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Yield {
    /// It ran one pending job.
    Executed,
    /// There was no pending job to run.
    Idle,
}

/// Lets a worker run one pending job (its own deque first, then stealing), like
/// rayon's `yield_now`. `None` when the caller is not a pool worker.
///
/// # Examples
///
/// ```
/// use executor_core::{yield_now, ThreadPool, Yield};
/// assert_eq!(yield_now(), None);
/// let pool = ThreadPool::new(1).unwrap();
/// let r = pool.install(|| {
///     executor_core::execute(|| ()).unwrap();
///     (yield_now(), yield_now())
/// });
/// assert_eq!(r, (Some(Yield::Executed), Some(Yield::Idle)));
/// ```
pub fn yield_now() -> Option<Yield> {
    WorkerThread::with_current(|w| {
        w.map(|w| {
            if w.run_one() {
                Yield::Executed
            } else {
                Yield::Idle
            }
        })
    })
}

/// The index of the calling thread in its pool, if it is a pool worker: below
/// `num_threads` for the pool's workers, from `num_threads` on for spare and
/// extra workers (see [`block_in_place`](crate::block_in_place) and
/// [`Builder::max_threads`](crate::Builder::max_threads)).
///
/// # Examples
///
/// ```
/// use executor_core::{current_thread_index, ThreadPool};
/// assert_eq!(current_thread_index(), None);
/// let pool = ThreadPool::new(3).unwrap();
/// let (tx, rx) = std::sync::mpsc::channel();
/// pool.execute(move || tx.send(current_thread_index()).unwrap()).unwrap();
/// assert!(rx.recv().unwrap().is_some_and(|i| i < 3));
/// ```
pub fn current_thread_index() -> Option<usize> {
    WorkerThread::with_current(|w| w.map(WorkerThread::index))
}

/// True when the calling thread is a worker whose pool was stopped with
/// `shutdown_now` while this job ran (`shutdown_now` cancels running jobs): Java's
/// `Thread.interrupted()`. Long-running jobs should check it and return early.
/// Always false outside a pool. `executor_futures::is_cancelled` (the one the
/// facade exports) answers this and also a cancelled task's own handle.
///
/// # Examples
///
/// ```
/// use executor_core::{is_cancelled, ThreadPool};
/// let pool = ThreadPool::new(1).unwrap();
/// let (started_tx, started_rx) = std::sync::mpsc::channel();
/// pool.execute(move || {
///     started_tx.send(()).unwrap();
///     while !is_cancelled() {
///         std::thread::yield_now();
///     }
/// })
/// .unwrap();
/// started_rx.recv().unwrap();
/// assert!(pool.shutdown_now().is_empty());
/// assert!(pool.await_termination(std::time::Duration::from_secs(10)).is_ok());
/// ```
pub fn is_cancelled() -> bool {
    WorkerThread::with_current(|w| {
        w.is_some_and(|w| w.registry().lifecycle.state() >= crate::lifecycle::State::Stop)
    })
}
