//! TESTS.md LD4: random sequences of operations on a pool, task handles and a
//! completion service, every observation checked against a model; failing
//! sequences shrink (proptest) to a minimal one.
//!
//! ## The model
//!
//! The model cannot know when a worker picks a task up, so it tracks what each
//! task *may* have become, and checks only what must hold whatever the
//! scheduling:
//!
//! * A task ends by itself only if it can: an immediate or panicking task at any
//!   time, a gated one only once its gate is open. Its own ending is a value
//!   (its index), or `Panicked` for a panicking task.
//! * `cancel` returning true fixes the outcome to `Cancelled`; it must return
//!   true for a task that cannot have ended (gate closed, no `shutdown_now`),
//!   and false for one known to have ended.
//! * `shutdown_now` hands back the jobs that never started (their tasks resolve
//!   as `Cancelled`) and interrupts the running ones, whose bodies see
//!   `is_cancelled()` and end as they choose (a gated body here returns its value
//!   without waiting for its gate, as a Java task that catches the interrupt
//!   would). So for a task not seen ended before it, `Cancelled` and its own
//!   ending are both allowed, whatever its gate.
//! * An outcome, once seen (`try_get`, `poll`, `is_done`, a `cancel` that
//!   returned false), never changes; each service task is delivered once.
//! * Submissions are accepted while the pool runs and rejected (closure handed
//!   back) after `shutdown` or `shutdown_now`; `await_termination(0)` is `Err(TimedOut)`
//!   while the pool runs or while a task that cannot end is accepted.
//!
//! At the end every gate opens, the pool shuts down and must terminate; then
//! every task has an allowed outcome, every service task was delivered exactly
//! once, no body ran twice, a body that never ran belongs to a cancelled task,
//! and every closure was dropped exactly once (a `DropCounter` token in each).

mod common;

use common::*;
use executor_completion::{CompletionService, TaskError};
use executor_core::ThreadPool;
use executor_futures::{ExecutorService, TaskHandle, TaskId};
use proptest::prelude::*;
use std::sync::{Arc, Once};
use std::time::Duration;

const GATES: usize = 3;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Immediate,
    Gated(usize),
    Panicking,
}

#[derive(Clone, Debug)]
enum Op {
    Submit {
        kind: Kind,
        via_service: bool,
    },
    OpenGate(usize),
    /// Task operations name a task by index modulo the tasks submitted so far.
    Cancel(usize),
    TryGet(usize),
    IsDone(usize),
    DropHandle(usize),
    Poll,
    /// Polls a fresh stream of the service up to n times (never blocking),
    /// then drops it: what it buffered and did not yield must be given back.
    StreamSome(usize),
    Shutdown,
    ShutdownNow,
    AwaitZero,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::Immediate),
        3 => (0..GATES).prop_map(Kind::Gated),
        1 => Just(Kind::Panicking),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (kind(), any::<bool>()).prop_map(|(kind, via_service)| Op::Submit { kind, via_service }),
        8 => (0..GATES).prop_map(Op::OpenGate),
        10 => any::<usize>().prop_map(Op::Cancel),
        10 => any::<usize>().prop_map(Op::TryGet),
        6 => any::<usize>().prop_map(Op::IsDone),
        4 => any::<usize>().prop_map(Op::DropHandle),
        10 => Just(Op::Poll),
        4 => (1..4usize).prop_map(Op::StreamSome),
        2 => Just(Op::Shutdown),
        1 => Just(Op::ShutdownNow),
        3 => Just(Op::AwaitZero),
    ]
}

/// How a task ended, as observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Value,
    Panicked,
    Cancelled,
}

/// The panic payload of a panicking task: the test's panic hook keeps it quiet.
struct ModelPanic;

fn quiet_model_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<ModelPanic>() {
                previous(info);
            }
        }));
    });
}

/// What the model knows of one submitted task.
#[derive(Debug)]
struct Task {
    kind: Kind,
    via_service: bool,
    id: Option<TaskId>,
    handle: Option<TaskHandle<usize>>,
    /// `cancel` returned true.
    cancelled: bool,
    /// Seen ended (its outcome may be unknown: `is_done`, a refused `cancel`).
    ended: bool,
    outcome: Option<Outcome>,
    /// `shutdown_now` came while it was not seen ended.
    stopped: bool,
    delivered: bool,
}

struct World {
    pool: ThreadPool,
    service: CompletionService<usize, ThreadPool>,
    gates: Vec<Gate>,
    open: [bool; GATES],
    tasks: Vec<Task>,
    accepting: bool,
    drops: Arc<DropCounter>,
    runs: Arc<RunLog>,
    submitted: usize,
    drained: usize,
    log: Vec<String>,
}

const MAX_TASKS: usize = 256;

impl World {
    fn new() -> World {
        let pool = ThreadPool::new(2).unwrap();
        World {
            service: CompletionService::new(pool.clone()),
            pool,
            gates: (0..GATES).map(|_| Gate::new()).collect(),
            open: [false; GATES],
            tasks: Vec::new(),
            accepting: true,
            drops: DropCounter::new(MAX_TASKS),
            runs: RunLog::new(MAX_TASKS),
            submitted: 0,
            drained: 0,
            log: Vec::new(),
        }
    }

    /// Could task `t` have ended by itself by now (its gate permitting)?
    fn can_end(&self, t: &Task) -> bool {
        match t.kind {
            Kind::Gated(g) => self.open[g],
            Kind::Immediate | Kind::Panicking => true,
        }
    }

    /// A task that can only still be pending: not cancelled, not stopped, and
    /// unable to end by itself.
    fn must_be_pending(&self, t: &Task) -> bool {
        !t.cancelled && !t.stopped && !t.ended && !self.can_end(t)
    }

    /// Is `seen` an outcome task `i` may have?
    fn allowed(&self, i: usize, seen: Outcome) -> bool {
        let t = &self.tasks[i];
        if let Some(o) = t.outcome {
            return o == seen;
        }
        let own = match t.kind {
            Kind::Panicking => Outcome::Panicked,
            Kind::Immediate | Kind::Gated(_) => Outcome::Value,
        };
        if t.cancelled {
            return seen == Outcome::Cancelled;
        }
        if t.stopped {
            // Handed back (resolves as cancelled), or running and interrupted:
            // a gated body then returns its value without its gate.
            seen == Outcome::Cancelled || seen == own
        } else {
            self.can_end(t) && seen == own
        }
    }

    fn record(&mut self, i: usize, seen: Outcome) {
        assert!(
            self.allowed(i, seen),
            "task {i} ({:?}) ended {seen:?}, which the model does not allow: {:?}\nops: {:#?}",
            self.tasks[i].kind,
            self.tasks[i],
            self.log
        );
        let t = &mut self.tasks[i];
        t.outcome = Some(seen);
        t.ended = true;
    }

    fn outcome_of(i: usize, r: &Result<usize, TaskError>) -> Outcome {
        match r {
            Ok(v) => {
                assert_eq!(*v, i, "task {i} returned another task's value");
                Outcome::Value
            }
            Err(TaskError::Panicked(_)) => Outcome::Panicked,
            Err(TaskError::Cancelled) => Outcome::Cancelled,
            Err(e) => panic!("task {i}: unexpected error {e:?}"),
        }
    }

    /// The handle task at `k` (modulo), if it has a live handle.
    fn handle_task(&self, k: usize) -> Option<usize> {
        if self.tasks.is_empty() {
            return None;
        }
        let i = k % self.tasks.len();
        self.tasks[i].handle.is_some().then_some(i)
    }

    fn submit(&mut self, kind: Kind, via_service: bool) {
        if self.submitted == MAX_TASKS {
            return;
        }
        let i = self.submitted;
        self.submitted += 1;
        let token = self.drops.token(i);
        let runs = self.runs.clone();
        let gate = match kind {
            Kind::Gated(g) => Some(self.gates[g].clone()),
            _ => None,
        };
        let body = move || {
            let _token = token;
            runs.mark(i);
            match kind {
                Kind::Panicking => std::panic::panic_any(ModelPanic),
                Kind::Gated(_) => {
                    gate.expect("gated").wait_or_cancelled();
                }
                Kind::Immediate => {}
            }
            i
        };
        let mut task = Task {
            kind,
            via_service,
            id: None,
            handle: None,
            cancelled: false,
            ended: false,
            outcome: None,
            stopped: false,
            delivered: false,
        };
        let accepted = if via_service {
            match self.service.submit(body) {
                Ok(id) => {
                    task.id = Some(id);
                    true
                }
                Err(rejected) => {
                    drop(rejected.into_inner());
                    false
                }
            }
        } else {
            match self.pool.submit(body) {
                Ok(h) => {
                    task.id = Some(h.id());
                    task.handle = Some(h);
                    true
                }
                Err(rejected) => {
                    drop(rejected.into_inner());
                    false
                }
            }
        };
        assert_eq!(
            accepted, self.accepting,
            "submission {i} accepted = {accepted} while the pool accepts = {}",
            self.accepting
        );
        if !accepted {
            assert!(
                self.drops.is_dropped(i),
                "a rejected closure is handed back"
            );
            // A rejected task never exists: mark it so the end checks skip it.
            task.ended = true;
            task.outcome = None;
            task.id = None;
        }
        self.tasks.push(task);
    }

    fn apply(&mut self, op: &Op) {
        self.log.push(format!("{op:?}"));
        match *op {
            Op::Submit { kind, via_service } => self.submit(kind, via_service),
            Op::OpenGate(g) => {
                self.open[g] = true;
                self.gates[g].open();
            }
            Op::Cancel(k) => {
                let Some(i) = self.handle_task(k) else { return };
                let must = self.must_be_pending(&self.tasks[i]);
                let was_seen_ended = self.tasks[i].ended;
                let r = self.tasks[i].handle.as_ref().unwrap().cancel();
                if must {
                    assert!(
                        r,
                        "cancel of task {i}, which cannot have ended, returned false\nops: {:#?}",
                        self.log
                    );
                }
                if was_seen_ended {
                    assert!(!r, "cancel of task {i}, seen ended, returned true");
                }
                if r {
                    self.tasks[i].cancelled = true;
                    self.record(i, Outcome::Cancelled);
                } else {
                    self.tasks[i].ended = true;
                }
            }
            Op::TryGet(k) => {
                let Some(i) = self.handle_task(k) else { return };
                let must = self.must_be_pending(&self.tasks[i]);
                match self.tasks[i].handle.as_mut().unwrap().try_get() {
                    None => assert!(
                        !self.tasks[i].ended,
                        "task {i} seen ended, yet try_get found it pending"
                    ),
                    Some(r) => {
                        assert!(
                            !must,
                            "task {i} cannot have ended, yet try_get returned {r:?}"
                        );
                        let seen = Self::outcome_of(i, &r);
                        self.record(i, seen);
                        // The result is taken: no more operations on this handle.
                        drop(self.tasks[i].handle.take());
                    }
                }
            }
            Op::IsDone(k) => {
                let Some(i) = self.handle_task(k) else { return };
                let must = self.must_be_pending(&self.tasks[i]);
                let done = self.tasks[i].handle.as_ref().unwrap().is_done();
                if self.tasks[i].ended {
                    assert!(done, "task {i} seen ended, yet is_done is false");
                }
                if must {
                    assert!(!done, "task {i} cannot have ended, yet is_done is true");
                }
                if done {
                    self.tasks[i].ended = true;
                }
            }
            Op::DropHandle(k) => {
                let Some(i) = self.handle_task(k) else { return };
                drop(self.tasks[i].handle.take());
            }
            Op::Poll => {
                if let Some(done) = self.service.poll() {
                    self.deliver(done);
                }
            }
            Op::StreamSome(n) => {
                let waker = futures::task::noop_waker();
                let mut cx = std::task::Context::from_waker(&waker);
                let mut stream = self.service.stream();
                let mut got = Vec::new();
                for _ in 0..n {
                    match futures::Stream::poll_next(std::pin::Pin::new(&mut stream), &mut cx) {
                        std::task::Poll::Ready(Some(done)) => got.push(done),
                        _ => break,
                    }
                }
                drop(stream);
                for done in got {
                    self.deliver(done);
                }
            }
            Op::Shutdown => {
                self.pool.shutdown();
                self.accepting = false;
            }
            Op::ShutdownNow => {
                let drained = self.pool.shutdown_now();
                self.accepting = false;
                for t in &mut self.tasks {
                    if t.id.is_some() && !t.ended {
                        t.stopped = true;
                    }
                }
                // Only jobs that never started come back (a task cancelled while
                // queued may be among them: its job is still queued).
                let never_started = (0..self.tasks.len())
                    .filter(|&i| self.tasks[i].id.is_some() && self.runs.get(i) == 0)
                    .count();
                assert!(
                    drained.len() <= never_started,
                    "shutdown_now handed back {} jobs, but only {never_started} tasks never started",
                    drained.len()
                );
                self.drained += drained.len();
                drop(drained); // their tasks resolve as cancelled
            }
            Op::AwaitZero => {
                let terminated = self.pool.await_termination(Duration::ZERO).is_ok();
                if self.accepting {
                    assert!(!terminated, "terminated while running");
                }
                if let Some(i) = (0..self.tasks.len())
                    .find(|&i| self.tasks[i].id.is_some() && self.must_be_pending(&self.tasks[i]))
                {
                    assert!(!terminated, "terminated while task {i} cannot have ended");
                }
            }
        }
    }

    fn deliver(&mut self, done: executor_completion::Completed<usize>) {
        let id = done.id();
        let i = self
            .tasks
            .iter()
            .position(|t| t.id == Some(id))
            .expect("the service delivered a task it was never given");
        assert!(
            self.tasks[i].via_service,
            "a handle task was delivered by the service"
        );
        assert!(!self.tasks[i].delivered, "task {i} delivered twice");
        self.tasks[i].delivered = true;
        let seen = Self::outcome_of(i, done.result());
        self.record(i, seen);
    }

    /// Opens every gate, shuts down, and checks the end state.
    fn finish(mut self) {
        for g in 0..GATES {
            self.open[g] = true;
            self.gates[g].open();
        }
        self.pool.shutdown();
        assert!(
            self.pool.await_termination(LONG).is_ok(),
            "the pool terminates"
        );
        while let Some(done) = self.service.poll() {
            self.deliver(done);
        }
        for i in 0..self.tasks.len() {
            if self.tasks[i].id.is_none() {
                assert_eq!(self.runs.get(i), 0, "rejected task {i} ran");
                continue;
            }
            if self.tasks[i].via_service {
                assert!(self.tasks[i].delivered, "service task {i} never delivered");
            } else if let Some(mut h) = self.tasks[i].handle.take() {
                let r = h.try_get().expect("every task is done after termination");
                let seen = Self::outcome_of(i, &r);
                self.record(i, seen);
            }
            let ran = self.runs.get(i);
            assert!(ran <= 1, "task {i} ran {ran} times");
            if let Some(o) = self.tasks[i].outcome {
                if o != Outcome::Cancelled {
                    assert_eq!(ran, 1, "task {i} ended {o:?} without running");
                }
            }
        }
        let never_ran = (0..self.tasks.len())
            .filter(|&i| self.tasks[i].id.is_some() && self.runs.get(i) == 0)
            .count();
        assert!(
            self.drained <= never_ran,
            "shutdown_now handed back {} jobs, but only {never_ran} tasks never ran",
            self.drained
        );
        let (n, drops) = (self.submitted, self.drops.clone());
        drop(self);
        drops.assert_all_dropped_once(n);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn ld4_random_operation_sequences_match_the_model(ops in prop::collection::vec(op(), 1..200)) {
        quiet_model_panics();
        bounded(move || {
            let mut world = World::new();
            for op in &ops {
                world.apply(op);
            }
            world.finish();
        });
    }
}
