//! What `/proc` tells about this process and machine: per-thread CPU time (for
//! `idle_cpu`), resident memory (for `memory`), the CPU model and the load.
//! Linux only; each reader returns `None` where `/proc` does not answer.
//!
//! * [`idle_cpu`] builds a fresh pool, runs a burst on it, then sums the CPU
//!   time of **that pool's threads only** (the threads that appeared since just
//!   before the pool was built) over an idle window, from
//!   `/proc/self/task/<tid>/schedstat` (nanoseconds on CPU). Other pools alive
//!   in the process, and the measuring thread, are not counted.
//! * [`queued_memory`] runs in a child process (one per pool and round, so that
//!   no other pool's allocations or freed-but-kept memory are in the figure):
//!   every worker is parked on a gate, `jobs` empty jobs are submitted from
//!   outside and wait in the queues, then the gate opens and they run. The
//!   figure is the child's peak resident size (`VmHWM`) at the end minus its
//!   resident size (`VmRSS`) just before the submission: the memory the queued
//!   jobs cost at their peak, divided by `jobs`.

use crate::{Countdown, Harness, Peer};
use std::collections::HashMap;
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The ids of this process's threads.
pub(crate) fn thread_ids() -> Vec<u64> {
    let Ok(dir) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Nanoseconds thread `tid` has been on a CPU (`None` if it exited).
fn thread_cpu_ns(tid: u64) -> Option<u64> {
    fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU nanoseconds of every thread not in `exclude`.
pub(crate) fn cpu_of_new_threads(exclude: &[u64]) -> HashMap<u64, u64> {
    thread_ids()
        .into_iter()
        .filter(|t| !exclude.contains(t))
        .filter_map(|t| Some((t, thread_cpu_ns(t)?)))
        .collect()
}

/// Builds a fresh `P` with `threads` workers, runs `burst` empty jobs from outside
/// and `burst` spawned from inside, waits for them, then returns the CPU
/// milliseconds per second that the pool's own threads used during the `window`
/// that follows (spinning before parking, timed wake-ups). `None` when
/// `/proc/self/task/*/schedstat` cannot be read.
pub fn idle_cpu<P: Peer>(threads: usize, burst: usize, window: Duration) -> Option<f64> {
    let before = thread_ids();
    thread_cpu_ns(*before.first()?)?;
    let harness = Harness::<P>::new(threads);
    harness.spawn_outside(burst);
    harness.spawn_inside(burst);
    let start_cpu = cpu_of_new_threads(&before);
    let start = Instant::now();
    std::thread::sleep(window);
    let end_cpu = cpu_of_new_threads(&before);
    let elapsed = start.elapsed();
    drop(harness);
    // Threads born during the window count from zero; threads that exited in it
    // are lost (an idle pool's should not).
    let ns: u64 = end_cpu
        .iter()
        .map(|(t, &cpu)| cpu.saturating_sub(start_cpu.get(t).copied().unwrap_or(0)))
        .sum();
    Some(ns as f64 / 1e6 / elapsed.as_secs_f64())
}

/// A field of `/proc/self/status` in bytes (`VmHWM`, `VmRSS`: given in kB).
pub fn status_bytes(field: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.split(':').next() == Some(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A gate that parks every worker of a pool: each blocker job counts itself in,
/// then waits until the gate opens.
#[derive(Debug, Default)]
struct Gate {
    entered: AtomicUsize,
    open: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    fn block(&self) {
        self.entered.fetch_add(1, Ordering::AcqRel);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        while !*open {
            open = self.cv.wait(open).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.cv.notify_all();
    }
}

/// In a process of its own: builds `P`, parks its `threads` workers on a gate,
/// submits `jobs` empty jobs from outside (they queue), opens the gate, waits for
/// all of them, and returns the peak resident growth (`VmHWM` at the end minus
/// `VmRSS` before the submission) in bytes. An error when the workers could not
/// all be parked within 10 s or `/proc/self/status` cannot be read.
pub fn queued_memory<P: Peer>(threads: usize, jobs: usize) -> Result<u64, String> {
    let pool = P::build(threads);
    let gate: &'static Gate = Box::leak(Box::default());
    for _ in 0..threads {
        pool.submit(move || gate.block());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while gate.entered.load(Ordering::Acquire) < threads {
        if Instant::now() > deadline {
            gate.open();
            return Err(format!(
                "{}: only {} of {threads} workers took a blocker job",
                P::NAME,
                gate.entered.load(Ordering::Acquire)
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let done: &'static Countdown = Box::leak(Box::default());
    done.arm(jobs);
    let rss = status_bytes("VmRSS").ok_or("no VmRSS in /proc/self/status")?;
    for _ in 0..jobs {
        pool.submit(move || done.done());
    }
    gate.open();
    done.wait();
    let peak = status_bytes("VmHWM").ok_or("no VmHWM in /proc/self/status")?;
    drop(pool);
    Ok(peak.saturating_sub(rss))
}

/// The CPU model from `/proc/cpuinfo` (`model name`), if any.
pub fn cpu_model() -> Option<String> {
    let info = fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

/// The 1-, 5- and 15-minute load averages from `/proc/loadavg`.
pub fn load_average() -> Option<String> {
    let load = fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ours;

    #[test]
    fn readers_answer_on_linux() {
        assert!(status_bytes("VmRSS").unwrap() > 0);
        assert!(!thread_ids().is_empty());
        assert!(load_average().is_some());
    }

    #[test]
    fn idle_and_memory_measure_our_pool() {
        let ms = idle_cpu::<Ours>(2, 1000, Duration::from_millis(50)).unwrap();
        assert!(ms >= 0.0);
        // In-process here (other tests allocate too): only check it completes.
        queued_memory::<Ours>(2, 10_000).unwrap();
    }
}
