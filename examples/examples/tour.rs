//! A tour of the executor workspace: the main job of this repository.
//!
//! Run it with `cargo run --release --example tour`. It builds a pool, runs
//! fire-and-forget work from outside and from inside the pool, shows how panics
//! are survived and reported, and shuts pools down the three ways (`shutdown`,
//! `shutdown_now`, drop), printing what happens at each step.

use executor_core::{is_interrupted, ThreadPool};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    println!("== 1. build a pool ==");
    let pool = ThreadPool::builder()
        .name("tour")
        .thread_name(|i| format!("tour-{i}"))
        .on_thread_start(|i| println!("  worker {i} started"))
        .on_thread_stop(|i| println!("  worker {i} stopped"))
        .panic_handler(|p| println!("  panic handler: worker {:?} panicked: {:?}", p.worker(), p.message()))
        .build()
        .expect("a pool with num_cpus threads");
    println!("  {} threads", pool.num_threads());

    println!("\n== 2. fire-and-forget: a million jobs from outside ==");
    let sum = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    for i in 0..1_000_000u64 {
        let sum = sum.clone();
        pool.execute(move || {
            sum.fetch_add(i, Ordering::Relaxed);
        })
        .expect("the pool is running");
    }
    while pool.stats().completed < 1_000_000 {
        std::thread::yield_now();
    }
    println!(
        "  sum = {} (expected {}) in {:?}",
        sum.load(Ordering::Relaxed),
        (0..1_000_000u64).sum::<u64>(),
        start.elapsed()
    );

    println!("\n== 3. jobs spawning jobs (they stay on the spawning worker's deque; idle workers steal) ==");
    let leaves = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = channel();
    fn split(pool: &ThreadPool, depth: u32, leaves: &Arc<AtomicUsize>, done: &std::sync::mpsc::Sender<()>) {
        if depth == 0 {
            if leaves.fetch_add(1, Ordering::SeqCst) + 1 == 1 << 16 {
                done.send(()).unwrap();
            }
            return;
        }
        for _ in 0..2 {
            let (p, l, d) = (pool.clone(), leaves.clone(), done.clone());
            pool.execute(move || split(&p, depth - 1, &l, &d)).unwrap();
        }
    }
    split(&pool, 16, &leaves, &done_tx);
    done_rx.recv().unwrap();
    let stats = pool.stats();
    println!("  {} leaves; {} steals so far", leaves.load(Ordering::SeqCst), stats.steals);

    println!("\n== 4. a panicking job does not kill its worker ==");
    pool.execute(|| panic!("deliberate panic in the tour")).unwrap();
    let (tx, rx) = channel();
    pool.execute(move || tx.send("still alive").unwrap()).unwrap();
    println!("  after the panic: {}", rx.recv().unwrap());

    println!("\n== 5. shutdown: queued work finishes, new work is rejected ==");
    let (gate_tx, gate_rx) = channel::<()>();
    pool.execute(move || gate_rx.recv().unwrap()).unwrap();
    pool.shutdown();
    match pool.execute(|| println!("never printed")) {
        Ok(()) => unreachable!(),
        Err(rejected) => println!("  rejected: {rejected} (the closure came back to us)"),
    }
    println!("  terminated while a job is blocked? {}", pool.await_termination(Duration::from_millis(20)));
    gate_tx.send(()).unwrap();
    println!("  terminated after releasing it? {}", pool.await_termination(Duration::from_secs(10)));
    let s = pool.stats();
    println!(
        "  stats: submitted {}, completed {}, panicked {}, rejected {}, steals {}",
        s.submitted, s.completed, s.panicked, s.rejected, s.steals
    );

    println!("\n== 6. shutdown_now: hand back what never started, interrupt what runs ==");
    let pool = ThreadPool::new(1).unwrap();
    let (started_tx, started_rx) = channel();
    pool.execute(move || {
        started_tx.send(()).unwrap();
        let mut spins = 0u64;
        while !is_interrupted() {
            spins += 1;
            std::thread::yield_now();
        }
        println!("  long job saw the interrupt after {spins} spins and returned");
    })
    .unwrap();
    started_rx.recv().unwrap();
    for i in 0..3 {
        pool.execute(move || println!("  queued job {i} ran by hand")).unwrap();
    }
    let never_started = pool.shutdown_now();
    println!("  {} jobs handed back", never_started.len());
    assert!(pool.await_termination(Duration::from_secs(10)));
    for job in never_started {
        job.run();
    }

    println!("\n== 7. drop = shutdown + wait: queued work is not lost ==");
    let pool = ThreadPool::new(2).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..1000 {
        let ran = ran.clone();
        pool.execute(move || {
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    drop(pool);
    println!("  after drop: {} of 1000 jobs ran", ran.load(Ordering::SeqCst));
    println!("\ntour finished");
}
