//! Pool statistics: per-worker counters, written only by their worker (a plain
//! load + store, no atomic read-modify-write on the hot path) and summed when read.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a pool's counters. Taken without stopping the pool, so the fields
/// are each exact at some instant but not necessarily the same instant.
///
/// # Examples
///
/// ```
/// use executor_core::ThreadPool;
/// let pool = ThreadPool::new(2).unwrap();
/// for _ in 0..10 {
///     pool.execute(|| {}).unwrap();
/// }
/// pool.close();
/// let s = pool.stats();
/// assert_eq!((s.submitted, s.completed, s.panicked), (10, 10, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Worker threads the pool was built with.
    pub threads: usize,
    /// Workers not idle (running a job, or about to), approximate.
    pub active: usize,
    /// Jobs waiting in the queues, approximate.
    pub queued: usize,
    /// Jobs accepted (from outside and from workers).
    pub submitted: u64,
    /// Jobs that ran to the end, normally or by panicking.
    pub completed: u64,
    /// Jobs that panicked (a subset of `completed`).
    pub panicked: u64,
    /// Submissions refused because the pool was shut down.
    pub rejected: u64,
    /// Successful steals from another worker's deque.
    pub steals: u64,
    /// Spare workers running for blocked ones (see
    /// [`Builder::max_spares`](crate::Builder::max_spares)).
    pub spares: usize,
    /// Workers blocked in a wait or in [`block_in_place`](crate::block_in_place).
    pub blocked: usize,
    /// Extra workers beyond the core size (see
    /// [`Builder::max_threads`](crate::Builder::max_threads)).
    pub extras: usize,
}

/// One worker's counters. Only the owning worker writes them.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    executed: AtomicU64,
    panicked: AtomicU64,
    submitted: AtomicU64,
    steals: AtomicU64,
}

#[inline]
fn bump(c: &AtomicU64) {
    // Single writer: a load and a store are enough, and cheaper than fetch_add.
    c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl WorkerCounters {
    #[inline]
    pub(crate) fn bump_executed(&self) {
        bump(&self.executed)
    }
    #[inline]
    pub(crate) fn bump_panicked(&self) {
        bump(&self.panicked)
    }
    #[inline]
    pub(crate) fn bump_submitted(&self) {
        bump(&self.submitted)
    }
    #[inline]
    pub(crate) fn bump_steals(&self) {
        bump(&self.steals)
    }

    /// Jobs this worker finished (the elastic monitor's progress check).
    pub(crate) fn completed(&self) -> u64 {
        self.executed.load(Ordering::Relaxed)
    }

    pub(crate) fn add_to(&self, s: &mut Stats) {
        s.completed += self.executed.load(Ordering::Relaxed);
        s.panicked += self.panicked.load(Ordering::Relaxed);
        s.submitted += self.submitted.load(Ordering::Relaxed);
        s.steals += self.steals.load(Ordering::Relaxed);
    }
}
