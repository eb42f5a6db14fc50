//! The instruction cost of the typed-task path, for callgrind (deterministic
//! whatever the machine's load): `n` tasks submitted from outside to a
//! 1-worker pool, the pool drained (`shutdown` + `await_termination`, so no
//! spinning is counted), then every handle read with `get` in order.
//!
//! ```text
//! cargo build --release -p benches --bin cell_cost
//! valgrind --tool=callgrind target/release/cell_cost submit 100000
//! ```
//!
//! Modes: `submit` (`submit` in a loop), `batch` (one `submit_all`),
//! `completion` (a `CompletionService`, `take` of every result), `async` (an
//! async task per job, collected with `get`). Timed modes (2 workers): `wall`,
//! `wall_batch` (submit_collect's two rows), `first` (completion_first's
//! batch row), `baton`.

use benches::probe::{report, rounds};
use executor_completion::CompletionService;
use executor_core::ThreadPool;
use executor_futures::ExecutorService;
use std::hint::black_box;
use std::time::Duration;

/// Runs the mode named by the first argument (see the module docs).
pub(crate) fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "submit".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    if mode == "wall" {
        return wall(n, false);
    }
    if mode == "wall_batch" {
        return wall(n, true);
    }
    if let Some(k) = mode.strip_prefix("wall_chunks") {
        return wall_chunks(n, k.parse().expect("wall_chunksK"));
    }
    if mode == "baton" {
        return baton(n);
    }
    if mode == "first" {
        return first(n as usize, usize::MAX);
    }
    if let Some(k) = mode.strip_prefix("first_chunks") {
        return first(n as usize, k.parse().expect("first_chunksK"));
    }
    let pool = ThreadPool::new(1).expect("pool");
    let sum: u64 = match mode.as_str() {
        "submit" => {
            let handles: Vec<_> = (0..n)
                .map(|i| pool.submit(move || black_box(i) * 2).unwrap())
                .collect();
            drain(&pool);
            handles.into_iter().map(|h| h.get().unwrap()).sum()
        }
        "batch" => {
            let handles = pool
                .submit_all((0..n).map(|i| move || black_box(i) * 2))
                .unwrap();
            drain(&pool);
            handles.into_iter().map(|h| h.get().unwrap()).sum()
        }
        "async" => {
            let handles: Vec<_> = (0..n)
                .map(|i| pool.spawn(async move { black_box(i) * 2 }).unwrap())
                .collect();
            drain(&pool);
            handles.into_iter().map(|h| h.get().unwrap()).sum()
        }
        "completion" => {
            let service = CompletionService::new(pool.clone());
            for i in 0..n {
                service.submit(move || black_box(i) * 2).unwrap();
            }
            drain(&pool);
            (0..n).map(|_| service.take().unwrap().get().unwrap()).sum()
        }
        "completion_batch" => {
            let service = CompletionService::new(pool.clone());
            service
                .submit_all((0..n).map(|i| move || black_box(i) * 2))
                .unwrap();
            drain(&pool);
            (0..n).map(|_| service.take().unwrap().get().unwrap()).sum()
        }
        other => panic!("unknown mode {other}"),
    };
    assert_eq!(sum, n * (n - 1));
    println!("{mode} {n}: ok");
}

/// `baton`: two async tasks pass a token back and forth `n` times through
/// `futures` channels (each hop is a wake of the other task), timed.
fn baton(n: u64) {
    use futures::channel::mpsc;
    use futures::{SinkExt, StreamExt};
    let pool = ThreadPool::new(2).expect("pool");
    let rounds = rounds();
    let mut times = Vec::new();
    for _ in 0..rounds {
        let (mut to_b, mut b_rx) = mpsc::channel::<u64>(1);
        let (mut to_a, mut a_rx) = mpsc::channel::<u64>(1);
        let start = std::time::Instant::now();
        let b = pool
            .spawn(async move {
                while let Some(v) = b_rx.next().await {
                    if to_a.send(v + 1).await.is_err() {
                        break;
                    }
                }
            })
            .unwrap();
        let a = pool
            .spawn(async move {
                let mut v = 0;
                for _ in 0..n {
                    to_b.send(v).await.unwrap();
                    v = a_rx.next().await.unwrap();
                }
                v
            })
            .unwrap();
        assert_eq!(a.get().unwrap(), n);
        b.get().unwrap();
        times.push(start.elapsed().as_nanos() as f64 / n as f64);
    }
    report(&format!("baton {n}"), "ns/round trip", times);
}

/// `first`: completion_first's `executor_core_batch` row (one
/// `CompletionService::submit_all` of `n` skewed busy tasks, 2 workers), timed
/// from before the service is built to the first result taken; prints the
/// median and the time the `submit_all` call alone took.
fn first(n: usize, chunk: usize) {
    use benches::completion::{spin, Work};
    let pool = ThreadPool::new(2).expect("pool");
    let work = Work::new(n, 50_000, 2);
    let rounds = rounds();
    let (mut firsts, mut submits) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = std::time::Instant::now();
        let service = CompletionService::new(&pool);
        for (c, part) in work.durations.chunks(chunk.min(n)).enumerate() {
            let base = c * chunk.min(n);
            let tasks = part.iter().enumerate().map(|(i, &ns)| {
                move || {
                    spin(ns);
                    (base + i) as u64
                }
            });
            service.submit_all(tasks).expect("pool accepts");
        }
        submits.push(start.elapsed().as_secs_f64() * 1e6);
        let mut got = service.take().unwrap().get().unwrap();
        firsts.push(start.elapsed().as_secs_f64() * 1e6);
        while let Some(done) = service.take() {
            got += done.get().unwrap();
        }
        assert_eq!(got as usize, n * (n - 1) / 2);
    }
    firsts.sort_by(f64::total_cmp);
    submits.sort_by(f64::total_cmp);
    println!(
        "first {n}: median {:.0} µs to the first result ({:.0}-{:.0}), submit_all {:.0} µs",
        firsts[firsts.len() / 2],
        firsts[0],
        firsts[firsts.len() - 1],
        submits[submits.len() / 2]
    );
}

/// `wall`: submit_collect's loop on 2 workers, timed (for `perf record`);
/// `wall_batch`: the same with one `submit_all` (its `executor_core_batch` row).
fn wall(n: u64, batch: bool) {
    let pool = ThreadPool::new(2).expect("pool");
    let rounds = rounds();
    let mut times = Vec::new();
    for _ in 0..rounds {
        let start = std::time::Instant::now();
        let handles: Vec<_> = if batch {
            pool.submit_all((0..n).map(|i| move || black_box(i) * 2))
                .unwrap()
        } else {
            (0..n)
                .map(|i| pool.submit(move || black_box(i) * 2).unwrap())
                .collect()
        };
        let sum: u64 = handles.into_iter().map(|h| h.get().unwrap()).sum();
        times.push(start.elapsed().as_nanos() as f64 / n as f64);
        assert_eq!(sum, n * (n - 1));
    }
    let what = if batch { "wall_batch" } else { "wall" };
    report(&format!("{what} {n}"), "ns/task", times);
}

/// `wall_chunksK`: `wall_batch` as `submit_all` calls of `K` tasks each.
fn wall_chunks(n: u64, k: u64) {
    let pool = ThreadPool::new(2).expect("pool");
    let mut times = Vec::new();
    for _ in 0..rounds() {
        let start = std::time::Instant::now();
        let mut handles = Vec::with_capacity(n as usize);
        let mut i = 0;
        while i < n {
            let end = (i + k).min(n);
            handles.extend(
                pool.submit_all((i..end).map(|i| move || black_box(i) * 2))
                    .unwrap(),
            );
            i = end;
        }
        let sum: u64 = handles.into_iter().map(|h| h.get().unwrap()).sum();
        times.push(start.elapsed().as_nanos() as f64 / n as f64);
        assert_eq!(sum, n * (n - 1));
    }
    report(&format!("wall_chunks{k} {n}"), "ns/task", times);
}

fn drain(pool: &ThreadPool) {
    pool.shutdown();
    pool.await_termination(Duration::from_secs(60))
        .expect("terminated");
}
