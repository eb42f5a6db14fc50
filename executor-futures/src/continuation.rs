//! Continuations: work registered on a task cell and fired by the thread that
//! makes the task done, never by a thread that waits. [`TaskHandle::then`],
//! [`TaskHandle::and_then`], [`TaskHandle::on_complete`] and
//! [`TaskRef::on_complete`] live here, with the machinery the combinators
//! (`combinators.rs`) and task graphs (`graph.rs`) share.
//!
//! ## Registration and firing
//!
//! A continuation is a [`Link`] pushed on the upstream cell's **dependents
//! list**: a lock-free stack (one `AtomicPtr` in the cell, no lock, no
//! allocation for a continuation cell, whose links are embedded in it, one per
//! upstream slot; an `on_complete` callback is one allocation with its link).
//! A link is three words: the next link, and the dependent it is embedded in
//! (a `CellArc`, held while listed), which the firing thread tells *which* of its
//! links fired (by the link's address), so a link carries no slot number and
//! no kind tag. The state word's `DEPENDENTS` bit tells the completer to look
//! at the list:
//!
//! ```text
//!  registrant (then / on_complete / all_of ...)       completer (runner, canceller, abandoner)
//!  ───────────────────────────────────────────       ──────────────────────────────────────────
//!  s = load state; done? ── yes ─▶ fire it here       CAS state → COMPLETE | CANCELLED (RMW)
//!  CAS-push link on head; head CLOSED? ─▶ fire here   wake waiters, call the hook
//!  s had DEPENDENTS? ── yes ─▶ registered             saw DEPENDENTS? ── no ─▶ nothing to fire
//!  fetch_or DEPENDENTS (RMW) ── saw DONE? ─ no ─▶       │ yes
//!    registered                    │ yes               swap head ← CLOSED: take the stack
//!                                  ▼                   fire it, oldest first, through the
//!               swap head ← CLOSED, fire what it took  trampoline (below)
//! ```
//!
//! The two RMWs on the state word (terminal CAS, `fetch_or DEPENDENTS`) are
//! totally ordered, and nothing clears either bit. If the registrant's RMW came
//! first (or it saw `DEPENDENTS` set by an earlier registrant, before the
//! terminal CAS: its load lacked `DONE`), the completer sees `DEPENDENTS` and
//! swaps the list out after its CAS. Otherwise the registrant sees `DONE` and
//! swaps it out itself. Every swap leaves `CLOSED`, so a push either lands
//! before a swap (and that swap takes it) or sees `CLOSED` (and its registrant
//! fires it at once): each link is taken by **exactly one** thread, and only
//! after the task is done, so it fires exactly once
//! (`loom_registration_vs_completion_fires_once`,
//! `loom_two_registrants_vs_completion_fire_once_each`). A task that can never
//! become done (an async task nothing can wake, freed) fires its list when its
//! cell is freed, with a cancelled stand-in (`task.rs`, "Freed before done").
//!
//! An embedded link holds its own cell (a `CellArc`) while listed, so the firing
//! thread reads the link, takes the reference out, then tells the cell; a slot is
//! registered once, ever (the contract of `register_task`). A continuation
//! cell's error record (why it ended without running, [`ContShared`]) is one
//! atomic pointer, handed over by `swap`, not a mutex: 8 bytes less per cell
//! and no lock on the error paths; with the three-word links, a `then` cell is
//! 112 bytes instead of 128 and a two-upstream join cell 208 instead of 248
//! (the `chain` row builds a million `then` cells before it runs them). Measured with
//! callgrind on a 1-worker pool (2026-12-07): the aux mutex with its boxed
//! waiter list, the trampoline's queue allocated per firing and the deque
//! round trip per continuation (replaced by the run-next slot below) were
//! 46% of the `chain` row's instructions per link and 30% of the `submit_after`
//! wavefront's per cell; glibc's malloc, freeing on a worker what the
//! submitting thread allocated, was most of the rest.
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
//!   queued. On a pool worker whose pool accepts work, when the firing was
//!   started by the **runner** of the upstream (the worker that just finished
//!   it), the first continuation made ready is kept to **run next on that
//!   worker**, right after the firing (after the upstream's waiters and hook):
//!   no push, no pop, no sibling woken to steal it, the way a graph run goes on
//!   with its first ready successor (`graph.rs`). Any other one goes on the
//!   worker's own deque, where siblings can steal it (a wavefront cell makes
//!   two ready: one runs here, one is stolen). Fired by another thread (a
//!   canceller, a registrant that found the upstream done), or by a waiter
//!   that ran the task it waits for on its own thread ([`waiter_runs`]: the
//!   wait must return once its task is done, DESIGN.md §2), a continuation
//!   goes on the deque on a worker, or runs at once on a thread off the pool.
//!   A pool that was shut down refuses it: it resolves as
//!   [`TaskError::Rejected`], reported in its handle, never lost.
//! * Errors travel down as values: an upstream that panicked hands its payload
//!   to the downstream handle; one that was cancelled (or rejected, or whose
//!   result was already taken) resolves the downstream the same way without
//!   running its function. Cancelling a downstream handle never touches its
//!   upstream (keep the upstream's [`TaskRef`] to cancel it too).
//!
//! ## No recursion
//!
//! Firing can complete another task, whose own firing completes another, and
//! so on (a chain of a million `then`s run on one worker, cancelled at its
//! head, or completed inline off the pool). The **trampoline** keeps the stack
//! flat: the first firing on a thread runs, then drains a thread-local queue
//! (of [`Job`]s: a continuation cell is queued without an allocation) and the
//! run-next slot in a loop. A firing nested in it fires its continuations in
//! place (telling a continuation its upstream is done only queues it, so this
//! cannot recurse) and queues its callbacks and the cells it would run
//! (`chain_of_a_million_then_links_does_not_grow_the_stack`).

//!
//! ## What a `then` link costs (measured 2026-12-08)
//!
//! compare's `chain` builds a million links behind a gated head, then fires
//! them: its figure is the builder's cost plus the firing worker's, per link.
//! callgrind, 1 worker, steady state (`hdeps_probe gated_chain 100000`, three
//! rounds minus two): the builder 267 instructions per link (283 before the
//! link constructors and the list push were inlined), ~95 of them glibc's
//! `malloc`; the worker 718, of which `free` ~115, dropping the cell and
//! its `Arc` ~110, the pool's `run_as_job` (which counts the link in the
//! pool's `Stats`) ~93, this module's firing (`fire_all`, `fire_now`,
//! `schedule`, the drain) ~170 and `Then::run` ~76. The worker does seven
//! atomic RMWs per link: the notify and the claim (`state.rs`), the
//! terminal CAS, the list's swap, two strong and one weak `Arc` decrement.
//! The link's memory matters too: 10,000 links cost 182 ns each and
//! 1,000,000 cost 237-245 (`hdeps_probe chain`, 2 workers, load 6), since a
//! million cells (120 bytes each) do not stay in the caches between the
//! build and the firing. Not in this module, and what would cut it most: a
//! cell allocator of its own (`task.rs`, "What a task costs"), and a
//! continuation kept to run next claimed straight from deferred to
//! `RUNNING` (one RMW instead of the notify and the claim).

// The stage accessors of `TaskCell` are `unsafe` (see `task.rs`); each use here
// is by the thread that holds the claim, as in `async_task.rs`.
#![allow(unsafe_code)]

use crate::cell_arc::{upcast, CellArc};
use crate::error::TaskError;
use crate::handle::{TaskHandle, TaskRef};
use crate::state::{AfterPoll, Notify};
use crate::sync::{AtomicPtr, Ordering, UnsafeCell};
use crate::task::{drop_quietly, Hook, NoHook, RawTask, TaskCell, TaskCore, Work};
use executor_core::integration::{can_execute, payload_message, Executor, Job};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

/// One entry of a dependents list (module docs), embedded in the dependent it
/// belongs to: a continuation cell (one per upstream slot) or an
/// `on_complete` callback's own allocation ([`Callback`]), so registering
/// allocates nothing more. Three words.
pub(crate) struct Link {
    /// The entry pushed before this one (the list is a stack). Written by the
    /// registrant before the push publishes the link; read and rewritten by
    /// the thread that drained the list.
    next: UnsafeCell<*const Link>,
    /// The dependent this link is embedded in, held while the link is listed
    /// (so the link outlives its stay in the list). Written by the registrant
    /// before the push; taken by the firing thread, which then tells it which
    /// of its links fired ([`Continuation::fire`]): a link needs no slot
    /// number of its own.
    target: UnsafeCell<Option<CellArc<dyn Continuation>>>,
}

// SAFETY: a link's fields are only touched by the thread that owns the link at
// the time: its registrant until the push (a `Release` CAS) publishes it, then
// the one thread whose swap (`Acquire`) took it off the list (module docs).
// What it holds is `Send` (a dependent is `Send + Sync`).
unsafe impl Send for Link {}
// SAFETY: as above: shared references to a link never touch its fields
// concurrently.
unsafe impl Sync for Link {}

impl Link {
    #[inline]
    pub(crate) fn new() -> Link {
        Link {
            next: UnsafeCell::new(std::ptr::null()),
            target: UnsafeCell::new(None),
        }
    }
}

/// The links of a join cell (`combinators.rs`), one per upstream slot: inline
/// for up to two upstreams (a wavefront cell), boxed beyond.
pub(crate) enum Links {
    Inline([Link; 2]),
    Heap(Box<[Link]>),
}

impl Links {
    #[inline]
    pub(crate) fn new(slots: usize) -> Links {
        if slots <= 2 {
            Links::Inline([Link::new(), Link::new()])
        } else {
            Links::Heap((0..slots).map(|_| Link::new()).collect())
        }
    }

    fn as_slice(&self) -> &[Link] {
        match self {
            Links::Inline(links) => links,
            Links::Heap(links) => links,
        }
    }

    pub(crate) fn get(&self, slot: usize) -> &Link {
        &self.as_slice()[slot]
    }

    /// The slot of `link`, one of these links (by its address).
    pub(crate) fn slot_of(&self, link: *const Link) -> usize {
        let links = self.as_slice();
        let slot = (link as usize - links.as_ptr() as usize) / std::mem::size_of::<Link>();
        debug_assert!(std::ptr::eq(&links[slot], link), "a link of this cell");
        slot
    }
}

/// An `on_complete` callback with its link, in one allocation: a dependent
/// whose firing calls it (module docs, "What firing does").
struct Callback<F> {
    link: Link,
    f: F,
}

// SAFETY: `f` is never reached through a shared reference: the one thread that
// took the callback's link off the list moves the whole callback out of its
// `CellArc` (`CellArc::into_inner`, the link held the only reference) before
// calling it. The link is `Sync`; `F: Send` lets the callback move between threads.
unsafe impl<F: Send> Sync for Callback<F> {}

impl<F: FnOnce(TaskRef) + Send + 'static> Continuation for Callback<F> {
    fn upstream_done(_this: CellArc<Self>, _slot: usize, _state: usize) {
        unreachable!("a callback is fired with its task, not told a slot")
    }

    fn fire_fn(&self) -> FireFn {
        Self::fire
    }

    fn link(&self, _slot: usize) -> &Link {
        &self.link
    }

    fn slot_of(&self, _link: *const Link) -> usize {
        0
    }
}

impl<F: FnOnce(TaskRef) + Send + 'static> Callback<F> {
    /// # Safety
    ///
    /// As for [`FireFn`].
    unsafe fn fire(
        this: *const (),
        _link: *const Link,
        _state: usize,
        core: &dyn Fn() -> CellArc<dyn TaskCore>,
        nested: bool,
    ) {
        // SAFETY: `FireFn`'s contract: the link's reference to this callback.
        let this = unsafe { CellArc::from_value_raw(this.cast::<Self>()) };
        let Some(Callback { f, .. }) = CellArc::into_inner(this) else {
            unreachable!("only its link holds a callback")
        };
        let task = TaskRef::from_core(core());
        if nested {
            queue(Job::new(move || run_callback(move || f(task))));
        } else {
            run_callback(move || f(task));
        }
    }
}

/// A link ready to be pushed: its target is written, nobody else holds it.
pub(crate) struct Registration(NonNull<Link>);

impl Registration {
    /// An `on_complete` callback, in an allocation of its own with its link.
    fn callback<F: FnOnce(TaskRef) + Send + 'static>(f: F) -> Registration {
        let callback: CellArc<dyn Continuation> = upcast!(CellArc::new(Callback {
            link: Link::new(),
            f,
        }));
        // SAFETY: the callback was just made: its only link, registered once.
        unsafe { Registration::new(callback, 0) }
    }

    /// Dependent `cont` waiting for an upstream as its number `slot`: the
    /// link embedded in `cont` for that slot, which holds `cont` while listed.
    ///
    /// # Safety
    ///
    /// `slot` of `cont` is registered once, ever (each upstream slot of a
    /// continuation cell has one upstream).
    #[inline]
    unsafe fn new(cont: CellArc<dyn Continuation>, slot: usize) -> Registration {
        let link = NonNull::from(cont.link(slot));
        // SAFETY: the slot was never registered (this function's contract), so
        // no other thread holds its link; the `CellArc` moved in keeps the link's
        // cell alive until the target is taken back out by the firing thread.
        unsafe { link.as_ref().target.with_mut(|t| *t = Some(cont)) };
        Registration(link)
    }
}

/// The list head, for a [`DepList`] that is done: nothing can be pushed any more.
fn closed() -> *mut Link {
    NonNull::<Link>::dangling().as_ptr()
}

/// A task cell's dependents: a lock-free stack of [`Link`]s (module docs).
pub(crate) struct DepList {
    head: AtomicPtr<Link>,
}

impl DepList {
    pub(crate) fn new() -> DepList {
        DepList {
            head: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Pushes `reg`; gives it back if the list was closed (the task is done).
    #[inline]
    pub(crate) fn push(&self, reg: Registration) -> Result<(), Registration> {
        let link = reg.0.as_ptr();
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            if head == closed() {
                return Err(reg);
            }
            // SAFETY: the registration owns the link until the CAS below
            // publishes it.
            unsafe { (*link).next.with_mut(|n| *n = head) };
            match self
                .head
                .compare_exchange_weak(head, link, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                Err(now) => head = now,
            }
        }
    }

    /// Closes the list (the task is done) and takes what it held. Any thread
    /// may call it, any number of times: each link is taken by exactly one.
    pub(crate) fn close(&self) -> Drained {
        let head = self.head.swap(closed(), Ordering::AcqRel);
        Drained::from_stack(head)
    }

    /// True if links are listed and were never drained (for a cell being
    /// freed: `&mut`, nothing races). Inline: every freed cell asks.
    #[inline]
    pub(crate) fn is_pending(&mut self) -> bool {
        let head = self.head.load(Ordering::Acquire);
        !head.is_null() && head != closed()
    }
}

/// Links taken off a dependents list, oldest first, to be fired by their
/// taker ([`fire_all`]). It owns what its links hold: dropped unfired (only by
/// an unwind), it releases them.
pub(crate) struct Drained(*const Link);

impl Drained {
    /// Reverses the taken stack into registration order.
    fn from_stack(mut head: *const Link) -> Drained {
        let mut oldest_first: *const Link = std::ptr::null();
        while !head.is_null() && head != closed().cast_const() {
            let link = head;
            // SAFETY: the swap that returned the stack made this thread the
            // owner of every link in it (`Acquire`: the registrants' writes
            // are visible).
            head = unsafe {
                (*link)
                    .next
                    .with_mut(|n| std::mem::replace(&mut *n, oldest_first))
            };
            oldest_first = link;
        }
        Drained(oldest_first)
    }

    /// A registration that found its upstream done: fired by its registrant.
    pub(crate) fn one(reg: Registration) -> Drained {
        // SAFETY: the registration owns its link (it was not pushed).
        unsafe { reg.0.as_ref().next.with_mut(|n| *n = std::ptr::null()) };
        Drained(reg.0.as_ptr())
    }

    /// Takes the oldest dependent off, with the link it was listed by.
    fn pop(&mut self) -> Option<(*const Link, CellArc<dyn Continuation>)> {
        let link = self.0;
        if link.is_null() {
            return None;
        }
        // SAFETY: this thread owns every link of the drained list (see
        // `from_stack`). A link stays valid while its target (which holds the
        // dependent it is embedded in) is still in it: `next` is read before
        // the target is taken out.
        let target = unsafe {
            self.0 = (*link).next.with_mut(|n| *n);
            (*link).target.with_mut(|t| (*t).take())
        };
        Some((link, target.expect("a listed link holds its dependent")))
    }
}

impl Drop for Drained {
    fn drop(&mut self) {
        while let Some((_, dependent)) = self.pop() {
            drop_quietly(dependent);
        }
    }
}

/// A dependent: a continuation cell, told that one of its upstreams is done,
/// or an `on_complete` callback ([`Callback`]).
pub(crate) trait Continuation: Send + Sync + 'static {
    /// Upstream number `slot` is done; `state` is its terminal state word.
    fn upstream_done(this: CellArc<Self>, slot: usize, state: usize)
    where
        Self: Sized;
    /// The link this dependent registers on its upstream number `slot`.
    fn link(&self, slot: usize) -> &Link;
    /// The slot of `link`, one of this dependent's links.
    fn slot_of(&self, link: *const Link) -> usize;
    /// How this dependent is fired ([`fire`]): a continuation cell's is
    /// [`fire_cell`], told its upstream is done.
    fn fire_fn(&self) -> FireFn;
}

/// Fires a dependent, taken off a done task's list by `link`: `state` is the
/// task's terminal state word, `core` makes its reference, and `nested` says a
/// firing already runs on this thread (module docs, "No recursion"). The
/// first argument is the dependent's value, standing for the reference its
/// link held, which the function takes (a function pointer rather than a
/// method: the dependent may be freed during the call, which a `&self` must
/// outlive).
///
/// # Safety
///
/// The first argument comes from [`fire`]: the value of a `CellArc` of the
/// type whose `fire_fn` returned the function, whose reference it consumes.
pub(crate) type FireFn =
    unsafe fn(*const (), *const Link, usize, &dyn Fn() -> CellArc<dyn TaskCore>, bool);

/// The [`FireFn`] of a continuation cell: told that the upstream of `link`'s
/// slot is done.
///
/// # Safety
///
/// As for [`FireFn`], with `X` the cell's type.
pub(crate) unsafe fn fire_cell<X: Continuation>(
    this: *const (),
    link: *const Link,
    state: usize,
    _core: &dyn Fn() -> CellArc<dyn TaskCore>,
    _nested: bool,
) {
    // SAFETY: `FireFn`'s contract.
    let cell = unsafe { CellArc::from_value_raw(this.cast::<X>()) };
    let slot = cell.slot_of(link);
    X::upstream_done(cell, slot, state);
}

/// Fires `dependent` (see [`FireFn`]), handing it the reference its link held.
fn fire(
    dependent: CellArc<dyn Continuation>,
    link: *const Link,
    state: usize,
    core: &dyn Fn() -> CellArc<dyn TaskCore>,
    nested: bool,
) {
    let f = dependent.fire_fn();
    let value = CellArc::as_ptr(&dependent).cast::<()>();
    let _ = CellArc::into_inner_raw(dependent);
    // SAFETY: `value` is the dependent's value, whose reference was just
    // given up for `f`, the dependent's own `fire_fn`.
    unsafe { f(value, link, state, core, nested) };
}

/// Registers `reg` on `upstream`, or fires it (with whatever a racing
/// completion left to this thread) if `upstream` is done. `core` makes the
/// upstream's task reference (for callbacks fired here).
fn register<C: TaskCore + ?Sized>(
    upstream: &C,
    core: &dyn Fn() -> CellArc<dyn TaskCore>,
    reg: Registration,
) {
    if let Err(drained) = upstream.add_dependent(reg) {
        fire_all(upstream.state_word().load(), core, drained, Firer::Other);
    }
}

/// Registers continuation `cont` as waiting for `upstream` as its number `slot`.
///
/// # Safety
///
/// `slot` of `cont` is registered once, ever.
pub(crate) unsafe fn register_task<C: TaskCore + ?Sized>(
    upstream: &C,
    core: &dyn Fn() -> CellArc<dyn TaskCore>,
    cont: CellArc<dyn Continuation>,
    slot: usize,
) {
    // SAFETY: forwarded from this function's contract.
    register(upstream, core, unsafe { Registration::new(cont, slot) });
}

/// [`register_task`] on the task of a handle's cell.
///
/// # Safety
///
/// As for [`register_task`].
pub(crate) unsafe fn register_on<T>(
    upstream: &CellArc<dyn RawTask<T>>,
    cont: CellArc<dyn Continuation>,
    slot: usize,
) {
    // SAFETY: forwarded from this function's contract.
    unsafe { register_task(&**upstream, &|| upstream.core(), cont, slot) };
}

/// Who fires a done task's dependents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Firer {
    /// The worker that ran the task to its end: a continuation made ready now
    /// may run next on this thread, in place of being queued (module docs).
    Runner,
    /// Anyone else (a canceller, a registrant that found the task done, the
    /// last owner of a freed cell): ready continuations are queued.
    Other,
}

/// Fires `drained`, taken off the list of a task that is done with state word
/// `state`, in registration order; `core` makes that task's reference for the
/// callbacks. Trampolined (module docs, "No recursion").
pub(crate) fn fire_all(
    state: usize,
    core: &dyn Fn() -> CellArc<dyn TaskCore>,
    drained: Drained,
    by: Firer,
) {
    match enter(by) {
        Enter::Outermost(drain) => {
            fire_now(state, core, drained, false);
            drain.run();
        }
        // A continuation's `upstream_done` never runs a cell (it queues it, or
        // hands it to the trampoline), so firing in place cannot recurse;
        // callbacks, which may, are queued.
        Enter::Nested => fire_now(state, core, drained, true),
        Enter::NoQueue => fire_now(state, core, drained, false),
    }
}

fn fire_now(
    state: usize,
    core: &dyn Fn() -> CellArc<dyn TaskCore>,
    mut drained: Drained,
    nested: bool,
) {
    while let Some((link, dependent)) = drained.pop() {
        fire(dependent, link, state, core, nested);
    }
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

#[cfg(not(loom))]
std::thread_local! {
    /// The trampoline's state on this thread.
    static FIRING: Firing = const {
        Firing {
            active: Cell::new(false),
            next_open: Cell::new(false),
            waiting: Cell::new(false),
            next: Cell::new(None),
            queue: RefCell::new(VecDeque::new()),
        }
    };
}

// Under loom, per model thread (loom's threads share one OS thread).
#[cfg(loom)]
loom::thread_local! {
    static FIRING: Firing = Firing {
        active: Cell::new(false),
        next_open: Cell::new(false),
        waiting: Cell::new(false),
        next: Cell::new(None),
        queue: RefCell::new(VecDeque::new()),
    };
}

/// The trampoline's per-thread state (module docs, "No recursion").
struct Firing {
    /// A firing runs on this thread.
    active: Cell<bool>,
    /// It was started by a task's runner on a worker: the first continuation
    /// it makes ready may run next, here ([`run_next`]).
    next_open: Cell<bool>,
    /// A waiter runs the task it waits for on this thread ([`waiter_runs`]):
    /// nothing runs next here, so the wait returns as soon as its task is done.
    waiting: Cell<bool>,
    /// That continuation.
    next: Cell<Option<Job>>,
    /// Work queued behind the running firing, first in first out (the buffer
    /// is kept between firings).
    queue: RefCell<VecDeque<Job>>,
}

/// How a firing enters the trampoline.
enum Enter {
    /// No firing runs on this thread: run now, then drain the queue.
    Outermost(Drain),
    /// A firing runs on this thread: queue.
    Nested,
    /// The thread is being torn down (no queue any more): run now.
    NoQueue,
}

fn enter(by: Firer) -> Enter {
    let outermost = FIRING.try_with(|firing| {
        let outermost = !firing.active.replace(true);
        if outermost {
            firing
                .next_open
                .set(by == Firer::Runner && !firing.waiting.get());
        }
        outermost
    });
    match outermost {
        Ok(true) => Enter::Outermost(Drain),
        Ok(false) => Enter::Nested,
        Err(_) => Enter::NoQueue,
    }
}

/// Queues work behind the firing running on this thread ([`Enter::Nested`]).
fn queue(job: Job) {
    FIRING.with(|firing| {
        debug_assert!(firing.active.get(), "a firing runs on this thread");
        firing.queue.borrow_mut().push_back(job);
    });
}

/// Runs `job` now, unless a firing already runs on this thread: then it is
/// queued and that firing runs it when `job`'s caller has returned (module
/// docs, "No recursion"). Dropped unrun (only if the thread unwinds), the job
/// is abandoned as a job is.
pub(crate) fn run_trampolined(job: Job) {
    match enter(Firer::Other) {
        Enter::Outermost(drain) => {
            job.run();
            drain.run();
        }
        Enter::Nested => queue(job),
        Enter::NoQueue => job.run(),
    }
}

/// [`run_trampolined`] for a closure.
pub(crate) fn trampoline(f: impl FnOnce() + Send + 'static) {
    run_trampolined(Job::new(f));
}

/// Keeps the ready continuation `cell` to run next on this worker, after the
/// firing in progress (module docs, "What firing does"); gives it back if
/// there is no such firing (not one started by a runner) or it already keeps
/// one.
fn run_next<W, T, H>(cell: CellArc<TaskCell<W, T, H>>) -> Result<(), CellArc<TaskCell<W, T, H>>>
where
    W: Work<T>,
    T: Send + 'static,
    H: Hook<T>,
{
    let mut cell = Some(cell);
    let _ = FIRING.try_with(|firing| {
        if firing.next_open.get() && !firing.waiting.get() {
            match firing.next.take() {
                None => firing.next.set(cell.take().map(CellArc::into_job)),
                kept => firing.next.set(kept),
            }
        }
    });
    match cell {
        None => Ok(()),
        Some(cell) => Err(cell),
    }
}

/// Runs `f`, a waiter running the task it waits for on its own thread
/// (`TaskCore::run_inline`), with nothing kept to run next: a continuation the
/// task makes ready is queued, so the wait returns once its task is done and
/// never runs work it is not owed (DESIGN.md §2, the waiting rule).
pub(crate) fn waiter_runs<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = FIRING.try_with(|firing| firing.waiting.set(self.0));
        }
    }
    let _restore = FIRING
        .try_with(|firing| Restore(firing.waiting.replace(true)))
        .ok();
    f()
}

/// Runs the trampoline's queue, then the continuation kept to run next, until
/// both are empty; also on unwind, so that nothing queued is lost. The kept
/// continuation runs as a job of the worker's pool (`run_as_job`), so the
/// pool's `Stats` count it as they would had it been queued.
struct Drain;

impl Drain {
    /// The next job, and whether it is the one kept to run next.
    fn next() -> Option<(Job, bool)> {
        FIRING
            .try_with(|firing| {
                let queued = firing.queue.borrow_mut().pop_front();
                match queued {
                    Some(job) => Some((job, false)),
                    None => firing.next.take().map(|job| (job, true)),
                }
            })
            .ok()
            .flatten()
    }

    fn run_one(job: Job, kept: bool) {
        if kept {
            executor_core::integration::run_as_job(job);
        } else {
            job.run();
        }
    }

    fn run(self) {
        while let Some((job, kept)) = Self::next() {
            Self::run_one(job, kept);
        }
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        while let Some((job, kept)) = Self::next() {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(move || Self::run_one(job, kept))) {
                drop_quietly(payload);
            }
        }
        let _ = FIRING.try_with(|firing| {
            firing.next_open.set(false);
            firing.active.set(false);
        });
    }
}

/// The shared part of every continuation cell: why it ended without running
/// (reported by its handle instead of a plain `Cancelled`), and the cell's own
/// bookkeeping `extra`.
pub(crate) struct ContShared<X> {
    /// Null, or a `Box<TaskError>` this field owns (set on error paths only:
    /// a `TaskError` is five words that every continuation cell would carry).
    /// An atomic pointer, one word, not a mutex of two: ownership moves by
    /// `swap`, so each box is taken (or freed) by exactly one thread.
    error: AtomicPtr<TaskError>,
    pub(crate) extra: X,
}

impl<X> ContShared<X> {
    pub(crate) fn new(extra: X) -> Self {
        ContShared {
            error: AtomicPtr::new(std::ptr::null_mut()),
            extra,
        }
    }

    /// Records `error` (replacing one recorded before).
    fn set_error(&self, error: TaskError) {
        let new = Box::into_raw(Box::new(error));
        let old = self.error.swap(new, Ordering::AcqRel);
        drop_quietly(Self::owned(old));
    }

    /// Takes the recorded error out, if any.
    fn take_error(&self) -> Option<Box<TaskError>> {
        Self::owned(self.error.swap(std::ptr::null_mut(), Ordering::AcqRel))
    }

    /// The box behind a pointer taken out of `error` by a `swap` (or read
    /// under `&mut`, when the cell is freed): this thread's alone.
    fn owned(ptr: *mut TaskError) -> Option<Box<TaskError>> {
        // SAFETY: `error` only ever holds null or a pointer from
        // `Box::into_raw` (`set_error`), and the swap that returned `ptr`
        // took it out of the field (or the field is being dropped): no other
        // thread can reach it any more.
        (!ptr.is_null()).then(|| unsafe { Box::from_raw(ptr) })
    }

    /// For [`Work::cancelled_error`].
    pub(crate) fn cancelled_error(&self) -> TaskError {
        self.take_error()
            .map_or(TaskError::Cancelled, |error| *error)
    }
}

impl<X> Drop for ContShared<X> {
    fn drop(&mut self) {
        // `&mut`: the last access, nothing races (a load, no RMW).
        drop(Self::owned(self.error.load(Ordering::Relaxed)));
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
pub(crate) fn schedule<W, T, H>(cell: CellArc<TaskCell<W, T, H>>)
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
pub(crate) fn schedule_on<W, T, H, E>(cell: CellArc<TaskCell<W, T, H>>, exec: &E)
where
    W: ContWork<T>,
    T: Send + 'static,
    H: Hook<T>,
    E: Executor + ?Sized,
{
    if cell.state().transition_to_notified() != Notify::Submit {
        return;
    }
    submit_ready(cell, exec);
}

/// Submits a `NOTIFIED` continuation cell to `exec` (a refusal resolves it as
/// [`TaskError::Rejected`]).
pub(crate) fn submit_ready<W, T, H, E>(cell: CellArc<TaskCell<W, T, H>>, exec: &E)
where
    W: ContWork<T>,
    T: Send + 'static,
    H: Hook<T>,
    E: Executor + ?Sized,
{
    if let Err(rejected) = exec.execute_job(cell.clone().into_job()) {
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
    cell.shared().set_error(error);
}

/// Queues a `NOTIFIED` continuation cell: on this worker's deque, or runs it
/// here (trampolined) off the pool.
pub(crate) fn queue_ready<W, T, H>(cell: CellArc<TaskCell<W, T, H>>)
where
    W: ContWork<T>,
    T: Send + 'static,
    H: Hook<T>,
{
    let cell = if can_execute() {
        // On a worker of a pool that accepts work: run it next, here, if this
        // firing was started by a runner and keeps none yet.
        match run_next(cell) {
            Ok(()) => return,
            Err(cell) => cell,
        }
    } else if executor_core::current_thread_index().is_none() {
        // Off the pool: run it here (trampolined).
        run_trampolined(cell.into_job());
        return;
    } else {
        // Shut down: `execute` refuses it (reported below).
        cell
    };
    let keep = cell.clone();
    // One word (an `Option<CellArc<_>>`): queued without an allocation.
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
struct AbandonUnrun<W: ContWork<T>, T: Send + 'static, H: Hook<T>>(
    Option<CellArc<TaskCell<W, T, H>>>,
);

impl<W: ContWork<T>, T: Send + 'static, H: Hook<T>> AbandonUnrun<W, T, H> {
    fn run(mut self) {
        if let Some(cell) = self.0.take() {
            cell.run_job();
        }
    }
}

impl<W: ContWork<T>, T: Send + 'static, H: Hook<T>> Drop for AbandonUnrun<W, T, H> {
    fn drop(&mut self) {
        if let Some(cell) = self.0.take() {
            cell.abandon_job();
        }
    }
}

/// Ends a claimed continuation cell: runs `outcome`'s body as the task, or
/// resolves the cell with the upstream's error without running anything.
pub(crate) fn complete<W, T, H, B>(cell: CellArc<TaskCell<W, T, H>>, outcome: Result<B, TaskError>)
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
                set_error(&cell, error);
            }
            if !TaskCore::cancel(&*cell) && record {
                // Cancelled by its handle meanwhile: that is what it reports.
                drop_quietly(cell.shared().take_error());
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
    /// The link on the upstream.
    type Shared = ContShared<Link>;

    fn run<H: Hook<U>>(cell: CellArc<TaskCell<Self, U, H>>) {
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
    fn upstream_done(this: CellArc<Self>, _slot: usize, _state: usize) {
        schedule(this);
    }

    fn fire_fn(&self) -> FireFn {
        fire_cell::<Self>
    }

    fn link(&self, _slot: usize) -> &Link {
        &self.shared().extra
    }

    fn slot_of(&self, _link: *const Link) -> usize {
        0
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
    /// The links on the upstream (slot 0) and on the inner task (slot 1).
    type Shared = ContShared<[Link; 2]>;

    fn run<H: Hook<U>>(cell: CellArc<TaskCell<Self, U, H>>) {
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
                    AfterPoll::Wait => Self::wait_for(cell, &inner_core),
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
    fn wait_for<H: Hook<U>>(cell: CellArc<TaskCell<Self, U, H>>, inner: &CellArc<dyn RawTask<U>>) {
        // SAFETY: slot 1 is registered once: here, after the function ran
        // (slot 0 was the upstream).
        unsafe { register_on(inner, upcast!(cell), 1) };
    }
}

impl<T, U, F, H> Continuation for TaskCell<AndThen<T, U, F>, U, H>
where
    H: Hook<U>,
    T: Send + 'static,
    U: Send + 'static,
    F: FnOnce(T) -> TaskHandle<U> + Send + 'static,
{
    fn upstream_done(this: CellArc<Self>, _slot: usize, _state: usize) {
        schedule(this);
    }

    fn fire_fn(&self) -> FireFn {
        fire_cell::<Self>
    }

    fn link(&self, slot: usize) -> &Link {
        &self.shared().extra[slot]
    }

    fn slot_of(&self, link: *const Link) -> usize {
        usize::from(!std::ptr::eq(link, &self.shared().extra[0]))
    }
}

impl<T: Send + 'static> TaskHandle<T> {
    /// A continuation: when this task completes, `f` maps its value, as a new
    /// task with its own handle (Java's `thenApply`). Nothing blocks meanwhile:
    /// `f` is registered on this task, and the worker that completes it runs
    /// `f` next (or queues it on its own deque, if it made another continuation
    /// ready first); it runs at once on the calling thread if this task is done
    /// already and the caller is not a pool worker.
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
        let cell = TaskCell::new_deferred(
            Then { upstream: self, f },
            ContShared::new(Link::new()),
            NoHook,
        );
        // SAFETY: the new cell's only slot, registered once.
        unsafe { register_on(&upstream, upcast!(cell.clone()), 0) };
        TaskHandle::from_raw(upcast!(cell))
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
            ContShared::new([Link::new(), Link::new()]),
            NoHook,
        );
        // SAFETY: slot 0 (the upstream) of the new cell, registered once.
        unsafe { register_on(&upstream, upcast!(cell.clone()), 0) };
        TaskHandle::from_raw(upcast!(cell))
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
        register(&**raw, &|| raw.core(), Registration::callback(callback));
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
            &|| self.core().clone(),
            Registration::callback(callback),
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
    use std::sync::Arc;

    #[test]
    fn loom_registration_vs_completion_fires_once() {
        loom::model(|| {
            let cell = TaskCell::new(Call(|| 7u32), (), NoHook);
            let job = cell.clone().into_job();
            let canceller = cell.clone();
            let runner = thread::spawn(move || job.run());
            let cancel = thread::spawn(move || canceller.cancel());
            let fired = Arc::new(AtomicUsize::new(0));
            let f = fired.clone();
            let core: CellArc<dyn TaskCore> = upcast!(cell.clone());
            register(
                &*cell,
                &|| core.clone(),
                Registration::callback(move |task: TaskRef| {
                    assert!(task.is_done(), "fired before the task was done");
                    f.fetch_add(1, StdOrdering::SeqCst);
                }),
            );
            runner.join().unwrap();
            cancel.join().unwrap();
            assert_eq!(fired.load(StdOrdering::SeqCst), 1, "fired exactly once");
        });
    }

    /// Two registrants race the completion on the lock-free list: the second
    /// may find `DEPENDENTS` set and skip its RMW, either may drain the list
    /// itself; each callback still fires exactly once, after the task is
    /// done, and in registration order when one registrant did both.
    #[test]
    fn loom_two_registrants_vs_completion_fire_once_each() {
        loom::model(|| {
            let cell = TaskCell::new(Call(|| 7u32), (), NoHook);
            let job = cell.clone().into_job();
            let runner = thread::spawn(move || job.run());
            let fired = Arc::new(AtomicUsize::new(0));
            let callback = |fired: Arc<AtomicUsize>, bit: usize| {
                Registration::callback(move |task: TaskRef| {
                    assert!(task.is_done(), "fired before the task was done");
                    let prev = fired.fetch_or(bit, StdOrdering::SeqCst);
                    assert_eq!(prev & bit, 0, "fired twice");
                })
            };
            let other = {
                let cell = cell.clone();
                let fired = fired.clone();
                thread::spawn(move || {
                    let core: CellArc<dyn TaskCore> = upcast!(cell.clone());
                    register(&*cell, &|| core.clone(), callback(fired, 1));
                })
            };
            let core: CellArc<dyn TaskCore> = upcast!(cell.clone());
            register(&*cell, &|| core.clone(), callback(fired.clone(), 2));
            runner.join().unwrap();
            other.join().unwrap();
            assert_eq!(fired.load(StdOrdering::SeqCst), 3, "each fired once");
        });
    }

    #[test]
    fn loom_then_registered_during_completion_resolves_once() {
        loom::model(|| {
            let cell = TaskCell::new(Call(|| 7u32), (), NoHook);
            let job = cell.clone().into_job();
            let runner = thread::spawn(move || job.run());
            let upstream = TaskHandle::<u32>::from_raw(upcast!(cell));
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
