//! Issue 16 item 5: while a `broadcast` waits for a busy worker, the idle
//! workers park (guarantee 6): only the broadcast work a worker can take itself
//! counts as work for it. Its own file: the check reads the CPU time of the
//! whole process, which other tests running alongside would add to.

use executor_core::ThreadPool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::*;

/// One test at a time: the CPU-time check measures the whole process.
static SERIAL: Mutex<()> = Mutex::new(());

/// User + system CPU time of this process so far (Linux: `/proc/self/stat`,
/// fields 14 and 15, in clock ticks of 1/100 s on every Linux configuration
/// `sysconf(_SC_CLK_TCK)` reports for user space).
#[cfg(target_os = "linux")]
fn process_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The command name (field 2) is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // `rest` starts at field 3; utime and stime are fields 14 and 15.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// A 4-worker pool, one worker busy, `broadcast` from outside: for as long as
/// the broadcast waits (1 s here), the three idle workers (their own calls
/// done) must sleep. Spinning, they burned about 3.5 CPU-seconds in 2 s (all
/// of a 2-core machine). Allowed: 0.3 CPU-s in the window, for the search
/// before parking and a loaded machine's noise.
#[cfg(target_os = "linux")]
#[test]
fn idle_workers_park_while_a_broadcast_waits_for_a_busy_worker() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    bounded_for(LONG, || {
        let pool = ThreadPool::new(4).unwrap();
        let busy = block_workers(&pool, 1);
        let calls = Arc::new(AtomicUsize::new(0));
        let caller = {
            let (pool, calls) = (pool.clone(), calls.clone());
            std::thread::spawn(move || {
                pool.broadcast(|ctx| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    ctx.index()
                })
                .unwrap()
            })
        };
        // The three idle workers ran their calls; the busy one cannot yet.
        until(
            || calls.load(Ordering::SeqCst) == 3,
            "the idle workers' calls",
        );
        // Let them finish searching and go to sleep, then measure a window.
        std::thread::sleep(Duration::from_millis(200));
        let before = process_cpu_time();
        std::thread::sleep(Duration::from_secs(1));
        let used = process_cpu_time() - before;
        busy.open();
        let mut indices = caller.join().unwrap();
        indices.sort_unstable();
        assert_eq!(indices, [0, 1, 2, 3]);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert!(
            used < Duration::from_millis(300),
            "idle workers used {used:?} of CPU in 1 s while the broadcast waited"
        );
        pool.close();
    });
}

/// The scale problem behind it: on a pool of many workers, spinning idle
/// workers starved the busy worker whose call was still pending. With 256
/// workers (most of them idle) the broadcast completes, each worker's call
/// once, well inside the bound.
#[test]
fn a_broadcast_on_a_large_pool_with_a_busy_worker_completes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    bounded_for(LONG, || {
        let pool = ThreadPool::new(256).unwrap();
        let busy = block_workers(&pool, 1);
        let log = RunLog::new(256);
        let caller = {
            let (pool, log) = (pool.clone(), log.clone());
            std::thread::spawn(move || pool.broadcast(|ctx| log.mark(ctx.index())).unwrap())
        };
        until(
            || log.counts().iter().filter(|&&c| c == 1).count() == 255,
            "every idle worker's call",
        );
        std::thread::sleep(Duration::from_millis(100));
        busy.open();
        assert_eq!(caller.join().unwrap().len(), 256);
        log.assert_all(1);
        pool.close();
    });
}
