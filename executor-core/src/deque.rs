//! A worker's own queue of the jobs spawned on it: crossbeam's LIFO
//! (Chase–Lev) deque with a one-job **slot** in front of it that holds the
//! newest job a job spawned (`execute` from a worker), and the stealers'
//! view of the pair.
//!
//! **Order.** The slot, when full, holds the newest job of the pair, and the
//! deque everything older: a push while the slot is full first moves the
//! slot's job onto the deque (*evicts* it). The owner takes the slot first,
//! then the deque's newest; a thief takes the deque's oldest, and the slot
//! only when the deque is empty. So the pair behaves as one deque: LIFO for
//! the owner, oldest first for thieves. (One race bends the thieves' order:
//! a thief that found the deque empty may take the slot's job just after
//! the owner evicted an older one onto the deque. Nothing relies on the
//! order in which thieves take inside jobs; a `join`'s `b` never sits in
//! the slot (below), and the floor of a running job's subtree, its length
//! at the job's start, stays a lower bound, see `worker.rs`.)
//!
//! **Why a slot.** In a chain of spawns (each job spawns the next:
//! `chained_spawn`, `ping_pong`) the deque holds one job at a time: the
//! owner pushes it and pops it back a few tens of nanoseconds later. A push
//! from a job needs a full fence (the handshakes with sleeping workers and
//! with `shutdown_now`, see `registry.rs`), and crossbeam's pop of the
//! deque's last job costs a SeqCst fence *and* a CAS (the owner and a thief
//! must not both take it): three locked instructions per link, measured
//! with `perf` on one worker as about half of a link's 45 ns. The slot needs
//! two: the push is one SeqCst swap of the slot's state, which also serves
//! as the push's fence, and the owner takes the job back with one CAS.
//!
//! **The swap as the fence.** The handshakes pair the pusher's
//! push–fence–load with the other side's write–fence–look (a sleeper's
//! registration, a searcher leaving, a blocker's token: RMW of the sleep
//! word, then `fence(SeqCst)`; `shutdown_now`: the state change, then
//! `fence(SeqCst)`). Here the push is a SeqCst read-modify-write A of the
//! slot's state, and the pusher's later loads B of the sleep word and of
//! the lifecycle are SeqCst. Suppose both sides miss: B reads the word
//! before the other side's write C, and the other side's look D (after its
//! fence F) reads the slot before A. In C++20's model, which Rust's
//! atomics follow, the single total order S of SeqCst operations then
//! has B before C (both SeqCst, B coherence-ordered before C), C before F
//! (sequenced), F before A (F happens before D, D is coherence-ordered
//! before A, A is SeqCst: \[atomics.order\] p4.3), and A before B
//! (sequenced): a cycle, so one side sees the other. On x86-64 the swap is
//! an `xchg` (a full barrier); on AArch64 a release-acquire RMW followed by
//! an acquire load, which RCsc orders. The same holds for a CAS that
//! replaces the slot's job. loom treats SeqCst accesses as AcqRel (its
//! README says so), so it cannot check this step; under `--cfg loom` a
//! `fence(SeqCst)` follows the swap (`loom_fence`), and the model
//! `loom_swap_is_the_push_fence` at the bottom checks the rest of the
//! handshake with `crate::sleep`. Measured with `perf` on one worker
//! (`spawn_cost chained_spawn`): the push's `lock or` fence was 66% of the
//! samples in the spawning closure, the pop's fence and CAS 85% of
//! `Worker::pop`'s.
//!
//! **What stays on the deque.** `join`'s second half goes onto the deque
//! (after evicting a full slot, to keep the order): its pop needs no fence
//! for a handshake, and fork-join recursion would evict on every level. A
//! worker that never spawns from a job (fib) pays one owner-local check
//! per push and per pop for the slot. A loop of spawns (`spawn_inside`)
//! evicts on each push: a CAS and a deque push, then the swap, where the
//! deque alone took a push and a fence.
//!
//! **Exactly once.** The slot's state is EMPTY, FULL or TAKEN (a thief is
//! copying the job out). Only the owner turns EMPTY into FULL (after
//! writing the job); the owner takes the job back with a CAS FULL → EMPTY,
//! a thief with a CAS FULL → TAKEN, then reads it and stores EMPTY. One CAS
//! wins; the owner writes the next job only once the state is EMPTY again
//! (it waits out a thief's copy, a few nanoseconds). The loom model
//! `loom_slot_job_taken_once` checks it.

#![allow(unsafe_code)]

use crate::job::Job;
use crate::sync::{AtomicUsize, Ordering, UnsafeCell};
use crossbeam_deque::{Steal, Stealer as DequeStealer, Worker};
use crossbeam_utils::CachePadded;
use std::cell::Cell;
use std::mem::MaybeUninit;

#[cfg(not(loom))]
use std::sync::Arc;

#[cfg(loom)]
use loom::sync::Arc;

/// The slot's state: low two bits EMPTY, FULL or TAKEN; bit [`CELL`] says
/// which of the two cells holds the value.
const EMPTY: usize = 0;
const FULL: usize = 1;
const TAKEN: usize = 2;
const TAG: usize = 3;
const CELL: usize = 4;

/// Under loom, the fence that the SeqCst read-modify-write before it is in
/// C++20's model (module docs, "The swap as the fence"): loom treats SeqCst
/// accesses as AcqRel (its README), so the models check the handshakes with
/// this fence standing for what the swap guarantees. Nothing otherwise.
#[inline(always)]
fn loom_fence() {
    #[cfg(loom)]
    crate::sync::fence(Ordering::SeqCst);
}

/// The state of a FULL slot whose value is in cell `i`.
fn full(i: usize) -> usize {
    FULL | (i * CELL)
}

/// A one-value cell that its owner fills, replaces and takes back, and that
/// thieves may take (module docs, "Exactly once"). Two cells: the owner
/// writes a new value into the cell the state does not name, so that one
/// CAS both publishes it and takes the old one back.
pub(crate) struct Slot<T> {
    state: AtomicUsize,
    cells: [UnsafeCell<MaybeUninit<T>>; 2],
}

// SAFETY: values move between threads (a thief takes one), so `T: Send`. A
// cell is accessed by one thread at a time: the owner writes only the cell the
// state does not name (or either while EMPTY, when no thief reads), and reads
// one only after its CAS took it; a thief reads the named cell only after its
// CAS to TAKEN, which stops the owner from naming or taking that cell until
// the thief stores EMPTY.
unsafe impl<T: Send> Sync for Slot<T> {}
// SAFETY: as above; the slot owns at most one `T`.
unsafe impl<T: Send> Send for Slot<T> {}

impl<T> Slot<T> {
    pub(crate) fn new() -> Self {
        Slot {
            state: AtomicUsize::new(EMPTY),
            cells: [
                UnsafeCell::new(MaybeUninit::uninit()),
                UnsafeCell::new(MaybeUninit::uninit()),
            ],
        }
    }

    /// Owner: writes `value` into cell `i`, which the state does not name.
    #[inline]
    fn write(&self, i: usize, value: T) {
        // SAFETY: the caller's contract (`put`, `replace`): no thief reads cell
        // `i` (a thief reads only the cell a FULL state names, after its CAS),
        // and the owner's own value there, if any, was taken out before.
        self.cells[i & 1].with_mut(|p| unsafe { (*p).write(value) });
    }

    /// Owner: reads cell `i` after winning it by a CAS.
    #[inline]
    fn read(&self, i: usize) -> T {
        // SAFETY: the caller's CAS moved `full(i)` away: the value `write`
        // put in cell `i` is this thread's alone now.
        self.cells[i & 1].with(|p| unsafe { (*p).assume_init_read() })
    }

    /// Owner: stores `value` in cell `i` of an EMPTY slot (or of one whose
    /// thief is still copying out the other cell) and publishes it with one
    /// SeqCst swap, which is also the caller's fence (module docs).
    #[inline]
    pub(crate) fn put(&self, i: usize, value: T) {
        self.write(i, value);
        self.wait_taken();
        let prev = self.state.swap(full(i), Ordering::SeqCst);
        debug_assert_eq!(prev, EMPTY);
        loom_fence();
    }

    /// Owner: the slot holds its value in cell `1 - i` (unless a thief took
    /// it): puts `value` in cell `i` and takes the old value back with one
    /// SeqCst CAS, the caller's fence. `None` if a thief took the old value
    /// (the new one is published all the same, by `put`).
    #[inline]
    pub(crate) fn replace(&self, i: usize, value: T) -> Option<T> {
        self.write(i, value);
        match self
            .state
            .compare_exchange(full(1 - i), full(i), Ordering::SeqCst, Ordering::Relaxed)
        {
            Ok(_) => {
                loom_fence();
                Some(self.read(1 - i))
            }
            Err(_) => {
                // A thief has the old value: wait out its copy, then publish.
                self.wait_taken();
                let prev = self.state.swap(full(i), Ordering::SeqCst);
                debug_assert_eq!(prev, EMPTY);
                loom_fence();
                None
            }
        }
    }

    /// Owner: takes its value back from cell `i`, unless a thief took it (or
    /// is taking it).
    #[inline]
    pub(crate) fn take(&self, i: usize) -> Option<T> {
        match self
            .state
            .compare_exchange(full(i), EMPTY, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Some(self.read(i)),
            Err(_) => None,
        }
    }

    /// Owner: waits until a thief that is taking a value has finished
    /// copying it out.
    #[inline]
    fn wait_taken(&self) {
        // Acquire: the thief's read of its cell happens before the owner
        // names that cell again.
        while self.state.load(Ordering::Acquire) & TAG == TAKEN {
            #[cfg(loom)]
            loom::thread::yield_now();
            #[cfg(not(loom))]
            std::hint::spin_loop();
        }
    }

    /// Thief: takes the value if there is one. `Retry` if the owner or another
    /// thief took or replaced it between the look and the CAS.
    #[inline]
    pub(crate) fn steal(&self) -> Steal<T> {
        // SeqCst: the look of a sleeper's re-check or of the shutdown drain
        // (module docs, "The swap as the fence").
        let state = self.state.load(Ordering::SeqCst);
        if state & TAG != FULL {
            return Steal::Empty;
        }
        let i = state / CELL;
        if self
            .state
            .compare_exchange(
                state,
                TAKEN | (i * CELL),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return Steal::Retry;
        }
        // SAFETY: the CAS moved `full(i)` to TAKEN: the owner neither takes
        // nor writes cell `i` until it sees EMPTY, stored below after the read.
        let value = self.cells[i & 1].with(|p| unsafe { (*p).assume_init_read() });
        self.state.store(EMPTY, Ordering::Release);
        Steal::Success(value)
    }

    /// Whether the slot holds a value nobody is taking (a SeqCst load, see
    /// [`Slot::steal`]).
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.state.load(Ordering::SeqCst) & TAG == FULL
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        let state = self.state.load(Ordering::Relaxed);
        if state & TAG == FULL {
            // SAFETY: FULL and the slot is being dropped: nobody else can reach
            // the named cell's value, which `write` initialised.
            self.cells[state / CELL].with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}

/// What the owner knows of its slot without reading it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mine {
    /// EMPTY: the owner took its last job back (or never put one).
    Free,
    /// The owner put a job in cell `cell` and has not taken it back; a thief
    /// may have.
    Put,
    /// A take back failed: a thief took the job and may still be copying it.
    Lost,
}

/// The owner's side: a worker's LIFO deque and its slot (module docs).
pub(crate) struct LocalDeque {
    deque: Worker<Job>,
    slot: Arc<CachePadded<Slot<Job>>>,
    mine: Cell<Mine>,
    /// The cell of the owner's last put.
    cell: Cell<usize>,
}

impl LocalDeque {
    pub(crate) fn new() -> Self {
        LocalDeque {
            deque: Worker::new_lifo(),
            slot: Arc::new(CachePadded::new(Slot::new())),
            mine: Cell::new(Mine::Free),
            cell: Cell::new(0),
        }
    }

    /// The thieves' side of this deque.
    pub(crate) fn stealer(&self) -> Stealer {
        Stealer {
            deque: self.deque.stealer(),
            slot: self.slot.clone(),
        }
    }

    /// Pushes a job spawned by a job as the newest, into the slot (its
    /// previous job, if still there, goes onto the deque). Has exactly one
    /// SeqCst read-modify-write of the slot (two if a thief is taking the
    /// previous job): the caller's SeqCst loads after it are ordered after
    /// the push (module docs, "The swap as the fence").
    #[inline(always)]
    pub(crate) fn push_fenced(&self, job: Job) {
        let i = 1 - self.cell.get();
        if self.mine.get() == Mine::Put {
            if let Some(old) = self.slot.replace(i, job) {
                // Older than the new job, newer than the deque's.
                self.deque.push(old);
            }
        } else {
            self.slot.put(i, job);
        }
        self.cell.set(i);
        self.mine.set(Mine::Put);
    }

    /// Pushes a job as the newest onto the deque, with no fence (`join`'s
    /// second half: see `WorkerThread::push_fork`). A `join` pays one
    /// compare for the slot: the eviction is out of line, so that the job
    /// stays in registers on the way to the deque (callgrind, one worker,
    /// `fib_fine`: inlined, it cost 7 more instructions per join).
    #[inline]
    pub(crate) fn push(&self, job: Job) {
        if self.mine.get() == Mine::Put {
            return self.evict_and_push(job);
        }
        self.deque.push(job);
    }

    /// [`LocalDeque::push`] when the slot may hold a job: that job, older
    /// than `job`, goes onto the deque first (unless a thief took it).
    #[inline(never)]
    fn evict_and_push(&self, job: Job) {
        match self.slot.take(self.cell.get()) {
            Some(old) => {
                self.deque.push(old);
                self.mine.set(Mine::Free);
            }
            None => self.mine.set(Mine::Lost),
        }
        self.deque.push(job);
    }

    /// Takes back the job the last [`push_fenced`](LocalDeque::push_fenced)
    /// pushed, unless a thief took it (then `None`, although older jobs may
    /// be queued: a rejected submission hands back its own job, never
    /// another).
    #[inline]
    pub(crate) fn pop_pushed(&self) -> Option<Job> {
        debug_assert_eq!(self.mine.get(), Mine::Put);
        let job = self.slot.take(self.cell.get());
        self.mine.set(if job.is_some() {
            Mine::Free
        } else {
            Mine::Lost
        });
        job
    }

    /// Pops the newest job: the slot's, else the deque's.
    #[inline]
    pub(crate) fn pop(&self) -> Option<Job> {
        if self.mine.get() == Mine::Put {
            return self.pop_slot_first();
        }
        self.deque.pop()
    }

    /// [`LocalDeque::pop`] when the slot may hold the newest job. Out of
    /// line for the same reason as [`LocalDeque::evict_and_push`].
    #[inline(never)]
    fn pop_slot_first(&self) -> Option<Job> {
        if let Some(job) = self.slot.take(self.cell.get()) {
            self.mine.set(Mine::Free);
            return Some(job);
        }
        self.mine.set(Mine::Lost);
        self.deque.pop()
    }

    /// Jobs queued (a snapshot: thieves may take some meanwhile).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.deque.len() + usize::from(self.mine.get() == Mine::Put && self.slot.is_full())
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The thieves' side of a [`LocalDeque`]: its deque's oldest job first, then
/// the slot.
#[derive(Clone)]
pub(crate) struct Stealer {
    deque: DequeStealer<Job>,
    slot: Arc<CachePadded<Slot<Job>>>,
}

impl Stealer {
    /// Takes the oldest job: the deque's, or the slot's when the deque is
    /// empty.
    #[inline]
    pub(crate) fn steal(&self) -> Steal<Job> {
        match self.deque.steal() {
            Steal::Empty => self.slot.steal(),
            other => other,
        }
    }

    /// Takes the deque's oldest job and, if the deque holds more, up to
    /// half of the rest (at most 31) onto `dest`'s deque; never the slot's
    /// job. For a thief whose own deque and slot are empty.
    #[inline]
    pub(crate) fn steal_batch_and_pop(&self, dest: &LocalDeque) -> Steal<Job> {
        debug_assert_ne!(dest.mine.get(), Mine::Put);
        self.deque.steal_batch_and_pop(&dest.deque)
    }

    /// Jobs queued (a snapshot).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.deque.len() + usize::from(self.slot.is_full())
    }

    /// [`Stealer::len`] where it is below two, else some number of two or
    /// more: a deque of two or more is reported without reading the slot,
    /// whose line its owner writes on every push (a thief that looks before
    /// each steal, as in `spawn_inside`, would pull it away each time). What
    /// a thief's steal delay for a lone job needs (`worker.rs`).
    #[inline]
    pub(crate) fn len_up_to_two(&self) -> usize {
        match self.deque.len() {
            n @ 2.. => n,
            n => n + usize::from(self.slot.is_full()),
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.deque.is_empty() && !self.slot.is_full()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as Count;

    fn counting_job(n: &'static Count) -> Job {
        Job::new(move || {
            n.fetch_add(1, Ordering::Relaxed);
        })
    }

    fn run(job: Job) {
        job.run();
    }

    #[test]
    fn owner_pops_newest_first_and_thieves_oldest() {
        static ORDER: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
        let q = LocalDeque::new();
        let s = q.stealer();
        let push = |i: usize, fenced: bool| {
            let job = Job::new(move || ORDER.lock().unwrap().push(i));
            if fenced {
                q.push_fenced(job);
            } else {
                q.push(job);
            }
        };
        push(0, true);
        push(1, false);
        push(2, true);
        push(3, true);
        assert_eq!(q.len(), 4);
        assert_eq!(s.len(), 4);
        match s.steal() {
            Steal::Success(job) => run(job),
            _ => panic!("a job to steal"),
        }
        run(q.pop().unwrap());
        run(q.pop().unwrap());
        match s.steal() {
            Steal::Success(job) => run(job),
            _ => panic!("a job to steal"),
        }
        assert!(q.pop().is_none());
        assert!(q.is_empty() && s.is_empty());
        assert_eq!(*ORDER.lock().unwrap(), [0, 3, 2, 1]);
    }

    #[test]
    fn a_stolen_slot_job_is_not_popped_and_the_slot_refills() {
        static RAN: Count = Count::new(0);
        let q = LocalDeque::new();
        let s = q.stealer();
        q.push_fenced(counting_job(&RAN));
        assert_eq!(s.len(), 1);
        match s.steal() {
            Steal::Success(job) => run(job),
            _ => panic!("the slot's job"),
        }
        assert!(q.pop().is_none());
        q.push_fenced(counting_job(&RAN));
        q.push_fenced(counting_job(&RAN));
        while let Some(job) = q.pop() {
            run(job);
        }
        assert_eq!(RAN.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_batch_steal_takes_the_oldest_and_leaves_the_slot_job() {
        static ORDER: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
        let q = LocalDeque::new();
        for i in 0..100 {
            q.push(Job::new(move || ORDER.lock().unwrap().push(i)));
        }
        q.push_fenced(Job::new(|| ORDER.lock().unwrap().push(100)));
        let thief = LocalDeque::new();
        match q.stealer().steal_batch_and_pop(&thief) {
            Steal::Success(job) => run(job),
            _ => panic!("a batch to steal"),
        }
        let moved = thief.len();
        assert!((1..=31).contains(&moved), "{moved} jobs moved");
        assert_eq!(q.len(), 101 - 1 - moved);
        // The owner's newest is still its slot's job.
        run(q.pop().unwrap());
        // The stolen one is among the oldest (crossbeam picks which).
        let order = ORDER.lock().unwrap().clone();
        assert!(order[0] <= moved && order[1] == 100, "{order:?}");
    }

    #[test]
    fn dropping_the_deque_drops_the_slot_job() {
        let dropped = Arc::new(());
        let q = LocalDeque::new();
        let held = dropped.clone();
        q.push_fenced(Job::new(move || drop(held)));
        let s = q.stealer();
        drop(q);
        assert_eq!(Arc::strong_count(&dropped), 2, "the stealer keeps the slot");
        drop(s);
        assert_eq!(Arc::strong_count(&dropped), 1);
    }

    /// Two thieves and the owner race for jobs pushed through the slot: every
    /// job runs exactly once.
    #[test]
    fn racing_thieves_and_owner_take_each_job_once() {
        static RAN: Count = Count::new(0);
        const JOBS: usize = 20_000;
        let q = LocalDeque::new();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let s = q.stealer();
                let stop = stop.clone();
                std::thread::spawn(move || loop {
                    match s.steal() {
                        Steal::Success(job) => run(job),
                        Steal::Retry => {}
                        Steal::Empty if stop.load(Ordering::SeqCst) => return,
                        Steal::Empty => std::hint::spin_loop(),
                    }
                })
            })
            .collect();
        for i in 0..JOBS {
            if i % 3 == 2 {
                q.push(counting_job(&RAN));
            } else {
                q.push_fenced(counting_job(&RAN));
            }
            if i % 2 == 0 {
                if let Some(job) = q.pop() {
                    run(job);
                }
            }
        }
        while let Some(job) = q.pop() {
            run(job);
        }
        stop.store(true, Ordering::SeqCst);
        for t in thieves {
            t.join().unwrap();
        }
        assert_eq!(RAN.load(Ordering::Relaxed), JOBS);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sleep::Sleep;
    use crate::sync::loom_model as model;
    use loom::sync::atomic::AtomicUsize as Count;

    /// The owner puts, replaces (a new value in the other cell, the old one
    /// taken back by the same CAS) and takes back; a thief steals twice: each
    /// value is taken exactly once, and no cell is read while written.
    #[test]
    fn loom_slot_job_taken_once() {
        model(|| {
            let slot = Arc::new(Slot::<Arc<Count>>::new());
            let thief = {
                let slot = slot.clone();
                loom::thread::spawn(move || {
                    for _ in 0..2 {
                        if let Steal::Success(v) = slot.steal() {
                            v.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            };
            let a = Arc::new(Count::new(0));
            let b = Arc::new(Count::new(0));
            slot.put(0, a.clone());
            if let Some(v) = slot.replace(1, b.clone()) {
                v.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(v) = slot.take(1) {
                v.fetch_add(1, Ordering::Relaxed);
            }
            thief.join().unwrap();
            assert_eq!(a.load(Ordering::Relaxed), 1);
            assert_eq!(b.load(Ordering::Relaxed), 1);
            assert!(!slot.is_full());
        });
    }

    /// The push's SeqCst swap is the fence of the sleep handshake: a worker
    /// going to sleep while the owner puts a job into its slot and then
    /// checks the sleepers with no fence of its own does not sleep through
    /// the job (loom reports the deadlock if it does).
    #[test]
    fn loom_swap_is_the_push_fence() {
        model(|| {
            let sleep = Arc::new(Sleep::new(1));
            let slot = Arc::new(Slot::<usize>::new());
            let worker = {
                let (sleep, slot) = (sleep.clone(), slot.clone());
                loom::thread::spawn(move || {
                    sleep.start_searching();
                    loop {
                        if let Steal::Success(_) = slot.steal() {
                            sleep.stop_searching();
                            return;
                        }
                        sleep.sleep(0, || slot.is_full(), None);
                    }
                })
            };
            slot.put(0, 7);
            // What `push_local` does after the push: no fence, one SeqCst load.
            assert!(!sleep.notify_one_fenced());
            worker.join().unwrap();
            // The worker took the job, or the owner takes it back here.
            let _ = slot.take(0);
        });
    }
}
