//! [`Builder`]: configuring and starting a pool.

use crate::error::BuildError;
use crate::panic::JobPanic;
use crate::pool::ThreadPool;
use crate::registry::{Hooks, PanicHandler, Registry, ThreadHook};
use crate::worker::Queues;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Default stack size of a worker: 8 MiB. Helping while waiting runs nested jobs on
/// the waiting worker's stack, so workers get more than `std`'s 2 MiB; the memory
/// is reserved, and only touched pages are committed.
pub const DEFAULT_STACK_SIZE: usize = 8 << 20;

static POOL_IDS: AtomicUsize = AtomicUsize::new(0);

type NameFn = Box<dyn FnMut(usize) -> String>;

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
        }
    }

    /// The number of worker threads. Zero makes [`build`](Builder::build) fail with
    /// [`BuildError::ZeroThreads`].
    pub fn num_threads(mut self, n: usize) -> Self {
        self.num_threads = Some(n);
        self
    }

    /// The pool's name, used in `tracing` events and default thread names.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.pool_name = Some(name.into());
        self
    }

    /// Names worker `i` with `f(i)`. A panic in `f` makes `build` fail.
    pub fn thread_name(mut self, f: impl FnMut(usize) -> String + 'static) -> Self {
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

    /// Starts the workers.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroThreads`] for zero threads; [`BuildError::Spawn`] when the
    /// OS refuses a thread; [`BuildError::ThreadNamePanicked`]. On error every
    /// thread already started has been stopped and joined.
    pub fn build(self) -> Result<ThreadPool, BuildError> {
        let n = self.num_threads.unwrap_or_else(num_cpus::get);
        if n == 0 {
            return Err(BuildError::ZeroThreads);
        }
        let id = POOL_IDS.fetch_add(1, Ordering::Relaxed);
        let pool_name = self.pool_name.unwrap_or_else(|| format!("executor-{id}"));
        let queues: Vec<Queues> = (0..n).map(|_| Queues::new()).collect();
        let hooks = Hooks {
            on_start: self.on_start,
            on_stop: self.on_stop,
            panic_handler: self.panic_handler,
        };
        let registry = Arc::new(Registry::new(pool_name.clone(), &queues, hooks));
        let mut thread_name = self.thread_name;
        let stack_size = self.stack_size.unwrap_or(DEFAULT_STACK_SIZE);
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
            let reg = registry.clone();
            let spawned = std::thread::Builder::new()
                .name(name)
                .stack_size(stack_size)
                .spawn(move || crate::worker::main(reg, index, queues));
            match spawned {
                Ok(handle) => crate::sync_lock(&registry.threads).push(handle),
                Err(source) => {
                    return Err(abort(&registry, index, BuildError::Spawn { index, source }))
                }
            }
        }
        tracing::debug!(pool = %pool_name, threads = n, "pool started");
        Ok(ThreadPool::from_registry(registry))
    }
}

/// Undoes a partial build: the workers `started..` never ran; stop the others.
fn abort(registry: &Arc<Registry>, started: usize, err: BuildError) -> BuildError {
    tracing::error!(pool = %registry.name, error = %err, "building the pool failed");
    registry.forget_workers(registry.num_threads() - started);
    registry.close();
    err
}
