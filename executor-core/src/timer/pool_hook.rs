//! The hook between a pool's lifecycle and its timer: what `shutdown`,
//! `shutdown_now` and termination do to delayed jobs, and how pending ones hold
//! termination (Java's `ScheduledThreadPoolExecutor` shutdown policies).
//!
//! ```text
//!                 pending delayed job (a job entry of the pool's timer)
//!   shutdown() ──┬─ execute_delayed_after_shutdown(true) (default): kept, runs when due;
//!                │    the workers do not exit while one is pending (they sleep)
//!                ├─ execute_delayed_after_shutdown(false): dropped unrun (task cancelled)
//!                └─ due never: dropped unrun (it could never run)
//!   shutdown_now() ─ every pending job (and any the stopped pool refused, and the fired
//!                    ones no worker took) is handed back with the queued jobs
//!   termination ─── the timer stops: what is left is dropped, wakers are woken,
//!                    the driver thread exits
//! ```
//!
//! Invariants:
//!
//! 1. After `shutdown`, a worker exits only when no delayed job is pending
//!    ([`PoolTimer::holds`] is false) besides the usual conditions (see
//!    `registry.rs`). A due job is pushed to the fired queue *before* the
//!    pending count drops, so a worker that reads zero sees the push (SeqCst on
//!    both; the registry counts the fired queue as visible work).
//!    A schedule counts its job *before* it checks that the pool is RUNNING, so
//!    a worker that sees SHUTDOWN after that check also sees the count: a job
//!    accepted while `shutdown` races it is held like the others.
//! 2. The count dropping to zero after `shutdown` wakes every sleeper, so the
//!    workers re-check and exit; a sleeper re-checks [`PoolTimer::holds`] after
//!    registering (the sleep protocol's store-buffer pairing), so it cannot miss
//!    the last decrement.
//! 3. The hook is the only way the registry reaches the timer; the timer made on
//!    first use (a pool that never schedules has none, and no timer thread).

use super::{Shared, Timer};
use crate::job::Job;
use crate::lifecycle::State;
use crate::registry::{quietly, Registry};
use crossbeam_deque::{Injector, Steal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// A pool's timer slot and shutdown policy (module docs).
#[derive(Default)]
pub(crate) struct PoolTimer {
    shared: OnceLock<Arc<Shared>>,
    /// `Builder::execute_delayed_after_shutdown(false)`.
    cancel_delayed_on_shutdown: AtomicBool,
    /// Due jobs handed to the workers, in deadline order, not taken yet
    /// ("Fired jobs go first" in the timer's module docs).
    fired: Injector<Job>,
}

impl std::fmt::Debug for PoolTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolTimer")
            .field("started", &self.shared.get().is_some())
            .finish_non_exhaustive()
    }
}

impl PoolTimer {
    /// The pool's timer, made on first use.
    pub(crate) fn timer(&self, registry: &Arc<Registry>) -> Timer {
        Timer::from_shared(
            self.shared
                .get_or_init(|| Shared::for_pool(Arc::downgrade(registry), &registry.name))
                .clone(),
        )
    }

    pub(crate) fn set_execute_delayed_after_shutdown(&self, execute: bool) {
        self.cancel_delayed_on_shutdown
            .store(!execute, Ordering::Relaxed);
    }

    /// Hands the due jobs of one look (deadline order) to the workers: pushed
    /// to the fired queue inside the submission handshake, accepted until STOP
    /// as a re-queue is (so `shutdown_now`'s drain, after its wait for
    /// quiescence, finds every accepted one); refused ones go to `refused`.
    /// Called under the timer's lock, before the pending count drops
    /// (invariant 1); the caller then calls [`PoolTimer::notify_fired`].
    pub(crate) fn hand_over(
        &self,
        registry: &Registry,
        jobs: &mut Vec<Job>,
        refused: &mut Vec<Job>,
    ) {
        let n = jobs.len() as u64;
        match registry.lifecycle.begin_submit_n(n, State::Shutdown) {
            Ok(()) => {
                for job in jobs.drain(..) {
                    self.fired.push(job);
                }
                registry.lifecycle.end_submit_n(n);
            }
            Err(state) => refused.extend(
                jobs.drain(..)
                    .map(|job| registry.reject(job, state).into_inner()),
            ),
        }
    }

    /// After [`PoolTimer::hand_over`], outside the timer's lock: wakes a
    /// sleeping worker unless one searches (the sleep protocol's publisher
    /// side; a woken worker that finds more fired jobs wakes the next).
    /// `on_worker`: a worker fired them ([`PoolTimer::take_fired`]) and takes
    /// one itself, so a lone job wakes nobody.
    pub(crate) fn notify_fired(&self, registry: &Registry, on_worker: bool) {
        if on_worker && self.fired.len() <= 1 {
            return;
        }
        registry.spare_wanted(registry.sleep.notify_one());
    }

    /// A fired job for a worker, before its outside work (see `worker.rs`);
    /// with none, the worker fires due timers itself if the driver is late
    /// ("Workers fire too" in the timer's module docs).
    #[inline]
    pub(crate) fn take_fired(&self) -> Option<Job> {
        if self.fired.is_empty() && !self.shared.get().is_some_and(|s| s.help_fire()) {
            return None;
        }
        self.steal_fired()
    }

    #[cold]
    fn steal_fired(&self) -> Option<Job> {
        loop {
            match self.fired.steal() {
                Steal::Success(job) => return Some(job),
                Steal::Empty => return None,
                Steal::Retry => continue,
            }
        }
    }

    /// True if a fired job waits for a worker (a snapshot; part of the
    /// registry's "work visible" for the sleep re-check and the exit test).
    #[inline]
    pub(crate) fn has_fired(&self) -> bool {
        !self.fired.is_empty()
    }

    /// Fired jobs waiting for a worker (statistics).
    pub(crate) fn fired_len(&self) -> usize {
        self.fired.len()
    }

    /// Takes the fired jobs no worker took (the registry's queue drain:
    /// `shutdown_now` hands them back, termination runs them).
    pub(crate) fn drain_fired(&self, out: &mut Vec<Job>) {
        while let Some(job) = self.steal_fired() {
            out.push(job);
        }
    }

    /// True while a delayed job is pending (invariant 1).
    #[inline]
    pub(crate) fn holds(&self) -> bool {
        self.shared.get().is_some_and(|s| s.jobs() > 0)
    }

    /// `shutdown`: drops the delayed jobs the policy does not keep (called after
    /// the state moved to SHUTDOWN: a racing schedule either got in before, and
    /// is seen here, or sees SHUTDOWN under the timer's lock and is rejected).
    pub(crate) fn on_shutdown(&self) {
        let Some(shared) = self.shared.get() else {
            return;
        };
        let cancel_all = self.cancel_delayed_on_shutdown.load(Ordering::Relaxed);
        let dropped = shared.take_jobs(|due| cancel_all || due.is_none());
        if !dropped.is_empty() {
            tracing::debug!(timer = %shared.name, count = dropped.len(), "shutdown: delayed jobs cancelled");
        }
        for job in dropped {
            quietly(move || drop(job));
        }
    }

    /// `shutdown_now` (after the state moved to STOP): every pending delayed job,
    /// and the due ones the stopped pool refused.
    pub(crate) fn drain(&self) -> Vec<Job> {
        let Some(shared) = self.shared.get() else {
            return Vec::new();
        };
        let mut jobs = std::mem::take(&mut crate::sync::lock(&shared.queue).refused);
        jobs.extend(shared.take_jobs(|_| true));
        jobs
    }

    /// Termination: the timer stops (no more entries); what is left is dropped
    /// (jobs) or woken (wakers, whose futures then register elsewhere); the driver
    /// exits.
    pub(crate) fn stop(&self) {
        let Some(shared) = self.shared.get() else {
            return;
        };
        let (entries, refused) = {
            let mut q = crate::sync::lock(&shared.queue);
            q.stopped = true;
            shared.cv.notify_all();
            (
                q.heap.take_where(|_, _| true),
                std::mem::take(&mut q.refused),
            )
        };
        let jobs = entries
            .iter()
            .filter(|e| matches!(e, super::Entry::Job(_)))
            .count();
        shared.jobs_gone(jobs);
        for entry in entries {
            match entry {
                super::Entry::Job(job) => quietly(move || drop(job)),
                super::Entry::Wake(waker) => quietly(move || waker.wake()),
            };
        }
        for job in refused {
            quietly(move || drop(job));
        }
    }
}
