//! Timers: a queue of deadlines and the thread that fires them ([`Timer`]).
//!
//! Each pool has one timer (made on first use, [`ThreadPool::timer`]), and the
//! process has one more ([`Timer::global`]) for code that runs on no pool. A timer
//! holds two kinds of entry:
//!
//! * a **job** ([`Timer::schedule_job`]): when due, a pool's timer submits it to
//!   its pool (the delayed tasks of `executor-futures`' `schedule`); the global
//!   timer runs it on its own thread;
//! * a **waker** ([`Timer::wake_at`]): when due, it is woken (async `sleep`,
//!   `timeout`, `interval`, and the deadlines of `cancel_after`).
//!
//! ## Design: an indexed binary heap, not a wheel
//!
//! ```text
//!  schedulers ──insert/remove O(log n)──▶ ┌──────── Mutex ────────┐
//!  (any thread)                           │ TimerHeap: heap + slab │──▶ cancelled entry
//!       │ new earliest deadline?          │ driver: Sleeping(t)    │    returned at once
//!       └──── notify_one ────────────────▶│                        │    (closure dropped)
//!                                         └───────────┬────────────┘
//!   driver thread (lazy): wait_timeout(next - now) ─┐     │ pop due entries
//!   a worker on its way to outside work, deadline    ├────▶│ (whoever comes
//!   passed (`next_due`), try_lock ───────────────────┘     ▼  first)
//!       job: pushed to the pool's fired queue (under the lock) · waker: wake (after)
//!       workers take fired jobs before outside work (FIFO among themselves)
//! ```
//!
//! tokio's wheel (`tokio/src/runtime/time/wheel`: 6 levels of 64 slots, a bitfield
//! of occupied slots, intrusive linked lists of entries) inserts and cancels in
//! O(1), but rounds every deadline to its 1 ms tick, fires a slot's entries in one
//! go, and needs intrusive lists (`unsafe`, pinned entries) for O(1) cancel. Java's
//! `DelayedWorkQueue` is a binary heap whose tasks remember their index
//! (`heapIndex`), so `remove` is O(log n) and a cancelled task leaves at once
//! (`setRemoveOnCancelPolicy`). We chose the heap ([`heap::TimerHeap`]) because:
//!
//! 1. deadlines are exact (no tick): a task never runs before its deadline, and
//!    the driver wakes at the deadline itself, not at the next millisecond;
//! 2. cancel is O(log n) with no `unsafe`: the slab's slot map plays `heapIndex`,
//!    and a key carries a generation so a stale key never reaches a reused slot;
//! 3. at the counts a pool sees (10⁵–10⁶ pending), log n is 17–20 swaps in a
//!    contiguous array, which the benchmark puts next to tokio's wheel
//!    (`compare --workloads timers`).
//!
//! ## The driver (no spinning)
//!
//! The driver thread starts with the first entry that has a deadline (a pool that
//! never schedules has no timer thread). It pops every due entry, then sleeps on
//! the condition variable until the earliest deadline, or without a timeout when
//! there is none: 100,000 pending timers with nothing due cost no CPU. An insert
//! that becomes the new earliest deadline while the driver sleeps past it wakes
//! the driver (`notify_one`), once: the driver is marked running, so a burst of
//! earlier inserts does not notify each time. A pool's driver exits when the pool
//! terminates; the global one lives as long as the process. A pool's workers
//! also fire due entries they pass by ("Workers fire too" below).
//!
//! ### When the driver thread cannot start
//!
//! Spawning the driver can fail (the system refuses a thread: a thread or
//! memory limit). Then nothing may stay in the heap, since no thread would
//! ever fire it: the entry that asked for the driver is taken back out under
//! the same lock, the driver stays `NotStarted`, and the caller gets the entry
//! back (`schedule_job`: [`Rejected`] with `RejectReason::NoTimerThread` and
//! the job; `wake_at`: the waker), with one ERROR event. The next entry with a
//! deadline tries to start the driver again, so the timer recovers once
//! threads are available. Entries already pending always have a driver: it is
//! started by the first of them.
//!
//! ## Fired jobs go first
//!
//! A pool's due jobs are not submitted to the injector: they go to the pool's
//! *fired queue* (`pool_hook`), which a worker looks at right after its own
//! deque and before its outside work (every 61st look, before its outside
//! work too: a worker busy with its own spawns still takes them). In deadline
//! order among themselves; the timer thread is one more submitting thread, so
//! the FIFO rule for outside work (per submitting thread) holds.
//!
//! Why: on a busy pool, a due job submitted to the injector waited behind
//! every outside job queued before it. Measured on 2 CPUs with `timer_probe`
//! (the load of `compare`'s `timer_lateness`: every millisecond one 700 µs job
//! per worker) on a machine loaded by other builds (load 5-9, so the workers
//! fell behind), p99 lateness was 7-100 ms, almost all of it spent in the
//! queues behind 3 or more load jobs; with the fired queue the time queued
//! stays under a load job's length (p99 about 620 µs). Java orders delayed and
//! immediate tasks by due time in one queue, which keeps that wait; tokio's
//! woken timers also wait in its run queues.
//!
//! ## Workers fire too
//!
//! With the queueing gone, the rest of the tail was the driver thread's own
//! wake-up: on a busy machine a thread woken at its deadline waits for a CPU
//! that the workers hold (`timer_probe`: fire delay p50 70 µs, the timer
//! slack, but p99 2.5-3.3 ms at load 5). So a worker on its way to outside work
//! (its deque empty) reads `next_due`, the earliest deadline as an atomic (one
//! load; none pending: that is all), and, when it has passed, fires the due
//! entries itself if the lock is free (`try_lock`: it never waits for the
//! driver or a scheduler), then takes the first fired job. The driver still
//! sleeps until the deadline, for an idle pool (no spinning: an idle worker
//! parks as before); whichever comes first fires, under the same lock.
//! The price: with a deadline pending, one clock read per look past an empty
//! deque (callgrind, `timer_cost outside 1000`: 100,020 reads for 100,000
//! outside jobs; a read cost 23 ns of CPU here); jobs spawned from a job (the
//! deque) never pay it, and a pool with no deadline pending pays one load.
//! `timer_probe` at load 13 (six rotations, p99 of the `schedule_at` path,
//! median of 12 rounds): 114 ms before, 13.5 ms with the fired queue alone,
//! 5.5 ms with workers firing too.
//!
//! `compare --workloads timer_schedule,timer_schedule_contended,timer_cancel,timer_memory,timer_lateness_p50,timer_lateness_p99,timer_lateness_max,timer_idle_cpu --rounds 3`,
//! three alternating pairs against the code before (medians of the pairs, load
//! 12-19, other builds running): lateness p50 168 ms → 0.69 ms, p99 1.18 s →
//! 17.8 ms, max 211 ms → 29.6 ms (tokio 0.46-3.0 s p99 in the same runs);
//! schedule, cancel, memory (160 B) and idle CPU (0) unchanged within the
//! noise. At such loads the workers cannot keep up and the injector grows
//! without bound, which is what the fired queue steps around; on a quiet
//! machine (the goal's p99 under 1 ms, 1.23 ms before) it could not be
//! measured here. On 16-64 cores the fired queue is one more shared queue that
//! every worker looks at past its deque (two loads while it is empty), and
//! `try_lock` keeps workers that pass a due deadline at once from queueing on
//! the timer's lock: one fires, the others go on.
//!
//! ## A pool's timer and its lifecycle (`pool_hook`)
//!
//! Due jobs are handed over with the limit of a re-queue (accepted after
//! `shutdown`, refused once stopped), inside the submission handshake of
//! `crate::lifecycle` and *while the timer's lock is held*, and the count of
//! pending jobs drops only after the push to the fired queue: so a worker that
//! sees no pending jobs sees the pushes (the registry counts the fired queue as
//! visible work), and `shutdown_now`, which waits for quiescence, drains the
//! queues (the fired queue first), then drains the timer under its lock, finds
//! every job either queued, pending in the heap, or refused by the stopped pool
//! and kept aside for it ("refused"): none is lost or handed back twice.
//! Termination's drain runs the fired jobs it finds like other leftovers. See
//! `pool_hook` for what `shutdown`, `shutdown_now` and termination do.
//!
//! ## Bad input
//!
//! A deadline is an `Option<Instant>`: `None` means due never (what
//! `Instant::now().checked_add(Duration::MAX)` gives); such an entry waits in the
//! slab outside the heap until it is cancelled (or, for a pool's job, until
//! `shutdown`, since it could never run). A deadline in the past is due at once.

pub(crate) mod heap;
pub(crate) mod pool_hook;

use crate::error::{RejectReason, Rejected};
use crate::job::Job;
use crate::lifecycle::State as Lifecycle;
use crate::registry::{quietly, Registry};
use crate::sync::{lock, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering};
use crossbeam_utils::CachePadded;
use heap::{Key, TimerHeap};
use std::fmt;
use std::sync::{Arc, Weak};
use std::task::Waker;
use std::time::Instant;

/// What a timer fires.
pub(crate) enum Entry {
    Job(Job),
    Wake(Waker),
}

/// Where a timer's due jobs go.
enum Sink {
    /// Submitted to the pool (a re-queue: accepted after `shutdown`).
    Pool(Weak<Registry>),
    /// Run on the driver thread (the global timer).
    Inline,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    /// No thread yet (started by the first entry with a deadline).
    NotStarted,
    /// Awake, firing or about to look at the heap.
    Running,
    /// Asleep until the deadline (`None`: until notified).
    Sleeping(Option<Instant>),
    /// Tests: never started; the test fires by hand.
    #[cfg(test)]
    Manual,
}

struct Queue {
    heap: TimerHeap<Entry>,
    driver: Driver,
    /// The pool terminated: no more entries, the driver exits.
    stopped: bool,
    /// Due jobs a stopped pool refused: `shutdown_now` hands them back.
    refused: Vec<Job>,
    /// The due jobs of one look, on their way to the pool (kept: no
    /// allocation per look).
    batch: Vec<Job>,
    /// The value last stored in `Shared::next_due`.
    published: u64,
}

/// Why [`Shared::insert`] handed an entry back.
enum Refusal {
    /// The timer stopped (its pool terminated).
    Stopped,
    /// The pool's lifecycle check refused it.
    Lifecycle(Lifecycle),
    /// The driver thread could not be spawned (see "When the driver thread
    /// cannot start" in the module docs).
    NoThread,
}

pub(crate) struct Shared {
    queue: Mutex<Queue>,
    cv: Condvar,
    sink: Sink,
    name: String,
    /// Pending job entries (mirrors the heap's jobs; read by the pool's workers:
    /// after `shutdown` they hold termination, see `pool_hook`).
    jobs: AtomicUsize,
    /// The earliest deadline in nanoseconds since `base` ([`NO_DEADLINE`]:
    /// none), for the workers' look ([`Shared::help_fire`]); written under the
    /// lock, only when it changes (`Queue::published`).
    next_due: CachePadded<AtomicU64>,
    base: Instant,
    /// Tests: the next this many driver spawns fail (`spawn_driver`).
    #[cfg(test)]
    fail_spawns: AtomicUsize,
}

/// A timer: a queue of deadlines and the thread that fires them (module docs).
///
/// Get a pool's with [`ThreadPool::timer`](crate::ThreadPool::timer), the calling
/// worker's pool's with [`Timer::current`], or the process-wide one with
/// [`Timer::global`]. A clone is another handle to the same timer.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use executor_core::ThreadPool;
/// use executor_core::integration::Job;
///
/// let pool = ThreadPool::new(1).unwrap();
/// let (tx, rx) = std::sync::mpsc::channel();
/// let due = Instant::now() + Duration::from_millis(5);
/// let key = pool.timer().schedule_job(Some(due), Job::new(move || tx.send(Instant::now()).unwrap())).unwrap();
/// assert!(rx.recv().unwrap() >= due); // ran on the pool, never before its deadline
/// assert!(!key.cancel()); // it fired already
/// ```
#[derive(Clone)]
pub struct Timer {
    shared: Arc<Shared>,
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("name", &self.shared.name)
            .field("pending", &self.pending())
            .finish()
    }
}

/// The key of one pending timer entry: cancel it, or change its waker. Not
/// `Clone`: an entry is cancelled at most once. Dropping the key leaves the entry
/// pending.
pub struct TimerKey {
    shared: Arc<Shared>,
    key: Key,
}

impl fmt::Debug for TimerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerKey")
            .field("timer", &self.shared.name)
            .field("key", &self.key)
            .finish()
    }
}

impl Shared {
    fn new(name: String, sink: Sink) -> Arc<Shared> {
        Arc::new(Shared {
            queue: Mutex::new(Queue {
                heap: TimerHeap::default(),
                driver: Driver::NotStarted,
                stopped: false,
                refused: Vec::new(),
                batch: Vec::new(),
                published: NO_DEADLINE,
            }),
            cv: Condvar::new(),
            sink,
            name,
            jobs: AtomicUsize::new(0),
            next_due: CachePadded::new(AtomicU64::new(NO_DEADLINE)),
            base: Instant::now(),
            #[cfg(test)]
            fail_spawns: AtomicUsize::new(0),
        })
    }

    pub(crate) fn for_pool(registry: Weak<Registry>, name: &str) -> Arc<Shared> {
        Shared::new(format!("{name}-timer"), Sink::Pool(registry))
    }

    fn registry(&self) -> Option<Arc<Registry>> {
        match &self.sink {
            Sink::Pool(weak) => weak.upgrade(),
            Sink::Inline => None,
        }
    }

    /// Pending job entries.
    pub(crate) fn jobs(&self) -> usize {
        self.jobs.load(Ordering::SeqCst)
    }

    /// Adds an entry. `check` runs under the lock (a pool's lifecycle check).
    fn insert(
        self: &Arc<Self>,
        due: Option<Instant>,
        entry: Entry,
        check: impl FnOnce() -> Result<(), Lifecycle>,
    ) -> Result<Key, (Entry, Refusal)> {
        let mut q = lock(&self.queue);
        if q.stopped {
            return Err((entry, Refusal::Stopped));
        }
        // Counted before the lifecycle check (both SeqCst): a worker that sees
        // SHUTDOWN after this check saw RUNNING also sees the count, so it does
        // not exit under a job that is being accepted.
        let is_job = matches!(entry, Entry::Job(_));
        if is_job {
            self.jobs.fetch_add(1, Ordering::SeqCst);
        }
        if let Err(state) = check() {
            drop(q);
            if is_job {
                self.jobs_gone(1);
            }
            return Err((entry, Refusal::Lifecycle(state)));
        }
        let (key, earliest) = q.heap.insert(due, entry);
        if earliest {
            self.publish_next(&mut q);
        }
        if let Some(due) = due {
            match q.driver {
                Driver::NotStarted => {
                    if let Err(e) = self.spawn_driver() {
                        // Nothing may wait in a heap that no thread fires:
                        // the entry comes back out, and the next entry with
                        // a deadline tries to start the driver again.
                        let entry = q.heap.remove(key).expect("inserted under this lock");
                        self.publish_next(&mut q);
                        drop(q);
                        if is_job {
                            self.jobs_gone(1);
                        }
                        tracing::error!(timer = %self.name, error = %e, "the timer thread could not be started; the timer entry is refused");
                        return Err((entry, Refusal::NoThread));
                    }
                    q.driver = Driver::Running;
                }
                Driver::Sleeping(until) if earliest && until.is_none_or(|u| due < u) => {
                    q.driver = Driver::Running;
                    self.cv.notify_one();
                }
                _ => {}
            }
        }
        Ok(key)
    }

    /// Starts the driver thread (under the lock; a pool's driver joins the
    /// pool's threads, so `close` joins it). The driver stays `NotStarted` on
    /// an error.
    fn spawn_driver(self: &Arc<Self>) -> std::io::Result<()> {
        #[cfg(test)]
        if self
            .fail_spawns
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(std::io::Error::other(
                "timer thread spawn failure injected by a test",
            ));
        }
        let me = self.clone();
        let handle = std::thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || me.drive())?;
        if let Some(registry) = self.registry() {
            crate::sync_lock(&registry.threads).push(handle);
        }
        Ok(())
    }

    /// Removes an entry; `None` if it fired or was removed.
    fn remove(&self, key: Key) -> Option<Entry> {
        let entry = {
            let mut q = lock(&self.queue);
            let entry = q.heap.remove(key)?;
            self.publish_next(&mut q);
            entry
        };
        if matches!(entry, Entry::Job(_)) {
            self.jobs_gone(1);
        }
        Some(entry)
    }

    /// `n` job entries left the heap (fired, cancelled, drained): after
    /// `shutdown`, the last one lets the workers exit, so they re-check.
    fn jobs_gone(&self, n: usize) {
        if n == 0 {
            return;
        }
        let before = self.jobs.fetch_sub(n, Ordering::SeqCst);
        debug_assert!(before >= n);
        if before == n {
            if let Some(registry) = self.registry() {
                if registry.lifecycle.state() >= Lifecycle::Shutdown {
                    registry.sleep.notify_all();
                }
            }
        }
    }

    /// Takes every due entry off the heap: hands the jobs to the pool's
    /// workers (under the lock, see the module docs) and returns the wakers,
    /// the jobs to run here (the global timer), and the pool to notify.
    /// Returns `None` when nothing was due.
    fn fire(&self, q: &mut Queue, now: Instant) -> Option<Fired> {
        if q.heap.peek_due().is_none_or(|due| due > now) {
            return None;
        }
        let mut wakers = Vec::new();
        let mut due_jobs = std::mem::take(&mut q.batch);
        // Bounded, so schedulers are not kept waiting behind a huge burst.
        while wakers.len() + due_jobs.len() < FIRE_BATCH {
            let Some(entry) = q.heap.pop_due(now) else {
                break;
            };
            match entry {
                Entry::Wake(waker) => wakers.push(waker),
                Entry::Job(job) => due_jobs.push(job),
            }
        }
        let jobs = due_jobs.len();
        let mut fired = Fired {
            wakers,
            inline: Vec::new(),
            pool: None,
        };
        match &self.sink {
            Sink::Pool(weak) if jobs > 0 => match weak.upgrade() {
                Some(registry) => {
                    registry
                        .timer
                        .hand_over(&registry, &mut due_jobs, &mut q.refused);
                    fired.pool = Some(registry);
                }
                // The pool is gone: the jobs are abandoned (dropped by the drain).
                None => q.refused.append(&mut due_jobs),
            },
            Sink::Pool(_) => {}
            Sink::Inline => fired.inline = std::mem::take(&mut due_jobs),
        }
        q.batch = due_jobs;
        self.publish_next(q);
        self.jobs_gone(jobs);
        Some(fired)
    }

    /// Stores the earliest deadline for the workers' look if it changed
    /// (under the lock).
    fn publish_next(&self, q: &mut Queue) {
        let next = q.heap.peek_due().map_or(NO_DEADLINE, |due| {
            (due.saturating_duration_since(self.base).as_nanos() as u64).min(NO_DEADLINE - 1)
        });
        if next != q.published {
            q.published = next;
            self.next_due.store(next, Ordering::Release);
        }
    }

    /// A worker's look at the timer, on its way to outside work (see
    /// "Workers fire too" in the module docs): if the earliest deadline has
    /// passed and the lock is free, fires what is due on this thread, the way
    /// the driver does. True iff jobs were handed to the pool. Without a
    /// pending deadline this is one load; with one not yet due, a clock read.
    #[inline]
    pub(crate) fn help_fire(&self) -> bool {
        let next = self.next_due.load(Ordering::Relaxed);
        if next == NO_DEADLINE || (self.base.elapsed().as_nanos() as u64) < next {
            return false;
        }
        self.help_fire_now()
    }

    #[cold]
    fn help_fire_now(&self) -> bool {
        let fired = {
            let mut q = match self.queue.try_lock() {
                Ok(q) => q,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                // The driver or a scheduler holds it: the driver fires.
                Err(std::sync::TryLockError::WouldBlock) => return false,
            };
            if q.stopped {
                return false;
            }
            self.fire(&mut q, Instant::now())
        };
        fired.is_some_and(|f| f.run(true))
    }

    /// The driver thread's loop (module docs).
    fn drive(self: Arc<Self>) {
        tracing::debug!(timer = %self.name, "timer thread started");
        let mut q = lock(&self.queue);
        loop {
            if q.stopped {
                break;
            }
            let now = Instant::now();
            if let Some(fired) = self.fire(&mut q, now) {
                drop(q);
                fired.run(false);
                q = lock(&self.queue);
                continue;
            }
            let next = q.heap.peek_due();
            q.driver = Driver::Sleeping(next);
            q = match next {
                None => self
                    .cv
                    .wait(q)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(due) => {
                    self.cv
                        .wait_timeout(q, due.saturating_duration_since(now))
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
            q.driver = Driver::Running;
        }
        tracing::debug!(timer = %self.name, "timer thread exiting");
    }

    /// Removes the job entries `take` selects (pool hooks) and returns them.
    fn take_jobs(&self, mut take: impl FnMut(Option<Instant>) -> bool) -> Vec<Job> {
        let taken = {
            let mut q = lock(&self.queue);
            let taken = q
                .heap
                .take_where(|e, due| matches!(e, Entry::Job(_)) && take(due));
            self.publish_next(&mut q);
            taken
        };
        self.jobs_gone(taken.len());
        taken
            .into_iter()
            .filter_map(|e| match e {
                Entry::Job(job) => Some(job),
                Entry::Wake(_) => None,
            })
            .collect()
    }
}

/// `Shared::next_due` when nothing is pending with a deadline.
const NO_DEADLINE: u64 = u64::MAX;

/// Due entries fired per look while the lock is held.
const FIRE_BATCH: usize = 1024;

/// What one look at the heap fired, for after the lock is released.
struct Fired {
    wakers: Vec<Waker>,
    /// Jobs of the global timer, run on its thread.
    inline: Vec<Job>,
    /// The pool that was handed jobs: a worker is woken for them.
    pool: Option<Arc<Registry>>,
}

impl Fired {
    /// Wakes a worker for the handed-over jobs (`on_worker`: the calling
    /// worker takes one itself), wakes the fired wakers and runs the fired
    /// inline jobs, never under the lock; panics are caught (the driver
    /// survives them). True iff jobs were handed to a pool.
    fn run(self, on_worker: bool) -> bool {
        let handed = self.pool.is_some();
        if let Some(registry) = &self.pool {
            registry.timer.notify_fired(registry, on_worker);
        }
        for waker in self.wakers {
            quietly(move || waker.wake());
        }
        for job in self.inline {
            if quietly(move || job.run()).is_none() {
                tracing::error!("a job run by the global timer panicked; the panic was caught");
            }
        }
        handed
    }
}

impl Timer {
    /// The process-wide timer, for code on no pool: its jobs run on its own
    /// thread (keep them short: they delay the timers behind them), its wakers
    /// are woken there. Its thread starts with its first timer and never exits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use executor_core::integration::{Job, Timer};
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let due = Instant::now() + Duration::from_millis(1);
    /// Timer::global().schedule_job(Some(due), Job::new(move || tx.send(()).unwrap())).unwrap();
    /// rx.recv().unwrap();
    /// ```
    pub fn global() -> Timer {
        static GLOBAL: std::sync::OnceLock<Arc<Shared>> = std::sync::OnceLock::new();
        Timer {
            shared: GLOBAL
                .get_or_init(|| Shared::new("executor-timer".into(), Sink::Inline))
                .clone(),
        }
    }

    /// The timer of the pool whose worker calls this, or the
    /// [global](Timer::global) one on any other thread (or when that pool has
    /// terminated).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_core::ThreadPool;
    /// use executor_core::integration::Timer;
    /// let pool = ThreadPool::new(1).unwrap();
    /// let on_worker = pool.install(Timer::current);
    /// assert!(on_worker.is_same(&pool.timer()));
    /// assert!(Timer::current().is_same(&Timer::global()));
    /// ```
    pub fn current() -> Timer {
        crate::worker::WorkerThread::with_current(|w| {
            w.map(|w| w.registry().timer.timer(w.registry_arc()))
        })
        .filter(|t| !lock(&t.shared.queue).stopped)
        .unwrap_or_else(Timer::global)
    }

    pub(crate) fn from_shared(shared: Arc<Shared>) -> Timer {
        Timer { shared }
    }

    /// True iff `self` and `other` are the same timer.
    pub fn is_same(&self, other: &Timer) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Entries pending (jobs and wakers, due never included).
    pub fn pending(&self) -> usize {
        lock(&self.shared.queue).heap.len()
    }

    /// Schedules `job` for `due` (`None`: due never; a past instant: due now).
    /// On a pool's timer the job is submitted to the pool when due, also after
    /// `shutdown` unless the pool was built with
    /// [`execute_delayed_after_shutdown(false)`](crate::Builder::execute_delayed_after_shutdown);
    /// a pending job holds the pool's termination after `shutdown`, and
    /// `shutdown_now` hands it back. On the [global](Timer::global) timer it
    /// runs on the timer's thread. Dropping a job unrun (cancel, or a pool that
    /// will never run it) drops its closure, or abandons its task.
    ///
    /// # Errors
    ///
    /// [`Rejected`] holding `job` when the pool is shut down (or terminated),
    /// or, with [`RejectReason::NoTimerThread`], when the entry has a deadline
    /// and the timer's thread, which starts with its first such entry, could
    /// not be started (the operating system refused a thread). Nothing is left
    /// pending then; the next entry with a deadline tries again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use executor_core::ThreadPool;
    /// use executor_core::integration::Job;
    /// let pool = ThreadPool::new(1).unwrap();
    /// let key = pool
    ///     .timer()
    ///     .schedule_job(Instant::now().checked_add(Duration::from_secs(3600)), Job::new(|| unreachable!()))
    ///     .unwrap();
    /// assert!(key.cancel()); // removed at once; its closure is dropped
    /// pool.shutdown();
    /// assert!(pool.timer().schedule_job(None, Job::new(|| ())).is_err());
    /// ```
    pub fn schedule_job(&self, due: Option<Instant>, job: Job) -> Result<TimerKey, Rejected<Job>> {
        let registry = self.shared.registry();
        let check = || match &registry {
            Some(r) => match r.lifecycle.state() {
                Lifecycle::Running => Ok(()),
                state => Err(state),
            },
            None if matches!(self.shared.sink, Sink::Pool(_)) => Err(Lifecycle::Terminated),
            None => Ok(()),
        };
        match self.shared.insert(due, Entry::Job(job), check) {
            Ok(key) => Ok(self.key(key)),
            Err((Entry::Job(job), Refusal::NoThread)) => {
                Err(Rejected::new(job, RejectReason::NoTimerThread))
            }
            Err((Entry::Job(job), refusal)) => {
                let state = match refusal {
                    Refusal::Lifecycle(state) => state,
                    _ => Lifecycle::Terminated,
                };
                Err(match &registry {
                    Some(r) => r.reject(job, state),
                    None => Rejected::new(job, RejectReason::Shutdown),
                })
            }
            Err((Entry::Wake(_), _)) => unreachable!("inserted a job"),
        }
    }

    /// Wakes `waker` at `due` (`None`: never, until [`TimerKey::reset_waker`] or
    /// cancel; a past instant: at once, on the timer's thread). Used by async
    /// timers; the entry does not hold a pool's termination.
    ///
    /// # Errors
    ///
    /// The waker back when the timer has stopped (its pool terminated): use
    /// [`Timer::global`] then; or when `due` is an instant and the timer's
    /// thread, which starts with its first entry with a deadline, could not be
    /// started (the operating system refused a thread: nothing is left
    /// pending, and the next entry with a deadline tries again).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use executor_core::integration::Timer;
    /// let due = Instant::now() + Duration::from_millis(1);
    /// let key = Timer::global().wake_at(Some(due), std::task::Waker::noop().clone()).unwrap();
    /// while key.is_pending() {
    ///     std::thread::yield_now();
    /// }
    /// assert!(Instant::now() >= due);
    /// ```
    pub fn wake_at(&self, due: Option<Instant>, waker: Waker) -> Result<TimerKey, Waker> {
        match self.shared.insert(due, Entry::Wake(waker), || Ok(())) {
            Ok(key) => Ok(self.key(key)),
            Err((Entry::Wake(waker), _)) => Err(waker),
            Err((Entry::Job(_), _)) => unreachable!("inserted a waker"),
        }
    }

    fn key(&self, key: Key) -> TimerKey {
        TimerKey {
            shared: self.shared.clone(),
            key,
        }
    }
}

impl TimerKey {
    /// Removes the entry if it is still pending: a job is dropped unrun (on this
    /// thread, after the timer's lock is released), a waker dropped unwoken.
    /// True iff this call removed it; false if it fired or was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use executor_core::integration::{Job, Timer};
    /// let far = Instant::now().checked_add(Duration::from_secs(3600));
    /// let key = Timer::global().schedule_job(far, Job::new(|| unreachable!())).unwrap();
    /// assert!(key.cancel());
    /// assert!(!key.cancel());
    /// ```
    pub fn cancel(&self) -> bool {
        match self.shared.remove(self.key) {
            Some(entry) => {
                quietly(move || drop(entry));
                true
            }
            None => false,
        }
    }

    /// True while the entry waits for its deadline.
    pub fn is_pending(&self) -> bool {
        lock(&self.shared.queue).heap.get_mut(self.key).is_some()
    }

    /// Replaces the waker of a pending waker entry; false (nothing changed) if it
    /// fired, was cancelled, or is a job. The old waker is dropped after the lock
    /// is released.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_core::integration::Timer;
    /// let key = Timer::global().wake_at(None, std::task::Waker::noop().clone()).unwrap();
    /// assert!(key.reset_waker(&std::task::Waker::noop().clone()));
    /// assert!(key.cancel());
    /// assert!(!key.reset_waker(&std::task::Waker::noop().clone()));
    /// ```
    pub fn reset_waker(&self, waker: &Waker) -> bool {
        let new = waker.clone();
        let old = {
            let mut q = lock(&self.shared.queue);
            match q.heap.get_mut(self.key) {
                Some(Entry::Wake(w)) => {
                    if w.will_wake(&new) {
                        return true;
                    }
                    Some(std::mem::replace(w, new))
                }
                _ => None,
            }
        };
        match old {
            Some(old) => {
                quietly(move || drop(old));
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
impl Timer {
    /// A timer whose driver never starts: the test fires it with `fire_now`.
    pub(crate) fn manual() -> Timer {
        let shared = Shared::new("manual".into(), Sink::Inline);
        lock(&shared.queue).driver = Driver::Manual;
        Timer { shared }
    }

    /// Fires what is due at `now` on this thread; the number of entries fired.
    pub(crate) fn fire_now(&self, now: Instant) -> usize {
        let fired = {
            let mut q = lock(&self.shared.queue);
            self.shared.fire(&mut q, now)
        };
        fired.map_or(0, |f| {
            let n = f.wakers.len() + f.inline.len();
            f.run(false);
            n
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn manual_timer_fires_due_jobs_only_and_cancel_removes() {
        let t = Timer::manual();
        let now = Instant::now();
        let ran = Arc::new(AtomicUsize::new(0));
        let job = |ran: &Arc<AtomicUsize>| {
            let ran = ran.clone();
            Job::new(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
        };
        let a = t.schedule_job(Some(now), job(&ran)).unwrap();
        let b = t
            .schedule_job(Some(now + Duration::from_secs(60)), job(&ran))
            .unwrap();
        let _never = t.schedule_job(None, job(&ran)).unwrap();
        assert_eq!(t.shared.jobs(), 3);
        assert_eq!(t.fire_now(now), 1);
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert!(!a.cancel() && !a.is_pending());
        assert!(b.is_pending() && b.cancel());
        assert_eq!(t.fire_now(now + Duration::from_secs(120)), 0);
        assert_eq!(t.shared.jobs(), 1, "the due-never job is still pending");
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    /// A timer like the global one (jobs run on its thread), private to a test.
    fn inline_timer() -> Timer {
        Timer::from_shared(Shared::new("test-inline-timer".into(), Sink::Inline))
    }

    #[test]
    fn a_driver_that_cannot_start_hands_the_entry_back_and_the_next_entry_starts_it() {
        let t = inline_timer();
        t.shared.fail_spawns.store(1, Ordering::SeqCst);
        let (tx, rx) = std::sync::mpsc::channel();
        let tx2 = tx.clone();
        let due = Some(Instant::now());
        let err = t
            .schedule_job(due, Job::new(move || tx2.send("first").unwrap()))
            .unwrap_err();
        assert_eq!(err.reason(), RejectReason::NoTimerThread);
        assert!(err
            .to_string()
            .contains("timer thread could not be started"));
        assert_eq!(t.pending(), 0, "nothing is left in a heap no thread fires");
        assert_eq!(t.shared.jobs(), 0);
        assert_eq!(lock(&t.shared.queue).driver, Driver::NotStarted);
        // The job comes back runnable.
        err.into_inner().run();
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("first"));
        // A waker entry is handed back the same way.
        t.shared.fail_spawns.store(1, Ordering::SeqCst);
        assert!(t.wake_at(due, std::task::Waker::noop().clone()).is_err());
        assert_eq!(t.pending(), 0);
        // Due never needs no thread, so it does not try.
        t.shared.fail_spawns.store(1, Ordering::SeqCst);
        let never = t.schedule_job(None, Job::new(|| ())).unwrap();
        assert!(never.cancel());
        t.shared.fail_spawns.store(0, Ordering::SeqCst);
        // The next entry with a deadline starts the driver, which fires it.
        t.schedule_job(due, Job::new(move || tx.send("second").unwrap()))
            .unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("second"));
    }

    #[test]
    fn a_pool_whose_timer_thread_cannot_start_rejects_and_still_terminates() {
        let pool = crate::ThreadPool::new(1).unwrap();
        let timer = pool.timer();
        timer.shared.fail_spawns.store(1, Ordering::SeqCst);
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let err = timer
            .schedule_job(
                Some(Instant::now()),
                Job::new(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                }),
            )
            .unwrap_err();
        assert_eq!(err.reason(), RejectReason::NoTimerThread);
        drop(err); // dropped unrun
        let (tx, rx) = std::sync::mpsc::channel();
        timer
            .schedule_job(
                Some(Instant::now() + Duration::from_millis(1)),
                Job::new(move || tx.send(()).unwrap()),
            )
            .unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        pool.shutdown();
        assert!(pool.await_termination(Duration::from_secs(10)).is_ok());
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        assert_eq!(timer.shared.jobs(), 0);
    }

    #[test]
    fn a_panicking_global_job_does_not_kill_the_driver() {
        let (tx, rx) = std::sync::mpsc::channel();
        let t = Timer::global();
        let now = Instant::now();
        t.schedule_job(Some(now), Job::new(|| panic!("boom")))
            .unwrap();
        t.schedule_job(
            Some(now + Duration::from_millis(1)),
            Job::new(move || tx.send(()).unwrap()),
        )
        .unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
}

/// Model check of the schedule/cancel/fire race: an entry is fired or cancelled,
/// exactly one of the two, and the pending-job count ends at zero. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p executor-core --lib loom`.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicUsize as LoomUsize;

    /// A manual timer holding one job due now that counts its runs.
    fn one_due_job() -> (Timer, Instant, Arc<LoomUsize>, TimerKey) {
        let t = Timer::manual();
        let ran = Arc::new(LoomUsize::new(0));
        let r = ran.clone();
        let now = Instant::now();
        let key = t
            .schedule_job(
                Some(now),
                Job::new(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                }),
            )
            .unwrap();
        (t, now, ran, key)
    }

    #[test]
    fn loom_schedule_cancel_fire() {
        loom::model(|| {
            let (t, now, ran, key) = one_due_job();
            let firer = {
                let t = t.clone();
                loom::thread::spawn(move || t.fire_now(now))
            };
            let cancelled = key.cancel();
            let fired = firer.join().unwrap();
            assert_eq!(fired + cancelled as usize, 1, "fired xor cancelled");
            assert_eq!(ran.load(Ordering::SeqCst), fired);
            assert_eq!(t.shared.jobs(), 0);
            assert_eq!(t.pending(), 0);
        });
    }

    /// The driver and a worker that saw the deadline pass ("Workers fire
    /// too") race to fire one due job while its key cancels it: it runs at
    /// most once, exactly once unless cancelled, and the count ends at zero.
    #[test]
    fn loom_driver_and_worker_fire_once() {
        loom::model(|| {
            let (t, now, ran, key) = one_due_job();
            let driver = {
                let t = t.clone();
                loom::thread::spawn(move || t.fire_now(now))
            };
            let worker = {
                let t = t.clone();
                loom::thread::spawn(move || {
                    t.shared.help_fire();
                })
            };
            let cancelled = key.cancel();
            driver.join().unwrap();
            worker.join().unwrap();
            let ran = ran.load(Ordering::SeqCst);
            // The driver's look blocks on the lock, so the job is fired by one
            // of the two unless cancelled first.
            assert_eq!(ran + cancelled as usize, 1, "ran xor cancelled");
            assert_eq!(t.shared.jobs(), 0);
            assert_eq!(t.pending(), 0);
        });
    }
}
