//! Building pools (bad input is an error, not a panic or a leaked thread) and the
//! help-while-waiting seam.

use executor_core::integration::{wait_until, Waiter};
use executor_core::{current_thread_index, BuildError, ThreadPool};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::*;

#[test]
fn zero_threads_is_an_error() {
    let err = ThreadPool::new(0).unwrap_err();
    assert!(matches!(err, BuildError::ZeroThreads));
    assert!(err.to_string().contains("at least one"));
}

#[test]
fn default_thread_count_is_the_cpu_count() {
    let pool = ThreadPool::builder().build().unwrap();
    assert_eq!(pool.num_threads(), num_cpus_get());
}

fn num_cpus_get() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn a_thread_that_cannot_be_spawned_is_an_error_and_leaves_no_thread() {
    let census = Census::default();
    // No OS gives a thread an exabyte of stack.
    let err = census.builder(2).stack_size(1 << 60).build().unwrap_err();
    assert!(matches!(err, BuildError::Spawn { index: 0, .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(census.live(), 0);
}

#[test]
fn a_panicking_name_closure_fails_the_build_and_stops_started_workers() {
    let census = Census::default();
    let err = census
        .builder(3)
        .thread_name(|i| {
            if i == 1 {
                panic!("no name for 1")
            } else {
                format!("w{i}")
            }
        })
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::ThreadNamePanicked { index: 1 }));
    // Worker 0 was started and has been stopped and joined.
    assert_eq!(
        census.started.load(Ordering::SeqCst),
        census.stopped.load(Ordering::SeqCst)
    );
}

/// Issue 16 item 3: a thread name with a NUL byte (std panics inside `spawn`
/// for it) fails the build with an error, and the workers started before it
/// are stopped and joined; nothing is left parked.
#[test]
fn a_thread_name_with_a_nul_byte_fails_the_build_and_stops_started_workers() {
    bounded_for(LONG, || {
        let census = Census::default();
        let err = census
            .builder(8)
            .thread_name(|i| {
                if i == 3 {
                    "w\u{0}3".into() // the "w\\03": a NUL, then 3
                } else {
                    format!("w{i}")
                }
            })
            .build()
            .unwrap_err();
        assert!(
            matches!(err, BuildError::InvalidThreadName { index: 3, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("worker 3"), "{err}");
        assert_eq!(census.started.load(Ordering::SeqCst), 3);
        assert_eq!(census.live(), 0, "the started workers were stopped");
    });
}

/// Issue 16 item 3, the other std panic of `spawn`: a stack size so large that
/// rounding it up to a page overflows makes std assert inside `spawn`; the
/// build reports an error instead, after stopping what it started.
#[test]
fn an_overflowing_stack_size_fails_the_build_without_a_panic() {
    bounded_for(LONG, || {
        for size in [usize::MAX, usize::MAX - 1, usize::MAX / 2 + 1] {
            let census = Census::default();
            let err = census.builder(2).stack_size(size).build().unwrap_err();
            assert!(
                matches!(err, BuildError::Spawn { index: 0, .. }),
                "{size}: {err:?}"
            );
            assert_eq!(census.live(), 0);
        }
    });
}

/// Issue 16 item 3, a thread count no process can have: an error before
/// anything is allocated or started (it used to panic on a capacity overflow).
#[test]
fn an_impossible_thread_count_is_an_error() {
    for n in [usize::MAX, executor_core::MAX_THREADS + 1] {
        let err = ThreadPool::new(n).unwrap_err();
        assert!(
            matches!(err, BuildError::TooManyThreads { requested, max }
                if requested == n && max == executor_core::MAX_THREADS),
            "{err:?}"
        );
    }
}

#[test]
fn names_and_indices_are_applied() {
    bounded_for(LONG, || {
        let pool = ThreadPool::builder()
            .num_threads(2)
            .thread_name(|i| format!("crunch-{i}"))
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let gate = Gate::new();
        let both = Latch::new(2);
        for _ in 0..2 {
            let (s, g, b, p) = (seen.clone(), gate.clone(), both.clone(), pool.clone());
            pool.execute(move || {
                let name = std::thread::current().name().map(str::to_owned);
                s.lock()
                    .unwrap()
                    .push((name, current_thread_index(), p.current_thread_index()));
                b.count_down();
                g.wait();
            })
            .unwrap();
        }
        both.wait();
        gate.open();
        let mut seen = seen.lock().unwrap().clone();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                (Some("crunch-0".into()), Some(0), Some(0)),
                (Some("crunch-1".into()), Some(1), Some(1))
            ]
        );
        assert_eq!(pool.current_thread_index(), None);
    });
}

/// On a 1-thread pool, a job that waits for a job it queued itself makes progress
/// by helping (it runs the queued job while waiting).
#[test]
fn waiting_on_a_worker_helps() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let p = pool.clone();
        pool.execute(move || {
            let done = Arc::new(AtomicBool::new(false));
            let d = done.clone();
            p.execute(move || d.store(true, Ordering::SeqCst)).unwrap();
            tx.send(wait_until(|| done.load(Ordering::SeqCst), None).is_ok())
                .unwrap();
        })
        .unwrap();
        assert_eq!(rx.recv_timeout(LONG), Ok(true));
    });
}

/// Nested helping to depth 200 on one thread.
#[test]
fn nested_waits_on_one_thread() {
    fn level(pool: &ThreadPool, depth: usize, count: &Arc<AtomicUsize>) {
        count.fetch_add(1, Ordering::SeqCst);
        if depth == 0 {
            return;
        }
        let done = Arc::new(AtomicBool::new(false));
        let (p, d, c) = (pool.clone(), done.clone(), count.clone());
        pool.execute(move || {
            level(&p, depth - 1, &c);
            d.store(true, Ordering::SeqCst);
        })
        .unwrap();
        assert!(wait_until(|| done.load(Ordering::SeqCst), None).is_ok());
    }
    bounded_for(LONG, || {
        let pool = ThreadPool::new(1).unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        let (p, c) = (pool.clone(), count.clone());
        pool.execute(move || {
            level(&p, 200, &c);
            tx.send(()).unwrap();
        })
        .unwrap();
        rx.recv_timeout(LONG).unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 201);
    });
}

/// A worker waiting for a condition that another thread makes true sleeps and is
/// woken through its Waiter; a deadline ends the wait with `false`.
#[test]
fn waiter_wakes_a_sleeping_worker_and_deadlines_end_waits() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(1).unwrap();
        let flag = Arc::new(AtomicBool::new(false));
        let slot: Arc<Mutex<Option<Waiter>>> = Arc::new(Mutex::new(None));
        let registered = Latch::new(1);
        let (tx, rx) = std::sync::mpsc::channel();
        let (f, s, r) = (flag.clone(), slot.clone(), registered.clone());
        pool.execute(move || {
            let t = Instant::now();
            let timed_out = wait_until(|| false, Some(t + Duration::from_millis(20))).is_err();
            *s.lock().unwrap() = Some(Waiter::current());
            assert!(s.lock().unwrap().as_ref().unwrap().is_current());
            r.count_down();
            let ok = wait_until(|| f.load(Ordering::SeqCst), None).is_ok();
            tx.send((timed_out, t.elapsed() >= Duration::from_millis(20), ok))
                .unwrap();
        })
        .unwrap();
        registered.wait();
        std::thread::sleep(Duration::from_millis(20)); // let it go to sleep
        flag.store(true, Ordering::SeqCst);
        slot.lock().unwrap().take().unwrap().wake();
        assert_eq!(rx.recv_timeout(LONG), Ok((true, true, true)));
    });
}

/// `wait_until` off the pool parks the thread and is woken by `Waiter::wake`.
#[test]
fn waiting_off_the_pool_parks() {
    bounded_for(LONG, || {
        let flag = Arc::new(AtomicBool::new(false));
        let w = Waiter::current();
        assert!(w.is_current());
        let f = flag.clone();
        let t = std::thread::spawn(move || {
            f.store(true, Ordering::SeqCst);
            w.wake();
        });
        assert!(wait_until(|| flag.load(Ordering::SeqCst), None).is_ok());
        t.join().unwrap();
    });
}

#[test]
fn stats_are_exact_after_close() {
    let pool = ThreadPool::new(2).unwrap();
    let p = pool.clone();
    let submitted = Latch::new(1);
    let s = submitted.clone();
    pool.execute(move || {
        for _ in 0..10 {
            p.execute(|| {}).unwrap();
        }
        s.count_down();
    })
    .unwrap();
    for _ in 0..5 {
        pool.execute(|| panic!("expected")).unwrap();
    }
    // The children must be submitted before `close` (after it they would be,
    // correctly, rejected).
    submitted.wait();
    pool.close();
    let s = pool.stats();
    assert_eq!(s.threads, 2);
    assert_eq!(s.submitted, 16);
    assert_eq!(s.completed, 16);
    assert_eq!(s.panicked, 5);
    assert_eq!((s.queued, s.active), (0, 0));
    assert!(format!("{pool:?}").contains("ThreadPool"));
}

/// The pool's own name is in every default thread name (workers, spares, the
/// timer, the elastic monitor): a NUL in it is a build error, before any
/// thread starts, not a `std` panic later on whichever thread starts one.
#[test]
fn a_pool_name_with_a_nul_byte_is_a_build_error() {
    bounded_for(LONG, || {
        let census = Census::default();
        let err = census
            .builder(2)
            .name("pool\u{0}x")
            .thread_name(|i| format!("w{i}"))
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, BuildError::InvalidPoolName { name } if name == "pool\u{0}x"),
            "{err:?}"
        );
        assert!(err.to_string().contains("NUL"), "{err}");
        assert_eq!(census.started.load(Ordering::SeqCst), 0);
    });
}

/// A spare worker is named by the user's closure when it starts, long after
/// `build`: a NUL in that name falls back to the default name instead of a
/// `std` panic on the thread that needed the spare (here, a task in
/// `block_in_place`).
#[test]
fn a_spare_whose_name_has_a_nul_byte_gets_the_default_name() {
    bounded_for(LONG, || {
        let pool = ThreadPool::builder()
            .num_threads(1)
            .name("nul-spare")
            .thread_name(|i| {
                if i == 0 {
                    "core".into()
                } else {
                    format!("bad\u{0}{i}")
                }
            })
            .build()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let gate = Arc::new(AtomicBool::new(false));
        let open = gate.clone();
        let p = pool.clone();
        pool.execute(move || {
            // Queue a job, then block: only a spare can run that job.
            let tx2 = tx.clone();
            p.execute(move || {
                let name = std::thread::current().name().map(str::to_owned);
                tx2.send(name).unwrap();
                open.store(true, Ordering::SeqCst);
            })
            .unwrap();
            executor_core::block_in_place(|| {
                while !gate.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            tx.send(Some("blocker done".into())).unwrap();
        })
        .unwrap();
        let first = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        let name = first.expect("the spare has a name");
        assert!(name.starts_with("nul-spare-"), "{name}");
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(20)).unwrap().as_deref(),
            Some("blocker done")
        );
        pool.close();
    });
}
