//! [`Builder`]: configuring and starting a pool.

use crate::compensate::{Compensation, DEFAULT_MAX_SPARES, DEFAULT_SPARE_KEEP_ALIVE};
use crate::elastic::{Elastic, DEFAULT_KEEP_ALIVE};
use crate::error::BuildError;
use crate::panic::JobPanic;
use crate::pool::ThreadPool;
use crate::registry::{Hooks, PanicHandler, Registry, ThreadHook};
use crate::worker::{Kind, Queues};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Default stack size of a worker: 8 MiB. A wait runs the waiting task's own
/// children on its stack (so deeply nested waits nest frames), and fork-join
/// waits run other jobs, so workers get more than `std`'s 2 MiB; the memory
/// is reserved, and only touched pages are committed.
pub const DEFAULT_STACK_SIZE: usize = 8 << 20;

/// The largest number of workers a pool can have: 65,536. A larger count is
/// refused by [`Builder::build`] with [`BuildError::TooManyThreads`] before
/// anything is allocated (the per-worker queues and counters of a count near
/// `usize::MAX` would overflow an allocation, a panic inside `build`).
///
/// # Examples
///
/// ```
/// use executor_core::{BuildError, ThreadPool, MAX_THREADS};
/// let err = ThreadPool::new(MAX_THREADS + 1).unwrap_err();
/// assert!(matches!(err, BuildError::TooManyThreads { max: MAX_THREADS, .. }));
/// ```
pub const MAX_THREADS: usize = 1 << 16;

static POOL_IDS: AtomicUsize = AtomicUsize::new(0);

type NameFn = Box<dyn FnMut(usize) -> String + Send>;

/// Configures a [`ThreadPool`]: thread count, names, stack size, start/stop hooks
/// and the panic handler.
///
/// # Examples
///
/// ```
/// use executor_core::ThreadPool;
/// let pool = ThreadPool::builder()
///     .num_threads(2)
///     .thread_name(|i| format!("crunch-{i}"))
///     .stack_size(4 << 20)
///     .on_thread_start(|i| println!("worker {i} up"))
///     .on_thread_stop(|i| println!("worker {i} down"))
///     .build()
///     .unwrap();
/// assert_eq!(pool.num_threads(), 2);
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    num_threads: Option<usize>,
    pool_name: Option<String>,
    thread_name: Option<NameFn>,
    stack_size: Option<usize>,
    on_start: Option<ThreadHook>,
    on_stop: Option<ThreadHook>,
    panic_handler: Option<PanicHandler>,
    quiet_panics: bool,
    execute_delayed_after_shutdown: bool,
    max_spares: usize,
    spare_keep_alive: Duration,
    max_threads: Option<usize>,
    keep_alive: Duration,
    detect_blocked: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("num_threads", &self.num_threads)
            .field("pool_name", &self.pool_name)
            .field("stack_size", &self.stack_size)
            .field("on_start", &self.on_start.is_some())
            .field("on_stop", &self.on_stop.is_some())
            .field("panic_handler", &self.panic_handler.is_some())
            .field("quiet_panics", &self.quiet_panics)
            .field("max_spares", &self.max_spares)
            .field("spare_keep_alive", &self.spare_keep_alive)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A builder with the defaults: `num_cpus::get()` threads, names
    /// `executor-<pool>-<index>`, [`DEFAULT_STACK_SIZE`], no hooks, panics reported
    /// through `tracing`.
    pub fn new() -> Self {
        Builder {
            num_threads: None,
            pool_name: None,
            thread_name: None,
            stack_size: None,
            on_start: None,
            on_stop: None,
            panic_handler: None,
            quiet_panics: false,
            execute_delayed_after_shutdown: true,
            max_spares: DEFAULT_MAX_SPARES,
            spare_keep_alive: DEFAULT_SPARE_KEEP_ALIVE,
            max_threads: None,
            keep_alive: DEFAULT_KEEP_ALIVE,
            detect_blocked: false,
        }
    }

    /// The most workers the pool grows to under load (Java's
    /// `maximumPoolSize`); [`num_threads`](Builder::num_threads) is the core
    /// size it never shrinks below. While work has waited about 10 ms with
    /// every worker busy or blocked, the pool adds a worker, up to this size;
    /// an added worker retires after [`keep_alive`](Builder::keep_alive)
    /// without work. Default: the core size (no growth). Spares standing in
    /// for blocked workers ([`max_spares`](Builder::max_spares)) come on top.
    ///
    /// # Errors
    ///
    /// [`build`](Builder::build) fails with [`BuildError::CoreAboveMax`] when
    /// the core size is larger.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_core::{BuildError, ThreadPool};
    /// let pool = ThreadPool::builder()
    ///     .num_threads(2)
    ///     .max_threads(8)
    ///     .keep_alive(Duration::from_secs(30))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.num_threads(), 2);
    /// let err = ThreadPool::builder().num_threads(4).max_threads(2).build();
    /// assert!(matches!(err, Err(BuildError::CoreAboveMax { core: 4, max: 2 })));
    /// ```
    pub fn max_threads(mut self, n: usize) -> Self {
        self.max_threads = Some(n);
        self
    }

    /// How long a worker added beyond the core size waits for work before it
    /// retires (default [`DEFAULT_KEEP_ALIVE`], 60 s). Zero retires it as soon
    /// as it finds no work; `Duration::MAX` keeps it until the pool shuts down.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = executor_core::ThreadPool::builder()
    ///     .max_threads(4)
    ///     .keep_alive(Duration::ZERO)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.stats().extras, 0);
    /// ```
    pub fn keep_alive(mut self, keep_alive: Duration) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// Detects workers stuck in the kernel (Linux: a worker running a job
    /// whose thread sleeps in the kernel, state `S` or `D` in
    /// `/proc/self/task/<tid>/stat`, at two looks 10 ms apart without finishing
    /// a job) and adds a worker for each while work waits, up to
    /// `max_threads` plus [`max_spares`](Builder::max_spares), so that tasks
    /// calling `std::thread::sleep`, blocking I/O or `block_on` without
    /// [`block_in_place`](crate::block_in_place) do not stall the pool. A
    /// CPU-bound worker (state `R`) never counts. Off by default: see the
    /// `elastic` module docs for the measurement and the reasons. Elsewhere
    /// than Linux it has no effect.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = executor_core::ThreadPool::builder()
    ///     .num_threads(1)
    ///     .detect_blocked_workers(true)
    ///     .build()
    ///     .unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let (done_tx, done_rx) = std::sync::mpsc::channel();
    /// // Blocks its worker without saying so ...
    /// pool.execute(move || done_tx.send(rx.recv().unwrap()).unwrap()).unwrap();
    /// // ... and the pool still runs this (on an added worker, on Linux).
    /// pool.execute(move || tx.send(5).unwrap()).unwrap();
    /// assert_eq!(done_rx.recv().unwrap(), 5);
    /// ```
    pub fn detect_blocked_workers(mut self, on: bool) -> Self {
        self.detect_blocked = on;
        self
    }

    /// The most spare workers the pool runs at once in place of workers blocked
    /// in a wait or in [`block_in_place`](crate::block_in_place) (default
    /// [`DEFAULT_MAX_SPARES`], 256, as Java's `ForkJoinPool`). A spare starts
    /// only while a worker is blocked and work is queued, and retires when that
    /// worker resumes or after [`spare_keep_alive`](Builder::spare_keep_alive)
    /// without work.
    ///
    /// **At the cap** a blocked worker is not compensated: its wait blocks,
    /// and runs nothing unrelated. If every worker then waits for work queued
    /// behind them, the pool stalls until one of those waits ends (an event
    /// from outside the pool, a timed wait's deadline, or
    /// [`shutdown_now`](crate::ThreadPool::shutdown_now), which hands the
    /// queued work back and interrupts the running tasks). The first refusal
    /// of such an episode is reported through `tracing` at `ERROR`, and
    /// [`Stats`](crate::Stats) shows the stall (`blocked >= threads + spares +
    /// extras` with `queued > 0`). Java's `ForkJoinPool` throws from the
    /// blocking call instead; a wait here keeps its contract (see the
    /// reasons in `compensate.rs`).
    ///
    /// **Zero** turns compensation off: a blocked worker just blocks. Then a
    /// pool whose every worker waits for work queued behind them stops for
    /// good (a deadlock), so use zero only when the pool's tasks never wait
    /// for each other. What still completes: an untimed wait first runs the jobs the
    /// waiting task pushed onto its own worker's deque, so a task that
    /// submits children from its worker and waits for them completes at any
    /// depth. What is detected, with any cap: only a task waiting for
    /// itself. `executor-futures`' handle waits return `WouldDeadlock` when
    /// the awaited task runs on the waiting thread below the waiter (the
    /// waiter is that task, or runs nested inside its wait). Not detected
    /// (the wait blocks): a wait for a task queued behind blocked workers, a
    /// cycle of waits across workers, a wait on a channel or lock that a
    /// queued task would release.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_core::{block_in_place, ThreadPool};
    /// let pool = ThreadPool::builder().num_threads(1).max_spares(4).build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let (done_tx, done_rx) = std::sync::mpsc::channel();
    /// pool.execute(move || done_tx.send(block_in_place(|| rx.recv().unwrap())).unwrap())
    ///     .unwrap();
    /// pool.execute(move || tx.send(1).unwrap()).unwrap(); // run by a spare
    /// assert_eq!(done_rx.recv().unwrap(), 1);
    /// ```
    pub fn max_spares(mut self, n: usize) -> Self {
        self.max_spares = n;
        self
    }

    /// How long an idle spare worker waits for work before it retires
    /// (default [`DEFAULT_SPARE_KEEP_ALIVE`], 60 s). Zero retires a spare as
    /// soon as it finds no work; `Duration::MAX` keeps it until its blocked
    /// worker resumes or the pool shuts down.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = executor_core::ThreadPool::builder()
    ///     .spare_keep_alive(Duration::from_millis(100))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.stats().spares, 0);
    /// ```
    pub fn spare_keep_alive(mut self, keep_alive: Duration) -> Self {
        self.spare_keep_alive = keep_alive;
        self
    }

    /// The number of worker threads. Zero makes [`build`](Builder::build) fail with
    /// [`BuildError::ZeroThreads`], more than [`MAX_THREADS`] with
    /// [`BuildError::TooManyThreads`].
    pub fn num_threads(mut self, n: usize) -> Self {
        self.num_threads = Some(n);
        self
    }

    /// The pool's name, used in `tracing` events and default thread names.
    /// A name with a NUL byte makes [`build`](Builder::build) fail with
    /// [`BuildError::InvalidPoolName`].
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.pool_name = Some(name.into());
        self
    }

    /// Names worker `i` with `f(i)`. A panic in `f`, or a name with a NUL byte,
    /// makes `build` fail. Spare and extra workers (indices from `num_threads`
    /// on) are named by `f` too, when they start; a panic or a NUL byte then
    /// falls back to the default name.
    pub fn thread_name(mut self, f: impl FnMut(usize) -> String + Send + 'static) -> Self {
        self.thread_name = Some(Box::new(f));
        self
    }

    /// The stack size of each worker, in bytes.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Runs `f(index)` on each worker when it starts, before it runs any job. A
    /// panic in it is reported to the panic handler and the worker carries on.
    pub fn on_thread_start(mut self, f: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.on_start = Some(Arc::new(f));
        self
    }

    /// Runs `f(index)` on each worker after its last job. A panic in it is reported
    /// to the panic handler.
    pub fn on_thread_stop(mut self, f: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.on_stop = Some(Arc::new(f));
        self
    }

    /// Receives every panic the pool catches from jobs and hooks (instead of the
    /// default `tracing` error event). A panic inside the handler is swallowed.
    pub fn panic_handler(mut self, f: impl Fn(JobPanic) + Send + Sync + 'static) -> Self {
        self.panic_handler = Some(Arc::new(f));
        self
    }

    /// Keeps the panics this pool catches off stderr (default: `false`).
    ///
    /// A panic in a task never kills a worker: the pool catches it and reports
    /// it (to the task's handle, or to the [panic handler](Builder::panic_handler)).
    /// But before it is caught, it passes through std's panic hook, which by
    /// default prints `thread '...' panicked at ...` (as with rayon and tokio).
    /// With `quiet_panics(true)`, `build` installs, once per process, a hook
    /// that stays silent for panics on this pool's worker threads and hands
    /// every other panic to the hook that was in place before (the default one,
    /// or yours). Other pools and threads keep printing.
    ///
    /// Set your own hook (if any) before building the first quiet pool: a hook
    /// set later replaces the filter. The setting follows the thread, not the
    /// task: a task run by another thread (a helping completion-service consumer,
    /// or a worker of another pool that waits for the task and runs it itself)
    /// follows that thread's setting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use executor_core::ThreadPool;
    ///
    /// let caught = Arc::new(AtomicUsize::new(0));
    /// let count = caught.clone();
    /// let pool = ThreadPool::builder()
    ///     .num_threads(1)
    ///     .quiet_panics(true)
    ///     .panic_handler(move |_| {
    ///         count.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// pool.execute(|| panic!("not printed")).unwrap(); // still reported:
    /// pool.close();
    /// assert_eq!(caught.load(Ordering::SeqCst), 1);
    /// ```
    pub fn quiet_panics(mut self, quiet: bool) -> Self {
        self.quiet_panics = quiet;
        self
    }

    /// Whether delayed jobs (the pool's [`Timer`](crate::integration::Timer) jobs, i.e.
    /// `executor-futures`' `schedule`d tasks) still run when due after
    /// [`shutdown`](ThreadPool::shutdown): `true` (the default, Java's
    /// `setExecuteExistingDelayedTasksAfterShutdownPolicy(true)`) keeps them,
    /// and the pool terminates only after the last one ran; `false` cancels them
    /// at `shutdown` (their closures are dropped, their handles report
    /// cancellation). A job due never is cancelled at `shutdown` either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use executor_core::ThreadPool;
    /// use executor_core::integration::Job;
    /// let pool = ThreadPool::builder()
    ///     .num_threads(1)
    ///     .execute_delayed_after_shutdown(false)
    ///     .build()
    ///     .unwrap();
    /// let later = Instant::now().checked_add(Duration::from_secs(3600));
    /// pool.timer().schedule_job(later, Job::new(|| unreachable!())).unwrap();
    /// pool.shutdown(); // the delayed job is dropped: termination does not wait an hour
    /// assert!(pool.await_termination(Duration::from_secs(10)).is_ok());
    /// ```
    pub fn execute_delayed_after_shutdown(mut self, execute: bool) -> Self {
        self.execute_delayed_after_shutdown = execute;
        self
    }

    /// Starts the workers.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroThreads`] for zero threads, [`BuildError::TooManyThreads`]
    /// above [`MAX_THREADS`]; [`BuildError::Spawn`] when the
    /// OS refuses a thread (or `std` panics while spawning it, e.g. on a stack
    /// size it cannot round up: the panic message is the error's source);
    /// [`BuildError::ThreadNamePanicked`]; [`BuildError::InvalidThreadName`] for a
    /// name with a NUL byte. `build` itself never panics. On error every thread
    /// already started has been stopped and joined.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_core::{BuildError, ThreadPool};
    /// let err = ThreadPool::builder()
    ///     .num_threads(4)
    ///     .thread_name(|i| if i == 2 { "bad\0name".into() } else { format!("w{i}") })
    ///     .build()
    ///     .unwrap_err(); // workers 0 and 1 were started, then stopped and joined
    /// assert!(matches!(err, BuildError::InvalidThreadName { index: 2, .. }));
    /// ```
    pub fn build(self) -> Result<ThreadPool, BuildError> {
        let n = self.num_threads.unwrap_or_else(num_cpus::get);
        if n == 0 {
            return Err(BuildError::ZeroThreads);
        }
        if n > MAX_THREADS {
            return Err(BuildError::TooManyThreads {
                requested: n,
                max: MAX_THREADS,
            });
        }
        let max = self.max_threads.unwrap_or(n);
        if n > max {
            return Err(BuildError::CoreAboveMax { core: n, max });
        }
        if max > MAX_THREADS {
            return Err(BuildError::TooManyThreads {
                requested: max,
                max: MAX_THREADS,
            });
        }
        let detect = self.detect_blocked && cfg!(target_os = "linux");
        let id = POOL_IDS.fetch_add(1, Ordering::Relaxed);
        let pool_name = self.pool_name.unwrap_or_else(|| format!("executor-{id}"));
        if pool_name.contains('\0') {
            // Every default thread name (workers, spares, timer, monitor) is
            // made from it, and `std` panics on a NUL in a thread name.
            return Err(BuildError::InvalidPoolName { name: pool_name });
        }
        let queues: Vec<Queues> = (0..n).map(|_| Queues::new()).collect();
        let on_start = if self.quiet_panics {
            crate::quiet_panics::install();
            quiet_start_hook(self.on_start)
        } else {
            self.on_start
        };
        let hooks = Hooks {
            on_start,
            on_stop: self.on_stop,
            panic_handler: self.panic_handler,
        };
        let stack_size = self.stack_size.unwrap_or(DEFAULT_STACK_SIZE);
        let max_extra = max - n;
        // Extras for load, and for stuck workers (up to the spare cap).
        let slots = self.max_spares + max_extra + if detect { self.max_spares } else { 0 };
        let comp = Compensation::new(self.max_spares, self.spare_keep_alive, stack_size, slots);
        let elastic = Elastic::new(max_extra, self.keep_alive, detect, n + slots);
        let registry = Arc::new_cyclic(|this| {
            Registry::new(
                pool_name.clone(),
                &queues,
                hooks,
                comp,
                elastic,
                this.clone(),
            )
        });
        registry
            .timer
            .set_execute_delayed_after_shutdown(self.execute_delayed_after_shutdown);
        let mut thread_name = self.thread_name;
        for (index, queues) in queues.into_iter().enumerate() {
            let name = match &mut thread_name {
                Some(f) => match catch_unwind(AssertUnwindSafe(|| f(index))) {
                    Ok(name) => name,
                    Err(_) => {
                        return Err(abort(
                            &registry,
                            index,
                            BuildError::ThreadNamePanicked { index },
                        ))
                    }
                },
                None => format!("{pool_name}-{index}"),
            };
            if name.contains('\0') {
                // `std` panics on it inside `spawn`: refuse it before.
                let err = BuildError::InvalidThreadName { index, name };
                return Err(abort(&registry, index, err));
            }
            let reg = registry.clone();
            // `spawn` reports what the OS refuses as an error, but asserts on some
            // input (a NUL in the name, checked above; a stack size it cannot
            // round up in some versions): a panic here becomes an error too, so
            // the workers already started are stopped rather than leaked.
            let spawned = catch_unwind(AssertUnwindSafe(|| {
                std::thread::Builder::new()
                    .name(name)
                    .stack_size(stack_size)
                    .spawn(move || crate::worker::main(reg, index, queues, Kind::Core))
            }))
            .unwrap_or_else(|payload| {
                let what = crate::integration::payload_message(&*payload)
                    .unwrap_or("std::thread::Builder::spawn panicked")
                    .to_owned();
                crate::registry::quietly(move || drop(payload));
                Err(std::io::Error::other(what))
            });
            match spawned {
                Ok(handle) => crate::sync_lock(&registry.threads).push(handle),
                Err(source) => {
                    return Err(abort(&registry, index, BuildError::Spawn { index, source }))
                }
            }
        }
        *crate::sync_lock(&registry.comp.names) = thread_name;
        crate::elastic::start_monitor(&registry);
        tracing::debug!(pool = %pool_name, threads = n, "pool started");
        Ok(ThreadPool::from_registry(registry))
    }
}

/// The start hook of a quiet pool: marks the worker's thread (before any task
/// runs on it), then runs the user's start hook, if any.
fn quiet_start_hook(user: Option<ThreadHook>) -> Option<ThreadHook> {
    Some(Arc::new(move |index| {
        crate::quiet_panics::mark_current_thread();
        if let Some(hook) = &user {
            hook(index);
        }
    }))
}

/// Undoes a partial build: the workers `started..` never ran; stop the others.
fn abort(registry: &Arc<Registry>, started: usize, err: BuildError) -> BuildError {
    tracing::error!(pool = %registry.name, error = %err, "building the pool failed");
    registry.forget_workers(registry.num_threads() - started);
    registry.close();
    err
}
