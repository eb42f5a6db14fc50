//! The state one completion service shares with the completion hooks of its
//! tasks: the queue of results, the registry of tasks maybe not done, the waiters,
//! and the counters.
//!
//! ## Who touches what
//!
//! Everything behind the one mutex (`State`) is touched only under it; the
//! counters are atomics so that a waiter can test its condition without the lock.
//!
//! * `pending` counts accepted tasks whose result was not delivered yet. `submit`
//!   increments it *before* handing the task to the executor (so the hook's
//!   decrement can never come first) and decrements it itself only when the
//!   executor refuses the task; the hook decrements it under the lock, in the same
//!   critical section that pushes the result. So, under the lock, "queue empty and
//!   `pending == 0`" means nothing is outstanding: `take` returns `None`.
//! * `ready` mirrors the queue's length (stored under the lock after each change).
//! * `registry` holds the `TaskRef` of every accepted task that may not be done,
//!   for `cancel`, `cancel_all` and drop. It has a lock of its own, which the
//!   hooks never take: `submit` appends *after* the executor accepted the task,
//!   entries of done tasks go stale and are pruned later (see `registry`).
//! * `in_flight` (bounded modes only) counts the tasks a bound applies to: a
//!   submitter takes a permit with a CAS before queuing. Which event returns it
//!   is the bound's kind ([`Release`]): `bounded` ("results not yet taken") has
//!   a consumer return permits under the lock when it takes results;
//!   `bounded_in_flight` ("tasks not yet finished") has the completion hook
//!   return the task's permit under the lock, in the critical section that
//!   queues its result, so a submitter waits for a task to *finish*, never for
//!   a consumer (the consumer may be that submitter: a crawler's loop).
//! * `closed` is set by the service's drop: from then on a hook drops its result
//!   instead of queuing it, so no result stays in an unreachable queue.
//!
//! ## Helping
//!
//! A helping service's untimed consumer outside the pool (`take`, the blocking
//! iterators) does not park while the registry's newest entry is a task that
//! has not started: it claims that task (`TaskRef::try_run`, the
//! `Pending → Running` CAS a worker makes) and runs it, then looks at the
//! queue again. Its own result arrives through the hook like any other, so
//! the accounting above is unchanged, and the claim makes the pool's queued
//! job a tombstone, so the task still runs once. It stops helping (and spins,
//! then parks, as below) when the newest entry is running, when the claim
//! loses to a worker, when the entry is an async task (never run inline), or
//! when the pool is shut down.
//!
//! Why the newest: the workers take the oldest jobs first, so the newest is
//! the one least likely to be claimed by a worker meanwhile, and done entries
//! at the tail (the consumer's own, mostly) are popped on the way, so the
//! scan is amortized O(1) per task.
//!
//! ## Exactly-once delivery
//!
//! `executor-futures` calls a task's completion hook exactly once, whatever the
//! ending (value, panic, cancel before or while running, job dropped unrun). The
//! hook pushes exactly one `Completed` under the lock, and a consumer removes it
//! under the lock: each result is delivered to exactly one consumer, once. A
//! consumer dropped with results it did not hand out gives them back under the
//! lock (`give_back`, merged by their delivery number `seq`), so they are
//! removed again later, still once each; in a bounded service their permits
//! are taken again with them (`in_flight` may then exceed the capacity for a
//! while: submitters wait until it is below again). A
//! rejected submission never gets a hook (the executor never accepted it), and
//! `submit` undoes its reservation. Waking follows the protocol in `waitlist`.

use crate::completed::{take_run_record, Completed};
use crate::registry::Registry;
use crate::waitlist::{spin_until, Notifier, WaitList, Wakeups};
use executor_core::integration::Waiter;
use executor_core::PoolRef;
use executor_futures::{TaskError, TaskHandle, TaskRef};
use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

pub(crate) struct State<T> {
    queue: VecDeque<Completed<T>>,
    /// The next delivery's `Completed::seq`.
    delivered: u64,
    takers: WaitList,
    submitters: WaitList,
    closed: bool,
}

/// How long a consumer is prepared to wait.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Block {
    /// Not at all (`poll`).
    No,
    /// Until the deadline, or forever with `None`.
    Until(Option<Instant>),
}

/// When a bounded service gives a task's permit back (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    /// When a consumer takes the task's result (`bounded`).
    OnTake,
    /// When the task finishes (`bounded_in_flight`).
    OnFinish,
}

pub(crate) struct Shared<T> {
    state: Mutex<State<T>>,
    /// Not behind `state`: submitting never takes the lock the hooks deliver under.
    registry: Registry,
    pending: AtomicUsize,
    ready: AtomicUsize,
    in_flight: AtomicUsize,
    cap: Option<usize>,
    release: Release,
    /// Advanced by every wake of a consumer / a submitter (see `WaitList::epoch`).
    taker_epoch: AtomicUsize,
    submitter_epoch: AtomicUsize,
}

/// The places a batch being built holds in the pending count: its iterator's
/// lower bound (capped) at once, then one per task past it. Dropping it gives
/// back the places of tasks never built (an iterator that yielded less than its
/// bound, or panicked), so `pending` always counts exactly the built tasks,
/// each of which gets its completion hook or a refusal.
pub(crate) struct Reservation<'a, T> {
    shared: &'a Shared<T>,
    reserved: Cell<usize>,
    built: Cell<usize>,
}

impl<'a, T> Reservation<'a, T> {
    /// Past this many, places are reserved one by one: a lying `size_hint`
    /// must not overflow the count.
    const UPFRONT_MAX: usize = 1 << 20;

    /// Unbounded services only: giving places back also returns permits in a
    /// bounded one, which takes no batch reservation (it submits one by one).
    pub(crate) fn new(shared: &'a Shared<T>, lower_bound: usize) -> Self {
        debug_assert!(
            shared.cap().is_none(),
            "a bounded service submits one by one"
        );
        let upfront = lower_bound.min(Self::UPFRONT_MAX);
        shared.reserve(upfront);
        Reservation {
            shared,
            reserved: Cell::new(upfront),
            built: Cell::new(0),
        }
    }

    /// One more task is being built: reserve its place if it has none yet.
    #[inline]
    pub(crate) fn built_one(&self) {
        let built = self.built.get() + 1;
        self.built.set(built);
        if built > self.reserved.get() {
            self.shared.reserve(1);
            self.reserved.set(built);
        }
    }

    /// The tasks built so far.
    pub(crate) fn built(&self) -> usize {
        self.built.get()
    }
}

impl<T> Drop for Reservation<'_, T> {
    fn drop(&mut self) {
        let unused = self.reserved.get() - self.built.get();
        if unused > 0 {
            self.shared.unreserve(unused);
        }
    }
}

/// Puts `items` (in delivery order, taken from the queue earlier) back into
/// `queue` so that the whole is in delivery order again. Usually every item is
/// older than the queue's front (the consumer took the queue's front part);
/// two consumers giving back in either order need the merge.
fn merge_front<T>(queue: &mut VecDeque<Completed<T>>, mut items: VecDeque<Completed<T>>) {
    let (Some(last), Some(front)) = (items.back(), queue.front()) else {
        if queue.is_empty() {
            *queue = items;
        }
        return;
    };
    if last.seq < front.seq {
        if items.len() <= queue.len() {
            while let Some(item) = items.pop_back() {
                queue.push_front(item);
            }
        } else {
            items.append(queue);
            *queue = items;
        }
        return;
    }
    let mut old = std::mem::take(queue);
    queue.reserve(old.len() + items.len());
    loop {
        let next = match (items.front(), old.front()) {
            (Some(a), Some(b)) if a.seq < b.seq => items.pop_front(),
            (Some(_), Some(_)) => old.pop_front(),
            (Some(_), None) => items.pop_front(),
            (None, Some(_)) => old.pop_front(),
            (None, None) => break,
        };
        queue.extend(next);
    }
}

/// Runs `f`, catching a panic (a user value's `Drop`): it must not unwind through
/// a completion hook or the service's drop.
pub(crate) fn quietly(f: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        tracing::error!(
            panic.message = executor_core::integration::payload_message(&*payload)
                .unwrap_or("<non-string payload>"),
            "dropping a task's result panicked; the panic was caught"
        );
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    }
}

impl<T> Shared<T> {
    pub(crate) fn new(cap: Option<usize>) -> Shared<T> {
        Self::with_release(cap, Release::OnTake)
    }

    pub(crate) fn with_release(cap: Option<usize>, release: Release) -> Shared<T> {
        Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                delivered: 0,
                takers: WaitList::default(),
                submitters: WaitList::default(),
                closed: false,
            }),
            registry: Registry::default(),
            pending: AtomicUsize::new(0),
            ready: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            cap,
            release,
            taker_epoch: AtomicUsize::new(0),
            submitter_epoch: AtomicUsize::new(0),
        }
    }

    /// Locks the state, ignoring poison: no user code runs under this lock
    /// (results are dropped and wakers woken after it is released).
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn cap(&self) -> Option<usize> {
        self.cap
    }

    pub(crate) fn release(&self) -> Release {
        self.release
    }

    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Pending plus ready, consistent with each other (read under the lock,
    /// where a hook moves a task from one to the other).
    pub(crate) fn outstanding(&self) -> usize {
        let st = self.lock();
        self.pending.load(Ordering::Acquire) + st.queue.len()
    }

    pub(crate) fn ready(&self) -> usize {
        self.ready.load(Ordering::Acquire)
    }

    // ---- submitting -------------------------------------------------------

    /// Bounded mode: takes a permit if one is free.
    #[inline]
    pub(crate) fn try_acquire(&self) -> bool {
        let Some(cap) = self.cap else { return true };
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .is_ok()
    }

    fn free_permits(&self, cap: usize) -> usize {
        cap.saturating_sub(self.in_flight.load(Ordering::Acquire))
    }

    /// Bounded mode: takes a permit, waiting (on a worker, by `wait_until`'s rule) until one is
    /// returned by a consumer.
    #[inline]
    pub(crate) fn acquire(&self) {
        if self.cap.is_some() && !self.try_acquire() {
            self.acquire_slow();
        }
    }

    #[inline(never)]
    fn acquire_slow(&self) {
        let Some(cap) = self.cap else { return };
        let mut key = None;
        loop {
            let mut st = self.lock();
            let stale = st.submitters.arrive(key.take());
            if self.try_acquire() {
                // Pass on permits that remain to other registered submitters.
                let mut wake = Wakeups::default();
                st.submitters
                    .notify(self.free_permits(cap), &self.submitter_epoch, &mut wake);
                drop(st);
                drop(stale);
                wake.wake();
                return;
            }
            key = Some(st.submitters.register(Notifier::Thread(Waiter::current())));
            let epoch = WaitList::epoch(&self.submitter_epoch);
            drop(st);
            drop(stale);
            let _ = executor_core::integration::wait_until(
                || {
                    WaitList::epoch(&self.submitter_epoch) != epoch
                        || self.in_flight.load(Ordering::Acquire) < cap
                },
                None,
            );
        }
    }

    /// Reserves places for `n` tasks about to be handed to the executor.
    pub(crate) fn reserve(&self, n: usize) {
        self.pending.fetch_add(n, Ordering::AcqRel);
    }

    /// The executor refused `n` reserved tasks: undo their `reserve` (and, in a
    /// bounded service, their permits).
    pub(crate) fn unreserve(&self, n: usize) {
        let mut wake = Wakeups::default();
        let mut st = self.lock();
        if self.pending.fetch_sub(n, Ordering::AcqRel) == n {
            // Consumers that waited for these tasks learn that nothing is outstanding.
            st.takers.notify_all(&self.taker_epoch, &mut wake);
        }
        if let Some(cap) = self.cap {
            self.in_flight.fetch_sub(n, Ordering::AcqRel);
            st.submitters
                .notify(self.free_permits(cap), &self.submitter_epoch, &mut wake);
        }
        drop(st);
        wake.wake();
    }

    /// The executor accepted the task: remember it for cancelling (see
    /// `registry`: the entry may be, or become, stale; that is harmless).
    #[inline]
    pub(crate) fn register(&self, task: TaskRef) {
        self.registry
            .push(task, || self.pending.load(Ordering::Relaxed));
    }

    /// `register` for a batch.
    pub(crate) fn register_all(&self, tasks: Vec<TaskRef>) {
        self.registry
            .append(tasks, || self.pending.load(Ordering::Relaxed));
    }

    /// The completion hook of every task: turns the done handle into a
    /// [`Completed`] and delivers it.
    pub(crate) fn complete(&self, handle: TaskHandle<T>, submitted: Instant) {
        let id = handle.id();
        // The handle is done: `get` returns at once.
        let result = handle.get();
        let run = match result {
            Err(TaskError::Cancelled) => None,
            _ => take_run_record(),
        };
        self.deliver(Completed::new(id, result, submitted, run));
    }

    fn deliver(&self, mut item: Completed<T>) {
        let mut st = self.lock();
        if st.closed {
            drop(st);
            quietly(move || drop(item));
            return;
        }
        item.seq = st.delivered;
        st.delivered += 1;
        st.queue.push_back(item);
        let ready = st.queue.len();
        self.ready.store(ready, Ordering::Release);
        let mut wake = Wakeups::default();
        // Before the permit goes back: a submitter that gets the permit and
        // raises `pending` must not see this task still counted (the in-flight
        // bound is on `pending`, which would read cap + 1 for a moment).
        let last = self.pending.fetch_sub(1, Ordering::AcqRel) == 1;
        if let (Some(cap), Release::OnFinish) = (self.cap, self.release) {
            // The task finished: its permit goes back now, not at `take`.
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            st.submitters
                .notify(self.free_permits(cap), &self.submitter_epoch, &mut wake);
        }
        if last {
            // The last outstanding task: every consumer must look (one takes the
            // result, the others learn that nothing more is coming).
            st.takers.notify_all(&self.taker_epoch, &mut wake);
        } else {
            st.takers.notify(ready, &self.taker_epoch, &mut wake);
        }
        drop(st);
        wake.wake();
    }

    // ---- consuming --------------------------------------------------------

    /// After `n` results were removed from the queue under the lock: update the
    /// mirror, hand remaining results to other waiting consumers, return permits.
    fn after_take(&self, st: &mut State<T>, n: usize) -> Wakeups {
        let ready = st.queue.len();
        self.ready.store(ready, Ordering::Release);
        let mut wake = Wakeups::default();
        st.takers.notify(ready, &self.taker_epoch, &mut wake);
        if let (Some(cap), Release::OnTake) = (self.cap, self.release) {
            self.in_flight.fetch_sub(n, Ordering::AcqRel);
            st.submitters
                .notify(self.free_permits(cap), &self.submitter_epoch, &mut wake);
        }
        wake
    }

    /// Waits per `block` until a result is ready, then lets `grab` remove one or
    /// more from the (non-empty) queue under the lock. `None` when nothing is
    /// outstanding, or the wait ended first. With `help` (a helping service), an
    /// untimed wait outside the pool runs this service's queued tasks first
    /// (module docs, "Helping").
    pub(crate) fn recv<R>(
        &self,
        block: Block,
        help: Option<&PoolRef>,
        mut grab: impl FnMut(&mut VecDeque<Completed<T>>) -> R,
    ) -> Option<R> {
        let mut key = None;
        // A thread outside the pool spins once before its first registration
        // (see `waitlist`); a worker first runs the tasks it queued itself
        // (`wait_until`).
        let outside = executor_core::current_thread_index().is_none();
        let mut may_spin = outside;
        let mut help = help.filter(|_| outside && matches!(block, Block::Until(None)));
        loop {
            let mut st = self.lock();
            let stale = st.takers.arrive(key.take());
            if !st.queue.is_empty() {
                let before = st.queue.len();
                let r = grab(&mut st.queue);
                let taken = before - st.queue.len();
                let wake = self.after_take(&mut st, taken);
                drop(st);
                drop(stale);
                wake.wake();
                return Some(r);
            }
            let deadline = match block {
                Block::No => return None,
                Block::Until(d) => d,
            };
            if self.pending.load(Ordering::Acquire) == 0
                || deadline.is_some_and(|d| Instant::now() >= d)
            {
                return None;
            }
            if let Some(pool) = help {
                drop(st);
                drop(stale);
                if !self.help_once(pool) {
                    help = None;
                }
                continue;
            }
            if may_spin {
                may_spin = false;
                drop(st);
                drop(stale);
                spin_until(
                    || {
                        self.ready.load(Ordering::Acquire) > 0
                            || self.pending.load(Ordering::Acquire) == 0
                    },
                    deadline,
                );
                continue;
            }
            key = Some(st.takers.register(Notifier::Thread(Waiter::current())));
            let epoch = WaitList::epoch(&self.taker_epoch);
            drop(st);
            drop(stale);
            let _ = executor_core::integration::wait_until(
                || {
                    WaitList::epoch(&self.taker_epoch) != epoch
                        || self.ready.load(Ordering::Acquire) > 0
                        || self.pending.load(Ordering::Acquire) == 0
                },
                deadline,
            );
        }
    }

    /// Runs the newest of the service's tasks that has not started, on this
    /// thread, unless `pool` is shut down. False if it ran none.
    fn help_once(&self, pool: &PoolRef) -> bool {
        if pool.is_shutdown() {
            return false;
        }
        match self.registry.newest_pending() {
            Some(task) => task.try_run(),
            None => false,
        }
    }

    /// The async `recv`: moves every ready result into `buf` (which must be
    /// empty), or registers `cx`'s waker under `key`. `Ready(false)` when nothing
    /// is outstanding.
    pub(crate) fn poll_recv(
        &self,
        key: &mut Option<u64>,
        buf: &mut VecDeque<Completed<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<bool> {
        debug_assert!(buf.is_empty());
        let mut st = self.lock();
        if !st.queue.is_empty() {
            let stale = st.takers.arrive(key.take());
            // Drain all: one swap, and `buf`'s old allocation becomes the queue.
            std::mem::swap(&mut st.queue, buf);
            let wake = self.after_take(&mut st, buf.len());
            drop(st);
            drop(stale);
            wake.wake();
            return Poll::Ready(true);
        }
        if self.pending.load(Ordering::Acquire) == 0 {
            let stale = st.takers.arrive(key.take());
            drop(st);
            drop(stale);
            return Poll::Ready(false);
        }
        if let Some(k) = *key {
            if let Some(replaced) = st.takers.update_waker(k, cx.waker()) {
                drop(st);
                drop(replaced);
                return Poll::Pending;
            }
            // Woken, and back: nothing for us after all (another consumer took it).
            let stale = st.takers.arrive(Some(k));
            debug_assert!(stale.is_none());
        }
        *key = Some(st.takers.register(Notifier::Task(cx.waker().clone())));
        Poll::Pending
    }

    /// A consumer goes away (dropped, or unwinding): its results not handed out
    /// go back into the queue, merged in delivery order, and count as
    /// outstanding (and, in a bounded service, against the capacity) again; a
    /// stream registered under `key` leaves the wait list, or if it was woken,
    /// passes the wake-up on. See "Giving back" in `iter`.
    pub(crate) fn give_back(&self, key: Option<u64>, items: VecDeque<Completed<T>>) {
        if key.is_none() && items.is_empty() {
            return;
        }
        let mut st = self.lock();
        let stale = st.takers.arrive(key);
        if st.closed {
            // Not reached by the crate's consumers (they give back before the
            // service closes); kept so that no result stays in a dead queue.
            drop(st);
            drop(stale);
            quietly(move || drop(items));
            return;
        }
        let n = items.len();
        merge_front(&mut st.queue, items);
        let ready = st.queue.len();
        self.ready.store(ready, Ordering::Release);
        if n > 0 && self.cap.is_some() {
            // Their permits were returned when the consumer took them.
            self.in_flight.fetch_add(n, Ordering::AcqRel);
        }
        let mut wake = Wakeups::default();
        st.takers.notify(ready, &self.taker_epoch, &mut wake);
        drop(st);
        drop(stale);
        wake.wake();
    }

    // ---- cancelling and closing -------------------------------------------

    /// The task with this id, if it is accepted and not done.
    pub(crate) fn task(&self, id: u64) -> Option<TaskRef> {
        self.registry.find(id)
    }

    /// Takes every task out of the registry (some may be done already).
    pub(crate) fn take_tasks(&self) -> Vec<TaskRef> {
        self.registry.take_all()
    }

    /// The service is dropped: stop queuing, and hand back what is queued and
    /// what has not finished.
    pub(crate) fn close(&self) -> (Vec<TaskRef>, VecDeque<Completed<T>>) {
        let mut st = self.lock();
        st.closed = true;
        self.ready.store(0, Ordering::Release);
        let queue = std::mem::take(&mut st.queue);
        drop(st);
        (self.registry.take_all(), queue)
    }

    /// The number of consumers blocked right now (for `Debug`).
    pub(crate) fn waiting(&self) -> (usize, usize) {
        let st = self.lock();
        (st.takers.len(), st.submitters.len())
    }
}
