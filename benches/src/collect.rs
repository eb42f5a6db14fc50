//! Submit-and-collect: tasks that return a value, submitted from a thread outside
//! the pool, their handles kept, and the values collected in submission order.
//!
//! Each pool does it the way its users would:
//!
//! | row | submit | collect |
//! |---|---|---|
//! | `executor_core` | `ExecutorService::submit` (one allocation: the task cell is the job) | `TaskHandle::get` |
//! | `executor_core_batch` | one `ExecutorService::submit_all` of the `n` tasks (one submission) | `TaskHandle::get` |
//! | `executor_core_slot` | `ThreadPool::execute` + a [`Slot`] (as the rayon row) | [`Slot::take`] |
//! | `rayon_slot` | `ThreadPool::spawn` + a [`Slot`] | [`Slot::take`] |
//! | `rayon_mpsc` | `ThreadPool::spawn` + `std::sync::mpsc::sync_channel(1)` | `Receiver::recv` |
//! | `tokio` | `Runtime::spawn` | `JoinHandle`s awaited in one `Runtime::block_on` |
//! | `threadpool_slot` / `threadpool_mpsc` | `ThreadPool::execute` + a [`Slot`] / a channel | as above |
//! | `futures` | `ThreadPool::spawn_with_handle` | `RemoteHandle`s awaited in one `futures::executor::block_on` |
//!
//! rayon and threadpool have no handle of their own, so they get the faster of two
//! one-shot mechanisms (quote the better row): [`Slot`], a mutex-protected
//! `Option` with a condition variable that is only signalled when the collector
//! is already waiting, and a bounded channel of capacity one. `executor_core_slot`
//! runs our pool with that same slot, to split the price of our `TaskHandle` from
//! the price of the pool.
//!
//! [`fib_submit`] is the nested case: `fib(n)` where each level submits one half
//! as a task, computes the other inline and then `get`s the first (on a worker,
//! `get` runs the task inline when nobody took it yet).

use crate::{FuturesPool, Ours, Peer, Rayon, StdThreadpool, Tokio};
use executor_futures::ExecutorService;
use futures::task::SpawnExt;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// The value task `i` returns (cheap, but not a constant).
#[inline]
pub fn value(i: usize) -> u64 {
    (i as u64).wrapping_mul(3)
}

/// The sum of `value(i)` for `i` in `0..n`: what every collector returns.
pub fn expected(n: usize) -> u64 {
    (0..n).fold(0u64, |s, i| s.wrapping_add(value(i)))
}

/// A one-shot result slot: one allocation (with its `Arc`), a mutex and a
/// condition variable that is signalled only when the taker is already waiting,
/// so a value that is ready before it is wanted costs no wake-up system call.
#[derive(Debug)]
pub struct Slot<T> {
    /// The value, and whether the taker is waiting for it.
    state: Mutex<(Option<T>, bool)>,
    ready: Condvar,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            state: Mutex::new((None, false)),
            ready: Condvar::new(),
        }
    }
}

impl<T> Slot<T> {
    /// Stores `value`, waking the taker if it waits.
    pub fn put(&self, value: T) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 = Some(value);
        if state.1 {
            drop(state);
            self.ready.notify_one();
        }
    }

    /// Waits for the value and takes it.
    pub fn take(&self) -> T {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(value) = state.0.take() {
                return value;
            }
            state.1 = true;
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Submits `n` tasks through [`Peer::submit`], each putting its value into its own
/// [`Slot`], then takes the values in submission order and returns their sum.
pub fn collect_slots<P: Peer>(pool: &P, n: usize) -> u64 {
    let mut slots = Vec::with_capacity(n);
    for i in 0..n {
        let slot = Arc::new(Slot::default());
        let put = Arc::clone(&slot);
        pool.submit(move || put.put(value(i)));
        slots.push(slot);
    }
    slots
        .into_iter()
        .fold(0u64, |s, slot| s.wrapping_add(slot.take()))
}

/// Like [`collect_slots`] with a `sync_channel(1)` per task.
pub fn collect_channels<P: Peer>(pool: &P, n: usize) -> u64 {
    let mut receivers = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        pool.submit(move || {
            // The receiver outlives the collection; a failed send cannot happen.
            let _ = tx.send(value(i));
        });
        receivers.push(rx);
    }
    receivers.into_iter().fold(0u64, |s, rx| {
        s.wrapping_add(rx.recv().expect("every task sends its value"))
    })
}

/// One way to submit-and-collect `n` values on an already built pool.
pub type Collector<'a> = Box<dyn Fn(usize) -> u64 + 'a>;

/// A pool's rows of the submit-and-collect table (see the module docs).
pub trait SubmitCollect: Peer {
    /// The row names and their collectors, ours first.
    fn collectors(&self) -> Vec<(&'static str, Collector<'_>)>;
}

impl SubmitCollect for Ours {
    fn collectors(&self) -> Vec<(&'static str, Collector<'_>)> {
        let handles: Collector<'_> = Box::new(move |n| {
            let handles: Vec<_> = (0..n)
                .map(|i| self.0.submit(move || value(i)).expect("pool accepts"))
                .collect();
            handles.into_iter().fold(0u64, |s, h| {
                s.wrapping_add(h.get().expect("task returns a value"))
            })
        });
        let batch: Collector<'_> = Box::new(move |n| {
            let handles = self
                .0
                .submit_all((0..n).map(|i| move || value(i)))
                .expect("pool accepts");
            handles.into_iter().fold(0u64, |s, h| {
                s.wrapping_add(h.get().expect("task returns a value"))
            })
        });
        vec![
            ("executor_core", handles),
            ("executor_core_batch", batch),
            ("executor_core_slot", Box::new(|n| collect_slots(self, n))),
        ]
    }
}

impl SubmitCollect for Rayon {
    fn collectors(&self) -> Vec<(&'static str, Collector<'_>)> {
        vec![
            ("rayon_slot", Box::new(|n| collect_slots(self, n))),
            ("rayon_mpsc", Box::new(|n| collect_channels(self, n))),
        ]
    }
}

impl SubmitCollect for Tokio {
    fn collectors(&self) -> Vec<(&'static str, Collector<'_>)> {
        let run: Collector<'_> = Box::new(move |n| {
            let handles: Vec<_> = (0..n)
                .map(|i| self.0.spawn(async move { value(i) }))
                .collect();
            self.0.block_on(async move {
                let mut s = 0u64;
                for h in handles {
                    s = s.wrapping_add(h.await.expect("task returns a value"));
                }
                s
            })
        });
        vec![("tokio", run)]
    }
}

impl SubmitCollect for StdThreadpool {
    fn collectors(&self) -> Vec<(&'static str, Collector<'_>)> {
        vec![
            ("threadpool_slot", Box::new(|n| collect_slots(self, n))),
            ("threadpool_mpsc", Box::new(|n| collect_channels(self, n))),
        ]
    }
}

impl SubmitCollect for FuturesPool {
    fn collectors(&self) -> Vec<(&'static str, Collector<'_>)> {
        let run: Collector<'_> = Box::new(move |n| {
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    self.0
                        .spawn_with_handle(async move { value(i) })
                        .expect("pool accepts")
                })
                .collect();
            futures::executor::block_on(async move {
                let mut s = 0u64;
                for h in handles {
                    s = s.wrapping_add(h.await);
                }
                s
            })
        });
        vec![("futures", run)]
    }
}

/// Runs `f` with every submit-and-collect row, one pool at a time in the order
/// ours, rayon, tokio, threadpool, futures; each pool is dropped before the next
/// is built.
pub fn for_each_collector(threads: usize, mut f: impl FnMut(&'static str, &dyn Fn(usize) -> u64)) {
    fn rows<P: SubmitCollect>(
        threads: usize,
        f: &mut impl FnMut(&'static str, &dyn Fn(usize) -> u64),
    ) {
        let pool = P::build(threads);
        for (name, c) in pool.collectors() {
            f(name, &*c);
        }
    }
    rows::<Ours>(threads, &mut f);
    rows::<Rayon>(threads, &mut f);
    rows::<Tokio>(threads, &mut f);
    rows::<StdThreadpool>(threads, &mut f);
    rows::<FuturesPool>(threads, &mut f);
}

/// `fib(n)` where each level with `n >= 2` submits `fib(n - 1)` as a task (with a
/// clone of the pool handle, which it needs to submit further), computes
/// `fib(n - 2)` inline and then `get`s the task's value. Call it on a worker of
/// `pool` (inside `install`); one submit per level, [`fib_joins`] in all.
///
/// [`fib_joins`]: crate::forkjoin::fib_joins
pub fn fib_submit(pool: &executor_core::ThreadPool, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let inner = pool.clone();
    let a = pool
        .submit(move || fib_submit(&inner, n - 1))
        .expect("pool accepts");
    let b = fib_submit(pool, n - 2);
    a.get().expect("task returns a value") + b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forkjoin::fib_iter;

    #[test]
    fn every_collector_returns_every_value() {
        for_each_collector(2, |name, c| {
            assert_eq!(c(10_000), expected(10_000), "{name}")
        });
    }

    #[test]
    fn fib_submit_is_fib() {
        let pool = Ours::build(2);
        assert_eq!(pool.0.install(|| fib_submit(&pool.0, 15)), fib_iter(15));
    }
}
