//! Issue 17, item 4: an elastic pool (core and maximum sizes, keep-alive)
//! and, opt-in on Linux, growth for workers stuck in the kernel.

use executor_core::{BuildError, ThreadPool};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use testkit::{bounded, eventually, Gate, LONG};

#[test]
fn core_above_max_is_a_build_error() {
    let err = ThreadPool::builder()
        .num_threads(3)
        .max_threads(2)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::CoreAboveMax { core: 3, max: 2 }));
    assert!(err.to_string().contains("larger than the maximum"));
}

/// Three jobs that block (without saying so) on a 1-core, 3-max pool all
/// start: the pool grows while work waits, then the extras retire after
/// their keep-alive.
#[test]
fn grows_toward_max_under_load_and_shrinks_after_keep_alive() {
    bounded(|| {
        for keep_alive in [Duration::ZERO, Duration::from_millis(30)] {
            let pool = ThreadPool::builder()
                .num_threads(1)
                .max_threads(3)
                .keep_alive(keep_alive)
                .build()
                .unwrap();
            let gate = Gate::new();
            let started = Arc::new(AtomicUsize::new(0));
            for _ in 0..3 {
                let (gate, started) = (gate.clone(), started.clone());
                pool.execute(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    gate.wait();
                })
                .unwrap();
            }
            assert!(eventually(|| started.load(Ordering::SeqCst) == 3));
            assert_eq!(pool.stats().extras, 2, "grew to the maximum, not past it");
            gate.open();
            assert!(eventually(|| pool.stats().extras == 0), "extras retired");
            pool.close();
        }
    });
}

/// With `Duration::MAX` the extras stay until the pool shuts down.
#[test]
fn keep_alive_max_keeps_extras_until_shutdown() {
    bounded(|| {
        let pool = ThreadPool::builder()
            .num_threads(1)
            .max_threads(2)
            .keep_alive(Duration::MAX)
            .build()
            .unwrap();
        let gate = Gate::new();
        let started = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let (gate, started) = (gate.clone(), started.clone());
            pool.execute(move || {
                started.fetch_add(1, Ordering::SeqCst);
                gate.wait();
            })
            .unwrap();
        }
        assert!(eventually(|| started.load(Ordering::SeqCst) == 2));
        gate.open();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(pool.stats().extras, 1);
        pool.close();
        assert_eq!(pool.stats().extras, 0);
    });
}

/// Detection (Linux): tasks that call `std::thread::sleep` in a loop hold
/// every core worker, yet short tasks keep being served.
#[cfg(target_os = "linux")]
#[test]
fn sleeping_tasks_do_not_stall_short_ones_with_detection() {
    bounded(|| {
        let pool = ThreadPool::builder()
            .num_threads(2)
            .detect_blocked_workers(true)
            .build()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        for _ in 0..2 {
            let stop = stop.clone();
            pool.execute(move || {
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
            .unwrap();
        }
        let (tx, rx) = mpsc::channel();
        for i in 0..10 {
            let tx = tx.clone();
            pool.execute(move || tx.send(i).unwrap()).unwrap();
        }
        let mut got: Vec<i32> = (0..10).map(|_| rx.recv_timeout(LONG).unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        assert!(pool.stats().extras >= 1);
        stop.store(true, Ordering::SeqCst);
    });
}

/// Detection never grows the pool for a CPU-bound worker (state R).
#[cfg(target_os = "linux")]
#[test]
fn a_cpu_bound_worker_never_triggers_growth() {
    bounded(|| {
        let pool = ThreadPool::builder()
            .num_threads(1)
            .detect_blocked_workers(true)
            .build()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        pool.execute(move || {
            while !s.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        })
        .unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        pool.execute(move || r.store(true, Ordering::SeqCst))
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(pool.stats().extras, 0, "a spinning worker is not stuck");
        assert!(!ran.load(Ordering::SeqCst));
        stop.store(true, Ordering::SeqCst);
        pool.close();
        assert!(ran.load(Ordering::SeqCst));
    });
}

/// Voluntary context switches of this process's thread named `name`.
#[cfg(target_os = "linux")]
fn context_switches(name: &str) -> Option<u64> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        let comm = std::fs::read_to_string(path.join("comm")).ok()?;
        if comm.trim() == name {
            let status = std::fs::read_to_string(path.join("status")).ok()?;
            let line = status
                .lines()
                .find(|l| l.starts_with("voluntary_ctxt_switches"))?;
            return line.split_whitespace().nth(1)?.parse().ok();
        }
    }
    None
}

/// An idle elastic pool's monitor parks: it does not wake up at all while
/// nothing happens (guarantee 6: an idle pool uses no CPU).
#[cfg(target_os = "linux")]
#[test]
fn an_idle_elastic_pool_monitor_does_not_run() {
    bounded(|| {
        let pool = ThreadPool::builder()
            .name("idlemon")
            .num_threads(2)
            .max_threads(4)
            .detect_blocked_workers(true)
            .build()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        pool.execute(move || tx.send(()).unwrap()).unwrap();
        rx.recv_timeout(LONG).unwrap();
        // Let the workers fall asleep and the monitor park.
        std::thread::sleep(Duration::from_millis(100));
        let before = context_switches("idlemon-monitor").expect("the monitor runs");
        std::thread::sleep(Duration::from_millis(300));
        let after = context_switches("idlemon-monitor").unwrap();
        assert!(
            after - before <= 1,
            "{} wake-ups while idle",
            after - before
        );
        // And it still notices work afterwards.
        let (tx, rx) = mpsc::channel();
        pool.execute(move || tx.send(()).unwrap()).unwrap();
        rx.recv_timeout(LONG).unwrap();
    });
}
