//! What the queues hold: [`Job`], the unit of work, and [`Runnable`], the seam
//! through which upper layers (typed tasks, async tasks) queue themselves without a
//! second allocation.
//!
//! A job is in exactly one of three places: a queue, the hands of the thread running
//! it, or the hands of whoever took it back (`shutdown_now`, a rejection). It is
//! consumed by [`Job::run`]; a job dropped unrun tells its [`Runnable`] through
//! [`Runnable::abandon`], so a handle waiting on it resolves instead of hanging.
//!
//! A task that keeps its own reference count instead of an `Arc` (the task
//! cells of `executor-futures`, allocated from per-thread pages) is queued
//! through [`RawRunnable`] and [`Job::from_raw_runnable`]: the job holds a
//! pointer standing for one reference, which its run or abandon consumes.
//!
//! A job is two words: a data word and a static vtable. The data word is a pointer
//! (boxed closure, task `Arc` or raw task pointer, fork-join work on its owner's stack) or, for a
//! closure no bigger than a pointer, the closure itself: a job that captures one
//! reference or `Arc` is queued without touching the allocator.
//!
//! **Small boxes are recycled.** A closure of two to four words (a chain's
//! link capturing a reference and a counter, say) does not fit the word; it
//! goes into a 32-byte block taken from a per-thread free list of such blocks
//! (up to [`KEEP_BLOCKS`] per thread), and its block goes back to the list of
//! the thread that runs or drops it. Most spawns from a job are run on the
//! same worker, so the block is reused hot; one that migrates joins the other
//! thread's list, and a full list (or a thread whose list is already gone,
//! while it exits) hands the block to the global allocator. All blocks have
//! one layout, so any thread can free any of them. Measured with callgrind on
//! one worker, `chained_spawn` per link (its closure captures two words):
//! malloc and free were about 135 of 435 instructions.

#![allow(unsafe_code)]

use crate::batch::Batch;
use std::any::TypeId;
use std::fmt;
use std::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};
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
/// use executor_core::ThreadPool;
/// use executor_core::integration::{Executor, Job, Runnable};
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
    /// running (handed back by `shutdown_now` and then dropped, or refused and
    /// the rejection dropped). The default does nothing beyond dropping the `Arc`.
    fn abandon(self: Arc<Self>) {}
}

/// A task behind a reference count of its own instead of an `Arc` (the task
/// cells of `executor-futures`, cut from per-thread pages): the job holds a
/// pointer that stands for one reference, consumed by exactly one of
/// [`run_raw`](RawRunnable::run_raw) and [`abandon_raw`](RawRunnable::abandon_raw).
/// Queued with [`Job::from_raw_runnable`]; it reports its run with
/// [`report_run_raw`](crate::integration::report_run_raw) and that pointer.
///
/// # Safety
///
/// `run_raw` and `abandon_raw` must be safe to call from any thread with a
/// pointer that [`Job::from_raw_runnable`]'s caller promised stands for one
/// reference to a `Self`.
///
/// # Examples
///
/// ```
/// use executor_core::integration::{Job, RawRunnable};
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// static RUNS: AtomicUsize = AtomicUsize::new(0);
/// struct Counter;
/// // SAFETY: the pointer stands for nothing that needs releasing.
/// unsafe impl RawRunnable for Counter {
///     unsafe fn run_raw(_ptr: *const ()) {
///         RUNS.fetch_add(1, Ordering::SeqCst);
///     }
///     unsafe fn abandon_raw(_ptr: *const ()) {}
/// }
/// static COUNTER: Counter = Counter;
/// // SAFETY: `Counter`'s functions accept any pointer.
/// let job = unsafe { Job::from_raw_runnable::<Counter>(&COUNTER as *const Counter as *const ()) };
/// job.run();
/// assert_eq!(RUNS.load(Ordering::SeqCst), 1);
/// ```
pub unsafe trait RawRunnable: Send + Sync + 'static {
    /// Runs the task, consuming the reference `ptr` stands for.
    ///
    /// # Safety
    ///
    /// `ptr` is the pointer of a `Job::from_raw_runnable::<Self>`, consumed once.
    unsafe fn run_raw(ptr: *const ());

    /// Drops the task unrun (as [`Runnable::abandon`]), consuming the reference.
    ///
    /// # Safety
    ///
    /// As for [`run_raw`](RawRunnable::run_raw).
    unsafe fn abandon_raw(ptr: *const ());
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
    /// The ticket of an outside batch (see `crate::batch`): claimed by the
    /// worker that takes it, never run, never handed to the user.
    Ticket,
}

/// A job's data word: a pointer to the work (a boxed closure, a task's `Arc`,
/// fork-join work on its owner's stack), or a closure of at most one word stored
/// in it directly. `MaybeUninit` because an inline closure may have padding bytes.
pub(crate) type Word = MaybeUninit<*const ()>;

/// How to run or abandon the work in a job's [`Word`]: one static table per closure
/// type, task type or fork-join job type.
pub(crate) struct JobVTable {
    /// Runs (and consumes) the work. Called at most once, and then `abandon` is not.
    pub(crate) execute: unsafe fn(Word),
    /// Drops the work unrun (a closure is dropped, a task abandoned, fork-join
    /// work given back to its owner). Called at most once, and then `execute` is
    /// not.
    pub(crate) abandon: unsafe fn(Word),
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

/// How many free 32-byte blocks a thread keeps (module docs, "Small boxes
/// are recycled"): 2 KiB per thread at most.
const KEEP_BLOCKS: usize = 64;

/// The per-thread free list of closure blocks (module docs).
mod blocks {
    use std::alloc::Layout;
    use std::cell::Cell;
    use std::ptr;

    /// Every recycled block: 32 bytes, aligned for any closure of up to four
    /// words (16, as `u128` needs on x86-64).
    pub(super) const LAYOUT: Layout = match Layout::from_size_align(32, 16) {
        Ok(layout) => layout,
        Err(_) => panic!("a valid layout"),
    };

    /// A free block's first word: the next free block.
    struct Free {
        next: *mut Free,
    }

    struct List {
        head: Cell<*mut Free>,
        len: Cell<usize>,
    }

    impl Drop for List {
        fn drop(&mut self) {
            let mut p = self.head.replace(ptr::null_mut());
            while !p.is_null() {
                // SAFETY: every block on the list came from `alloc` with
                // `LAYOUT` (or from `release`, which takes only such blocks), is
                // owned by the list alone, and holds a `Free` written by
                // `release`.
                unsafe {
                    let next = (*p).next;
                    std::alloc::dealloc(p.cast(), LAYOUT);
                    p = next;
                }
            }
        }
    }

    thread_local! {
        static LIST: List = const {
            List { head: Cell::new(ptr::null_mut()), len: Cell::new(0) }
        };
    }

    /// A block of `LAYOUT`, from this thread's list if it has one.
    #[inline]
    pub(super) fn take() -> *mut u8 {
        let recycled = LIST
            .try_with(|list| {
                let p = list.head.get();
                if !p.is_null() {
                    // SAFETY: a block on the list holds a `Free` (`release`).
                    list.head.set(unsafe { (*p).next });
                    list.len.set(list.len.get() - 1);
                }
                p
            })
            .unwrap_or(ptr::null_mut());
        if !recycled.is_null() {
            return recycled.cast();
        }
        // SAFETY: `LAYOUT` has a non-zero size.
        let p = unsafe { std::alloc::alloc(LAYOUT) };
        if p.is_null() {
            std::alloc::handle_alloc_error(LAYOUT);
        }
        p
    }

    /// Gives back a block from [`take`] whose contents were moved out.
    ///
    /// # Safety
    ///
    /// `p` came from [`take`] and is not used after this call.
    #[inline]
    pub(super) unsafe fn release(p: *mut u8) {
        let kept = LIST
            .try_with(|list| {
                let len = list.len.get();
                if len >= super::KEEP_BLOCKS {
                    return false;
                }
                let free = p.cast::<Free>();
                // SAFETY: the block is ours (the caller's contract), 32 bytes
                // aligned to 16, so a `Free` fits at its start.
                unsafe {
                    free.write(Free {
                        next: list.head.get(),
                    })
                };
                list.head.set(free);
                list.len.set(len + 1);
                true
            })
            .unwrap_or(false);
        if !kept {
            // SAFETY: `p` was allocated with `LAYOUT` (`take`) and is ours.
            unsafe { std::alloc::dealloc(p, LAYOUT) };
        }
    }
}

/// The vtable of closures of type `F`: stored in the word itself when `F` fits
/// (size and alignment at most a pointer's: a closure capturing one reference or
/// one `Arc`, or nothing), boxed otherwise.
struct ClosureVTable<F>(std::marker::PhantomData<F>);

impl<F: FnOnce() + Send + 'static> ClosureVTable<F> {
    const VTABLE: &'static JobVTable = &JobVTable {
        execute: Self::execute,
        abandon: Self::abandon,
        kind: JobKind::Closure(TypeId::of::<F>),
    };

    /// True when `F` lives in the job's word rather than in a box.
    const INLINE: bool =
        size_of::<F>() <= size_of::<Word>() && align_of::<F>() <= align_of::<Word>();

    /// True when `F` does not fit the word but fits a recycled block.
    const SMALL: bool = !Self::INLINE
        && size_of::<F>() <= blocks::LAYOUT.size()
        && align_of::<F>() <= blocks::LAYOUT.align();

    fn into_word(f: F) -> Word {
        if Self::INLINE {
            let mut word = Word::uninit();
            // SAFETY: `F` fits the word in size and alignment (`INLINE`), and the
            // word is ours to write.
            unsafe { word.as_mut_ptr().cast::<F>().write(f) };
            word
        } else if Self::SMALL {
            let p = blocks::take();
            // SAFETY: the block is ours, and `F` fits it in size and alignment
            // (`SMALL`).
            unsafe { p.cast::<F>().write(f) };
            Word::new(p as *const ())
        } else {
            Word::new(Box::into_raw(Box::new(f)) as *const ())
        }
    }

    /// # Safety
    ///
    /// `word` came from `into_word` and is consumed exactly once (the Job
    /// contract).
    unsafe fn take(word: Word) -> F {
        if Self::INLINE {
            // SAFETY: `into_word` wrote an `F` at the word's start (the caller's
            // contract); reading it moves it out, once.
            unsafe { word.as_ptr().cast::<F>().read() }
        } else if Self::SMALL {
            // SAFETY: the word holds a block of `blocks::take` into which
            // `into_word` wrote an `F` (the caller's contract): moved out once,
            // then the block is given back and never used again.
            unsafe {
                let p = word.assume_init() as *mut u8;
                let f = p.cast::<F>().read();
                blocks::release(p);
                f
            }
        } else {
            // SAFETY: the word holds the pointer of `Box::<F>::into_raw`
            // (the caller's contract), reclaimed once.
            *unsafe { Box::from_raw(word.assume_init() as *mut F) }
        }
    }

    unsafe fn execute(word: Word) {
        if Self::INLINE || Self::SMALL {
            // SAFETY: the Job contract (see `take`).
            let f = unsafe { Self::take(word) };
            f()
        } else {
            // SAFETY: `into_word` boxed `F`, and the word is consumed once (the
            // Job contract). Calling the box keeps a large closure where it is.
            let f = unsafe { Box::from_raw(word.assume_init() as *mut F) };
            f()
        }
    }

    unsafe fn abandon(word: Word) {
        // SAFETY: the Job contract (see `take`).
        drop(unsafe { Self::take(word) });
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

    unsafe fn execute(word: Word) {
        // SAFETY: the word holds the pointer of `Arc::<R>::into_raw` in
        // `Job::from_runnable`, whose reference this consumes, exactly once (the
        // Job contract).
        unsafe { Arc::from_raw(word.assume_init() as *const R) }.run()
    }

    unsafe fn abandon(word: Word) {
        // SAFETY: as in `execute`.
        unsafe { Arc::from_raw(word.assume_init() as *const R) }.abandon()
    }
}

/// The vtable of tasks of type `R` behind a pointer of their own count.
struct RawTaskVTable<R>(std::marker::PhantomData<R>);

impl<R: RawRunnable> RawTaskVTable<R> {
    const VTABLE: &'static JobVTable = &JobVTable {
        execute: Self::execute,
        abandon: Self::abandon,
        kind: JobKind::Task,
    };

    unsafe fn execute(word: Word) {
        // SAFETY: the word holds the pointer of `Job::from_raw_runnable::<R>`,
        // consumed once (the Job contract).
        unsafe { R::run_raw(word.assume_init()) }
    }

    unsafe fn abandon(word: Word) {
        // SAFETY: as in `execute`.
        unsafe { R::abandon_raw(word.assume_init()) }
    }
}

/// The vtable of batch tickets: the word holds an `Arc<Batch>`.
struct TicketVTable;

impl TicketVTable {
    const VTABLE: &'static JobVTable = &JobVTable {
        execute: Self::execute,
        abandon: Self::abandon,
        kind: JobKind::Ticket,
    };

    unsafe fn execute(word: Word) {
        // SAFETY: the word holds the pointer of `Arc::<Batch>::into_raw` in
        // `Job::ticket`, consumed once (the Job contract).
        drop(unsafe { Arc::from_raw(word.assume_init() as *const Batch) });
        unreachable!("a batch ticket is claimed by the worker that takes it, never run");
    }

    unsafe fn abandon(word: Word) {
        // SAFETY: as in `execute`. The batch's jobs stay listed in the registry,
        // where the drain that dropped this ticket takes them.
        drop(unsafe { Arc::from_raw(word.assume_init() as *const Batch) });
    }
}

/// A unit of work queued on a pool: a closure or a [`Runnable`] task. Two words:
/// the work (or a pointer to it) and a static table saying how to run or drop it.
///
/// A closure of at most one word (one that captures a single reference, `Arc` or
/// integer, or nothing) is stored in the job itself: queuing it allocates nothing.
/// A larger closure is boxed (one allocation). A task costs no allocation either:
/// the job holds its `Arc`.
///
/// Jobs come back to the caller from [`ThreadPool::shutdown_now`](crate::ThreadPool::shutdown_now)
/// and inside [`Rejected`](crate::Rejected); they can then be run by hand, or
/// dropped. Dropping a task job calls [`Runnable::abandon`].
///
/// # Examples
///
/// ```
/// use executor_core::integration::Job;
/// let job = Job::new(|| println!("ran by hand"));
/// job.run();
/// ```
pub struct Job {
    word: Word,
    vtable: &'static JobVTable,
}

// SAFETY: every constructor requires the work to be `Send` (closures: `F: Send`;
// tasks: `R: Runnable`, which is `Send + Sync`; internal jobs: the JobRef
// contract), and a Job is the only owner of its word.
unsafe impl Send for Job {}

impl Job {
    /// A job that runs `f`. Does not allocate when `f` fits in a word (captures
    /// at most one reference, `Arc` or integer); allocates once otherwise.
    pub fn new<F: FnOnce() + Send + 'static>(f: F) -> Job {
        Job {
            word: ClosureVTable::<F>::into_word(f),
            vtable: ClosureVTable::<F>::VTABLE,
        }
    }

    /// A job that runs `task` (see [`Runnable`]). Does not allocate.
    pub fn from_runnable<R: Runnable>(task: Arc<R>) -> Job {
        Job {
            word: Word::new(Arc::into_raw(task) as *const ()),
            vtable: TaskVTable::<R>::VTABLE,
        }
    }

    /// A job that runs the task `ptr` stands for (see [`RawRunnable`]). Does
    /// not allocate.
    ///
    /// # Safety
    ///
    /// `ptr` stands for one reference to an `R` that `R::run_raw` or
    /// `R::abandon_raw` may consume, on any thread.
    pub unsafe fn from_raw_runnable<R: RawRunnable>(ptr: *const ()) -> Job {
        Job {
            word: Word::new(ptr),
            vtable: RawTaskVTable::<R>::VTABLE,
        }
    }

    /// Queues internal fork-join work (see [`JobRef`]).
    pub(crate) fn internal(job: JobRef) -> Job {
        Job {
            word: Word::new(job.ptr.as_ptr()),
            vtable: job.vtable,
        }
    }

    /// The ticket of an outside batch (see `crate::batch`).
    pub(crate) fn ticket(batch: Arc<Batch>) -> Job {
        Job {
            word: Word::new(Arc::into_raw(batch) as *const ()),
            vtable: TicketVTable::VTABLE,
        }
    }

    /// The batch of a ticket, or the job itself if it is not one.
    #[inline]
    pub(crate) fn into_ticket(self) -> Result<Arc<Batch>, Job> {
        if matches!(self.vtable.kind, JobKind::Ticket) {
            let this = ManuallyDrop::new(self);
            // SAFETY: a ticket's word holds the pointer of `Arc::<Batch>::into_raw`
            // (`Job::ticket`); `ManuallyDrop` keeps Drop from releasing it too.
            Ok(unsafe { Arc::from_raw(this.word.assume_init() as *const Batch) })
        } else {
            Err(self)
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
        // SAFETY: an internal job's word is always an initialised pointer
        // (`Job::internal`); `&&` reads it only for internal jobs.
        self.is_internal() && std::ptr::eq(unsafe { self.word.assume_init() }, ptr)
    }

    /// The key under which this job's run may report its outcome
    /// (`crate::stats`): the data pointer of a task or of fork-join work; null
    /// for a closure or a ticket (they report nothing).
    #[inline]
    pub(crate) fn report_key(&self) -> *const () {
        match self.vtable.kind {
            // SAFETY: the word of a task or internal job is an initialised
            // pointer (`from_runnable`, `internal`).
            JobKind::Task | JobKind::Internal => unsafe { self.word.assume_init() },
            JobKind::Closure(_) | JobKind::Ticket => std::ptr::null(),
        }
    }

    /// Runs the job on the current thread. A panic propagates to the caller.
    #[inline]
    pub fn run(self) {
        let this = ManuallyDrop::new(self);
        // SAFETY: the Job contract: the work is alive and owned by this job, and
        // `ManuallyDrop` makes this the only call (no `abandon` in Drop).
        unsafe { (this.vtable.execute)(this.word) }
    }

    /// Gives back the closure of a job made by [`Job::new`] with closure type `F`.
    pub(crate) fn downcast_closure<F: FnOnce() + Send + 'static>(self) -> Result<F, Job> {
        match self.vtable.kind {
            JobKind::Closure(type_id) if type_id() == TypeId::of::<F>() => {
                let this = ManuallyDrop::new(self);
                // SAFETY: the vtable was made for `F` (same TypeId), so the word
                // came from `ClosureVTable::<F>::into_word`; `ManuallyDrop` keeps
                // Drop from consuming it too.
                Ok(unsafe { ClosureVTable::<F>::take(this.word) })
            }
            _ => Err(self),
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: the job still owns its work (run and downcast forget the job),
        // and Drop runs once.
        unsafe { (self.vtable.abandon)(self.word) }
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.vtable.kind {
            JobKind::Closure(_) => "closure",
            JobKind::Task => "task",
            JobKind::Internal => "internal",
            JobKind::Ticket => "batch ticket",
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

    /// Counts its drops: proves a closure's captures are dropped exactly once
    /// whether the job runs, is dropped, or is taken back.
    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn word_sized_closures_are_inline_and_larger_ones_boxed() {
        fn inline<F: FnOnce() + Send + 'static>(_: &F) -> bool {
            ClosureVTable::<F>::INLINE
        }
        let arc = Arc::new(AtomicUsize::new(0));
        let (a, b) = (arc.clone(), arc.clone());
        let (small, pair, big, word) = (3u8, (3u8, 9u32), [7u64; 4], 1u64);
        assert!(inline(&|| {}));
        assert!(inline(&move || drop(a)));
        assert!(inline(&move || {
            std::hint::black_box(small);
        }));
        assert!(inline(&move || {
            std::hint::black_box(pair);
        })); // padding in the word
        assert!(!inline(&move || drop((b, word))));
        assert!(!inline(&move || {
            std::hint::black_box(big);
        }));
    }

    #[test]
    fn inline_and_boxed_closures_run_or_drop_exactly_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        // Inline: one Arc captured.
        let t = Tracked(drops.clone());
        Job::new(move || drop(t)).run();
        let t = Tracked(drops.clone());
        drop(Job::new(move || drop(t)));
        // Boxed: two words captured.
        let (t, r) = (Tracked(drops.clone()), ran.clone());
        Job::new(move || {
            r.fetch_add(1, Ordering::SeqCst);
            drop(t)
        })
        .run();
        let (t, r) = (Tracked(drops.clone()), ran.clone());
        drop(Job::new(move || {
            r.fetch_add(1, Ordering::SeqCst);
            drop(t)
        }));
        assert_eq!(drops.load(Ordering::SeqCst), 4);
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        // A closure with padding in its word runs with its values intact.
        let pair = (3u8, 9u32);
        let r = ran.clone();
        let sum = move || {
            let (a, b) = std::hint::black_box(pair);
            r.fetch_add(usize::from(a) * 100 + b as usize, Ordering::SeqCst);
        };
        Job::new(sum).run();
        assert_eq!(ran.load(Ordering::SeqCst), 1 + 309);
    }

    #[test]
    fn small_closures_use_recycled_blocks_and_run_or_drop_once() {
        fn small<F: FnOnce() + Send + 'static>(_: &F) -> bool {
            ClosureVTable::<F>::SMALL
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        let (two, one, four, byte) = ([1u64; 2], 1u64, [1u64; 4], 1u8);
        let wide = 7u128 << 70; // alignment 16
        let d = drops.clone();
        assert!(small(&move || drop((Tracked(d), two))));
        assert!(small(&move || {
            std::hint::black_box((wide, one));
        }));
        assert!(!small(&move || {
            std::hint::black_box((four, byte));
        }));
        // More jobs than a thread keeps blocks: some go back to the allocator.
        for round in 0..3 * KEEP_BLOCKS {
            let (t, r) = (Tracked(drops.clone()), ran.clone());
            let job = Job::new(move || {
                assert_eq!(std::hint::black_box(wide) >> 70, 7);
                r.fetch_add(1, Ordering::SeqCst);
                drop(t)
            });
            match round % 3 {
                0 => job.run(),
                1 => drop(job),
                // Released on another thread (a stolen job): joins its list.
                _ => std::thread::spawn(move || job.run()).join().unwrap(),
            }
        }
        assert_eq!(drops.load(Ordering::SeqCst), 3 * KEEP_BLOCKS);
        assert_eq!(ran.load(Ordering::SeqCst), 2 * KEEP_BLOCKS);
        // Taken back by type, with its captures, and its block given back.
        fn back<F: FnOnce() + Send + 'static>(f: F) -> F {
            Job::new(f).downcast_closure::<F>().expect("same type")
        }
        let (t, r) = (Tracked(drops.clone()), ran.clone());
        let f = back(move || {
            r.fetch_add(1, Ordering::SeqCst);
            drop(t)
        });
        assert_eq!(drops.load(Ordering::SeqCst), 3 * KEEP_BLOCKS);
        f();
        assert_eq!(drops.load(Ordering::SeqCst), 3 * KEEP_BLOCKS + 1);
    }

    #[test]
    fn inline_closure_comes_back_by_type_with_its_capture() {
        fn back<F: FnOnce() + Send + 'static>(f: F) -> F {
            Job::new(f).downcast_closure::<F>().expect("same type")
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let t = Tracked(drops.clone());
        let f = back(move || drop(t));
        assert_eq!(drops.load(Ordering::SeqCst), 0, "taken back, not dropped");
        f();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        // The wrong type gives the job back untouched.
        let t = Tracked(drops.clone());
        let job = Job::new(move || drop(t));
        let job = job.downcast_closure::<fn()>().expect_err("another type");
        job.run();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }
}
