//! The state one pool's threads share, and the shutdown protocol.
//!
//! Owns the queues (one global [`Injector`] for submissions from outside, one
//! [`Stealer`] per worker deque), the [`Sleep`] state, the [`Lifecycle`] word, the
//! per-worker counters and the termination signal.
//!
//! ## Where a submission goes
//!
//! * From outside the pool: the injector, inside the `begin_submit`/`end_submit`
//!   handshake of [`crate::lifecycle`]. A batch (`Executor::execute_jobs`) is
//!   one submission: one handshake around all its pushes, so it is accepted or
//!   rejected whole. No user code runs inside it (the jobs are built before), so
//!   `shutdown_now`'s wait for quiescence stays bounded. A batch of
//!   [`TICKET_MIN`] jobs or more is listed and queued as one ticket that workers
//!   claim chunk by chunk (`crate::batch`, which also says how the drains find
//!   its jobs); a shorter one is pushed job by job, the sleepers checked at its
//!   first job and every [`BATCH_NOTIFY_EVERY`] jobs after.
//! * From one of the pool's own workers: that worker's deque (see
//!   `WorkerThread::push_local`): check RUNNING, push into the deque's slot
//!   with a SeqCst swap (the fence, see `crate::deque`), re-check. If the
//!   re-check sees STOP, the worker takes the job back from the slot and
//!   rejects it; if a thief (the drain of `shutdown_now`, or another worker)
//!   took it, the submission stands. The swap pairs with the fence in
//!   `shutdown_now` after the state change: either the drain sees the job or
//!   the worker sees STOP.
//!
//! ### What an outside submission costs (measured, issue 21)
//!
//! Five locked instructions on x86-64: the handshake's `fetch_add` on the
//! lifecycle word, the injector's tail CAS and its slot's `fetch_or`, the
//! handshake's `fetch_add` on `finished`, and the sleepers' `fence(SeqCst)`
//! (compiled to a `lock or` on the stack), then one load of the sleep word.
//! `perf annotate` of `spawn_outside` (`hround_probe spawn`) puts about a
//! fifth of the submitting thread's time in `Registry::submit` and a quarter
//! in `Injector::push`, spread about evenly over those five instructions.
//! Java's `externalPush` takes two (the queue's lock CAS and its volatile
//! unlock) and signals only when the queue held at most one task. A throwaway
//! build without the `finished` increment and the fence (unsound: shutdown
//! never becomes quiescent, a sleeper can miss the job) took 54-61 ns per job
//! against 70-90 in the one pair the load let through (load 8-10): two of the
//! five are worth about a fifth. Dropping either soundly needs a store-buffer
//! pair without a fence on the publisher's side (a SeqCst RMW or load paired
//! with the sleeper's RMW on another word), which loom cannot check (it treats
//! SeqCst accesses as AcqRel); a loom-checkable form folds `finished` into the
//! sleep word, so that one RMW both ends the handshake and reads the sleepers,
//! at the price of the outside submitter writing the line that workers read
//! on every local push. Not done; the round trip does not need it (the pool's
//! part of a `round_trip` is under 1 µs, see `crate::sleep`).
//!
//! ## Shutdown protocol
//!
//! `shutdown`:
//! 1. advance to SHUTDOWN (new submissions are rejected from here on);
//! 2. wake every sleeper so it re-checks the state.
//! 3. Workers keep running queued jobs; a worker exits when the state is SHUTDOWN,
//!    no outside submission is in flight, no queue holds work, and no delayed job
//!    is pending on the pool's timer (`crate::timer::pool_hook`). A worker never
//!    sleeps in SHUTDOWN (it yields while a submission is in flight), except
//!    while delayed jobs are pending: the timer's last one wakes every sleeper.
//!
//! `shutdown_now`:
//! 1. advance to STOP; `fence(SeqCst)`;
//! 2. wait until no outside submission is in flight (quiescent);
//! 3. drain the injector and every worker deque (from the thieves' end), then the
//!    pool timer's pending delayed jobs (`crate::timer::pool_hook`), and return
//!    the jobs: these never started;
//! 4. wake every sleeper. Running jobs now see `is_cancelled()`. A worker in
//!    STOP only pops its own deque (jobs it had already claimed in a batch steal
//!    that was in flight during the drain) and then exits.
//!
//! Steps 1-3 hold `drain_lock`: STOP lets the workers exit at once, and the last
//! one's termination drain must not take (and drop) jobs that belong to this
//! call's result.
//!
//! Termination (the last worker to exit):
//! 1. advance to STOP so that late re-queues of async tasks are refused, wait for
//!    quiescence, and run what is left in the queues: jobs re-queued (accepted in
//!    SHUTDOWN) after the last worker looked, while it was exiting (e.g. in a
//!    slow stop hook). Accepted means run: dropping them broke guarantee 2;
//!    refusing them is only possible before the state change;
//! 2. advance to TERMINATED;
//! 3. run the termination hooks ([`crate::integration::Executor::on_termination`]), shard by
//!    shard: take the shard's hooks out under its lock, release it, run them (a
//!    panic goes to the panic handler), and repeat until a look under the lock
//!    finds none; that same critical section closes the shard, so a hook
//!    registered in it before is run here, one registered after is run at once by
//!    its registrant: exactly once either way. Hooks run on the terminating
//!    thread, which is still registered as a worker, so a hook that drops the last
//!    pool handle or calls `close` does not wait for the termination it is part
//!    of;
//! 4. set `terminated` and signal `await_termination` (which so returns only after
//!    every hook ran).
//!
//! ## Termination hooks
//!
//! Id-keyed slabs, one per worker plus one for other threads, each under its own
//! lock (not the `termination` mutex): `executor-futures` registers a hook per
//! async task that goes idle and removes it when the task ends, from whichever
//! worker runs it, so one pool-wide lock would be contended. A registration goes
//! to the calling worker's shard; a key names its shard and carries a stamp, so a
//! stale key never removes a later registration that reuses its slot. No user code
//! (a hook, or the drop of a removed one) runs while a shard lock is held.

use crate::batch::{Batch, Claim, TICKET_MIN};
use crate::compensate::Compensation;
use crate::deque::Stealer as DequeStealer;
use crate::elastic::Elastic;
use crate::error::{RejectReason, Rejected};
use crate::job::Job;
use crate::lifecycle::{Lifecycle, State};
use crate::sleep::Sleep;
use crate::stats::{Stats, WorkerCounters};
use crate::worker::WorkerThread;
use crate::JobPanic;
use crossbeam_deque::{Injector, Steal, Stealer};
use crossbeam_utils::CachePadded;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// User callbacks, shared by all workers.
pub(crate) type ThreadHook = Arc<dyn Fn(usize) + Send + Sync>;
/// The pool-level panic handler.
pub(crate) type PanicHandler = Arc<dyn Fn(JobPanic) + Send + Sync>;

pub(crate) struct Hooks {
    pub(crate) on_start: Option<ThreadHook>,
    pub(crate) on_stop: Option<ThreadHook>,
    pub(crate) panic_handler: Option<PanicHandler>,
}

#[derive(Debug)]
struct Termination {
    live: usize,
    terminated: bool,
}

/// The key of a hook registered with
/// [`Executor::on_termination`](crate::integration::Executor::on_termination); pass it to
/// [`Executor::remove_termination_hook`](crate::integration::Executor::remove_termination_hook)
/// to unregister the hook before it runs. Not `Clone`: a hook is removed at most once.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TerminationKey {
    shard: u32,
    index: u32,
    stamp: u64,
}

/// One shard of the termination hooks (module docs).
#[derive(Debug, Default)]
struct HookShard {
    hooks: HookSlab,
    /// Termination has run this shard's hooks: a new one runs at once.
    closed: bool,
}

/// The registered termination hooks: slots reused through a free list, each stamped
/// so that a key only ever matches its own registration.
#[derive(Debug, Default)]
struct HookSlab {
    slots: Vec<HookSlot>,
    free: Vec<u32>,
    next_stamp: u64,
}

#[derive(Debug)]
struct HookSlot {
    stamp: u64,
    hook: Option<Job>,
}

impl HookSlab {
    fn insert(&mut self, shard: u32, hook: Job) -> TerminationKey {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        let slot = HookSlot {
            stamp,
            hook: Some(hook),
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index as usize] = slot;
                index
            }
            None => {
                self.slots.push(slot);
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 hooks")
            }
        };
        TerminationKey {
            shard,
            index,
            stamp,
        }
    }

    fn remove(&mut self, key: &TerminationKey) -> Option<Job> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.stamp != key.stamp {
            return None;
        }
        let hook = slot.hook.take()?;
        self.free.push(key.index);
        Some(hook)
    }

    fn is_empty(&self) -> bool {
        self.slots.len() == self.free.len()
    }

    /// Every registered hook, in slot order; the slab is left empty (stamps keep
    /// counting, so the keys of the hooks taken match nothing any more).
    fn take_all(&mut self) -> Vec<Job> {
        self.free.clear();
        std::mem::take(&mut self.slots)
            .into_iter()
            .filter_map(|slot| slot.hook)
            .collect()
    }
}

/// Where a panic came from (see [`JobPanic`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PanicOrigin {
    /// A job submitted with `execute` (or a task that did not catch its own panic).
    Job,
    /// The thread-start hook.
    StartHook,
    /// The thread-stop hook.
    StopHook,
    /// A termination hook ([`Executor::on_termination`](crate::integration::Executor::on_termination)).
    TerminationHook,
}

pub(crate) struct Registry {
    pub(crate) name: String,
    pub(crate) injector: Injector<Job>,
    /// One queue per worker for `broadcast` jobs; only that worker takes from it.
    pub(crate) broadcasts: Box<[Injector<Job>]>,
    pub(crate) stealers: Box<[DequeStealer]>,
    /// The workers' FIFO buffers of outside jobs taken from the injector.
    pub(crate) outside: Box<[Stealer<Job>]>,
    pub(crate) counters: Box<[CachePadded<WorkerCounters>]>,
    pub(crate) sleep: Sleep,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) hooks: Hooks,
    termination: Mutex<Termination>,
    /// Termination hooks: one shard per worker, then one for other threads.
    hook_shards: Box<[CachePadded<Mutex<HookShard>>]>,
    terminated_cv: Condvar,
    rejected: AtomicU64,
    /// Re-queues accepted from threads that are not this pool's workers (a
    /// worker counts its own): not new tasks, subtracted from `submitted`.
    requeued_outside: AtomicU64,
    /// Set by `shutdown_now`: a rejection says STOPPED only then. Termination
    /// advances to STOP too, but after a graceful shutdown a rejection keeps
    /// saying SHUTDOWN, so its reason does not depend on whether the workers
    /// have exited yet.
    stopped_by_call: AtomicBool,
    /// Serialises the two drains: `shutdown_now`'s (jobs go to its caller) and
    /// termination's (late leftovers are dropped).
    drain_lock: Mutex<()>,
    /// Outside batches queued as tickets and not claimed yet (`crate::batch`).
    batches: Mutex<Vec<Arc<Batch>>>,
    /// The jobs in `batches`: checked first by `shared_work_visible`.
    batched: AtomicUsize,
    pub(crate) threads: Mutex<Vec<JoinHandle<()>>>,
    /// The delayed jobs' hook into the lifecycle (`crate::timer::pool_hook`).
    pub(crate) timer: crate::timer::pool_hook::PoolTimer,
    /// Spare workers for blocked ones (`crate::compensate`).
    pub(crate) comp: Compensation,
    /// Extra workers for load, and stuck-worker detection (`crate::elastic`).
    pub(crate) elastic: Elastic,
    /// This registry, for starting spares from a `&Registry`.
    pub(crate) this: Weak<Registry>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("name", &self.name)
            .field("threads", &self.stealers.len())
            .field("state", &self.lifecycle.state())
            .finish_non_exhaustive()
    }
}

/// Something the pool can queue: a closure (boxed into a [`Job`]; given back typed on
/// rejection) or a ready-made [`Job`].
pub(crate) trait IntoJob: Sized {
    fn into_job(self) -> Job;
    fn from_job(job: Job) -> Self;
}

impl IntoJob for Job {
    fn into_job(self) -> Job {
        self
    }
    fn from_job(job: Job) -> Self {
        job
    }
}

/// Wrapper that makes a closure an [`IntoJob`].
pub(crate) struct Closure<F>(pub(crate) F);

impl<F: FnOnce() + Send + 'static> IntoJob for Closure<F> {
    fn into_job(self) -> Job {
        Job::new(self.0)
    }
    fn from_job(job: Job) -> Self {
        match job.downcast_closure::<F>() {
            Ok(f) => Closure(f),
            Err(_) => unreachable!("a popped-back job is the one just pushed"),
        }
    }
}

/// Runs `f`, swallowing a panic (used for dropping user values and calling hooks
/// whose panics have nowhere else to go).
pub(crate) fn quietly<R>(f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(payload) => {
            // Dropping a payload can panic too (a payload whose Drop panics).
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            None
        }
    }
}

impl Registry {
    pub(crate) fn new(
        name: String,
        queues: &[crate::worker::Queues],
        hooks: Hooks,
        comp: Compensation,
        elastic: Elastic,
        this: Weak<Registry>,
    ) -> Self {
        let n = queues.len();
        let all = n + comp.slot_count();
        let stealers: Vec<DequeStealer> = queues.iter().map(|q| q.deque.stealer()).collect();
        let outside = queues.iter().map(|q| q.outside.stealer()).collect();
        Registry {
            name,
            injector: Injector::new(),
            broadcasts: (0..n).map(|_| Injector::new()).collect(),
            stealers: stealers.into_boxed_slice(),
            outside,
            counters: (0..all).map(|_| CachePadded::default()).collect(),
            sleep: Sleep::new(all),
            lifecycle: Lifecycle::new(),
            hooks,
            termination: Mutex::new(Termination {
                live: n,
                terminated: false,
            }),
            hook_shards: (0..=n).map(|_| CachePadded::default()).collect(),
            terminated_cv: Condvar::new(),
            rejected: AtomicU64::new(0),
            requeued_outside: AtomicU64::new(0),
            stopped_by_call: AtomicBool::new(false),
            drain_lock: Mutex::new(()),
            batches: Mutex::new(Vec::new()),
            batched: AtomicUsize::new(0),
            threads: Mutex::new(Vec::with_capacity(n)),
            timer: Default::default(),
            comp,
            elastic,
            this,
        }
    }

    pub(crate) fn num_threads(&self) -> usize {
        self.stealers.len()
    }

    /// Queues new work. `limit` is the last state that accepts it.
    pub(crate) fn submit<T: IntoJob>(&self, task: T, limit: State) -> Result<(), Rejected<T>> {
        WorkerThread::with_current(|worker| match worker {
            Some(w) if std::ptr::eq(w.registry(), self) => w.push_local(task, limit),
            _ => self.inject(task, limit),
        })
    }

    /// Queues a job that continues an accepted task (`requeue_job`): accepted
    /// until STOP, and not counted as a new task in the statistics.
    pub(crate) fn requeue(&self, job: Job) -> Result<(), Rejected<Job>> {
        WorkerThread::with_current(|worker| match worker {
            Some(w) if std::ptr::eq(w.registry(), self) => {
                w.push_local(job, State::Shutdown)?;
                self.counters[w.index()].bump_requeued();
                Ok(())
            }
            _ => {
                self.inject(job, State::Shutdown)?;
                self.requeued_outside.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        })
    }

    /// Queues `jobs` in order (see "Where a submission goes"): outside the pool
    /// as one submission, all or none; on one of this pool's workers one by one
    /// onto its deque, where a refusal hands back that job and the rest.
    pub(crate) fn submit_batch(
        &self,
        jobs: Vec<Job>,
        limit: State,
    ) -> Result<(), Rejected<Vec<Job>>> {
        let mut jobs = Some(jobs);
        let local = WorkerThread::with_current(|worker| match worker {
            Some(w) if std::ptr::eq(w.registry(), self) => jobs
                .take()
                .map(|jobs| push_each(jobs, |job| w.push_local(job, limit))),
            _ => None,
        });
        match (local, jobs) {
            (Some(done), _) => done,
            (None, Some(jobs)) => self.inject_batch(jobs, limit),
            (None, None) => unreachable!("the jobs are taken only by the local path"),
        }
    }

    fn inject_batch(&self, jobs: Vec<Job>, limit: State) -> Result<(), Rejected<Vec<Job>>> {
        if jobs.is_empty() {
            return Ok(());
        }
        let n = jobs.len() as u64;
        if let Err(state) = self.lifecycle.begin_submit_n(n, limit) {
            self.rejected.fetch_add(n - 1, Ordering::Relaxed);
            return Err(self.reject(jobs, state));
        }
        if jobs.len() >= TICKET_MIN {
            // Listed before the ticket is visible, and inside the handshake (see
            // `crate::batch`).
            self.batched.fetch_add(jobs.len(), Ordering::SeqCst);
            let batch = Batch::new(jobs);
            crate::sync_lock(&self.batches).push(batch.clone());
            self.injector.push(Job::ticket(batch));
            self.lifecycle.end_submit_n(n);
            self.spare_wanted(self.sleep.notify_injected(|| self.backlog()));
            return Ok(());
        }
        for (i, job) in jobs.into_iter().enumerate() {
            self.injector.push(job);
            if i % BATCH_NOTIFY_EVERY == 0 {
                self.spare_wanted(self.sleep.notify_injected(|| self.backlog()));
            }
        }
        self.lifecycle.end_submit_n(n);
        self.spare_wanted(self.sleep.notify_injected(|| self.backlog()));
        Ok(())
    }

    /// The outside path: the injector, inside the lifecycle handshake.
    fn inject<T: IntoJob>(&self, task: T, limit: State) -> Result<(), Rejected<T>> {
        if let Err(state) = self.lifecycle.begin_submit(limit) {
            return Err(self.reject(task, state));
        }
        self.injector.push(task.into_job());
        self.lifecycle.end_submit();
        self.spare_wanted(self.sleep.notify_injected(|| self.backlog()));
        Ok(())
    }

    #[cold]
    pub(crate) fn reject<T>(&self, task: T, state: State) -> Rejected<T> {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        let reason = if state == State::Shutdown || !self.stopped_by_call.load(Ordering::SeqCst) {
            RejectReason::Shutdown
        } else {
            RejectReason::Stopped
        };
        tracing::debug!(pool = %self.name, ?reason, "submission rejected");
        Rejected::new(task, reason)
    }

    /// A worker moved `claim.moved` jobs of `batch` onto its deque: the ticket
    /// goes back to the injector if jobs are left, else the batch is unlisted.
    pub(crate) fn claimed(&self, batch: Arc<Batch>, claim: Claim) {
        if claim.left > 0 {
            self.injector.push(Job::ticket(batch));
        } else {
            let mut list = crate::sync_lock(&self.batches);
            if let Some(i) = list.iter().position(|b| Arc::ptr_eq(b, &batch)) {
                list.swap_remove(i);
            }
        }
        // After the pushes: a reader that sees the smaller count sees the jobs on
        // the deque (see `shared_work_visible`).
        self.batched.fetch_sub(claim.moved, Ordering::SeqCst);
    }

    /// Outside jobs waiting for a worker, for the sleepers' backlog rule: the
    /// injector's length plus the jobs of unclaimed batches (a ticket stands
    /// for up to thousands of jobs; counted as one, a long batch would never
    /// wake a second worker while the first woken one waits for a CPU).
    fn backlog(&self) -> usize {
        self.injector.len() + self.batched.load(Ordering::Relaxed)
    }

    /// True if a queue every worker may take from holds a job (a snapshot):
    /// the injector, unclaimed batches, the deques. Unclaimed batches are
    /// checked first: a claim pushes its jobs before it lowers the count.
    pub(crate) fn shared_work_visible(&self) -> bool {
        self.batched.load(Ordering::SeqCst) > 0
            || self.timer.has_fired()
            || !self.injector.is_empty()
            || self.outside.iter().any(|s| !s.is_empty())
            || self.stealers.iter().any(|s| !s.is_empty())
            || self
                .comp
                .stealers()
                .any(|(_, s)| !s.outside.is_empty() || !s.deque.is_empty())
    }

    /// True if worker `index` can see a job it may take (a snapshot): the
    /// shared queues and its own broadcast queue. Another worker's broadcast
    /// job is not work for it: counting it kept idle workers spinning, never
    /// sleeping, for as long as a broadcast waited for a busy worker.
    pub(crate) fn work_visible_to(&self, index: usize) -> bool {
        self.shared_work_visible() || self.broadcasts.get(index).is_some_and(|b| !b.is_empty())
    }

    /// Worker `index`'s main-loop exit test (see the shutdown protocol above).
    /// In SHUTDOWN it waits only for work it can take: another worker's
    /// broadcast job is that worker's to run (or, if it exits first,
    /// termination's drain gives it back to the broadcast's caller).
    pub(crate) fn should_exit(&self, index: usize) -> bool {
        match self.lifecycle.state() {
            State::Running => false,
            // Pending delayed jobs first: one is pushed before it stops counting.
            State::Shutdown => {
                !self.timer.holds() && self.lifecycle.quiescent() && !self.work_visible_to(index)
            }
            State::Stop | State::Terminated => true,
        }
    }

    pub(crate) fn shutdown(&self) {
        if self.lifecycle.advance(State::Shutdown) {
            tracing::info!(pool = %self.name, "shutdown: new work is rejected, queued work still runs");
        }
        self.timer.on_shutdown();
        self.sleep.notify_all();
        self.comp.wake_all_idle_spares();
        self.sleep.wake_monitor();
    }

    pub(crate) fn shutdown_now(&self) -> Vec<Job> {
        // Held from the state change to the end of the drain, so that the last
        // worker's `terminate` (which STOP may trigger at once) cannot drain, and
        // drop, jobs that belong to this call's caller.
        let drain_guard = crate::sync_lock(&self.drain_lock);
        // Before the state change: a submitter refused by STOP sees the flag.
        self.stopped_by_call.store(true, Ordering::SeqCst);
        let first = self.lifecycle.advance(State::Stop);
        std::sync::atomic::fence(Ordering::SeqCst);
        while !self.lifecycle.quiescent() {
            std::thread::yield_now();
        }
        let mut drained = self.drain_queues();
        drained.extend(self.timer.drain());
        drop(drain_guard);
        // Fork-join work is never handed to the user: dropping it gives it back to
        // its waiting owner, which runs it itself (see `job::JobRef`).
        let (internal, drained): (Vec<Job>, Vec<Job>) =
            drained.into_iter().partition(Job::is_internal);
        drop(internal);
        self.sleep.notify_all();
        self.comp.wake_all_idle_spares();
        self.sleep.wake_monitor();
        if first {
            tracing::info!(pool = %self.name, handed_back = drained.len(), "shutdown_now: queues drained, running jobs interrupted");
        }
        drained
    }

    /// Takes every queued job, oldest first per queue. A batch ticket is
    /// replaced by its batch's jobs; the batches whose tickets a worker holds are
    /// taken before the deques, so a claim in progress is waited for and its jobs
    /// are found on the deque (see `crate::batch`).
    fn drain_queues(&self) -> Vec<Job> {
        let drain = |steal: &dyn Fn() -> Steal<Job>, out: &mut Vec<Job>| loop {
            match steal() {
                Steal::Success(job) => match job.into_ticket() {
                    Ok(batch) => out.extend(self.take_batch(&batch)),
                    Err(job) => out.push(job),
                },
                Steal::Empty => return,
                Steal::Retry => continue,
            }
        };
        let mut out = Vec::new();
        self.timer.drain_fired(&mut out);
        drain(&|| self.injector.steal(), &mut out);
        let listed = std::mem::take(&mut *crate::sync_lock(&self.batches));
        for batch in &listed {
            out.extend(self.take_batch(batch));
        }
        for stealer in self.outside.iter() {
            drain(&|| stealer.steal(), &mut out);
        }
        for stealer in self.stealers.iter() {
            drain(&|| stealer.steal(), &mut out);
        }
        for queue in self.broadcasts.iter() {
            drain(&|| queue.steal(), &mut out);
        }
        for (_, spare) in self.comp.stealers() {
            drain(&|| spare.outside.steal(), &mut out);
            drain(&|| spare.deque.steal(), &mut out);
        }
        out
    }

    /// A drain takes the jobs of `batch`.
    fn take_batch(&self, batch: &Batch) -> std::collections::VecDeque<Job> {
        let jobs = batch.take_all();
        self.batched.fetch_sub(jobs.len(), Ordering::SeqCst);
        jobs
    }

    /// Reports a panic to the pool's handler (default: a `tracing` error event). A
    /// panicking handler is survived.
    pub(crate) fn handle_panic(
        &self,
        payload: Box<dyn Any + Send>,
        worker: Option<usize>,
        origin: PanicOrigin,
    ) {
        let report = JobPanic::new(payload, worker, origin);
        match &self.hooks.panic_handler {
            Some(handler) => {
                if quietly(|| handler(report)).is_none() {
                    tracing::error!(pool = %self.name, ?worker, "the panic handler panicked");
                }
            }
            None => {
                tracing::error!(
                    pool = %self.name,
                    ?worker,
                    ?origin,
                    panic.message = report.message().unwrap_or("<non-string payload>"),
                    "job panicked"
                );
                quietly(move || drop(report));
            }
        }
    }

    /// Called by each worker as the last thing it does.
    pub(crate) fn worker_exited(&self) {
        let last = {
            let mut t = crate::sync_lock(&self.termination);
            t.live -= 1;
            t.live == 0
        };
        // Sleepers re-check: in SHUTDOWN they may now be able to exit too.
        self.sleep.notify_all();
        if last {
            self.terminate();
        }
    }

    /// Counts one more live worker (a spare about to start); false once
    /// termination has begun or the pool is stopping.
    pub(crate) fn add_live_worker(&self) -> bool {
        let mut t = crate::sync_lock(&self.termination);
        if t.terminated || t.live == 0 || self.lifecycle.state() >= State::Stop {
            return false;
        }
        t.live += 1;
        true
    }

    /// Removes workers that never started (a failed build or spare).
    pub(crate) fn forget_workers(&self, count: usize) {
        if count == 0 {
            return;
        }
        let last = {
            let mut t = crate::sync_lock(&self.termination);
            t.live -= count;
            t.live == 0
        };
        if last {
            self.terminate();
        }
    }

    fn terminate(&self) {
        let leftovers = {
            let _drain = crate::sync_lock(&self.drain_lock);
            self.lifecycle.advance(State::Stop);
            std::sync::atomic::fence(Ordering::SeqCst);
            while !self.lifecycle.quiescent() {
                std::thread::yield_now();
            }
            self.drain_queues()
        };
        // Outside the drain lock: dropping a job runs user code (an abandoned
        // task's hook). `shutdown_now` drained the timer under it already.
        self.timer.stop();
        if !leftovers.is_empty() {
            tracing::debug!(pool = %self.name, count = leftovers.len(), "running jobs queued while the last worker exited");
        }
        self.run_leftovers(leftovers);
        self.lifecycle.advance(State::Terminated);
        // Step 3: the hooks, never under a lock; a hook may register another.
        for shard in self.hook_shards.iter() {
            loop {
                let batch = {
                    let mut shard = crate::sync_lock(shard);
                    if shard.hooks.is_empty() {
                        shard.closed = true;
                        break;
                    }
                    shard.hooks.take_all()
                };
                for hook in batch {
                    self.run_termination_hook(hook);
                }
            }
        }
        crate::sync_lock(&self.termination).terminated = true;
        self.terminated_cv.notify_all();
        tracing::info!(pool = %self.name, "terminated: every worker has exited");
    }

    /// Step 1 of termination, the end: runs the jobs left in the queues. They
    /// were accepted (a re-queue is accepted in SHUTDOWN, up to the moment
    /// termination advances to STOP, so one can land after the last worker
    /// looked), and an accepted job runs unless `shutdown_now` handed it back.
    /// They run on the terminating thread (the last worker, after its stop
    /// hook; it is still registered as a worker), with its panic handling, and
    /// see `is_cancelled()` (the state is STOP). Nothing new can be accepted
    /// now, so nothing they submit is left behind.
    fn run_leftovers(&self, leftovers: Vec<Job>) {
        for job in leftovers {
            let job = WorkerThread::with_current(|w| match w {
                Some(w) if std::ptr::eq(w.registry(), self) => {
                    w.run_job(job);
                    None
                }
                _ => Some(job),
            });
            // Not on a worker (a failed build, which has no jobs): run it here.
            if let Some(job) = job {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(move || job.run())) {
                    self.handle_panic(payload, None, PanicOrigin::Job);
                }
            }
        }
    }

    /// Registers `hook` to run at termination in the calling thread's shard; runs
    /// it now (and returns `None`) if termination has closed that shard already.
    pub(crate) fn on_termination(&self, hook: Job) -> Option<TerminationKey> {
        let n = self.num_threads();
        // A spare registers in the shard of other threads.
        let index = self.current_worker().filter(|&i| i < n).unwrap_or(n);
        let mut shard = crate::sync_lock(&self.hook_shards[index]);
        if !shard.closed {
            let shard_index = u32::try_from(index).expect("fewer than 2^32 workers");
            return Some(shard.hooks.insert(shard_index, hook));
        }
        drop(shard);
        self.run_termination_hook(hook);
        None
    }

    /// Unregisters a hook that has not run; true iff it was removed (and dropped,
    /// unrun, here).
    pub(crate) fn remove_termination_hook(&self, key: TerminationKey) -> bool {
        let removed = self
            .hook_shards
            .get(key.shard as usize)
            .and_then(|shard| crate::sync_lock(shard).hooks.remove(&key));
        match removed {
            Some(hook) => {
                quietly(move || drop(hook));
                true
            }
            None => false,
        }
    }

    fn run_termination_hook(&self, hook: Job) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(move || hook.run())) {
            self.handle_panic(payload, self.current_worker(), PanicOrigin::TerminationHook);
        }
    }

    /// The calling thread's index if it is one of this pool's workers.
    fn current_worker(&self) -> Option<usize> {
        WorkerThread::with_current(|w| {
            w.filter(|w| std::ptr::eq(w.registry(), self))
                .map(WorkerThread::index)
        })
    }

    pub(crate) fn is_terminated(&self) -> bool {
        crate::sync_lock(&self.termination).terminated
    }

    /// Waits for termination; `None` waits forever.
    pub(crate) fn await_termination(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        if WorkerThread::with_current(|w| w.is_some_and(|w| std::ptr::eq(w.registry(), self))) {
            // A worker cannot wait for its own exit: answer at once.
            tracing::warn!(pool = %self.name, "await_termination called on one of the pool's own workers; not waiting");
            return self.is_terminated();
        }
        let mut t = crate::sync_lock(&self.termination);
        while !t.terminated {
            match deadline {
                // No timeout, or one too large to represent: wait for as long as it takes.
                None => {
                    t = self
                        .terminated_cv
                        .wait(t)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    t = self
                        .terminated_cv
                        .wait_timeout(t, d - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            }
        }
        true
    }

    /// `shutdown` + wait + join the threads. On one of this pool's own workers only
    /// `shutdown` (a thread cannot join itself); the workers then exit on their own.
    ///
    /// The worker marker is not the only guard: a worker's thread-local
    /// destructors run after its marker was cleared (a cached pool handle dropped
    /// there closes the pool from a thread that no longer looks like a worker).
    /// So the join skips any handle whose thread is the calling one, and waits for
    /// termination only when the caller is not one of the pool's threads at all
    /// (an exiting worker has already left the live count, so that wait ends).
    pub(crate) fn close(&self) {
        self.shutdown();
        if WorkerThread::with_current(|w| w.is_some_and(|w| std::ptr::eq(w.registry(), self))) {
            tracing::debug!(pool = %self.name, "pool closed from its own worker: not joining");
            return;
        }
        self.await_termination(None);
        let me = std::thread::current().id();
        let handles = std::mem::take(&mut *crate::sync_lock(&self.threads));
        for h in handles {
            if h.thread().id() == me {
                // Dropping the handle detaches this thread, which is exiting.
                tracing::debug!(pool = %self.name, "pool closed on an exiting worker: not joining it");
                continue;
            }
            let _ = h.join();
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        let mut s = Stats {
            threads: self.num_threads(),
            submitted: self.lifecycle.accepted(),
            rejected: self.rejected.load(Ordering::Relaxed),
            // A listed batch's ticket (in the injector) stands for its jobs.
            queued: (self.injector.len() + self.batched.load(Ordering::Relaxed))
                .saturating_sub(crate::sync_lock(&self.batches).len())
                + self.stealers.iter().map(DequeStealer::len).sum::<usize>()
                + self.outside.iter().map(Stealer::len).sum::<usize>()
                + self
                    .comp
                    .stealers()
                    .map(|(_, s)| s.deque.len() + s.outside.len())
                    .sum::<usize>()
                + self.broadcasts.iter().map(Injector::len).sum::<usize>()
                + self.timer.fired_len(),
            ..Stats::default()
        };
        let mut requeued = self.requeued_outside.load(Ordering::Relaxed);
        for c in self.counters.iter() {
            c.add_to(&mut s, &mut requeued);
        }
        s.submitted = s.submitted.saturating_sub(requeued);
        s.spares = self.comp.spares();
        s.blocked = self.comp.blocked();
        s.extras = self.elastic.extras();
        s.active = if self.lifecycle.state() == State::Terminated {
            0
        } else {
            (s.threads + s.spares + s.extras).saturating_sub(self.sleep.idle_workers() + s.blocked)
        };
        s
    }
}

/// How many jobs of an outside batch are pushed between two looks at the
/// sleepers (see "Where a submission goes").
const BATCH_NOTIFY_EVERY: usize = 64;

/// Submits `jobs` one by one with `submit`; at the first refusal, hands back the
/// refused job and every later one, in order (the default of
/// `Executor::execute_jobs`, and a batch on a worker).
pub(crate) fn push_each(
    jobs: Vec<Job>,
    mut submit: impl FnMut(Job) -> Result<(), Rejected<Job>>,
) -> Result<(), Rejected<Vec<Job>>> {
    let mut jobs = jobs.into_iter();
    while let Some(job) = jobs.next() {
        if let Err(refused) = submit(job) {
            let reason = refused.reason();
            let mut rest = Vec::with_capacity(jobs.len() + 1);
            rest.push(refused.into_inner());
            rest.extend(jobs);
            return Err(Rejected::new(rest, reason));
        }
    }
    Ok(())
}
