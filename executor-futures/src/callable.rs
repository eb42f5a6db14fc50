//! [`Callable`]: the unit of work that produces a value (Java's `Callable<V>`).

/// Work that produces a `T` when called once: Java's `Callable<V>`, Python's
/// `fn` given to `Executor.submit`.
///
/// Implemented for every `FnOnce() -> T`, so closures can be submitted directly;
/// implement it for your own task structs when the work carries named state.
///
/// # Examples
///
/// A task struct:
///
/// ```
/// use executor_futures::{Callable, ExecutorService};
///
/// struct Sum(Vec<u64>);
/// impl Callable<u64> for Sum {
///     fn call(self) -> u64 {
///         self.0.iter().sum()
///     }
/// }
///
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// assert_eq!(pool.submit(Sum(vec![1, 2, 3])).unwrap().get().unwrap(), 6);
/// assert_eq!(pool.submit(|| 6 * 7).unwrap().get().unwrap(), 42);
/// ```
///
/// What is submitted to a pool must be `Send + 'static`:
///
/// ```compile_fail
/// use executor_futures::ExecutorService;
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let not_send = std::rc::Rc::new(1);
/// pool.submit(move || *not_send).unwrap();
/// ```
///
/// ```compile_fail
/// use executor_futures::ExecutorService;
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let local = 5;
/// pool.submit(|| local + 1).unwrap(); // borrows a local: not 'static
/// ```
pub trait Callable<T> {
    /// Runs the work, consuming it.
    fn call(self) -> T;
}

impl<T, F: FnOnce() -> T> Callable<T> for F {
    #[inline]
    fn call(self) -> T {
        self()
    }
}
