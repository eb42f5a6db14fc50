//! Probes of the dependency rows (issue 20): compare's `wavefront`
//! (`submit_after`) and `chain` (`then`) workloads, timed or under callgrind.
//!
//! ```text
//! cargo build --release -p benches --bin hdeps_probe
//! target/release/hdeps_probe wave 300          # timed, 2 workers (ROUNDS, default 20)
//! target/release/hdeps_probe chain 1000000     # timed, 2 workers
//! valgrind --tool=callgrind --separate-threads=yes target/release/hdeps_probe gated_wave 100
//! valgrind --tool=callgrind --separate-threads=yes target/release/hdeps_probe gated_chain 100000
//! ```
//!
//! Modes: `wave N` / `chain N` time compare's loops (the builder thread's own
//! share is printed too). `gated_wave N` / `gated_chain N` (for callgrind,
//! deterministic): every cell is registered behind a gated head on a
//! 1-worker pool, then the head is released and the last handle waited for
//! (a continuation fired after `shutdown` is refused, so the pool is drained
//! only then): the builder's instructions per cell are the main thread's,
//! the firing's the worker's (which may include a little idle spinning at
//! the end).
//! `ready_wave N` builds the grid when every dependency is done already (each
//! cell submitted from outside at registration, as most are in compare's
//! run), run to the end before the next cell is built (`wait` per cell).

use executor_core::ThreadPool;
use executor_futures::{ExecutorService, TaskHandle, TaskRef};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "wave".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(300);
    match mode.as_str() {
        "wave" => wave(n),
        "chain" => chain(n),
        "gated_wave" => gated_wave(n),
        "gated_chain" => gated_chain(n),
        "ready_wave" => ready_wave(n),
        other => panic!("unknown mode {other}"),
    }
}

/// The grid of compare's wavefront (`dependencies.rs`), reduced to what the
/// probes need: each cell adds its left and upper neighbours.
struct Grid {
    n: usize,
    cells: Vec<AtomicU64>,
}

impl Grid {
    fn new(n: usize) -> Arc<Grid> {
        Arc::new(Grid {
            n,
            cells: (0..n * n).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    fn compute(&self, k: usize) {
        let (i, j) = (k / self.n, k % self.n);
        let up = if i > 0 {
            self.cells[k - self.n].load(Ordering::Relaxed)
        } else {
            0
        };
        let left = if j > 0 {
            self.cells[k - 1].load(Ordering::Relaxed)
        } else {
            0
        };
        self.cells[k].store(
            up.wrapping_add(left).wrapping_add(1) % 1_000_000_007,
            Ordering::Relaxed,
        );
    }
}

/// Builds the grid with `submit_after` (compare's loop); `first` is an extra
/// dependency of cell (0, 0). Returns the last cell's handle.
fn build(pool: &ThreadPool, grid: &Arc<Grid>, first: Option<TaskRef>) -> TaskHandle<()> {
    let n = grid.n;
    let mut above: Vec<TaskRef> = Vec::with_capacity(n);
    let mut last: Option<TaskHandle<()>> = None;
    for i in 0..n {
        let mut row: Vec<TaskRef> = Vec::with_capacity(n);
        for j in 0..n {
            let k = i * n + j;
            let g = grid.clone();
            let body = move |_: Vec<()>| g.compute(k);
            let handle = match (i, j) {
                (0, 0) => match &first {
                    Some(head) => pool.submit_after([head.clone()], body),
                    None => pool.submit_after(Vec::<TaskRef>::new(), body),
                },
                (0, _) => pool.submit_after([row[j - 1].clone()], body),
                (_, 0) => pool.submit_after([above[0].clone()], body),
                _ => pool.submit_after([row[j - 1].clone(), above[j].clone()], body),
            };
            row.push(handle.task_ref());
            last = Some(handle);
        }
        above = row;
    }
    last.expect("n > 0")
}

fn wave(n: usize) {
    let pool = ThreadPool::new(2).expect("pool");
    let grid = Grid::new(n);
    let (mut total, mut builder) = (Vec::new(), Vec::new());
    for _ in 0..rounds() {
        let start = Instant::now();
        let last = build(&pool, &grid, None);
        builder.push(per(start, n * n));
        last.get().expect("last cell");
        total.push(per(start, n * n));
    }
    report(&format!("wave {n}: total"), "ns/cell", total);
    report(&format!("wave {n}: builder"), "ns/cell", builder);
}

fn chain(links: usize) {
    let pool = ThreadPool::new(2).expect("pool");
    let (mut total, mut builder) = (Vec::new(), Vec::new());
    for _ in 0..rounds() {
        let start = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let mut h = pool
            .submit(move || {
                rx.recv().expect("released");
                0u64
            })
            .expect("pool open");
        for _ in 0..links {
            h = h.then(|x| x + 1);
        }
        builder.push(per(start, links));
        tx.send(()).expect("head waits");
        assert_eq!(h.get().expect("chain"), links as u64);
        total.push(per(start, links));
    }
    report(&format!("chain {links}: total"), "ns/link", total);
    report(&format!("chain {links}: builder"), "ns/link", builder);
}

fn gated_wave(n: usize) {
    let pool = ThreadPool::new(1).expect("pool");
    let grid = Grid::new(n);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let head = pool
        .submit(move || rx.recv().expect("released"))
        .expect("pool open");
    let last = build(&pool, &grid, Some(head.task_ref()));
    tx.send(()).expect("head waits");
    last.get().expect("last cell");
    drain(&pool);
    println!("gated_wave {n}: ok");
}

fn ready_wave(n: usize) {
    let pool = ThreadPool::new(1).expect("pool");
    let grid = Grid::new(n);
    let mut above: Vec<TaskRef> = Vec::with_capacity(n);
    for i in 0..n {
        let mut row: Vec<TaskRef> = Vec::with_capacity(n);
        for j in 0..n {
            let k = i * n + j;
            let g = grid.clone();
            let body = move |_: Vec<()>| g.compute(k);
            let handle = match (i, j) {
                (0, 0) => pool.submit_after(Vec::<TaskRef>::new(), body),
                (0, _) => pool.submit_after([row[j - 1].clone()], body),
                (_, 0) => pool.submit_after([above[0].clone()], body),
                _ => pool.submit_after([row[j - 1].clone(), above[j].clone()], body),
            };
            let r = handle.task_ref();
            r.wait().expect("cell");
            row.push(r);
        }
        above = row;
    }
    drain(&pool);
    println!("ready_wave {n}: ok");
}

fn gated_chain(links: usize) {
    let pool = ThreadPool::new(1).expect("pool");
    // `ROUNDS` chains (default 1) one after the other: from the second on,
    // the allocator serves the cells from what the previous chain freed, as
    // in compare's rounds.
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    for _ in 0..rounds {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let mut h = pool
            .submit(move || {
                rx.recv().expect("released");
                0u64
            })
            .expect("pool open");
        for _ in 0..links {
            h = h.then(|x| x + 1);
        }
        tx.send(()).expect("head waits");
        assert_eq!(h.get().expect("chain"), links as u64);
    }
    drain(&pool);
    println!("gated_chain {links} x {rounds}: ok");
}

fn per(start: Instant, n: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / n as f64
}

/// The timed modes' rounds: `ROUNDS` from the environment, default 20.
fn rounds() -> usize {
    std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

/// Sorts `times` and prints its median and range after `what`.
fn report(what: &str, unit: &str, mut times: Vec<f64>) {
    times.sort_by(f64::total_cmp);
    println!(
        "{what}: median {:.1} {unit} ({:.1}-{:.1})",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
}

fn drain(pool: &ThreadPool) {
    pool.shutdown();
    pool.await_termination(Duration::from_secs(60))
        .expect("terminated");
}
