//! Async tasks: a future polled on the pool, re-queued each time it is woken.
//!
//! The cell is the same [`TaskCell`] as for callables, with an [`AsyncWork`] as its
//! work, and it is its own [`Waker`] (a `RawWakerVTable` over its [`CellArc`](crate::cell_arc::CellArc)): a wake costs
//! no allocation, only the state CAS and, when the task was idle, one
//! `requeue_job` of the cell itself.
//!
//! ```text
//!  spawn: NOTIFIED ──job runs──▶ RUNNING ──poll: Ready / panic──▶ COMPLETE
//!                                  │   ▲
//!                 poll: Pending    │   │ job runs
//!                                  ▼   │
//!          idle (future in slot) ──wake──▶ NOTIFIED (+ requeue_job)
//!   woken while RUNNING: NOTIFIED is set and the runner re-queues after the poll.
//! ```
//!
//! * A re-queue the executor refuses (pool stopped or terminated) drops the job,
//!   which abandons the cell: it resolves as Cancelled and its future is dropped.
//! * An idle task (waiting for a wake) is in no queue, so the pool's own drains do
//!   not see it. Instead, every task that goes idle is in its executor's set of
//!   live tasks (tokio's owned-task list): a termination hook
//!   ([`Executor::on_termination_job`]) that holds the cell weakly, registered by
//!   the runner the first time a poll returns `Pending` and removed when the
//!   future is dropped (the task completed or was cancelled, or its cell was freed
//!   because nothing could wake it any more: then, once the future is dropped,
//!   a completion hook (`spawn_with`) still runs, with a cancelled handle; see
//!   "Freed before done" in `task.rs`). A task that completes in its first
//!   poll never touches the set. When the pool terminates (after `shutdown` once
//!   its queues are empty, or after `shutdown_now`, `close`, drop), the hooks
//!   cancel every task still pending: it resolves as Cancelled, its waiters are
//!   woken and its future is dropped, all before `await_termination` returns
//!   true. This also collects cycles through stored wakers (two tasks awaiting
//!   each other's handles). So after `shutdown`, an idle task is cancelled as
//!   soon as the queues run dry: wait for async tasks (their handles) before
//!   shutting the pool down if they must finish. An executor that does not
//!   report its termination (the trait's default, e.g. `InlineExecutor`) keeps
//!   no set.
//! * Cancel drops the future: at once if idle, after the current poll if running.
//! * The future is pinned in its own `Box` at its first poll (this crate has no
//!   `unsafe`, so it cannot pin inside the shared cell): spawning costs two
//!   allocations, polling and waking none. Until that first poll the future is
//!   movable, which is how a rejected spawn hands it back.
//! * The executor handle the task keeps for re-queuing and for its termination
//!   hook ([`TaskExec`]) is the executor's non-owning one when it has one
//!   ([`Executor::pool_ref`]: a [`PoolRef`] for a `ThreadPool`), a clone of the
//!   executor otherwise. So a task never counts as a user's handle of its pool:
//!   when the user drops the last `ThreadPool`, the pool closes as promised
//!   (queued and running tasks finish, and may still re-queue themselves while
//!   it is shut down), and at its termination the tasks still waiting for a
//!   wake are cancelled and their futures dropped (above). Were it a clone, an
//!   idle task would keep the pool open, the pool would never terminate, and
//!   the hook that cancels the task would never run: the pool's threads and
//!   the future would leak. (A `ThreadPool` the *future* captures is the
//!   user's own handle, and keeps the pool open while the task lives.) A
//!   clone is dropped when the task ends (with the future); a `PoolRef` stays
//!   until the cell is freed (below), which keeps the pool's shared state in
//!   memory, never its threads or its queues open. If the future's drop
//!   releases the last `ThreadPool` on a worker, the pool shuts down without
//!   joining itself (see `ThreadPool`).
//!
//! ## The wake path
//!
//! A wake is the `NOTIFIED` CAS and, when the task was idle, one `requeue_job`
//! of the cell with the pool's `PoolRef` borrowed from the cell (no lock, and
//! no count of the pool's `Arc`), the job holding one more reference of the
//! cell. The runner polls with a waker borrowed from its own reference
//! (a `Waker` over the cell's value, not counted): a future that keeps the waker clones it, one
//! that does not costs nothing. Before, each wake locked the executor slot and
//! cloned and dropped the `PoolRef` (two RMWs on the pool's reference count,
//! a line every wake on every worker shares, and two on the slot's lock), and
//! each poll cloned and dropped the cell's `Arc` for its waker. A baton of two
//! async tasks passing a token through `futures` channels
//! (`benches/src/bin/cell_cost.rs baton`, 20,000 round trips under callgrind)
//! went from 2,443 to 2,325 instructions per round trip, `requeue` from 130 to
//! 58 and the runner from 256 to 220. Where the re-queued job runs (the
//! waking worker's deque, from which the other worker, idle, steals it, so
//! each hop migrates the task) is `executor-core`'s `requeue`, not changed here.

// The stage accessors of `TaskCell` are `unsafe` (see `task.rs`).
#![allow(unsafe_code)]

use crate::cell_arc::{CellArc, CellWeak};
use crate::state::AfterPoll;
use crate::state::Notify;
use crate::sync::{lock, Mutex};
use crate::task::{drop_quietly, quietly, Hook, TaskCell, TaskCore, Work};
use executor_core::integration::{Executor, Job, TerminationKey};
use executor_core::{PoolRef, Rejected};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::task::{RawWaker, RawWakerVTable, Waker};

enum FutSlot<F> {
    /// Not polled yet: still movable.
    Fresh(F),
    /// Polled at least once.
    Pinned(Pin<Box<F>>),
    /// Transient, while moving from `Fresh` to `Pinned`.
    Moving,
}

/// A future, as a cell's work; the executor it re-queues itself on is the cell's
/// shared part ([`ExecSlot`]), since a waker needs it while the runner or a
/// canceller may own the stage.
pub(crate) struct AsyncWork<F, E: Executor> {
    fut: FutSlot<F>,
    /// The task's place in its executor's set of live tasks (see [`track`]).
    track: Track<E>,
}

/// Whether a task is in its executor's set of live tasks.
enum Track<E> {
    /// Not idle yet: not in the set.
    Not,
    /// In the set: the hook's key, and the executor to remove it from.
    In(TaskExec<E>, TerminationKey),
    /// Went idle, but the executor keeps no set (or it ran the hook at once).
    Never,
}

impl<F, E: Executor> Drop for AsyncWork<F, E> {
    /// The future is about to be dropped, so the task is over (completed,
    /// cancelled, or its cell freed): it leaves the set.
    fn drop(&mut self) {
        if let Track::In(exec, key) = std::mem::replace(&mut self.track, Track::Never) {
            quietly(|| {
                exec.remove_termination_hook(key);
            });
            drop_quietly(exec);
        }
    }
}

/// The executor an async task re-queues itself on (the cell's shared part).
///
/// A pool's [`PoolRef`] is read without a lock and kept until the cell is
/// freed: a wake then costs no lock and no reference count (module docs,
/// "The wake path"). An executor without one is kept as a clone behind the
/// mutex and dropped when the task ends ([`Work::retire`]), so that a handle
/// kept after the end does not keep an executor it owns open.
pub(crate) struct ExecSlot<E> {
    /// The executor's non-owning handle, if it has one; never changes.
    pool: Option<PoolRef>,
    /// Otherwise a clone of the executor; emptied when the task ends.
    owned: Mutex<Option<E>>,
}

impl<E: Executor + Clone> ExecSlot<E> {
    /// The executor as a [`TaskExec`], `None` once the task ended (an owned
    /// executor only: a pool's handle stays).
    fn exec(&self) -> Option<TaskExec<E>> {
        match &self.pool {
            Some(pool) => Some(TaskExec::Pool(pool.clone())),
            None => lock(&self.owned).clone().map(TaskExec::Owned),
        }
    }
}

/// The handle an async task keeps to its executor (module docs): the
/// non-owning one when the executor has one, so that the task does not keep its
/// pool open, else a clone.
#[derive(Clone)]
pub(crate) enum TaskExec<E> {
    /// The executor's own [`PoolRef`] ([`Executor::pool_ref`]).
    Pool(PoolRef),
    /// A clone of the executor (it has no non-owning handle).
    Owned(E),
}

impl<E: Executor> Executor for TaskExec<E> {
    fn execute_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        match self {
            TaskExec::Pool(pool) => pool.execute_job(job),
            TaskExec::Owned(exec) => exec.execute_job(job),
        }
    }
    fn requeue_job(&self, job: Job) -> Result<(), Rejected<Job>> {
        match self {
            TaskExec::Pool(pool) => pool.requeue_job(job),
            TaskExec::Owned(exec) => exec.requeue_job(job),
        }
    }
    fn on_termination_job(&self, hook: Job) -> Option<TerminationKey> {
        match self {
            TaskExec::Pool(pool) => pool.on_termination_job(hook),
            TaskExec::Owned(exec) => exec.on_termination_job(hook),
        }
    }
    fn remove_termination_hook(&self, key: TerminationKey) -> bool {
        match self {
            TaskExec::Pool(pool) => pool.remove_termination_hook(key),
            TaskExec::Owned(exec) => exec.remove_termination_hook(key),
        }
    }
    fn pool_ref(&self) -> Option<PoolRef> {
        match self {
            TaskExec::Pool(pool) => Some(pool.clone()),
            TaskExec::Owned(exec) => exec.pool_ref(),
        }
    }
}

impl<F: Future, E: Executor + Clone> AsyncWork<F, E> {
    /// The work and the shared part for a new cell spawned on `exec`.
    pub(crate) fn new(fut: F, exec: &E) -> (Self, ExecSlot<E>) {
        (
            AsyncWork {
                fut: FutSlot::Fresh(fut),
                track: Track::Not,
            },
            match exec.pool_ref() {
                Some(pool) => ExecSlot {
                    pool: Some(pool),
                    owned: Mutex::new(None),
                },
                None => ExecSlot {
                    pool: None,
                    owned: Mutex::new(Some(exec.clone())),
                },
            },
        )
    }

    /// The future, if it was never polled.
    pub(crate) fn into_future(mut self) -> Option<F> {
        match std::mem::replace(&mut self.fut, FutSlot::Moving) {
            FutSlot::Fresh(f) => Some(f),
            _ => None,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<F::Output> {
        if let FutSlot::Fresh(_) = self.fut {
            if let FutSlot::Fresh(f) = std::mem::replace(&mut self.fut, FutSlot::Moving) {
                self.fut = FutSlot::Pinned(Box::pin(f));
            }
        }
        match &mut self.fut {
            FutSlot::Pinned(f) => f.as_mut().poll(cx),
            _ => unreachable!("pinned above"),
        }
    }
}

impl<F, E> Work<F::Output> for AsyncWork<F, E>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    E: Executor + Clone + 'static,
{
    const RUN_INLINE: bool = false;
    type Shared = ExecSlot<E>;

    fn retire(shared: &ExecSlot<E>) {
        // A pool's handle stays (it does not keep the pool open); an owned
        // executor is released now.
        if shared.pool.is_none() {
            let exec = lock(&shared.owned).take();
            drop_quietly(exec);
        }
    }

    fn run<H: Hook<F::Output>>(cell: CellArc<TaskCell<Self, F::Output, H>>) {
        // SAFETY: `run` is called by the thread that won the claim.
        let Some(mut work) = (unsafe { cell.take_work() }) else {
            unreachable!("a claimed async task holds its future")
        };
        let poll = crate::current::run_as_current(&*cell, || {
            // Borrowed: the poll holds the runner's reference, so the waker it
            // sees costs no reference count; a future that keeps it clones it.
            let waker = borrowed_waker(&cell);
            let mut cx = Context::from_waker(&waker);
            catch_unwind(AssertUnwindSafe(|| work.poll(&mut cx)))
        });
        match poll {
            Ok(Poll::Ready(value)) => {
                drop_quietly(work);
                Self::retire(cell.shared());
                cell.finish(Ok(value));
            }
            Err(payload) => {
                drop_quietly(work);
                Self::retire(cell.shared());
                cell.finish(Err(payload));
            }
            Ok(Poll::Pending) => {
                // This run did not finish the task (`Stats::completed`).
                cell.report(executor_core::integration::RunOutcome::NotCompleted);
                if let Track::Not = work.track {
                    // About to go idle for the first time: from now on only a wake,
                    // a cancel or the executor's termination can end it.
                    work.track = track(&cell);
                }
                // SAFETY: this thread still holds the claim (RUNNING) until
                // `transition_to_idle` below.
                unsafe { cell.put_work(work) };
                match cell.state().transition_to_idle() {
                    AfterPoll::Wait => {}
                    AfterPoll::Requeue => requeue(&cell),
                    AfterPoll::Cancelled => {
                        // SAFETY: cancelled while running: the canceller left the
                        // work to the runner, and the cell is done (nobody claims it).
                        let work = unsafe { cell.take_work() };
                        drop_quietly(work);
                        Self::retire(cell.shared());
                    }
                }
            }
        }
    }
}

/// Queues the (NOTIFIED) cell again, as a job holding a reference of its own. A
/// refusal drops the job, which abandons the cell (→ Cancelled, future dropped).
fn requeue<F, E, H>(cell: &CellArc<TaskCell<AsyncWork<F, E>, F::Output, H>>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    E: Executor + Clone + 'static,
    H: Hook<F::Output>,
{
    let requeued = match &cell.shared().pool {
        // The hot path (module docs, "The wake path"): the pool's handle is
        // borrowed from the cell, so the job takes a reference of the cell of
        // its own (an increment of a line this thread just wrote with its
        // NOTIFIED transition) instead of a lock and a reference count of the
        // pool, which every wake on every worker would share.
        Some(pool) => pool.requeue_job(cell.clone().into_job()),
        None => {
            // No executor left: the task ended since it was notified; nothing
            // to run.
            let Some(exec) = lock(&cell.shared().owned).clone() else {
                return;
            };
            exec.requeue_job(cell.clone().into_job())
        }
    };
    if let Err(rejected) = requeued {
        tracing::debug!(reason = ?rejected.reason(), "async task could not be re-queued; cancelling it");
        drop(rejected);
    }
}

/// Puts a task about to go idle in its executor's set of live tasks: registers a
/// termination hook that cancels the task if it is still pending when the
/// executor terminates. The hook holds the cell weakly (one word, so the hook job
/// does not allocate), so the set never keeps a task alive; the returned
/// [`Track::In`] removes it when the future is dropped.
///
/// Called by the runner when a poll returns `Pending` for the first time, while it
/// still holds the claim: only an idle task can escape the pool's drains (a queued
/// one is drained, a running one keeps its worker alive), so tasks that complete
/// in their first poll cost nothing here. No lock is held while the executor is
/// called: a hook that runs at once (the executor had terminated: a job that
/// `shutdown_now` handed back runs on a user thread) cancels the running task,
/// which its runner then ends as it does after any cancel.
fn track<F, E, H>(cell: &CellArc<TaskCell<AsyncWork<F, E>, F::Output, H>>) -> Track<E>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    E: Executor + Clone + 'static,
    H: Hook<F::Output>,
{
    // Still there: only the end of the task (not before this runner's) empties it.
    let Some(exec) = cell.shared().exec() else {
        return Track::Never;
    };
    let task: CellWeak<_> = CellArc::downgrade(cell);
    let hook = Job::new(move || {
        if let Some(cell) = task.upgrade() {
            // Refused (false) if the task ended meanwhile.
            let _ = cell.cancel();
        }
    });
    match exec.on_termination_job(hook) {
        Some(key) => Track::In(exec, key),
        None => {
            drop_quietly(exec);
            Track::Never
        }
    }
}

/// The cell's waker: its data is the value of a `CellArc` of the cell (one
/// reference, except for the runner's borrowed one), its functions those of
/// [`WakerFns`].
struct WakerFns<X>(std::marker::PhantomData<X>);

impl<F, E, H> WakerFns<TaskCell<AsyncWork<F, E>, F::Output, H>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    E: Executor + Clone + 'static,
    H: Hook<F::Output>,
{
    const VTABLE: RawWakerVTable =
        RawWakerVTable::new(Self::clone, Self::wake, Self::wake_by_ref, Self::drop);

    /// # Safety (all four)
    ///
    /// `data` is the value of a live `CellArc` of the cell: a waker made by
    /// `borrowed_waker` or `clone` (the `RawWakerVTable` contract).
    unsafe fn clone(data: *const ()) -> RawWaker {
        let cell = data.cast::<TaskCell<AsyncWork<F, E>, F::Output, H>>();
        // SAFETY: see above: the cell is alive while its waker is.
        let new = unsafe { CellArc::clone_from_value(&*cell) };
        RawWaker::new(CellArc::into_value_raw(new).cast(), &Self::VTABLE)
    }

    unsafe fn wake(data: *const ()) {
        let cell = data.cast::<TaskCell<AsyncWork<F, E>, F::Output, H>>();
        // SAFETY: an owned waker stands for one reference (`clone`), which
        // `wake` consumes.
        let cell = unsafe { CellArc::from_value_raw(cell) };
        wake_cell(&cell);
    }

    unsafe fn wake_by_ref(data: *const ()) {
        let cell = data.cast::<TaskCell<AsyncWork<F, E>, F::Output, H>>();
        // SAFETY: the waker's reference keeps the cell alive during the call;
        // the `CellArc` made here is not dropped (the waker keeps owning it).
        let cell = ManuallyDrop::new(unsafe { CellArc::from_value_raw(cell) });
        wake_cell(&cell);
    }

    unsafe fn drop(data: *const ()) {
        let cell = data.cast::<TaskCell<AsyncWork<F, E>, F::Output, H>>();
        // SAFETY: an owned waker's reference, dropped once.
        drop(unsafe { CellArc::from_value_raw(cell) });
    }
}

/// A waker over the runner's own reference, not counted: `ManuallyDrop`
/// keeps its drop from releasing a reference it does not hold; a future that
/// keeps it clones it (a counted one).
fn borrowed_waker<F, E, H>(
    cell: &CellArc<TaskCell<AsyncWork<F, E>, F::Output, H>>,
) -> ManuallyDrop<Waker>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    E: Executor + Clone + 'static,
    H: Hook<F::Output>,
{
    let data = CellArc::as_ptr(cell).cast::<()>();
    let raw = RawWaker::new(
        data,
        &WakerFns::<TaskCell<AsyncWork<F, E>, F::Output, H>>::VTABLE,
    );
    // SAFETY: the functions above keep the `RawWakerVTable` contract for
    // `data`, the value of the cell's `CellArc`, which the runner holds
    // while the borrowed waker is used (its clones count their own).
    ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
}

/// A wake: `NOTIFIED`, and a re-queue if the task was idle.
fn wake_cell<F, E, H>(cell: &CellArc<TaskCell<AsyncWork<F, E>, F::Output, H>>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    E: Executor + Clone + 'static,
    H: Hook<F::Output>,
{
    if cell.state().transition_to_notified() == Notify::Submit {
        requeue(cell);
    }
}
