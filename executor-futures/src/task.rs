//! The task cell: one `Arc` allocation per task holding the state word, the work
//! (closure or future), the output slot, the completion hook and the waiters. The
//! cell *is* the job the pool queues ([`Runnable`]), and handles point at it.
//!
//! ## Who touches what
//!
//! The slot mutex only stands in for an `UnsafeCell` (this crate has no `unsafe`):
//! the state word decides who may touch which slot, so the lock is never held
//! across user code and practically never contended.
//!
//! * **work**: taken by the thread that won `transition_to_running` (and put back
//!   by an async runner between polls), or by the thread that cancelled or
//!   abandoned an idle cell, which drops it at once.
//! * **output**: written by the runner before its terminal CAS, when someone is
//!   interested and the task is not cancelled; read by the handle after it saw
//!   `COMPLETE`; dropped by whichever of runner and handle-drop comes second
//!   (decided by the CAS on the state word: the runner sees `JOIN_INTEREST` gone, or
//!   the handle sees `COMPLETE`). Output of a task cancelled while running is
//!   dropped by the runner.
//! * **waiters / waker**: pushed under the lock, then `WAITING` set with an RMW;
//!   the thread that made the task terminal takes them all and wakes them after
//!   the lock is released (see invariant 4 in `state.rs`).
//! * **hook**: taken and called once by the thread that made the task terminal
//!   (completion, cancel, or abandon), after the waiters are woken.
//!
//! ## Completion, step by step (the runner)
//!
//! 1. Run the body under `catch_unwind`, with the task as the thread's current task.
//! 2. If the task is still wanted (not cancelled, `JOIN_INTEREST` set), store the
//!    output; otherwise keep it aside.
//! 3. CAS RUNNING → COMPLETE (or → CANCELLED if cancel won meanwhile).
//! 4. If cancelled meanwhile, or the handle went away meanwhile, take the output
//!    back and drop it (a panic in its `Drop` is caught).
//! 5. Unless cancelled meanwhile (the canceller did this part), wake the waiters
//!    that the CAS saw (`WAITING`) and call the hook.

use crate::current;
use crate::handle::{TaskHandle, TaskId};
use crate::state::{
    Cancel, Claim, Finish, StateWord, COMPLETE, DONE, INITIAL, JOIN_INTEREST, WAITING,
};
use crate::sync::{lock, Mutex};
use crate::Callable;
use executor_core::{payload_message, Runnable, Waiter};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::Waker;

/// The outcome a runner produces: a value or a panic payload.
pub(crate) type Output<T> = std::thread::Result<T>;

/// What a cell runs: a callable (once) or a future (polled until ready).
pub(crate) trait Work<T>: Send + Sized + 'static {
    /// Whether a waiter may claim a pending cell and run it on its own thread.
    const RUN_INLINE: bool;

    /// Runs the cell; called by the thread that won `transition_to_running`.
    fn run<H: Hook<T>>(cell: Arc<TaskCell<Self, T, H>>);
}

/// The completion hook of a cell; `NoHook` when a handle was returned instead.
pub(crate) trait Hook<T>: Send + 'static {
    /// False for `NoHook`: the cell then never builds a handle for it.
    const PRESENT: bool;
    /// Called once, on the completing thread, with the (done) handle.
    fn complete(self, handle: TaskHandle<T>);
}

/// No hook: the submitter holds the handle.
#[derive(Debug)]
pub(crate) struct NoHook;

impl<T> Hook<T> for NoHook {
    const PRESENT: bool = false;
    fn complete(self, _handle: TaskHandle<T>) {}
}

/// A user's `on_complete` callback.
pub(crate) struct OnComplete<F>(pub(crate) F);

impl<T, F: FnOnce(TaskHandle<T>) + Send + 'static> Hook<T> for OnComplete<F> {
    const PRESENT: bool = true;
    fn complete(self, handle: TaskHandle<T>) {
        (self.0)(handle)
    }
}

/// The non-generic face of a cell: what handles, task refs, waits and the
/// current-task stack need.
pub(crate) trait TaskCore: Send + Sync {
    fn state_word(&self) -> &StateWord;
    fn id(&self) -> TaskId;
    /// `cancel()`: true iff this call moved the task to cancelled.
    fn cancel(self: Arc<Self>) -> bool;
    /// Claims a pending task and runs it on this thread; false if it could not.
    fn run_inline(self: Arc<Self>) -> bool;
    /// Registers a waiter; `None` if the task is already done (nothing registered).
    fn add_waiter(&self, waiter: Waiter) -> Option<u64>;
    /// Removes a waiter registered with `add_waiter` (after a timeout).
    fn remove_waiter(&self, key: u64);
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

/// The typed face of a cell, for [`TaskHandle<T>`].
pub(crate) trait RawTask<T>: TaskCore {
    /// Takes the output of a `COMPLETE` task.
    fn take_output(&self) -> Option<Output<T>>;
    /// Stores `waker` as the one to wake on completion; false if already done.
    fn register_waker(&self, waker: &Waker) -> bool;
    /// The handle is gone: clear `JOIN_INTEREST`, drop a stored output and waker.
    fn drop_interest(&self);
    fn into_core(self: Arc<Self>) -> Arc<dyn TaskCore>;
}

/// The work and the output never coexist (the work is consumed or dropped before
/// the output exists), so they share one slot.
enum Stage<W, T> {
    Work(W),
    Output(Output<T>),
    Empty,
}

/// Blocked threads and the latest waker; boxed on first use, so a task nobody
/// waits for does not carry it.
#[derive(Default)]
struct Waiters {
    threads: Vec<(u64, Waiter)>,
    next_key: u64,
    waker: Option<Waker>,
}

struct Slots<W, T, H> {
    stage: Stage<W, T>,
    hook: Option<H>,
    waiters: Option<Box<Waiters>>,
}

impl<W, T, H> Slots<W, T, H> {
    fn take_work(&mut self) -> Option<W> {
        match std::mem::replace(&mut self.stage, Stage::Empty) {
            Stage::Work(w) => Some(w),
            other => {
                self.stage = other;
                None
            }
        }
    }

    fn take_output(&mut self) -> Option<Output<T>> {
        match std::mem::replace(&mut self.stage, Stage::Empty) {
            Stage::Output(o) => Some(o),
            other => {
                self.stage = other;
                None
            }
        }
    }

    fn waiters(&mut self) -> &mut Waiters {
        self.waiters.get_or_insert_with(Box::default)
    }
}

/// One task: see the module docs.
pub(crate) struct TaskCell<W, T, H> {
    state: StateWord,
    id: TaskId,
    slots: Mutex<Slots<W, T, H>>,
}

/// Runs `f`, catching (and reporting through `tracing`) a panic: for drops of user
/// values, wakers and hooks, which must never unwind through the protocol.
pub(crate) fn quietly(f: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        tracing::error!(
            message = payload_message(&*payload).unwrap_or("<non-string payload>"),
            "a task's drop, waker or completion hook panicked; the panic was caught"
        );
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    }
}

pub(crate) fn drop_quietly<X>(x: X) {
    quietly(move || drop(x));
}

impl<W: Work<T>, T: Send + 'static, H: Hook<T>> TaskCell<W, T, H> {
    pub(crate) fn new(work: W, hook: H) -> Arc<Self> {
        Arc::new(TaskCell {
            state: StateWord::new(INITIAL),
            id: TaskId::next(),
            slots: Mutex::new(Slots {
                stage: Stage::Work(work),
                hook: Some(hook),
                waiters: None,
            }),
        })
    }

    pub(crate) fn state(&self) -> &StateWord {
        &self.state
    }

    /// Takes the work out (the caller owns the claim).
    pub(crate) fn take_work(&self) -> Option<W> {
        lock(&self.slots).take_work()
    }

    /// Puts the work back (an async runner between polls).
    pub(crate) fn put_work(&self, work: W) {
        lock(&self.slots).stage = Stage::Work(work);
    }

    /// Applies `f` to the work in its slot, if it is there.
    pub(crate) fn with_work<R>(&self, f: impl FnOnce(&W) -> R) -> Option<R> {
        match &lock(&self.slots).stage {
            Stage::Work(w) => Some(f(w)),
            _ => None,
        }
    }

    /// After the executor refused the cell's job: takes the work back so it can be
    /// handed to the caller. The hook is dropped unrun (the task never existed).
    ///
    /// # Panics
    ///
    /// If the executor ran the job although it reported a rejection.
    pub(crate) fn reclaim(&self) -> W {
        let cancel = self.state.transition_to_cancelled();
        debug_assert!(matches!(cancel, Cancel::WasIdle { .. }), "{cancel:?}");
        let (work, hook) = {
            let mut slots = lock(&self.slots);
            (slots.take_work(), slots.hook.take())
        };
        drop_quietly(hook);
        work.expect("an executor returned a job as rejected after running it")
    }

    /// Steps 2–5 of the completion (module docs). An output nobody will read is
    /// dropped *before* the waiters are woken, so a woken waiter observes it gone.
    pub(crate) fn finish(self: Arc<Self>, result: Output<T>) {
        let panicked = result.is_err();
        let seen = self.state.load();
        let keep = seen & JOIN_INTEREST != 0 && seen & DONE == 0;
        if keep {
            lock(&self.slots).stage = Stage::Output(result);
        } else {
            drop_quietly(result);
        }
        match self.state.transition_to_complete(panicked) {
            Finish::Discard => {
                if keep {
                    let output = lock(&self.slots).take_output();
                    drop_quietly(output);
                }
            }
            Finish::Completed { prev } => {
                if keep && prev & JOIN_INTEREST == 0 {
                    let output = lock(&self.slots).take_output();
                    drop_quietly(output);
                }
                self.notify_done(prev);
            }
        }
    }

    /// Called by the thread that made the task terminal: wakes every waiter and
    /// the waker (if the terminal CAS saw `WAITING`), then calls the hook.
    fn notify_done(self: &Arc<Self>, prev: usize) {
        if prev & WAITING != 0 {
            let waiters = lock(&self.slots).waiters.take();
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
            let hook = lock(&self.slots).hook.take();
            if let Some(hook) = hook {
                let handle = TaskHandle::from_raw(self.clone() as Arc<dyn RawTask<T>>);
                quietly(move || hook.complete(handle));
            }
        }
    }

    /// Finishes a cancel or abandon transition.
    pub(crate) fn after_cancel(self: Arc<Self>, outcome: Cancel) -> bool {
        match outcome {
            Cancel::Refused => false,
            Cancel::WasRunning { prev } => {
                self.notify_done(prev);
                true
            }
            Cancel::WasIdle { prev } => {
                let work = self.take_work();
                drop_quietly(work);
                self.notify_done(prev);
                true
            }
        }
    }

    /// Runs the body of a claimed cell as the current task; gives the cell back.
    pub(crate) fn run_as_current<R>(self: Arc<Self>, f: impl FnOnce() -> R) -> (Arc<Self>, R) {
        let (core, r) = current::run_as_current(self, f);
        let cell = core
            .into_any()
            .downcast::<Self>()
            .unwrap_or_else(|_| unreachable!("the task stack gives back what was pushed"));
        (cell, r)
    }
}

impl<W: Work<T>, T: Send + 'static, H: Hook<T>> Runnable for TaskCell<W, T, H> {
    #[inline]
    fn run(self: Arc<Self>) {
        if self.state.transition_to_running() == Claim::Claimed {
            W::run(self);
        }
    }

    fn abandon(self: Arc<Self>) {
        let outcome = self.state.transition_to_abandoned();
        self.after_cancel(outcome);
    }
}

impl<W: Work<T>, T: Send + 'static, H: Hook<T>> TaskCore for TaskCell<W, T, H> {
    fn state_word(&self) -> &StateWord {
        &self.state
    }

    fn id(&self) -> TaskId {
        self.id
    }

    fn cancel(self: Arc<Self>) -> bool {
        let outcome = self.state.transition_to_cancelled();
        self.after_cancel(outcome)
    }

    fn run_inline(self: Arc<Self>) -> bool {
        if W::RUN_INLINE && self.state.transition_to_running() == Claim::Claimed {
            W::run(self);
            true
        } else {
            false
        }
    }

    fn add_waiter(&self, waiter: Waiter) -> Option<u64> {
        let mut slots = lock(&self.slots);
        if self.state.is_done() {
            drop(slots);
            drop(waiter);
            return None;
        }
        let waiters = slots.waiters();
        let key = waiters.next_key;
        waiters.next_key += 1;
        waiters.threads.push((key, waiter));
        if self.state.set_waiting() & DONE != 0 {
            // Completed between the check and the RMW: the completer will not see
            // this entry's WAITING; do not wait, and do not leave the entry behind.
            let mine = slots.waiters().threads.pop();
            drop(slots);
            drop(mine);
            return None;
        }
        Some(key)
    }

    fn remove_waiter(&self, key: u64) {
        let removed = {
            let mut slots = lock(&self.slots);
            slots.waiters.as_mut().and_then(|w| {
                let at = w.threads.iter().position(|(k, _)| *k == key);
                at.map(|i| w.threads.swap_remove(i))
            })
        };
        drop(removed);
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

impl<W: Work<T>, T: Send + 'static, H: Hook<T>> RawTask<T> for TaskCell<W, T, H> {
    fn take_output(&self) -> Option<Output<T>> {
        lock(&self.slots).take_output()
    }

    fn register_waker(&self, waker: &Waker) -> bool {
        // Clone outside the lock: a waker's clone is user code.
        let new = waker.clone();
        let mut slots = lock(&self.slots);
        if self.state.is_done() {
            drop(slots);
            drop(new);
            return false;
        }
        let waiters = slots.waiters();
        let replaced = match &waiters.waker {
            Some(old) if old.will_wake(&new) => Some(new),
            _ => waiters.waker.replace(new),
        };
        if self.state.set_waiting() & DONE != 0 {
            let mine = slots.waiters().waker.take();
            drop(slots);
            drop(mine);
            drop(replaced);
            return false;
        }
        drop(slots);
        drop(replaced);
        true
    }

    fn drop_interest(&self) {
        let prev = self.state.drop_join_interest();
        if prev & COMPLETE != 0 {
            let output = lock(&self.slots).take_output();
            drop_quietly(output);
        } else if prev & WAITING != 0 && prev & DONE == 0 {
            // Release a waker a dropped `.await` left behind (select!, timeouts).
            let waker = lock(&self.slots)
                .waiters
                .as_mut()
                .and_then(|w| w.waker.take());
            drop_quietly(waker);
        }
    }

    fn into_core(self: Arc<Self>) -> Arc<dyn TaskCore> {
        self
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

    #[inline]
    fn run<H: Hook<T>>(cell: Arc<TaskCell<Self, T, H>>) {
        let Some(Call(callable)) = cell.take_work() else {
            unreachable!("a claimed callable task holds its closure")
        };
        let (cell, result) =
            cell.run_as_current(move || catch_unwind(AssertUnwindSafe(move || callable.call())));
        cell.finish(result);
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
            let cell = TaskCell::new(Call(|| 7u32), NoHook);
            let job: Arc<dyn Runnable> = cell.clone();
            let mut handle = TaskHandle::from_raw(cell as Arc<dyn RawTask<u32>>);
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
            let cell = TaskCell::new(Call(move || Counted(d)), NoHook);
            let job: Arc<dyn Runnable> = cell.clone();
            let handle = TaskHandle::from_raw(cell as Arc<dyn RawTask<Counted>>);
            let runner = thread::spawn(move || job.run());
            drop(handle);
            runner.join().unwrap();
            assert_eq!(drops.load(StdOrdering::SeqCst), 1);
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
                NoHook,
            );
            let job: Arc<dyn Runnable> = cell.clone();
            let inline = cell.clone();
            let abandon = thread::spawn(move || job.abandon());
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
