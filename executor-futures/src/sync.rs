//! The concurrency primitives the task cell is written against.
//!
//! Normally `std`'s; under `--cfg loom` loom's, so that the task state machine
//! (`state.rs`, `task.rs`) can be model-checked. Only the cell's state word, its
//! stage cell, its auxiliary mutex, its dependents list (`continuation.rs`)
//! and a graph run's counters (`graph.rs`) go through the shim; the id counter and
//! thread-locals stay `std` (they are not part of any protocol).

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering},
    Mutex, MutexGuard,
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering},
    Mutex, MutexGuard,
};

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// `std`'s `UnsafeCell` with loom's access API (`with_mut`), so that the same code
/// is model-checked under loom (which then also detects conflicting accesses).
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    #[inline]
    pub(crate) fn new(data: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(data))
    }

    /// Calls `f` with a pointer to the contents; dereferencing it is the caller's
    /// (unsafe) responsibility.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks `mutex`, ignoring poison: no user code ever runs while one of this crate's
/// locks is held (closures, drops of user values, wakers and hooks all run after the
/// guard is released), so a poisoned lock still guards consistent data.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// [`lock`] for an exclusive borrow (e.g. in a `Drop`): no locking, poison ignored.
pub(crate) fn lock_mut<T>(mutex: &mut Mutex<T>) -> &mut T {
    mutex
        .get_mut()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
