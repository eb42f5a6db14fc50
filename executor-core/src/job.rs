//! What the queues hold: [`Job`], the unit of work, and [`Runnable`], the seam
//! through which upper layers (typed tasks, async tasks) queue themselves without a
//! second allocation.
//!
//! A job is in exactly one of three places: a queue, the hands of the thread running
//! it, or the hands of whoever took it back (`shutdown_now`, a rejection). It is
//! consumed by [`Job::run`]; a job dropped unrun tells its [`Runnable`] through
//! [`Runnable::abandon`], so a handle waiting on it resolves instead of hanging.

#![allow(unsafe_code)]

use std::any::TypeId;
use std::fmt;
use std::ptr::NonNull;
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

/// What kind of work a job is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum JobKind {
    /// A boxed closure; the function gives its type, for handing it back.
    Closure(fn() -> TypeId),
    /// An `Arc` of a [`Runnable`].
    Task,
    /// Fork-join work owned by a waiting caller (see [`JobRef`]).
    Internal,
}

/// How to run or abandon the work a job points to: one static table per closure
/// type, task type or fork-join job type.
pub(crate) struct JobVTable {
    /// Runs (and consumes) the work. Called at most once, and then `abandon` is not.
    pub(crate) execute: unsafe fn(*const ()),
    /// Drops the work unrun (a closure is dropped, a task abandoned, fork-join
    /// work given back to its owner). Called at most once, and then `execute` is
    /// not.
    pub(crate) abandon: unsafe fn(*const ()),
    pub(crate) kind: JobKind,
}

/// A pointer to fork-join work whose owner waits for it: the second closure of a
/// `join` (on the owner's stack), a `scope`'s spawned closure, an `install`.
///
/// Such a job borrows from its owner's frame, so it must run, or be given back to
/// its owner (`abandon`), before the owner returns; it is never handed to the user
/// (`shutdown_now` abandons it instead), and dropping it unrun abandons it.
pub(crate) struct JobRef {
    ptr: NonNull<()>,
    vtable: &'static JobVTable,
}

// SAFETY: a JobRef is only created (`JobRef::new`) for work that may be run and
// abandoned from any thread (the constructors' contract), and its owner keeps it
// alive until one of the two was called.
unsafe impl Send for JobRef {}

impl JobRef {
    /// # Safety
    ///
    /// `ptr` must be non-null and stay valid until `execute` or `abandon` has been
    /// called with it (exactly one of them, once); both must be safe to call from
    /// any thread; `vtable.kind` must be [`JobKind::Internal`].
    pub(crate) unsafe fn new(ptr: *const (), vtable: &'static JobVTable) -> JobRef {
        debug_assert!(matches!(vtable.kind, JobKind::Internal));
        JobRef {
            ptr: NonNull::new(ptr as *mut ()).expect("a job pointer is never null"),
            vtable,
        }
    }

    pub(crate) fn ptr(&self) -> *const () {
        self.ptr.as_ptr()
    }
}

/// The vtable of closures of type `F`, boxed.
struct ClosureVTable<F>(std::marker::PhantomData<F>);

impl<F: FnOnce() + Send + 'static> ClosureVTable<F> {
    const VTABLE: &'static JobVTable = &JobVTable {
        execute: Self::execute,
        abandon: Self::abandon,
        kind: JobKind::Closure(TypeId::of::<F>),
    };

    unsafe fn execute(ptr: *const ()) {
        // SAFETY: `ptr` came from `Box::<F>::into_raw` in `Job::new`, and is
        // consumed exactly once (the Job contract).
        let f = unsafe { Box::from_raw(ptr as *mut F) };
        f()
    }

    unsafe fn abandon(ptr: *const ()) {
        // SAFETY: as in `execute`.
        drop(unsafe { Box::from_raw(ptr as *mut F) });
    }
}

/// The vtable of tasks of type `R`, behind an `Arc`.
struct TaskVTable<R>(std::marker::PhantomData<R>);

impl<R: Runnable> TaskVTable<R> {
    const VTABLE: &'static JobVTable = &JobVTable {
        execute: Self::execute,
        abandon: Self::abandon,
        kind: JobKind::Task,
    };

    unsafe fn execute(ptr: *const ()) {
        // SAFETY: `ptr` came from `Arc::<R>::into_raw` in `Job::from_runnable`,
        // whose reference this consumes, exactly once (the Job contract).
        unsafe { Arc::from_raw(ptr as *const R) }.run()
    }

    unsafe fn abandon(ptr: *const ()) {
        // SAFETY: as in `execute`.
        unsafe { Arc::from_raw(ptr as *const R) }.abandon()
    }
}

/// A unit of work queued on a pool: a boxed closure (one allocation) or a
/// [`Runnable`] task (no allocation). Two words: a pointer to the work and a
/// static table saying how to run or drop it.
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
pub struct Job {
    ptr: NonNull<()>,
    vtable: &'static JobVTable,
}

// SAFETY: every constructor requires the work to be `Send` (closures: `F: Send`;
// tasks: `R: Runnable`, which is `Send + Sync`; internal jobs: the JobRef
// contract), and a Job is the only owner of its pointer.
unsafe impl Send for Job {}

impl Job {
    /// A job that runs `f`. Allocates once (not at all for a closure that
    /// captures nothing).
    pub fn new<F: FnOnce() + Send + 'static>(f: F) -> Job {
        let ptr = Box::into_raw(Box::new(f)) as *mut ();
        Job {
            // Box pointers are never null (dangling but non-null for zero sizes).
            ptr: NonNull::new(ptr).expect("Box::into_raw is non-null"),
            vtable: ClosureVTable::<F>::VTABLE,
        }
    }

    /// A job that runs `task` (see [`Runnable`]). Does not allocate.
    pub fn from_runnable<R: Runnable>(task: Arc<R>) -> Job {
        let ptr = Arc::into_raw(task) as *mut ();
        Job {
            ptr: NonNull::new(ptr).expect("Arc::into_raw is non-null"),
            vtable: TaskVTable::<R>::VTABLE,
        }
    }

    /// Queues internal fork-join work (see [`JobRef`]).
    pub(crate) fn internal(job: JobRef) -> Job {
        Job {
            ptr: job.ptr,
            vtable: job.vtable,
        }
    }

    /// True for internal fork-join work, which is never handed to the user.
    #[inline]
    pub(crate) fn is_internal(&self) -> bool {
        matches!(self.vtable.kind, JobKind::Internal)
    }

    /// True if this is the internal job `ptr`. Such a job owns nothing (its work
    /// lives with its owner), so the owner may `mem::forget` it to take it back.
    #[inline]
    pub(crate) fn is_internal_ptr(&self, ptr: *const ()) -> bool {
        self.is_internal() && std::ptr::eq(self.ptr.as_ptr(), ptr)
    }

    /// Runs the job on the current thread. A panic propagates to the caller.
    #[inline]
    pub fn run(self) {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: the Job contract: the work is alive and owned by this job, and
        // `ManuallyDrop` makes this the only call (no `abandon` in Drop).
        unsafe { (this.vtable.execute)(this.ptr.as_ptr()) }
    }

    /// Gives back the closure of a job made by [`Job::new`] with closure type `F`.
    pub(crate) fn downcast_closure<F: FnOnce() + Send + 'static>(self) -> Result<F, Job> {
        match self.vtable.kind {
            JobKind::Closure(type_id) if type_id() == TypeId::of::<F>() => {
                let this = std::mem::ManuallyDrop::new(self);
                // SAFETY: the vtable was made for `F` (same TypeId), so the
                // pointer came from `Box::<F>::into_raw`; `ManuallyDrop` keeps
                // Drop from freeing it too.
                Ok(*unsafe { Box::from_raw(this.ptr.as_ptr() as *mut F) })
            }
            _ => Err(self),
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: the job still owns its work (run and downcast forget the job),
        // and Drop runs once.
        unsafe { (self.vtable.abandon)(self.ptr.as_ptr()) }
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.vtable.kind {
            JobKind::Closure(_) => "closure",
            JobKind::Task => "task",
            JobKind::Internal => "internal",
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
        assert_eq!(std::mem::size_of::<Job>(), 2 * std::mem::size_of::<usize>());
        assert_eq!(
            std::mem::size_of::<Option<Job>>(),
            2 * std::mem::size_of::<usize>()
        );
    }
}
