//! Compensation: spare workers that keep the pool at its target parallelism
//! while some of its workers are blocked in a wait or in [`block_in_place`].
//!
//! A worker that blocks (a handle's `get`, a completion service's `take`, a
//! latch in [`block_in_place`], ...) holds its thread but runs nothing. Without
//! help, a pool whose tasks wait on each other runs below its size, or stops.
//! Like Java's `ForkJoinPool.tryCompensate` (and tokio's `block_in_place`,
//! which hands the blocked thread's core to a new thread), the pool then runs
//! a *spare* worker in its place: a thread like the others (named and hooked
//! the same way, counted in [`Stats`](crate::Stats)), with its own deque and
//! buffer, indexed after the pool's `num_threads` workers.
//!
//! ## The protocol
//!
//! ```text
//!  worker                        publisher (push, fence, look at `counts`)
//!  ──────                        ─────────────────────────────────────────
//!  blocked += 1                  nobody searching, somebody asleep → wake it
//!  needy token (Sleep::block)    nobody searching or asleep, a needy token →
//!  work visible? → compensate      take it → start_spare:
//!  ... blocks (parks) ...            reuse a free slot or make one, spawn the
//!  needy token back if one is        thread (spares += 1, capped by
//!  left (else a spare took it)       `max_spares`; a failed spawn is reported
//!  blocked -= 1                      through `tracing` and the pool carries on)
//!
//!  spare: runs the main loop like any worker; between jobs, if
//!  spares > blocked (a blocked worker resumed) it retires at once; idle for
//!  `keep_alive` it retires, leaving a needy token if the workers it stood in
//!  for still block (so the next publisher asks for a spare again).
//!
//!  a spare retired as excess does not exit: it parks on the idle list for
//!  its keep-alive, and start_spare wakes the newest parked spare before it
//!  spawns a thread (a pool whose tasks block briefly and often would
//!  otherwise create and destroy a thread per block):
//!
//!    parked spare                       start_spare (spares already += 1)
//!    push me on `idle` (lock)           pop the newest (lock), set its
//!    loop: woken? → serve again           `woken` under the lock, unpark it
//!          stopping or keep-alive over:  none parked → spawn a thread
//!            remove me (lock): found →
//!            exit; not found → a waker   shutdown / shutdown_now: unpark
//!            popped me: serve again        every parked spare (it sees the
//!          park (timeout: keep-alive)      state and exits)
//! ```
//!
//! The token handshake (who sees whom) is in `crate::sleep`; a loom model of
//! it, restated over loom's primitives, is at the bottom of this file.
//!
//! * A spare never takes the place of a worker that is not blocked, so the
//!   pool runs at most `num_threads` jobs at once plus the brief overlap after
//!   a blocked worker resumes and before its spare's current job ends.
//! * A spare cap of 0 turns compensation off: blocked waits just block. Then a
//!   pool whose every worker waits for work still queued behind them stops
//!   (deadlock); waits still run the jobs the waiting task queued on its own
//!   deque, so nested waits for one's own children complete.
//! * Spares exit with the pool like its workers (they count in the termination
//!   protocol's live workers); no spare starts once the pool is stopping.

use crate::registry::Registry;
use crate::worker::{Kind, Queues, WorkerThread};
use crossbeam_deque::Stealer;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The default cap on spare workers (Java's `ForkJoinPool` allows 256).
pub const DEFAULT_MAX_SPARES: usize = 256;

/// The default time an idle spare waits for work before it retires (Java's
/// `ForkJoinPool` keeps an idle worker 60 s).
pub const DEFAULT_SPARE_KEEP_ALIVE: Duration = Duration::from_secs(60);

/// The stealers of one spare slot's queues (made once, reused by the next
/// spare in the slot).
pub(crate) struct SpareStealers {
    pub(crate) deque: Stealer<crate::job::Job>,
    pub(crate) outside: Stealer<crate::job::Job>,
}

/// Names a spare from its worker index (the builder's `thread_name`, or the
/// default `<pool>-<index>`).
pub(crate) type SpareName = Box<dyn FnMut(usize) -> String + Send>;

/// The spares of one pool.
pub(crate) struct Compensation {
    pub(crate) max_spares: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) stack_size: usize,
    /// Workers (core or spare) blocked in a wait or in `block_in_place`.
    blocked: AtomicUsize,
    /// Spares started and not retired.
    spares: AtomicUsize,
    /// Spare slots ever made: `slots[..made]` are set.
    made: AtomicUsize,
    slots: Box<[OnceLock<SpareStealers>]>,
    /// Slots whose spare retired, with their (empty) queues, for reuse.
    free: Mutex<Vec<(usize, Queues)>>,
    pub(crate) names: Mutex<Option<SpareName>>,
    /// Spare threads retired as excess, parked for reuse (newest last).
    idle: Mutex<Vec<Arc<IdleSpare>>>,
}

/// A spare thread parked on the idle list.
struct IdleSpare {
    thread: std::thread::Thread,
    /// Set (under the idle list's lock, by the thread that popped it) when
    /// it is to serve again; it was counted in `spares` by that thread.
    woken: AtomicBool,
}

impl Compensation {
    /// `slots`: spare slots to make room for (spares and the elastic pool's
    /// extra workers share them).
    pub(crate) fn new(
        max_spares: usize,
        keep_alive: Duration,
        stack_size: usize,
        slots: usize,
    ) -> Self {
        Compensation {
            max_spares,
            keep_alive,
            stack_size,
            blocked: AtomicUsize::new(0),
            spares: AtomicUsize::new(0),
            made: AtomicUsize::new(0),
            slots: (0..slots).map(|_| OnceLock::new()).collect(),
            free: Mutex::new(Vec::new()),
            names: Mutex::new(None),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Wakes the newest parked spare to serve (already counted in `spares`
    /// by the caller); false if none is parked.
    fn wake_idle_spare(&self) -> bool {
        let mut idle = crate::sync_lock(&self.idle);
        match idle.pop() {
            Some(spare) => {
                // Under the lock: a spare that no longer finds itself on the
                // list sees `woken` set (see `park_idle_spare`).
                spare.woken.store(true, Ordering::SeqCst);
                drop(idle);
                spare.thread.unpark();
                true
            }
            None => false,
        }
    }

    /// Unparks every parked spare: the pool stopped accepting work, and each
    /// exits when it sees that (a spare popped meanwhile serves, then exits
    /// with the pool like any worker).
    pub(crate) fn wake_all_idle_spares(&self) {
        for spare in crate::sync_lock(&self.idle).iter() {
            spare.thread.unpark();
        }
    }

    /// The stealers of every spare slot made so far.
    #[inline]
    pub(crate) fn stealers(&self) -> impl Iterator<Item = (usize, &SpareStealers)> {
        let made = self.made.load(Ordering::Acquire);
        self.slots[..made]
            .iter()
            .enumerate()
            .filter_map(|(k, s)| s.get().map(|s| (k, s)))
    }

    /// Slots ever made (the elastic monitor looks at their workers).
    pub(crate) fn slots_made(&self) -> usize {
        self.made.load(Ordering::Acquire)
    }

    /// All slots (spares and extras).
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Live spares (statistics).
    pub(crate) fn spares(&self) -> usize {
        self.spares.load(Ordering::Relaxed)
    }

    /// Blocked workers (statistics).
    pub(crate) fn blocked(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }

    /// The deadline of an idle spare's search for work.
    pub(crate) fn idle_deadline(&self) -> Option<Instant> {
        Instant::now().checked_add(self.keep_alive)
    }

    /// A spare between two jobs: true if it should retire now (more spares than
    /// blocked workers), and then it is counted out.
    pub(crate) fn retire_if_excess(&self) -> bool {
        let mut s = self.spares.load(Ordering::SeqCst);
        loop {
            if s <= self.blocked.load(Ordering::SeqCst) {
                return false;
            }
            match self
                .spares
                .compare_exchange_weak(s, s - 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// A spare exits because the pool shuts down.
    pub(crate) fn spare_left_with_pool(&self) {
        self.spares.fetch_sub(1, Ordering::SeqCst);
    }

    fn reserve_spare(&self) -> bool {
        let mut s = self.spares.load(Ordering::SeqCst);
        loop {
            if s >= self.max_spares {
                return false;
            }
            match self
                .spares
                .compare_exchange_weak(s, s + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// A free slot (index among the spares, and its queues), or a new one.
    fn take_slot(&self) -> Option<(usize, Queues)> {
        let mut free = crate::sync_lock(&self.free);
        if let Some(slot) = free.pop() {
            return Some(slot);
        }
        let k = self.made.load(Ordering::Relaxed);
        if k >= self.slots.len() {
            return None;
        }
        let queues = Queues::new();
        let _ = self.slots[k].set(SpareStealers {
            deque: queues.deque.stealer(),
            outside: queues.outside.stealer(),
        });
        // Under the lock: slots are made in order; Release publishes the slot.
        self.made.store(k + 1, Ordering::Release);
        Some((k, queues))
    }

    pub(crate) fn give_back_slot(&self, k: usize, queues: Queues) {
        crate::sync_lock(&self.free).push((k, queues));
    }
}

impl std::fmt::Debug for Compensation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compensation")
            .field("max_spares", &self.max_spares)
            .field("spares", &self.spares())
            .field("blocked", &self.blocked())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// The calling worker blocks (see the module docs): counted, a needy
    /// token left, and a spare asked for at once if work is visible.
    pub(crate) fn block(&self) {
        self.comp.blocked.fetch_add(1, Ordering::SeqCst);
        if self.comp.max_spares == 0 {
            return;
        }
        self.sleep.block();
        if self.shared_work_visible() && self.sleep.compensate() {
            self.start_spare();
        }
    }

    /// The calling worker resumes after [`Registry::block`].
    pub(crate) fn unblock(&self) {
        if self.comp.max_spares != 0 {
            let _ = self.sleep.unblock();
        }
        self.comp.blocked.fetch_sub(1, Ordering::SeqCst);
    }

    /// A notify function returned true: start a spare for a blocked worker.
    #[inline]
    pub(crate) fn spare_wanted(&self, wanted: bool) {
        if wanted {
            self.start_spare();
        }
    }

    /// Starts a spare worker unless the cap is reached or the pool is stopping;
    /// a failed thread spawn is reported through `tracing` (never a panic).
    #[cold]
    pub(crate) fn start_spare(&self) {
        if !self.comp.reserve_spare() {
            tracing::warn!(pool = %self.name, max_spares = self.comp.max_spares, "spare cap reached: a blocked worker is not compensated (if every worker waits, the pool stalls; see Builder::max_spares)");
            return;
        }
        if self.comp.wake_idle_spare() {
            return;
        }
        if !self.start_worker(Kind::Spare) {
            self.comp.spares.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A spare that retired as excess (already counted out of `spares`)
    /// parks for its keep-alive on the idle list, so that the next blocked
    /// worker reuses its thread. True: a `start_spare` woke it to serve again
    /// (and counted it). False: its keep-alive ran out, or the pool stopped
    /// accepting work: it exits.
    pub(crate) fn park_idle_spare(&self) -> bool {
        let me = Arc::new(IdleSpare {
            thread: std::thread::current(),
            woken: AtomicBool::new(false),
        });
        crate::sync_lock(&self.comp.idle).push(me.clone());
        let deadline = self.comp.idle_deadline();
        loop {
            if me.woken.load(Ordering::SeqCst) {
                return true;
            }
            let stopping = self.lifecycle.state() >= crate::lifecycle::State::Shutdown;
            let now = Instant::now();
            if stopping || deadline.is_some_and(|d| now >= d) {
                let mut idle = crate::sync_lock(&self.comp.idle);
                if let Some(i) = idle.iter().position(|s| Arc::ptr_eq(s, &me)) {
                    idle.remove(i);
                    return false;
                }
                // Popped by a `start_spare`, which set `woken` under the lock.
                return true;
            }
            match deadline {
                Some(d) => std::thread::park_timeout(d.saturating_duration_since(now)),
                None => std::thread::park(),
            }
        }
    }

    /// Starts a spare or extra worker thread (already counted by the caller);
    /// false if the pool is stopping, has no free slot, or the thread could not
    /// be spawned (reported through `tracing`).
    pub(crate) fn start_worker(&self, kind: Kind) -> bool {
        let Some(me) = self.this.upgrade() else {
            return false;
        };
        if !self.add_live_worker() {
            return false;
        }
        let Some((k, queues)) = self.comp.take_slot() else {
            self.forget_workers(1);
            return false;
        };
        let index = self.num_threads() + k;
        let name = {
            let mut names = crate::sync_lock(&self.comp.names);
            names
                .as_mut()
                .and_then(|f| crate::registry::quietly(|| f(index)))
                // `std` panics on a NUL in a thread name: fall back instead.
                .filter(|name| !name.contains('\0'))
                .unwrap_or_else(|| format!("{}-{index}", self.name))
        };
        let spawned = std::thread::Builder::new()
            .name(name)
            .stack_size(self.comp.stack_size)
            .spawn(move || crate::worker::main(me, index, queues, kind));
        match spawned {
            Ok(_detached) => {
                tracing::debug!(pool = %self.name, index, ?kind, "worker added");
                true
            }
            Err(error) => {
                // The closure, and the slot's queues in it, are gone: the slot
                // is not reused (its stealers see an empty, orphaned deque).
                tracing::error!(pool = %self.name, index, ?kind, %error, "starting a worker failed; the pool carries on at its current size");
                self.forget_workers(1);
                false
            }
        }
    }

    /// A spare idle for its keep-alive retires: counted out, and if the workers
    /// it stood in for still block, a needy token left for the next publisher.
    pub(crate) fn retire_idle_spare(&self) {
        let left = self.comp.spares.fetch_sub(1, Ordering::SeqCst) - 1;
        if self.comp.blocked.load(Ordering::SeqCst) > left {
            self.sleep.add_needy();
            if self.shared_work_visible() && self.sleep.compensate() {
                self.start_spare();
            }
        }
    }
}

/// Runs `f` on the current thread; on a pool worker, the pool counts the worker
/// as blocked meanwhile and starts (or wakes) a spare worker if work is
/// queued, so the pool keeps its parallelism (Java's
/// `ForkJoinPool.managedBlock`, tokio's `block_in_place`). Use it around a
/// call that blocks (a lock, a channel, blocking I/O, `block_on`). Outside a
/// pool it just calls `f`. Nesting is fine (the inner call counts nothing
/// more), and so is calling it inside [`join`](crate::join).
///
/// # Examples
///
/// ```
/// use executor_core::{block_in_place, ThreadPool};
/// use std::sync::mpsc;
///
/// // One worker, two tasks: the first waits for the second. Without
/// // `block_in_place` the second would never start.
/// let pool = ThreadPool::new(1).unwrap();
/// let (tx, rx) = mpsc::channel();
/// let (done_tx, done_rx) = mpsc::channel();
/// pool.execute(move || {
///     let v: i32 = block_in_place(|| rx.recv().unwrap());
///     done_tx.send(v).unwrap();
/// })
/// .unwrap();
/// pool.execute(move || tx.send(42).unwrap()).unwrap();
/// assert_eq!(done_rx.recv().unwrap(), 42);
/// assert_eq!(block_in_place(|| 7), 7); // outside a pool: just runs it
/// ```
pub fn block_in_place<R>(f: impl FnOnce() -> R) -> R {
    let guard = WorkerThread::with_current(|w| w.and_then(WorkerThread::enter_blocked));
    let r = f();
    drop(guard);
    r
}

#[cfg(all(test, loom))]
mod loom_tests {
    use crate::sleep::Sleep;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;

    /// A worker blocking (token, fence, look at the queue, later resume)
    /// racing a publisher (push, fence, look at the counts): exactly one of
    /// "a spare was asked for" and "the worker took its token back" happens,
    /// and if the job was pushed while the worker blocked, a spare is asked
    /// for by one of them (never by both, never by neither).
    #[test]
    fn loom_block_vs_publish_asks_for_one_spare() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(|| {
            let sleep = Arc::new(Sleep::new(1));
            let jobs = Arc::new(AtomicUsize::new(0));
            let spares = Arc::new(AtomicUsize::new(0));
            let worker = {
                let (sleep, jobs, spares) = (sleep.clone(), jobs.clone(), spares.clone());
                loom::thread::spawn(move || {
                    sleep.block();
                    let saw_job = jobs.load(Ordering::SeqCst) > 0;
                    if saw_job && sleep.compensate() {
                        spares.fetch_add(1, Ordering::SeqCst);
                    }
                    (saw_job, sleep.unblock())
                })
            };
            jobs.fetch_add(1, Ordering::SeqCst); // the push
            let published = sleep.notify_one();
            if published {
                spares.fetch_add(1, Ordering::SeqCst);
            }
            let (saw_job, took_back) = worker.join().unwrap();
            let spares = spares.load(Ordering::SeqCst);
            assert_eq!(spares + usize::from(took_back), 1, "one token, used once");
            if !published {
                // The publisher ran before the token or found it gone: the
                // worker saw the job (the store-buffer pair), or resumed with
                // its token.
                assert!(saw_job || took_back);
            }
        });
    }
}
