//! Who is waiting for what, and whom to wake: the wake-up protocol shared by the
//! consumers of a [`CompletionService`](crate::CompletionService) (`take`,
//! `poll_timeout`, the iterator, the stream) and by the submitters that a bounded
//! service makes wait for room.
//!
//! ## The protocol
//!
//! A waiter is a blocked thread ([`Waiter`]; a pool worker waits by
//! `executor_core::integration::wait_until`'s rule) or an async task ([`Waker`]). Everything below happens under the
//! service's one mutex:
//!
//! 1. A waiter that finds nothing to take **registers** (gets a key) and releases
//!    the lock, then waits until a cheap atomic condition holds, or until the
//!    list's *epoch* (advanced by every wake) moved since it registered: a woken
//!    waiter must always come back (step 3), see [`WaitList::epoch`]. Because it
//!    registered under the lock, whoever makes a unit available after that (a
//!    result delivered, a permit released) sees the registration.
//! 2. Whoever makes units available calls [`WaitList::notify`]: it wakes
//!    registered waiters (oldest first) until as many are *on their way* as there
//!    are units, and no more. A woken waiter's entry is removed and counted in
//!    `woken` until it comes back.
//! 3. A waiter coming back under the lock **arrives** ([`WaitList::arrive`]): if
//!    its entry is still registered (spurious wake-up, timeout, or it simply found
//!    work first) the entry is removed; otherwise it was woken and `woken` drops
//!    by one. Then it takes a unit if there is one, and calls `notify` again,
//!    because units may remain that no woken waiter is heading for.
//!
//! Invariant, true whenever the lock is free: *if units are available and a
//! waiter is registered, then at least as many woken waiters are on their way as
//! there are units* (`available ≤ woken` or nobody is registered). Hence no
//! wake-up is lost (a unit never sits while a registered waiter sleeps), and a
//! unit costs at most one wake-up (no thundering herd). A waiter that gives up
//! (timeout, dropped stream) also arrives, which passes its wake-up on.
//!
//! Wakes happen after the lock is released (they may run a foreign waker's code).
//!
//! Before step 1, a blocking consumer that is not a pool worker first spins a
//! little ([`spin_until`]) without registering: a result that arrives meanwhile
//! is taken with no park, no unpark syscall on the finishing worker, and no
//! wait for a CPU after being woken. The spin is outside the protocol (nothing
//! is registered, nothing can be lost): it only re-checks atomics, then goes
//! back under the lock.

use executor_core::integration::Waiter;
use std::collections::VecDeque;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Waker;

pub(crate) use executor_core::integration::spin_until;

/// Whom to wake: a thread (or pool worker) or an async task.
pub(crate) enum Notifier {
    Thread(Waiter),
    Task(Waker),
}

impl Notifier {
    pub(crate) fn wake(self) {
        match self {
            Notifier::Thread(w) => w.wake(),
            Notifier::Task(w) => {
                // A waker is foreign code: its panic must not unwind through us
                // (we may be a task's completion hook on a pool worker).
                if catch_unwind(AssertUnwindSafe(move || w.wake())).is_err() {
                    tracing::error!("a Waker panicked while being woken; the panic was caught");
                }
            }
        }
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notifier::Thread(w) => f.debug_tuple("Thread").field(w).finish(),
            Notifier::Task(_) => f.write_str("Task"),
        }
    }
}

/// Notifiers collected under the lock, woken after it is released. The first one
/// is stored inline: the common case (one waiter) does not allocate.
#[derive(Default)]
pub(crate) struct Wakeups {
    first: Option<Notifier>,
    rest: Vec<Notifier>,
}

impl Wakeups {
    fn push(&mut self, n: Notifier) {
        if self.first.is_none() {
            self.first = Some(n);
        } else {
            self.rest.push(n);
        }
    }

    /// Wakes everyone collected. Call with no lock held.
    pub(crate) fn wake(self) {
        if let Some(n) = self.first {
            n.wake();
        }
        for n in self.rest {
            n.wake();
        }
    }
}

/// The registered waiters of one kind (consumers, or blocked submitters).
#[derive(Default)]
pub(crate) struct WaitList {
    entries: VecDeque<(u64, Notifier)>,
    next_key: u64,
    /// Woken waiters that have not come back yet (step 2 of the protocol).
    woken: usize,
}

impl WaitList {
    /// Registers `n`; the key identifies the registration for `arrive`.
    pub(crate) fn register(&mut self, n: Notifier) -> u64 {
        let key = self.next_key;
        self.next_key += 1;
        self.entries.push_back((key, n));
        key
    }

    /// True if registration `key` is still waiting to be woken.
    #[cfg(test)]
    pub(crate) fn is_registered(&self, key: u64) -> bool {
        self.entries.iter().any(|(k, _)| *k == key)
    }

    /// Points a still-registered task's entry at `waker` (Rust's "wake the latest
    /// waker" rule). `None` if the entry was woken (it is no longer registered);
    /// otherwise `Some` of the replaced notifier, if any, to drop after the lock.
    pub(crate) fn update_waker(&mut self, key: u64, waker: &Waker) -> Option<Option<Notifier>> {
        let (_, n) = self.entries.iter_mut().find(|(k, _)| *k == key)?;
        if matches!(n, Notifier::Task(w) if w.will_wake(waker)) {
            return Some(None);
        }
        Some(Some(std::mem::replace(n, Notifier::Task(waker.clone()))))
    }

    /// The waiter of registration `key` is back under the lock (step 3). Returns
    /// the notifier of a still-registered entry, to be dropped after the lock.
    pub(crate) fn arrive(&mut self, key: Option<u64>) -> Option<Notifier> {
        let key = key?;
        match self.entries.iter().position(|(k, _)| *k == key) {
            Some(i) => self.entries.remove(i).map(|(_, n)| n),
            None => {
                debug_assert!(self.woken > 0, "a woken waiter arrived twice");
                self.woken = self.woken.saturating_sub(1);
                None
            }
        }
    }

    /// Wakes registered waiters until `available` woken ones are on their way,
    /// and advances `epoch` if it woke any (see [`WaitList::epoch`]).
    pub(crate) fn notify(&mut self, available: usize, epoch: &AtomicUsize, out: &mut Wakeups) {
        let before = self.woken;
        while self.woken < available {
            let Some((_, n)) = self.entries.pop_front() else {
                break;
            };
            self.woken += 1;
            out.push(n);
        }
        if self.woken != before {
            epoch.fetch_add(1, Ordering::Release);
        }
    }

    /// Wakes every registered waiter (the condition changed for all of them).
    pub(crate) fn notify_all(&mut self, epoch: &AtomicUsize, out: &mut Wakeups) {
        if self.entries.is_empty() {
            return;
        }
        self.woken += self.entries.len();
        for (_, n) in self.entries.drain(..) {
            out.push(n);
        }
        epoch.fetch_add(1, Ordering::Release);
    }

    /// Why a blocked thread needs an epoch: a woken thread's entry is gone, so it
    /// must come back under the lock (arrive, then re-register if need be) even
    /// if what it was woken for is gone again (another consumer took it); if it
    /// went back to sleep instead, it would wait unregistered and its wake-up
    /// would stay counted in `woken`: a lost wake-up. So a blocked thread reads
    /// `epoch` when it registers (under the lock) and waits until it changes
    /// (every wake advances it before unparking), or its own condition holds.
    /// A thread woken for nothing by another waiter's epoch change re-checks and
    /// waits again: harmless.
    pub(crate) fn epoch(epoch: &AtomicUsize) -> usize {
        epoch.load(Ordering::Acquire)
    }

    /// The number of registered (not yet woken) waiters.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

impl fmt::Debug for WaitList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitList")
            .field("registered", &self.entries.len())
            .field("woken", &self.woken)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn one_wake_per_unit_and_hand_off_on_arrival() {
        let epoch = AtomicUsize::new(0);
        let mut list = WaitList::default();
        let (a, wa) = waker();
        let (b, wb) = waker();
        let ka = list.register(Notifier::Task(wa));
        let kb = list.register(Notifier::Task(wb));
        let mut out = Wakeups::default();
        list.notify(1, &epoch, &mut out);
        out.wake();
        assert_eq!(a.0.load(Ordering::SeqCst), 1, "oldest first");
        assert_eq!(b.0.load(Ordering::SeqCst), 0, "one unit, one wake");
        // Still one unit, one waiter on its way: no further wake.
        let mut out = Wakeups::default();
        list.notify(1, &epoch, &mut out);
        out.wake();
        assert_eq!(b.0.load(Ordering::SeqCst), 0);
        // A arrives without taking it (say it timed out): B must be woken now.
        assert!(list.arrive(Some(ka)).is_none());
        let mut out = Wakeups::default();
        list.notify(1, &epoch, &mut out);
        out.wake();
        assert_eq!(b.0.load(Ordering::SeqCst), 1);
        assert!(!list.is_registered(kb));
        assert!(list.arrive(Some(kb)).is_none());
        assert_eq!((list.len(), list.woken), (0, 0));
        assert_eq!(
            WaitList::epoch(&epoch),
            2,
            "one advance per notify that woke"
        );
    }

    #[test]
    fn registered_arrival_removes_the_entry_and_notify_all_counts_everyone() {
        let epoch = AtomicUsize::new(0);
        let mut list = WaitList::default();
        let (_, w) = waker();
        let k = list.register(Notifier::Task(w.clone()));
        assert!(
            matches!(list.update_waker(k, &w), Some(None)),
            "same waker kept"
        );
        assert!(list.arrive(Some(k)).is_some());
        assert_eq!(list.len(), 0);
        list.register(Notifier::Task(w.clone()));
        list.register(Notifier::Task(w));
        let mut out = Wakeups::default();
        list.notify_all(&epoch, &mut out);
        assert_eq!((list.len(), list.woken), (0, 2));
        assert_eq!(WaitList::epoch(&epoch), 1, "a wake advances the epoch");
    }
}
