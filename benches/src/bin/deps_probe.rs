//! A probe of issue 20's dependency rows, one variant per process, for
//! profiling (`valgrind --tool=callgrind`, `perf record`) and quick timing:
//!
//! ```text
//! deps_probe <sa|graph|chain|spawn_chain> <size> <iterations> [threads]
//! ```
//!
//! * `sa`: the `wavefront` row's `submit_after` variant on a `size`×`size` grid.
//! * `sa_gated`: `sa` with cell (0, 0) after a gated task: the grid is built
//!   before anything runs, then released (build and run timed apart).
//! * `graph`: the same grid through a `TaskGraph` (built once).
//! * `chain`: `size` `then` continuations behind a gated head (the `chain` row).
//! * `spawn_chain`: `size` jobs, each spawning the next (`executor_core::execute`).
//!
//! Prints ns per cell (or link) for each iteration.

use executor_futures::{ExecutorService, TaskGraph, TaskHandle, TaskRef};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn compute(cells: &[AtomicU64], n: usize, k: usize) {
    let (i, j) = (k / n, k % n);
    let up = if i > 0 {
        cells[k - n].load(Ordering::Relaxed)
    } else {
        0
    };
    let left = if j > 0 {
        cells[k - 1].load(Ordering::Relaxed)
    } else {
        0
    };
    cells[k].store(
        up.wrapping_add(left).wrapping_add(1) % 1_000_000_007,
        Ordering::Relaxed,
    );
}

fn want(n: usize) -> u64 {
    let mut seq = vec![0u64; n * n];
    for i in 0..n {
        for j in 0..n {
            let up = if i > 0 { seq[(i - 1) * n + j] } else { 0 };
            let left = if j > 0 { seq[i * n + j - 1] } else { 0 };
            seq[i * n + j] = up.wrapping_add(left).wrapping_add(1) % 1_000_000_007;
        }
    }
    seq[n * n - 1]
}

/// True in `sa_gated` mode (read by the gate task).
fn mode_gated() -> bool {
    std::env::args().nth(1).as_deref() == Some("sa_gated")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("sa");
    let size: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);
    let iters: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let threads: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2);
    let pool = executor_core::ThreadPool::new(threads).expect("pool");
    let n = if mode.starts_with("sa") || mode == "graph" {
        size
    } else {
        1
    };
    let cells: Arc<Vec<AtomicU64>> = Arc::new((0..n * n).map(|_| AtomicU64::new(0)).collect());
    let expected = if mode.starts_with("sa") || mode == "graph" {
        want(n)
    } else {
        0
    };
    let graph = (mode == "graph").then(|| {
        let mut g = TaskGraph::builder();
        let ids: Vec<_> = (0..n * n)
            .map(|k| {
                let c = cells.clone();
                g.node("cell", move || compute(&c, n, k))
            })
            .collect();
        for k in 0..n * n {
            if k % n + 1 < n {
                g.edge(ids[k], ids[k + 1]);
            }
            if k + n < n * n {
                g.edge(ids[k], ids[k + n]);
            }
        }
        g.build().expect("DAG")
    });
    for _ in 0..iters {
        let start = Instant::now();
        let units = match mode {
            "sa" | "sa_gated" => {
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                let gate = pool
                    .submit(move || {
                        if mode_gated() {
                            // Released when the sender is dropped.
                            let _ = rx.recv();
                        }
                    })
                    .expect("pool open")
                    .task_ref();
                let mut above: Vec<TaskRef> = Vec::with_capacity(n);
                let mut last: Option<TaskHandle<()>> = None;
                for i in 0..n {
                    let mut row: Vec<TaskRef> = Vec::with_capacity(n);
                    for j in 0..n {
                        let k = i * n + j;
                        let c = cells.clone();
                        let body = move |_: Vec<()>| compute(&c, n, k);
                        let h = match (i, j) {
                            (0, 0) => pool.submit_after([gate.clone()], body),
                            (0, _) => pool.submit_after([row[j - 1].clone()], body),
                            (_, 0) => pool.submit_after([above[0].clone()], body),
                            _ => pool.submit_after([row[j - 1].clone(), above[j].clone()], body),
                        };
                        row.push(h.task_ref());
                        last = Some(h);
                    }
                    above = row;
                }
                let built = start.elapsed();
                drop(tx);
                last.expect("n > 0").get().expect("last cell");
                if mode == "sa_gated" {
                    eprintln!(
                        "  build {:.1} ns/cell, run {:.1} ns/cell",
                        built.as_nanos() as f64 / (n * n) as f64,
                        (start.elapsed() - built).as_nanos() as f64 / (n * n) as f64
                    );
                }
                assert_eq!(cells[n * n - 1].load(Ordering::Relaxed), expected);
                n * n
            }
            "graph" => {
                let g = graph.as_ref().expect("built");
                g.run(&pool).get().expect("run").expect("no failure");
                assert_eq!(cells[n * n - 1].load(Ordering::Relaxed), expected);
                n * n
            }
            "chain" => {
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                let mut h = pool
                    .submit(move || {
                        rx.recv().expect("released");
                        0u64
                    })
                    .expect("pool open");
                for _ in 0..size {
                    h = h.then(|x| x + 1);
                }
                let built = start.elapsed();
                tx.send(()).expect("head waits");
                assert_eq!(h.get().expect("chain"), size as u64);
                eprintln!(
                    "  build {:.1} ns/link, fire {:.1} ns/link",
                    built.as_nanos() as f64 / size as f64,
                    (start.elapsed() - built).as_nanos() as f64 / size as f64
                );
                size
            }
            "spawn_chain" => {
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                fn link(left: usize, tx: std::sync::mpsc::Sender<()>) {
                    if left == 0 {
                        tx.send(()).expect("receiver");
                    } else {
                        executor_core::execute(move || link(left - 1, tx)).expect("pool open");
                    }
                }
                pool.execute(move || link(size, tx)).expect("pool open");
                rx.recv().expect("chain");
                size
            }
            other => panic!("unknown mode {other}"),
        };
        println!(
            "{mode}: {:.1} ns/unit",
            start.elapsed().as_nanos() as f64 / units as f64
        );
    }
}
