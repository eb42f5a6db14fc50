//! The concurrency primitives the task cell is written against.
//!
//! Normally `std`'s; under `--cfg loom` loom's, so that the task state machine
//! (`state.rs`, `task.rs`) can be model-checked. Only the cell's state word and its
//! slot mutex go through the shim; the id counter and thread-locals stay `std`
//! (they are not part of any protocol).

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Mutex, MutexGuard,
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicUsize, Ordering},
    Mutex, MutexGuard,
};

/// Locks `mutex`, ignoring poison: no user code ever runs while one of this crate's
/// locks is held (closures, drops of user values, wakers and hooks all run after the
/// guard is released), so a poisoned lock still guards consistent data.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
