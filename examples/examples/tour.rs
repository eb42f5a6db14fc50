//! A tour of the executor workspace: the main job of this repository.
//!
//! Run it with `cargo run --release --example tour`. It builds a pool, runs
//! fire-and-forget work from outside and from inside the pool, shows how panics
//! are survived and reported, shuts pools down the three ways (`shutdown`,
//! `shutdown_now`, drop), then submits typed tasks (get, timeout, cancel, panic,
//! `.await`, submit_all, invoke_all / invoke_any), runs fork-join code (join, scope,
//! broadcast) and takes results in completion order (`CompletionService`: take,
//! poll_timeout, the iterator, a helping consumer) and schedules work in time
//! (`schedule`, a fixed-rate series, a deadline, async `sleep`), printing what
//! happens at each step.

use executor::join;
use executor::prelude::*;
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
        // The tour panics on purpose: keep std's panic hook from printing the
        // panics this pool catches (the panic handler still reports them).
        .quiet_panics(true)
        .panic_handler(|p| {
            println!(
                "  panic handler: worker {:?} panicked: {:?}",
                p.worker(),
                p.message()
            )
        })
        .build()
        .expect("a pool with num_cpus threads");
    println!(
        "  {} threads; quiet_panics(true): the panics it catches are reported below, not printed by std's hook",
        pool.num_threads()
    );

    println!("\n== 2. fire-and-forget: a million jobs from outside ==");
    static SUM: AtomicU64 = AtomicU64::new(0);
    let sum = &SUM;
    let start = Instant::now();
    for i in 0..1_000_000u64 {
        pool.execute(move || {
            SUM.fetch_add(i, Ordering::Relaxed);
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
    fn split(
        pool: &ThreadPool,
        depth: u32,
        leaves: &Arc<AtomicUsize>,
        done: &std::sync::mpsc::Sender<()>,
    ) {
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
    println!(
        "  {} leaves; {} steals so far",
        leaves.load(Ordering::SeqCst),
        stats.steals
    );

    println!("\n== 4. a panicking job does not kill its worker ==");
    pool.execute(|| panic!("deliberate panic in the tour"))
        .unwrap();
    while pool.stats().panicked == 0 {
        std::thread::yield_now();
    }
    let (tx, rx) = channel();
    pool.execute(move || tx.send("still alive").unwrap())
        .unwrap();
    println!("  after the panic: {}", rx.recv().unwrap());

    println!("\n== 5. shutdown: queued work finishes, new work is rejected ==");
    let (gate_tx, gate_rx) = channel::<()>();
    pool.execute(move || gate_rx.recv().unwrap()).unwrap();
    pool.shutdown();
    match pool.execute(|| println!("never printed")) {
        Ok(()) => unreachable!(),
        Err(rejected) => println!("  rejected: {rejected} (the closure came back to us)"),
    }
    println!(
        "  terminated while a job is blocked? {}",
        pool.await_termination(Duration::from_millis(20)).is_ok()
    );
    gate_tx.send(()).unwrap();
    println!(
        "  terminated after releasing it? {}",
        pool.await_termination(Duration::from_secs(10)).is_ok()
    );
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
        while !is_cancelled() {
            spins += 1;
            std::thread::yield_now();
        }
        println!("  long job saw the interrupt after {spins} spins and returned");
    })
    .unwrap();
    started_rx.recv().unwrap();
    for i in 0..3 {
        pool.execute(move || println!("  queued job {i} ran by hand"))
            .unwrap();
    }
    let never_started = pool.shutdown_now();
    println!("  {} jobs handed back", never_started.len());
    assert!(pool.await_termination(Duration::from_secs(10)).is_ok());
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
    println!(
        "  after drop: {} of 1000 jobs ran",
        ran.load(Ordering::SeqCst)
    );

    typed_tasks();
    fork_join();
    completion_order();
    timed_execution();
    println!("\ntour finished");
}

/// executor-futures: Callable tasks with cancellable handles.
fn typed_tasks() {
    println!("\n== 8. submit: a handle with get, get_timeout, cancel, and .await ==");
    // Its tasks panic on purpose: a panic comes back from `get`, so keep std's
    // hook from printing it too.
    let pool = ThreadPool::builder()
        .num_threads(2)
        .quiet_panics(true)
        .build()
        .unwrap();
    let answer = pool.submit(|| 6 * 7).unwrap();
    println!("  get() = {:?}", answer.get());

    let (release_tx, release_rx) = channel::<()>();
    let mut slow = pool
        .submit(move || release_rx.recv().map(|()| "released"))
        .unwrap();
    match slow.get_timeout(Duration::from_millis(20)) {
        Err(e) if e.is_timed_out() => {
            println!("  get_timeout(20ms): timed out; the handle and its result are kept")
        }
        other => println!("  get_timeout(20ms): {other:?}"),
    }
    release_tx.send(()).unwrap();
    println!("  then get() = {:?}", slow.get());

    let boom = pool
        .submit(|| -> u32 { panic!("deliberate panic in a task") })
        .unwrap();
    match boom.get() {
        Err(e) => println!(
            "  a panicking task: get() = Err({e}), message {:?}",
            e.message()
        ),
        Ok(v) => println!("  unexpected value {v}"),
    }

    // Cancelling a task that is running: it sees the flag and stops early.
    let (started_tx, started_rx) = channel();
    let worker = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            let mut rounds = 0u64;
            while !executor_futures::is_cancelled() {
                rounds += 1;
                std::thread::yield_now();
            }
            rounds
        })
        .unwrap();
    started_rx.recv().unwrap();
    println!("  cancel() on a running task: {}", worker.cancel());
    println!("  its get(): {:?}", worker.get().map_err(|e| e.to_string()));

    let handle = pool.spawn(async { "hello from an async task" }).unwrap();
    println!("  .await: {:?}", futures::executor::block_on(handle));

    let all = pool
        .invoke_all((1..=5u64).map(|i| move || i * i))
        .unwrap()
        .into_iter()
        .map(|h| h.get().unwrap())
        .collect::<Vec<_>>();
    println!("  invoke_all (submission order): {all:?}");
    let cubes = pool
        .submit_all((1..=5u64).map(|i| move || i * i * i))
        .unwrap()
        .into_iter()
        .map(|h| h.get().unwrap())
        .collect::<Vec<_>>();
    println!("  submit_all (a batch: the first task at once, the rest as one submission; handles in order): {cubes:?}");
    let any = pool.invoke_any(vec![
        Box::new(|| -> &str { panic!("first candidate fails") })
            as Box<dyn FnOnce() -> &'static str + Send>,
        Box::new(|| "second candidate wins"),
    ]);
    println!("  invoke_any: {any:?}");
}

/// executor-core fork-join: join, scope, broadcast.
fn fork_join() {
    println!("\n== 9. fork-join: join (no allocation per fork), scope, broadcast ==");
    fn fib(n: u64) -> u64 {
        if n < 20 {
            return (0..n).fold((0u64, 1u64), |(a, b), _| (b, a + b)).0;
        }
        let (a, b) = join(|| fib(n - 1), || fib(n - 2));
        a + b
    }
    let pool = ThreadPool::new(2).unwrap();
    let start = Instant::now();
    println!(
        "  fib(35) = {} in {:?}",
        pool.install(|| fib(35)),
        start.elapsed()
    );

    let mut chunks_sums = [0u64; 4];
    let data: Vec<u64> = (1..=1_000_000).collect();
    pool.scope(|s| {
        for (chunk, sum) in data.chunks(250_000).zip(chunks_sums.iter_mut()) {
            s.spawn(move |_| *sum = chunk.iter().sum());
        }
    });
    println!("  scope: four tasks summed borrowed chunks: {chunks_sums:?}");

    let seen = pool
        .broadcast(|ctx| format!("worker {} of {}", ctx.index(), ctx.num_threads()))
        .unwrap();
    println!("  broadcast: {seen:?}");
}

/// executor-completion: results in the order the tasks finish.
fn completion_order() {
    println!("\n== 10. completion order: take, poll_timeout, the iterator, a helping consumer ==");
    let pool = ThreadPool::new(3).unwrap();
    let service = CompletionService::new(&pool);
    for ms in [60u64, 10, 30] {
        service
            .submit(move || {
                std::thread::sleep(Duration::from_millis(ms));
                ms
            })
            .unwrap();
    }
    let mut order = Vec::new();
    while let Some(done) = service.take() {
        order.push(done.get().unwrap());
    }
    println!(
        "  take() on 3 threads, in completion order (submitted 60, 10, 30 ms sleeps): {order:?}"
    );
    println!(
        "  poll_timeout(5ms) with nothing outstanding: {:?}",
        service
            .poll_timeout(Duration::from_millis(5))
            .map(|d| d.map(|d| d.id()))
    );

    // 10,000 short tasks on 2 workers: a helping consumer runs queued tasks
    // itself while no result is ready, instead of being woken once per result.
    let pool = ThreadPool::new(2).unwrap();
    for helping in [false, true] {
        let service = CompletionService::new(&pool).helping(helping);
        let start = Instant::now();
        service
            .submit_all((0..10_000u64).map(|i| {
                move || {
                    let until = Instant::now() + Duration::from_micros(i % 20);
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                    i
                }
            }))
            .unwrap();
        let (mut sum, mut here) = (0, 0);
        for done in &service {
            here += usize::from(done.worker().is_none());
            sum += done.get().unwrap();
        }
        assert_eq!(sum, (0..10_000).sum::<u64>());
        println!(
            "  helping({helping}): 10,000 tasks of 0-19 µs in {:?}; {here} ran on the consumer",
            start.elapsed()
        );
    }
}

/// executor-futures: delayed and periodic tasks, deadlines, async timers.
fn timed_execution() {
    println!("\n== timed execution: schedule, a fixed-rate series, a deadline, async sleep ==");
    let pool = ThreadPool::new(2).unwrap();
    let start = Instant::now();
    let later = pool
        .schedule(Duration::from_millis(10), move || start.elapsed())
        .unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let series = pool
        .schedule_at_fixed_rate(Duration::ZERO, Duration::from_millis(2), move || {
            t.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    println!("  delayed task ran after {:?}", later.get().unwrap());
    series.cancel();
    println!(
        "  series ran {} times before its cancel",
        ticks.load(Ordering::Relaxed)
    );
    let stuck = pool
        .submit_with_timeout(Duration::from_millis(5), || {
            while !executor_futures::is_cancelled() {
                std::thread::yield_now();
            }
        })
        .unwrap();
    println!(
        "  a stuck task with a 5 ms deadline: {:?}",
        stuck.get().unwrap_err()
    );
    let slept = pool
        .spawn(async move {
            executor_futures::time::sleep(Duration::from_millis(3)).await;
            start.elapsed()
        })
        .unwrap();
    println!(
        "  async sleep on the pool, no other runtime: done at {:?}",
        slept.get().unwrap()
    );
}
