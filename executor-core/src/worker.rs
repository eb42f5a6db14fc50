//! A worker thread: its main loop, how it finds work, and what it runs while
//! it waits for something (`crate::wait` has the rule).
//!
//! Each worker owns a LIFO deque (jobs its own jobs submit stay on it while hot)
//! and a FIFO buffer of outside jobs, and finds work in this order: its deque,
//! the pool timer's fired jobs (delayed jobs now due; with none, it fires due
//! timers itself if the timer thread is late: `crate::timer`, "Fired jobs go
//! first"), its buffer, a peer's buffer (a batch, the oldest half), the
//! injector (taking a batch into its buffer), then a peer's deque (one job,
//! the oldest; peers tried from a random start). Every 61st look starts at
//! the fired jobs, its buffer and the injector instead, so a worker whose own
//! jobs keep spawning cannot starve outside submissions or due timers.
//!
//! **Outside work is FIFO.** A batch taken from the injector (or claimed from a
//! batch ticket) goes into the FIFO buffer in submission order, so its owner
//! pops the oldest first, and so do thieves; and a peer's buffer holds jobs
//! older than anything still in the injector, so it is looked at first. Jobs
//! submitted from outside by one thread thus start in submission order, up to
//! the pool's parallelism. (With one LIFO deque for both, a worker that took a
//! batch ran it oldest first only by pushing it reversed, and then a thief took
//! the *newest* outside job from the other end: on an idle 2-thread pool, one
//! long job then four short ones started as 0, 3, 4, 2, 1.) Jobs spawned from
//! inside stay LIFO on the deque for locality.
//!
//! **Batching a stream.** A thread that submits in a tight loop from outside
//! pushes a job every 100–300 ns, and a worker that has just run one (often
//! in less) finds the injector holding one job again: it steals one job per
//! look, and each push and each steal moves the injector's cache lines
//! between the cores (perf of a `submit` loop: the push, the steal and the
//! submitter's read of the sleep counters were about 40% of the samples). So at the first look after a job, a
//! worker whose previous injector steal took a single job and which finds
//! the injector neither empty nor holding [`STREAM_BATCH`] jobs waits up to
//! [`STREAM_WAIT`] (spinning on its own clock) before it steals, and then
//! takes a batch. A wait in which no job arrived means no stream (a
//! submitter waiting for each result): the worker then skips the next
//! [`STREAM_RETRY_LOOKS`] chances to wait. A job of a stream may start up to
//! `STREAM_WAIT` later; a lone job, a job from a worker (its deque) and a
//! long queue (a batch steal) do not wait. Measured on 2 CPUs, this halved
//! the time per job of `spawn_outside` and cut a `submit` loop's by a
//! quarter (see the constant).
//!
//! **Steal delay for a lone job.** In a chain of spawns (each job spawns the
//! next: `chained_spawn`, `ping_pong`) the owner pushes a job and pops it back
//! a few tens of nanoseconds later. An idle worker that steals it moves the
//! chain to its own core, and the loser turns searcher and steals it back
//! later: `compare --workloads chained_spawn` timed a link at 45 ns on one
//! worker and 142-149 ns on two (Java's ForkJoinPool: 37 ns, using 1.27 CPUs
//! of 2 where we used 2.00); in a scratch count the idle worker stole about
//! 6% of the links. tokio's answer, a LIFO slot only its owner takes, cannot
//! be stolen: a job that spawns a child and then runs for a second keeps the
//! child waiting that second while other workers idle (tokio issue #4941),
//! and our jobs are closures that may run as long as they like. Go's
//! `runnext` keeps both properties, and so does this rule: a thief takes a
//! peer's **lone** job (the deque holds one, the newest) only if that peer
//! has finished no job for at least [`LONE_STEAL_DELAY`] (the peer's count
//! of finished jobs, which its `run_job` writes anyway, is the clock). A
//! chain's owner finishes a job every link, so its lone job stays; a job that
//! spawned a child and keeps running finishes nothing, so the child is stolen
//! after the delay (test: `a_lone_child_of_a_running_job_is_stolen`). A
//! thief that saw the count move rests for that delay without looking at
//! that deque at all, so it no longer pulls the lines the chain's owner
//! writes on every push and pop; one that saw no move keeps looking, so a
//! job looping over spawns (`spawn_inside`), whose deque soon holds two
//! jobs, is stolen from as before. Once the delay has passed without
//! progress, that peer's lone jobs are stolen at once, with no clock read,
//! until its count moves. (A first version read the clock at every look at
//! a lone job: the thief of `spawn_inside` then took 36% of the jobs
//! instead of 50%, and the row got slower.) A deque of two jobs or more is
//! stolen from at once (its oldest job is not the owner's next), which is
//! what fork-join needs: a `join`'s `b` alone on a busy owner's deque waits
//! the delay, a microsecond against the tens a wake-up takes. The price:
//! a chain whose links are shorter than the delay but spawn their successor
//! early runs on one core (as under Go's `runnext`); stealing such links did
//! not pay before either. The thief keeps searching meanwhile (a sleeper's
//! re-check still sees the lone job), so no worker sleeps while work it can
//! reach is queued. Measured on 2 CPUs under load (other builds running):
//! see the commit message. On 16-64 cores each searcher keeps one note per
//! peer; what could not be measured here is whether many searchers that each
//! read a chain owner's counters once per delay slow it: that is one read
//! per searcher per microsecond, against one per poll before.
//!
//! When it finds nothing it becomes a searcher, spins with backoff and then yields
//! for up to `SEARCH_BEFORE_PARK` (50 µs), then sleeps through [`crate::sleep`].
//! Tried and not kept: sleeping at once when a yield came back late (20 µs,
//! a sign that the CPU is oversubscribed and a yielding searcher waits behind
//! other threads while publishers count on it). On 2 CPUs at load 6-9,
//! `hround_probe` found the same round trip with and without it (median
//! 0.9 µs from submit to the job's start, p99 3.0 µs), and `compare`'s
//! `round_trip` is bimodal under such load on every pool that searches
//! (about 2.3 or 22 µs per job, rayon alike) whether or not it parks early.
//! Only half the workers (at least one) search that long at a time; one over that
//! cap sleeps right after its backoff, so idle workers neither take the CPU a
//! submitting thread needs nor keep pulling the queues' cache lines away from it. The same loop serves fork-join waits (`join`,
//! scopes): the worker keeps running jobs (its own first) until the awaited
//! condition holds. Other waits ([`wait_until`](crate::integration::wait_until)) run only
//! the running job's own subtree (the deque above its *floor*, the deque's
//! length when the job started) and then block, compensated by a spare
//! (`crate::compensate`). A spare runs this same loop, with its own deque
//! and buffer; it retires between jobs once it is in excess, or after its
//! keep-alive without work.
//!
//! The worker's state lives on the worker thread's stack; a thread-local pointer to
//! it (set when the thread starts, cleared before the frame ends) is how
//! submissions from a job find the local deque.

use crate::batch::Batch;
use crate::error::Rejected;
use crate::job::Job;
use crate::lifecycle::State;
use crate::registry::{IntoJob, PanicOrigin, Registry};
use crate::stats::{RunReport, RUN_DEFAULT};
use crossbeam_deque::{Injector, Steal, Worker};
use crossbeam_utils::Backoff;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an idle worker keeps searching (spinning, then yielding) before it
/// parks. Parking and being woken costs tens of microseconds; searching a little
/// longer than that catches the next job of a steady trickle without a wake-up,
/// and costs an idle pool nothing measurable (it parks after this, once).
const SEARCH_BEFORE_PARK: Duration = Duration::from_micros(50);

/// How long a worker that is chasing a stream of outside submissions lets the
/// injector fill before it steals again ("Batching a stream" in the module
/// docs). Measured on 2 CPUs (`compare`, alternating runs of 11 rounds), per
/// job from outside: 1 µs took spawn_outside from 280–320 to 142–170 ns and
/// submit_collect's `submit` loop from 536–602 to 393–446 ns; 2 µs to 129 and
/// 418 ns; 3 µs to 100–113 and 326–383 ns. 2 µs keeps the latency it adds to a
/// job of a stream small against the cost of a wake-up.
const STREAM_WAIT: Duration = Duration::from_micros(2);

/// A worker does not wait for a stream batch once the injector holds this
/// many jobs: a batch steal takes enough of them.
const STREAM_BATCH: usize = 8;

/// After a wait in which no job arrived, the worker skips this many chances
/// to wait again: a submitter that waits for each job's result (round_trip)
/// pays one wait in this many jobs, not one per job.
const STREAM_RETRY_LOOKS: u32 = 64;

/// How long a thief leaves a peer's lone job alone, and does not look at
/// that peer's deque, while that peer keeps finishing jobs ("Steal delay for
/// a lone job" in the module docs). About what moving a job to another core
/// costs (a steal, the job's cache lines, the loser's search): a chain whose
/// links are shorter than this gains nothing from being spread and stays on
/// its owner's core; one whose links are longer is stolen from as before. A
/// `join`'s `b` alone on its owner's deque waits this long, against the tens
/// of microseconds of a wake-up. Go's `runnext` steal waits 3 µs.
const LONE_STEAL_DELAY: Duration = Duration::from_micros(1);

thread_local! {
    /// The worker running on this thread, if any: set by [`main`] to the
    /// `WorkerThread` on its own stack frame for exactly as long as that frame
    /// lives. A plain pointer in a const-initialised cell with no destructor is the
    /// cheapest thread-local there is (one load), and `join` reads it every call.
    static CURRENT: Cell<*const WorkerThread> = const { Cell::new(std::ptr::null()) };
}

/// Clears `CURRENT` when [`main`]'s frame ends, by return or by unwinding.
struct ClearCurrent;

impl Drop for ClearCurrent {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(std::ptr::null()));
    }
}

/// What a worker thread is there for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One of the pool's `num_threads` workers: lives as long as the pool.
    Core,
    /// Stands in for a blocked worker (`crate::compensate`).
    Spare,
    /// Added by the elastic monitor (`crate::elastic`).
    Extra,
}

/// A worker's two queues, made before its thread starts (the registry keeps
/// their stealers).
pub(crate) struct Queues {
    /// LIFO: jobs spawned from inside the pool.
    pub(crate) deque: Worker<Job>,
    /// FIFO: outside jobs taken from the injector.
    pub(crate) outside: Worker<Job>,
}

impl Queues {
    pub(crate) fn new() -> Queues {
        Queues {
            deque: Worker::new_lifo(),
            outside: Worker::new_fifo(),
        }
    }
}

/// The thread-local state of one worker.
pub(crate) struct WorkerThread {
    registry: Arc<Registry>,
    index: usize,
    deque: Worker<Job>,
    /// FIFO buffer of outside jobs taken from the injector ("Outside work is
    /// FIFO" in the module docs).
    outside: Worker<Job>,
    rng: Cell<u64>,
    tick: Cell<u32>,
    /// The last injector steal took a single job (see "Batching a stream").
    chasing: Cell<bool>,
    /// First looks left without a stream wait, after a wait in vain.
    stream_skip: Cell<u32>,
    /// Per peer (the pool's workers, by index): when this worker last saw a
    /// lone job on that peer's deque and left it there, and the peer's count
    /// of finished jobs then ("Steal delay for a lone job" in the module docs).
    lone: Box<[Cell<Option<LoneSeen>>]>,
    /// What the job being run reported (`crate::stats`).
    run_report: RunReport,
    /// The deque's length when the running job started: what lies above it
    /// was pushed by that job (its own subtree), which its waits may run.
    floor: Cell<usize>,
    /// The worker is blocked (a wait or `block_in_place`): nested blocking
    /// counts nothing more.
    blocked: Cell<bool>,
    /// Inside `isolate`: fork-join waits too run only the running job's own
    /// subtree (above the floor), then block.
    isolated: Cell<bool>,
}

/// A lone job left on a peer's deque ("Steal delay for a lone job" in the
/// module docs).
#[derive(Clone, Copy)]
struct LoneSeen {
    /// The peer's count of finished jobs when this worker noted it.
    done: u64,
    /// When.
    since: Instant,
    /// What the note means now.
    state: Lone,
}

/// The state of a [`LoneSeen`] note.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lone {
    /// Noted; the delay has not passed without progress yet.
    Noted,
    /// The count had moved since the previous note: the peer runs a chain,
    /// so its deque is not looked at until the delay has passed.
    Resting,
    /// The delay passed without progress: the peer's lone jobs are stolen
    /// at once until its count moves.
    Due,
}

/// Counts a worker as blocked while it lives (see `crate::compensate`).
pub(crate) struct Blocked(Arc<Registry>);

impl Drop for Blocked {
    fn drop(&mut self) {
        WorkerThread::with_current(|w| {
            if let Some(w) = w {
                w.blocked.set(false);
                self.0.elastic.set_managed(w.index, false);
            }
        });
        self.0.unblock();
    }
}

impl WorkerThread {
    /// Calls `f` with the current thread's worker state, if it is a worker.
    #[inline]
    #[allow(unsafe_code)]
    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&WorkerThread>) -> R) -> R {
        let ptr = CURRENT.with(Cell::get);
        // SAFETY: a non-null pointer was set by `main` on this very thread and
        // points into `main`'s frame, which is still running: it clears the
        // pointer (ClearCurrent) before that frame ends. Everything here runs
        // inside that frame, so the reference cannot outlive the WorkerThread.
        f(unsafe { ptr.as_ref() })
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    pub(crate) fn registry_arc(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    pub(crate) fn run_report(&self) -> &RunReport {
        &self.run_report
    }

    /// The local path of a submission (see `registry.rs` for the handshake).
    #[inline]
    pub(crate) fn push_local<T: IntoJob>(&self, task: T, limit: State) -> Result<(), Rejected<T>> {
        let reg = &*self.registry;
        let state = reg.lifecycle.state();
        if state > limit {
            return Err(reg.reject(task, state));
        }
        self.deque.push(task.into_job());
        reg.counters[self.index].bump_submitted();
        fence(Ordering::SeqCst);
        if reg.lifecycle.state() >= State::Stop {
            if let Some(job) = self.deque.pop() {
                return Err(reg.reject(T::from_job(job), State::Stop));
            }
            // A thief owns it: the drain hands it back, or a worker runs it.
        }
        // The fence above also orders the push before the sleepers check.
        reg.spare_wanted(reg.sleep.notify_one_fenced());
        Ok(())
    }

    fn next_random(&self) -> u64 {
        // xorshift64*
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// One look through the queues. In STOP only the own deque is looked at: the
    /// rest belongs to `shutdown_now`'s drain.
    #[inline]
    fn find_work(&self, stopping: bool) -> Option<Job> {
        self.find_work_at(stopping, false)
    }

    /// `find_work`; `first_look`: the worker's own loop, right after a job
    /// (where a stream is batched, see the module docs).
    #[inline]
    fn find_work_at(&self, stopping: bool, first_look: bool) -> Option<Job> {
        // Spares (indices past the workers) get no broadcasts.
        if let Some(broadcasts) = self.registry.broadcasts.get(self.index) {
            if !broadcasts.is_empty() {
                if let Steal::Success(job) = broadcasts.steal() {
                    return Some(job);
                }
            }
        }
        if stopping {
            return self.deque.pop().or_else(|| self.outside.pop());
        }
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        let timer = &self.registry.timer;
        if tick % 61 == 0 {
            if let Some(job) = timer
                .take_fired()
                .or_else(|| self.outside.pop())
                .or_else(|| self.steal_injector(false))
            {
                return Some(job);
            }
        }
        self.deque
            .pop()
            .or_else(|| timer.take_fired())
            .or_else(|| self.outside.pop())
            .or_else(|| self.steal_outside_peers())
            .or_else(|| self.steal_injector(first_look))
            .or_else(|| self.steal_peers())
    }

    /// Outside jobs a peer took from the injector and has not started: older
    /// than anything still in the injector, so they go first, oldest first (the
    /// buffers are FIFO for their owner and for thieves alike).
    fn steal_outside_peers(&self) -> Option<Job> {
        let reg = &*self.registry;
        let n = reg.outside.len();
        loop {
            let mut retry = false;
            let spares = reg.comp.stealers().map(|(k, s)| (n + k, &s.outside));
            for (victim, buffer) in reg.outside.iter().enumerate().chain(spares) {
                if victim == self.index || buffer.is_empty() {
                    continue;
                }
                match buffer.steal_batch_and_pop(&self.outside) {
                    Steal::Success(job) => {
                        reg.counters[self.index].bump_steals();
                        return Some(job);
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    fn steal_injector(&self, first_look: bool) -> Option<Job> {
        // `is_empty` is two plain loads; a steal attempt costs a SeqCst fence even
        // when it finds nothing, and idle workers look here constantly.
        if self.registry.injector.is_empty() {
            return None;
        }
        if first_look && self.chasing.get() {
            self.let_a_stream_batch_up();
        }
        loop {
            match self.registry.injector.steal_batch_and_pop(&self.outside) {
                Steal::Success(job) => {
                    // One job and nothing for the buffer: the injector held one.
                    self.chasing.set(self.outside.is_empty());
                    return Some(job);
                }
                Steal::Empty => return None,
                Steal::Retry => continue,
            }
        }
    }

    /// "Batching a stream" in the module docs: called at the first look after
    /// a job, when the previous injector steal took a single job and the
    /// injector is not empty. Waits up to [`STREAM_WAIT`] (touching no shared
    /// line but the injector's length, once before and once after) unless the
    /// last wait was in vain in the past [`STREAM_RETRY_LOOKS`] such looks.
    #[inline(never)]
    fn let_a_stream_batch_up(&self) {
        let skip = self.stream_skip.get();
        if skip > 0 {
            self.stream_skip.set(skip - 1);
            return;
        }
        let injector = &self.registry.injector;
        if injector.len() >= STREAM_BATCH {
            return;
        }
        let until = Instant::now() + STREAM_WAIT;
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        if injector.len() < 2 {
            // Nothing came meanwhile: not a stream (e.g. a submitter that
            // waits for each job's result). Do not wait again for a while.
            self.stream_skip.set(STREAM_RETRY_LOOKS);
        }
    }

    fn steal_peers(&self) -> Option<Job> {
        let stealers = &self.registry.stealers;
        let n = stealers.len();
        let start = (self.next_random() % n as u64) as usize;
        let mut now = None;
        loop {
            let mut retry = false;
            for k in 0..n {
                let victim = (start + k) % n;
                if victim == self.index || self.lone_resting(victim, &mut now) {
                    continue;
                }
                // A length check is cheap; a steal attempt pins an epoch.
                match stealers[victim].len() {
                    0 => continue,
                    1 if !self.lone_due(victim, &mut now) => continue,
                    _ => {}
                }
                // One job at a time (as rayon does): a batch would carry off the
                // pending halves of several of the victim's joins, which the
                // victim then has to wait for or steal back.
                match stealers[victim].steal() {
                    Steal::Success(job) => {
                        self.registry.counters[self.index].bump_steals();
                        return Some(job);
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            // Spares' deques, in slot order.
            for (k, spare) in self.registry.comp.stealers() {
                if n + k == self.index || spare.deque.is_empty() {
                    continue;
                }
                match spare.deque.steal() {
                    Steal::Success(job) => {
                        self.registry.counters[self.index].bump_steals();
                        return Some(job);
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    /// True within [`LONE_STEAL_DELAY`] of seeing `victim` finish jobs while
    /// a lone job sat on its deque: this worker does not look at that deque
    /// again until then, so that a chain's owner is not slowed by a searcher
    /// reading the lines it writes on every job. `now`: the time, read at most
    /// once per search, and only while a rest may be on.
    #[inline]
    fn lone_resting(&self, victim: usize, now: &mut Option<Instant>) -> bool {
        let seen = &self.lone[victim];
        match seen.get() {
            Some(mut note) if note.state == Lone::Resting => {
                let now = *now.get_or_insert_with(Instant::now);
                if now.saturating_duration_since(note.since) < LONE_STEAL_DELAY {
                    return true;
                }
                note.state = Lone::Noted;
                seen.set(Some(note));
                false
            }
            _ => false,
        }
    }

    /// Whether the lone job on `victim`'s deque may be stolen now: only if
    /// `victim` finished no job for at least [`LONE_STEAL_DELAY`] (see the
    /// module docs). A first look notes `victim`'s count of finished jobs and
    /// the time; a look that finds the count moved notes it again and rests
    /// (`lone_resting`). Until the delay passes without progress the thief
    /// keeps looking, so a deque that grows to two jobs (a loop of spawns) is
    /// stolen from at once; once it has passed, lone jobs are stolen at once
    /// (no clock read) until the count moves. Reads the victim's counters line.
    #[cold]
    fn lone_due(&self, victim: usize, now: &mut Option<Instant>) -> bool {
        let done = self.registry.counters[victim].completed();
        let seen = &self.lone[victim];
        match seen.get() {
            Some(note) if note.done == done => {
                if note.state == Lone::Due {
                    return true;
                }
                let now = *now.get_or_insert_with(Instant::now);
                let due = now.saturating_duration_since(note.since) >= LONE_STEAL_DELAY;
                if due {
                    seen.set(Some(LoneSeen {
                        state: Lone::Due,
                        ..note
                    }));
                }
                due
            }
            last => {
                let now = *now.get_or_insert_with(Instant::now);
                seen.set(Some(LoneSeen {
                    done,
                    since: now,
                    // The count moved since the last look: a chain.
                    state: if last.is_some() {
                        Lone::Resting
                    } else {
                        Lone::Noted
                    },
                }));
                false
            }
        }
    }

    /// The next job to run, sleeping while there is none; `None` once `stop()` holds
    /// (checked only when no job is found) or `deadline` passes. `main_loop`: the
    /// worker's own loop, which never sleeps once the pool is shutting down.
    fn next_job(
        &self,
        stop: &dyn Fn() -> bool,
        deadline: Option<Instant>,
        main_loop: bool,
    ) -> Option<Job> {
        let reg = &*self.registry;
        if let Some(job) = self.find_work_at(reg.lifecycle.state() >= State::Stop, main_loop) {
            return Some(job);
        }
        // At most half the workers (at least one) keep searching for the whole
        // `SEARCH_BEFORE_PARK`: more pollers find a trickle of jobs no sooner,
        // but take the CPU the submitting thread needs and pull the queues'
        // cache lines away from it on every poll. A worker over the cap only
        // spins through its backoff (a few microseconds), then sleeps (a
        // searcher that finds work wakes it when more is visible). Helpers
        // waiting for a condition (not `main_loop`) always search in full.
        let max_searchers = (reg.num_threads() / 2).max(1);
        let mut full_search = reg.sleep.start_searching_under(max_searchers) || !main_loop;
        let backoff = Backoff::new();
        let mut idle_since: Option<Instant> = None;
        loop {
            if let Some(job) = self.find_work(reg.lifecycle.state() >= State::Stop) {
                if reg.sleep.stop_searching() && reg.shared_work_visible() {
                    reg.spare_wanted(reg.sleep.notify_one());
                }
                return Some(job);
            }
            if stop() || deadline.is_some_and(|d| Instant::now() >= d) {
                reg.sleep.stop_searching();
                return None;
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            let since = *idle_since.get_or_insert_with(Instant::now);
            if full_search && since.elapsed() < SEARCH_BEFORE_PARK {
                std::thread::yield_now();
                continue;
            }
            if main_loop && reg.lifecycle.state() >= State::Shutdown && !reg.timer.holds() {
                // An outside submission is still landing: it is about to be
                // visible (or rejected), so wait for it without sleeping.
                std::thread::yield_now();
                continue;
            }
            reg.sleep.sleep(
                self.index,
                || {
                    reg.work_visible_to(self.index)
                        || stop()
                        || (main_loop
                            && reg.lifecycle.state() >= State::Shutdown
                            && !reg.timer.holds())
                },
                deadline,
            );
            backoff.reset();
            idle_since = None;
            // Woken (or the re-check found something): search normally now.
            full_search = true;
        }
    }

    /// Pushes `join`'s second half onto this worker's deque: no lifecycle check and
    /// no fence. Neither handshake is needed for it: if `shutdown_now`'s drain
    /// misses the job, its owner (this worker, which is waiting for it) pops it
    /// back; and a sleeper that misses this push only costs the parallelism of
    /// this one fork, since the owner runs it itself if nobody steals it.
    #[inline]
    pub(crate) fn push_fork(&self, job: Job) {
        self.deque.push(job);
        let reg = &*self.registry;
        reg.spare_wanted(reg.sleep.notify_one_fenced());
    }

    /// Pops the newest job of this worker's own deque (inside `isolate`, only
    /// one the running job pushed).
    #[inline]
    pub(crate) fn pop_local(&self) -> Option<Job> {
        if self.isolated.get() && self.deque.len() <= self.floor.get() {
            return None;
        }
        self.deque.pop()
    }

    /// Runs `f` isolated (see [`crate::isolate`]): the deque's current length
    /// is the floor, and fork-join waits run nothing below it.
    pub(crate) fn isolated<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore<'a>(&'a WorkerThread, bool, usize);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.isolated.set(self.1);
                self.0.floor.set(self.2);
            }
        }
        let _restore = Restore(
            self,
            self.isolated.replace(true),
            self.floor.replace(self.deque.len()),
        );
        f()
    }

    /// Runs one job, catching its panic (the worker survives it).
    #[inline]
    pub(crate) fn run_job(&self, job: Job) {
        let job = match job.into_ticket() {
            Ok(batch) => return self.claim(batch),
            Err(job) => job,
        };
        let key = job.report_key();
        let floor = self.floor.replace(self.deque.len());
        let counters = &self.registry.counters[self.index];
        let result = if key.is_null() {
            // A closure reports nothing: no slot traffic on this hot path.
            catch_unwind(AssertUnwindSafe(|| job.run())).map(|()| RUN_DEFAULT)
        } else {
            let saved = self.run_report.begin(key);
            let result = catch_unwind(AssertUnwindSafe(|| job.run()));
            let code = self.run_report.end(saved);
            result.map(|()| code)
        };
        self.floor.set(floor);
        match result {
            Ok(code) => counters.count_run(code),
            Err(payload) => {
                counters.bump_executed();
                counters.bump_panicked();
                self.registry
                    .handle_panic(payload, Some(self.index), PanicOrigin::Job);
            }
        }
    }

    /// Claims the next chunk of an outside batch whose ticket this worker took:
    /// the jobs go onto this worker's FIFO buffer of outside jobs, in
    /// submission order, and the ticket goes back to the injector if jobs are left, unless
    /// the pool is stopping (then `shutdown_now`'s drain takes them from the
    /// batch). See `crate::batch`.
    fn claim(&self, batch: Arc<Batch>) {
        let reg = &*self.registry;
        let claim = batch.claim(
            || reg.lifecycle.state() >= State::Stop,
            |job| self.outside.push(job),
        );
        if claim.moved > 0 {
            reg.claimed(batch, claim);
            reg.spare_wanted(reg.sleep.notify_one_fenced());
        }
    }

    /// A wait that runs only what it is owed ([`crate::integration::wait_until`]'s
    /// protocol): untimed, the jobs the running job pushed onto this deque
    /// (newest first); then, or at once when timed, it blocks, counted as
    /// blocked so that the pool compensates. Returns `done()`.
    pub(crate) fn wait_owed(&self, done: &dyn Fn() -> bool, deadline: Option<Instant>) -> bool {
        if deadline.is_none() {
            while !done() {
                // Above the floor means pushed by the running job: its own.
                if self.deque.len() <= self.floor.get() {
                    break;
                }
                match self.deque.pop() {
                    Some(job) => self.run_job(job),
                    None => break,
                }
            }
        }
        if done() {
            return true;
        }
        let _blocked = self.enter_blocked();
        let parker = &self.registry.sleep;
        loop {
            if done() {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return done();
            }
            parker.park(self.index, deadline);
        }
    }

    /// On one of `registry`'s workers, runs one job of this worker's broadcast
    /// queue; false if it ran none.
    pub(crate) fn run_own_broadcast(registry: &Registry) -> bool {
        WorkerThread::with_current(|w| {
            let Some(w) = w.filter(|w| std::ptr::eq(w.registry(), registry)) else {
                return false;
            };
            match registry.broadcasts.get(w.index).map(Injector::steal) {
                Some(Steal::Success(job)) => {
                    w.run_job(job);
                    true
                }
                _ => false,
            }
        })
    }

    /// Counts this worker as blocked until the guard drops; `None` when it
    /// already is (nested blocking).
    pub(crate) fn enter_blocked(&self) -> Option<Blocked> {
        if self.blocked.replace(true) {
            return None;
        }
        self.registry.elastic.set_managed(self.index, true);
        self.registry.block();
        Some(Blocked(self.registry.clone()))
    }

    /// Runs queued jobs until `done()` holds or `deadline` passes; returns `done()`.
    /// Only fork-join waits (`join`, a scope's end) use it: they may run any
    /// job, for speed, as rayon's do (see `crate::join`).
    pub(crate) fn help_until(&self, done: &dyn Fn() -> bool, deadline: Option<Instant>) -> bool {
        if self.isolated.get() {
            return self.wait_owed(done, deadline);
        }
        loop {
            if done() {
                return true;
            }
            match self.next_job(done, deadline, false) {
                Some(job) => self.run_job(job),
                None => return done(),
            }
        }
    }

    /// Runs at most one queued job, the worker's own first. Returns whether it ran one.
    pub(crate) fn run_one(&self) -> bool {
        match self.find_work(self.registry.lifecycle.state() >= State::Stop) {
            Some(job) => {
                self.run_job(job);
                true
            }
            None => false,
        }
    }
}

/// The body of a worker thread.
pub(crate) fn main(registry: Arc<Registry>, index: usize, queues: Queues, kind: Kind) {
    let span = tracing::debug_span!("worker", pool = %registry.name, index);
    let _entered = span.enter();
    let seed = 0x9E37_79B9_7F4A_7C15u64 ^ ((index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let me = WorkerThread {
        registry: registry.clone(),
        index,
        deque: queues.deque,
        outside: queues.outside,
        rng: Cell::new(seed | 1),
        tick: Cell::new(0),
        chasing: Cell::new(false),
        stream_skip: Cell::new(0),
        lone: (0..registry.num_threads())
            .map(|_| Cell::new(None))
            .collect(),
        run_report: RunReport::new(),
        floor: Cell::new(0),
        blocked: Cell::new(false),
        isolated: Cell::new(false),
    };
    let spare = kind == Kind::Spare;
    let extra = kind == Kind::Extra;
    registry.elastic.register_thread(index);
    CURRENT.with(|c| c.set(&me));
    let clear = ClearCurrent;
    if let Some(hook) = &registry.hooks.on_start {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| hook(index))) {
            registry.handle_panic(payload, Some(index), PanicOrigin::StartHook);
        }
    }
    tracing::trace!("worker started");
    let stop = || registry.should_exit(index);
    loop {
        // A spare or extra searches for work for its keep-alive at most.
        let deadline = match kind {
            Kind::Core => None,
            Kind::Spare => registry.comp.idle_deadline(),
            Kind::Extra => Instant::now().checked_add(registry.elastic.keep_alive),
        };
        match me.next_job(&stop, deadline, true) {
            Some(job) => {
                me.run_job(job);
                // A blocked worker resumed: one spare too many.
                if spare
                    && me.deque.is_empty()
                    && me.outside.is_empty()
                    && registry.comp.retire_if_excess()
                {
                    tracing::debug!("spare retires: its blocked worker resumed");
                    if registry.park_idle_spare() {
                        tracing::debug!("parked spare reused for another blocked worker");
                        continue;
                    }
                    break;
                }
            }
            None if kind == Kind::Core => break,
            None if stop() => {
                // The pool is shutting down: counted out with it.
                if spare {
                    registry.comp.spare_left_with_pool();
                } else {
                    registry.elastic.extra_left();
                }
                break;
            }
            None => {
                if me.deque.is_empty() && me.outside.is_empty() {
                    tracing::debug!(?kind, "worker retires: idle for its keep-alive");
                    if spare {
                        registry.retire_idle_spare();
                    } else {
                        registry.elastic.extra_left();
                    }
                    break;
                }
            }
        }
    }
    if let Some(hook) = &registry.hooks.on_stop {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| hook(index))) {
            registry.handle_panic(payload, Some(index), PanicOrigin::StopHook);
        }
    }
    tracing::trace!("worker exiting");
    // Still the current worker: termination (if this is the last) runs its
    // hooks here, on a worker.
    registry.worker_exited();
    drop(clear);
    let WorkerThread { deque, outside, .. } = me;
    if spare || extra {
        // Empty (a spare retires only with empty queues; in STOP the drain
        // emptied them): the next spare in this slot reuses them.
        let slot = index - registry.num_threads();
        registry
            .comp
            .give_back_slot(slot, Queues { deque, outside });
    }
}
