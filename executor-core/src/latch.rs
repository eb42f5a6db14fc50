//! The one-shot signal a fork-join owner waits on: the second half of a `join`, an
//! `install`ed closure.
//!
//! ```text
//!            execute (result written first)
//! PENDING ─────────────────────────────────▶ SET
//!    │
//!    │ abandon (the pool is stopping; the owner runs the work itself)
//!    ▼
//! ABANDONED
//! ```
//!
//! Whoever moves the latch out of PENDING copies what it needs to wake the owner
//! *before* the release store: from that store on the owner may return, and the
//! latch (on the owner's stack) is gone. The owner waits with the wake-up token of
//! its waiter (a worker's parker or a thread's park token), so the store-then-wake
//! order cannot lose the wake-up.
#![allow(unsafe_code)]

use crate::registry::Registry;
use crate::wait::Waiter;
use crate::worker::WorkerThread;
use std::sync::atomic::{AtomicU8, Ordering};

pub(crate) const PENDING: u8 = 0;
pub(crate) const SET: u8 = 1;
pub(crate) const ABANDONED: u8 = 2;

/// Whom to wake.
pub(crate) enum Owner {
    /// A worker whose job is run by workers of its own pool (a `join`): every
    /// thread that can set the latch keeps the registry alive, so a pointer is
    /// enough (no reference-count traffic on the fork-join fast path).
    SamePool {
        registry: *const Registry,
        index: usize,
    },
    /// Anyone else (an `install` from outside or from another pool's worker).
    Waiter(Waiter),
}

impl Owner {
    pub(crate) fn same_pool(worker: &WorkerThread) -> Owner {
        Owner::SamePool {
            registry: worker.registry(),
            index: worker.index(),
        }
    }
}

pub(crate) struct Latch {
    state: AtomicU8,
    owner: Owner,
}

enum Wake {
    SamePool(*const Registry, usize),
    Waiter(Waiter),
}

impl Latch {
    pub(crate) fn new(owner: Owner) -> Latch {
        Latch {
            state: AtomicU8::new(PENDING),
            owner,
        }
    }

    /// The state; Acquire, so a SET also makes the result visible.
    #[inline]
    pub(crate) fn probe(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    /// Moves the latch to `value` and wakes the owner.
    ///
    /// # Safety
    ///
    /// `this` must be valid when called; it may be freed as soon as the store is
    /// done, and is not touched after it. For an `Owner::SamePool` latch the caller
    /// must keep that registry alive (it is one of its workers, or holds a handle).
    pub(crate) unsafe fn set(this: *const Latch, value: u8) {
        // SAFETY: `this` is valid until the store below (the caller's contract).
        let latch = unsafe { &*this };
        let wake = match &latch.owner {
            Owner::SamePool { registry, index } => Wake::SamePool(*registry, *index),
            Owner::Waiter(w) => Wake::Waiter(w.clone()),
        };
        latch.state.store(value, Ordering::Release);
        match wake {
            // SAFETY: the registry is kept alive by the caller (contract above).
            Wake::SamePool(registry, index) => unsafe { (*registry).sleep.unpark(index) },
            Wake::Waiter(w) => w.wake(),
        }
    }
}
