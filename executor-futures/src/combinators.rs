//! Joining several tasks without a waiting thread: [`all_of`],
//! [`all_of_or_cancel`], [`any_of`] and
//! [`ExecutorService::submit_after`](crate::ExecutorService::submit_after).
//!
//! Each is one continuation cell (`continuation.rs`) registered on every
//! dependency not done yet, plus a **gate**: one atomic counter and one atomic
//! "pick".
//!
//! ```text
//!  all dependencies done already? ── yes ─▶ the cell is made runnable at once
//!     │ no                                  (NOTIFIED from birth: no link, no
//!     ▼                                     gate RMW; the pick is the first
//!  remaining = n | REGISTERING              decisive one in input order)
//!  pick = NONE
//!  registrant, for each dependency i:
//!     done by now? ── yes ─▶ settled here: no link; decisive? CAS pick NONE → i
//!     │ no
//!     └─▶ register the cell's link i on it
//!  dependency i done ──▶ decisive?  (all_of: it failed;  any_of: it succeeded)
//!     │ yes: CAS pick NONE → i; remaining -= 1; REGISTERING clear? → ready
//!     │ no:  remaining -= 1;  it was the last (remaining was exactly 1)? → ready
//!  registrant, after the last one: stores what it holds (below), then
//!     remaining -= REGISTERING + settled;
//!     nothing left, or a pick was made meanwhile? → ready
//! ```
//!
//! `REGISTERING` keeps the cell from running while the registrant still reads
//! the dependencies. "Ready" is `schedule`: the first one queues the cell, any
//! later one is a no-op (the state word decides), so a dependency failing fast
//! and the last one completing never run it twice. One atomic decrement per
//! dependency that completes after registration, none for one done before; the
//! cell runs from the completion of the deciding dependency, on that worker
//! (`submit_after`'s cell ready at registration goes to its executor).
//!
//! ## What a join holds
//!
//! Handles are kept (the values are taken from them when the cell runs); task
//! references (`submit_after`'s ordering dependencies) are reduced to their
//! ids once registered, so the registrant drops its references at once: the
//! join does not keep its dependencies' cells alive, and a wavefront's cells
//! are mostly freed by the thread that allocated them (glibc frees another
//! thread's chunk through the arena lock). What is held sits in an
//! `UnsafeCell` of the gate, not under a mutex: the registrant writes it once
//! before the `AcqRel` RMW that clears `REGISTERING`, and every path to a run
//! (`schedule` needs `REGISTERING` gone) or to a cancel (through the handle,
//! returned after) comes after that RMW; the runner (claim) or an idle
//! canceller (`Work::retire`) takes it, once.
//!
//! Measured with callgrind (`benches/src/bin/hdeps_probe.rs`, a 100×100
//! wavefront of `submit_after` on one worker, 2026-12-07, instructions per
//! cell against the design with a mutex, references kept and every dependency
//! registered): registering every cell behind a gated head, the registrant
//! 998 → 1,108 (it now drops the two references, which the worker did) and
//! the worker 1,148 → 913; with every dependency done at registration (the
//! common case of compare's run, where the workers keep up with the builder)
//! the join itself 1,276 → 763 (no registration, no firing, no mutex). The
//! cell is 208 bytes instead of 248 (links of three words, no mutex). What
//! is left of the registrant's cost is mostly the cell's `malloc` (~190
//! instructions when glibc's per-thread cache is empty) and the two
//! registrations (~125 each); the wall-clock figure of compare's row is set
//! by the builder thread and by the CPU the workers take from it on two
//! cores (with three threads), which this could not measure on the loaded
//! machine (see the commit messages).
//!
//! ### The floor of `submit_after` from one outside thread (2026-12-08)
//!
//! compare's `submit_after` row (349 ns per cell in the 23:08 run) is set by
//! the thread that builds the grid. Its workers keep up with it, so nearly
//! every cell finds both dependencies done: the call is then a `submit`
//! (the cell, the handle, an outside submission), plus a look at each
//! dependency, plus the reference counts of the `TaskRef`s the caller clones
//! in and the join drops. `hdeps_probe submit_floor 300` times the same loop
//! with a plain `submit` and no dependency: 200-284 ns per cell against
//! 405-420 for `hdeps_probe wave 300` in the same window (load 5); callgrind
//! of the whole builder thread (100×100, one round), per cell: 651
//! instructions for the `submit` loop, 922 for `ready_join` (the
//! `submit_after` loop, every dependency done). The difference is the join:
//! its own bookkeeping (~180), the 208-byte cell's three `memcpy`s (87: it
//! is moved, not built in place; `task.rs`) and the drop of the two
//! references (~43); the cell's `malloc` (~190) both pay. With the dependencies pending (`gated_wave`) the builder
//! spends 994 per cell (1,107 before the link constructors and the list
//! push were inlined). So the issue's goal (40 ns per cell, within 1.5× of
//! counters and spawns inside the pool) is below what even a plain `submit`
//! from an outside thread costs here (the quiet run's `spawn_outside`, no
//! handle at all, is 66 ns per job): a handle per call, a cell allocation and
//! a submission or a registration per dependency are structural, and each
//! dependency's state line was last written by the worker that completed it.
//! What reaches the goal is [`TaskGraph`](crate::TaskGraph), whose nodes are
//! made ready inside the pool (`graph.rs`: 17-27 ns per cell). What would
//! cut `submit_after` further is in the cell (`task.rs`): an allocator of
//! its own instead of glibc's, and a cell built in place.
//!
//! Empty inputs: `all_of([])` is done at once with `[]` (Java's `allOf()`);
//! `any_of([])` is done at once as cancelled: Java's `anyOf()` returns a future
//! that never completes, whose `get` would hang, and no task can succeed.

// The stage accessor of `TaskCell` is `unsafe` (see `task.rs`): used once, by
// the thread that holds the claim; so is the gate's hold of the dependencies
// (module docs, "What a join holds").
#![allow(unsafe_code)]

use crate::cell_arc::{upcast, CellArc};
use crate::continuation::{
    fire_cell, queue_ready, register_on, register_task, schedule, schedule_on, submit_ready,
    ContShared, Continuation, FireFn, Link, Links,
};
use crate::error::TaskError;
use crate::handle::{TaskHandle, TaskId, TaskRef};
use crate::state::{COMPLETE, DONE, PANICKED};
use crate::sync::{AtomicUsize, Ordering, UnsafeCell};
use crate::task::{Hook, NoHook, TaskCell, TaskCore, Work};
use executor_core::integration::Executor;
use std::marker::PhantomData;

const REGISTERING: usize = 1 << (usize::BITS - 1);
const NONE: usize = usize::MAX;

/// The dependencies of [`submit_after`](crate::ExecutorService::submit_after):
/// handles, whose values the function receives in order, or task references,
/// which only order (the function then receives `()` per reference).
///
/// Made with `From`/`Into` from a `Vec` or an array of [`TaskHandle<T>`], or a
/// `Vec`, an array or a slice of [`TaskRef`]s (`Deps<()>`). A `TaskRef` is
/// cloneable, so one task can come before many: that is how a DAG is written
/// with `submit_after` (see also [`TaskGraph`](crate::TaskGraph)).
///
/// # Examples
///
/// ```
/// use executor_futures::{Deps, ExecutorService};
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let a = pool.submit(|| 1).unwrap();
/// let b = pool.submit(|| 2).unwrap();
/// let deps: Deps<i32> = vec![a, b].into();
/// assert_eq!(deps.len(), 2);
/// let sum = pool.submit_after(deps, |v| v.iter().sum::<i32>());
/// assert_eq!(sum.get().unwrap(), 3);
/// ```
pub struct Deps<T> {
    kind: DepsKind<T>,
}

enum DepsKind<T> {
    Handles(Few<TaskHandle<T>>),
    Refs(Few<TaskRef>, PhantomData<fn() -> T>),
}

/// Up to two items inline (a wavefront cell's dependencies, given as an
/// array), more in a `Vec`: `submit_after([a, b], f)` allocates nothing for
/// its dependencies (measured: the `Vec` was a quarter of the instructions
/// the submitting thread spent per `submit_after`).
pub(crate) enum Few<X> {
    Zero,
    One([X; 1]),
    Two([X; 2]),
    Many(Vec<X>),
}

impl<X> Few<X> {
    #[inline]
    fn as_slice(&self) -> &[X] {
        match self {
            Few::Zero => &[],
            Few::One(a) => a,
            Few::Two(a) => a,
            Few::Many(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [X] {
        match self {
            Few::Zero => &mut [],
            Few::One(a) => a,
            Few::Two(a) => a,
            Few::Many(v) => v,
        }
    }
}

impl<X> From<Vec<X>> for Few<X> {
    /// Kept as it is: the `Vec` is allocated already.
    fn from(v: Vec<X>) -> Self {
        Few::Many(v)
    }
}

impl<X> FromIterator<X> for Few<X> {
    fn from_iter<I: IntoIterator<Item = X>>(items: I) -> Self {
        let mut items = items.into_iter();
        let Some(a) = items.next() else {
            return Few::Zero;
        };
        let Some(b) = items.next() else {
            return Few::One([a]);
        };
        match items.next() {
            None => Few::Two([a, b]),
            Some(c) => {
                let mut v = Vec::with_capacity(3 + items.size_hint().0);
                v.extend([a, b, c]);
                v.extend(items);
                Few::Many(v)
            }
        }
    }
}

impl<X> IntoIterator for Few<X> {
    type Item = X;
    type IntoIter = FewIter<X>;

    fn into_iter(self) -> FewIter<X> {
        match self {
            Few::Zero => FewIter::Zero,
            Few::One(a) => FewIter::One(a.into_iter()),
            Few::Two(a) => FewIter::Two(a.into_iter()),
            Few::Many(v) => FewIter::Many(v.into_iter()),
        }
    }
}

pub(crate) enum FewIter<X> {
    Zero,
    One(std::array::IntoIter<X, 1>),
    Two(std::array::IntoIter<X, 2>),
    Many(std::vec::IntoIter<X>),
}

impl<X> Iterator for FewIter<X> {
    type Item = X;

    fn next(&mut self) -> Option<X> {
        match self {
            FewIter::Zero => None,
            FewIter::One(it) => it.next(),
            FewIter::Two(it) => it.next(),
            FewIter::Many(it) => it.next(),
        }
    }
}

impl<T> Deps<T> {
    /// The number of dependencies.
    pub fn len(&self) -> usize {
        match &self.kind {
            DepsKind::Handles(h) => h.as_slice().len(),
            DepsKind::Refs(r, _) => r.as_slice().len(),
        }
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> std::fmt::Debug for Deps<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            DepsKind::Handles(h) => f.debug_tuple("Deps").field(&h.as_slice()).finish(),
            DepsKind::Refs(r, _) => f.debug_tuple("Deps").field(&r.as_slice()).finish(),
        }
    }
}

impl<T> From<Vec<TaskHandle<T>>> for Deps<T> {
    fn from(handles: Vec<TaskHandle<T>>) -> Self {
        Deps {
            kind: DepsKind::Handles(handles.into()),
        }
    }
}

impl<T, const N: usize> From<[TaskHandle<T>; N]> for Deps<T> {
    fn from(handles: [TaskHandle<T>; N]) -> Self {
        Deps {
            kind: DepsKind::Handles(handles.into_iter().collect()),
        }
    }
}

impl From<Vec<TaskRef>> for Deps<()> {
    fn from(refs: Vec<TaskRef>) -> Self {
        Deps {
            kind: DepsKind::Refs(refs.into(), PhantomData),
        }
    }
}

impl<const N: usize> From<[TaskRef; N]> for Deps<()> {
    fn from(refs: [TaskRef; N]) -> Self {
        Deps {
            kind: DepsKind::Refs(refs.into_iter().collect(), PhantomData),
        }
    }
}

impl From<&[TaskRef]> for Deps<()> {
    fn from(refs: &[TaskRef]) -> Self {
        Deps {
            kind: DepsKind::Refs(refs.iter().cloned().collect(), PhantomData),
        }
    }
}

impl<X> Few<X> {
    #[inline]
    fn map<Y>(self, mut f: impl FnMut(X) -> Y) -> Few<Y> {
        match self {
            Few::Zero => Few::Zero,
            Few::One([a]) => Few::One([f(a)]),
            Few::Two([a, b]) => Few::Two([f(a), f(b)]),
            // Through `FromIterator`: a `Vec` of up to two goes inline.
            Few::Many(v) => v.into_iter().map(f).collect(),
        }
    }
}

impl<T: Send + 'static> Deps<T> {
    /// The cell of dependency `i`.
    #[inline]
    fn core(&self, i: usize) -> &dyn TaskCore {
        match &self.kind {
            DepsKind::Handles(handles) => &**handles.as_slice()[i].raw(),
            DepsKind::Refs(refs, _) => &**refs.as_slice()[i].core(),
        }
    }

    /// Registers `cont` on dependency `i`, as its slot `i`.
    ///
    /// # Safety
    ///
    /// Called at most once per slot of a continuation cell.
    unsafe fn register(&self, i: usize, cont: CellArc<dyn Continuation>) {
        match &self.kind {
            DepsKind::Handles(handles) => {
                // SAFETY: slot `i` once (this function's contract).
                unsafe { register_on(handles.as_slice()[i].raw(), cont, i) };
            }
            DepsKind::Refs(refs, _) => {
                let core = refs.as_slice()[i].core();
                // SAFETY: slot `i` once (this function's contract).
                unsafe { register_task(&**core, &|| core.clone(), cont, i) };
            }
        }
    }

    /// What the cell keeps once registered (module docs): the handles, or
    /// only the references' ids (the references are dropped here, by the
    /// registrant).
    #[inline]
    fn into_held(self) -> Held<T> {
        match self.kind {
            DepsKind::Handles(handles) => Held::Handles(handles),
            DepsKind::Refs(refs, _) => Held::Ids(refs.map(|r| r.id())),
        }
    }
}

/// What a join cell keeps of its dependencies (module docs, "What a join
/// holds").
pub(crate) enum Held<T> {
    /// Handles: their values are taken when the cell runs.
    Handles(Few<TaskHandle<T>>),
    /// Task references' ids: a reference only orders, and its id names it
    /// when it failed. `T` is `()` (the only `From` impls of references).
    Ids(Few<TaskId>),
}

impl<T: Send + 'static> Held<T> {
    fn is_empty(&self) -> bool {
        match self {
            Held::Handles(h) => h.as_slice().is_empty(),
            Held::Ids(ids) => ids.as_slice().is_empty(),
        }
    }

    /// The error of dependency `slot`, which failed.
    fn error_of(&mut self, slot: usize) -> TaskError {
        match self {
            Held::Handles(handles) => handles.as_mut_slice()[slot]
                .take_done()
                .err()
                .unwrap_or(TaskError::Cancelled),
            Held::Ids(ids) => TaskError::DependencyFailed(ids.as_slice()[slot]),
        }
    }

    /// Every value, in order (all dependencies are done, and none failed:
    /// the gate's pick would name it).
    fn values(self) -> Result<Vec<T>, TaskError> {
        match self {
            Held::Handles(handles) => handles.into_iter().map(|mut h| h.take_done()).collect(),
            Held::Ids(ids) => Ok(units::<T>(ids.as_slice().len())),
        }
    }

    /// Value `slot`.
    fn value_of(&mut self, slot: usize) -> Result<T, TaskError> {
        match self {
            Held::Handles(handles) => handles.as_mut_slice()[slot].take_done(),
            Held::Ids(..) => unit::<T>(),
        }
    }

    /// Cancels the dependencies (`all_of_or_cancel`, handles only: references
    /// come from `submit_after`, which never cancels its dependencies).
    fn cancel_rest(&self) {
        if let Held::Handles(handles) = self {
            handles.as_slice().iter().for_each(|h| {
                h.cancel();
            });
        }
    }
}

/// `()` as a `T` that is `()` (reference dependencies).
fn unit<T: 'static>() -> Result<T, TaskError> {
    Ok(as_t(()))
}

/// `n` units as a `Vec<T>` where `T` is `()` (reference dependencies): one
/// type check for the whole `Vec`, which does not allocate (`()` is zero-sized).
fn units<T: 'static>(n: usize) -> Vec<T> {
    as_t(vec![(); n])
}

/// `x` as the type `Y` it is (checked once, no allocation).
fn as_t<X: 'static, Y: 'static>(x: X) -> Y {
    let mut slot = Some(x);
    let any: &mut dyn std::any::Any = &mut slot;
    any.downcast_mut::<Option<Y>>()
        .and_then(Option::take)
        .unwrap_or_else(|| unreachable!("reference dependencies are Deps<()>"))
}

/// What decides a join (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// All succeed (the pick is the first failure).
    All { cancel_rest: bool },
    /// One succeeds (the pick is the first success).
    Any,
}

impl Mode {
    /// Whether a dependency that ended with `state` decides the join.
    fn decisive(self, state: usize) -> bool {
        match self {
            Mode::All { .. } => failed(state),
            Mode::Any => !failed(state),
        }
    }
}

/// The gate and the dependencies, shared by the cell.
pub(crate) struct Gate<T> {
    remaining: AtomicUsize,
    pick: AtomicUsize,
    mode: Mode,
    /// The dependencies, once registered (module docs, "What a join holds"):
    /// written once by the registrant before it clears `REGISTERING` (or
    /// before the cell is shared), taken once by the runner after its claim
    /// or by an idle canceller ([`Work::retire`]).
    held: UnsafeCell<Option<Held<T>>>,
    /// One link per dependency (`continuation.rs`).
    links: Links,
}

// SAFETY: `held` is the only field that is not `Sync`; it is written by the
// registrant before the release of `REGISTERING` (an `AcqRel` RMW that every
// path to a run or a cancel reads first: a run needs `schedule`, which needs
// `REGISTERING` gone; a cancel needs the handle, returned after it), and then
// taken once by the one thread that owns the cell's stage (the claim or an
// idle cancel). So it only ever *moves* between threads: `Send` suffices.
unsafe impl<T: Send> Sync for Gate<T> {}

impl<T> Gate<T> {
    /// Takes the dependencies out.
    ///
    /// # Safety
    ///
    /// The caller owns the cell's stage (the claim, or an idle cancel): see
    /// the field's docs.
    unsafe fn take_held(&self) -> Option<Held<T>> {
        // SAFETY: forwarded from this function's contract.
        self.held.with_mut(|h| unsafe { (*h).take() })
    }
}

/// The work of a join cell: the function applied to the gathered input.
pub(crate) struct Join<T, F> {
    f: F,
    input: PhantomData<fn() -> T>,
}

/// What a join's function takes: all values, or one.
pub(crate) trait Gather<T>: Send + 'static {
    type Input;
    fn gather(held: Held<T>, mode: Mode, pick: usize) -> Result<Self::Input, TaskError>;
}

/// The input is `Vec<T>` (all_of, submit_after).
pub(crate) struct AllValues;
/// The input is one `T` (any_of).
pub(crate) struct OneValue;

impl<T: Send + 'static> Gather<T> for AllValues {
    type Input = Vec<T>;
    fn gather(mut held: Held<T>, mode: Mode, pick: usize) -> Result<Vec<T>, TaskError> {
        if pick == NONE {
            return held.values();
        }
        if mode == (Mode::All { cancel_rest: true }) {
            held.cancel_rest();
        }
        Err(held.error_of(pick))
    }
}

impl<T: Send + 'static> Gather<T> for OneValue {
    type Input = T;
    fn gather(mut held: Held<T>, _mode: Mode, pick: usize) -> Result<T, TaskError> {
        if pick != NONE {
            return held.value_of(pick);
        }
        // All failed: report the first in input order; none at all: cancelled.
        if held.is_empty() {
            Err(TaskError::Cancelled)
        } else {
            Err(held.error_of(0))
        }
    }
}

impl<T, U, G, F> Work<U> for Join<(T, G), F>
where
    T: Send + 'static,
    U: Send + 'static,
    G: Gather<T>,
    F: FnOnce(G::Input) -> U + Send + 'static,
{
    const RUN_INLINE: bool = true;
    type Shared = ContShared<Gate<T>>;

    fn run<H: Hook<U>>(cell: CellArc<TaskCell<Self, U, H>>) {
        // SAFETY: `run` is called by the thread that won the claim.
        let Some(Join { f, .. }) = (unsafe { cell.take_work() }) else {
            unreachable!("a claimed continuation holds its work")
        };
        let gate = &cell.shared().extra;
        let pick = gate.pick.load(Ordering::Acquire);
        // SAFETY: this thread holds the claim.
        let outcome = match unsafe { gate.take_held() } {
            Some(held) => G::gather(held, gate.mode, pick),
            None => unreachable!("the registrant hands the dependencies over before it is ready"),
        };
        crate::continuation::complete(cell, outcome.map(|input| move || f(input)));
    }

    fn retire(shared: &Self::Shared) {
        // Cancelled before it ran: detach the dependencies now.
        // SAFETY: `retire` is called by the idle canceller, which owns the
        // stage for good (`task.rs`).
        let held = unsafe { shared.extra.take_held() };
        crate::task::drop_quietly(held);
    }

    fn cancelled_error(shared: &Self::Shared) -> TaskError {
        shared.cancelled_error()
    }
}

fn failed(state: usize) -> bool {
    state & DONE != COMPLETE || state & PANICKED != 0
}

impl<T, U, G, F, H> Continuation for TaskCell<Join<(T, G), F>, U, H>
where
    T: Send + 'static,
    U: Send + 'static,
    G: Gather<T>,
    F: FnOnce(G::Input) -> U + Send + 'static,
    H: Hook<U>,
{
    fn upstream_done(this: CellArc<Self>, slot: usize, state: usize) {
        let gate = &this.shared().extra;
        if gate.mode.decisive(state) {
            // Release: the pick is read by the runner (through the schedule's
            // RMWs) and by the registrant (through `remaining`).
            let _ = gate
                .pick
                .compare_exchange(NONE, slot, Ordering::AcqRel, Ordering::Acquire);
            let prev = gate.remaining.fetch_sub(1, Ordering::AcqRel);
            if prev & REGISTERING == 0 {
                schedule(this);
            }
        } else if gate.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            schedule(this);
        }
    }

    fn fire_fn(&self) -> FireFn {
        fire_cell::<Self>
    }

    fn link(&self, slot: usize) -> &Link {
        self.shared().extra.links.get(slot)
    }

    fn slot_of(&self, link: *const Link) -> usize {
        self.shared().extra.links.slot_of(link)
    }
}

/// Builds, registers and releases a join cell (module docs).
fn join<T, U, G, F, E>(deps: Deps<T>, mode: Mode, f: F, exec: Option<&E>) -> TaskHandle<U>
where
    T: Send + 'static,
    U: Send + 'static,
    G: Gather<T>,
    F: FnOnce(G::Input) -> U + Send + 'static,
    E: Executor + ?Sized,
{
    let n = deps.len();
    let work = Join::<(T, G), F> {
        f,
        input: PhantomData,
    };
    // Ready already? Every dependency done: no link, no registration, and the
    // cell is made runnable (`NOTIFIED`) from the start.
    let mut pick = NONE;
    let mut all_done = true;
    for i in 0..n {
        let s = deps.core(i).state_word().load();
        if s & DONE == 0 {
            all_done = false;
            break;
        }
        if pick == NONE && mode.decisive(s) {
            pick = i;
        }
    }
    if all_done {
        let cell = TaskCell::new(
            work,
            ContShared::new(Gate {
                remaining: AtomicUsize::new(0),
                pick: AtomicUsize::new(pick),
                mode,
                held: UnsafeCell::new(Some(deps.into_held())),
                links: Links::new(0),
            }),
            NoHook,
        );
        match exec {
            Some(exec) => submit_ready(cell.clone(), exec),
            None => queue_ready(cell.clone()),
        }
        return TaskHandle::from_raw(upcast!(cell));
    }
    let cell = TaskCell::new_deferred(
        work,
        ContShared::new(Gate {
            remaining: AtomicUsize::new(n | REGISTERING),
            pick: AtomicUsize::new(NONE),
            mode,
            held: UnsafeCell::new(None),
            links: Links::new(n),
        }),
        NoHook,
    );
    let gate = &cell.shared().extra;
    // Dependencies done by now are settled here, without a link: counted
    // off `remaining` with `REGISTERING` below.
    let mut settled = 0;
    for i in 0..n {
        let s = deps.core(i).state_word().load();
        if s & DONE == 0 {
            // SAFETY: the cell was just made; slot `i` is registered once, here.
            unsafe { deps.register(i, upcast!(cell.clone())) };
            continue;
        }
        settled += 1;
        if mode.decisive(s) {
            let _ = gate
                .pick
                .compare_exchange(NONE, i, Ordering::AcqRel, Ordering::Acquire);
        }
    }
    let held = deps.into_held();
    // SAFETY: nothing reads `held` before `REGISTERING` is gone (the field's
    // docs): a run needs it gone, a cancel needs the handle returned below.
    gate.held.with_mut(|h| unsafe { *h = Some(held) });
    let prev = gate
        .remaining
        .fetch_sub(REGISTERING + settled, Ordering::AcqRel);
    if prev == REGISTERING + settled || gate.pick.load(Ordering::Acquire) != NONE {
        match exec {
            Some(exec) => schedule_on(cell.clone(), exec),
            None => schedule(cell.clone()),
        }
    }
    TaskHandle::from_raw(upcast!(cell))
}

/// A handle to all the values, in input order, once every task completed;
/// or the first failure (fail fast: resolved as soon as one fails, without
/// waiting for the others, which keep running). Java's `allOf`.
///
/// The outcome is decided by a continuation on each task (an atomic decrement
/// when one completes), never by a waiting thread. A failed task's error is
/// the handle's error (its panic payload, or cancelled). An empty input is done
/// at once with an empty `Vec`.
///
/// # Examples
///
/// ```
/// use executor_futures::{all_of, ExecutorService};
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let handles: Vec<_> = (1..=4).map(|i| pool.submit(move || i * 10).unwrap()).collect();
/// assert_eq!(all_of(handles).get().unwrap(), [10, 20, 30, 40]);
///
/// let mixed = vec![pool.submit(|| 1).unwrap(), pool.submit(|| panic!("bad")).unwrap()];
/// assert_eq!(all_of(mixed).get().unwrap_err().message(), Some("bad"));
/// assert!(all_of(Vec::<executor_futures::TaskHandle<u8>>::new()).get().unwrap().is_empty());
/// ```
pub fn all_of<T, I>(handles: I) -> TaskHandle<Vec<T>>
where
    T: Send + 'static,
    I: IntoIterator<Item = TaskHandle<T>>,
{
    all_values(handles, false)
}

/// [`all_of`] that also cancels the other tasks when one fails.
///
/// # Examples
///
/// ```
/// use executor_futures::{all_of_or_cancel, is_cancelled, ExecutorService};
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let forever = pool.submit(|| while !is_cancelled() { std::thread::yield_now() }).unwrap();
/// let watch = forever.task_ref();
/// let failing = pool.submit(|| panic!("stop")).unwrap();
/// assert!(all_of_or_cancel([forever, failing]).get().unwrap_err().is_panic());
/// watch.wait().unwrap();
/// assert!(watch.is_cancelled());
/// ```
pub fn all_of_or_cancel<T, I>(handles: I) -> TaskHandle<Vec<T>>
where
    T: Send + 'static,
    I: IntoIterator<Item = TaskHandle<T>>,
{
    all_values(handles, true)
}

/// `all_of` and `all_of_or_cancel`: no executor (the cell runs where the
/// deciding dependency completes).
fn all_values<T, I>(handles: I, cancel_rest: bool) -> TaskHandle<Vec<T>>
where
    T: Send + 'static,
    I: IntoIterator<Item = TaskHandle<T>>,
{
    let deps = Deps {
        kind: DepsKind::Handles(handles.into_iter().collect()),
    };
    join::<T, Vec<T>, AllValues, _, executor_core::integration::InlineExecutor>(
        deps,
        Mode::All { cancel_rest },
        |v| v,
        None,
    )
}

/// A handle to the value of the first task that completes without panicking or
/// being cancelled. If every task fails, the handle reports the failure of the
/// first one in input order; the others are not cancelled (keep their
/// [`TaskRef`]s to cancel them). An empty input is done at once as cancelled
/// (module docs explain why not Java's never-completing `anyOf()`).
///
/// # Examples
///
/// ```
/// use executor_futures::{any_of, ExecutorService};
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let fails = pool.submit(|| -> &str { panic!("mirror down") }).unwrap();
/// let works = pool.submit(|| "mirror 2").unwrap();
/// assert_eq!(any_of([fails, works]).get().unwrap(), "mirror 2");
/// assert!(any_of(Vec::<executor_futures::TaskHandle<u8>>::new()).get().unwrap_err().is_cancelled());
/// ```
pub fn any_of<T, I>(handles: I) -> TaskHandle<T>
where
    T: Send + 'static,
    I: IntoIterator<Item = TaskHandle<T>>,
{
    let deps = Deps {
        kind: DepsKind::Handles(handles.into_iter().collect()),
    };
    join::<T, T, OneValue, _, executor_core::integration::InlineExecutor>(
        deps,
        Mode::Any,
        |v| v,
        None,
    )
}

/// `submit_after` for `ExecutorService` (see there).
pub(crate) fn submit_after<T, U, F, E>(exec: &E, deps: Deps<T>, f: F) -> TaskHandle<U>
where
    T: Send + 'static,
    U: Send + 'static,
    F: FnOnce(Vec<T>) -> U + Send + 'static,
    E: Executor + ?Sized,
{
    join::<T, U, AllValues, F, E>(deps, Mode::All { cancel_rest: false }, f, Some(exec))
}

/// Model checks of the join protocol (module docs): the registrant settles
/// the dependencies done already and registers on the others while they
/// complete or are cancelled; the cell runs its function once, or resolves
/// once with the failure, and never before its dependencies are decided. Run
/// with `RUSTFLAGS="--cfg loom" cargo test -p executor-futures --lib --release loom`.
#[cfg(all(test, loom))]
mod loom_model {
    use super::*;
    use crate::task::Call;
    use executor_core::integration::InlineExecutor;
    use loom::thread;
    use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
    use std::sync::Arc;

    #[test]
    fn loom_join_registration_vs_two_completions_runs_once() {
        loom::model(|| {
            let a = TaskCell::new(Call(|| 1u32), (), NoHook);
            let b = TaskCell::new(Call(|| 2u32), (), NoHook);
            let (ja, jb) = (a.clone().into_job(), b.clone().into_job());
            let ta = thread::spawn(move || ja.run());
            let tb = thread::spawn(move || jb.run());
            let deps: Deps<u32> = vec![
                TaskHandle::from_raw(upcast!(a)),
                TaskHandle::from_raw(upcast!(b)),
            ]
            .into();
            let runs = Arc::new(StdAtomicUsize::new(0));
            let r = runs.clone();
            let down = join::<u32, u32, AllValues, _, InlineExecutor>(
                deps,
                Mode::All { cancel_rest: false },
                move |v: Vec<u32>| {
                    r.fetch_add(1, StdOrdering::SeqCst);
                    v.iter().sum()
                },
                None,
            );
            ta.join().unwrap();
            tb.join().unwrap();
            // Off the pool, the cell ran inline on whichever thread readied it.
            assert!(down.is_done());
            assert_eq!(down.get().unwrap(), 3);
            assert_eq!(runs.load(StdOrdering::SeqCst), 1, "ran once");
        });
    }

    /// Task references (kept as ids once registered): one done before (it is
    /// settled by the registrant), the other cancelled while the join is
    /// built (the pick races `REGISTERING`); the join resolves once as the
    /// cancelled one's failure, its function never runs. (Both racing made a
    /// model that did not finish in 10 minutes; the two-completions model
    /// above has both race.)
    #[test]
    fn loom_join_on_refs_vs_cancel_fails_once() {
        loom::model(|| {
            let a = TaskCell::new(Call(|| ()), (), NoHook);
            let b = TaskCell::new(Call(|| ()), (), NoHook);
            let b_id = TaskCore::id(&*b);
            a.clone().into_job().run();
            let canceller = b.clone();
            let tb = thread::spawn(move || canceller.cancel());
            let deps: Deps<()> = [
                TaskRef::from_core(upcast!(a)),
                TaskRef::from_core(upcast!(b)),
            ]
            .into();
            let runs = Arc::new(StdAtomicUsize::new(0));
            let r = runs.clone();
            let down = join::<(), (), AllValues, _, InlineExecutor>(
                deps,
                Mode::All { cancel_rest: false },
                move |_: Vec<()>| {
                    r.fetch_add(1, StdOrdering::SeqCst);
                },
                None,
            );
            assert!(tb.join().unwrap(), "nothing else ends b");
            assert!(down.is_done());
            match down.get() {
                Err(TaskError::DependencyFailed(id)) => assert_eq!(id, b_id),
                other => panic!("{other:?}"),
            }
            assert_eq!(runs.load(StdOrdering::SeqCst), 0, "never ran");
        });
    }
}
