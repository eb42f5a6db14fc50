//! Test helpers (TESTS.md B.0): Gate, Latch, DropCounter, RunLog, FailureSlot,
//! bounded waits. Ordering comes from these, never from sleeps; timeouts only bound
//! hangs (a hang fails the test).
//!
//! Shared by the behavioural tests of `executor-futures` and `executor-completion`
//! (their `tests/common` modules re-export it). Dev-only and unpublished: the
//! types are documented; their small methods are left to their names.
#![allow(missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

/// The bound on any single wait.
pub const LONG: Duration = Duration::from_secs(10);
/// A short timeout for "times out" checks.
pub const TIMEOUT: Duration = Duration::from_millis(12);
/// A "nothing more arrives" window (only ever used to check an absence).
pub const SHORT: Duration = Duration::from_millis(50);
/// The bound on a whole test body run by [`bounded`].
pub const TEST_BOUND: Duration = Duration::from_secs(60);

/// Runs `f` on a helper thread and fails if it does not finish within
/// [`TEST_BOUND`]; re-raises a panic from `f`.
pub fn bounded<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    bounded_for(TEST_BOUND, f)
}

/// [`bounded`] with its own bound. `EXECUTOR_TEST_TIME_SCALE=k` multiplies the
/// bound by `k`, for runs under an instrumenting tool (`.ci/soak` runs valgrind
/// with 10).
pub fn bounded_for<R: Send + 'static>(
    bound: Duration,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let scale = std::env::var("EXECUTOR_TEST_TIME_SCALE")
        .ok()
        .and_then(|k| k.parse::<u32>().ok())
        .unwrap_or(1);
    let bound = bound * scale.max(1);
    let (tx, rx) = mpsc::channel();
    let t = std::thread::Builder::new()
        .name("bounded".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .unwrap();
    match rx.recv_timeout(bound) {
        Ok(Ok(r)) => {
            t.join().unwrap();
            r
        }
        Ok(Err(payload)) => std::panic::resume_unwind(payload),
        Err(_) => panic!("test body did not finish within {bound:?}: hang"),
    }
}

/// A latch that blocks until opened. Waits are bounded by LONG (then it panics).
#[derive(Clone, Default, Debug)]
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    pub fn new() -> Gate {
        Gate::default()
    }

    pub fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }

    pub fn is_open(&self) -> bool {
        *self.0 .0.lock().unwrap()
    }

    /// Blocks until opened (panics after LONG).
    pub fn wait(&self) {
        let deadline = Instant::now() + LONG;
        let mut open = self.0 .0.lock().unwrap();
        while !*open {
            let now = Instant::now();
            assert!(now < deadline, "Gate not opened within LONG");
            open = self.0 .1.wait_timeout(open, deadline - now).unwrap().0;
        }
    }

    /// Blocks until opened or the current task is cancelled; returns true if
    /// opened. Checks the cancellation flag every millisecond (polling only bounds
    /// the reaction time; no ordering depends on it).
    pub fn wait_or_cancelled(&self) -> bool {
        let deadline = Instant::now() + LONG;
        let mut open = self.0 .0.lock().unwrap();
        loop {
            if *open {
                return true;
            }
            if executor_futures::is_cancelled() {
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "neither opened nor cancelled within LONG"
            );
            open = self
                .0
                 .1
                .wait_timeout(open, Duration::from_millis(1))
                .unwrap()
                .0;
        }
    }
}

/// Occupies every worker of `pool` until the returned gate opens; returns once
/// all of them are blocked (so nothing else queued on `pool` can start).
pub fn block_all_workers(pool: &executor_core::ThreadPool) -> Gate {
    let gate = Gate::new();
    let started = Latch::new(pool.num_threads());
    for _ in 0..pool.num_threads() {
        let (g, s) = (gate.clone(), started.clone());
        pool.execute(move || {
            s.count_down();
            g.wait();
        })
        .unwrap();
    }
    started.wait();
    gate
}

/// A count-down latch ("Started").
#[derive(Clone, Debug)]
pub struct Latch(Arc<(Mutex<usize>, Condvar)>);

impl Latch {
    pub fn new(count: usize) -> Latch {
        Latch(Arc::new((Mutex::new(count), Condvar::new())))
    }

    pub fn count_down(&self) {
        let mut c = self.0 .0.lock().unwrap();
        *c = c.saturating_sub(1);
        if *c == 0 {
            self.0 .1.notify_all();
        }
    }

    /// Blocks until zero (panics after LONG).
    pub fn wait(&self) {
        let deadline = Instant::now() + LONG;
        let mut c = self.0 .0.lock().unwrap();
        while *c > 0 {
            let now = Instant::now();
            assert!(now < deadline, "Latch not released within LONG");
            c = self.0 .1.wait_timeout(c, deadline - now).unwrap().0;
        }
    }
}

/// Created/dropped counts plus a per-id dropped bit that detects double drops.
///
/// `live` is a counter of its own (up on creation, down on drop), not `created -
/// dropped`: two separate loads taken while other threads create and drop
/// tokens can be far apart (a preempted reader), which made a peak measured
/// from them both negative and too high.
#[derive(Debug)]
pub struct DropCounter {
    created: AtomicUsize,
    dropped: AtomicUsize,
    live: AtomicUsize,
    double: AtomicUsize,
    bits: Vec<AtomicBool>,
}

impl DropCounter {
    pub fn new(ids: usize) -> Arc<DropCounter> {
        Arc::new(DropCounter {
            created: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            double: AtomicUsize::new(0),
            bits: (0..ids).map(|_| AtomicBool::new(false)).collect(),
        })
    }

    /// A token for `id`; dropping it records the drop.
    pub fn token(self: &Arc<Self>, id: usize) -> Token {
        self.created.fetch_add(1, Ordering::SeqCst);
        self.live.fetch_add(1, Ordering::SeqCst);
        Token {
            counter: self.clone(),
            id,
            payload: Vec::new(),
        }
    }

    /// A token carrying `bytes` of payload.
    pub fn token_with(self: &Arc<Self>, id: usize, bytes: usize) -> Token {
        let mut t = self.token(id);
        t.payload = vec![0u8; bytes];
        t
    }

    pub fn created(&self) -> usize {
        self.created.load(Ordering::SeqCst)
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    /// Tokens created and not dropped yet, at one instant.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    pub fn is_dropped(&self, id: usize) -> bool {
        self.bits[id].load(Ordering::SeqCst)
    }

    /// created == dropped == `n`, no double drop.
    pub fn assert_all_dropped_once(&self, n: usize) {
        assert_eq!(self.double.load(Ordering::SeqCst), 0, "double drop");
        assert_eq!(self.created(), n, "created");
        assert_eq!(self.dropped(), n, "dropped");
    }
}

/// A value whose drop is counted.
pub struct Token {
    counter: Arc<DropCounter>,
    id: usize,
    payload: Vec<u8>,
}

impl Token {
    pub fn id(&self) -> usize {
        self.id
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({})", self.id)
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        if self.counter.bits[self.id].swap(true, Ordering::SeqCst) {
            self.counter.double.fetch_add(1, Ordering::SeqCst);
        }
        self.counter.dropped.fetch_add(1, Ordering::SeqCst);
        self.counter.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One run counter per task id. "Exactly once" = every entry is 1.
#[derive(Debug)]
pub struct RunLog(Vec<AtomicU8>);

impl RunLog {
    pub fn new(n: usize) -> Arc<RunLog> {
        Arc::new(RunLog((0..n).map(|_| AtomicU8::new(0)).collect()))
    }

    pub fn mark(&self, id: usize) {
        self.0[id].fetch_add(1, Ordering::SeqCst);
    }

    pub fn get(&self, id: usize) -> u8 {
        self.0[id].load(Ordering::SeqCst)
    }

    pub fn assert_all(&self, expected: u8) {
        for (i, c) in self.0.iter().enumerate() {
            assert_eq!(c.load(Ordering::SeqCst), expected, "RunLog[{i}]");
        }
    }
}

/// The first assertion failure seen inside a task or helper thread.
#[derive(Clone, Default, Debug)]
pub struct FailureSlot(Arc<Mutex<Option<String>>>);

impl FailureSlot {
    pub fn new() -> FailureSlot {
        FailureSlot::default()
    }

    pub fn fail(&self, msg: impl Into<String>) {
        let mut s = self.0.lock().unwrap();
        if s.is_none() {
            *s = Some(msg.into());
        }
    }

    pub fn check(&self, cond: bool, msg: impl FnOnce() -> String) {
        if !cond {
            self.fail(msg());
        }
    }

    pub fn assert_clean(&self) {
        if let Some(m) = self.0.lock().unwrap().take() {
            panic!("failure inside a task: {m}");
        }
    }
}

/// A waker that counts its wakes (std::task::Wake).
#[derive(Default, Debug)]
pub struct CountWaker(pub AtomicUsize);

impl std::task::Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountWaker {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Awaits `inner`, counting `latch` down the first time it returns `Pending`
/// (the task is then about to go idle, waiting for a wake).
pub async fn signal_pending<F: Future + Unpin>(mut inner: F, latch: Latch) -> F::Output {
    let mut signalled = false;
    std::future::poll_fn(move |cx| {
        let r = Pin::new(&mut inner).poll(cx);
        if r.is_pending() && !signalled {
            signalled = true;
            latch.count_down();
        }
        r
    })
    .await
}

/// Returns `Pending` once (waking itself at once), then `Ready`.
pub fn yield_once() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

/// A waker that panics if woken.
#[derive(Debug)]
pub struct PanicWaker;

impl std::task::Wake for PanicWaker {
    fn wake(self: Arc<Self>) {
        panic!("woken unexpectedly");
    }
}

/// Spins (yielding) until `cond` holds; panics after LONG.
pub fn until(mut cond: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + LONG;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

/// An executor that queues the first `left` jobs on `pool` and refuses every
/// later one: the trait's default batch path (`Executor::execute_jobs` one by
/// one), which can accept the first part of a batch.
#[derive(Debug)]
pub struct Accepting {
    pub pool: executor_core::ThreadPool,
    left: AtomicUsize,
}

impl Accepting {
    pub fn new(threads: usize, left: usize) -> Accepting {
        Accepting {
            pool: executor_core::ThreadPool::new(threads).unwrap(),
            left: AtomicUsize::new(left),
        }
    }
}

impl executor_core::Executor for Accepting {
    fn execute_job(
        &self,
        job: executor_core::Job,
    ) -> Result<(), executor_core::Rejected<executor_core::Job>> {
        match self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        {
            Ok(_) => self.pool.execute_job(job),
            Err(_) => Err(executor_core::Rejected::new(
                job,
                executor_core::RejectReason::Shutdown,
            )),
        }
    }
}
