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
//! Modes: `wave N` / `chain N` time compare's loops (the same functions,
//! `benches::compare::dependencies`; the builder thread's own share is printed
//! too). `gated_wave N` / `gated_chain N` (for callgrind,
//! deterministic): every cell is registered behind a gated head on a
//! 1-worker pool, then the head is released and the last handle waited for
//! (a continuation fired after `shutdown` is refused, so the pool is drained
//! only then): the builder's instructions per cell are the main thread's,
//! the firing's the worker's (which may include a little idle spinning at
//! the end). `ROUNDS=3 ... gated_chain N` builds and runs three chains, the
//! later ones from memory the earlier ones freed (as in compare's rounds).
//! `ready_wave N` builds the grid when every dependency is done already (each
//! cell submitted from outside at registration, as most are in compare's
//! run), run to the end before the next cell is built (`wait` per cell).
//!
//! Added for the wavefront goal (2026-12-08): `graph N` times compare's graph
//! row (`WORKERS`, default 2; under callgrind with `WORKERS=1` the worker's
//! instructions per cell); `counters N` the hand-written scheme on our pool
//! (a counter per cell, a ready cell spawned with `executor_core::execute`);
//! `wave_gated N` times `wave`'s builder with every cell registered behind
//! a gated head; `submit_floor N` the same loop with a plain `submit` and no
//! dependency (the floor of a ready `submit_after`); `ready_join N` (for
//! callgrind) the `submit_after` loop on two dependencies done long ago.

use benches::compare::dependencies::{submit_after_grid as build, then_chain, Grid};
use benches::probe::{report, rounds};
use executor_core::ThreadPool;
use executor_futures::{Deps, ExecutorService, TaskHandle, TaskRef};
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "wave".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(300);
    match mode.as_str() {
        "wave" => wave(n, false),
        "chain" => chain(n),
        "gated_wave" => gated_wave(n),
        "gated_chain" => gated_chain(n),
        "ready_wave" => ready_wave(n),
        "graph" => graph(n),
        "wave_gated" => wave(n, true),
        "submit_floor" => submit_floor(n),
        "ready_join" => ready_join(n),
        "counters" => counters(n),
        other => panic!("unknown mode {other}"),
    }
}

/// Times compare's `submit_after` loop. `gated`: every cell is registered
/// behind a gated head before any runs (the builder's cost when no worker
/// touches the cells it registers on).
fn wave(n: usize, gated: bool) {
    let pool = ThreadPool::new(workers()).expect("pool");
    let grid = Grid::new(n);
    let (mut total, mut builder) = (Vec::new(), Vec::new());
    for _ in 0..rounds() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let head = gated.then(|| {
            pool.submit(move || rx.recv().expect("released"))
                .expect("pool open")
        });
        let start = Instant::now();
        let last = build(&pool, &grid, head.as_ref().map(|h| h.task_ref()));
        builder.push(per(start, n * n));
        if gated {
            tx.send(()).expect("head waits");
        }
        last.get().expect("last cell");
        total.push(per(start, n * n));
    }
    let name = if gated { "wave_gated" } else { "wave" };
    report(&format!("{name} {n}: total"), "ns/cell", total);
    report(&format!("{name} {n}: builder"), "ns/cell", builder);
}

/// `wave`'s loop shape without the dependencies' handles: `n`×`n` calls of
/// `submit(k)`, each handle's `TaskRef` kept for two rows, the previous
/// handle dropped; returns the time per call and the last handle.
fn flat_loop(n: usize, mut submit: impl FnMut(usize) -> TaskHandle<()>) -> (f64, TaskHandle<()>) {
    let start = Instant::now();
    let mut above: Vec<TaskRef> = Vec::with_capacity(n);
    let mut last = None;
    for i in 0..n {
        let mut row: Vec<TaskRef> = Vec::with_capacity(n);
        for j in 0..n {
            let handle = submit(i * n + j);
            row.push(handle.task_ref());
            last = Some(handle);
        }
        above = row;
    }
    drop(above);
    (per(start, n * n), last.expect("n > 0"))
}

/// The floor of `wave`'s builder when every dependency is done already: the
/// same loop with a plain `submit` and no dependency. A `submit_after` whose
/// dependencies are done is a `submit` plus the look at them.
fn submit_floor(n: usize) {
    let pool = ThreadPool::new(workers()).expect("pool");
    let grid = Grid::new(n);
    let mut builder = Vec::new();
    for _ in 0..rounds() {
        let (t, last) = flat_loop(n, |k| {
            let g = grid.clone();
            pool.submit(move || g.compute(k)).expect("pool open")
        });
        builder.push(t);
        last.get().expect("last");
    }
    report(&format!("submit_floor {n}: builder"), "ns/cell", builder);
}

/// For callgrind: `n`×`n` `submit_after` calls on two dependencies done
/// long ago (the ready path of `wave`'s builder, deterministic), in the loop
/// of `submit_floor`; compare the two under callgrind.
fn ready_join(n: usize) {
    let pool = ThreadPool::new(workers()).expect("pool");
    let grid = Grid::new(n);
    let a = pool.submit(|| ()).expect("pool open").task_ref();
    let b = pool.submit(|| ()).expect("pool open").task_ref();
    a.wait().expect("a");
    b.wait().expect("b");
    for _ in 0..rounds() {
        let (_, last) = flat_loop(n, |k| {
            let g = grid.clone();
            pool.submit_after([a.clone(), b.clone()], move |_| g.compute(k))
        });
        last.get().expect("last");
    }
    println!("ready_join {n}: ok");
}

fn chain(links: usize) {
    let pool = ThreadPool::new(2).expect("pool");
    let (mut total, mut builder) = (Vec::new(), Vec::new());
    for _ in 0..rounds() {
        let start = Instant::now();
        let (release, last) = then_chain(&pool, links);
        builder.push(per(start, links));
        release.send(()).expect("head waits");
        assert_eq!(last.get().expect("chain"), links as u64);
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
            let left = (j > 0).then(|| row[j - 1].clone());
            let up = (i > 0).then(|| above[j].clone());
            // Arrays, as compare's loop gives them (no `Vec`).
            let deps: Deps<()> = match (left, up) {
                (Some(l), Some(u)) => [l, u].into(),
                (Some(x), None) | (None, Some(x)) => [x].into(),
                (None, None) => Vec::<TaskRef>::new().into(),
            };
            let r = pool.submit_after(deps, move |_| g.compute(k)).task_ref();
            r.wait().expect("cell");
            row.push(r);
        }
        above = row;
    }
    drain(&pool);
    grid.check();
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
        let (release, last) = then_chain(&pool, links);
        release.send(()).expect("head waits");
        assert_eq!(last.get().expect("chain"), links as u64);
    }
    drain(&pool);
    println!("gated_chain {links} x {rounds}: ok");
}

/// Workers of the timed graph and counter modes: `WORKERS`, default 2.
fn workers() -> usize {
    std::env::var("WORKERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
}

/// compare's graph row: the grid as a `TaskGraph`, built once, run per round
/// (under callgrind with `WORKERS=1`: the worker's instructions per cell).
fn graph(n: usize) {
    let pool = ThreadPool::new(workers()).expect("pool");
    let grid = Grid::new(n);
    let graph = benches::compare::dependencies::grid_graph(&grid);
    let mut total = Vec::new();
    for _ in 0..rounds() {
        let start = Instant::now();
        graph.run(&pool).get().expect("run").expect("no node fails");
        total.push(per(start, n * n));
        grid.check();
    }
    report(&format!("graph {n}: total"), "ns/cell", total);
}

/// The hand-written scheme on our pool: an atomic counter per cell, and a
/// ready cell spawned from inside (`executor_core::execute`), as compare's
/// rayon row does: the floor the graph API is held against.
fn counters(n: usize) {
    use std::sync::atomic::{AtomicU32, Ordering};
    struct Cx {
        grid: std::sync::Arc<Grid>,
        counters: Vec<AtomicU32>,
        n: usize,
        done: benches::Countdown,
    }
    fn cell(cx: &'static Cx, k: usize) {
        cx.grid.compute(k);
        let n = cx.n;
        if k % n + 1 < n && cx.counters[k + 1].fetch_sub(1, Ordering::AcqRel) == 1 {
            executor_core::execute(move || cell(cx, k + 1)).expect("pool open");
        }
        if k + n < n * n && cx.counters[k + n].fetch_sub(1, Ordering::AcqRel) == 1 {
            executor_core::execute(move || cell(cx, k + n)).expect("pool open");
        }
        if k == n * n - 1 {
            cx.done.done();
        }
    }
    let pool = ThreadPool::new(workers()).expect("pool");
    let cx: &'static Cx = Box::leak(Box::new(Cx {
        grid: Grid::new(n),
        counters: (0..n * n).map(|_| AtomicU32::new(0)).collect(),
        n,
        done: benches::Countdown::new(),
    }));
    let mut total = Vec::new();
    for _ in 0..rounds() {
        let start = Instant::now();
        for (k, c) in cx.counters.iter().enumerate() {
            c.store(u32::from(k >= n) + u32::from(k % n > 0), Ordering::Relaxed);
        }
        cx.done.arm(1);
        pool.execute(move || cell(cx, 0)).expect("pool open");
        cx.done.wait();
        total.push(per(start, n * n));
        cx.grid.check();
    }
    report(&format!("counters {n}: total"), "ns/cell", total);
}

fn per(start: Instant, n: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / n as f64
}

fn drain(pool: &ThreadPool) {
    pool.shutdown();
    pool.await_termination(Duration::from_secs(60))
        .expect("terminated");
}
