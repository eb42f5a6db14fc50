//! The consumers of a [`CompletionService`]: blocking iterators ([`Iter`],
//! [`IntoIter`]) and streams ([`CompletionStream`], [`IntoStream`]).
//!
//! Each keeps a local buffer and refills it with *every* result ready at once
//! (one lock, one queue swap), so a consumer that wakes up drains the backlog
//! instead of paying a lock and a possible wake-up per result. While a
//! consumer lives, the results in its buffer count as taken (they are no
//! longer outstanding, and in a bounded service their room is released).
//!
//! ## Giving back
//!
//! A consumer left early (a `break`, `find`, a stream dropped after a few
//! items, a panic in the loop body) must not lose what it buffered: the buffer
//! ([`Buffer`]) gives its results back to the service's queue when it is
//! dropped, also on unwind, merged in completion order (each result carries
//! its delivery number), and they count as outstanding (and against a bounded
//! service's capacity) again. So every result is handed out exactly once: by
//! this consumer, or later by `take` or another consumer. The owning consumers
//! give back the same way and hand the service back with `into_service`.
//!
//! ```text
//!  hook ──deliver──▶ queue ──swap (one lock)──▶ buffer ──next──▶ caller
//!                      ▲                          │
//!                      └──── drop / unwind ───────┘  (merged by delivery number)
//! ```
//!
//! The stream registers its waker *then* re-checks under the same lock the
//! completion hooks use, so no wake-up is lost; a stream dropped after being
//! woken passes the wake-up on to another consumer.

use crate::completed::Completed;
use crate::service::CompletionService;
use crate::shared::{Block, Shared};
use executor_core::PoolRef;
use futures_core::Stream;
use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A consumer's buffer and stream registration, tied to the queue it gives
/// back to when dropped. `S` is `&Shared` for the borrowing consumers and
/// `Arc<Shared>` for the owning ones.
struct Buffer<T, S: Deref<Target = Shared<T>>> {
    shared: S,
    items: VecDeque<Completed<T>>,
    /// The stream's registration in the wait list (iterators never register).
    key: Option<u64>,
}

impl<T, S: Deref<Target = Shared<T>>> Buffer<T, S> {
    fn new(shared: S) -> Self {
        Buffer {
            shared,
            items: VecDeque::new(),
            key: None,
        }
    }

    fn next_blocking(&mut self, help: Option<&PoolRef>) -> Option<Completed<T>> {
        if let Some(done) = self.items.pop_front() {
            return Some(done);
        }
        let items = &mut self.items;
        self.shared
            .recv(Block::Until(None), help, |q| std::mem::swap(q, items))?;
        self.items.pop_front()
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Completed<T>>> {
        if let Some(done) = self.items.pop_front() {
            return Poll::Ready(Some(done));
        }
        match self.shared.poll_recv(&mut self.key, &mut self.items, cx) {
            Poll::Ready(true) => Poll::Ready(self.items.pop_front()),
            Poll::Ready(false) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.items.len(), None)
    }
}

impl<T, S: Deref<Target = Shared<T>>> Drop for Buffer<T, S> {
    fn drop(&mut self) {
        self.shared
            .give_back(self.key.take(), std::mem::take(&mut self.items));
    }
}

impl<T, S: Deref<Target = Shared<T>>> fmt::Debug for Buffer<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer")
            .field("buffered", &self.items.len())
            .field("registered", &self.key.is_some())
            .finish()
    }
}

/// A blocking iterator over a [`CompletionService`]'s results in completion
/// order; see [`CompletionService::iter`]. It ends when nothing is outstanding;
/// calling `next` again after more submissions yields again.
///
/// Dropping it (after a `break`, a `find`, or a panic in the loop body) gives
/// the results it buffered but did not yield back to the service, in
/// completion order: [`take`](CompletionService::take) returns them.
///
/// # Examples
///
/// ```
/// use executor_completion::CompletionService;
/// let service = CompletionService::new(executor_core::ThreadPool::new(2).unwrap());
/// service.submit(|| 1).unwrap();
/// let mut iter = service.iter();
/// assert!(iter.next().is_some());
/// assert!(iter.next().is_none());
/// service.submit(|| 2).unwrap();
/// assert!(iter.next().is_some());
/// ```
///
/// Leaving early loses nothing:
///
/// ```
/// use executor_completion::CompletionService;
/// let service = CompletionService::with_executor(executor_core::integration::InlineExecutor);
/// for i in 0..5 {
///     service.submit(move || i).unwrap(); // inline: each is done at once
/// }
/// for done in &service {
///     assert_eq!(done.get().unwrap(), 0);
///     break; // the iterator had buffered all five
/// }
/// assert_eq!(service.outstanding(), 4);
/// assert_eq!(service.take().unwrap().get().unwrap(), 1);
/// ```
pub struct Iter<'a, T> {
    buf: Buffer<T, &'a Shared<T>>,
    /// The service's helper (see `CompletionService::helping`).
    help: Option<&'a PoolRef>,
}

impl<'a, T> Iter<'a, T> {
    pub(crate) fn new(shared: &'a Shared<T>, help: Option<&'a PoolRef>) -> Iter<'a, T> {
        Iter {
            buf: Buffer::new(shared),
            help,
        }
    }
}

impl<T> Iterator for Iter<'_, T> {
    type Item = Completed<T>;

    fn next(&mut self) -> Option<Completed<T>> {
        self.buf.next_blocking(self.help)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.buf.size_hint()
    }
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("buffered", &self.buf.items.len())
            .finish_non_exhaustive()
    }
}

/// An owning blocking iterator over a [`CompletionService`]'s results; dropping
/// it drops the service (cancelling what has not finished, dropping the results
/// not taken). [`into_service`](IntoIter::into_service) stops iterating and
/// gives the service back, with the results buffered but not yielded.
///
/// # Examples
///
/// ```
/// use executor_completion::CompletionService;
/// let service = CompletionService::new(executor_core::ThreadPool::new(2).unwrap());
/// for i in 0..3 {
///     service.submit(move || i).unwrap();
/// }
/// let mut all: Vec<i32> = service.into_iter().map(|d| d.get().unwrap()).collect();
/// all.sort();
/// assert_eq!(all, [0, 1, 2]);
/// ```
pub struct IntoIter<T, E> {
    /// Declared before `service`: dropped (given back) before the service.
    buf: Buffer<T, Arc<Shared<T>>>,
    service: CompletionService<T, E>,
}

impl<T, E> IntoIter<T, E> {
    pub(crate) fn new(service: CompletionService<T, E>) -> IntoIter<T, E> {
        IntoIter {
            buf: Buffer::new(service.shared().clone()),
            service,
        }
    }

    /// The service, e.g. to submit more while iterating.
    pub fn service(&self) -> &CompletionService<T, E> {
        &self.service
    }

    /// Stops iterating: the service, with the results this iterator buffered
    /// but did not yield given back (in completion order, ready to `take`).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::with_executor(executor_core::integration::InlineExecutor);
    /// for i in 0..3 {
    ///     service.submit(move || i).unwrap();
    /// }
    /// let mut iter = service.into_iter();
    /// assert_eq!(iter.next().unwrap().get().unwrap(), 0);
    /// let service = iter.into_service();
    /// assert_eq!(service.outstanding(), 2);
    /// assert_eq!(service.take().unwrap().get().unwrap(), 1);
    /// ```
    pub fn into_service(self) -> CompletionService<T, E> {
        let IntoIter { buf, service } = self;
        drop(buf);
        service
    }
}

impl<T, E> Iterator for IntoIter<T, E> {
    type Item = Completed<T>;

    fn next(&mut self) -> Option<Completed<T>> {
        self.buf.next_blocking(self.service.helper())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.buf.size_hint()
    }
}

impl<T, E> fmt::Debug for IntoIter<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter")
            .field("buffered", &self.buf.items.len())
            .field("service", &self.service)
            .finish()
    }
}

/// A [`CompletionService`]'s results as a [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html), in completion order; see
/// [`CompletionService::stream`]. It yields `None` when nothing is outstanding
/// (it is not fused: polled again after more submissions, it yields again).
/// Dropping it gives the results it buffered but did not yield back to the
/// service, in completion order.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use executor_completion::CompletionService;
/// let service = CompletionService::new(executor_core::ThreadPool::new(2).unwrap());
/// service.submit(|| "x").unwrap();
/// futures::executor::block_on(async {
///     let mut stream = service.stream();
///     assert_eq!(stream.next().await.unwrap().get().unwrap(), "x");
///     assert!(stream.next().await.is_none());
/// });
/// ```
pub struct CompletionStream<'a, T> {
    buf: Buffer<T, &'a Shared<T>>,
}

impl<'a, T> CompletionStream<'a, T> {
    pub(crate) fn new(shared: &'a Shared<T>) -> CompletionStream<'a, T> {
        CompletionStream {
            buf: Buffer::new(shared),
        }
    }
}

// The stream holds no pinned data: its fields move freely.
impl<T> Unpin for CompletionStream<'_, T> {}

impl<T> Stream for CompletionStream<'_, T> {
    type Item = Completed<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Completed<T>>> {
        self.get_mut().buf.poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.buf.size_hint()
    }
}

impl<T> fmt::Debug for CompletionStream<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletionStream")
            .field("buffered", &self.buf.items.len())
            .field("registered", &self.buf.key.is_some())
            .finish()
    }
}

/// An owned [`CompletionStream`]: the stream owns the service (dropping the
/// stream drops the service). See [`CompletionService::into_stream`];
/// [`into_service`](IntoStream::into_service) gives the service back, with the
/// results buffered but not yielded.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use executor_completion::CompletionService;
/// let service = CompletionService::new(executor_core::ThreadPool::new(1).unwrap());
/// service.submit(|| 2).unwrap();
/// let mut stream = service.into_stream();
/// let first = futures::executor::block_on(stream.next()).unwrap();
/// assert_eq!(first.get().unwrap(), 2);
/// stream.service().submit(|| 3).unwrap();
/// assert_eq!(futures::executor::block_on(stream.next()).unwrap().get().unwrap(), 3);
/// ```
pub struct IntoStream<T, E> {
    /// Declared before `service`: dropped (given back) before the service.
    buf: Buffer<T, Arc<Shared<T>>>,
    service: CompletionService<T, E>,
}

impl<T, E> IntoStream<T, E> {
    pub(crate) fn new(service: CompletionService<T, E>) -> IntoStream<T, E> {
        IntoStream {
            buf: Buffer::new(service.shared().clone()),
            service,
        }
    }

    /// The service, e.g. to submit more while streaming.
    pub fn service(&self) -> &CompletionService<T, E> {
        &self.service
    }

    /// Stops streaming: the service, with the results this stream buffered but
    /// did not yield given back (in completion order, ready to `take`).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use executor_completion::CompletionService;
    /// let service = CompletionService::with_executor(executor_core::integration::InlineExecutor);
    /// service.submit(|| 1).unwrap();
    /// service.submit(|| 2).unwrap();
    /// let mut stream = service.into_stream();
    /// assert_eq!(futures::executor::block_on(stream.next()).unwrap().get().unwrap(), 1);
    /// let service = stream.into_service();
    /// assert_eq!(service.take().unwrap().get().unwrap(), 2);
    /// ```
    pub fn into_service(self) -> CompletionService<T, E> {
        let IntoStream { buf, service } = self;
        drop(buf);
        service
    }
}

impl<T, E> Unpin for IntoStream<T, E> {}

impl<T, E> Stream for IntoStream<T, E> {
    type Item = Completed<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Completed<T>>> {
        self.get_mut().buf.poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.buf.size_hint()
    }
}

impl<T, E> fmt::Debug for IntoStream<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoStream")
            .field("buffered", &self.buf.items.len())
            .field("registered", &self.buf.key.is_some())
            .field("service", &self.service)
            .finish()
    }
}
