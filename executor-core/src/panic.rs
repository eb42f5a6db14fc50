//! Panics that reach the pool: the report handed to the pool's panic handler.

use crate::registry::PanicOrigin;
use std::any::Any;
use std::fmt;

/// A panic caught by the pool: from a fire-and-forget job or a thread hook. Handed
/// to the handler set with [`Builder::panic_handler`](crate::Builder::panic_handler);
/// without one, it is reported as a `tracing` error event. The pool never aborts and
/// never loses a worker to a panic.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use executor_core::ThreadPool;
///
/// let seen = Arc::new(AtomicUsize::new(0));
/// let s = seen.clone();
/// let pool = ThreadPool::builder()
///     .num_threads(1)
///     .panic_handler(move |p| {
///         assert_eq!(p.message(), Some("boom"));
///         s.fetch_add(1, Ordering::SeqCst);
///     })
///     .build()
///     .unwrap();
/// pool.execute(|| panic!("boom")).unwrap();
/// pool.close();
/// assert_eq!(seen.load(Ordering::SeqCst), 1);
/// ```
pub struct JobPanic {
    payload: Box<dyn Any + Send>,
    worker: Option<usize>,
    origin: PanicOrigin,
}

impl JobPanic {
    pub(crate) fn new(
        payload: Box<dyn Any + Send>,
        worker: Option<usize>,
        origin: PanicOrigin,
    ) -> Self {
        JobPanic {
            payload,
            worker,
            origin,
        }
    }

    /// The panic message, when the payload is a string (as with `panic!("...")`).
    pub fn message(&self) -> Option<&str> {
        payload_message(&*self.payload)
    }

    /// The index of the worker the panic happened on.
    pub fn worker(&self) -> Option<usize> {
        self.worker
    }

    /// What panicked: a job or a hook.
    pub fn origin(&self) -> PanicOrigin {
        self.origin
    }

    /// The payload, e.g. to `resume_unwind` it elsewhere.
    pub fn into_payload(self) -> Box<dyn Any + Send> {
        self.payload
    }
}

/// The message of a panic payload, if it is a `&str` or a `String`.
pub fn payload_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Debug for JobPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobPanic")
            .field("message", &self.message())
            .field("worker", &self.worker)
            .field("origin", &self.origin)
            .finish()
    }
}
