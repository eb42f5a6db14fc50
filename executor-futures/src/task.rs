//! The task cell: one allocation per task (a [`CellArc`], cut from a page of
//! the allocating thread: `cell_alloc.rs`) holding the state word, the stage
//! (the work, then the output), the work's shared part, the completion hook and the
//! waiters. The cell *is* the job the pool queues ([`RawRunnable`]), and handles point
//! at it.
//!
//! ## Who touches what
//!
//! The **stage** (work or output) is an `UnsafeCell` with no lock: the state word
//! decides who owns it, and exactly one thread does at any time. Every access
//! goes through
//! [`TaskCell::stage_mut`], whose callers justify their ownership by one of these
//! rules:
//!
//! * **creation**: the creating thread, before the cell is shared.
//! * **claim**: the thread that won `transition_to_running` owns the stage until
//!   its next transition (the terminal CAS in [`TaskCell::finish`], or an async
//!   runner's `transition_to_idle`): it takes the work, and (callables and async
//!   tasks alike) stores the output before the terminal CAS.
//! * **idle cancel**: the thread whose `transition_to_cancelled` /
//!   `transition_to_abandoned` (or `reclaim`) moved a cell that was not `RUNNING`
//!   to `CANCELLED` owns it for good: nothing can claim a done cell.
//! * **after finish**: the runner's terminal CAS hands the output over. If that CAS
//!   cancelled (cancel won while running), or saw `JOIN_INTEREST` gone, the runner
//!   keeps ownership and drops the output. Otherwise the one interested party owns
//!   it: the cell's unique [`TaskHandle`] (`take_output`, or `drop_interest` when the
//!   handle is dropped unread). A cell has at most one `TaskHandle` (returned by
//!   `submit`/`spawn`, or built once for the hook), and it never reads a cancelled
//!   task's stage.
//! * **last reference**: dropping the cell drops whatever is left.
//!
//! Every hand-over is an `AcqRel` RMW on the state word, so the new owner sees the
//! previous owner's writes.
//!
//! The **aux** mutex holds the rest (taken on slow paths only: a task somebody
//! waits for, a hook, a cancel):
//!
//! * **waiters / waker**: pushed under the lock, then `WAITING` set with an RMW;
//!   the thread that made the task terminal takes them all and wakes them after
//!   the lock is released (see invariant 4 in `state.rs`).
//! * **hook**: taken and called once by the thread that made the task terminal
//!   (completion, cancel, or abandon), after the waiters are woken; taken and
//!   dropped unrun by `reclaim` (a rejected submission); or, if still there when
//!   the cell is freed, called then (see "Freed before done").
//!
//! The work's **shared** part ([`Work::Shared`]) is readable by anyone holding the
//! cell: for an async task, the executor it re-queues itself on (a waker needs it
//! while someone else may own the stage).
//!
//! ## Completion, step by step (the runner)
//!
//! 1. Run the body under `catch_unwind`, with the task as the thread's current task.
//! 2. Store the output in the stage.
//! 3. CAS RUNNING → COMPLETE (or → CANCELLED if cancel won meanwhile).
//! 4. If cancelled meanwhile, or the handle went away meanwhile, take the output
//!    back and drop it (a panic in its `Drop` is caught).
//! 5. Unless cancelled meanwhile (the canceller did this part), wake the waiters
//!    that the CAS saw (`WAITING`) and call the hook.
//!
//! ## Freed before done
//!
//! A cell can lose its last reference without ever becoming terminal: an async
//! task that went idle (its poll returned `Pending`) while nothing can wake it any
//! more (its future kept no waker, its `TaskRef` was dropped, and its executor's
//! termination hook holds it only weakly). Then nobody can complete, cancel or
//! abandon it, and its hook would be lost: the cell resolves it as cancelled on
//! the way out instead, so the hook still runs exactly once.
//!
//! ```text
//!   idle, hook still in aux ──last ref dropped──▶ drop stage (future: leaves
//!   its executor's set) ──▶ drop shared ──▶ drop tail: hook taken
//!   ──▶ hook(handle of a stand-in: same id, CANCELLED from birth)
//! ```
//!
//! * **When it fires**: the cell's last field, its `Tail` (id and aux), has a
//!   `Drop` that finds the hook still in `aux`. That means the task never became
//!   done: every terminal transition takes the hook in `notify_done`, by a thread
//!   that still holds the cell (so the cell cannot be freed in between), and
//!   `reclaim` takes and drops it (a rejected submission never runs its hook).
//!   `NoHook` cells skip it at compile time (`Hook::PRESENT`); cells that had a
//!   hook pay one uncontended `&mut` access to the aux (no lock, no atomic RMW)
//!   when freed, and only an abandoned one allocates.
//! * **Order**: fields drop in declaration order, so the work (the future, and
//!   with it the task's entry in its executor's set) and the shared part are
//!   dropped before the hook runs.
//! * **The handle**: the freed cell cannot be referenced any more (its strong
//!   count is 0), so the hook gets the handle of a *stand-in* cell
//!   ([`TaskCell::abandoned`]): same [`TaskId`], created `CANCELLED`, with a work
//!   type that cannot exist ([`Gone`]), so it is done, `get` returns
//!   `Err(Cancelled)` (like a job dropped unrun) and nothing ever claims it. One
//!   allocation, on this path only. (Reviving the original cell instead
//!   would need a second reference count or an `unsafe` resurrection.)
//! * **Where**: on whatever thread released the last reference (the dropper of
//!   the `TaskRef`, of a waker, or the runner after the poll), with the panic
//!   caught like every other hook's (`quietly`). No lock of this crate is held.
//!
//! ## What a task costs, and why the cell has its own allocator (measured)
//!
//! `submit` + `get` of a callable from outside (issue 21's `submit_collect`)
//! does these atomic RMWs on the cell: the claim CAS and the terminal CAS
//! (runner), the runner's reference decrement, and the handle's decrement
//! when it frees the cell (consumer), plus one `fetch_sub` on the cell's page;
//! the pool's submission adds its own. With `std`'s `Arc` it also paid the
//! clone for the job and the weak decrement at the free: [`CellArc`] makes
//! the cell with both references (`new_queued`) and frees it after a load of
//! the weak count (`cell_arc.rs`).
//!
//! The largest single cost was the allocator. Sampled with `perf` on 2
//! workers (`cell_cost wall`), the submitting thread was the bottleneck and
//! spent about a third of its time in glibc's `malloc`/`free` of cells
//! (`_int_malloc`, `_int_free`, `malloc_consolidate`): a batch frees its
//! ~100,000 cells into the fastbins, the next allocation of 64 KiB or more
//! consolidates them, and the next batch's cells are split one by one from
//! the coalesced chunk. A per-thread free list of cells would not help (the
//! batch is held before any cell is freed), and a cache as large as a batch
//! would hold its peak for good. So cells are cut from per-thread pages by a
//! bump, and each page goes back when its last cell is freed
//! (`cell_alloc.rs`), as Java's thread-local allocation buffers plus
//! collection do.
//!
//! Counted with callgrind per thread (`benches/src/bin/cell_cost.rs`, 100,000
//! tasks, 1 worker), instructions per task on the submitting thread, glibc
//! `Arc` cells → page cells: `batch` (`submit_all`) 642 → 258, `completion`
//! (a `CompletionService`, `take` of every result) 1,278 → 877; the worker's
//! stayed (370 → 372, 935 → 959). Before it was built, the same page design
//! as the whole process's global allocator (a probe, not kept) had predicted
//! 310 for `batch`, and `cell_alloc_probe` (per-thread free lists) 313.

// The stage is guarded by the state word instead of a mutex (see above): measured
// with callgrind, the slot mutex cost three lock/unlock pairs (six atomic RMWs,
// ~110 instructions) per task.
#![allow(unsafe_code)]

use crate::cell_arc::{upcast, CellArc};
use crate::continuation::{self, DepList, Drained, Firer, Registration};
use crate::current;
use crate::error::{PanicPayload, TaskError};
use crate::handle::{TaskHandle, TaskId};
use crate::state::{
    Cancel, Claim, Finish, StateWord, CANCELLED, COMPLETE, DEPENDENTS, DONE, INITIAL,
    JOIN_INTEREST, PANICKED, WAITING,
};
use crate::sync::{lock, lock_mut, Mutex, UnsafeCell};
use crate::Callable;
use executor_core::integration::{
    payload_message, report_run_raw, Job, RawRunnable, RunOutcome, Waiter,
};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::Waker;

/// The outcome a runner produces: a value or a panic payload.
pub(crate) type Output<T> = std::thread::Result<T>;

/// What a cell runs: a callable (once) or a future (polled until ready).
pub(crate) trait Work<T>: Send + Sized + 'static {
    /// Whether a waiter may claim a pending cell and run it on its own thread.
    const RUN_INLINE: bool;

    /// The part of the work anyone holding the cell may read (module docs).
    type Shared: Send + Sync + 'static;

    /// Runs the cell; called by the thread that won `transition_to_running`.
    fn run<H: Hook<T>>(cell: CellArc<TaskCell<Self, T, H>>);

    /// The work was dropped for good (the task is over): release what `shared`
    /// still holds.
    fn retire(_shared: &Self::Shared) {}

    /// The error a handle reports for this cell once it is cancelled: plain
    /// `Cancelled`, unless the work recorded why it never ran (a continuation
    /// whose upstream failed or whose pool refused it, `continuation.rs`).
    /// Called at most once, by the cell's unique handle.
    fn cancelled_error(_shared: &Self::Shared) -> TaskError {
        TaskError::Cancelled
    }
}

/// The completion hook of a cell; `NoHook` when a handle was returned instead.
pub(crate) trait Hook<T>: Send + 'static {
    /// False for `NoHook`: the cell then never builds a handle for it.
    const PRESENT: bool;
    /// Called once, on the completing thread, with the (done) handle.
    fn complete(self, handle: TaskHandle<T>);
    /// Called once instead of `complete` when the task's cell is freed before the
    /// task was done (module docs, "Freed before done"), by the thread that
    /// released the last reference, after the work was dropped.
    fn abandoned(self, id: TaskId);
}

/// No hook: the submitter holds the handle.
#[derive(Debug)]
pub(crate) struct NoHook;

impl<T> Hook<T> for NoHook {
    const PRESENT: bool = false;
    fn complete(self, _handle: TaskHandle<T>) {}
    fn abandoned(self, _id: TaskId) {}
}

/// A user's `on_complete` callback.
pub(crate) struct OnComplete<F>(pub(crate) F);

impl<T: Send + 'static, F: FnOnce(TaskHandle<T>) + Send + 'static> Hook<T> for OnComplete<F> {
    const PRESENT: bool = true;
    fn complete(self, handle: TaskHandle<T>) {
        (self.0)(handle)
    }
    fn abandoned(self, id: TaskId) {
        // The freed cell cannot be referenced any more: the hook gets a stand-in,
        // created done (cancelled), under the same id.
        let stand_in = TaskCell::<Gone, T, NoHook>::abandoned(id);
        quietly(move || self.complete(TaskHandle::from_raw(upcast!(stand_in))));
    }
}

/// The work of a stand-in cell ([`TaskCell::abandoned`]): there is none, and the
/// cell is created done, so nothing ever claims it.
pub(crate) enum Gone {}

impl<T> Work<T> for Gone {
    const RUN_INLINE: bool = false;
    type Shared = ();

    fn run<H: Hook<T>>(_cell: CellArc<TaskCell<Self, T, H>>) {
        unreachable!("a stand-in cell is created done: nothing claims it")
    }
}

/// The non-generic face of a cell: what handles, task refs, waits and the
/// current-task stack need.
pub(crate) trait TaskCore: Send + Sync {
    fn state_word(&self) -> &StateWord;
    fn id(&self) -> TaskId;
    /// `cancel()`: true iff this call moved the task to cancelled.
    fn cancel(&self) -> bool;
    /// Claims a pending task and runs it on this thread; false if it could not.
    fn run_inline(&self) -> bool;
    /// Registers a waiter; `None` if the task is already done (nothing registered).
    fn add_waiter(&self, waiter: Waiter) -> Option<u64>;
    /// Removes a waiter registered with `add_waiter` (after a timeout).
    fn remove_waiter(&self, key: u64);
    /// Pushes a continuation or callback on the dependents list, fired once
    /// when the task is done (`continuation.rs`). If the task is done already,
    /// gives back what the caller must fire now: its own registration, and
    /// whatever else a racing completion left behind.
    fn add_dependent(&self, reg: Registration) -> Result<(), Drained>;
}

/// The typed face of a cell, for [`TaskHandle<T>`].
pub(crate) trait RawTask<T>: TaskCore {
    /// The outcome of a done task (its output is moved out), `None` if not done.
    /// Only the cell's unique [`TaskHandle`] calls this, at most once per
    /// `Some` (it owns the output then: module docs).
    fn take_result(&self) -> Option<Result<T, TaskError>>;
    /// Stores `waker` as the one to wake on completion; false if already done.
    fn register_waker(&self, waker: &Waker) -> bool;
    /// The handle is gone: clear `JOIN_INTEREST`, drop a stored output and waker.
    /// Only the cell's unique [`TaskHandle`] calls this, once.
    fn drop_interest(&self);
    /// A new untyped reference to the cell.
    fn core(&self) -> CellArc<dyn TaskCore>;
}

/// The work and the output never coexist (the work is consumed or dropped before
/// the output exists), so they share one slot.
enum Stage<W, T> {
    Work(W),
    Output(Output<T>),
    Empty,
}

impl<W, T> Stage<W, T> {
    fn take_work(&mut self) -> Option<W> {
        match std::mem::replace(self, Stage::Empty) {
            Stage::Work(w) => Some(w),
            other => {
                *self = other;
                None
            }
        }
    }

    fn take_output(&mut self) -> Option<Output<T>> {
        match std::mem::replace(self, Stage::Empty) {
            Stage::Output(o) => Some(o),
            other => {
                *self = other;
                None
            }
        }
    }
}

/// Blocked threads and the latest waker; boxed on first use, so a task nobody
/// waits for does not carry it.
#[derive(Default)]
struct Waiters {
    threads: Vec<(u64, Waiter)>,
    next_key: u64,
    waker: Option<Waker>,
}

/// What the aux mutex guards (module docs).
struct Aux<H> {
    hook: Option<H>,
    waiters: Option<Box<Waiters>>,
}

impl<H> Aux<H> {
    fn waiters(&mut self) -> &mut Waiters {
        self.waiters.get_or_insert_with(Box::default)
    }
}

/// One task: see the module docs.
///
/// Fields drop in declaration order: the stage (the work) and the shared part
/// before the tail, whose drop may still call the hook ("Freed before done").
pub(crate) struct TaskCell<W: Work<T>, T, H: Hook<T>> {
    state: StateWord,
    stage: UnsafeCell<Stage<W, T>>,
    shared: W::Shared,
    tail: Tail<T, H>,
}

/// The id and the aux mutex, last in the cell: its `Drop` calls a hook the task
/// never reached, after the work was dropped (module docs, "Freed before done").
struct Tail<T, H: Hook<T>> {
    id: TaskId,
    aux: Mutex<Aux<H>>,
    /// Continuations and `on_complete` callbacks (`continuation.rs`): a
    /// lock-free list, fired once, by the thread that made the task terminal,
    /// after the wake-ups.
    dependents: DepList,
    output: PhantomData<fn() -> T>,
}

impl<T, H: Hook<T>> Drop for Tail<T, H> {
    /// The cell is being freed. A hook still here was never taken, so the task
    /// never became done: every terminal transition takes the hook (in
    /// `notify_done`, by a thread that still holds the cell), and `reclaim` (a
    /// rejected submission) takes and drops it. Nothing can complete the task any
    /// more: it is abandoned.
    ///
    /// Inline, with the rest out of line: a cell without a hook whose
    /// dependents were drained (every done task's) is freed after one load.
    #[inline]
    fn drop(&mut self) {
        if H::PRESENT || self.dependents.is_pending() {
            self.resolve_unfinished();
        }
    }
}

impl<T, H: Hook<T>> Tail<T, H> {
    /// `drop`'s slow part: calls a hook and fires continuations the task never
    /// reached.
    #[inline(never)]
    fn resolve_unfinished(&mut self) {
        // The last access: `&mut` needs no lock (no atomic RMW).
        let hook = if H::PRESENT {
            lock_mut(&mut self.aux).hook.take()
        } else {
            None
        };
        // Continuations registered on a task that never became done (the same
        // reasoning as for the hook: every terminal transition drains the
        // list): they fire now, seeing a cancelled stand-in.
        if self.dependents.is_pending() {
            let dependents = self.dependents.close();
            // Untyped: the callbacks see a `TaskRef`, and a continuation cell
            // never leaves its upstream (it holds the upstream's handle).
            let stand_in: CellArc<dyn TaskCore> =
                upcast!(TaskCell::<Gone, (), NoHook>::abandoned(self.id));
            let state = stand_in.state_word().load();
            continuation::fire_all(state, &|| stand_in.clone(), dependents, Firer::Other);
        }
        if let Some(hook) = hook {
            hook.abandoned(self.id);
        }
    }
}

// SAFETY: the only field that is not `Sync` is the stage, and the state word
// hands it from one owner to the next (module docs), so sharing the cell across
// threads only ever *moves* `W` and `Output<T>` between threads, which is what
// `Send` allows (the same reasoning as `Mutex<T>: Sync` for `T: Send`). The other
// fields are `Sync` (`W::Shared: Sync`, the state word, the id, `Mutex<Aux<H>>`
// for `H: Send`, `PhantomData<fn() -> T>`).
unsafe impl<W: Work<T>, T: Send, H: Hook<T>> Sync for TaskCell<W, T, H> {}

impl<T: Send + 'static> TaskCell<Gone, T, NoHook> {
    /// The stand-in for a task whose cell was freed before it was done (module
    /// docs, "Freed before done"): created cancelled, under the task's `id`, for
    /// the handle its hook receives.
    pub(crate) fn abandoned(id: TaskId) -> CellArc<Self> {
        CellArc::new(TaskCell {
            state: StateWord::new(CANCELLED | JOIN_INTEREST),
            stage: UnsafeCell::new(Stage::Empty),
            shared: (),
            tail: Tail {
                id,
                aux: Mutex::new(Aux {
                    hook: None,
                    waiters: None,
                }),
                dependents: DepList::new(),
                output: PhantomData,
            },
        })
    }
}

/// Runs `f`, catching (and reporting through `tracing`) a panic: for drops of user
/// values, wakers and hooks, which must never unwind through the protocol.
pub(crate) fn quietly(f: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        tracing::error!(
            panic.message = payload_message(&*payload).unwrap_or("<non-string payload>"),
            "a task's drop, waker or completion hook panicked; the panic was caught"
        );
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    }
}

pub(crate) fn drop_quietly<X>(x: X) {
    quietly(move || drop(x));
}

/// Drops an output nobody will read; gives back its panic payload instead of
/// dropping it (for the pool's panic handler: nobody else will see it).
fn dispose<T>(output: Option<Output<T>>) -> Option<Box<dyn std::any::Any + Send>> {
    match output {
        Some(Err(payload)) => Some(payload),
        other => {
            drop_quietly(other);
            None
        }
    }
}

impl<W: Work<T>, T: Send + 'static, H: Hook<T>> TaskCell<W, T, H> {
    pub(crate) fn new(work: W, shared: W::Shared, hook: H) -> CellArc<Self> {
        CellArc::new(Self::with_state(INITIAL, work, shared, hook))
    }

    /// A new cell and the job that queues it: born with two references (the
    /// caller's and the job's), so no clone is paid (`cell_arc.rs`).
    #[inline]
    pub(crate) fn new_queued(work: W, shared: W::Shared, hook: H) -> (CellArc<Self>, Job) {
        let (cell, job) = CellArc::new_pair(Self::with_state(INITIAL, work, shared, hook));
        (cell, job.into_job())
    }

    /// A cell that is not queued yet (no `NOTIFIED`): a continuation, made
    /// runnable later by `transition_to_notified` when its upstream is done
    /// (`continuation.rs`). Nothing can claim it before that.
    pub(crate) fn new_deferred(work: W, shared: W::Shared, hook: H) -> CellArc<Self> {
        CellArc::new(Self::with_state(JOIN_INTEREST, work, shared, hook))
    }

    #[inline]
    fn with_state(state: usize, work: W, shared: W::Shared, hook: H) -> Self {
        TaskCell {
            state: StateWord::new(state),
            stage: UnsafeCell::new(Stage::Work(work)),
            shared,
            tail: Tail {
                id: TaskId::next(),
                aux: Mutex::new(Aux {
                    hook: Some(hook),
                    waiters: None,
                }),
                dependents: DepList::new(),
                output: PhantomData,
            },
        }
    }

    pub(crate) fn state(&self) -> &StateWord {
        &self.state
    }

    /// The work's shared part (module docs).
    pub(crate) fn shared(&self) -> &W::Shared {
        &self.shared
    }

    /// Applies `f` to the stage.
    ///
    /// # Safety
    ///
    /// The calling thread owns the stage by one of the rules in the module docs,
    /// and `f` does not call back into the cell.
    #[inline]
    unsafe fn stage_mut<R>(&self, f: impl FnOnce(&mut Stage<W, T>) -> R) -> R {
        // SAFETY: the caller owns the stage (this function's contract): no other
        // thread reads or writes it until the owner's next state transition, and
        // the reference does not escape `f`.
        self.stage.with_mut(|stage| f(unsafe { &mut *stage }))
    }

    /// Takes the work out.
    ///
    /// # Safety
    ///
    /// The caller owns the stage (a claim, or an idle cancel).
    #[inline]
    pub(crate) unsafe fn take_work(&self) -> Option<W> {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.stage_mut(Stage::take_work) }
    }

    /// Puts the work back (an async runner between polls).
    ///
    /// # Safety
    ///
    /// The caller holds the claim (`RUNNING`) and has not released it yet.
    pub(crate) unsafe fn put_work(&self, work: W) {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.stage_mut(|stage| *stage = Stage::Work(work)) }
    }

    /// Takes the output back out (a runner that keeps ownership after its terminal
    /// CAS: cancelled meanwhile, or no handle left).
    ///
    /// # Safety
    ///
    /// The caller owns the stage.
    unsafe fn take_output_owned(&self) -> Option<Output<T>> {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.stage_mut(Stage::take_output) }
    }

    /// After the executor refused the cell's job: takes the work back so it can be
    /// handed to the caller. The hook is dropped unrun (the task never existed).
    ///
    /// # Panics
    ///
    /// If the executor ran the job although it reported a rejection.
    pub(crate) fn reclaim(&self) -> W {
        let cancel = self.state.transition_to_cancelled();
        let work = match cancel {
            // SAFETY: an idle cancel: this thread moved the cell, not running, to
            // CANCELLED; nobody else can touch the stage any more.
            Cancel::WasIdle { .. } => unsafe { self.take_work() },
            _ => None,
        };
        W::retire(&self.shared);
        let hook = lock(&self.tail.aux).hook.take();
        drop_quietly(hook);
        work.expect("an executor returned a job as rejected after running it")
    }
}

/// The methods that need the cell's own reference (every `TaskCell` lives in
/// a [`CellArc`]).
impl<W: Work<T>, T: Send + 'static, H: Hook<T>> CellArc<TaskCell<W, T, H>> {
    /// Gives up this reference as the job that runs the cell.
    #[inline]
    pub(crate) fn into_job(self) -> Job {
        let p = CellArc::into_value_raw(self);
        // SAFETY: `p` stands for the reference given up here, which
        // `run_raw`/`abandon_raw` of the cell's type take back.
        unsafe { Job::from_raw_runnable::<TaskCell<W, T, H>>(p.cast()) }
    }

    /// The job ran: claim and run the cell (or report that there was nothing
    /// to run).
    #[inline]
    pub(crate) fn run_job(self) {
        if self.state.transition_to_running() == Claim::Claimed {
            W::run(self);
        } else {
            self.report_skipped_run();
        }
    }

    /// The job was dropped unrun: abandon the cell.
    pub(crate) fn abandon_job(self) {
        let outcome = self.state.transition_to_abandoned();
        self.after_cancel(outcome);
    }

    /// Reports this cell's run to the pool (its job's key is the value's
    /// address: `into_job`).
    pub(crate) fn report(&self, outcome: RunOutcome) {
        report_run_raw(CellArc::as_ptr(self).cast(), outcome);
    }

    /// Steps 2–5 of the completion (module docs). An output nobody will read is
    /// dropped *before* the waiters are woken, so a woken waiter observes it gone.
    ///
    /// The caller holds the claim (`RUNNING`), which this call gives up.
    ///
    /// Last, it reports the run to the pool (`executor_core::integration::report_run`): a
    /// panic that no handle will receive (none is left, or the task was
    /// cancelled while it ran) goes to the pool's panic handler with it.
    pub(crate) fn finish(self, result: Output<T>) {
        let panicked = result.is_err();
        // A panic payload nobody will read, for the pool's panic handler.
        let mut unobserved = None;
        if self.state.load() & JOIN_INTEREST == 0 {
            // No handle is left (interest only ever goes away): drop the output
            // now, while this thread still owns the stage, so that it is gone
            // before anyone can observe the task done, including a waiter that
            // spins on the state instead of being woken (a `TaskRef::wait`).
            unobserved = dispose(Some(result));
        } else {
            // SAFETY: the caller holds the claim: it owns the stage until the
            // terminal CAS below (the work was taken out already, so this
            // overwrites `Empty`).
            unsafe { self.stage_mut(|stage| *stage = Stage::Output(result)) };
        }
        match self.state.transition_to_complete(panicked) {
            Finish::Discard => {
                // SAFETY: cancelled while running: the canceller left the stage to
                // the runner, and nobody reads a cancelled task's output.
                let output = unsafe { self.take_output_owned() };
                unobserved = unobserved.or(dispose(output));
            }
            Finish::Completed { prev } => {
                if prev & JOIN_INTEREST == 0 {
                    // SAFETY: no handle is left to take the output: the CAS kept
                    // the stage with the runner. (Usually the output was already
                    // dropped above; this is a handle dropped in between.)
                    let output = unsafe { self.take_output_owned() };
                    unobserved = unobserved.or(dispose(output));
                }
                if prev & (WAITING | DEPENDENTS) != 0 || H::PRESENT {
                    self.notify_done(prev, Firer::Runner);
                }
            }
        }
        if panicked {
            self.report(RunOutcome::Panicked { unobserved });
        }
    }

    /// Called by the thread that made the task terminal (`by`): wakes every
    /// waiter and the waker (if the terminal CAS saw `WAITING`), calls the hook,
    /// then fires the dependents (if it saw `DEPENDENTS`: last, because a
    /// runner may go on with a continuation made ready, `continuation.rs`).
    #[inline(never)]
    fn notify_done(&self, prev: usize, by: Firer) {
        if prev & WAITING != 0 {
            let waiters = lock(&self.tail.aux).waiters.take();
            if let Some(mut waiters) = waiters {
                for (_, waiter) in &waiters.threads {
                    waiter.wake();
                }
                if let Some(waker) = waiters.waker.take() {
                    quietly(move || waker.wake());
                }
            }
        }
        if H::PRESENT {
            let hook = lock(&self.tail.aux).hook.take();
            if let Some(hook) = hook {
                let handle = TaskHandle::from_raw(upcast!(self.clone()));
                quietly(move || hook.complete(handle));
            }
        }
        if prev & DEPENDENTS != 0 {
            let dependents = self.tail.dependents.close();
            let state = self.state.load();
            continuation::fire_all(state, &|| upcast!(self.clone()), dependents, by);
        }
    }

    /// This cell's job found nothing to run (`Claim::Skip`): tells the pool what
    /// to count (`Stats`). A callable that a waiter ran on its own thread (it
    /// had not started) is counted now, its panic too; one still running there
    /// counts as completed (its panic, if any, is not counted). A cancelled task,
    /// or an async task's job that finds it done or claimed by another run
    /// (which counts it), is not a completed task.
    #[cold]
    fn report_skipped_run(&self) {
        let s = self.state.load();
        let outcome = if !W::RUN_INLINE || s & CANCELLED != 0 {
            RunOutcome::NotCompleted
        } else if s & PANICKED != 0 {
            RunOutcome::Panicked { unobserved: None }
        } else {
            RunOutcome::Completed
        };
        self.report(outcome);
    }

    /// Finishes a cancel or abandon transition.
    pub(crate) fn after_cancel(self, outcome: Cancel) -> bool {
        match outcome {
            Cancel::Refused => false,
            Cancel::WasRunning { prev } => {
                self.notify_done(prev, Firer::Other);
                true
            }
            Cancel::WasIdle { prev } => {
                // SAFETY: an idle cancel: this thread moved the cell, not running,
                // to CANCELLED; nobody else can touch the stage any more.
                let work = unsafe { self.take_work() };
                drop_quietly(work);
                W::retire(&self.shared);
                self.notify_done(prev, Firer::Other);
                true
            }
        }
    }

    /// Runs the body of a claimed cell as the current task; gives the cell back.
    #[inline]
    pub(crate) fn run_as_current<R>(self, f: impl FnOnce() -> R) -> (Self, R) {
        let r = current::run_as_current(&*self, f);
        (self, r)
    }
}

// SAFETY: `into_job` is the only maker of such jobs: its pointer is the value
// of a `CellArc<Self>` whose reference it stands for, taken back once here.
// The cell is `Send + Sync`, so any thread may run or drop it.
unsafe impl<W: Work<T>, T: Send + 'static, H: Hook<T>> RawRunnable for TaskCell<W, T, H> {
    #[inline]
    unsafe fn run_raw(ptr: *const ()) {
        // SAFETY: the trait's contract (see above).
        unsafe { CellArc::from_value_raw(ptr.cast::<Self>()) }.run_job();
    }

    unsafe fn abandon_raw(ptr: *const ()) {
        // SAFETY: the trait's contract (see above).
        unsafe { CellArc::from_value_raw(ptr.cast::<Self>()) }.abandon_job();
    }
}

impl<W: Work<T>, T: Send + 'static, H: Hook<T>> TaskCore for TaskCell<W, T, H> {
    fn state_word(&self) -> &StateWord {
        &self.state
    }

    fn id(&self) -> TaskId {
        self.tail.id
    }

    fn cancel(&self) -> bool {
        let outcome = self.state.transition_to_cancelled();
        if let Cancel::Refused = outcome {
            return false;
        }
        // SAFETY: every `TaskCell` is made in a `CellArc` (`new`,
        // `new_deferred`, `new_queued`, `abandoned`).
        let this = unsafe { CellArc::clone_from_value(self) };
        this.after_cancel(outcome)
    }

    fn run_inline(&self) -> bool {
        if W::RUN_INLINE && self.state.transition_to_running() == Claim::Claimed {
            // SAFETY: as in `cancel`.
            let this = unsafe { CellArc::clone_from_value(self) };
            // A waiter: its task's continuations are queued, not run next here.
            continuation::waiter_runs(|| W::run(this));
            true
        } else {
            false
        }
    }

    fn add_waiter(&self, waiter: Waiter) -> Option<u64> {
        let mut aux = lock(&self.tail.aux);
        if self.state.is_done() {
            drop(aux);
            drop(waiter);
            return None;
        }
        let waiters = aux.waiters();
        let key = waiters.next_key;
        waiters.next_key += 1;
        waiters.threads.push((key, waiter));
        if self.state.set_waiting() & DONE != 0 {
            // Completed between the check and the RMW: the completer will not see
            // this entry's WAITING; do not wait, and do not leave the entry behind.
            let mine = aux.waiters().threads.pop();
            drop(aux);
            drop(mine);
            return None;
        }
        Some(key)
    }

    fn add_dependent(&self, reg: Registration) -> Result<(), Drained> {
        // Invariant 4 in `state.rs`, lock-free (`continuation.rs`, "Registration
        // and firing").
        let s = self.state.load();
        if s & DONE != 0 {
            return Err(Drained::one(reg));
        }
        self.tail.dependents.push(reg).map_err(Drained::one)?;
        if s & DEPENDENTS != 0 {
            // Set before the terminal CAS (it lacked DONE when read, and the
            // bit is never cleared): the completer will drain the list, and
            // either takes this link or closed the list before the push.
            return Ok(());
        }
        if self.state.set_dependents() & DONE != 0 {
            // Done before the RMW: the completer may not have seen DEPENDENTS;
            // drain the list here (a swap: each link goes to one drainer).
            return Err(self.tail.dependents.close());
        }
        Ok(())
    }

    fn remove_waiter(&self, key: u64) {
        let removed = {
            let mut aux = lock(&self.tail.aux);
            aux.waiters.as_mut().and_then(|w| {
                let at = w.threads.iter().position(|(k, _)| *k == key);
                at.map(|i| w.threads.swap_remove(i))
            })
        };
        drop(removed);
    }
}

impl<W: Work<T>, T: Send + 'static, H: Hook<T>> RawTask<T> for TaskCell<W, T, H> {
    #[inline]
    fn take_result(&self) -> Option<Result<T, TaskError>> {
        let s = self.state.load();
        if s & DONE != COMPLETE {
            return (s & CANCELLED != 0).then(|| Err(W::cancelled_error(&self.shared)));
        }
        // SAFETY: only the cell's unique handle calls this (trait contract), and
        // the task is COMPLETE (not cancelled) while the handle still holds
        // JOIN_INTEREST: the runner's terminal CAS handed the stage to the handle
        // (module docs, "after finish"), and the acquire load above sees the
        // runner's write of the output.
        match unsafe { self.stage_mut(Stage::take_output) } {
            Some(Ok(value)) => Some(Ok(value)),
            Some(Err(payload)) => Some(Err(TaskError::Panicked(PanicPayload::new(payload)))),
            None => unreachable!("a complete task holds its output while its handle lives"),
        }
    }

    fn register_waker(&self, waker: &Waker) -> bool {
        // Clone outside the lock: a waker's clone is user code.
        let new = waker.clone();
        let mut aux = lock(&self.tail.aux);
        if self.state.is_done() {
            drop(aux);
            drop(new);
            return false;
        }
        let waiters = aux.waiters();
        let replaced = match &waiters.waker {
            Some(old) if old.will_wake(&new) => Some(new),
            _ => waiters.waker.replace(new),
        };
        if self.state.set_waiting() & DONE != 0 {
            let mine = aux.waiters().waker.take();
            drop(aux);
            drop(mine);
            drop(replaced);
            return false;
        }
        drop(aux);
        drop(replaced);
        true
    }

    fn drop_interest(&self) {
        let prev = self.state.drop_join_interest();
        if prev & DONE == COMPLETE {
            // SAFETY: the unique handle gave up its interest on a COMPLETE task:
            // the runner handed the stage to the handle at its terminal CAS (it
            // saw JOIN_INTEREST), so this thread owns it (module docs).
            let output = unsafe { self.take_output_owned() };
            drop_quietly(output);
        } else if prev & WAITING != 0 && prev & DONE == 0 {
            // Release a waker a dropped `.await` left behind (select!, timeouts).
            let waker = lock(&self.tail.aux)
                .waiters
                .as_mut()
                .and_then(|w| w.waker.take());
            drop_quietly(waker);
        }
    }

    fn core(&self) -> CellArc<dyn TaskCore> {
        // SAFETY: as in `cancel`.
        upcast!(unsafe { CellArc::clone_from_value(self) })
    }
}

/// A callable as a cell's work.
pub(crate) struct Call<C>(pub(crate) C);

impl<C, T> Work<T> for Call<C>
where
    C: Callable<T> + Send + 'static,
    T: Send + 'static,
{
    const RUN_INLINE: bool = true;
    type Shared = ();

    #[inline]
    fn run<H: Hook<T>>(cell: CellArc<TaskCell<Self, T, H>>) {
        run_callable(cell, |Call(callable)| callable);
    }
}

/// The run of a claimed callable cell: takes the work out, calls the callable
/// `unwrap` finds in it as the current task, and finishes the cell.
#[inline]
fn run_callable<W, C, T, H>(cell: CellArc<TaskCell<W, T, H>>, unwrap: impl FnOnce(W) -> C)
where
    W: Work<T>,
    C: Callable<T>,
    T: Send + 'static,
    H: Hook<T>,
{
    // SAFETY: `Work::run` (our only caller) is called by the thread that won the
    // claim.
    let Some(work) = (unsafe { cell.take_work() }) else {
        unreachable!("a claimed callable task holds its closure")
    };
    let callable = unwrap(work);
    let (cell, result) =
        cell.run_as_current(move || catch_unwind(AssertUnwindSafe(move || callable.call())));
    cell.finish(result);
}

/// A callable that waits for its deadline: the work of a delayed task
/// (`scheduled.rs`). Its timer submits its job when due, so a waiter must never
/// claim it early and run it inline (`RUN_INLINE` is false); otherwise it runs as
/// a [`Call`].
pub(crate) struct DelayedCall<C>(pub(crate) C);

impl<C, T> Work<T> for DelayedCall<C>
where
    C: Callable<T> + Send + 'static,
    T: Send + 'static,
{
    const RUN_INLINE: bool = false;
    type Shared = ();

    fn run<H: Hook<T>>(cell: CellArc<TaskCell<Self, T, H>>) {
        run_callable(cell, |DelayedCall(callable)| callable);
    }
}

/// Model checks of the cell protocol: run vs cancel vs waker registration, and
/// handle drop vs completion. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p executor-futures --lib --release loom`.
#[cfg(all(test, loom))]
mod loom_model {
    use super::*;
    use crate::handle::TaskHandle;
    use loom::thread;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake};

    #[derive(Default)]
    struct Flag(AtomicUsize);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, StdOrdering::SeqCst);
        }
    }

    #[test]
    fn loom_run_cancel_and_waker_registration() {
        loom::model(|| {
            let cell = TaskCell::new(Call(|| 7u32), (), NoHook);
            let job = cell.clone().into_job();
            let mut handle = TaskHandle::<u32>::from_raw(upcast!(cell));
            let canceller = handle.task_ref();
            let runner = thread::spawn(move || job.run());
            let cancel = thread::spawn(move || canceller.cancel());
            let flag = Arc::new(Flag::default());
            let waker = Waker::from(flag.clone());
            let first = Pin::new(&mut handle).poll(&mut Context::from_waker(&waker));
            runner.join().unwrap();
            let won = cancel.join().unwrap();
            let result = match first {
                Poll::Ready(r) => r,
                Poll::Pending => {
                    // Registered before completion: the completer must have woken us.
                    assert_eq!(flag.0.load(StdOrdering::SeqCst), 1, "lost wake-up");
                    match Pin::new(&mut handle).poll(&mut Context::from_waker(&waker)) {
                        Poll::Ready(r) => r,
                        Poll::Pending => panic!("woken but not done"),
                    }
                }
            };
            match result {
                Ok(v) => {
                    assert!(!won, "cancel won but the value was delivered");
                    assert_eq!(v, 7);
                }
                Err(e) => {
                    assert!(won && e.is_cancelled(), "{e:?}");
                }
            }
        });
    }

    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, StdOrdering::SeqCst);
        }
    }

    #[test]
    fn loom_handle_drop_vs_completion_drops_output_once() {
        loom::model(|| {
            let drops = Arc::new(AtomicUsize::new(0));
            let d = drops.clone();
            let cell = TaskCell::new(Call(move || Counted(d)), (), NoHook);
            let job = cell.clone().into_job();
            let handle = TaskHandle::<Counted>::from_raw(upcast!(cell));
            let runner = thread::spawn(move || job.run());
            drop(handle);
            runner.join().unwrap();
            assert_eq!(drops.load(StdOrdering::SeqCst), 1);
        });
    }

    /// A cell freed before it is done runs its hook once, with a cancelled
    /// stand-in of the same id; a cancel racing the last drop runs it once too
    /// (through `notify_done`, or at the free if the cancel found nothing to do).
    #[test]
    fn loom_hook_runs_once_when_freed_before_done_or_cancelled() {
        loom::model(|| {
            let calls = Arc::new(AtomicUsize::new(0));
            let c = calls.clone();
            let cell = TaskCell::new(
                Call(|| 7u32),
                (),
                OnComplete(move |h: TaskHandle<u32>| {
                    assert!(h.is_done());
                    assert!(matches!(h.get(), Err(TaskError::Cancelled)));
                    c.fetch_add(1, StdOrdering::SeqCst);
                }),
            );
            let canceller = cell.clone();
            let other = cell.clone();
            let cancel = thread::spawn(move || canceller.cancel());
            let dropper = thread::spawn(move || drop(other));
            drop(cell);
            assert!(cancel.join().unwrap(), "nothing else ends the task");
            dropper.join().unwrap();
            assert_eq!(calls.load(StdOrdering::SeqCst), 1, "hook ran once");
        });
        loom::model(|| {
            let calls = Arc::new(AtomicUsize::new(0));
            let c = calls.clone();
            let (tx, rx) = std::sync::mpsc::channel();
            let cell = TaskCell::new(
                Call(|| 7u32),
                (),
                OnComplete(move |h: TaskHandle<u32>| {
                    tx.send((h.id(), h.is_done(), h.get().is_err())).unwrap();
                    c.fetch_add(1, StdOrdering::SeqCst);
                }),
            );
            let id = TaskCore::id(&*cell);
            let other = cell.clone();
            let dropper = thread::spawn(move || drop(other));
            drop(cell);
            dropper.join().unwrap();
            assert_eq!(calls.load(StdOrdering::SeqCst), 1, "hook ran once");
            assert_eq!(rx.try_recv(), Ok((id, true, true)));
        });
    }

    #[test]
    fn loom_cancel_vs_abandon_vs_claim() {
        loom::model(|| {
            let runs = Arc::new(AtomicUsize::new(0));
            let closure_drops = Arc::new(AtomicUsize::new(0));
            let r = runs.clone();
            let token = Counted(closure_drops.clone());
            let cell = TaskCell::new(
                Call(move || {
                    let _token = token;
                    r.fetch_add(1, StdOrdering::SeqCst);
                }),
                (),
                NoHook,
            );
            let job = cell.clone().into_job();
            let inline = cell.clone();
            let abandon = thread::spawn(move || drop(job));
            let claim = thread::spawn(move || inline.run_inline());
            let cancelled = cell.clone().cancel();
            abandon.join().unwrap();
            let claimed = claim.join().unwrap();
            let ran = runs.load(StdOrdering::SeqCst);
            assert_eq!(ran, claimed as usize, "ran iff claimed, at most once");
            assert!(cell.state().is_done());
            assert_eq!(
                closure_drops.load(StdOrdering::SeqCst),
                1,
                "closure dropped once"
            );
            if !claimed {
                // Cancelled while pending (by cancel or abandon): never ran.
                assert!(cell.state().is_cancelled());
            } else if cancelled {
                // Cancel won while it ran: the outcome is Cancelled anyway.
                assert!(cell.state().is_cancelled());
            }
        });
    }
}
