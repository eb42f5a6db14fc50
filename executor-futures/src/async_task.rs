//! Async tasks: a future polled on the pool, re-queued each time it is woken.
//!
//! The cell is the same [`TaskCell`] as for callables, with an [`AsyncWork`] as its
//! work, and it is its own [`Waker`] (`std::task::Wake` on the `Arc`): a wake costs
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
//!   Note that the pool does not know about async tasks that are idle (waiting for
//!   a wake): after `shutdown` it terminates once its queues are empty, and an
//!   async task woken after that is cancelled. Wait for async tasks (their
//!   handles) before shutting the pool down if they must finish.
//! * Cancel drops the future: at once if idle, after the current poll if running.
//! * The future is pinned in its own `Box` at its first poll (this crate has no
//!   `unsafe`, so it cannot pin inside the shared cell): spawning costs two
//!   allocations, polling and waking none. Until that first poll the future is
//!   movable, which is how a rejected spawn hands it back.
//! * The executor handle the task needs for re-queuing is dropped with the future
//!   when the task ends, so a finished task never keeps a pool open.

// The stage accessors of `TaskCell` are `unsafe` (see `task.rs`).
#![allow(unsafe_code)]

use crate::state::AfterPoll;
use crate::state::Notify;
use crate::sync::{lock, Mutex};
use crate::task::{drop_quietly, Hook, TaskCell, Work};
use executor_core::{Executor, Job};
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

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
pub(crate) struct AsyncWork<F, E> {
    fut: FutSlot<F>,
    exec: PhantomData<fn() -> E>,
}

/// The executor an async task re-queues itself on; emptied when the task ends.
pub(crate) type ExecSlot<E> = Mutex<Option<E>>;

impl<F: Future, E> AsyncWork<F, E> {
    /// The work and the shared part for a new cell.
    pub(crate) fn new(fut: F, exec: E) -> (Self, ExecSlot<E>) {
        (
            AsyncWork {
                fut: FutSlot::Fresh(fut),
                exec: PhantomData,
            },
            Mutex::new(Some(exec)),
        )
    }

    /// The future, if it was never polled.
    pub(crate) fn into_future(self) -> Option<F> {
        match self.fut {
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
        let exec = lock(shared).take();
        drop_quietly(exec);
    }

    fn run<H: Hook<F::Output>>(cell: Arc<TaskCell<Self, F::Output, H>>) {
        // SAFETY: `run` is called by the thread that won the claim.
        let Some(mut work) = (unsafe { cell.take_work() }) else {
            unreachable!("a claimed async task holds its future")
        };
        let waker = Waker::from(cell.clone());
        let (cell, poll) = cell.run_as_current(|| {
            let mut cx = Context::from_waker(&waker);
            catch_unwind(AssertUnwindSafe(|| work.poll(&mut cx)))
        });
        drop(waker);
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
                // SAFETY: this thread still holds the claim (RUNNING) until
                // `transition_to_idle` below.
                unsafe { cell.put_work(work) };
                match cell.state().transition_to_idle() {
                    AfterPoll::Wait => {}
                    AfterPoll::Requeue => requeue(cell),
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

/// Queues the (NOTIFIED) cell again. A refusal drops the job, which abandons the
/// cell (→ Cancelled, future dropped).
fn requeue<F, E, H>(cell: Arc<TaskCell<AsyncWork<F, E>, F::Output, H>>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    E: Executor + Clone + 'static,
    H: Hook<F::Output>,
{
    // No executor left: the task ended since it was notified; nothing to run.
    let exec = lock(cell.shared()).clone();
    if let Some(exec) = exec {
        if let Err(rejected) = exec.requeue_job(Job::from_runnable(cell)) {
            tracing::debug!(reason = ?rejected.reason(), "async task could not be re-queued; cancelling it");
            drop(rejected);
        }
    }
}

impl<F, E, H> Wake for TaskCell<AsyncWork<F, E>, F::Output, H>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    E: Executor + Clone + 'static,
    H: Hook<F::Output>,
{
    fn wake(self: Arc<Self>) {
        if self.state().transition_to_notified() == Notify::Submit {
            requeue(self);
        }
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.state().transition_to_notified() == Notify::Submit {
            requeue(self.clone());
        }
    }
}
