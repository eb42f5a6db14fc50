//! Parking: how idle workers sleep and how new work wakes them, without lost
//! wake-ups and without a wake-up per job.
//!
//! ## Who is where
//!
//! A worker is *running* (has a job), *searching* (idle, spinning through the
//! queues) or *sleeping* (registered in `idle` and parked, or about to park).
//! `counts` packs the number of searching workers (low 16 bits) and of sleeping
//! ones (high bits); `idle` lists the sleepers' indices.
//!
//! ## The protocol
//!
//! ```text
//!              found a job (last searcher with work still visible → notify_one)
//!   searching ────────────────────────────────────────────────────────▶ running
//!      │  ▲                                                               │
//!      │  │ woken (notify_one moved it back to searching)                │ no job
//!      ▼  │                                                               ▼
//!   sleeping ◀──── register, re-check, park ──── searching ◀─────────────┘
//! ```
//!
//! * **Publisher** (after pushing a job): `fence(SeqCst)`, load `counts`. If a
//!   worker is searching it will find the job: do nothing (an outside push
//!   checks the backlog first, see below). Else, if one sleeps, pop
//!   one index from `idle`, move it from sleeping to searching in `counts`, unpark it.
//! * **Going to sleep**: under the `idle` lock push own index and move self from
//!   searching to sleeping (one SeqCst RMW); then **re-check** (queues, lifecycle,
//!   the condition being waited for); only if that finds nothing, park.
//! * **Last searcher leaving** (found a job): if it was the last searcher and more
//!   work is visible, `notify_one` so parallelism ramps up one worker at a time.
//!
//! **No lost wake-up.** The publisher's push-fence-load and the sleeper's
//! RMW-fence-recheck are a store-buffer pair, with a SeqCst fence on each side: either the publisher
//! sees the worker searching/sleeping (and a searching worker re-checks after
//! leaving the searching state; a sleeping one gets unparked), or the worker's
//! re-check sees the job. An unpark that lands before the park leaves the token
//! set, so the park returns at once. Each worker's parker is a token (a `bool`
//! under a mutex, and a condvar), so extra unparks only cause a spurious turn.
//!
//! **Direct wake-ups.** A worker in a fork-join wait sleeps with the same
//! protocol, and one blocked in `wait_until` parks on its own parker
//! ([`Sleep::park`]); whoever makes the condition true calls [`Sleep::unpark`]
//! on that worker's index. A woken worker that is still in `idle` removes
//! itself.
//!
//! **A searcher that does not run.** "Someone searches, so nobody is woken"
//! assumes the searcher is on a CPU. It may not be: a worker that started
//! searching on the CPU of a thread that then submits in a tight loop waits in
//! that CPU's run queue (behind the submitter, for the scheduler's slice, a few
//! milliseconds) while the other CPU idles with its worker parked, against the
//! rule that no worker sleeps while work it can reach is queued. Measured on
//! 2 CPUs: in about a third of the rounds of 10,000 outside submissions no job
//! started until the submitting thread blocked. So an outside submission also
//! wakes a sleeper when the injector holds [`BACKLOG_PER_SEARCHER`] jobs or more
//! per searching worker (a long batch queued as one ticket counts its jobs): searchers that keep up never let it grow that long,
//! and each woken worker (it counts as searching) raises the bar, so a lasting
//! backlog ramps the pool up one worker per threshold, not one per job.
//!
//! **Blocked workers and spares.** A worker blocked in a wait (or in
//! `block_in_place`) is running as far as this module is concerned, but it
//! cannot take work: it adds a *needy* token to `counts` ([`Sleep::block`]),
//! and takes one back when it resumes ([`Sleep::unblock`]). A publisher that
//! finds nobody searching and nobody asleep but a needy token takes the token
//! and asks for a spare worker (the notify functions return true; the
//! registry starts or re-uses one, see `crate::compensate`). The needy count
//! lives in the same word as the searchers and sleepers, between them, so the
//! publisher's fast path is still one load and one comparison:
//! `searching != 0 || counts < ONE_NEEDY` returns at once. The blocker's
//! token (one SeqCst RMW, then a fence, then its look at the queues) and the
//! publisher's push-fence-load are the same store-buffer pair as above: either
//! the publisher sees the token, or the blocker sees the job (and asks for a
//! spare itself).
//!
//! ```text
//!   running ──block: needy += 1, fence, work visible? ──▶ blocked
//!      ▲             (yes: take a token, wake a sleeper or start a spare)
//!      │                                                   │ unblock: take a
//!      └───────────────────────────────────────────────────┘ token back if any
//!                                                           (none: a spare took
//!                                                           it; the spare retires
//!                                                           once it is in excess)
//! ```
//!
//! **A round trip** (one outside job into an idle pool, then a blocking wait
//! for it; `compare`'s `round_trip`) wakes nobody: the worker that ran the
//! previous job is still searching (`SEARCH_BEFORE_PARK` in `worker.rs`), so
//! the submission's check finds a searcher. Measured with `hround_probe`
//! (2 workers, 2 CPUs): the workers make 0.00-0.04 voluntary context switches
//! per trip, the pool's part (submit to the job's start) is 0.9-1.0 µs, and
//! the rest is the waiter's wake-up by the job (1.2 µs, 4.7 µs while the
//! harness's latch notified under its lock). Java's `ForkJoinPool` parks its
//! worker after each trip and wakes it with the next (1.5-1.6 µs to the job's
//! start). A trip is so one cross-CPU wake-up of the waiter on our pool, and
//! about one (the worker's, the waiter often not yet asleep) on Java's. Such
//! a wake-up is likely dearer on a quiet machine: this guest's idle CPUs halt
//! at once (cpuidle `haltpoll`, `guest_halt_poll_ns` 0), so waking a thread
//! there is an IPI to a halted virtual CPU (ours took 14.8 µs per trip in the
//! quiet 20:42 run, 5.8 µs at load 4.6 with the same latch); that could not
//! be split further here. With 16-64 workers the same holds: one searcher
//! (at most half the workers search in full) finds the job, nobody is woken.
//!
//! A loom model of the protocol is at the bottom of this file, and one of the
//! blocked/compensate transitions in `crate::compensate`.

use crate::sync::{fence, lock, AtomicU64, Condvar, Mutex, Ordering};
use crossbeam_utils::CachePadded;
use std::time::Instant;

const ONE_SEARCHING: u64 = 1;
const ONE_NEEDY: u64 = 1 << 16;
const ONE_SLEEPING: u64 = 1 << 32;
const SEARCHING_MASK: u64 = ONE_NEEDY - 1;
const NEEDY_MASK: u64 = (ONE_SLEEPING - 1) & !SEARCHING_MASK;

/// Outside jobs left queued per searching worker beyond which an outside
/// submission wakes a sleeper although a worker searches (see "A searcher that
/// does not run" in the module docs). About 50 µs of a tight submit loop, the
/// price of one wake-up: many times a running searcher's batch steal, far below
/// what a searcher starved of CPU lets pile up (thousands of jobs in a few
/// milliseconds). A lower bar starts work sooner but costs bursts throughput:
/// at 64, `spawn_outside` took about 0.5x rayon's time per job instead of
/// 0.42-0.48x (a worker then drains the injector while it is being filled, and
/// the two threads share its cache lines).
const BACKLOG_PER_SEARCHER: u64 = 256;

/// A per-worker wake-up token.
#[derive(Debug)]
struct Parker {
    token: Mutex<bool>,
    cv: Condvar,
}

impl Parker {
    fn new() -> Self {
        Parker {
            token: Mutex::new(false),
            cv: Condvar::new(),
        }
    }

    /// Blocks until the token is set (then clears it) or `deadline` passes.
    fn park(&self, deadline: Option<Instant>) {
        let mut token = lock(&self.token);
        while !*token {
            match deadline {
                None => {
                    token = self
                        .cv
                        .wait(token)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return;
                    }
                    token = self
                        .cv
                        .wait_timeout(token, d - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            }
        }
        *token = false;
    }

    fn unpark(&self) {
        *lock(&self.token) = true;
        self.cv.notify_one();
    }
}

/// The sleep state of one pool.
#[derive(Debug)]
pub(crate) struct Sleep {
    counts: CachePadded<AtomicU64>,
    idle: Mutex<Vec<usize>>,
    parkers: Box<[Parker]>,
    /// The elastic pool's monitor (`crate::elastic`): parked while the pool
    /// is idle, woken by the first sleeper a publisher wakes.
    monitor: Parker,
    monitor_parked: crate::sync::AtomicBool,
}

impl Sleep {
    pub(crate) fn new(workers: usize) -> Self {
        Sleep {
            counts: CachePadded::new(AtomicU64::new(0)),
            idle: Mutex::new(Vec::with_capacity(workers)),
            parkers: (0..workers).map(|_| Parker::new()).collect(),
            monitor: Parker::new(),
            monitor_parked: crate::sync::AtomicBool::new(false),
        }
    }

    /// Number of workers searching or sleeping (for statistics).
    pub(crate) fn idle_workers(&self) -> usize {
        let c = self.counts.load(Ordering::Relaxed);
        ((c & SEARCHING_MASK) + c / ONE_SLEEPING) as usize
    }

    /// A running worker is about to block (module docs, "Blocked workers and
    /// spares"): it leaves a needy token. The caller then looks at the queues
    /// and, if work is visible, calls [`Sleep::compensate`].
    pub(crate) fn block(&self) {
        self.counts.fetch_add(ONE_NEEDY, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// A blocked worker resumes: takes a needy token back if one is left.
    /// False: a publisher took every token (a spare was asked for), so the pool
    /// is over its target by one until a spare retires.
    pub(crate) fn unblock(&self) -> bool {
        self.take_needy()
    }

    /// A retiring spare whose blocked worker still blocks leaves a token for it,
    /// so that the next publisher asks for a spare again.
    pub(crate) fn add_needy(&self) {
        self.block();
    }

    fn take_needy(&self) -> bool {
        let mut c = self.counts.load(Ordering::SeqCst);
        loop {
            if c & NEEDY_MASK == 0 {
                return false;
            }
            match self.counts.compare_exchange_weak(
                c,
                c - ONE_NEEDY,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(now) => c = now,
            }
        }
    }

    /// Blocked workers not yet paired with a spare (tests).
    #[cfg(test)]
    pub(crate) fn needy(&self) -> usize {
        ((self.counts.load(Ordering::Relaxed) & NEEDY_MASK) / ONE_NEEDY) as usize
    }

    /// Work is visible and a worker is blocked: wake a sleeper if there is one,
    /// else take a needy token; true means "start a spare".
    #[must_use = "true asks the caller to start a spare"]
    pub(crate) fn compensate(&self) -> bool {
        self.wake_one()
    }

    /// A running worker found no job and starts searching (tests; the worker loop
    /// uses [`Sleep::start_searching_under`]).
    #[cfg(test)]
    pub(crate) fn start_searching(&self) {
        self.counts.fetch_add(ONE_SEARCHING, Ordering::SeqCst);
    }

    /// A running worker found no job and starts searching; returns whether fewer
    /// than `max` workers were searching already. Either way the caller is now a
    /// searcher; one over the cap searches only briefly before it sleeps (see
    /// `worker.rs`).
    pub(crate) fn start_searching_under(&self, max: usize) -> bool {
        let prev = self.counts.fetch_add(ONE_SEARCHING, Ordering::SeqCst);
        prev & SEARCHING_MASK < max as u64
    }

    /// A searching worker found a job (or stops waiting). Returns true if it was the
    /// last searcher: the caller then calls [`Sleep::notify_one`] if more work is
    /// visible.
    pub(crate) fn stop_searching(&self) -> bool {
        let prev = self.counts.fetch_sub(ONE_SEARCHING, Ordering::SeqCst);
        // Pairs with the publisher's fence: the caller's look at the queues that
        // follows must not be ordered before leaving the searching state.
        fence(Ordering::SeqCst);
        debug_assert!(prev & SEARCHING_MASK > 0);
        prev & SEARCHING_MASK == 1
    }

    /// A searching worker goes to sleep: registers, runs `recheck` (true = there is
    /// something to do after all), parks unless it found something, and returns in
    /// the searching state.
    pub(crate) fn sleep(
        &self,
        index: usize,
        recheck: impl FnOnce() -> bool,
        deadline: Option<Instant>,
    ) {
        {
            let mut idle = lock(&self.idle);
            idle.push(index);
            self.counts
                .fetch_add(ONE_SLEEPING - ONE_SEARCHING, Ordering::SeqCst);
        }
        // The sleeper's half of the store-buffer pair (see the module docs): the
        // re-check must not be ordered before the registration. Loom finds the lost
        // wake-up without this fence.
        fence(Ordering::SeqCst);
        if !recheck() {
            self.parkers[index].park(deadline);
        }
        // Still registered means nobody woke us through `idle` (we found work in the
        // re-check, timed out, or were unparked directly): leave by ourselves.
        let mut idle = lock(&self.idle);
        if let Some(pos) = idle.iter().position(|&i| i == index) {
            idle.swap_remove(pos);
            self.counts
                .fetch_sub(ONE_SLEEPING - ONE_SEARCHING, Ordering::SeqCst);
        }
    }

    /// Called after making work visible: wakes one sleeper unless a worker is
    /// already searching (it will find the work) or nobody sleeps.
    #[inline]
    #[must_use = "true asks the caller to start a spare"]
    pub(crate) fn notify_one(&self) -> bool {
        fence(Ordering::SeqCst);
        self.notify_one_fenced()
    }

    /// [`Sleep::notify_one`] for a caller that has already issued a SeqCst fence
    /// after making its work visible (a worker's local push does, for the
    /// shutdown handshake): one fence per push instead of two.
    #[inline]
    #[must_use = "true asks the caller to start a spare"]
    pub(crate) fn notify_one_fenced(&self) -> bool {
        let c = self.counts.load(Ordering::SeqCst);
        if c & SEARCHING_MASK != 0 || c < ONE_NEEDY {
            return false;
        }
        self.wake_one()
    }

    /// [`Sleep::notify_one`] for an outside submission, which also wakes a
    /// sleeper when the searchers are falling behind: `backlog()` (the outside
    /// jobs waiting, a batch ticket counted as its jobs; read only when a worker
    /// searches *and* one sleeps) is
    /// at least [`BACKLOG_PER_SEARCHER`] per searcher. See "A searcher that does
    /// not run" in the module docs.
    #[inline]
    #[must_use = "true asks the caller to start a spare"]
    pub(crate) fn notify_injected(&self, backlog: impl FnOnce() -> usize) -> bool {
        fence(Ordering::SeqCst);
        let c = self.counts.load(Ordering::SeqCst);
        if c < ONE_NEEDY {
            return false;
        }
        let searching = c & SEARCHING_MASK;
        if searching != 0 && (backlog() as u64) < searching * BACKLOG_PER_SEARCHER {
            return false;
        }
        self.wake_one()
    }

    /// Wakes one sleeper; with none, takes a needy token (true: the caller
    /// starts a spare for a blocked worker).
    #[cold]
    fn wake_one(&self) -> bool {
        let mut idle = lock(&self.idle);
        if let Some(index) = idle.pop() {
            self.counts
                .fetch_sub(ONE_SLEEPING - ONE_SEARCHING, Ordering::SeqCst);
            drop(idle);
            self.parkers[index].unpark();
            if self.monitor_parked.load(Ordering::SeqCst) {
                self.monitor_parked.store(false, Ordering::SeqCst);
                self.monitor.unpark();
            }
            return false;
        }
        drop(idle);
        self.take_needy()
    }

    /// Wakes every sleeper (lifecycle changes: they must re-check the state).
    pub(crate) fn notify_all(&self) {
        let woken: Vec<usize> = {
            let mut idle = lock(&self.idle);
            let n = idle.len();
            self.counts
                .fetch_sub(n as u64 * (ONE_SLEEPING - ONE_SEARCHING), Ordering::SeqCst);
            std::mem::take(&mut *idle)
        };
        for index in woken {
            self.parkers[index].unpark();
        }
    }

    /// Parks worker `index` (blocked in a wait) until [`Sleep::unpark`] or
    /// `deadline`; returns at once if an unpark came first.
    pub(crate) fn park(&self, index: usize, deadline: Option<Instant>) {
        self.parkers[index].park(deadline);
    }

    /// The monitor parks if `idle()` still holds after it announced itself
    /// (the store-buffer pair with [`Sleep::wake_one`]'s pop, both `SeqCst`);
    /// true if it parked (and was woken since).
    pub(crate) fn park_monitor(&self, idle: impl Fn() -> bool) -> bool {
        if !idle() {
            return false;
        }
        self.monitor_parked.store(true, Ordering::SeqCst);
        let parked = idle();
        if parked {
            self.monitor.park(None);
        }
        self.monitor_parked.store(false, Ordering::SeqCst);
        parked
    }

    /// Wakes the monitor (the pool shuts down).
    pub(crate) fn wake_monitor(&self) {
        self.monitor.unpark();
    }

    /// Workers asleep (registered in `idle`).
    pub(crate) fn sleeping(&self) -> usize {
        (self.counts.load(Ordering::SeqCst) / ONE_SLEEPING) as usize
    }

    /// Nobody searching and nobody asleep: every worker runs a job or blocks.
    pub(crate) fn all_running(&self) -> bool {
        let c = self.counts.load(Ordering::SeqCst);
        c & SEARCHING_MASK == 0 && c < ONE_SLEEPING
    }

    /// Worker `index` is registered asleep.
    pub(crate) fn is_asleep(&self, index: usize) -> bool {
        lock(&self.idle).contains(&index)
    }

    /// Wakes worker `index` directly (the condition it waits for became true).
    pub(crate) fn unpark(&self, index: usize) {
        self.parkers[index].unpark();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn counts_track_searching_and_sleeping() {
        let s = Sleep::new(2);
        s.start_searching();
        s.start_searching();
        assert_eq!(s.idle_workers(), 2);
        assert!(!s.stop_searching());
        assert!(s.stop_searching());
        assert_eq!(s.idle_workers(), 0);
    }

    #[test]
    fn recheck_that_finds_work_does_not_park() {
        let s = Sleep::new(1);
        s.start_searching();
        s.sleep(0, || true, None); // would hang if it parked
        assert!(s.stop_searching(), "returns in the searching state");
        assert_eq!(s.idle_workers(), 0);
    }

    /// A thread that searches, then sleeps as worker 0 until woken, then stops
    /// searching; returned once it is registered as a sleeper.
    fn sleeper(s: &Arc<Sleep>) -> std::thread::JoinHandle<()> {
        let s2 = s.clone();
        let t = std::thread::spawn(move || {
            s2.start_searching();
            s2.sleep(0, || false, None);
            s2.stop_searching();
        });
        while s.counts.load(Ordering::SeqCst) < ONE_SLEEPING {
            std::thread::yield_now();
        }
        t
    }

    #[test]
    fn notify_one_wakes_a_sleeper() {
        let s = Arc::new(Sleep::new(1));
        let t = sleeper(&s);
        assert!(!s.notify_one());
        t.join().unwrap();
        assert_eq!(s.idle_workers(), 0);
    }

    #[test]
    fn a_backlog_wakes_a_sleeper_past_a_searcher_that_does_not_run() {
        let s = Arc::new(Sleep::new(2));
        s.start_searching(); // worker 1: searching, but never gets a CPU
        let t = sleeper(&s);
        // A short backlog is the searcher's: nobody is woken.
        assert!(!s.notify_one());
        assert!(!s.notify_injected(|| BACKLOG_PER_SEARCHER as usize - 1));
        assert_eq!(
            s.counts.load(Ordering::SeqCst),
            ONE_SLEEPING + ONE_SEARCHING
        );
        // A long one wakes the sleeper: it counts as searching at once (and may
        // already have run and stopped searching by the time this reads).
        assert!(!s.notify_injected(|| BACKLOG_PER_SEARCHER as usize));
        let c = s.counts.load(Ordering::SeqCst);
        assert!(c < ONE_SLEEPING, "nobody sleeps any more: {c:#x}");
        assert!((1..=2).contains(&(c & SEARCHING_MASK)), "{c:#x}");
        // It woke and stopped searching. Nobody sleeps now: the backlog is not
        // even read.
        t.join().unwrap();
        assert_eq!(s.counts.load(Ordering::SeqCst), ONE_SEARCHING);
        assert!(!s.notify_injected(|| unreachable!("no sleeper to wake")));
        assert!(s.stop_searching());
        assert_eq!(s.idle_workers(), 0);
    }

    #[test]
    fn a_needy_token_asks_for_a_spare_only_with_nobody_to_wake() {
        let s = Sleep::new(2);
        s.block();
        assert_eq!(s.needy(), 1);
        s.start_searching(); // a searcher will find the work
        assert!(!s.notify_one());
        assert!(s.stop_searching());
        assert!(s.notify_one(), "nobody searches or sleeps: a spare");
        assert_eq!(s.needy(), 0, "the publisher took the token");
        assert!(!s.unblock(), "the blocked worker finds its token gone");
        s.block();
        assert!(s.unblock());
        assert!(!s.notify_one());
    }

    #[test]
    fn deadline_ends_a_sleep() {
        let s = Sleep::new(1);
        s.start_searching();
        s.sleep(
            0,
            || false,
            Some(Instant::now() + std::time::Duration::from_millis(5)),
        );
        assert!(s.stop_searching());
        assert_eq!(s.idle_workers(), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicUsize as Jobs;
    use loom::sync::Arc;

    /// A worker going to sleep while a publisher pushes a job must not sleep
    /// through it (loom reports a deadlock if it does).
    /// Bounded preemptions keep the models fast enough for CI; the lost wake-up
    /// this file once had (a missing fence) is found within this bound.
    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(f);
    }

    #[test]
    fn loom_no_lost_wakeup() {
        model(|| {
            let sleep = Arc::new(Sleep::new(1));
            let jobs = Arc::new(Jobs::new(0));
            let worker = {
                let (sleep, jobs) = (sleep.clone(), jobs.clone());
                loom::thread::spawn(move || {
                    sleep.start_searching();
                    loop {
                        if jobs.load(Ordering::SeqCst) > 0 {
                            sleep.stop_searching();
                            return;
                        }
                        sleep.sleep(0, || jobs.load(Ordering::SeqCst) > 0, None);
                    }
                })
            };
            jobs.fetch_add(1, Ordering::SeqCst); // the push
            assert!(!sleep.notify_one());
            worker.join().unwrap();
        });
    }

    /// Two workers, one job: whoever searches last and finds it passes the baton;
    /// nobody is left asleep with the job queued, and `notify_all` reaches all.
    #[test]
    fn loom_notify_all_reaches_every_sleeper() {
        model(|| {
            let sleep = Arc::new(Sleep::new(2));
            let stop = Arc::new(Jobs::new(0));
            let workers: Vec<_> = (0..2)
                .map(|i| {
                    let (sleep, stop) = (sleep.clone(), stop.clone());
                    loom::thread::spawn(move || {
                        sleep.start_searching();
                        while stop.load(Ordering::SeqCst) == 0 {
                            sleep.sleep(i, || stop.load(Ordering::SeqCst) != 0, None);
                        }
                        sleep.stop_searching();
                    })
                })
                .collect();
            stop.store(1, Ordering::SeqCst);
            sleep.notify_all();
            for w in workers {
                w.join().unwrap();
            }
        });
    }
}
