//! `Executor::on_termination` (on a `ThreadPool`): hooks run exactly once when the pool terminates
//! (by `shutdown`, `shutdown_now`, `close` or drop), at once when registered after
//! termination, never when removed; a panicking hook is reported and does not
//! stop the termination; a hook may use, close and drop the pool without hanging.

use executor_core::integration::{Executor, InlineExecutor, Job};
use executor_core::{PanicOrigin, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use testkit::*;

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn bump(c: &Arc<AtomicUsize>) -> impl FnOnce() + Send + 'static {
    let c = c.clone();
    move || {
        c.fetch_add(1, Ordering::SeqCst);
    }
}

/// Each hook runs exactly once, before `await_termination` returns `Ok`, on the
/// pool's last worker; later shutdowns and closes do not run it again.
#[test]
fn hooks_run_once_before_await_termination_returns() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(3).unwrap();
        let runs: Vec<_> = (0..3).map(|_| counter()).collect();
        for c in &runs {
            assert!(pool.on_termination(bump(c)).is_some());
        }
        let on_worker = Arc::new(Mutex::new(None));
        let (p, w) = (pool.clone(), on_worker.clone());
        pool.on_termination(move || *w.lock().unwrap() = Some(p.is_worker_thread()));
        // Queued work still runs first: the hooks see it done.
        let work = counter();
        let seen_by_hook = counter();
        for _ in 0..100 {
            pool.execute(bump(&work)).unwrap();
        }
        let (w, s) = (work.clone(), seen_by_hook.clone());
        pool.on_termination(move || s.store(w.load(Ordering::SeqCst), Ordering::SeqCst));
        assert!(runs.iter().all(|c| c.load(Ordering::SeqCst) == 0));
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        for c in &runs {
            assert_eq!(c.load(Ordering::SeqCst), 1);
        }
        assert_eq!(seen_by_hook.load(Ordering::SeqCst), 100);
        assert_eq!(
            *on_worker.lock().unwrap(),
            Some(true),
            "ran on the last worker"
        );
        pool.shutdown();
        assert!(pool.shutdown_now().is_empty());
        pool.close();
        drop(pool);
        for c in &runs {
            assert_eq!(c.load(Ordering::SeqCst), 1, "exactly once");
        }
    });
}

/// `shutdown_now`, `close` and the drop of the last handle run the hooks too.
#[test]
fn every_way_of_terminating_runs_the_hooks() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let c = counter();
        pool.on_termination(bump(&c));
        pool.shutdown_now();
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(c.load(Ordering::SeqCst), 1);

        let pool = ThreadPool::new(2).unwrap();
        let c = counter();
        pool.on_termination(bump(&c));
        pool.close();
        assert_eq!(c.load(Ordering::SeqCst), 1);

        let pool = ThreadPool::new(2).unwrap();
        let c = counter();
        pool.on_termination(bump(&c));
        drop(pool);
        assert_eq!(c.load(Ordering::SeqCst), 1);
    });
}

/// Registered after termination: runs at once, on the registering thread, and
/// returns no key.
#[test]
fn registered_after_termination_runs_at_once_on_the_caller() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        pool.close();
        assert!(pool.is_terminated());
        let (tx, rx) = channel();
        let key = pool.on_termination(move || tx.send(std::thread::current().id()).unwrap());
        assert!(key.is_none());
        assert_eq!(rx.try_recv(), Ok(std::thread::current().id()));
        // The same through the Executor trait, with a ready-made job.
        let c = counter();
        assert!(Executor::on_termination_job(&pool, Job::new(bump(&c))).is_none());
        assert_eq!(c.load(Ordering::SeqCst), 1);
    });
}

/// A removed hook never runs (it is dropped at removal); removing it again, or
/// removing a hook that ran, returns false.
#[test]
fn removed_hooks_do_not_run() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let (kept, removed) = (counter(), counter());
        let dropped = Arc::new(());
        let d = dropped.clone();
        let key = pool
            .on_termination(move || {
                let _d = &d;
                unreachable!("removed hooks do not run")
            })
            .unwrap();
        // Many registrations and removals reuse slots; the stale keys match nothing.
        let mut keys: Vec<_> = (0..1000)
            .map(|_| pool.on_termination(bump(&removed)).unwrap())
            .collect();
        let keep_key = pool.on_termination(bump(&kept)).unwrap();
        for key in keys.drain(..) {
            assert!(pool.remove_termination_hook(key));
        }
        assert!(pool.remove_termination_hook(key));
        assert_eq!(Arc::strong_count(&dropped), 1, "dropped at removal");
        let again: Vec<_> = (0..10)
            .map(|_| pool.on_termination(bump(&kept)).unwrap())
            .collect();
        pool.close();
        assert_eq!(removed.load(Ordering::SeqCst), 0);
        assert_eq!(kept.load(Ordering::SeqCst), 11);
        assert!(!pool.remove_termination_hook(keep_key), "it ran");
        for key in again {
            assert!(!pool.remove_termination_hook(key));
        }
    });
}

/// Hooks registered on the workers (each worker has its own shard of hooks) run
/// or are removed, from any thread, like the others.
#[test]
fn hooks_registered_on_workers() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(3).unwrap();
        let (kept, removed) = (counter(), counter());
        let p = pool.clone();
        let (k, r) = (kept.clone(), removed.clone());
        let keys = pool
            .broadcast(move |_| {
                (
                    p.on_termination(bump(&k)).unwrap(),
                    p.on_termination(bump(&r)).unwrap(),
                )
            })
            .unwrap();
        for (_, remove) in keys {
            assert!(pool.remove_termination_hook(remove));
        }
        pool.close();
        assert_eq!(kept.load(Ordering::SeqCst), 3);
        assert_eq!(removed.load(Ordering::SeqCst), 0);
    });
}

/// A panicking hook is reported to the panic handler (origin `TerminationHook`)
/// and does not keep the other hooks from running or the pool from terminating.
#[test]
fn panicking_hook_is_reported_and_termination_completes() {
    bounded_for(LONG, || {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let r = reports.clone();
        let pool = ThreadPool::builder()
            .num_threads(2)
            .panic_handler(move |p| {
                r.lock()
                    .unwrap()
                    .push((p.origin(), p.message().map(str::to_owned)))
            })
            .build()
            .unwrap();
        let (before, after) = (counter(), counter());
        pool.on_termination(bump(&before));
        pool.on_termination(|| panic!("expected test panic in a termination hook"));
        pool.on_termination(bump(&after));
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        assert!(pool.is_terminated());
        assert_eq!(before.load(Ordering::SeqCst), 1);
        assert_eq!(after.load(Ordering::SeqCst), 1);
        assert_eq!(
            *reports.lock().unwrap(),
            vec![(
                PanicOrigin::TerminationHook,
                Some("expected test panic in a termination hook".to_owned())
            )]
        );
        // After termination, a panicking hook runs (and is reported) on the caller.
        assert!(pool
            .on_termination(|| panic!("expected late panic"))
            .is_none());
        assert_eq!(reports.lock().unwrap().len(), 2);
        assert_eq!(reports.lock().unwrap()[1].0, PanicOrigin::TerminationHook);
    });
}

/// A hook that uses the pool, registers another hook, waits for termination,
/// closes the pool and drops its last handle: nothing hangs, both hooks run once.
#[test]
fn hook_may_use_close_and_drop_the_pool() {
    bounded_for(LONG, || {
        let pool = ThreadPool::new(2).unwrap();
        let (tx, rx) = channel::<&'static str>();
        let p = pool.clone();
        pool.on_termination(move || {
            assert!(p.execute(|| ()).is_err(), "submissions are rejected");
            assert!(
                p.await_termination(LONG).is_err(),
                "does not wait for itself"
            );
            // Runs later in this termination, or now (if the termination has
            // passed the hooks it would join): once either way.
            let tx2 = tx.clone();
            let _ = p.on_termination(move || tx2.send("nested").unwrap());
            p.close();
            drop(p); // the last handle
            tx.send("outer").unwrap();
        });
        pool.shutdown();
        drop(pool); // not the last handle: the hook holds one
        let mut got = vec![
            rx.recv_timeout(LONG).unwrap(),
            rx.recv_timeout(LONG).unwrap(),
        ];
        got.sort_unstable();
        assert_eq!(got, ["nested", "outer"]);
        assert!(rx.recv_timeout(SHORT).is_err(), "each ran once");
    });
}

/// Executors that do not report termination (the trait's default) drop the hook
/// unrun and return no key.
#[test]
fn default_executor_drops_the_hook() {
    let dropped = Arc::new(());
    let d = dropped.clone();
    let key = InlineExecutor.on_termination_job(Job::new(move || {
        let _d = d;
        unreachable!("never runs")
    }));
    assert!(key.is_none());
    assert_eq!(Arc::strong_count(&dropped), 1);
}
