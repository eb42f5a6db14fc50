//! Timed execution on the pool: a periodic health check, a timeout around a
//! slow call (blocking and async), a delayed task cancelled before it runs, and
//! what `shutdown` does to each kind.
//!
//! Run it with `cargo run --release --example timers`.

use executor_core::ThreadPool;
use executor_futures::time::{interval, sleep, timeout};
use executor_futures::{is_cancelled, ExecutorService, ScheduledExecutorService};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A service that answers slowly once it is "degraded".
fn slow_call(degraded: &AtomicBool) -> &'static str {
    if degraded.load(Ordering::Relaxed) {
        // A cooperative slow call: it gives up when its task is cancelled.
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until && !is_cancelled() {
            std::thread::sleep(Duration::from_millis(1));
        }
        "late"
    } else {
        "ok"
    }
}

fn main() {
    let pool = ThreadPool::builder()
        .name("timers")
        .num_threads(2)
        .build()
        .unwrap();
    let start = Instant::now();
    let degraded = Arc::new(AtomicBool::new(false));

    println!("== a periodic health check, every 20 ms, each probe with a 10 ms deadline ==");
    let (checks, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let health = {
        let (pool, degraded) = (pool.downgrade(), degraded.clone());
        let (checks, failures) = (checks.clone(), failures.clone());
        pool.clone()
            .schedule_at_fixed_rate(Duration::ZERO, Duration::from_millis(20), move || {
                let degraded = degraded.clone();
                let probe = pool
                    .submit_with_timeout(Duration::from_millis(10), move || slow_call(&degraded))
                    .unwrap();
                let n = checks.fetch_add(1, Ordering::Relaxed) + 1;
                match probe.get() {
                    Ok(answer) => println!("  check {n} at {:>4?}: {answer}", start.elapsed()),
                    Err(e) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        println!("  check {n} at {:>4?}: {e} (deadline)", start.elapsed());
                    }
                }
            })
            .unwrap()
    };
    std::thread::sleep(Duration::from_millis(70));
    degraded.store(true, Ordering::Relaxed);
    println!("  -- the service degrades --");
    std::thread::sleep(Duration::from_millis(70));
    health.cancel();
    std::thread::sleep(Duration::from_millis(15)); // a check in flight finishes
    println!(
        "  stopped: {} checks, {} hit their deadline; next run: {:?}",
        checks.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed),
        health.remaining()
    );

    println!("\n== an async timeout around a slow call, and an interval, on the pool ==");
    let handle = pool
        .spawn(async {
            let slow = timeout(Duration::from_millis(5), sleep(Duration::from_secs(3600))).await;
            let fast = timeout(Duration::from_secs(1), async { 42 }).await;
            let mut every = interval(Duration::from_millis(2));
            let first = every.tick().await;
            every.tick().await;
            let third = every.tick().await;
            (slow, fast, third - first)
        })
        .unwrap();
    let (slow, fast, ticks) = handle.get().unwrap();
    println!("  slow: {slow:?}, fast: {fast:?}, three ticks span {ticks:?}");

    println!("\n== a delayed task cancelled before it is due ==");
    let reminder = pool
        .schedule(Duration::from_secs(3600), || println!("never printed"))
        .unwrap();
    println!("  due in {:?}", reminder.remaining().unwrap());
    assert!(reminder.cancel()); // its closure is dropped and its timer entry removed now
    println!("  cancelled: {}", reminder.is_cancelled());

    println!("\n== shutdown: delayed one-shots still run, periodic series stop ==");
    let late = pool
        .schedule(Duration::from_millis(30), move || start.elapsed())
        .unwrap();
    let beat = pool
        .schedule_at_fixed_rate(Duration::ZERO, Duration::from_millis(5), || ())
        .unwrap();
    pool.shutdown();
    assert!(pool.await_termination(Duration::from_secs(10)).is_ok());
    println!(
        "  the delayed task ran at {:?}, after shutdown",
        late.get().unwrap()
    );
    println!("  the series ended: {}", beat.get().unwrap_err());
}
