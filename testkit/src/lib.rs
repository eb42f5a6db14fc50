//! Test helpers (TESTS.md B.0): Gate, Latch, DropCounter, RunLog, FailureSlot,
//! a thread census, bounded waits. Ordering comes from these, never from sleeps;
//! timeouts only bound hangs (a hang fails the test).
//!
//! The one implementation of the helpers shared by the behavioural tests of
//! `executor-core` (its integration tests in `tests/` import it directly; a
//! dev-dependency on the crate that this one depends on, which cargo allows for
//! integration tests: never use it from `executor-core`'s unit tests in `src/`,
//! whose `executor_core` types would be a second copy of the crate),
//! `executor-futures` and `executor-completion` (their `tests/common` modules
//! re-export it). Dev-only and unpublished.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use executor_core::{Builder, ThreadPool};

/// The bound on any single wait.
pub const LONG: Duration = Duration::from_secs(10);
/// A short timeout for "times out" checks.
pub const TIMEOUT: Duration = Duration::from_millis(12);
/// A "nothing more arrives" window (only ever used to check an absence).
pub const SHORT: Duration = Duration::from_millis(50);
/// The bound on a whole test body run by [`bounded`].
pub const TEST_BOUND: Duration = Duration::from_secs(60);

/// Polls `cond` every 2 ms until it holds (true) or [`LONG`] passes (then
/// returns `cond()` once more): for states a pool reaches on its own (a
/// worker retired, a counter settled), never for ordering.
pub fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + LONG;
    while Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    cond()
}

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
    /// A closed gate.
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Opens the gate for good, releasing every waiter.
    pub fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }

    /// True once opened.
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

    /// Blocks until opened or the current task is cancelled
    /// (`executor_futures::is_cancelled`); returns true if opened. Checks the
    /// cancellation flag every millisecond (polling only bounds the reaction
    /// time; no ordering depends on it).
    pub fn wait_or_cancelled(&self) -> bool {
        self.wait_or(executor_futures::is_cancelled, "cancelled")
    }

    /// Blocks until opened or the pool interrupts the running job
    /// (`executor_core::is_cancelled`, raised by `shutdown_now`); returns true
    /// if opened. Polls like [`Gate::wait_or_cancelled`].
    pub fn wait_or_interrupted(&self) -> bool {
        self.wait_or(executor_core::is_cancelled, "interrupted")
    }

    /// Blocks until opened (true) or `stop()` holds (false); panics after LONG.
    fn wait_or(&self, stop: impl Fn() -> bool, what: &str) -> bool {
        let deadline = Instant::now() + LONG;
        let mut open = self.0 .0.lock().unwrap();
        loop {
            if *open {
                return true;
            }
            if stop() {
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "neither opened nor {what} within LONG"
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
pub fn block_all_workers(pool: &ThreadPool) -> Gate {
    block_workers(pool, pool.num_threads())
}

/// Queues `n` jobs on `pool` that each block until the returned gate opens;
/// returns once all `n` have started (so `n` workers are occupied). `n` must not
/// exceed `pool.num_threads()` (the wait would panic after LONG).
pub fn block_workers(pool: &ThreadPool, n: usize) -> Gate {
    let gate = Gate::new();
    let started = Latch::new(n);
    for _ in 0..n {
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
    /// A latch that opens after `count` calls of [`Latch::count_down`].
    pub fn new(count: usize) -> Latch {
        Latch(Arc::new((Mutex::new(count), Condvar::new())))
    }

    /// Counts one down (saturating at zero); at zero, releases every waiter.
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
///
/// A double drop is counted, not raised in `Drop` (where it could be swallowed
/// by a pool's panic handler, or abort during unwinding): a test checks it with
/// [`DropCounter::assert_no_double_drop`] or
/// [`DropCounter::assert_all_dropped_once`].
#[derive(Debug)]
pub struct DropCounter {
    created: AtomicUsize,
    dropped: AtomicUsize,
    live: AtomicUsize,
    double: AtomicUsize,
    bits: Vec<AtomicBool>,
}

impl DropCounter {
    /// A counter for tokens with ids `0..ids`.
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

    /// Tokens created so far.
    pub fn created(&self) -> usize {
        self.created.load(Ordering::SeqCst)
    }

    /// Token drops so far (a double drop counts twice).
    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    /// Tokens created and not dropped yet, at one instant.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// True once the token for `id` has been dropped.
    pub fn is_dropped(&self, id: usize) -> bool {
        self.bits[id].load(Ordering::SeqCst)
    }

    /// No token has been dropped twice.
    pub fn assert_no_double_drop(&self) {
        assert_eq!(self.double.load(Ordering::SeqCst), 0, "double drop");
    }

    /// created == dropped == `n`, no double drop.
    pub fn assert_all_dropped_once(&self, n: usize) {
        self.assert_no_double_drop();
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
    /// The id it was created with.
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

/// One run counter per task id. "Exactly once" = every entry is 1
/// (`assert_all(1)`).
#[derive(Debug)]
pub struct RunLog(Vec<AtomicU8>);

impl RunLog {
    /// A log for ids `0..n`, all at zero.
    pub fn new(n: usize) -> Arc<RunLog> {
        Arc::new(RunLog((0..n).map(|_| AtomicU8::new(0)).collect()))
    }

    /// Counts one run of `id`.
    pub fn mark(&self, id: usize) {
        self.0[id].fetch_add(1, Ordering::SeqCst);
    }

    /// The runs of `id` so far.
    pub fn get(&self, id: usize) -> u8 {
        self.0[id].load(Ordering::SeqCst)
    }

    /// The runs of every id, in id order.
    pub fn counts(&self) -> Vec<u8> {
        self.0.iter().map(|c| c.load(Ordering::SeqCst)).collect()
    }

    /// Every id ran exactly `expected` times; the failure names up to ten ids
    /// that did not, with their run counts.
    pub fn assert_all(&self, expected: u8) {
        let bad: Vec<(usize, u8)> = self
            .counts()
            .into_iter()
            .enumerate()
            .filter(|&(_, c)| c != expected)
            .take(10)
            .collect();
        assert!(
            bad.is_empty(),
            "RunLog: ids not run exactly {expected} times (id, runs): {bad:?}"
        );
    }
}

/// The first assertion failure seen inside a task or helper thread.
#[derive(Clone, Default, Debug)]
pub struct FailureSlot(Arc<Mutex<Option<String>>>);

impl FailureSlot {
    /// An empty slot.
    pub fn new() -> FailureSlot {
        FailureSlot::default()
    }

    /// Records `msg` unless a failure is recorded already.
    pub fn fail(&self, msg: impl Into<String>) {
        let mut s = self.0.lock().unwrap();
        if s.is_none() {
            *s = Some(msg.into());
        }
    }

    /// Records `msg()` if `cond` is false.
    pub fn check(&self, cond: bool, msg: impl FnOnce() -> String) {
        if !cond {
            self.fail(msg());
        }
    }

    /// Panics with the recorded failure, if any (and clears it).
    pub fn assert_clean(&self) {
        if let Some(m) = self.0.lock().unwrap().take() {
            panic!("failure inside a task: {m}");
        }
    }
}

/// A waker that counts its wakes (std::task::Wake).
#[derive(Default, Debug)]
pub struct CountWaker(
    /// The wakes so far.
    pub AtomicUsize,
);

impl std::task::Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountWaker {
    /// The wakes so far.
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
    /// The pool the accepted jobs go to.
    pub pool: ThreadPool,
    left: AtomicUsize,
}

impl Accepting {
    /// Accepts `left` jobs onto a new pool of `threads` threads.
    pub fn new(threads: usize, left: usize) -> Accepting {
        Accepting {
            pool: ThreadPool::new(threads).unwrap(),
            left: AtomicUsize::new(left),
        }
    }
}

impl executor_core::integration::Executor for Accepting {
    fn execute_job(
        &self,
        job: executor_core::integration::Job,
    ) -> Result<(), executor_core::Rejected<executor_core::integration::Job>> {
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

/// Live worker threads, counted by the start/stop hooks of pools built with
/// [`Census::builder`].
#[derive(Clone, Default, Debug)]
pub struct Census {
    /// Worker threads started so far.
    pub started: Arc<AtomicUsize>,
    /// Worker threads stopped so far.
    pub stopped: Arc<AtomicUsize>,
}

impl Census {
    /// Threads started and not stopped yet (`stopped` read first: a thread
    /// stopped between the two loads is then still counted, never negative).
    pub fn live(&self) -> usize {
        let stopped = self.stopped.load(Ordering::SeqCst);
        self.started.load(Ordering::SeqCst) - stopped
    }

    /// A builder for a pool of `threads` threads whose start and stop hooks
    /// count into this census.
    pub fn builder(&self, threads: usize) -> Builder {
        let (s, t) = (self.started.clone(), self.stopped.clone());
        ThreadPool::builder()
            .num_threads(threads)
            .on_thread_start(move |_| {
                s.fetch_add(1, Ordering::SeqCst);
            })
            .on_thread_stop(move |_| {
                t.fetch_add(1, Ordering::SeqCst);
            })
    }
}

/// A pool of `n` threads with a census.
pub fn pool_with_census(n: usize) -> (ThreadPool, Census) {
    let census = Census::default();
    let pool = census.builder(n).build().unwrap();
    (pool, census)
}

/// One `tracing` event seen by [`captured_events`]' subscriber: its level and
/// every field in the order recorded (a field recorded twice appears twice).
#[derive(Clone, Debug)]
pub struct CapturedEvent {
    /// The event's level.
    pub level: tracing::Level,
    /// `(name, value)` pairs, values formatted with `Debug` (strings unquoted).
    pub fields: Vec<(String, String)>,
}

impl CapturedEvent {
    /// The values of every field called `name`.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A subscriber that records every event (all levels, no spans kept).
struct Capture(Arc<Mutex<Vec<CapturedEvent>>>);

struct FieldList<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for FieldList<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut FieldList(&mut fields));
        self.0.lock().unwrap().push(CapturedEvent {
            level: *event.metadata().level(),
            fields,
        });
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Installs (once per process) a global `tracing` subscriber that records
/// every event from every thread, and returns a copy of the events recorded
/// so far that satisfy `keep`. For tests of what the crates log: give the
/// test its own test binary (a global subscriber is one per process), or
/// filter on fields only that test produces.
pub fn captured_events(keep: impl Fn(&CapturedEvent) -> bool) -> Vec<CapturedEvent> {
    static EVENTS: std::sync::OnceLock<Arc<Mutex<Vec<CapturedEvent>>>> = std::sync::OnceLock::new();
    let events = EVENTS.get_or_init(|| {
        let events = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::set_global_default(Capture(events.clone()))
            .expect("no other global subscriber in this test binary");
        events
    });
    let events = events.lock().unwrap();
    events.iter().filter(|e| keep(e)).cloned().collect()
}
