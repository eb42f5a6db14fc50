//! Issue 20, items 3 and 4: task graphs, `map` with a timeout, `wait` with each
//! `ReturnWhen`.
#![allow(missing_docs)]

mod common;

use common::*;
use executor_core::ThreadPool;
use executor_futures::{
    is_cancelled, wait, wait_timeout, ExecutorService, GraphError, MapError, NodeError, ReturnWhen,
    TaskGraph, TaskHandle,
};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The wavefront: an N×N grid, each cell after its left and upper neighbours;
/// the value of every cell is checked, on several runs of one graph.
#[test]
fn wavefront_graph_computes_every_cell_on_every_run() {
    bounded(|| {
        const N: usize = 60;
        let pool = ThreadPool::new(2).unwrap();
        let cells: Arc<Vec<AtomicU64>> = Arc::new((0..N * N).map(|_| AtomicU64::new(0)).collect());
        let runs = RunLog::new(N * N);
        let mut g = TaskGraph::builder();
        let ids: Vec<_> = (0..N * N)
            .map(|k| {
                let (cells, runs) = (cells.clone(), runs.clone());
                g.node(format!("cell {k}"), move || {
                    let (i, j) = (k / N, k % N);
                    let up = if i > 0 {
                        cells[k - N].load(Ordering::Relaxed)
                    } else {
                        0
                    };
                    let left = if j > 0 {
                        cells[k - 1].load(Ordering::Relaxed)
                    } else {
                        0
                    };
                    assert!(i == 0 || up > 0, "up ran first");
                    assert!(j == 0 || left > 0, "left ran first");
                    cells[k].store((up + left + 1) % 1_000_000_007, Ordering::Relaxed);
                    runs.mark(k);
                })
            })
            .collect();
        for k in 0..N * N {
            if k % N + 1 < N {
                g.edge(ids[k], ids[k + 1]);
            }
            if k + N < N * N {
                g.edge(ids[k], ids[k + N]);
            }
        }
        let graph = g.build().unwrap();
        let mut want = vec![0u64; N * N];
        for k in 0..N * N {
            let (i, j) = (k / N, k % N);
            let up = if i > 0 { want[k - N] } else { 0 };
            let left = if j > 0 { want[k - 1] } else { 0 };
            want[k] = (up + left + 1) % 1_000_000_007;
        }
        for run in 1..=3u8 {
            cells.iter().for_each(|c| c.store(0, Ordering::Relaxed));
            graph.run(&pool).get().unwrap().unwrap();
            runs.assert_all(run);
            let got: Vec<u64> = cells.iter().map(|c| c.load(Ordering::Relaxed)).collect();
            assert_eq!(got, want);
        }
    });
}

/// A run ends once its last *sink* is accounted (`graph.rs`): on a DAG with
/// many sinks and nodes of every fan-in and fan-out, every node has run (or
/// been skipped) when the handle resolves, on every run, also when a node
/// fails midway.
#[test]
fn a_run_resolves_only_after_every_node_is_accounted() {
    bounded(|| {
        const N: usize = 2_000;
        let pool = ThreadPool::new(2).unwrap();
        let build = |fail: Option<usize>, runs: &Arc<RunLog>| {
            let mut g = TaskGraph::builder();
            let ids: Vec<_> = (0..N)
                .map(|k| {
                    let runs = runs.clone();
                    g.try_node(format!("n{k}"), move || {
                        runs.mark(k);
                        if Some(k) == fail {
                            Err("broken")
                        } else {
                            Ok(())
                        }
                    })
                })
                .collect();
            // Each node after up to three earlier ones (a fixed LCG): many
            // roots, many sinks, fan-ins and fan-outs of every size.
            let mut x: u64 = 12345;
            for k in 1..N {
                for _ in 0..(k % 4) {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    g.edge(ids[(x >> 33) as usize % k], ids[k]);
                }
            }
            g.build().unwrap()
        };
        let runs = RunLog::new(N);
        let graph = build(None, &runs);
        for run in 1..=20u8 {
            graph.run(&pool).get().unwrap().unwrap();
            runs.assert_all(run);
        }
        let runs = RunLog::new(N);
        let failed = build(Some(0), &runs).run(&pool).get().unwrap().unwrap_err();
        assert_eq!(failed.node(), "n0");
        let ran = runs.counts().iter().filter(|&&c| c == 1).count();
        assert!(runs.counts().iter().all(|&c| c <= 1), "ran at most once");
        assert!(failed.skipped() > 0, "n0 has dependents (n1)");
        assert!(ran > 1, "nodes that do not depend on n0 ran");
        assert_eq!(ran + failed.skipped(), N, "every node ran or was skipped");
    });
}

/// A linear graph of 200,000 nodes, on workers with a 256 KiB stack: each
/// node is made ready by the previous one and run next in a loop, never by
/// recursion; refused whole on a shut-down pool (its root's job is dropped
/// unrun, every other node is skipped in the same loop), it still resolves.
#[test]
fn a_long_chain_graph_runs_and_is_refused_without_stack_growth() {
    bounded(|| {
        const N: usize = 200_000;
        let ran = Arc::new(AtomicUsize::new(0));
        let mut g = TaskGraph::builder();
        let mut prev = None;
        for k in 0..N {
            let ran = ran.clone();
            let id = g.node(if k == 0 { "head" } else { "link" }, move || {
                ran.fetch_add(1, Ordering::Relaxed);
            });
            if let Some(p) = prev {
                g.edge(p, id);
            }
            prev = Some(id);
        }
        let graph = g.build().unwrap();
        let pool = ThreadPool::builder()
            .num_threads(2)
            .stack_size(256 * 1024)
            .build()
            .unwrap();
        for run in 1..=2 {
            graph.run(&pool).get().unwrap().unwrap();
            assert_eq!(ran.load(Ordering::Relaxed), run * N);
        }
        pool.shutdown();
        let failed = graph.run(&pool).get().unwrap().unwrap_err();
        assert_eq!(failed.node(), "head");
        assert!(matches!(failed.error(), NodeError::Rejected(_)), "{failed}");
        assert_eq!(failed.skipped(), N - 1);
        assert_eq!(
            ran.load(Ordering::Relaxed),
            2 * N,
            "nothing ran after the shutdown"
        );
    });
}

#[test]
fn a_failing_node_skips_its_dependents_only_and_is_named() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let ran = Arc::new(Mutex::new(Vec::new()));
        let mut g = TaskGraph::builder();
        let mut node = |name: &'static str, fail: bool| {
            let ran = ran.clone();
            g.try_node(name, move || {
                ran.lock().unwrap().push(name);
                if fail {
                    Err("broken")
                } else {
                    Ok(())
                }
            })
        };
        let fetch = node("fetch", false);
        let compile = node("compile", true);
        let link = node("link", false);
        let package = node("package", false);
        let docs = node("docs", false);
        g.edge(fetch, compile)
            .edge(compile, link)
            .edge(link, package)
            .edge(fetch, docs);
        let failed = g.build().unwrap().run(&pool).get().unwrap().unwrap_err();
        assert_eq!(failed.node(), "compile");
        assert_eq!(failed.skipped(), 2);
        assert!(matches!(failed.error(), NodeError::Failed(e) if e.to_string() == "broken"));
        let mut got = ran.lock().unwrap().clone();
        got.sort();
        assert_eq!(got, ["compile", "docs", "fetch"]);
    });
}

#[test]
fn cycles_and_dangling_edges_are_build_errors() {
    let mut g = TaskGraph::builder();
    let a = g.node("a", || ());
    let b = g.node("b", || ());
    let c = g.node("c", || ());
    let d = g.node("d", || ());
    g.edge(a, b).edge(b, c).edge(c, d).edge(d, b);
    match g.build() {
        Err(GraphError::Cycle { nodes }) => assert_eq!(nodes, ["b", "c", "d"]),
        other => panic!("{other:?}"),
    }
    let mut other = TaskGraph::builder();
    let x = other.node("x", || ());
    let mut g = TaskGraph::builder();
    let a = g.node("a", || ());
    g.edge(x, a);
    let err = g.build().unwrap_err();
    assert!(matches!(err, GraphError::DanglingEdge { .. }), "{err}");
    assert!(err.to_string().contains("another graph builder"));
}

#[test]
fn cancelling_a_run_stops_the_nodes_not_started() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let started = Gate::new();
        let release = Gate::new();
        let after = Arc::new(AtomicUsize::new(0));
        let mut g = TaskGraph::builder();
        let (s, r) = (started.clone(), release.clone());
        let first = g.node("first", move || {
            s.open();
            r.wait();
        });
        let mut prev = first;
        for i in 0..100 {
            let after = after.clone();
            let next = g.node(format!("after {i}"), move || {
                after.fetch_add(1, Ordering::SeqCst);
            });
            g.edge(prev, next);
            prev = next;
        }
        let graph = g.build().unwrap();
        let run = graph.run(&pool);
        started.wait();
        assert!(run.cancel());
        release.open();
        assert!(run.get().unwrap_err().is_cancelled());
        // The chain drains (skipping) in the background; nothing after "first" ran.
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(after.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn a_graph_on_a_shut_down_pool_reports_rejected_nodes() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let mut g = TaskGraph::builder();
        let a = g.node("a", || ());
        let b = g.node("b", || ());
        g.edge(a, b);
        let graph = g.build().unwrap();
        pool.shutdown();
        let failed = graph.run(&pool).get().unwrap().unwrap_err();
        assert_eq!(failed.node(), "a");
        assert!(matches!(failed.error(), NodeError::Rejected(_)), "{failed}");
        assert_eq!(failed.skipped(), 1, "b depends on a");
        let empty = TaskGraph::builder().build().unwrap();
        let ok = ThreadPool::new(1).unwrap();
        empty.run(&ok).get().unwrap().unwrap();
    });
}

#[test]
fn map_returns_results_in_input_order() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let out: Vec<u64> = pool
            .map(0..1000u64, |x| {
                if x % 7 == 0 {
                    std::thread::yield_now();
                }
                x * 2
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(out, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
        assert_eq!(pool.map(Vec::<u8>::new(), |x| x).unwrap().count(), 0);
        let mut with_panic = pool.map([1, 0, 2], |x: u32| 10 / x).unwrap();
        assert_eq!(with_panic.next().unwrap().unwrap(), 10);
        assert!(matches!(with_panic.next(), Some(Err(MapError::Task(e))) if e.is_panic()));
        assert_eq!(with_panic.next().unwrap().unwrap(), 5);
        pool.shutdown();
        let refused = pool.map([1, 2, 3], |x: u32| x).unwrap_err();
        assert_eq!(refused.into_inner(), [1, 2, 3]);
    });
}

#[test]
fn map_with_an_expiring_timeout_cancels_what_is_unfinished() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let finished = Arc::new(AtomicUsize::new(0));
        let f = finished.clone();
        let results: Vec<_> = pool
            .map_timeout(
                0..6u32,
                move |x| {
                    if x >= 2 {
                        while !is_cancelled() {
                            std::thread::yield_now();
                        }
                        return x;
                    }
                    f.fetch_add(1, Ordering::SeqCst);
                    x
                },
                TIMEOUT,
            )
            .unwrap()
            .collect();
        assert_eq!(results.len(), 3, "two values, then TimedOut, then the end");
        assert_eq!(*results[0].as_ref().unwrap(), 0);
        assert_eq!(*results[1].as_ref().unwrap(), 1);
        assert!(results[2].as_ref().unwrap_err().is_timed_out());
        // The spinning calls were cancelled: the pool drains.
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(finished.load(Ordering::SeqCst), 2);
    });
}

fn spin_until_cancelled() -> u8 {
    while !is_cancelled() {
        std::thread::yield_now();
    }
    0
}

#[test]
fn wait_first_completed() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let quick = pool.submit(|| 1u8).unwrap();
        let slow = pool.submit(spin_until_cancelled).unwrap();
        let w = wait_timeout(vec![slow, quick], ReturnWhen::FirstCompleted, LONG);
        assert_eq!(w.done.len(), 1);
        assert_eq!(w.not_done.len(), 1);
        w.not_done[0].cancel();
        assert_eq!(w.done.into_iter().next().unwrap().get().unwrap(), 1);
    });
}

#[test]
fn wait_first_exception_and_all_completed() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        // A panic ends the wait early.
        let bad = pool.submit(|| -> u8 { panic!("boom") }).unwrap();
        let slow = pool.submit(spin_until_cancelled).unwrap();
        let w = wait_timeout(vec![slow, bad], ReturnWhen::FirstException, LONG);
        assert_eq!((w.done.len(), w.not_done.len()), (1, 1));
        assert!(w
            .done
            .into_iter()
            .next()
            .unwrap()
            .get()
            .unwrap_err()
            .is_panic());
        w.not_done[0].cancel();
        // No panic: same as AllCompleted (a cancel is not an exception).
        let gate = block_all_workers(&pool);
        let cancelled = pool.submit(|| 1u8).unwrap();
        cancelled.cancel();
        gate.open();
        let hs: Vec<TaskHandle<u8>> = vec![
            cancelled,
            pool.submit(|| 2).unwrap(),
            pool.submit(|| 3).unwrap(),
        ];
        let w = wait_timeout(hs, ReturnWhen::FirstException, LONG);
        assert_eq!((w.done.len(), w.not_done.len()), (3, 0));
        let hs: Vec<_> = (0..50u8).map(|i| pool.submit(move || i).unwrap()).collect();
        let w = wait(hs, ReturnWhen::AllCompleted);
        assert_eq!(w.done.len(), 50);
        let values: Vec<u8> = w.done.into_iter().map(|h| h.get().unwrap()).collect();
        assert_eq!(values, (0..50).collect::<Vec<_>>(), "input order kept");
    });
}

#[test]
fn wait_times_out_and_empty_returns_at_once() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let w = wait(Vec::<TaskHandle<u8>>::new(), ReturnWhen::AllCompleted);
        assert!(w.done.is_empty() && w.not_done.is_empty());
        let slow = pool.submit(spin_until_cancelled).unwrap();
        let w = wait_timeout(
            vec![slow],
            ReturnWhen::AllCompleted,
            Duration::from_millis(20),
        );
        assert_eq!((w.done.len(), w.not_done.len()), (0, 1));
        w.not_done[0].cancel();
    });
}

#[test]
fn the_new_errors_are_send_sync_errors() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<GraphError>();
    assert_error::<executor_futures::NodeFailed>();
    assert_error::<NodeError>();
    assert_error::<MapError>();
    fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let pool = ThreadPool::new(1)?;
        let mut g = TaskGraph::builder();
        g.try_node("x", || Err("no"));
        g.build()?.run(&pool).get()??;
        Ok(())
    }
    assert_eq!(
        run().unwrap_err().to_string(),
        "graph node \"x\" failed: returned an error: no"
    );
}

/// `shutdown_now` mid-run, its handed-back node jobs dropped: the run still
/// resolves (every node accounted for), reported as refused, never a hang.
#[test]
fn a_run_cut_by_shutdown_now_resolves() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let gate = Gate::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let mut g = TaskGraph::builder();
        let started = Gate::new();
        let (g2, s2) = (gate.clone(), started.clone());
        let first = g.node("first", move || {
            s2.open();
            g2.wait();
        });
        let mut roots = Vec::new();
        for i in 0..3 {
            let ran = ran.clone();
            roots.push(g.node(format!("root {i}"), move || {
                ran.fetch_add(1, Ordering::SeqCst);
            }));
        }
        let after = g.node("after", || ());
        g.edge(first, after);
        let run = g.build().unwrap().run(&pool);
        started.wait();
        let handed_back = pool.shutdown_now();
        drop(handed_back);
        gate.open();
        match run.get() {
            Ok(Err(failed)) => {
                assert!(matches!(failed.error(), NodeError::Rejected(_)), "{failed}")
            }
            Err(e) => assert!(e.is_rejected(), "{e}"),
            Ok(Ok(())) => assert_eq!(ran.load(Ordering::SeqCst), 3, "all ran before the stop"),
        }
        assert!(pool.await_termination(LONG).is_ok());
    });
}
