//! A build system's DAG of tasks, run on the pool with explicit dependencies
//! instead of threads waiting on each other, twice: as a `TaskGraph` (built
//! once, run as a whole, reusable) and as handles with `submit_after` /
//! `then` / `all_of`. Each step's start and end are printed against the
//! run's start, with the serial sum and the critical path.
//!
//! Run with `cargo run -p examples --example dependencies`.

use executor_core::ThreadPool;
use executor_futures::{all_of, ExecutorService, TaskGraph, TaskRef};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Steps: (name, milliseconds of work, the steps it needs).
const STEPS: &[(&str, u64, &[&str])] = &[
    ("fetch", 30, &[]),
    ("codegen", 20, &["fetch"]),
    ("compile util.c", 40, &["fetch"]),
    ("compile parse.c", 60, &["codegen"]),
    ("compile main.c", 50, &["codegen"]),
    (
        "link",
        30,
        &["compile util.c", "compile parse.c", "compile main.c"],
    ),
    ("test", 40, &["link"]),
    ("docs", 35, &["codegen"]),
    ("package", 15, &["test", "docs"]),
];

type Timeline = Arc<Mutex<Vec<(&'static str, Duration, Duration)>>>;

/// The body of a step: works for `ms`, recording when it ran.
fn step(
    name: &'static str,
    ms: u64,
    timeline: &Timeline,
    origin: &Arc<Mutex<Instant>>,
) -> impl Fn() + Send + Sync + 'static {
    let (timeline, origin) = (timeline.clone(), origin.clone());
    move || {
        let origin = *origin.lock().unwrap();
        let start = origin.elapsed();
        std::thread::sleep(Duration::from_millis(ms));
        timeline
            .lock()
            .unwrap()
            .push((name, start, origin.elapsed()));
    }
}

fn critical_path() -> u64 {
    let mut finish: HashMap<&str, u64> = HashMap::new();
    for &(name, ms, deps) in STEPS {
        let ready = deps.iter().map(|d| finish[d]).max().unwrap_or(0);
        finish.insert(name, ready + ms);
    }
    finish.values().copied().max().unwrap_or(0)
}

fn print(title: &str, timeline: &Timeline, total: Duration) {
    let mut rows = timeline.lock().unwrap().clone();
    rows.sort_by_key(|&(_, start, _)| start);
    println!(
        "{title}: {total:?} (serial {} ms, critical path {} ms)",
        STEPS.iter().map(|s| s.1).sum::<u64>(),
        critical_path()
    );
    for (name, start, end) in rows {
        let bar = " ".repeat((start.as_millis() / 5) as usize)
            + &"#".repeat(((end - start).as_millis() / 5).max(1) as usize);
        println!(
            "  {name:<16} {:>4}–{:<4} ms {bar}",
            start.as_millis(),
            end.as_millis()
        );
    }
}

fn main() {
    let pool = ThreadPool::new(4).unwrap();
    let timeline: Timeline = Arc::default();
    let origin = Arc::new(Mutex::new(Instant::now()));

    // 1. As a graph: nodes and edges, validated once (a cycle would be an error
    //    here), then run as a whole, twice.
    let mut g = TaskGraph::builder();
    let mut ids = HashMap::new();
    for &(name, ms, _) in STEPS {
        ids.insert(name, g.node(name, step(name, ms, &timeline, &origin)));
    }
    for &(name, _, deps) in STEPS {
        for dep in deps {
            g.edge(ids[dep], ids[name]);
        }
    }
    let graph = g.build().expect("the build is a DAG");
    for run in 1..=2 {
        timeline.lock().unwrap().clear();
        *origin.lock().unwrap() = Instant::now();
        let start = Instant::now();
        graph.run(&pool).get().expect("run").expect("no step fails");
        print(&format!("graph, run {run}"), &timeline, start.elapsed());
    }

    // 2. The same with handles: each step submitted after its dependencies.
    timeline.lock().unwrap().clear();
    *origin.lock().unwrap() = Instant::now();
    let start = Instant::now();
    let mut refs: HashMap<&str, TaskRef> = HashMap::new();
    let mut last = Vec::new();
    for &(name, ms, deps) in STEPS {
        let body = step(name, ms, &timeline, &origin);
        let after: Vec<TaskRef> = deps.iter().map(|d| refs[d].clone()).collect();
        let handle = pool
            .submit_after(after, move |_| body())
            .then(move |()| name);
        refs.insert(name, handle.task_ref());
        last.push(handle);
    }
    let finished = all_of(last).get().expect("every step");
    print("submit_after", &timeline, start.elapsed());
    println!("finished: {}", finished.join(", "));
    pool.close();
}
