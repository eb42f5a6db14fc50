//! What the queues hold: [`Job`], the unit of work, and [`Runnable`], the seam
//! through which upper layers (typed tasks, async tasks) queue themselves without a
//! second allocation.
//!
//! A job is in exactly one of three places: a queue, the hands of the thread running
//! it, or the hands of whoever took it back (`shutdown_now`, a rejection). It is
//! consumed by [`Job::run`]; a job dropped unrun tells its [`Runnable`] through
//! [`Runnable::abandon`], so a handle waiting on it resolves instead of hanging.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// A unit of work that knows how to run itself and what to do if it never will.
///
/// Implemented by upper layers whose task state lives in an `Arc` (the typed task
/// cell of `executor-futures`, an async task that re-queues itself when woken). The
/// pool holds the `Arc` directly, so queuing such a task costs no allocation.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use executor_core::{Job, Runnable, ThreadPool};
///
/// struct Tick(AtomicUsize);
/// impl Runnable for Tick {
///     fn run(self: Arc<Self>) {
///         self.0.fetch_add(1, Ordering::SeqCst);
///     }
/// }
///
/// let pool = ThreadPool::new(2).unwrap();
/// let tick = Arc::new(Tick(AtomicUsize::new(0)));
/// pool.execute_job(Job::from_runnable(tick.clone())).unwrap();
/// pool.close();
/// assert_eq!(tick.0.load(Ordering::SeqCst), 1);
/// ```
pub trait Runnable: Send + Sync + 'static {
    /// Runs the work. Called at most once per queued `Job`.
    fn run(self: Arc<Self>);

    /// Called instead of [`run`](Runnable::run) when the job is dropped without
    /// running (handed back by `shutdown_now` and then dropped, or left over at
    /// termination). The default does nothing beyond dropping the `Arc`.
    fn abandon(self: Arc<Self>) {}
}

/// A boxed closure that can also give its concrete type back (for rejections).
trait BoxedFn: Send {
    fn call(self: Box<Self>);
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl<F: FnOnce() + Send + 'static> BoxedFn for F {
    fn call(self: Box<Self>) {
        (*self)()
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

enum Kind {
    Closure(Box<dyn BoxedFn>),
    Task(Arc<dyn Runnable>),
    /// Fork-join work owned by a waiting caller (see [`JobRef`]).
    Internal(JobRef),
}

/// What an internal job does when run or abandoned.
pub(crate) struct JobVTable {
    /// Runs the job. Called at most once, and then `abandon` is not called.
    pub(crate) execute: unsafe fn(*const ()),
    /// Gives the job back to its owner unrun (the pool is stopping). Called at most
    /// once, and then `execute` is not called.
    pub(crate) abandon: unsafe fn(*const ()),
}

/// A pointer to fork-join work whose owner waits for it: the second closure of a
/// `join` (on the owner's stack), a `scope`'s spawned closure, an `install`.
///
/// Such a job borrows from its owner's frame, so it must run, or be given back to
/// its owner (`abandon`), before the owner returns; it is never handed to the user
/// (`shutdown_now` abandons it instead), and dropping it unrun abandons it.
pub(crate) struct JobRef {
    ptr: *const (),
    vtable: &'static JobVTable,
}

// SAFETY: a JobRef is only created (`JobRef::new`) for data that may be run and
// abandoned from any thread: its constructors require the pointee to be `Sync` and
// its closures `Send`, and the owner keeps it alive until one of the two was called.
#[allow(unsafe_code)]
unsafe impl Send for JobRef {}

impl JobRef {
    /// # Safety
    ///
    /// `ptr` must stay valid until `execute` or `abandon` has been called with it
    /// (exactly one of them, once), and both must be safe to call from any thread.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn new(ptr: *const (), vtable: &'static JobVTable) -> JobRef {
        JobRef { ptr, vtable }
    }

    pub(crate) fn ptr(&self) -> *const () {
        self.ptr
    }
}

/// A unit of work queued on a pool: a boxed closure (one allocation) or a
/// [`Runnable`] task (no allocation).
///
/// Jobs come back to the caller from [`ThreadPool::shutdown_now`](crate::ThreadPool::shutdown_now)
/// and inside [`Rejected`](crate::Rejected); they can then be run by hand, or
/// dropped. Dropping a task job calls [`Runnable::abandon`].
///
/// # Examples
///
/// ```
/// use executor_core::Job;
/// let job = Job::new(|| println!("ran by hand"));
/// job.run();
/// ```
pub struct Job(Option<Kind>);

impl Job {
    /// A job that runs `f`. Allocates once.
    pub fn new<F: FnOnce() + Send + 'static>(f: F) -> Job {
        Job(Some(Kind::Closure(Box::new(f))))
    }

    /// A job that runs `task` (see [`Runnable`]). Does not allocate.
    pub fn from_runnable(task: Arc<dyn Runnable>) -> Job {
        Job(Some(Kind::Task(task)))
    }

    /// Queues internal fork-join work (see [`JobRef`]).
    pub(crate) fn internal(job: JobRef) -> Job {
        Job(Some(Kind::Internal(job)))
    }

    /// True for internal fork-join work, which is never handed to the user.
    pub(crate) fn is_internal(&self) -> bool {
        matches!(self.0, Some(Kind::Internal(_)))
    }

    /// True if this is the internal job `ptr`. Such a job owns nothing (a pointer
    /// and a static vtable), so its owner may `mem::forget` it to take it back.
    #[inline]
    pub(crate) fn is_internal_ptr(&self, ptr: *const ()) -> bool {
        matches!(&self.0, Some(Kind::Internal(r)) if std::ptr::eq(r.ptr(), ptr))
    }

    /// If this is the internal job `ptr`, takes it out without running or
    /// abandoning it (its owner will run the work inline).
    pub(crate) fn take_internal(&mut self, ptr: *const ()) -> bool {
        if matches!(&self.0, Some(Kind::Internal(r)) if std::ptr::eq(r.ptr(), ptr)) {
            self.0 = None;
            true
        } else {
            false
        }
    }

    /// Runs the job on the current thread. A panic propagates to the caller.
    #[allow(unsafe_code)]
    #[inline]
    pub fn run(self) {
        // Consumed here: no drop glue to run afterwards for the emptied job.
        let mut this = std::mem::ManuallyDrop::new(self);
        match this.0.take() {
            Some(Kind::Closure(f)) => f.call(),
            Some(Kind::Task(t)) => t.run(),
            // SAFETY: the JobRef contract: the pointee is alive until execute or
            // abandon is called; `take` makes this the only call.
            Some(Kind::Internal(r)) => unsafe { (r.vtable.execute)(r.ptr) },
            None => {}
        }
    }

    /// Gives back the closure of a job made by [`Job::new`] with closure type `F`.
    pub(crate) fn downcast_closure<F: FnOnce() + Send + 'static>(mut self) -> Result<F, Job> {
        match self.0.take() {
            Some(Kind::Closure(f)) => match f.into_any().downcast::<F>() {
                Ok(f) => Ok(*f),
                Err(_) => unreachable!("a popped-back job always has the closure type pushed"),
            },
            other => {
                self.0 = other;
                Err(self)
            }
        }
    }
}

impl Drop for Job {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        match self.0.take() {
            Some(Kind::Task(t)) => t.abandon(),
            // SAFETY: as in `run`: alive until this one call.
            Some(Kind::Internal(r)) => unsafe { (r.vtable.abandon)(r.ptr) },
            _ => {}
        }
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0 {
            Some(Kind::Closure(_)) => "closure",
            Some(Kind::Task(_)) => "task",
            Some(Kind::Internal(_)) => "internal",
            None => "consumed",
        };
        f.debug_struct("Job").field("kind", &kind).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counted(Arc<AtomicUsize>, Arc<AtomicUsize>);
    impl Runnable for Counted {
        fn run(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn abandon(self: Arc<Self>) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn task_job_runs_or_is_abandoned_never_both() {
        let (ran, abandoned) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let t = Arc::new(Counted(ran.clone(), abandoned.clone()));
        Job::from_runnable(t.clone()).run();
        drop(Job::from_runnable(t));
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(abandoned.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn closure_comes_back_by_type_and_still_runs() {
        fn back<F: FnOnce() + Send + 'static>(f: F) -> F {
            Job::new(f).downcast_closure::<F>().expect("same type")
        }
        let hit = Arc::new(AtomicUsize::new(0));
        let h = hit.clone();
        let f = back(move || {
            h.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(hit.load(Ordering::SeqCst), 0, "not run by the round trip");
        f();
        assert_eq!(hit.load(Ordering::SeqCst), 1);
        assert_eq!(std::mem::size_of::<Job>(), 3 * std::mem::size_of::<usize>());
    }
}
