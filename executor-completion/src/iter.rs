//! The consumers of a [`CompletionService`]: blocking iterators ([`Iter`],
//! [`IntoIter`]) and streams ([`CompletionStream`], [`IntoStream`]).
//!
//! Each keeps a local buffer and refills it with *every* result ready at once
//! (one lock, one queue swap), so a consumer that wakes up drains the backlog
//! instead of paying a lock and a possible wake-up per result. Results in a
//! consumer's buffer count as taken (they are no longer outstanding, and in a
//! bounded service their room is released).
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
use std::pin::Pin;
use std::task::{Context, Poll};

fn next_blocking<T>(
    shared: &Shared<T>,
    help: Option<&PoolRef>,
    buf: &mut VecDeque<Completed<T>>,
) -> Option<Completed<T>> {
    if let Some(done) = buf.pop_front() {
        return Some(done);
    }
    shared.recv(Block::Until(None), help, |q| std::mem::swap(q, buf))?;
    buf.pop_front()
}

/// A blocking iterator over a [`CompletionService`]'s results in completion
/// order; see [`CompletionService::iter`]. It ends when nothing is outstanding;
/// calling `next` again after more submissions yields again.
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
pub struct Iter<'a, T> {
    shared: &'a Shared<T>,
    /// The service's helper (see `CompletionService::helping`).
    help: Option<&'a PoolRef>,
    buf: VecDeque<Completed<T>>,
}

impl<'a, T> Iter<'a, T> {
    pub(crate) fn new(shared: &'a Shared<T>, help: Option<&'a PoolRef>) -> Iter<'a, T> {
        Iter {
            shared,
            help,
            buf: VecDeque::new(),
        }
    }
}

impl<T> Iterator for Iter<'_, T> {
    type Item = Completed<T>;

    fn next(&mut self) -> Option<Completed<T>> {
        next_blocking(self.shared, self.help, &mut self.buf)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.buf.len(), None)
    }
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

/// An owning blocking iterator over a [`CompletionService`]'s results; dropping
/// it drops the service (cancelling what has not finished).
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
    buf: VecDeque<Completed<T>>,
    service: CompletionService<T, E>,
}

impl<T, E> IntoIter<T, E> {
    pub(crate) fn new(service: CompletionService<T, E>) -> IntoIter<T, E> {
        IntoIter {
            buf: VecDeque::new(),
            service,
        }
    }

    /// The service, e.g. to submit more while iterating.
    pub fn service(&self) -> &CompletionService<T, E> {
        &self.service
    }
}

impl<T, E> Iterator for IntoIter<T, E> {
    type Item = Completed<T>;

    fn next(&mut self) -> Option<Completed<T>> {
        next_blocking(self.service.shared(), self.service.helper(), &mut self.buf)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.buf.len(), None)
    }
}

impl<T, E> fmt::Debug for IntoIter<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter")
            .field("buffered", &self.buf.len())
            .field("service", &self.service)
            .finish()
    }
}

/// The state of one stream consumer: its registration and its buffer.
struct StreamState<T> {
    key: Option<u64>,
    buf: VecDeque<Completed<T>>,
}

impl<T> StreamState<T> {
    fn new() -> StreamState<T> {
        StreamState {
            key: None,
            buf: VecDeque::new(),
        }
    }

    fn poll_next(
        &mut self,
        shared: &Shared<T>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Completed<T>>> {
        if let Some(done) = self.buf.pop_front() {
            return Poll::Ready(Some(done));
        }
        match shared.poll_recv(&mut self.key, &mut self.buf, cx) {
            Poll::Ready(true) => Poll::Ready(self.buf.pop_front()),
            Poll::Ready(false) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A [`CompletionService`]'s results as a [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html), in completion order; see
/// [`CompletionService::stream`]. It yields `None` when nothing is outstanding
/// (it is not fused: polled again after more submissions, it yields again).
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
    shared: &'a Shared<T>,
    state: StreamState<T>,
}

impl<'a, T> CompletionStream<'a, T> {
    pub(crate) fn new(shared: &'a Shared<T>) -> CompletionStream<'a, T> {
        CompletionStream {
            shared,
            state: StreamState::new(),
        }
    }
}

// The stream holds no pinned data: its fields move freely.
impl<T> Unpin for CompletionStream<'_, T> {}

impl<T> Stream for CompletionStream<'_, T> {
    type Item = Completed<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Completed<T>>> {
        let this = self.get_mut();
        this.state.poll_next(this.shared, cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.state.buf.len(), None)
    }
}

impl<T> Drop for CompletionStream<'_, T> {
    fn drop(&mut self) {
        self.shared.leave(self.state.key.take());
    }
}

impl<T> fmt::Debug for CompletionStream<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletionStream")
            .field("buffered", &self.state.buf.len())
            .field("registered", &self.state.key.is_some())
            .finish()
    }
}

/// An owned [`CompletionStream`]: the stream owns the service (dropping the
/// stream drops the service). See [`CompletionService::into_stream`].
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
    state: StreamState<T>,
    service: CompletionService<T, E>,
}

impl<T, E> IntoStream<T, E> {
    pub(crate) fn new(service: CompletionService<T, E>) -> IntoStream<T, E> {
        IntoStream {
            state: StreamState::new(),
            service,
        }
    }

    /// The service, e.g. to submit more while streaming.
    pub fn service(&self) -> &CompletionService<T, E> {
        &self.service
    }
}

impl<T, E> Unpin for IntoStream<T, E> {}

impl<T, E> Stream for IntoStream<T, E> {
    type Item = Completed<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Completed<T>>> {
        let this = self.get_mut();
        this.state.poll_next(this.service.shared(), cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.state.buf.len(), None)
    }
}

impl<T, E> Drop for IntoStream<T, E> {
    fn drop(&mut self) {
        self.service.shared().leave(self.state.key.take());
    }
}

impl<T, E> fmt::Debug for IntoStream<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoStream")
            .field("buffered", &self.state.buf.len())
            .field("registered", &self.state.key.is_some())
            .field("service", &self.service)
            .finish()
    }
}
