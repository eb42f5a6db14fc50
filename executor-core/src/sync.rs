//! The concurrency primitives the protocols are written against.
//!
//! Normally these are `std`'s; under `--cfg loom` they are loom's, so that the
//! protocols built on them ([`crate::sleep`] and [`crate::lifecycle`]) can be
//! model-checked. Only those protocols go through the shim: the queues belong to
//! crossbeam, which has its own model checking.

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};

/// Locks `mutex`, ignoring poison: every critical section in this crate leaves its
/// data consistent before anything that can panic runs, and user code never runs
/// while one of our locks is held.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
