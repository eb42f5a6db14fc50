//! The workloads of `compare`: for each, the line saying what it measures, its
//! unit, and one [`Entry`] per pool (or per variant of a pool) that runs one
//! iteration and returns the figure. The work itself is the library's: the
//! [`Harness`] workloads, [`collect`](crate::collect)'s collectors,
//! [`forkjoin`](crate::forkjoin)'s functions; `idle_cpu` and `memory` measure
//! through [`probe`].

use super::baseline::StdMpsc;
use super::{probe, Sizes, POOLS};
use crate::collect::{expected, SubmitCollect};
use crate::completion::{spin, CompletionOrder, Consumer, Work};
use crate::forkjoin::{fib_calls, fib_iter, fib_joins};
use crate::{
    ErasedForkJoin, ErasedHarness, FuturesPool, Harness, Ours, Rayon, StdThreadpool, Tokio,
};
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Every workload `compare` knows, in the order it runs them: the one list
/// (`--workloads` and `--help` read it). One name per line; a new workload is a
/// line here and its arm in [`plan`].
pub const WORKLOADS: &[&str] = &[
    "spawn_outside",
    "spawn_inside",
    "chained_spawn",
    "submit_collect",
    "completion",
    "completion_first",
    "fib_coarse",
    "fib_fine",
    "sum",
    "ping_pong",
    "round_trip",
    "latency",
    "blocking_mix",
    "nested_wait",
    "idle_cpu",
    "memory",
    // The timers (`super::timers`).
    "timer_schedule",
    "timer_schedule_contended",
    "timer_cancel",
    "timer_memory",
    "timer_lateness_p50",
    "timer_lateness_p99",
    "timer_lateness_max",
    "timer_idle_cpu",
    "wavefront",
    "chain",
];

/// One contestant of a workload: a pool (one of [`POOLS`]), the variant's row
/// name, and one iteration that returns the figure in the workload's unit.
pub struct Entry<'a> {
    /// The pool.
    pub pool: &'static str,
    /// The row name (the pool's name unless the pool has several variants).
    pub variant: &'static str,
    /// Runs one iteration.
    pub run: Box<dyn FnMut() -> f64 + 'a>,
}

impl std::fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("pool", &self.pool)
            .field("variant", &self.variant)
            .finish_non_exhaustive()
    }
}

/// A workload ready to run.
#[derive(Debug)]
pub struct Planned<'a> {
    /// Its name (one of [`WORKLOADS`]).
    pub name: &'static str,
    /// One line: what it measures.
    pub what: String,
    /// The unit of its figures (lower is better for all).
    pub unit: &'static str,
    /// Figures below this are raised to it before ratios are taken (0 for all
    /// but `idle_cpu`, whose near-zero figures would make ratios meaningless).
    pub floor: f64,
    /// Counted rounds.
    pub rounds: usize,
    /// Whether one uncounted warm-up round comes first.
    pub warm_up: bool,
    /// The contestants, ours first.
    pub entries: Vec<Entry<'a>>,
}

/// Every pool, built once and kept for the whole run (idle pools park).
#[derive(Debug)]
pub struct Pools {
    ours: Harness<Ours>,
    rayon: Harness<Rayon>,
    tokio: Harness<Tokio>,
    threadpool: Harness<StdThreadpool>,
    futures: Harness<FuturesPool>,
    std_mpsc: Harness<StdMpsc>,
}

impl Pools {
    /// Every pool of [`POOLS`] with `threads` workers.
    pub fn new(threads: usize) -> Pools {
        Pools {
            ours: Harness::new(threads),
            rayon: Harness::new(threads),
            tokio: Harness::new(threads),
            threadpool: Harness::new(threads),
            futures: Harness::new(threads),
            std_mpsc: Harness::new(threads),
        }
    }

    /// The harnesses in the order of [`POOLS`].
    fn harnesses(&self) -> [&dyn ErasedHarness; 6] {
        [
            &self.ours,
            &self.rayon,
            &self.tokio,
            &self.threadpool,
            &self.futures,
            &self.std_mpsc,
        ]
    }
}

/// Inputs that are costly to make, made once if their workload is selected.
#[derive(Debug, Default)]
pub struct Inputs {
    sum: Vec<u64>,
}

impl Inputs {
    /// The inputs of the `selected` workloads.
    pub fn new(selected: &[&str], sizes: &Sizes) -> Inputs {
        let mut inputs = Inputs::default();
        if selected.contains(&"sum") {
            inputs.sum = (0..sizes.sum as u64).collect();
        }
        inputs
    }
}

/// An iteration timed as a whole, in nanoseconds per element.
fn timed<'a>(elements: usize, mut f: impl FnMut() + 'a) -> Box<dyn FnMut() -> f64 + 'a> {
    Box::new(move || {
        let start = Instant::now();
        f();
        start.elapsed().as_nanos() as f64 / elements as f64
    })
}

/// One entry per pool for a [`Harness`] workload.
fn harness_entries<'a>(
    pools: &'a Pools,
    elements: usize,
    run: fn(&dyn ErasedHarness, usize),
) -> Vec<Entry<'a>> {
    pools
        .harnesses()
        .into_iter()
        .map(|h| Entry {
            pool: h.name(),
            variant: h.name(),
            run: timed(elements, move || run(h, elements)),
        })
        .collect()
}

/// Calls `$f::<P>($args)` with `P` the pool type named `$name` (one of [`POOLS`]).
macro_rules! with_pool {
    ($name:expr, $f:ident($($arg:expr),*)) => {
        match $name {
            "executor_core" => $f::<Ours>($($arg),*),
            "rayon" => $f::<Rayon>($($arg),*),
            "tokio" => $f::<Tokio>($($arg),*),
            "threadpool" => $f::<StdThreadpool>($($arg),*),
            "futures" => $f::<FuturesPool>($($arg),*),
            "std_mpsc" => $f::<StdMpsc>($($arg),*),
            other => panic!("unknown pool {other:?}"),
        }
    };
}

/// The child side of `memory` (`compare --child memory POOL THREADS JOBS`): the
/// peak resident growth in bytes of `jobs` queued jobs on `pool`.
pub fn child_memory(pool: &str, threads: usize, jobs: usize) -> Result<u64, String> {
    if let Some(timers) = pool.strip_prefix("timer:") {
        return super::timers::child_memory(timers, threads, jobs);
    }
    if !POOLS.contains(&pool) {
        return Err(format!("unknown pool {pool:?}"));
    }
    with_pool!(pool, queued_memory_of(threads, jobs))
}

fn queued_memory_of<P: crate::Peer>(threads: usize, jobs: usize) -> Result<u64, String> {
    probe::queued_memory::<P>(threads, jobs)
}

fn idle_cpu_of<P: crate::Peer>(threads: usize, sizes: &Sizes) -> f64 {
    probe::idle_cpu::<P>(threads, sizes.idle_burst, sizes.idle_window)
        .expect("/proc/self/task/*/schedstat was readable at the start")
}

/// Runs `exe --child memory POOL THREADS JOBS` and returns bytes per queued job.
pub(crate) fn memory_in_child(exe: &Path, pool: &str, threads: usize, jobs: usize) -> f64 {
    let out = Command::new(exe)
        .args([
            "--child",
            "memory",
            pool,
            &threads.to_string(),
            &jobs.to_string(),
        ])
        .output()
        .unwrap_or_else(|e| panic!("memory: cannot run {}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bytes: Option<u64> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("bytes ")?.trim().parse().ok());
    match bytes {
        Some(b) if out.status.success() => b as f64 / jobs as f64,
        _ => panic!(
            "memory: child for {pool} failed ({}): {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The pool a `submit_collect` row belongs to.
fn pool_of(variant: &str) -> &'static str {
    POOLS
        .iter()
        .copied()
        .filter(|p| variant.starts_with(p))
        .max_by_key(|p| p.len())
        .expect("every collector row starts with its pool's name")
}

/// Our rows of `completion`: `CompletionService` consumed by `take` and by its
/// iterator (our figure is the faster).
const OUR_COMPLETION_ROWS: [&str; 5] = [
    "executor_core",
    "executor_core_iter",
    "executor_core_batch",
    "executor_core_helping",
    "executor_core_batch_helping",
];

/// The pools `benches::completion` has no row for get the rayon row's mechanism:
/// every task sends its index on an `mpsc` channel, the consumer receives `N`
/// times.
fn mpsc_completion<P: crate::Peer>(pool: &P, work: &Work) -> crate::completion::Outcome {
    let start = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    for (i, &ns) in work.durations.iter().enumerate() {
        let tx = tx.clone();
        pool.submit(move || {
            spin(ns);
            // The receiver outlives every task (it receives N times).
            let _ = tx.send(i as u64);
        });
    }
    drop(tx);
    let mut first = None;
    let mut sum = 0u64;
    for _ in 0..work.len() {
        sum += rx.recv().expect("every task sends");
        first.get_or_insert_with(|| start.elapsed());
    }
    let total = start.elapsed();
    assert_eq!(
        sum,
        work.checksum(),
        "{}: every result exactly once",
        P::NAME
    );
    crate::completion::Outcome {
        total,
        first: first.unwrap_or(total),
    }
}

impl CompletionOrder for StdThreadpool {
    fn consumers(&self) -> Vec<(&'static str, Consumer<'_>)> {
        vec![("threadpool_mpsc", Box::new(|w| mpsc_completion(self, w)))]
    }
}

impl CompletionOrder for StdMpsc {
    fn consumers(&self) -> Vec<(&'static str, Consumer<'_>)> {
        vec![("std_mpsc_mpsc", Box::new(|w| mpsc_completion(self, w)))]
    }
}

/// What every workload needs from the run's configuration.
#[derive(Debug)]
pub struct Context<'a> {
    /// The pools.
    pub pools: &'a Pools,
    /// The inputs.
    pub inputs: &'a Inputs,
    /// The sizes.
    pub sizes: Sizes,
    /// Worker threads per pool.
    pub threads: usize,
    /// Counted rounds of the timed workloads.
    pub rounds: usize,
    /// This program, to run `memory`'s children; `None` leaves `memory` out.
    pub exe: Option<&'a Path>,
}

/// The workload `name` (one of [`WORKLOADS`]), ready to run; `None` when it
/// cannot run here (`memory` without `exe`, `idle_cpu` without schedstat).
pub fn plan<'a>(name: &str, cx: &Context<'a>) -> Option<Planned<'a>> {
    let s = cx.sizes;
    let pools = cx.pools;
    let n = s.jobs;
    let timed_plan = |name, what: String, unit, entries| Planned {
        name,
        what,
        unit,
        floor: 0.0,
        rounds: cx.rounds,
        warm_up: true,
        entries,
    };
    let fork_join = || -> [&'a dyn ErasedForkJoin; 2] { [&pools.ours.pool, &pools.rayon.pool] };
    Some(match name {
        "spawn_outside" => timed_plan(
            "spawn_outside",
            format!(
                "{n} empty jobs submitted from one thread outside the pool, then a wait for all"
            ),
            "ns/job",
            harness_entries(pools, n, |h, n| h.spawn_outside(n)),
        ),
        "spawn_inside" => timed_plan(
            "spawn_inside",
            format!("one job spawns {n} empty jobs from inside a worker, then a wait for all"),
            "ns/job",
            harness_entries(pools, n, |h, n| h.spawn_inside(n)),
        ),
        "wavefront" => {
            let side = super::dependencies::wavefront_side(n);
            timed_plan(
                "wavefront",
                format!("a {side}x{side} grid, each cell after its left and upper neighbours (trivial body)"),
                "ns/cell",
                super::dependencies::wavefront(&pools.ours.pool.0, &pools.rayon.pool.0, &pools.tokio.pool.0, side),
            )
        }
        "chain" => timed_plan(
            "chain",
            format!("a chain of {n} links: `then` continuations (ours) vs jobs spawning the next"),
            "ns/link",
            super::dependencies::chain(&pools.ours.pool.0, pools.harnesses(), n),
        ),
        "chained_spawn" => timed_plan(
            "chained_spawn",
            format!(
                "a chain of {} jobs, each spawned by the previous one from inside",
                n / 10
            ),
            "ns/link",
            harness_entries(pools, n / 10, |h, n| h.chained_spawn(n)),
        ),
        "submit_collect" => {
            let tasks = s.tasks;
            let want = expected(tasks);
            let rows = [
                pools.ours.pool.collectors(),
                pools.rayon.pool.collectors(),
                pools.tokio.pool.collectors(),
                pools.threadpool.pool.collectors(),
                pools.futures.pool.collectors(),
                pools.std_mpsc.pool.collectors(),
            ];
            let entries = rows
                .into_iter()
                .flatten()
                // Our rows are our handles (`submit` or `submit_all`, then
                // `TaskHandle::get`); the slot variant is the same pool without
                // them, not a product API.
                .filter(|(variant, _)| *variant != "executor_core_slot")
                .map(|(variant, c)| Entry {
                    pool: pool_of(variant),
                    variant,
                    run: timed(tasks, move || assert_eq!(c(tasks), want, "{variant}")),
                })
                .collect();
            timed_plan(
                "submit_collect",
                format!(
                    "{tasks} tasks returning a value submitted from outside, the values collected \
                     in order through handles (rayon, threadpool, std_mpsc: the faster of a \
                     one-shot slot and a channel)"
                ),
                "ns/task",
                entries,
            )
        }
        "completion" | "completion_first" => {
            let work = Work::new(s.completion_tasks, s.completion_max_us * 1000, cx.threads);
            let ideal = work.ideal().as_secs_f64();
            let first = name == "completion_first";
            let rows = [
                pools.ours.pool.consumers(),
                pools.rayon.pool.consumers(),
                pools.tokio.pool.consumers(),
                pools.threadpool.pool.consumers(),
                pools.futures.pool.consumers(),
                pools.std_mpsc.pool.consumers(),
            ];
            let entries = rows
                .into_iter()
                .flatten()
                // Our rows are our completion API; others (e.g. our pool with a
                // channel, as the rayon row) are not a product API.
                .filter(|(variant, _)| {
                    pool_of(variant) != POOLS[0] || OUR_COMPLETION_ROWS.contains(variant)
                })
                .map(|(variant, c)| {
                    let work = work.clone();
                    Entry {
                        pool: pool_of(variant),
                        variant,
                        run: Box::new(move || {
                            let outcome = c(&work);
                            if first {
                                outcome.first.as_secs_f64() * 1e6
                            } else {
                                outcome.total.as_secs_f64() / ideal
                            }
                        }),
                    }
                })
                .collect();
            let what = format!(
                "{} busy tasks of skewed durations (max·u², max {} µs) submitted from outside, \
                 results consumed in completion order (benches::completion, our rows: \
                 CompletionService)",
                work.len(),
                s.completion_max_us,
            );
            if first {
                timed_plan(
                    "completion_first",
                    format!(
                        "{what}; time from the first submission to the first result consumed \
                         (every row submits all tasks before it consumes, so this includes \
                         the whole submission)"
                    ),
                    "µs",
                    entries,
                )
            } else {
                timed_plan(
                    "completion",
                    format!("{what}; wall time over the ideal {:.1} ms", ideal * 1e3),
                    "x ideal",
                    entries,
                )
            }
        }
        "fib_coarse" => {
            let (f, cutoff) = (s.fib_coarse, s.fib_cutoff);
            let want = fib_iter(f);
            let entries = fork_join()
                .into_iter()
                .map(|p| Entry {
                    pool: p.name(),
                    variant: p.name(),
                    run: timed(fib_calls(f) as usize, move || {
                        assert_eq!(p.fib_coarse(black_box(f), cutoff), want);
                    }),
                })
                .collect();
            timed_plan(
                "fib_coarse",
                format!(
                    "fib({f}) forking with join while n >= {cutoff}, sequential below (ours and \
                     rayon only: the others have no join)"
                ),
                "ns/call",
                entries,
            )
        }
        "fib_fine" => {
            let f = s.fib_fine;
            let want = fib_iter(f);
            let entries = fork_join()
                .into_iter()
                .map(|p| Entry {
                    pool: p.name(),
                    variant: p.name(),
                    run: timed(fib_joins(f) as usize, move || {
                        assert_eq!(p.fib_fine(black_box(f)), want);
                    }),
                })
                .collect();
            timed_plan(
                "fib_fine",
                format!("fib({f}) with a join at every level: the cost of one join (ours and rayon only)"),
                "ns/join",
                entries,
            )
        }
        "sum" => {
            let input = &cx.inputs.sum[..];
            let want = input.iter().fold(0u64, |a, &x| a.wrapping_add(x));
            let entries = fork_join()
                .into_iter()
                .map(|p| Entry {
                    pool: p.name(),
                    variant: p.name(),
                    run: timed(input.len(), move || {
                        assert_eq!(p.sum(black_box(input)), want);
                    }),
                })
                .collect();
            timed_plan(
                "sum",
                format!(
                    "parallel sum of {} u64s, halved with join down to 64K elements (ours and rayon only)",
                    input.len()
                ),
                "ns/elem",
                entries,
            )
        }
        "ping_pong" => timed_plan(
            "ping_pong",
            format!(
                "a token bounced {} times between two jobs, each hop a new job spawned from inside",
                n / 20
            ),
            "ns/trip",
            harness_entries(pools, n / 20, |h, n| h.ping_pong(n)),
        ),
        "round_trip" => timed_plan(
            "round_trip",
            format!(
                "{} times: one job submitted from outside into an idle pool, and the wait for it",
                s.round_trips
            ),
            "ns/job",
            harness_entries(pools, s.round_trips, |h, n| {
                for _ in 0..n {
                    h.round_trip();
                }
            }),
        ),
        "latency" => {
            let (threads, jobs) = (cx.threads, s.latency_jobs);
            let entries = pools
                .harnesses()
                .into_iter()
                .map(|h| Entry {
                    pool: h.name(),
                    variant: h.name(),
                    run: Box::new(move || {
                        let [p50, p99, max] = h.latency(threads, jobs);
                        eprintln!(
                            "latency {}: p50 {p50:.0} µs, p99 {p99:.0} µs, max {max:.0} µs",
                            h.name()
                        );
                        p99
                    }),
                })
                .collect();
            timed_plan(
                "latency",
                format!(
                    "{jobs} jobs from outside, open loop at 70% of the pool's capacity, {} µs each \
                     and one in {} of {} ms: p99 delay from submission to start (p50 and max \
                     on stderr)",
                    crate::waiting::SHORT_JOB.as_micros(),
                    crate::waiting::LONG_EVERY,
                    crate::waiting::LONG_JOB.as_millis(),
                ),
                "µs p99",
                entries,
            )
        }
        "blocking_mix" => {
            let tasks = s.blocking_tasks;
            let mut entries: Vec<Entry<'_>> = pools
                .harnesses()
                .into_iter()
                .map(|h| Entry {
                    pool: h.name(),
                    variant: h.name(),
                    run: Box::new(move || h.blocking_mix(tasks)),
                })
                .collect();
            // A pool sized by hand for the mix: a fifth of the tasks block for
            // 1 ms and the rest compute 50 µs, so about 5/6 of the time is
            // blocked: six threads per core.
            let sized = crate::Harness::<StdThreadpool>::new(cx.threads * 6);
            entries.push(Entry {
                pool: "threadpool",
                variant: "threadpool_sized",
                run: Box::new(move || sized.blocking_mix(tasks)),
            });
            timed_plan(
                "blocking_mix",
                format!(
                    "{tasks} tasks from outside, every fifth sleeping 1 ms (in block_in_place for \
                     ours and tokio), the rest computing 50 µs: wall time (threadpool_sized: {} \
                     threads, sized by hand)",
                    cx.threads * 6
                ),
                "ms",
                entries,
            )
        }
        "nested_wait" => {
            let roots = s.nested_roots;
            let tasks = roots * crate::waiting::nested_tree_size() as usize;
            let want = tasks as u64;
            let ours: &dyn ErasedHarness = &pools.ours;
            let tokio: &dyn ErasedHarness = &pools.tokio;
            let handles_pool = &pools.ours.pool.0;
            let entries = vec![
                Entry {
                    pool: POOLS[0],
                    variant: POOLS[0],
                    run: timed(tasks, move || {
                        assert_eq!(
                            crate::waiting::nested_wait_handles(handles_pool, roots),
                            want
                        );
                    }),
                },
                Entry {
                    pool: POOLS[0],
                    variant: "executor_core_block_in_place",
                    run: timed(tasks, move || assert_eq!(ours.nested_wait(roots), want)),
                },
                Entry {
                    pool: "tokio",
                    variant: "tokio",
                    run: timed(tasks, move || assert_eq!(tokio.nested_wait(roots), want)),
                },
            ];
            timed_plan(
                "nested_wait",
                format!(
                    "{roots} trees of depth {} and fan-out {}, each task submitting its children \
                     and waiting for them (ours: task handles, or channels in block_in_place; \
                     tokio: channels in block_in_place; the others would deadlock)",
                    crate::waiting::NESTED_DEPTH,
                    crate::waiting::NESTED_FANOUT
                ),
                "ns/task",
                entries,
            )
        }
        "idle_cpu" => {
            // Measured on fresh pools: only a pool's own threads are counted.
            probe::idle_cpu::<Ours>(1, 1, std::time::Duration::ZERO)?;
            let threads = cx.threads;
            let entries = POOLS
                .iter()
                .map(|&pool| Entry {
                    pool,
                    variant: pool,
                    run: Box::new(move || with_pool!(pool, idle_cpu_of(threads, &s))),
                })
                .collect();
            Planned {
                name: "idle_cpu",
                what: format!(
                    "CPU used by a fresh pool's own threads in the {:.2} s after a burst of {} \
                     jobs from outside and {} from inside (spinning before parking, timed wake-ups)",
                    s.idle_window.as_secs_f64(),
                    s.idle_burst,
                    s.idle_burst
                ),
                unit: "CPU ms/s",
                floor: 1.0,
                rounds: cx.rounds.min(s.idle_rounds),
                warm_up: false,
                entries,
            }
        }
        "memory" => {
            let exe = cx.exe?;
            let (threads, jobs) = (cx.threads, s.memory_jobs);
            let entries = POOLS
                .iter()
                .map(|&pool| Entry {
                    pool,
                    variant: pool,
                    run: Box::new(move || memory_in_child(exe, pool, threads, jobs)),
                })
                .collect();
            Planned {
                name: "memory",
                what: format!(
                    "peak memory of {jobs} queued empty jobs: in a child process per pool, workers \
                     parked, jobs submitted from outside; VmHWM at the end minus VmRSS before"
                ),
                unit: "B/job",
                floor: 0.0,
                rounds: cx.rounds.min(s.memory_rounds),
                warm_up: false,
                entries,
            }
        }
        _ => return super::timers::plan(name, cx),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_plans_and_runs_once() {
        let sizes = Sizes::TEST;
        let pools = Pools::new(2);
        let inputs = Inputs::new(WORKLOADS, &sizes);
        let cx = Context {
            pools: &pools,
            inputs: &inputs,
            sizes,
            threads: 2,
            rounds: 1,
            exe: None,
        };
        for &name in WORKLOADS {
            let Some(mut planned) = plan(name, &cx) else {
                assert!(
                    matches!(name, "memory" | "timer_memory"),
                    "only the memory workloads need the executable"
                );
                continue;
            };
            assert_eq!(planned.entries[0].pool, POOLS[0], "{name}: ours first");
            for e in &mut planned.entries {
                let v = (e.run)();
                assert!(v.is_finite() && v >= 0.0, "{name} {}: {v}", e.variant);
            }
        }
        assert_eq!(pool_of("std_mpsc_slot"), "std_mpsc");
        assert_eq!(pool_of("threadpool_mpsc"), "threadpool");
    }

    #[test]
    fn memory_child_side() {
        assert!(child_memory("executor_core", 2, 1000).is_ok());
        assert!(child_memory("timer:executor_core", 2, 1000).is_ok());
        assert!(child_memory("timer:nope", 2, 10).is_err());
        assert!(child_memory("nope", 2, 10).is_err());
    }
}
