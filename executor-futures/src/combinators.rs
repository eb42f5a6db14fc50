//! Joining several tasks without a waiting thread: [`all_of`],
//! [`all_of_or_cancel`], [`any_of`] and
//! [`ExecutorService::submit_after`](crate::ExecutorService::submit_after).
//!
//! Each is one continuation cell (`continuation.rs`) registered on every
//! dependency, plus a **gate**: one atomic counter and one atomic "pick".
//!
//! ```text
//!  remaining = n | REGISTERING        pick = NONE
//!
//!  dependency i done ──▶ decisive?  (all_of: it failed;  any_of: it succeeded)
//!     │ yes: CAS pick NONE → i; remaining -= 1; REGISTERING clear? → ready
//!     │ no:  remaining -= 1;  it was the last (remaining was exactly 1)? → ready
//!  registrant, after registering on all n: remaining -= REGISTERING;
//!     nothing left, or a pick was made meanwhile? → ready
//! ```
//!
//! `REGISTERING` keeps the cell from running while the registrant still reads
//! the dependencies (they are then handed to the cell under its mutex, which
//! only the runner takes after that). "Ready" is `schedule`: the first one
//! queues the cell, any later one is a no-op (the state word decides), so a
//! dependency failing fast and the last one completing never run it twice. One
//! atomic decrement per completed dependency; the cell runs from the completion
//! of the deciding dependency, on that worker's deque.
//!
//! Empty inputs: `all_of([])` is done at once with `[]` (Java's `allOf()`);
//! `any_of([])` is done at once as cancelled: Java's `anyOf()` returns a future
//! that never completes, whose `get` would hang, and no task can succeed.

// The stage accessor of `TaskCell` is `unsafe` (see `task.rs`): used once, by
// the thread that holds the claim.
#![allow(unsafe_code)]

use crate::continuation::{
    register_on, register_task, schedule, schedule_on, ContShared, Continuation, Link, Links,
};
use crate::error::TaskError;
use crate::handle::{TaskHandle, TaskRef};
use crate::state::{COMPLETE, DONE, PANICKED};
use crate::sync::{lock, AtomicUsize, Mutex, Ordering};
use crate::task::{Hook, NoHook, TaskCell, Work};
use executor_core::integration::Executor;
use std::marker::PhantomData;
use std::sync::Arc;

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
enum Few<X> {
    Zero,
    One([X; 1]),
    Two([X; 2]),
    Many(Vec<X>),
}

impl<X> Few<X> {
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

enum FewIter<X> {
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

impl<T: Send + 'static> Deps<T> {
    /// Registers `cont` on every dependency, dependency `i` as its slot `i`.
    ///
    /// # Safety
    ///
    /// Called once per continuation cell.
    unsafe fn register(&self, cont: &Arc<dyn Continuation>) {
        match &self.kind {
            DepsKind::Handles(handles) => {
                for (i, h) in handles.as_slice().iter().enumerate() {
                    // SAFETY: slot `i` once (this function's contract).
                    unsafe { register_on(h.raw(), cont.clone(), i) };
                }
            }
            DepsKind::Refs(refs, _) => {
                for (i, r) in refs.as_slice().iter().enumerate() {
                    let core = r.core();
                    // SAFETY: slot `i` once (this function's contract).
                    unsafe { register_task(&**core, &|| core.clone(), cont.clone(), i) };
                }
            }
        }
    }

    /// The error of dependency `slot`, which failed.
    fn error_of(&mut self, slot: usize) -> TaskError {
        match &mut self.kind {
            DepsKind::Handles(handles) => handles.as_mut_slice()[slot]
                .take_done()
                .err()
                .unwrap_or(TaskError::Cancelled),
            DepsKind::Refs(refs, _) => TaskError::DependencyFailed(refs.as_slice()[slot].id()),
        }
    }

    /// Every value, in order (all dependencies are done).
    fn values(self) -> Result<Vec<T>, TaskError> {
        match self.kind {
            DepsKind::Handles(handles) => handles.into_iter().map(|mut h| h.take_done()).collect(),
            DepsKind::Refs(refs, _) => {
                let mut out = Vec::with_capacity(refs.as_slice().len());
                for r in refs.as_slice() {
                    if r.state() != crate::TaskState::Completed {
                        return Err(TaskError::DependencyFailed(r.id()));
                    }
                    // `T` is `()` for references (the only `From` impls).
                    out.push(unit::<T>()?);
                }
                Ok(out)
            }
        }
    }

    /// Value `slot`.
    fn value_of(&mut self, slot: usize) -> Result<T, TaskError> {
        match &mut self.kind {
            DepsKind::Handles(handles) => handles.as_mut_slice()[slot].take_done(),
            DepsKind::Refs(..) => unit::<T>(),
        }
    }

    fn cancel_rest(&self) {
        match &self.kind {
            DepsKind::Handles(handles) => handles.as_slice().iter().for_each(|h| {
                h.cancel();
            }),
            DepsKind::Refs(refs, _) => refs.as_slice().iter().for_each(|r| {
                r.cancel();
            }),
        }
    }
}

/// `()` as a `T` that is `()` (reference dependencies).
fn unit<T: 'static>() -> Result<T, TaskError> {
    let boxed: Box<dyn std::any::Any> = Box::new(());
    boxed
        .downcast::<T>()
        .map(|b| *b)
        .map_err(|_| unreachable!("reference dependencies are Deps<()>"))
}

/// What decides a join (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// All succeed (the pick is the first failure).
    All { cancel_rest: bool },
    /// One succeeds (the pick is the first success).
    Any,
}

/// The gate and the dependencies, shared by the cell.
pub(crate) struct Gate<T> {
    remaining: AtomicUsize,
    pick: AtomicUsize,
    mode: Mode,
    deps: Mutex<Option<Deps<T>>>,
    /// One link per dependency (`continuation.rs`).
    links: Links,
}

/// The work of a join cell: the function applied to the gathered input.
pub(crate) struct Join<T, F> {
    f: F,
    input: PhantomData<fn() -> T>,
}

/// What a join's function takes: all values, or one.
pub(crate) trait Gather<T>: Send + 'static {
    type Input;
    fn gather(deps: &mut Deps<T>, mode: Mode, pick: usize) -> Result<Self::Input, TaskError>;
}

/// The input is `Vec<T>` (all_of, submit_after).
pub(crate) struct AllValues;
/// The input is one `T` (any_of).
pub(crate) struct OneValue;

impl<T: Send + 'static> Gather<T> for AllValues {
    type Input = Vec<T>;
    fn gather(deps: &mut Deps<T>, mode: Mode, pick: usize) -> Result<Vec<T>, TaskError> {
        if pick == NONE {
            let all = std::mem::replace(deps, Deps::from(Vec::<TaskHandle<T>>::new()));
            return all.values();
        }
        if mode == (Mode::All { cancel_rest: true }) {
            deps.cancel_rest();
        }
        Err(deps.error_of(pick))
    }
}

impl<T: Send + 'static> Gather<T> for OneValue {
    type Input = T;
    fn gather(deps: &mut Deps<T>, _mode: Mode, pick: usize) -> Result<T, TaskError> {
        if pick != NONE {
            return deps.value_of(pick);
        }
        // All failed: report the first in input order; none at all: cancelled.
        if deps.is_empty() {
            Err(TaskError::Cancelled)
        } else {
            Err(deps.error_of(0))
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

    fn run<H: Hook<U>>(cell: Arc<TaskCell<Self, U, H>>) {
        // SAFETY: `run` is called by the thread that won the claim.
        let Some(Join { f, .. }) = (unsafe { cell.take_work() }) else {
            unreachable!("a claimed continuation holds its work")
        };
        let gate = &cell.shared().extra;
        let pick = gate.pick.load(Ordering::Acquire);
        let deps = lock(&gate.deps).take();
        let outcome = match deps {
            Some(mut deps) => G::gather(&mut deps, gate.mode, pick),
            None => unreachable!("the registrant hands the dependencies over before it is ready"),
        };
        crate::continuation::complete(cell, outcome.map(|input| move || f(input)));
    }

    fn retire(shared: &Self::Shared) {
        // Cancelled before it ran: detach the dependencies now.
        let deps = lock(&shared.extra.deps).take();
        crate::task::drop_quietly(deps);
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
    fn upstream_done(self: Arc<Self>, slot: usize, state: usize) {
        let gate = &self.shared().extra;
        let decisive = match gate.mode {
            Mode::All { .. } => failed(state),
            Mode::Any => !failed(state),
        };
        if decisive {
            // Release: the pick is read by the runner (through the schedule's
            // RMWs) and by the registrant (through `remaining`).
            let _ = gate
                .pick
                .compare_exchange(NONE, slot, Ordering::AcqRel, Ordering::Acquire);
            let prev = gate.remaining.fetch_sub(1, Ordering::AcqRel);
            if prev & REGISTERING == 0 {
                schedule(self);
            }
        } else if gate.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            schedule(self);
        }
    }

    fn link(&self, slot: usize) -> &Link {
        self.shared().extra.links.get(slot)
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
    let cell = TaskCell::new_deferred(
        Join::<(T, G), F> {
            f,
            input: PhantomData,
        },
        ContShared::new(Gate {
            remaining: AtomicUsize::new(n | REGISTERING),
            pick: AtomicUsize::new(NONE),
            mode,
            deps: Mutex::new(None),
            links: Links::new(n),
        }),
        NoHook,
    );
    let cont: Arc<dyn Continuation> = cell.clone();
    // SAFETY: the cell was just made; it is registered once, here.
    unsafe { deps.register(&cont) };
    drop(cont);
    let gate = &cell.shared().extra;
    *lock(&gate.deps) = Some(deps);
    let prev = gate.remaining.fetch_sub(REGISTERING, Ordering::AcqRel);
    if prev == REGISTERING || gate.pick.load(Ordering::Acquire) != NONE {
        match exec {
            Some(exec) => schedule_on(cell.clone(), exec),
            None => schedule(cell.clone()),
        }
    }
    TaskHandle::from_raw(cell)
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
