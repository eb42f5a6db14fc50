//! The dependency workloads of `compare` (issue 20): `wavefront` and `chain`.
//!
//! * **wavefront**: an N×N grid, each cell after its left and upper neighbours,
//!   with a trivial body (`cell = left + up + 1`, wrapping, into an atomic;
//!   the order comes from the dependencies, so `Relaxed` suffices). The last
//!   cell's value is checked every iteration. Ours through the graph API
//!   ([`TaskGraph`], built once, run per iteration) and through
//!   `submit_after` (every cell a task with two [`TaskRef`] dependencies,
//!   created from outside); rayon with hand-written atomic dependency counters
//!   and `Scope::spawn`; tokio with every cell a task awaiting its neighbours'
//!   `JoinHandle`s (shared, since each is awaited by two cells).
//! * **chain**: a linear chain of `then` continuations (ours) against a chain of
//!   spawns, each job spawning the next (every other pool, as `chained_spawn`).
//!   Ours is built behind a gated head, then released: the figure covers
//!   building and firing, per link.

use super::workloads::Entry;
use crate::ErasedHarness;
use executor_futures::{ExecutorService, TaskGraph, TaskHandle, TaskRef};
use futures::FutureExt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The grid side for a problem size (`Sizes::jobs`): 300 for the full run.
pub fn wavefront_side(jobs: usize) -> usize {
    match jobs {
        j if j >= 1_000_000 => 300,
        j if j >= 100_000 => 100,
        _ => 20,
    }
}

/// The wavefront's grid: its cells, row-major, and the expected value of the
/// last one (also used by `benches/src/bin/hdeps_probe.rs`).
#[derive(Debug)]
pub struct Grid {
    n: usize,
    cells: Vec<AtomicU64>,
    want: u64,
}

impl Grid {
    /// An `n`×`n` grid of zeros, with the last cell's expected value.
    pub fn new(n: usize) -> Arc<Grid> {
        let mut seq = vec![0u64; n * n];
        for i in 0..n {
            for j in 0..n {
                seq[i * n + j] = Self::value(&seq, n, i, j);
            }
        }
        Arc::new(Grid {
            n,
            cells: (0..n * n).map(|_| AtomicU64::new(0)).collect(),
            want: seq[n * n - 1],
        })
    }

    fn value(cells: &[u64], n: usize, i: usize, j: usize) -> u64 {
        let up = if i > 0 { cells[(i - 1) * n + j] } else { 0 };
        let left = if j > 0 { cells[i * n + j - 1] } else { 0 };
        up.wrapping_add(left).wrapping_add(1) % 1_000_000_007
    }

    /// The body of cell `k`.
    #[inline]
    pub fn compute(&self, k: usize) {
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

    /// Asserts that the last cell holds its expected value.
    pub fn check(&self) {
        assert_eq!(
            self.cells[self.n * self.n - 1].load(Ordering::Relaxed),
            self.want,
            "wavefront: wrong last cell"
        );
    }
}

fn per_cell(n: usize, start: Instant) -> f64 {
    start.elapsed().as_nanos() as f64 / (n * n) as f64
}

/// The grid as a [`TaskGraph`]: a node per cell, edges to its right and
/// lower neighbours (also used by `benches/src/bin/hdeps_probe.rs`).
pub fn grid_graph(grid: &Arc<Grid>) -> TaskGraph {
    let n = grid.n;
    let mut g = TaskGraph::builder();
    let ids: Vec<_> = (0..n * n)
        .map(|k| {
            let grid = grid.clone();
            g.node(format!("cell {k}"), move || grid.compute(k))
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
    g.build().expect("a grid is a DAG")
}

/// Our graph API: the grid as a [`TaskGraph`], built once.
fn ours_graph(pool: &executor_core::ThreadPool, n: usize) -> Box<dyn FnMut() -> f64 + '_> {
    let grid = Grid::new(n);
    let graph = grid_graph(&grid);
    Box::new(move || {
        let start = Instant::now();
        graph
            .run(pool)
            .get()
            .expect("graph run")
            .expect("no node fails");
        let t = per_cell(n, start);
        grid.check();
        t
    })
}

/// Our `submit_after`: every cell a task after its left and upper neighbours.
fn ours_submit_after(pool: &executor_core::ThreadPool, n: usize) -> Box<dyn FnMut() -> f64 + '_> {
    let grid = Grid::new(n);
    Box::new(move || {
        let start = Instant::now();
        submit_after_grid(pool, &grid, None)
            .get()
            .expect("last cell");
        let t = per_cell(n, start);
        grid.check();
        t
    })
}

/// Builds `grid` with `submit_after` from the calling thread, as compare's
/// `executor_core_submit_after` row does: every cell a task after its left
/// and upper neighbours, given as [`TaskRef`]s. `first` is an extra
/// dependency of cell (0, 0) (a gate, for the callgrind probe). Returns the
/// last cell's handle.
pub fn submit_after_grid(
    pool: &executor_core::ThreadPool,
    grid: &Arc<Grid>,
    first: Option<TaskRef>,
) -> TaskHandle<()> {
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
                    Some(gate) => pool.submit_after([gate.clone()], body),
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

/// rayon: hand-written atomic dependency counters and `Scope::spawn`.
fn rayon_counters(pool: &rayon::ThreadPool, n: usize) -> Box<dyn FnMut() -> f64 + '_> {
    let grid = Grid::new(n);
    let counters: Vec<AtomicU32> = (0..n * n).map(|_| AtomicU32::new(0)).collect();
    fn cell<'s>(s: &rayon::Scope<'s>, grid: &'s Grid, counters: &'s [AtomicU32], k: usize) {
        grid.compute(k);
        let n = grid.n;
        if k % n + 1 < n && counters[k + 1].fetch_sub(1, Ordering::AcqRel) == 1 {
            s.spawn(move |s| cell(s, grid, counters, k + 1));
        }
        if k + n < n * n && counters[k + n].fetch_sub(1, Ordering::AcqRel) == 1 {
            s.spawn(move |s| cell(s, grid, counters, k + n));
        }
    }
    Box::new(move || {
        let start = Instant::now();
        for (k, c) in counters.iter().enumerate() {
            let (i, j) = (k / n, k % n);
            c.store(u32::from(i > 0) + u32::from(j > 0), Ordering::Relaxed);
        }
        let (g, c) = (&*grid, &counters[..]);
        pool.scope(|s| s.spawn(move |s| cell(s, g, c, 0)));
        let t = per_cell(n, start);
        grid.check();
        t
    })
}

/// tokio: every cell a task awaiting its neighbours' (shared) `JoinHandle`s.
fn tokio_join_handles(rt: &tokio::runtime::Runtime, n: usize) -> Box<dyn FnMut() -> f64 + '_> {
    type Shared = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;
    let grid = Grid::new(n);
    Box::new(move || {
        let start = Instant::now();
        let mut above: Vec<Shared> = Vec::with_capacity(n);
        let mut last = None;
        for i in 0..n {
            let mut row: Vec<Shared> = Vec::with_capacity(n);
            for j in 0..n {
                let k = i * n + j;
                let g = grid.clone();
                let up = (i > 0).then(|| above[j].clone());
                let left = (j > 0).then(|| row[j - 1].clone());
                let handle = rt.spawn(async move {
                    if let Some(up) = up {
                        up.await;
                    }
                    if let Some(left) = left {
                        left.await;
                    }
                    g.compute(k);
                });
                let shared = handle.map(|r| r.expect("cell task")).boxed().shared();
                row.push(shared.clone());
                last = Some(shared);
            }
            above = row;
        }
        futures::executor::block_on(last.expect("n > 0"));
        let t = per_cell(n, start);
        grid.check();
        t
    })
}

/// The `wavefront` entries, ours first.
pub fn wavefront<'a>(
    ours: &'a executor_core::ThreadPool,
    rayon: &'a rayon::ThreadPool,
    tokio: &'a tokio::runtime::Runtime,
    n: usize,
) -> Vec<Entry<'a>> {
    vec![
        Entry {
            pool: "executor_core",
            variant: "executor_core_graph",
            run: ours_graph(ours, n),
        },
        Entry {
            pool: "executor_core",
            variant: "executor_core_submit_after",
            run: ours_submit_after(ours, n),
        },
        Entry {
            pool: "rayon",
            variant: "rayon_counters",
            run: rayon_counters(rayon, n),
        },
        Entry {
            pool: "tokio",
            variant: "tokio_join_handles",
            run: tokio_join_handles(tokio, n),
        },
    ]
}

/// Ours: `links` `then` continuations behind a gated head, then released.
fn ours_then_chain(pool: &executor_core::ThreadPool, links: usize) -> Box<dyn FnMut() -> f64 + '_> {
    Box::new(move || {
        let start = Instant::now();
        let (release, last) = then_chain(pool, links);
        release.send(()).expect("head waits");
        assert_eq!(last.get().expect("chain"), links as u64);
        start.elapsed().as_nanos() as f64 / links as f64
    })
}

/// Builds compare's `then` chain: a head task that waits for the returned
/// sender, then `links` continuations each adding one; returns the sender
/// that releases the head and the last link's handle (its value is `links`).
/// Also used by `benches/src/bin/hdeps_probe.rs`.
pub fn then_chain(
    pool: &executor_core::ThreadPool,
    links: usize,
) -> (std::sync::mpsc::Sender<()>, TaskHandle<u64>) {
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
    (tx, h)
}

/// The `chain` entries: ours (a `then` chain), then every other pool's chained
/// spawn (`harness`, in `POOLS` order, ours left out).
pub fn chain<'a>(
    ours: &'a executor_core::ThreadPool,
    harnesses: impl IntoIterator<Item = &'a dyn ErasedHarness>,
    links: usize,
) -> Vec<Entry<'a>> {
    let mut entries = vec![Entry {
        pool: "executor_core",
        variant: "executor_core_then",
        run: ours_then_chain(ours, links),
    }];
    entries.extend(
        harnesses
            .into_iter()
            .filter(|h| h.name() != "executor_core")
            .map(|h| Entry {
                pool: h.name(),
                variant: h.name(),
                run: Box::new(move || {
                    let start = Instant::now();
                    h.chained_spawn(links);
                    start.elapsed().as_nanos() as f64 / links as f64
                }) as Box<dyn FnMut() -> f64 + 'a>,
            }),
    );
    entries
}
