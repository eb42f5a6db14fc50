//! The tasks a completion service may still have to cancel: what `cancel(id)`,
//! `cancel_all` and the service's drop need, and nothing more.
//!
//! ## Why not a map kept exact by the hooks
//!
//! An exact registry (insert on submit, remove in the completion hook) puts a
//! locked map operation on the submit path *and* in every hook, and makes the
//! submitter and the workers contend on one lock per task. Here:
//!
//! * `submit` **appends** the task's `TaskRef` (moved, not cloned: `submit_with`
//!   returns it) to a `Vec` behind a lock of its own, on its own cache line;
//!   `submit_all` appends a whole batch under one lock.
//!   Only submitters, `cancel`, `cancel_all` and the drop touch it, so with one
//!   submitting thread the lock is uncontended and stays in that thread's cache.
//! * The completion hooks **never touch it**: an entry of a task that is done
//!   simply goes stale. Cancelling a done task is a no-op that returns false, so
//!   a stale entry never changes what `cancel`, `cancel_all` or the drop do.
//! * Stale entries are **pruned** by the append that passes `prune_at`: it keeps
//!   the entries not done, drops the rest (after releasing the lock), and sets
//!   `prune_at` to twice what remained (at least [`MIN_PRUNE`]). It does not
//!   even scan while the entries are fewer than twice the service's pending
//!   count (an upper bound on the tasks not done): it doubles `prune_at`
//!   instead. Memory stays within four times the pending tasks plus
//!   [`MIN_PRUNE`], and each append pays amortized O(1) for pruning. A stale
//!   entry only keeps a finished task cell alive (its closure and its output
//!   are gone already).
//!
//! Nothing is lost: an entry is removed only by a prune or by a helping
//! consumer's look at the tail (the task is done: its hook runs or ran, and
//! cancelling it would do nothing), by `cancel_all` or by the drop (which
//! cancel what they remove). `cancel(id)` scans the entries
//! (linear in the entries).

use executor_futures::{TaskRef, TaskState};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The smallest prune threshold: below it, a prune would cost more than the
/// memory it frees.
const MIN_PRUNE: usize = 64;

/// Keeps the registry's lock off the cache lines the hooks write (128 bytes:
/// adjacent-line prefetching pairs 64-byte lines on x86).
#[repr(align(128))]
struct Padded<X>(X);

struct Entries {
    tasks: Vec<TaskRef>,
    prune_at: usize,
}

/// Accepted tasks, possibly done (see the module docs).
pub(crate) struct Registry {
    entries: Padded<Mutex<Entries>>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            entries: Padded(Mutex::new(Entries {
                tasks: Vec::new(),
                prune_at: MIN_PRUNE,
            })),
        }
    }
}

impl Registry {
    /// Locks the entries, ignoring poison: no user code runs under this lock
    /// (removed entries are dropped after it is released).
    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers an accepted task. `live_bound` is an upper bound on the tasks
    /// not done (the service's pending count): when the entries are fewer than
    /// twice that, a prune could free at most half of them, so the threshold is
    /// doubled without a scan (a burst of submissions never scans).
    #[inline]
    pub(crate) fn push(&self, task: TaskRef, live_bound: impl FnOnce() -> usize) {
        let mut e = self.lock();
        e.tasks.push(task);
        Self::maybe_prune(e, live_bound);
    }

    /// Remembers a batch of accepted tasks, like [`push`](Registry::push). An
    /// empty registry takes the batch's `Vec` as it is.
    pub(crate) fn append(&self, mut tasks: Vec<TaskRef>, live_bound: impl FnOnce() -> usize) {
        let mut e = self.lock();
        if e.tasks.is_empty() {
            std::mem::swap(&mut e.tasks, &mut tasks);
        } else {
            e.tasks.append(&mut tasks);
        }
        Self::maybe_prune(e, live_bound);
        drop(tasks); // empty, maybe with the old allocation: freed after the lock
    }

    /// The prune rule of the module docs, after an append.
    #[inline]
    fn maybe_prune(mut e: MutexGuard<'_, Entries>, live_bound: impl FnOnce() -> usize) {
        if e.tasks.len() <= e.prune_at {
            return;
        }
        if e.tasks.len() < 2 * live_bound() {
            e.prune_at = 2 * e.tasks.len();
            return;
        }
        // In place, keeping submission order (`take_all`'s users rely on it).
        let mut kept = 0;
        for i in 0..e.tasks.len() {
            if !e.tasks[i].is_done() {
                e.tasks.swap(kept, i);
                kept += 1;
            }
        }
        let done = e.tasks.split_off(kept);
        e.prune_at = (2 * e.tasks.len()).max(MIN_PRUNE);
        drop(e);
        drop(done);
    }

    /// The entry of task `id`, if it is there and not done.
    pub(crate) fn find(&self, id: u64) -> Option<TaskRef> {
        self.lock()
            .tasks
            .iter()
            .find(|t| t.id().as_u64() == id && !t.is_done())
            .cloned()
    }

    /// The newest entry, if it has not started; done entries at the tail are
    /// removed on the way (which the module docs allow: they are done). For a
    /// helping consumer (`shared.rs`, "Helping").
    pub(crate) fn newest_pending(&self) -> Option<TaskRef> {
        let mut e = self.lock();
        let mut done = Vec::new();
        let newest = loop {
            match e.tasks.last() {
                Some(task) if task.is_done() => done.extend(e.tasks.pop()),
                Some(task) if task.state() == TaskState::Pending => break Some(task.clone()),
                _ => break None,
            }
        };
        drop(e);
        drop(done);
        newest
    }

    /// Removes every entry (some may be done), in submission order.
    pub(crate) fn take_all(&self) -> Vec<TaskRef> {
        let mut e = self.lock();
        e.prune_at = MIN_PRUNE;
        std::mem::take(&mut e.tasks)
    }

    /// The number of entries (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().tasks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use executor_core::integration::InlineExecutor;
    use executor_futures::ExecutorService;

    #[test]
    fn done_entries_are_pruned_and_live_ones_kept() {
        let reg = Registry::default();
        let pool = executor_core::ThreadPool::new(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // One task that stays running, then many that finish at once (inline).
        let blocked = pool
            .submit_with(move || rx.recv().unwrap(), |_| ())
            .unwrap();
        let blocked_id = blocked.id().as_u64();
        reg.push(blocked, || 1);
        for i in 0..10 * MIN_PRUNE {
            reg.push(InlineExecutor.submit_with(move || i, |_| ()).unwrap(), || 1);
            assert!(reg.len() <= 2 * MIN_PRUNE, "pruned as it grows");
        }
        assert!(reg.find(blocked_id).is_some(), "the live task was kept");
        tx.send(()).unwrap();
        let all = reg.take_all();
        assert!(!all.is_empty());
        assert_eq!(reg.len(), 0);
    }
}
