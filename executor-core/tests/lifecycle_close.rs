//! Closing a pool from awkward places: the last handle dropped by a worker's
//! thread-local destructor (after the worker marker was cleared), and jobs
//! re-queued while the last worker exits.
//!
//! The thread-local scenario used to abort the process (a panic inside a TLS
//! destructor), so it runs in a child process: the parent re-runs this test
//! binary on the one test and checks that the child exited cleanly.

use executor_core::integration::Executor;
use executor_core::integration::Job;
use executor_core::ThreadPool;
use std::cell::RefCell;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use testkit::*;

const CHILD_ENV: &str = "EXECUTOR_LIFECYCLE_CLOSE_CHILD";

/// Runs `name` (a test of this file) in a child process with `CHILD_ENV` set and
/// fails unless the child exits successfully.
fn run_in_child(name: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child process failed ({:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 passed"),
        "the child did not run the test:\n{stdout}"
    );
}

/// A per-thread context holding a pool handle; its destructor (run when the
/// worker thread exits, after the pool cleared its worker marker) drops the
/// handle and reports that it returned.
struct Context {
    pool: Option<ThreadPool>,
    done: Option<Sender<()>>,
}

impl Drop for Context {
    fn drop(&mut self) {
        drop(self.pool.take());
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// The scenario: every worker caches a clone of its pool in a thread-local; the
/// user shuts down and drops their handle; the last handle is dropped by a
/// thread-local destructor as a worker exits. Closing must not join the
/// current thread (that panics inside the TLS destructor: process abort).
fn last_handle_dropped_in_tls_destructor(threads: usize) {
    bounded_for(LONG, move || {
        let pool = ThreadPool::new(threads).unwrap();
        let (done_tx, done_rx) = channel();
        let cached = Arc::new(AtomicUsize::new(0));
        let template = Mutex::new((pool.clone(), done_tx));
        pool.broadcast(|_| {
            let (pool, done) = {
                let t = template.lock().unwrap();
                (t.0.clone(), t.1.clone())
            };
            CONTEXT.with(|c| {
                *c.borrow_mut() = Some(Context {
                    pool: Some(pool),
                    done: Some(done),
                })
            });
            cached.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        drop(template);
        assert_eq!(cached.load(Ordering::SeqCst), threads);
        let observer = pool.downgrade();
        pool.shutdown();
        drop(pool); // not the last handle: the workers' contexts hold clones
        assert!(observer.await_termination(LONG).is_ok());
        for _ in 0..threads {
            done_rx
                .recv_timeout(LONG)
                .expect("every thread-local destructor returned");
        }
    });
}

/// In the child process, runs `body`; in the parent, runs test `name` in a child.
fn in_child(name: &str, body: impl FnOnce()) {
    if std::env::var_os(CHILD_ENV).is_some() {
        body();
    } else {
        run_in_child(name);
    }
}

#[test]
fn last_handle_dropped_by_a_worker_thread_local_destructor_one_worker() {
    in_child(
        "last_handle_dropped_by_a_worker_thread_local_destructor_one_worker",
        || last_handle_dropped_in_tls_destructor(1),
    );
}

#[test]
fn last_handle_dropped_by_a_worker_thread_local_destructor_four_workers() {
    in_child(
        "last_handle_dropped_by_a_worker_thread_local_destructor_four_workers",
        || last_handle_dropped_in_tls_destructor(4),
    );
}

/// `close` called from a worker's thread-local destructor (explicitly, not by a
/// drop) returns without joining the calling thread.
#[test]
fn close_from_a_worker_thread_local_destructor_does_not_join_itself() {
    struct Closer(Option<(ThreadPool, Sender<()>)>);
    impl Drop for Closer {
        fn drop(&mut self) {
            if let Some((pool, done)) = self.0.take() {
                pool.close();
                let _ = done.send(());
            }
        }
    }
    thread_local! {
        static CLOSER: RefCell<Option<Closer>> = const { RefCell::new(None) };
    }
    in_child(
        "close_from_a_worker_thread_local_destructor_does_not_join_itself",
        || {
            bounded_for(LONG, || {
                let pool = ThreadPool::new(1).unwrap();
                let (tx, rx) = channel();
                let (p, t) = (pool.clone(), tx.clone());
                pool.execute(move || CLOSER.with(|c| *c.borrow_mut() = Some(Closer(Some((p, t))))))
                    .unwrap();
                pool.shutdown();
                assert!(pool.await_termination(LONG).is_ok());
                rx.recv_timeout(LONG)
                    .expect("close returned in the destructor");
                drop(pool);
            })
        },
    );
}

/// A re-queued job: records that it ran; its token is dropped exactly once,
/// whether it ran, was handed back, or dropped.
fn requeued(log: &Arc<RunLog>, drops: &Arc<DropCounter>, id: usize) -> Job {
    let (log, token) = (log.clone(), drops.token(id));
    Job::new(move || {
        let _token = token;
        log.mark(id);
    })
}

/// Issue 16 item 6: `requeue_job` after `shutdown`, while the last worker is
/// exiting (in its stop hook): the call returned `Ok` and termination then
/// dropped the job unrun. Now `Ok` means the job runs.
#[test]
fn a_job_requeued_while_the_last_worker_exits_runs() {
    bounded_for(LONG, || {
        let in_hook = Gate::new();
        let release = Gate::new();
        let (h, r) = (in_hook.clone(), release.clone());
        let pool = ThreadPool::builder()
            .num_threads(1)
            .on_thread_stop(move |_| {
                h.open();
                r.wait();
            })
            .build()
            .unwrap();
        let log = RunLog::new(1);
        let drops = DropCounter::new(1);
        pool.shutdown();
        in_hook.wait(); // the only worker decided to exit and is in its hook
        let accepted = pool.requeue_job(requeued(&log, &drops, 0));
        let refused = accepted.is_err();
        drop(accepted); // a refusal hands the job back: dropped here, unrun
        release.open();
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(
            log.get(0),
            u8::from(!refused),
            "requeue_job returned Ok (refused: {refused}) but the job ran {} times",
            log.get(0)
        );
        drops.assert_all_dropped_once(1);
    });
}

/// The same window raced: a thread re-queues jobs in a loop while the pool
/// shuts down and its workers exit through a slow stop hook. Every job taken
/// with `Ok` ran exactly once; every refused one came back unrun; every job
/// was dropped exactly once.
#[test]
fn requeues_racing_the_exit_of_the_last_worker_are_run_or_refused() {
    const JOBS: usize = 200_000;
    bounded_for(LONG * 3, || {
        for _round in 0..3 {
            let pool = ThreadPool::builder()
                .num_threads(2)
                .on_thread_stop(|_| std::thread::sleep(std::time::Duration::from_millis(20)))
                .build()
                .unwrap();
            let log = RunLog::new(JOBS);
            let drops = DropCounter::new(JOBS);
            let requeuer = {
                let (pool, log, drops) = (pool.clone(), log.clone(), drops.clone());
                std::thread::spawn(move || {
                    let mut refused = Vec::new();
                    for id in 0..JOBS {
                        if let Err(e) = pool.requeue_job(requeued(&log, &drops, id)) {
                            refused.push(id);
                            drop(e);
                        }
                        if pool.is_terminated() {
                            return (id + 1, refused);
                        }
                    }
                    (JOBS, refused)
                })
            };
            std::thread::sleep(std::time::Duration::from_millis(5));
            pool.shutdown();
            assert!(pool.await_termination(LONG).is_ok());
            let (tried, refused) = requeuer.join().unwrap();
            for id in 0..tried {
                let expected = u8::from(refused.binary_search(&id).is_err());
                assert_eq!(log.get(id), expected, "job {id}: ran {} times", log.get(id));
            }
            drops.assert_all_dropped_once(tried);
        }
    });
}
