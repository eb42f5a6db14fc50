//! The pool's `Timer` and its lifecycle hook (issue 19): delayed jobs held over
//! `shutdown`, handed back by `shutdown_now`, no spinning while held.

use executor_core::integration::{Job, Timer};
use executor_core::{Builder, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::{bounded, LONG};

fn later(ms: u64) -> Option<Instant> {
    Some(Instant::now() + Duration::from_millis(ms))
}

#[test]
fn a_delayed_job_runs_on_the_pool_never_before_its_deadline() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let (tx, rx) = channel();
        let due = later(5).unwrap();
        pool.timer()
            .schedule_job(
                Some(due),
                Job::new(move || {
                    tx.send((Instant::now(), executor_core::current_thread_index()))
                        .unwrap()
                }),
            )
            .unwrap();
        let (at, worker) = rx.recv_timeout(LONG).unwrap();
        assert!(at >= due);
        assert!(worker.is_some(), "ran on a worker of the pool");
    });
}

/// Blocks the pool's only worker until the returned sender is dropped or sent to.
fn block_the_worker(pool: &ThreadPool) -> std::sync::mpsc::Sender<()> {
    let (release, blocked) = channel::<()>();
    let (started_tx, started) = channel();
    pool.execute(move || {
        started_tx.send(()).unwrap();
        let _ = blocked.recv();
    })
    .unwrap();
    started.recv_timeout(LONG).unwrap();
    release
}

/// Waits until the timer handed its due entries over (its heap is empty).
fn until_fired(timer: &Timer) {
    while timer.pending() > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_due_job_starts_before_outside_jobs_queued_earlier() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let release = block_the_worker(&pool);
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        for i in 0..100 {
            let order = order.clone();
            pool.execute(move || order.lock().unwrap().push(i)).unwrap();
        }
        let o = order.clone();
        pool.timer()
            .schedule_job(later(1), Job::new(move || o.lock().unwrap().push(-1)))
            .unwrap();
        until_fired(&pool.timer());
        release.send(()).unwrap();
        pool.shutdown();
        assert!(pool.await_termination(LONG).is_ok());
        let order = order.lock().unwrap();
        assert_eq!(order.len(), 101);
        assert_eq!(order[0], -1, "the due job went first");
        assert!(
            order[1..].windows(2).all(|w| w[0] < w[1]),
            "outside jobs in FIFO order"
        );
    });
}

#[test]
fn a_fired_job_not_yet_started_is_handed_back_by_shutdown_now() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let release = block_the_worker(&pool);
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        pool.timer()
            .schedule_job(
                later(1),
                Job::new(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                }),
            )
            .unwrap();
        until_fired(&pool.timer());
        assert_eq!(pool.stats().queued, 1, "fired, waiting for the worker");
        let handed_back = pool.shutdown_now();
        assert_eq!(handed_back.len(), 1);
        drop(release);
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(ran.load(Ordering::SeqCst), 0, "never ran");
        for job in handed_back {
            job.run();
        }
        assert_eq!(ran.load(Ordering::SeqCst), 1, "runs once, by its new owner");
    });
}

#[test]
fn shutdown_holds_termination_for_a_pending_job_without_spinning() {
    bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        pool.timer()
            .schedule_job(
                later(300),
                Job::new(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                }),
            )
            .unwrap();
        let cpu_before = process_cpu();
        let wall = Instant::now();
        pool.shutdown();
        assert!(
            pool.await_termination(Duration::from_millis(100)).is_err(),
            "held by the delayed job"
        );
        assert!(pool.await_termination(LONG).is_ok());
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        // Generous: two workers yielding for 300 ms used 110 ms of CPU on a
        // loaded 2-core machine (load 9.6, measured with the sleep rule
        // removed); sleeping ones use none.
        if let (Some(before), Some(after)) = (cpu_before, process_cpu()) {
            let used = after.saturating_sub(before);
            assert!(
                used < wall.elapsed() / 8,
                "workers spun while the job was pending: {used:?} CPU in {:?}",
                wall.elapsed()
            );
        }
    });
}

#[test]
fn shutdown_now_hands_back_pending_jobs_and_later_schedules_are_rejected() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        let timer = pool.timer();
        for _ in 0..3 {
            timer
                .schedule_job(later(3_600_000), Job::new(|| ()))
                .unwrap();
        }
        timer.schedule_job(None, Job::new(|| ())).unwrap();
        assert_eq!(pool.shutdown_now().len(), 4);
        assert_eq!(timer.pending(), 0);
        assert!(timer.schedule_job(later(1), Job::new(|| ())).is_err());
        assert!(pool.await_termination(LONG).is_ok());
        // A terminated pool's timer has stopped: async timers go to the global one.
        assert!(timer
            .wake_at(later(1), std::task::Waker::noop().clone())
            .is_err());
    });
}

#[test]
fn the_cancel_policy_drops_delayed_jobs_at_shutdown() {
    bounded(|| {
        let pool = Builder::new()
            .num_threads(1)
            .execute_delayed_after_shutdown(false)
            .build()
            .unwrap();
        struct Flag(Arc<AtomicUsize>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let flag = Flag(dropped.clone());
        pool.timer()
            .schedule_job(later(3_600_000), Job::new(move || drop(flag)))
            .unwrap();
        pool.shutdown();
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            1,
            "dropped unrun at shutdown"
        );
        assert!(pool.await_termination(LONG).is_ok());
    });
}

#[test]
fn the_current_timer_is_the_pools_on_a_worker_and_the_global_one_elsewhere() {
    bounded(|| {
        let pool = ThreadPool::new(1).unwrap();
        assert!(pool.install(Timer::current).is_same(&pool.timer()));
        assert!(Timer::current().is_same(&Timer::global()));
    });
}

/// This process's CPU time (user + system), from `/proc/self/stat`.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ = 100 on Linux
}
