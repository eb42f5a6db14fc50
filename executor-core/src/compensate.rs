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
//!  its keep-alive, and start_spare wakes a parked spare before it
//!  spawns a thread (a pool whose tasks block briefly and often would
//!  otherwise create and destroy a thread per block):
//!
//!    parked spare                       start_spare (spares already += 1)
//!    push me (and my CPU) on `idle`     pop one (lock; "Waking a spare"),
//!    loop: woken? → serve again           set its `woken` under the lock,
//!                                          unpark it
//!          stopping or keep-alive over:  none parked → spawn a thread
//!            remove me (lock): found →
//!            exit; not found → a waker   shutdown / shutdown_now: unpark
//!            popped me: serve again        every parked spare (it sees the
//!          park (timeout: keep-alive)      state and exits)
//! ```
//!
//! The token handshake (who sees whom) is in `crate::sleep`; a loom model of
//! it, restated over loom's primitives, is at the bottom of this file, with
//! three models of the idle list ([`IdleList`], written against `crate::sync`
//! so that the models run this very code): a parked spare is popped by
//! exactly one `start_spare` and serves, or leaves by itself and exits,
//! never both and never neither, and the reservation of every `start_spare`
//! is served by exactly one thread (the popped spare or a new one).
//!
//! ## Waking a spare
//!
//! A worker that blocks wakes a parked spare (a futex wake) and then goes
//! to sleep itself, so a CPU is about to free up: its own. But with every
//! CPU busy (the case compensation exists for), Linux queues the woken
//! thread on the CPU it last ran on or on the waker's (`wake_affine`; with
//! a CPU idle it picks that one instead). Queued on another CPU, the spare
//! waits behind the job running there while the blocked worker's CPU goes
//! idle. `perf sched` on `compare`'s `blocking_mix` (2 CPUs, every fifth
//! job sleeping 1 ms, so a hand-off every ~100 µs): 52% of the hand-offs
//! went to the other CPU, and those spares ran 163 µs after the wake
//! (median; p90 1.4 ms) while the waker's CPU idled; the 41% queued on the
//! waker's CPU ran 3 µs after it. So a spare records the CPU it parks on
//! (`sched_getcpu`: glibc reads it from the thread's `rseq` area) and
//! `start_spare` wakes the newest of the [`IDLE_CPU_SCAN`] newest parked
//! spares that parked on the caller's CPU, else the newest (as before; and
//! always off Linux). A sleeping thread is not migrated, so the kernel
//! queues it on that CPU, where the blocked worker is about to sleep (or,
//! with a CPU idle, on the idle one, as for any spare). Which spare serves
//! changes nothing else: the pop is still one, under the lock (the models
//! below pop with CPU preferences). Measured on 2 CPUs in a quiet window
//! (load 0.6-1.0): the woken spares queued on the waker's CPU went from 79%
//! to 99%; `blocking_diag`'s stretches with fewer than 2 jobs computing
//! that began with a hand-off went from 14.1 ms per 2000 jobs (p50 10 µs,
//! p90 198 µs) to 5.9 ms (p50 5 µs, p90 16 µs; the hand-sized pool: 7.3-9.9
//! ms); `blocking_mix` went from 1.14-1.17x the hand-sized pool to 1.07-1.10x
//! (`compare`, five alternating pairs), with no clear change in CPU. What is
//! left: the hand-sized pool runs 3 or more jobs at once 16-26% of the time
//! (ours 3-6%), which this workload rewards (its jobs spin on the clock, so
//! a preempted one still ends on time). On 16-64 cores fewer parked spares
//! share a CPU with a blocked worker, so the newest is woken more often
//! (no worse than before); that could not be measured here.
//!
//! ## At the cap
//!
//! With `max_spares` spares live, a blocked worker is not compensated: its
//! wait blocks like any wait and still runs nothing unrelated (the waiting
//! rule holds at the cap too). If every worker then waits for work queued
//! behind them, the pool stalls until one wait ends: an event from outside
//! the pool (the I/O or the thread a worker waits for), a timed wait's
//! deadline, or `shutdown_now` (queued work handed back, running tasks
//! interrupted). It does not stall silently: the first refusal of an
//! episode (since the spares were last below the cap) is reported through
//! `tracing` at `ERROR`, once, and [`Stats`](crate::Stats) shows it
//! (`blocked >= threads + spares + extras` with `queued > 0`).
//!
//! Java's `ForkJoinPool` throws `RejectedExecutionException` ("Thread limit
//! exceeded replacing blocked worker") from the blocking call at its cap,
//! unless a `saturate` predicate given to its constructor says to block
//! (`tryCompensate`). Not chosen: `block_in_place` has no error to return,
//! and a handle's `get` would fail for a task that completes a moment later
//! when the I/O its workers wait for ends (Java users wrap
//! `CompletableFuture.get` in polling loops to survive that exception);
//! tokio blocks silently at `max_blocking_threads`. Blocking with a report
//! keeps every wait's contract and leaves the size of the cap to the user.
//!
//! ## Failures
//!
//! Starting a spare thread can fail (the OS refuses a thread: a process or
//! memory limit). Then the failure is reported through `tracing` at `ERROR`
//! (never a panic), the spare's reservation and its slot (with its queues)
//! are given back, and the blocked worker's needy token is put back, so
//! nothing is lost. Every worker of the pool may be blocked, so nobody in
//! the pool would ask again: a try is scheduled on the process's timer
//! thread ([`Timer::global`](crate::integration::Timer::global)) after
//! 1 ms, doubling with each failure in a row up to 1 s; it starts a spare if
//! a blocked worker is still uncompensated and work is queued. While a try
//! is scheduled, other requests leave the start to it (no failed spawn per
//! submission). A pool that stops (`shutdown_now`) is not tried again. If
//! the timer's own thread cannot start (its first entry starts it), that is
//! reported too and the start waits for the next request for a spare (a
//! submission, a worker blocking). Tested by injecting failures (a
//! test-only counter in this module).
//!
//! * A spare never takes the place of a worker that is not blocked, so the
//!   pool runs at most `num_threads` jobs at once plus the brief overlap after
//!   a blocked worker resumes and before its spare's current job ends.
//! * A spare cap of 0 turns compensation off: blocked waits just block. Then a
//!   pool whose every worker waits for work still queued behind them stops
//!   (deadlock); waits still run the jobs the waiting task queued on its own
//!   deque, so nested waits for one's own children complete. The only
//!   deadlock detected (with any cap) is a task waiting for itself: see
//!   [`Builder::max_spares`](crate::Builder::max_spares).
//! * Spares exit with the pool like its workers (they count in the termination
//!   protocol's live workers); no spare starts once the pool is stopping.

use crate::registry::Registry;
use crate::worker::{Kind, Queues, WorkerThread};
use crossbeam_deque::Stealer;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The first delay before a failed spare start is tried again; it doubles
/// with each failure in a row, up to [`SPARE_RETRY_MAX`].
const SPARE_RETRY_FIRST: Duration = Duration::from_millis(1);

/// The longest delay between two tries to start a spare after failures.
const SPARE_RETRY_MAX: Duration = Duration::from_secs(1);

/// The default cap on spare workers (Java's `ForkJoinPool` allows 256).
pub const DEFAULT_MAX_SPARES: usize = 256;

/// The default time an idle spare waits for work before it retires (Java's
/// `ForkJoinPool` keeps an idle worker 60 s).
pub const DEFAULT_SPARE_KEEP_ALIVE: Duration = Duration::from_secs(60);

/// How many of the newest parked spares `start_spare` looks through for one
/// that parked on its CPU ("Waking a spare" in the module docs): a bound on
/// the time spent under the idle list's lock (the list holds up to
/// `max_spares` entries).
const IDLE_CPU_SCAN: usize = 16;

/// "CPU unknown" ([`current_cpu`] off Linux or on failure).
pub(crate) const NO_CPU: usize = usize::MAX;

/// The CPU the calling thread runs on, or [`NO_CPU`]. glibc 2.35 and later
/// read it from the thread's `rseq` area (a load); older ones from the
/// vDSO (tens of nanoseconds).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn current_cpu() -> usize {
    // SAFETY: `sched_getcpu` takes no argument and touches no memory of
    // ours; it returns -1 (with `errno` set) when it cannot tell.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).unwrap_or(NO_CPU)
}

/// The CPU the calling thread runs on: not known off Linux.
#[cfg(not(target_os = "linux"))]
fn current_cpu() -> usize {
    NO_CPU
}

/// The stealers of one spare slot's queues (made once, reused by the next
/// spare in the slot).
pub(crate) struct SpareStealers {
    pub(crate) deque: crate::deque::Stealer,
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
    /// Spare threads retired as excess, parked for reuse.
    idle: IdleList<std::thread::Thread>,
    /// A retry of a failed spare start is scheduled ("Failures" in the
    /// module docs).
    retry_armed: AtomicBool,
    /// Spare starts that failed in a row (the retry's backoff).
    failures: AtomicUsize,
    /// A spare was refused at the cap since the spares last dropped below
    /// it: one report per such episode ("At the cap" in the module docs).
    saturated: AtomicBool,
    /// Tests: the next this many thread spawns fail (`start_worker`).
    #[cfg(test)]
    pub(crate) fail_spawns: AtomicUsize,
}

/// The idle list of spares retired as excess ("a spare retired as excess"
/// in the module docs), written against `crate::sync` so that the loom model
/// at the bottom of this file checks this very code: a parked spare is
/// either popped by exactly one `start_spare` (and serves again, counted by
/// it) or leaves by itself (and exits), never both, never neither.
pub(crate) struct IdleList<T> {
    /// Newest last.
    parked: crate::sync::Mutex<Vec<Arc<IdleEntry<T>>>>,
}

/// One parked spare: its thread (to unpark), the CPU it parked on, and
/// whether it was popped.
pub(crate) struct IdleEntry<T> {
    pub(crate) thread: T,
    /// The CPU the spare last ran on (where the kernel queues it when it is
    /// woken while every CPU is busy), or [`NO_CPU`].
    cpu: usize,
    /// Set under the list's lock by the `start_spare` that popped it.
    woken: crate::sync::AtomicBool,
}

impl<T> IdleEntry<T> {
    /// Popped by a `start_spare`: serve again.
    pub(crate) fn is_woken(&self) -> bool {
        self.woken.load(crate::sync::Ordering::SeqCst)
    }
}

impl<T> IdleList<T> {
    pub(crate) fn new() -> Self {
        IdleList {
            parked: crate::sync::Mutex::new(Vec::new()),
        }
    }

    /// A spare parks on `cpu` (its current CPU, or [`NO_CPU`]): its entry
    /// goes on the list (the spare then watches [`IdleEntry::is_woken`]
    /// between parks).
    pub(crate) fn enter(&self, thread: T, cpu: usize) -> Arc<IdleEntry<T>> {
        let me = Arc::new(IdleEntry {
            thread,
            cpu,
            woken: crate::sync::AtomicBool::new(false),
        });
        crate::sync::lock(&self.parked).push(me.clone());
        me
    }

    /// Takes a parked spare and marks it woken, under the lock: the caller
    /// (which counted it in `spares`) unparks its thread. The newest of the
    /// [`IDLE_CPU_SCAN`] newest that parked on `near` (the caller's CPU;
    /// "Waking a spare" in the module docs), else the newest.
    pub(crate) fn pop(&self, near: usize) -> Option<Arc<IdleEntry<T>>> {
        let mut parked = crate::sync::lock(&self.parked);
        let newest = parked.len().checked_sub(1)?;
        let at = if near == NO_CPU {
            newest
        } else {
            parked
                .iter()
                .enumerate()
                .rev()
                .take(IDLE_CPU_SCAN)
                .find(|(_, s)| s.cpu == near)
                .map_or(newest, |(i, _)| i)
        };
        let spare = parked.remove(at);
        spare.woken.store(true, crate::sync::Ordering::SeqCst);
        Some(spare)
    }

    /// A parked spare gives up (keep-alive over, or the pool stops): true if
    /// it left the list (it exits); false if a `pop` took it first (it
    /// serves again, already counted by the popper).
    pub(crate) fn leave(&self, me: &Arc<IdleEntry<T>>) -> bool {
        let mut parked = crate::sync::lock(&self.parked);
        match parked.iter().position(|s| Arc::ptr_eq(s, me)) {
            Some(i) => {
                parked.remove(i);
                true
            }
            None => false,
        }
    }

    /// Calls `f` on the thread of every parked spare.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&T)) {
        for spare in crate::sync::lock(&self.parked).iter() {
            f(&spare.thread);
        }
    }
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
            idle: IdleList::new(),
            retry_armed: AtomicBool::new(false),
            failures: AtomicUsize::new(0),
            saturated: AtomicBool::new(false),
            #[cfg(test)]
            fail_spawns: AtomicUsize::new(0),
        }
    }

    /// Wakes a parked spare to serve (already counted in `spares` by the
    /// caller), one that parked on the caller's CPU if there is one ("Waking
    /// a spare" in the module docs); false if none is parked.
    fn wake_idle_spare(&self) -> bool {
        match self.idle.pop(current_cpu()) {
            Some(spare) => {
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
        self.idle.for_each(std::thread::Thread::unpark);
    }

    /// Spawns a worker thread (tests can make it fail: `fail_spawns`).
    fn spawn(
        &self,
        builder: std::thread::Builder,
        f: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<()> {
        #[cfg(test)]
        if self
            .fail_spawns
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            drop(f);
            return Err(std::io::Error::other(
                "thread spawn failure injected by a test",
            ));
        }
        builder.spawn(f).map(drop)
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
                Ok(_) => {
                    // Below the cap again: the next refusal is a new episode.
                    if self.saturated.load(Ordering::Relaxed) {
                        self.saturated.store(false, Ordering::Relaxed);
                    }
                    return true;
                }
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
            // Reported once per episode at the cap: a pool that sits there
            // would otherwise log on every submission.
            if !self.comp.saturated.swap(true, Ordering::Relaxed) {
                tracing::error!(pool = %self.name, max_spares = self.comp.max_spares, blocked = self.comp.blocked(), "spare cap reached: a blocked worker is not compensated; if every worker waits for work queued behind them, the pool stalls until one of them resumes (see Builder::max_spares)");
            }
            return;
        }
        if self.comp.wake_idle_spare() {
            self.comp.failures.store(0, Ordering::Relaxed);
            return;
        }
        if self.comp.retry_armed.load(Ordering::SeqCst) {
            // Starts are failing and a try is scheduled: leave it to it
            // rather than fail a spawn on every submission meanwhile.
            self.comp.spares.fetch_sub(1, Ordering::SeqCst);
            self.sleep.add_needy();
            return;
        }
        if self.start_worker(Kind::Spare) {
            self.comp.failures.store(0, Ordering::Relaxed);
            return;
        }
        self.comp.spares.fetch_sub(1, Ordering::SeqCst);
        if self.lifecycle.state() < crate::lifecycle::State::Stop {
            // The blocked worker this spare was for still counts on one: its
            // needy token goes back, and a try later (the pool may have no
            // running thread left to ask again).
            self.sleep.add_needy();
            self.arm_spare_retry();
        }
    }

    /// Schedules a new try to start a spare after a failed start, on the
    /// process's timer thread (every worker of this pool may be blocked),
    /// after a delay that doubles with each failure in a row.
    #[cold]
    fn arm_spare_retry(&self) {
        if self.comp.retry_armed.swap(true, Ordering::SeqCst) {
            return;
        }
        let failures = self.comp.failures.fetch_add(1, Ordering::Relaxed);
        let delay = SPARE_RETRY_FIRST
            .saturating_mul(1 << failures.min(16))
            .min(SPARE_RETRY_MAX);
        let registry = self.this.clone();
        let retry = crate::job::Job::new(move || {
            if let Some(registry) = registry.upgrade() {
                registry.retry_spare();
            }
        });
        let due = Instant::now().checked_add(delay);
        // The global timer starts its thread with its first entry; when the
        // same shortage refuses that thread, the entry comes back refused.
        let scheduled = crate::timer::Timer::global()
            .schedule_job(due, retry)
            .is_ok();
        if !scheduled {
            self.comp.retry_armed.store(false, Ordering::SeqCst);
            tracing::error!(pool = %self.name, "scheduling a new try to start a spare failed; a blocked worker stays uncompensated until the next request for a spare");
        }
    }

    /// The retry of [`Registry::arm_spare_retry`], on the timer's thread: if
    /// a blocked worker is still uncompensated (a needy token is left) and
    /// work is queued, start a spare for it.
    fn retry_spare(&self) {
        self.comp.retry_armed.store(false, Ordering::SeqCst);
        if self.lifecycle.state() >= crate::lifecycle::State::Stop {
            return;
        }
        tracing::debug!(pool = %self.name, "trying again to start a spare");
        if self.shared_work_visible() && self.sleep.compensate() {
            self.start_spare();
        }
    }

    /// A spare that retired as excess (already counted out of `spares`)
    /// parks for its keep-alive on the idle list, so that the next blocked
    /// worker reuses its thread. True: a `start_spare` woke it to serve again
    /// (and counted it). False: its keep-alive ran out, or the pool stopped
    /// accepting work: it exits.
    pub(crate) fn park_idle_spare(&self) -> bool {
        let me = self.comp.idle.enter(std::thread::current(), current_cpu());
        let deadline = self.comp.idle_deadline();
        loop {
            if me.is_woken() {
                return true;
            }
            let stopping = self.lifecycle.state() >= crate::lifecycle::State::Shutdown;
            let now = Instant::now();
            if stopping || deadline.is_some_and(|d| now >= d) {
                // Not on the list any more: a `start_spare` popped it (and
                // counted it) first, so it serves.
                return !self.comp.idle.leave(&me);
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
        // The queues travel through a shared cell, so that a failed spawn
        // (which drops the closure unrun) gives them back with the slot.
        let handoff = Arc::new(Mutex::new(Some(queues)));
        let theirs = handoff.clone();
        let builder = std::thread::Builder::new()
            .name(name)
            .stack_size(self.comp.stack_size);
        let spawned = self.comp.spawn(builder, move || {
            let queues = crate::sync_lock(&theirs).take();
            drop(theirs);
            if let Some(queues) = queues {
                crate::worker::main(me, index, queues, kind);
            }
        });
        match spawned {
            Ok(()) => {
                tracing::debug!(pool = %self.name, index, ?kind, "worker added");
                true
            }
            Err(error) => {
                tracing::error!(pool = %self.name, index, ?kind, %error, "starting a worker failed; the pool carries on at its current size and tries again later");
                if let Some(queues) = crate::sync_lock(&handoff).take() {
                    self.comp.give_back_slot(k, queues);
                }
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

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::registry::Registry;
    use crate::worker::WorkerThread;
    use crate::{block_in_place, ThreadPool};
    use std::sync::atomic::Ordering;
    use std::sync::{mpsc, Arc, Mutex, OnceLock};
    use std::time::Duration;

    /// Runs `f` on another thread; fails the test if it takes longer than
    /// a minute (a hang) or panics.
    fn watchdog(f: impl FnOnce() + Send + 'static) {
        let (tx, rx) = mpsc::channel();
        let t = std::thread::spawn(move || {
            f();
            let _ = tx.send(());
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(()) => t.join().unwrap(),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::panic::resume_unwind(t.join().unwrap_err())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("watchdog: hung for 60 s"),
        }
    }

    /// `ERROR` events, as (pool, message) pairs, recorded by a global
    /// subscriber installed on first use (it records nothing else, so the
    /// other tests of this binary pay nothing for it).
    fn error_events() -> Vec<(String, String)> {
        type Log = Arc<Mutex<Vec<(String, String)>>>;
        struct Errors(Log);
        struct Fields(String, String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                match f.name() {
                    "pool" => self.0 = format!("{v:?}"),
                    "message" => self.1 = format!("{v:?}"),
                    _ => {}
                }
            }
        }
        impl tracing::Subscriber for Errors {
            fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
                *meta.level() == tracing::Level::ERROR
            }
            fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
                tracing::span::Id::from_u64(1)
            }
            fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
            fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
            fn event(&self, event: &tracing::Event<'_>) {
                let mut fields = Fields(String::new(), String::new());
                event.record(&mut fields);
                self.0.lock().unwrap().push((fields.0, fields.1));
            }
            fn enter(&self, _: &tracing::span::Id) {}
            fn exit(&self, _: &tracing::span::Id) {}
        }
        static EVENTS: OnceLock<Log> = OnceLock::new();
        let events = EVENTS.get_or_init(|| {
            let events = Arc::new(Mutex::new(Vec::new()));
            tracing::subscriber::set_global_default(Errors(events.clone()))
                .expect("the only global subscriber of this test binary");
            events
        });
        let events = events.lock().unwrap().clone();
        events
    }

    fn registry_of(pool: &ThreadPool) -> Arc<Registry> {
        pool.install(|| WorkerThread::with_current(|w| w.unwrap().registry_arc().clone()))
    }

    /// Issue 17, "thread creation failing": a 1-thread pool whose only worker
    /// blocks (in `block_in_place`, on a channel) for a task queued behind
    /// it, while starting a spare thread fails three times. Each failure is
    /// reported at `ERROR` (no panic), the pool tries again later from the
    /// process's timer thread, the fourth start succeeds, the spare runs the
    /// queued task, and the wait completes: nothing hangs, nothing is lost,
    /// and the counts come back to zero.
    #[test]
    fn a_failed_spare_start_is_reported_and_retried_and_the_wait_completes() {
        watchdog(|| {
            let _ = error_events(); // the subscriber, before anything logs
            let pool = ThreadPool::builder()
                .name("spawn-fails")
                .num_threads(1)
                .spare_keep_alive(Duration::from_millis(20))
                .build()
                .unwrap();
            let registry = registry_of(&pool);
            registry.comp.fail_spawns.store(3, Ordering::SeqCst);
            let (tx, rx) = mpsc::channel();
            let (done_tx, done_rx) = mpsc::channel();
            pool.execute(move || {
                let v: i32 = block_in_place(|| rx.recv().unwrap());
                done_tx.send(v).unwrap();
            })
            .unwrap();
            pool.execute(move || tx.send(7).unwrap()).unwrap();
            assert_eq!(done_rx.recv_timeout(Duration::from_secs(30)), Ok(7));
            assert_eq!(registry.comp.fail_spawns.load(Ordering::SeqCst), 0);
            let failures = error_events()
                .into_iter()
                .filter(|(pool, msg)| {
                    pool == "spawn-fails" && msg.contains("starting a worker failed")
                })
                .count();
            assert_eq!(failures, 3, "each failed start reported once");
            pool.close();
            let s = pool.stats();
            // The two tasks and `registry_of`'s `install`.
            assert_eq!((s.submitted, s.completed, s.panicked), (3, 3, 0));
            assert_eq!((s.spares, s.blocked), (0, 0));
            // The failed starts gave their slots back: one slot was made.
            assert_eq!(registry.comp.slots_made(), 1);
        });
    }

    /// A start that fails while the pool stops is not retried, and the
    /// stopping pool terminates (the blocked worker is interrupted by
    /// `shutdown_now`; nothing waits on a spare that never comes).
    #[test]
    fn a_failed_spare_start_does_not_hold_a_stopping_pool() {
        watchdog(|| {
            let pool = ThreadPool::builder().num_threads(1).build().unwrap();
            let registry = registry_of(&pool);
            registry
                .comp
                .fail_spawns
                .store(usize::MAX, Ordering::SeqCst);
            let (started_tx, started_rx) = mpsc::channel();
            pool.execute(move || {
                block_in_place(|| {
                    started_tx.send(()).unwrap();
                    while !crate::is_cancelled() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                })
            })
            .unwrap();
            started_rx.recv().unwrap();
            pool.execute(|| ()).unwrap(); // queued behind the blocked worker
            let handed_back = pool.shutdown_now();
            assert_eq!(handed_back.len(), 1);
            assert!(pool.await_termination(Duration::from_secs(30)).is_ok());
            let s = pool.stats();
            assert_eq!((s.spares, s.blocked), (0, 0));
        });
    }

    /// "Waking a spare": `pop` takes the newest spare that parked on the
    /// caller's CPU among the `IDLE_CPU_SCAN` newest, else the newest; with
    /// no CPU known, the newest. Every entry is popped once.
    #[test]
    fn a_spare_that_parked_on_the_callers_cpu_is_woken_first() {
        use super::{IdleList, IDLE_CPU_SCAN, NO_CPU};
        let idle = IdleList::new();
        let _a = idle.enter("a", 0);
        let _b = idle.enter("b", 1);
        let _c = idle.enter("c", 0);
        let _d = idle.enter("d", 2);
        assert_eq!(idle.pop(1).map(|s| s.thread), Some("b"), "older, same CPU");
        assert_eq!(idle.pop(0).map(|s| s.thread), Some("c"), "newest on CPU 0");
        assert_eq!(idle.pop(5).map(|s| s.thread), Some("d"), "no match: newest");
        assert_eq!(idle.pop(NO_CPU).map(|s| s.thread), Some("a"));
        assert!(idle.pop(0).is_none());
        // Only the `IDLE_CPU_SCAN` newest are looked through.
        let _old = idle.enter("old", 3);
        for _ in 0..IDLE_CPU_SCAN {
            let _ = idle.enter("new", 4);
        }
        assert_eq!(idle.pop(3).map(|s| s.thread), Some("new"));
        let _ = idle.pop(4);
        assert_eq!(idle.pop(3).map(|s| s.thread), Some("old"));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::IdleList;
    use crate::sleep::Sleep;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;

    /// Every interleaving within 3 preemptions (as the models of
    /// `crate::sleep`).
    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(f);
    }

    /// The idle-spare list: a spare retired as excess parks on it, then
    /// either is popped by a `start_spare` (which counted it in `spares`)
    /// and serves, or gives up (keep-alive over) and exits; meanwhile a
    /// `start_spare` (its reservation made) pops a parked spare or, finding
    /// none, spawns a thread. Every interleaving: the reservation is served
    /// by exactly one thread (the popped spare or a new one), the parked
    /// spare either serves or exits (never both, never neither), and a
    /// popped spare is always woken (its unpark follows the pop).
    #[test]
    fn loom_idle_spare_is_reused_once_or_retires() {
        model(|| {
            let idle = Arc::new(IdleList::new());
            let serving = Arc::new(AtomicUsize::new(0));
            let exited = Arc::new(AtomicUsize::new(0));
            let spare = {
                let (idle, serving, exited) = (idle.clone(), serving.clone(), exited.clone());
                loom::thread::spawn(move || {
                    // `park_idle_spare`, with its keep-alive running out
                    // after one park (loom has no timed park: a spurious
                    // or timed-out return looks the same to the spare).
                    let me = idle.enter(loom::thread::current(), 0);
                    let mut parks = 0;
                    loop {
                        if me.is_woken() {
                            serving.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        if parks == 1 {
                            if idle.leave(&me) {
                                exited.fetch_add(1, Ordering::SeqCst);
                            } else {
                                serving.fetch_add(1, Ordering::SeqCst);
                            }
                            return;
                        }
                        parks += 1;
                        loom::thread::yield_now();
                    }
                })
            };
            // `start_spare`: reuse the parked spare, or spawn a thread.
            let spawned = match idle.pop(0) {
                Some(popped) => {
                    popped.thread.unpark();
                    0
                }
                None => 1,
            };
            spare.join().unwrap();
            let (serving, exited) = (
                serving.load(Ordering::SeqCst),
                exited.load(Ordering::SeqCst),
            );
            assert_eq!(
                serving + exited,
                1,
                "the parked spare serves or exits, once"
            );
            assert_eq!(
                serving + spawned,
                1,
                "the reservation is served exactly once"
            );
            let mut left = 0;
            idle.for_each(|_| left += 1);
            assert_eq!(left, 0, "nothing stays on the list");
        });
    }

    /// Two `start_spare`s race one parked spare that gives up: at most one
    /// pops it; the other spawns; the spare serves iff it was popped.
    #[test]
    fn loom_two_starts_never_share_one_idle_spare() {
        model(|| {
            let idle = Arc::new(IdleList::new());
            let me = idle.enter((), 1);
            let starter = {
                let idle = idle.clone();
                loom::thread::spawn(move || usize::from(idle.pop(1).is_some()))
            };
            let popped_here = usize::from(idle.pop(0).is_some());
            let left = idle.leave(&me);
            let popped_there = starter.join().unwrap();
            assert_eq!(popped_here + popped_there + usize::from(left), 1);
            assert_eq!(me.is_woken(), !left, "woken iff popped");
        });
    }

    /// Two `start_spare`s on different CPUs race two parked spares (one
    /// on each CPU), one of which gives up: each spare is popped by at most
    /// one starter, is woken iff it was popped, and leaves iff it was not;
    /// and each starter takes the spare of its own CPU while it is parked.
    #[test]
    fn loom_pops_near_a_cpu_take_each_spare_once() {
        model(|| {
            let idle = Arc::new(IdleList::new());
            let on_1 = idle.enter(1usize, 1);
            let on_0 = idle.enter(0usize, 0);
            let starter = {
                let idle = idle.clone();
                loom::thread::spawn(move || idle.pop(1).map(|s| s.thread))
            };
            let here = idle.pop(0).map(|s| s.thread);
            let left = idle.leave(&on_1);
            let there = starter.join().unwrap();
            let popped = [here, there];
            for (spare, entry) in [(0usize, &on_0), (1, &on_1)] {
                let n = popped.iter().filter(|p| **p == Some(spare)).count();
                assert!(n <= 1, "spare {spare} popped twice");
                assert_eq!(entry.is_woken(), n == 1, "woken iff popped");
            }
            assert_eq!(left, !on_1.is_woken(), "left iff not popped");
            // The starter on CPU 1 leaves the spare of CPU 0 alone while
            // its own is parked, so this one always gets the spare of CPU 0.
            assert_eq!(here, Some(0));
            assert_eq!(there, (!left).then_some(1));
        });
    }

    /// A worker blocking (token, fence, look at the queue, later resume)
    /// racing a publisher (push, fence, look at the counts): exactly one of
    /// "a spare was asked for" and "the worker took its token back" happens,
    /// and if the job was pushed while the worker blocked, a spare is asked
    /// for by one of them (never by both, never by neither).
    #[test]
    fn loom_block_vs_publish_asks_for_one_spare() {
        model(|| {
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
