//! The workloads of issue 17 (waiting, blocking, latency), generic over the
//! peers: `latency` (queueing delay of an open-loop stream from outside),
//! `blocking_mix` (tasks of which a fifth sleep 1 ms), `nested_wait` (tasks
//! that submit children and wait for them).
//!
//! A blocking call inside a job goes through [`Peer::block`]: ours wraps it
//! in `executor_core::block_in_place`, tokio in `tokio::task::block_in_place`,
//! the others call it plainly (they have no managed blocking).

use crate::{Countdown, Peer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Spins for about `d` (a job's "work").
fn work_for(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// Length of `latency`'s short jobs.
pub const SHORT_JOB: Duration = Duration::from_micros(20);
/// Length of `latency`'s occasional long job (one in [`LONG_EVERY`]).
pub const LONG_JOB: Duration = Duration::from_millis(2);
/// One job in this many of `latency` is long.
pub const LONG_EVERY: usize = 100;

/// `jobs` jobs submitted from outside at about 70% of the pool's capacity
/// (`threads` workers), one in [`LONG_EVERY`] long; returns the p50, p99 and
/// maximum delay from submission to start, in microseconds.
pub fn latency<P: Peer>(
    pool: &P,
    threads: usize,
    jobs: usize,
    done: &'static Countdown,
) -> [f64; 3] {
    let delays: Arc<Vec<AtomicU64>> = Arc::new((0..jobs).map(|_| AtomicU64::new(0)).collect());
    // Mean job length, and the interval that loads the pool to 70%.
    let mean = (SHORT_JOB.as_secs_f64() * (LONG_EVERY - 1) as f64 + LONG_JOB.as_secs_f64())
        / LONG_EVERY as f64;
    let interval = Duration::from_secs_f64(mean / (threads as f64 * 0.7));
    done.arm(jobs);
    let start = Instant::now();
    // The submitter sleeps between bursts of the jobs that are due (a
    // spinning submitter would take a CPU from the pool it measures).
    for i in 0..jobs {
        let due = start + interval * i as u32;
        if Instant::now() < due {
            std::thread::sleep(due - Instant::now());
        }
        let delays = delays.clone();
        let submitted = Instant::now();
        pool.submit(move || {
            let delay = submitted.elapsed().as_nanos() as u64;
            delays[i].store(delay, Ordering::Relaxed);
            work_for(if i % LONG_EVERY == LONG_EVERY - 1 {
                LONG_JOB
            } else {
                SHORT_JOB
            });
            done.done();
        });
    }
    done.wait();
    let mut d: Vec<u64> = delays.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    d.sort_unstable();
    let at = |q: f64| d[((d.len() - 1) as f64 * q) as usize] as f64 / 1e3;
    [at(0.5), at(0.99), at(1.0)]
}

/// `tasks` tasks from outside: every fifth sleeps 1 ms (through
/// [`Peer::block`]), the others compute 50 µs. Returns the wall time in ms.
pub fn blocking_mix<P: Peer>(pool: &P, tasks: usize, done: &'static Countdown) -> f64 {
    done.arm(tasks);
    let t = Instant::now();
    for i in 0..tasks {
        pool.submit(move || {
            if i % 5 == 0 {
                P::block(|| std::thread::sleep(Duration::from_millis(1)));
            } else {
                work_for(Duration::from_micros(50));
            }
            done.done();
        });
    }
    done.wait();
    t.elapsed().as_secs_f64() * 1e3
}

/// Depth of `nested_wait`'s trees.
pub const NESTED_DEPTH: u32 = 3;
/// Fan-out of `nested_wait`'s trees.
pub const NESTED_FANOUT: usize = 4;

/// One node of a `nested_wait` tree: spawns its children, waits for all of
/// them (through [`Peer::block`]), returns its subtree's size.
fn node<P: Peer>(spawner: P::Spawner, depth: u32) -> u64 {
    if depth == 0 {
        work_for(Duration::from_micros(10));
        return 1;
    }
    let (tx, rx) = mpsc::channel();
    for _ in 0..NESTED_FANOUT {
        let (tx, s) = (tx.clone(), spawner.clone());
        P::spawn_inside(&spawner, move || {
            let _ = tx.send(node::<P>(s, depth - 1));
        });
    }
    drop(tx);
    1 + P::block(|| rx.iter().sum::<u64>())
}

/// Size of one `nested_wait` tree.
pub fn nested_tree_size() -> u64 {
    (0..=NESTED_DEPTH)
        .map(|d| (NESTED_FANOUT as u64).pow(d))
        .sum()
}

/// `roots` trees of depth [`NESTED_DEPTH`] and fan-out [`NESTED_FANOUT`],
/// each node submitting its children and waiting for them. Only for peers
/// whose blocking is managed (a plain blocking wait on a fixed pool
/// deadlocks once every worker waits). Returns the tasks run.
pub fn nested_wait<P: Peer>(pool: &P, roots: usize, done: &'static Countdown) -> u64 {
    let total = Arc::new(AtomicU64::new(0));
    done.arm(roots);
    for _ in 0..roots {
        let (s, total) = (pool.spawner(), total.clone());
        pool.submit(move || {
            total.fetch_add(node::<P>(s, NESTED_DEPTH), Ordering::Relaxed);
            done.done();
        });
    }
    done.wait();
    total.load(Ordering::Relaxed)
}

/// `nested_wait` for our pool through task handles (`submit` + `get`), the
/// API a user would write: children are queued on the waiting worker's own
/// deque, so a wait runs them or a spare does.
pub fn nested_wait_handles(pool: &executor_core::ThreadPool, roots: usize) -> u64 {
    use executor_futures::ExecutorService;
    fn tree(pool: executor_core::ThreadPool, depth: u32) -> u64 {
        if depth == 0 {
            work_for(Duration::from_micros(10));
            return 1;
        }
        let children: Vec<_> = (0..NESTED_FANOUT)
            .map(|_| {
                let p = pool.clone();
                pool.submit(move || tree(p, depth - 1)).unwrap()
            })
            .collect();
        1 + children.into_iter().map(|h| h.get().unwrap()).sum::<u64>()
    }
    let handles: Vec<_> = (0..roots)
        .map(|_| {
            let p = pool.clone();
            pool.submit(move || tree(p, NESTED_DEPTH)).unwrap()
        })
        .collect();
    handles.into_iter().map(|h| h.get().unwrap()).sum()
}
