//! Continuations: work registered on a task cell and fired by the thread that
//! makes the task done, never by a thread that waits. [`TaskHandle::then`],
//! [`TaskHandle::and_then`], [`TaskHandle::on_complete`] and
//! [`TaskRef::on_complete`] live here, with the machinery the combinators
//! (`combinators.rs`) and task graphs (`graph.rs`) share.
//!
//! ## Registration and firing
//!
//! A continuation is a [`Dependent`] pushed on the upstream cell's list (in its
//! aux mutex, next to blocked threads and the waker), exactly like a waiter:
//!
//! ```text
//!  registrant (then / on_complete / all_of ...)      completer (runner, canceller, abandoner)
//!  ──────────────────────────────────────────       ──────────────────────────────────────────
//!  lock aux                                          CAS state → COMPLETE | CANCELLED (RMW)
//!  done? ── yes ─▶ unlock, fire it here ◀─┐          saw WAITING? ── no ─▶ nothing to fire
//!  push dependent                         │             │ yes
//!  set WAITING (RMW) ── saw DONE? ─ yes ──┘ (pop it     lock aux, take the whole list, unlock
//!  unlock                                   back first) fire every dependent, in order,
//!                                                        through the trampoline (below)
//! ```
//!
//! The two RMWs on the state word (terminal CAS, `set_waiting`) are totally
//! ordered: either the registrant sees the terminal bit (and fires the
//! dependent itself, after taking it back out of the list under the lock), or
//! the completer sees `WAITING` and takes the list, which holds the dependent
//! because it was pushed before `WAITING` was set. A dependent is in the list
//! or in the registrant's hands, never both: it fires **exactly once**
//! (`loom_registration_vs_completion_fires_once`). A task that can never become
//! done (an async task nothing can wake, freed) fires its list when its cell
//! is freed, with a cancelled stand-in (`task.rs`, "Freed before done").
//!
//! ## What firing does
//!
//! * An **`on_complete` callback** runs on the firing thread (a pool worker when
//!   the task completed, the cancelling thread when it was cancelled) with a
//!   [`TaskRef`] of the done task. A panic is caught and reported through
//!   `tracing`; the next callbacks still run.
//! * A **continuation cell** (`then`, `and_then`, `all_of`, `any_of`,
//!   `submit_after`, a graph's completion) is created *deferred*: without
//!   `NOTIFIED`, so nothing can claim it. Firing tells it an upstream is done;
//!   when it is ready it moves to `NOTIFIED` (`transition_to_notified`, which
//!   also makes a second readiness, or a cancelled cell, a no-op) and is
//!   queued: on the firing worker's own deque when the firing thread is a pool
//!   worker (no handle to the pool is kept), otherwise it runs at once on the
//!   firing thread. A queue that refuses it (the pool was shut down) resolves it
//!   as [`TaskError::Rejected`]: reported in its handle, never lost.
//! * Errors travel down as values: an upstream that panicked hands its payload
//!   to the downstream handle; one that was cancelled (or rejected, or whose
//!   result was already taken) resolves the downstream the same way without
//!   running its function. Cancelling a downstream handle never touches its
//!   upstream (keep the upstream's [`TaskRef`] to cancel it too).
//!
//! ## No recursion
//!
//! Firing can complete another task, whose own firing completes another, and
//! so on (a chain of a million `then`s cancelled at its head, or completed
//! inline off the pool). The **trampoline** keeps the stack flat: the first
//! firing on a thread drains a thread-local queue in a loop; a firing nested in
//! it is queued, not run (`chain_of_a_million_then_links_does_not_grow_the_stack`).

// The stage accessors of `TaskCell` are `unsafe` (see `task.rs`); each use here
// is by the thread that holds the claim, as in `async_task.rs`.
#![allow(unsafe_code)]

use crate::error::TaskError;
use crate::handle::{TaskHandle, TaskRef};
use crate::state::{AfterPoll, Notify};
use crate::sync::{lock, Mutex};
use crate::task::{drop_quietly, Hook, NoHook, TaskCell, TaskCore, Work};
use executor_core::integration::{payload_message, Executor, Job, Runnable};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// What a task cell fires when it is done (module docs).
pub(crate) enum Dependent {
    /// An `on_complete` callback; gets the done task.
    Callback(Box<dyn FnOnce(TaskRef) + Send>),
    /// A continuation cell waiting for this task as its upstream number `slot`.
    Task(Arc<dyn Continuation>, usize),
}

/// The dependents registered on one cell, in registration order: the first two
/// inline (a wavefront cell has two successors), the rest in a `Vec`. They
/// live in the cell's boxed waiter list, so a cell nobody depends on pays
/// nothing for them.
#[derive(Default)]
pub(crate) struct Dependents {
    inline: [Option<Dependent>; 2],
    more: Vec<Dependent>,
}

impl Dependents {
    pub(crate) fn push(&mut self, dependent: Dependent) {
        match self.inline.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some(dependent),
            None => self.more.push(dependent),
        }
    }

    /// Takes back the dependent pushed last.
    pub(crate) fn pop(&mut self) -> Option<Dependent> {
        self.more
            .pop()
            .or_else(|| self.inline[1].take())
            .or_else(|| self.inline[0].take())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.inline[0].is_none()
    }

    fn one(dependent: Dependent) -> Self {
        Dependents {
            inline: [Some(dependent), None],
            more: Vec::new(),
        }
    }
}

impl IntoIterator for Dependents {
    type Item = Dependent;
    type IntoIter = std::iter::Chain<
        std::iter::Flatten<std::array::IntoIter<Option<Dependent>, 2>>,
        std::vec::IntoIter<Dependent>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.inline.into_iter().flatten().chain(self.more)
    }
}

/// A continuation cell, told that one of its upstreams is done.
pub(crate) trait Continuation: Send + Sync + 'static {
    /// Upstream number `slot` is done; `state` is its terminal state word.
    fn upstream_done(self: Arc<Self>, slot: usize, state: usize);
}

/// Registers `dependent` on `upstream`, or fires it at once if `upstream` is done.
pub(crate) fn register<C: TaskCore + ?Sized>(
    upstream: &C,
    dependent: Dependent,
    core: impl FnOnce() -> Arc<dyn TaskCore>,
) {
    if let Err(dependent) = upstream.add_dependent(dependent) {
        fire_all(core(), Dependents::one(dependent));
    }
}

/// Registers continuation `cont` as waiting for `upstream` as its number `slot`.
pub(crate) fn register_task<C: TaskCore + ?Sized>(
    upstream: &C,
    cont: Arc<dyn Continuation>,
    slot: usize,
) {
    if let Err(dependent) = upstream.add_dependent(Dependent::Task(cont, slot)) {
        let state = upstream.state_word().load();
        if let Dependent::Task(cont, slot) = dependent {
            trampoline(move || cont.upstream_done(slot, state));
        }
    }
}

/// Fires the dependents of `upstream`, which is done, in registration order.
pub(crate) fn fire_all(upstream: Arc<dyn TaskCore>, dependents: Dependents) {
    trampoline(move || {
        let state = upstream.state_word().load();
        for dependent in dependents {
            match dependent {
                Dependent::Callback(callback) => {
                    let task = TaskRef::from_core(upstream.clone());
                    run_callback(move || callback(task));
                }
                Dependent::Task(cont, slot) => cont.upstream_done(slot, state),
            }
        }
    });
}

/// Runs an `on_complete` callback, containing and reporting its panic.
fn run_callback(callback: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(callback)) {
        tracing::error!(
            panic_message = payload_message(&*payload).unwrap_or("<non-string payload>"),
            "an on_complete callback panicked; the panic was caught and the other callbacks still run"
        );
        drop_quietly(payload);
    }
}

/// A firing queued by the trampoline.
type Queued = Box<dyn FnOnce()>;

#[cfg(not(loom))]
std::thread_local! {
    /// The trampoline's queue: `Some` while a firing runs on this thread.
    static FIRING: RefCell<Option<VecDeque<Queued>>> = const { RefCell::new(None) };
}

// Under loom, per model thread (loom's threads share one OS thread).
#[cfg(loom)]
loom::thread_local! {
    static FIRING: RefCell<Option<VecDeque<Queued>>> = RefCell::new(None);
}

/// Runs `f` now, unless a firing already runs on this thread: then `f` is queued
/// and that firing runs it when `f`'s caller has returned (module docs, "No
/// recursion").
pub(crate) fn trampoline(f: impl FnOnce() + 'static) {
    let mut f = Some(f);
    let outermost = FIRING.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        match slot.as_mut() {
            Some(queue) => {
                queue.push_back(Box::new(f.take().expect("not taken yet")));
                false
            }
            None => {
                *slot = Some(VecDeque::new());
                true
            }
        }
    });
    match outermost {
        Ok(false) => {}
        Ok(true) => {
            let drain = Drain;
            (f.take().expect("not queued"))();
            drain.run();
        }
        // The thread is being torn down: no queue any more, run it here.
        Err(_) => (f.take().expect("not taken"))(),
    }
}

/// Drains the trampoline's queue; also on unwind, so a queued firing is never lost.
struct Drain;

impl Drain {
    fn next() -> Option<Queued> {
        FIRING
            .try_with(|slot| slot.borrow_mut().as_mut().and_then(VecDeque::pop_front))
            .ok()
            .flatten()
    }

    fn run(self) {
        while let Some(f) = Self::next() {
            f();
        }
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        while let Some(f) = Self::next() {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
                drop_quietly(payload);
            }
        }
        let _ = FIRING.try_with(|slot| *slot.borrow_mut() = None);
    }
}

/// The shared part of every continuation cell: why it ended without running
/// (reported by its handle instead of a plain `Cancelled`), and the cell's own
/// bookkeeping `extra`.
pub(crate) struct ContShared<X> {
    error: Mutex<Option<TaskError>>,
    pub(crate) extra: X,
}

impl<X> ContShared<X> {
    pub(crate) fn new(extra: X) -> Self {
        ContShared {
            error: Mutex::new(None),
            extra,
        }
    }

    /// For [`Work::cancelled_error`].
    pub(crate) fn cancelled_error(&self) -> TaskError {
        lock(&self.error).take().unwrap_or(TaskError::Cancelled)
    }
}

/// A continuation cell's work: its shared part is a [`ContShared`].
pub(crate) trait ContWork<T>: Work<T, Shared = ContShared<Self::Extra>> {
    type Extra: Send + Sync + 'static;
}

impl<W, T, X> ContWork<T> for W
where
    W: Work<T, Shared = ContShared<X>>,
    X: Send + Sync + 'static,
{
    type Extra = X;
}

/// The continuation cell is ready: queue it (module docs, "What firing does").
/// A no-op if it was made ready before, or is done (cancelled).
pub(crate) fn schedule<W, T, H>(cell: Arc<TaskCell<W, T, H>>)
where
    W: ContWork<T>,
    T: Send + 'static,
    H: Hook<T>,
{
    if cell.state().transition_to_notified() != Notify::Submit {
        return;
    }
    queue_ready(cell);
}

/// [`schedule`] on a given executor (a `submit_after` ready at once).
pub(crate) fn schedule_on<W, T, H, E>(cell: Arc<TaskCell<W, T, H>>, exec: &E)
where
    W: ContWork<T>,
    T: Send + 'static,
    H: Hook<T>,
    E: Executor + ?Sized,
{
    if cell.state().transition_to_notified() != Notify::Submit {
        return;
    }
    if let Err(rejected) = exec.execute_job(Job::from_runnable(cell.clone())) {
        set_error(&cell, TaskError::Rejected(rejected.reason()));
        // Dropping the job abandons the (NOTIFIED) cell: → Cancelled, reported
        // as the error just recorded.
        drop(rejected);
    }
}

fn set_error<W: ContWork<T>, T: Send + 'static, H: Hook<T>>(
    cell: &TaskCell<W, T, H>,
    error: TaskError,
) {
    *lock(&cell.shared().error) = Some(error);
}

/// Queues a `NOTIFIED` continuation cell: on this worker's deque, or runs it
/// here (trampolined) off the pool.
fn queue_ready<W, T, H>(cell: Arc<TaskCell<W, T, H>>)
where
    W: ContWork<T>,
    T: Send + 'static,
    H: Hook<T>,
{
    if executor_core::current_thread_index().is_none() {
        trampoline(move || Runnable::run(cell));
        return;
    }
    let keep = cell.clone();
    // One word (an `Option<Arc<_>>`): queued without an allocation.
    let guard = AbandonUnrun(Some(cell));
    if let Err(rejected) = executor_core::execute(move || guard.run()) {
        set_error(&keep, TaskError::Rejected(rejected.reason()));
        // The guard in the closure abandons the cell: → Cancelled, reported as
        // the error just recorded.
        drop(rejected);
    }
}

/// A queued continuation cell that is abandoned (→ its handle resolves) if its
/// job is dropped unrun (`shutdown_now`'s list, a refusal).
struct AbandonUnrun<W: ContWork<T>, T: Send + 'static, H: Hook<T>>(Option<Arc<TaskCell<W, T, H>>>);

impl<W: ContWork<T>, T: Send + 'static, H: Hook<T>> AbandonUnrun<W, T, H> {
    fn run(mut self) {
        if let Some(cell) = self.0.take() {
            Runnable::run(cell);
        }
    }
}

impl<W: ContWork<T>, T: Send + 'static, H: Hook<T>> Drop for AbandonUnrun<W, T, H> {
    fn drop(&mut self) {
        if let Some(cell) = self.0.take() {
            Runnable::abandon(cell);
        }
    }
}

/// Ends a claimed continuation cell: runs `outcome`'s body as the task, or
/// resolves the cell with the upstream's error without running anything.
pub(crate) fn complete<W, T, H, B>(cell: Arc<TaskCell<W, T, H>>, outcome: Result<B, TaskError>)
where
    W: ContWork<T>,
    T: Send + 'static,
    H: Hook<T>,
    B: FnOnce() -> T,
{
    match outcome {
        Ok(body) => {
            let (cell, result) = cell.run_as_current(move || catch_unwind(AssertUnwindSafe(body)));
            cell.finish(result);
        }
        Err(TaskError::Panicked(payload)) => cell.finish(Err(payload.into_inner())),
        Err(error) => {
            let record = !error.is_cancelled();
            if record {
                *lock(&cell.shared().error) = Some(error);
            }
            if !TaskCore::cancel(cell.clone()) && record {
                // Cancelled by its handle meanwhile: that is what it reports.
                lock(&cell.shared().error).take();
            }
            // Cancelled while "running": the runner drops the (empty) output.
            cell.finish(Err(Box::new(())));
        }
    }
}

/// The work of [`TaskHandle::then`].
pub(crate) struct Then<T, F> {
    upstream: TaskHandle<T>,
    f: F,
}

impl<T, U, F> Work<U> for Then<T, F>
where
    T: Send + 'static,
    U: Send + 'static,
    F: FnOnce(T) -> U + Send + 'static,
{
    const RUN_INLINE: bool = true;
    type Shared = ContShared<()>;

    fn run<H: Hook<U>>(cell: Arc<TaskCell<Self, U, H>>) {
        // SAFETY: `run` is called by the thread that won the claim.
        let Some(Then { mut upstream, f }) = (unsafe { cell.take_work() }) else {
            unreachable!("a claimed continuation holds its work")
        };
        let outcome = upstream.take_done();
        drop(upstream);
        complete(cell, outcome.map(|value| move || f(value)));
    }

    fn cancelled_error(shared: &Self::Shared) -> TaskError {
        shared.cancelled_error()
    }
}

impl<T, U, F, H> Continuation for TaskCell<Then<T, F>, U, H>
where
    H: Hook<U>,
    T: Send + 'static,
    U: Send + 'static,
    F: FnOnce(T) -> U + Send + 'static,
{
    fn upstream_done(self: Arc<Self>, _slot: usize, _state: usize) {
        schedule(self);
    }
}

/// The work of [`TaskHandle::and_then`]: first the function, then the handle it
/// returned.
pub(crate) enum AndThen<T, U, F> {
    First { upstream: TaskHandle<T>, f: F },
    Second { inner: TaskHandle<U> },
}

impl<T, U, F> Work<U> for AndThen<T, U, F>
where
    T: Send + 'static,
    U: Send + 'static,
    F: FnOnce(T) -> TaskHandle<U> + Send + 'static,
{
    const RUN_INLINE: bool = true;
    type Shared = ContShared<()>;

    fn run<H: Hook<U>>(cell: Arc<TaskCell<Self, U, H>>) {
        // SAFETY: `run` is called by the thread that won the claim.
        let Some(work) = (unsafe { cell.take_work() }) else {
            unreachable!("a claimed continuation holds its work")
        };
        match work {
            AndThen::Second { mut inner } => {
                let outcome = inner.take_done();
                drop(inner);
                complete(cell, outcome.map(|value| move || value));
            }
            AndThen::First { mut upstream, f } => {
                let value = match upstream.take_done() {
                    Ok(value) => value,
                    Err(error) => {
                        drop(upstream);
                        return complete(cell, Err::<fn() -> U, _>(error));
                    }
                };
                drop(upstream);
                let (cell, inner) =
                    cell.run_as_current(move || catch_unwind(AssertUnwindSafe(move || f(value))));
                let inner = match inner {
                    Ok(inner) => inner,
                    Err(payload) => return cell.finish(Err(payload)),
                };
                let inner_core = inner.raw().clone();
                // SAFETY: this thread holds the claim (RUNNING) until
                // `transition_to_idle` below.
                unsafe { cell.put_work(AndThen::Second { inner }) };
                match cell.state().transition_to_idle() {
                    // Idle, waiting for the inner task: it makes this cell ready.
                    AfterPoll::Wait => Self::wait_for(cell, &*inner_core),
                    AfterPoll::Requeue => unreachable!("only the inner task readies it now"),
                    AfterPoll::Cancelled => {
                        // SAFETY: cancelled while running: the canceller left the
                        // work to the runner, and the cell is done.
                        let work = unsafe { cell.take_work() };
                        drop_quietly(work);
                    }
                }
            }
        }
    }

    fn cancelled_error(shared: &Self::Shared) -> TaskError {
        shared.cancelled_error()
    }
}

impl<T, U, F> AndThen<T, U, F>
where
    T: Send + 'static,
    U: Send + 'static,
    F: FnOnce(T) -> TaskHandle<U> + Send + 'static,
{
    fn wait_for<H: Hook<U>>(cell: Arc<TaskCell<Self, U, H>>, inner: &dyn crate::task::RawTask<U>) {
        register_task(inner, cell, 1);
    }
}

impl<T, U, F, H> Continuation for TaskCell<AndThen<T, U, F>, U, H>
where
    H: Hook<U>,
    T: Send + 'static,
    U: Send + 'static,
    F: FnOnce(T) -> TaskHandle<U> + Send + 'static,
{
    fn upstream_done(self: Arc<Self>, _slot: usize, _state: usize) {
        schedule(self);
    }
}

impl<T: Send + 'static> TaskHandle<T> {
    /// A continuation: when this task completes, `f` maps its value, as a new
    /// task with its own handle (Java's `thenApply`). Nothing blocks meanwhile:
    /// `f` is registered on this task and queued by the thread that completes
    /// it, on that worker's own deque (run at once on the calling thread if this
    /// task is done already and the caller is not a pool worker).
    ///
    /// Errors travel down as values: if this task panicked, the new handle
    /// reports the same panic (payload kept); if it was cancelled, the new task
    /// is cancelled; `f` runs in neither case. Cancelling the new handle does not
    /// cancel this task (keep a [`task_ref`](TaskHandle::task_ref) for that).
    /// If the pool refuses the continuation (it was shut down), the new handle
    /// reports [`TaskError::Rejected`]; if this handle's result was already
    /// taken, [`TaskError::AlreadyTaken`].
    ///
    /// A chain of continuations does not grow the stack, however long.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let parsed = pool.submit(|| "41".to_string()).unwrap();
    /// let next = parsed.then(|s| s.parse::<u32>().unwrap()).then(|n| n + 1);
    /// assert_eq!(next.get().unwrap(), 42);
    ///
    /// let failed = pool.submit(|| -> u32 { panic!("upstream") }).unwrap();
    /// let err = failed.then(|n| n + 1).get().unwrap_err();
    /// assert_eq!(err.message(), Some("upstream"));
    /// ```
    pub fn then<U, F>(self, f: F) -> TaskHandle<U>
    where
        U: Send + 'static,
        F: FnOnce(T) -> U + Send + 'static,
    {
        let upstream = self.raw().clone();
        let cell = TaskCell::new_deferred(Then { upstream: self, f }, ContShared::new(()), NoHook);
        register_task(&*upstream, cell.clone(), 0);
        TaskHandle::from_raw(cell)
    }

    /// A continuation that returns another task's handle, flattened (Java's
    /// `thenCompose`): when this task completes, `f` gets its value and returns a
    /// handle; the returned handle resolves with *that* task's outcome. Neither
    /// step blocks a thread. To continue with a future, return
    /// `pool.spawn(future).unwrap()` from `f`.
    ///
    /// Errors propagate as in [`then`](TaskHandle::then), from either task.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let inner_pool = pool.clone();
    /// let user = pool.submit(|| 7u32).unwrap();
    /// let orders = user.and_then(move |id| inner_pool.submit(move || vec![id; 3]).unwrap());
    /// assert_eq!(orders.get().unwrap(), [7, 7, 7]);
    /// ```
    pub fn and_then<U, F>(self, f: F) -> TaskHandle<U>
    where
        U: Send + 'static,
        F: FnOnce(T) -> TaskHandle<U> + Send + 'static,
    {
        let upstream = self.raw().clone();
        let cell = TaskCell::new_deferred(
            AndThen::First { upstream: self, f },
            ContShared::new(()),
            NoHook,
        );
        register_task(&*upstream, cell.clone(), 0);
        TaskHandle::from_raw(cell)
    }
}

impl<T> TaskHandle<T> {
    /// Registers `callback` to run once this task is done, whatever the ending
    /// (value, panic, cancel), with a [`TaskRef`] of it: Python's
    /// `add_done_callback`. Several callbacks may be registered; each runs
    /// exactly once, in registration order, on the thread that ended the task (a
    /// pool worker, or the thread that cancelled it), or at once on the calling
    /// thread if the task is done already. A panicking callback is caught and
    /// reported through `tracing`; the others still run. The callback does not
    /// take the result: the handle keeps it.
    ///
    /// A callback must not block waiting for another continuation of the same
    /// task: off the pool, the continuations fired with it run after it on the
    /// same thread (they are queued, so that chains do not recurse).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    /// use executor_futures::{ExecutorService, TaskState};
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let (tx, rx) = channel();
    /// let handle = pool.submit(|| 5).unwrap();
    /// for name in ["log", "metrics"] {
    ///     let tx = tx.clone();
    ///     handle.on_complete(move |task| tx.send((name, task.state())).unwrap());
    /// }
    /// let mut seen: Vec<_> = rx.iter().take(2).collect();
    /// seen.sort_by_key(|(name, _)| *name);
    /// assert_eq!(seen, [("log", TaskState::Completed), ("metrics", TaskState::Completed)]);
    /// assert_eq!(handle.get().unwrap(), 5); // the result is still there
    /// ```
    pub fn on_complete<F>(&self, callback: F)
    where
        F: FnOnce(TaskRef) + Send + 'static,
    {
        let raw = self.raw();
        register(&**raw, Dependent::Callback(Box::new(callback)), || {
            self.task_ref().core().clone()
        });
    }
}

impl TaskRef {
    /// [`TaskHandle::on_complete`] through a task reference.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let task = pool.submit(|| ()).unwrap().task_ref();
    /// let (tx, rx) = channel();
    /// task.on_complete(move |t| tx.send(t.is_done()).unwrap());
    /// assert!(rx.recv().unwrap());
    /// ```
    pub fn on_complete<F>(&self, callback: F)
    where
        F: FnOnce(TaskRef) + Send + 'static,
    {
        register(
            &**self.core(),
            Dependent::Callback(Box::new(callback)),
            || self.core().clone(),
        );
    }
}

/// Model checks of the registration/firing protocol (module docs): a
/// continuation registered while the task completes, or is cancelled, fires
/// exactly once. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p executor-futures --lib --release loom`.
#[cfg(all(test, loom))]
mod loom_model {
    use super::*;
    use crate::task::Call;
    use loom::thread;
    use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};

    #[test]
    fn loom_registration_vs_completion_fires_once() {
        loom::model(|| {
            let cell = TaskCell::new(Call(|| 7u32), (), NoHook);
            let job: Arc<dyn Runnable> = cell.clone();
            let canceller = cell.clone();
            let runner = thread::spawn(move || job.run());
            let cancel = thread::spawn(move || canceller.cancel());
            let fired = Arc::new(AtomicUsize::new(0));
            let f = fired.clone();
            let core: Arc<dyn TaskCore> = cell.clone();
            register(
                &*cell,
                Dependent::Callback(Box::new(move |task| {
                    assert!(task.is_done(), "fired before the task was done");
                    f.fetch_add(1, StdOrdering::SeqCst);
                })),
                move || core,
            );
            runner.join().unwrap();
            cancel.join().unwrap();
            assert_eq!(fired.load(StdOrdering::SeqCst), 1, "fired exactly once");
        });
    }

    #[test]
    fn loom_then_registered_during_completion_resolves_once() {
        loom::model(|| {
            let cell = TaskCell::new(Call(|| 7u32), (), NoHook);
            let job: Arc<dyn Runnable> = cell.clone();
            let runner = thread::spawn(move || job.run());
            let upstream = TaskHandle::from_raw(cell as Arc<dyn crate::task::RawTask<u32>>);
            let runs = Arc::new(AtomicUsize::new(0));
            let r = runs.clone();
            let down = upstream.then(move |x| {
                r.fetch_add(1, StdOrdering::SeqCst);
                x + 1
            });
            runner.join().unwrap();
            // Off the pool, the continuation ran inline on whichever thread fired it.
            assert!(down.is_done());
            assert_eq!(down.get().unwrap(), 8);
            assert_eq!(runs.load(StdOrdering::SeqCst), 1);
        });
    }
}
