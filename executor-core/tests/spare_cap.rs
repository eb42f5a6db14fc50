//! Issue 17, the spare cap: at `max_spares` a blocked worker is not
//! compensated. A pool whose every worker then waits for work queued behind
//! them stalls; it must not do so silently, its waits must still run nothing
//! unrelated, and it must resume when one wait ends (an event from outside
//! the pool) or stop cleanly with `shutdown_now`. Its own test binary: the
//! capturing `tracing` subscriber is global.

use executor_core::{block_in_place, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use testkit::{bounded, captured_events, until, Gate, RunLog, SHORT};

/// The `ERROR` events of pool `name` that report the cap.
fn cap_reports(name: &str) -> usize {
    captured_events(|e| {
        e.level == tracing::Level::ERROR
            && e.values("pool") == [name]
            && e.values("message")
                .iter()
                .any(|m| m.contains("spare cap reached"))
    })
    .len()
}

/// The user's scenario: a 2-thread pool capped at one spare, three tasks
/// that each wait (in `block_in_place`) on a gate that a fourth task, queued
/// behind them, opens. Both workers and the spare block; the fourth task
/// cannot start: the pool stalls. Not silently: one `ERROR` report for the
/// episode (not one per refusal), and `Stats` shows every worker blocked
/// with work queued. The waits run nothing unrelated meanwhile (the fourth
/// task has not started). When the gate opens from outside the pool (what an
/// I/O completing would do), the waits end and everything runs: exact counts.
#[test]
fn at_the_cap_a_stalled_pool_is_reported_and_resumes_when_a_wait_ends() {
    bounded(|| {
        captured_events(|_| false); // the subscriber, before anything logs
        let name = "spare-cap-stall";
        let pool = ThreadPool::builder()
            .name(name)
            .num_threads(2)
            .max_spares(1)
            .spare_keep_alive(Duration::from_millis(20))
            .build()
            .unwrap();
        let gate = Gate::new();
        let log = RunLog::new(4);
        let started = Arc::new(AtomicUsize::new(0));
        for i in 0..3 {
            let (gate, log, started) = (gate.clone(), log.clone(), started.clone());
            pool.execute(move || {
                started.fetch_add(1, Ordering::SeqCst);
                block_in_place(|| gate.wait());
                log.mark(i);
            })
            .unwrap();
        }
        let (g, l, s) = (gate.clone(), log.clone(), started.clone());
        pool.execute(move || {
            s.fetch_add(1, Ordering::SeqCst);
            g.open();
            l.mark(3);
        })
        .unwrap();
        until(
            || {
                let s = pool.stats();
                s.spares == 1 && s.blocked == 3
            },
            "both workers and the one spare blocked",
        );
        // A few more submissions while stalled: still one report.
        for _ in 0..3 {
            pool.execute(|| ()).unwrap();
        }
        std::thread::sleep(SHORT);
        let s = pool.stats();
        assert!(
            s.blocked >= s.threads + s.spares && s.queued > 0,
            "a stalled pool is visible in its stats: {s:?}"
        );
        assert_eq!(started.load(Ordering::SeqCst), 3, "the waits ran nothing");
        assert_eq!(cap_reports(name), 1, "one report per episode");
        gate.open(); // the outside event
        pool.close();
        log.assert_all(1);
        let s = pool.stats();
        assert_eq!((s.submitted, s.completed, s.panicked), (7, 7, 0));
        assert_eq!((s.spares, s.blocked), (0, 0));
    });
}

/// The same stall ended by `shutdown_now`: the queued task is handed back
/// (not lost, not run), the blocked tasks see the interrupt and return, and
/// the pool terminates with the spare gone.
#[test]
fn at_the_cap_shutdown_now_ends_a_stall() {
    bounded(|| {
        let pool = ThreadPool::builder()
            .num_threads(2)
            .max_spares(1)
            .build()
            .unwrap();
        let gate = Gate::new();
        let interrupted = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let (gate, interrupted) = (gate.clone(), interrupted.clone());
            pool.execute(move || {
                if !block_in_place(|| gate.wait_or_interrupted()) {
                    interrupted.fetch_add(1, Ordering::SeqCst);
                }
            })
            .unwrap();
        }
        let g = gate.clone();
        pool.execute(move || g.open()).unwrap();
        until(
            || {
                let s = pool.stats();
                s.spares == 1 && s.blocked == 3
            },
            "both workers and the one spare blocked",
        );
        let handed_back = pool.shutdown_now();
        assert_eq!(handed_back.len(), 1, "the gate's opener, never started");
        assert!(pool.await_termination(Duration::from_secs(10)).is_ok());
        assert_eq!(interrupted.load(Ordering::SeqCst), 3);
        assert!(!gate.is_open());
        let s = pool.stats();
        assert_eq!((s.submitted, s.completed), (4, 3));
        assert_eq!((s.spares, s.blocked), (0, 0));
    });
}
