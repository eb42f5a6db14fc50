//! [`as_completed`] and [`wait_any`]: completion order over handles that already
//! exist (Python's `concurrent.futures.as_completed` and
//! `wait(return_when=FIRST_COMPLETED)`).
//!
//! The handles were submitted without a completion hook, so this module uses the
//! hook every [`TaskHandle`] has: its `Future` implementation. Each handle is
//! polled once with a waker of its own that, when the task finishes, pushes the
//! handle's index into a shared list and wakes the consumer (a blocked thread,
//! through [`Waiter`], so a pool worker waits by `executor_core::integration::wait_until`'s
//! rule, or an async task).
//! The consumer then polls only the handles whose index arrived: no polling loop,
//! no scan of all handles per completion. The consumer registers itself and
//! re-checks the list under the same lock the wakers push under, so no wake-up is
//! lost.
//!
//! Polling a handle that is done moves its result out; that is why the items are
//! [`Finished`] values (index, id, result) rather than the handles themselves.

use crate::error::WaitAnyError;
use crate::waitlist::Notifier;
use executor_core::integration::Waiter;
use executor_core::TimedOut;
use executor_futures::{TaskError, TaskHandle, TaskId};
use futures_core::Stream;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// A task that finished, as yielded by [`as_completed`] and [`wait_any`]: its
/// position in the input, its id and its result.
///
/// # Examples
///
/// ```
/// use executor_completion::as_completed;
/// use executor_futures::ExecutorService;
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let handle = pool.submit(|| 7).unwrap();
/// let id = handle.id();
/// let finished = as_completed([handle]).next().unwrap();
/// assert_eq!((finished.index(), finished.id()), (0, id));
/// assert_eq!(finished.get().unwrap(), 7);
/// ```
pub struct Finished<T> {
    index: usize,
    id: TaskId,
    result: Result<T, TaskError>,
}

impl<T> Finished<T> {
    /// The handle's position in the input collection.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task's result, borrowed.
    pub fn result(&self) -> &Result<T, TaskError> {
        &self.result
    }

    /// The task's result.
    ///
    /// # Errors
    ///
    /// [`TaskError::Cancelled`] or [`TaskError::Panicked`].
    pub fn get(self) -> Result<T, TaskError> {
        self.result
    }

    /// True if the task returned a value.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// True if the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.result, Err(TaskError::Cancelled))
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.result, Err(TaskError::Panicked(_)))
    }
}

impl<T: fmt::Debug> fmt::Debug for Finished<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finished")
            .field("index", &self.index)
            .field("id", &self.id)
            .field("result", &self.result)
            .finish()
    }
}

/// Where the per-handle wakers report, and whom they wake.
#[derive(Default)]
struct Signal {
    state: Mutex<SignalState>,
    /// The length of `state.ready`, for the waiting condition.
    count: AtomicUsize,
}

#[derive(Default)]
struct SignalState {
    ready: Vec<usize>,
    consumer: Option<Notifier>,
}

impl Signal {
    fn lock(&self) -> MutexGuard<'_, SignalState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, index: usize) {
        let mut st = self.lock();
        st.ready.push(index);
        self.count.store(st.ready.len(), Ordering::Release);
        let consumer = st.consumer.take();
        drop(st);
        if let Some(c) = consumer {
            c.wake();
        }
    }

    /// Moves the reported indices into `out`.
    fn drain(&self, out: &mut Vec<usize>) {
        out.clear();
        let mut st = self.lock();
        std::mem::swap(&mut st.ready, out);
        self.count.store(0, Ordering::Release);
    }

    /// Registers `consumer` unless indices are already waiting; false then.
    fn register(&self, consumer: Notifier) -> bool {
        let mut st = self.lock();
        if !st.ready.is_empty() {
            return false;
        }
        let old = st.consumer.replace(consumer);
        drop(st);
        drop(old);
        true
    }

    fn unregister(&self) {
        let old = self.lock().consumer.take();
        drop(old);
    }

    /// Blocks (on a worker, by `wait_until`'s rule) until an index is reported or `deadline`.
    fn wait(&self, deadline: Option<Instant>) -> bool {
        if !self.register(Notifier::Thread(Waiter::current())) {
            return true;
        }
        let reported = executor_core::integration::wait_until(
            || self.count.load(Ordering::Acquire) > 0,
            deadline,
        )
        .is_ok();
        if !reported {
            self.unregister();
        }
        reported
    }
}

/// The waker of handle `index`.
struct IndexWaker {
    index: usize,
    signal: Arc<Signal>,
}

impl Wake for IndexWaker {
    fn wake(self: Arc<Self>) {
        self.signal.push(self.index);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.signal.push(self.index);
    }
}

fn index_waker(index: usize, signal: &Arc<Signal>) -> Waker {
    Waker::from(Arc::new(IndexWaker {
        index,
        signal: signal.clone(),
    }))
}

/// Polls `handle` with `waker`: its result if done (moved out), else `None` with
/// the waker registered.
fn poll_with<T>(handle: &mut TaskHandle<T>, waker: &Waker) -> Option<Result<T, TaskError>> {
    match Pin::new(handle).poll(&mut Context::from_waker(waker)) {
        Poll::Ready(result) => Some(result),
        Poll::Pending => None,
    }
}

struct Slot<T> {
    handle: TaskHandle<T>,
    waker: Waker,
}

/// Turns handles into an iterator of their results in the order the tasks
/// finish: Python's `concurrent.futures.as_completed`. For async code, turn it
/// into a [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html) with [`AsCompleted::into_stream`].
///
/// Handles already done come first, in input order. Waiting on a pool worker
/// runs only the tasks that worker's task queued itself, then blocks while the
/// pool runs a spare in its place. The iterator does not cancel anything.
///
/// It owns the handles it was given, and the results it has polled out of
/// them: there is no one to give them back to on drop, so dropping it drops
/// them (detaching the tasks not done, which still run), as dropping the
/// handles would. To stop early without losing anything, iterate
/// [`by_ref()`](Iterator::by_ref) and then call
/// [`into_parts`](AsCompleted::into_parts): the results finished but not
/// yielded (in completion order) and the handles not finished. That also
/// holds after a panic in the loop body that is caught where the iterator
/// lives (the iterator is left intact by an unwind through `next`'s caller).
///
/// For an overall timeout see [`as_completed_timeout`]; for a timeout per step,
/// [`AsCompleted::next_timeout`].
///
/// A handle whose result was already taken (by `get_timeout`, `try_get` or an
/// `.await` that completed) counts as done: it is yielded at once with
/// [`TaskError::AlreadyTaken`].
///
/// # Examples
///
/// ```
/// use std::sync::mpsc::channel;
/// use executor_completion::as_completed;
/// use executor_futures::ExecutorService;
///
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let (go_tx, go_rx) = channel::<()>();
/// let slow = pool.submit(move || { go_rx.recv().unwrap(); "slow" }).unwrap();
/// let fast = pool.submit(|| "fast").unwrap();
/// let mut order = as_completed(vec![slow, fast]);
/// let first = order.next().unwrap();
/// assert_eq!((first.index(), first.get().unwrap()), (1, "fast"));
/// go_tx.send(()).unwrap();
/// assert_eq!(order.next().unwrap().get().unwrap(), "slow");
/// assert!(order.next().is_none());
/// ```
pub fn as_completed<T, I>(handles: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = TaskHandle<T>>,
{
    let signal = Arc::new(Signal::default());
    let mut slots = Vec::new();
    let mut done = VecDeque::new();
    let mut remaining = 0;
    for (index, mut handle) in handles.into_iter().enumerate() {
        let id = handle.id();
        let waker = index_waker(index, &signal);
        match poll_with(&mut handle, &waker) {
            Some(result) => {
                done.push_back(Finished { index, id, result });
                slots.push(None);
            }
            None => {
                remaining += 1;
                slots.push(Some(Slot { handle, waker }));
            }
        }
    }
    AsCompleted {
        slots,
        signal,
        done,
        remaining,
        scratch: Vec::new(),
    }
}

/// [`as_completed`] with an overall deadline, `timeout` from now: the iterator
/// yields `Ok` per task in completion order, or one `Err(TimedOut)` when the
/// deadline passes first (then ends). [`AsCompletedTimeout::into_inner`] gives
/// the rest back.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use executor_completion::{as_completed_timeout, TimedOut};
/// use executor_futures::ExecutorService;
///
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let stuck = pool.submit(move || rx.recv().is_ok()).unwrap();
/// let quick = pool.submit(|| true).unwrap();
/// let mut it = as_completed_timeout([stuck, quick], Duration::from_millis(50));
/// assert!(it.next().unwrap().unwrap().get().unwrap());
/// assert_eq!(it.next().unwrap().unwrap_err(), TimedOut);
/// assert!(it.next().is_none());
/// let rest = it.into_inner();
/// assert_eq!(rest.remaining(), 1);
/// tx.send(()).unwrap();
/// ```
pub fn as_completed_timeout<T, I>(handles: I, timeout: Duration) -> AsCompletedTimeout<T>
where
    I: IntoIterator<Item = TaskHandle<T>>,
{
    let deadline = Instant::now().checked_add(timeout);
    AsCompletedTimeout {
        inner: as_completed(handles),
        deadline,
        timed_out: false,
    }
}

/// The completion-order iterator of [`as_completed`]; its
/// [`into_stream`](AsCompleted::into_stream) is the async version.
///
/// # Examples
///
/// ```
/// use executor_completion::as_completed;
/// use executor_futures::ExecutorService;
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let handles: Vec<_> = (0..4).map(|i| pool.submit(move || i).unwrap()).collect();
/// let mut it = as_completed(handles);
/// assert_eq!(it.len(), 4);
/// let mut got: Vec<i32> = it.map(|f| f.get().unwrap()).collect();
/// got.sort();
/// assert_eq!(got, [0, 1, 2, 3]);
/// ```
pub struct AsCompleted<T> {
    slots: Vec<Option<Slot<T>>>,
    signal: Arc<Signal>,
    /// Finished, not yet yielded.
    done: VecDeque<Finished<T>>,
    /// Slots still holding a handle.
    remaining: usize,
    scratch: Vec<usize>,
}

impl<T> AsCompleted<T> {
    /// Polls the handles whose wakers fired; true if any was reported.
    fn refill(&mut self) -> bool {
        if self.signal.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.signal.drain(&mut self.scratch);
        let reported = !self.scratch.is_empty();
        for index in self.scratch.drain(..) {
            let Some(slot) = self.slots.get_mut(index).and_then(Option::as_mut) else {
                continue; // a repeated wake for a handle already done
            };
            if let Some(result) = poll_with(&mut slot.handle, &slot.waker) {
                let id = slot.handle.id();
                self.slots[index] = None;
                self.remaining -= 1;
                self.done.push_back(Finished { index, id, result });
            }
        }
        reported
    }

    /// The next finished task, waiting until `deadline` (the iterator's `next`
    /// is the untimed form). `Ok(None)` when every task has been yielded.
    ///
    /// # Errors
    ///
    /// [`TimedOut`] when the deadline passes first; the iterator is intact.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use executor_completion::as_completed;
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let mut it = as_completed([pool.submit(|| 1).unwrap()]);
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// assert_eq!(it.next_deadline(deadline).unwrap().unwrap().get().unwrap(), 1);
    /// assert!(it.next_deadline(deadline).unwrap().is_none());
    /// ```
    pub fn next_deadline(&mut self, deadline: Instant) -> Result<Option<Finished<T>>, TimedOut> {
        self.next_until(Some(deadline))
    }

    /// `next_deadline` with `None` for no deadline.
    fn next_until(&mut self, deadline: Option<Instant>) -> Result<Option<Finished<T>>, TimedOut> {
        loop {
            if let Some(finished) = self.done.pop_front() {
                return Ok(Some(finished));
            }
            if self.remaining == 0 {
                return Ok(None);
            }
            if self.refill() {
                continue;
            }
            if !self.signal.wait(deadline) {
                self.refill();
                return self.done.pop_front().map(Some).ok_or(TimedOut);
            }
        }
    }

    /// [`next_deadline`](AsCompleted::next_deadline) with a timeout from now.
    ///
    /// # Errors
    ///
    /// [`TimedOut`] when the timeout passes first; the iterator is intact.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use executor_completion::as_completed;
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let mut it = as_completed([pool.submit(move || rx.recv().is_ok()).unwrap()]);
    /// assert!(it.next_timeout(Duration::from_millis(5)).is_err());
    /// tx.send(()).unwrap();
    /// assert!(it.next_timeout(Duration::from_secs(10)).unwrap().is_some());
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Finished<T>>, TimedOut> {
        self.next_until(Instant::now().checked_add(timeout))
    }

    /// The next finished task if one is ready; never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::as_completed;
    /// use executor_futures::ExecutorService;
    /// let mut it = as_completed([executor_core::integration::InlineExecutor.submit(|| 1).unwrap()]);
    /// assert!(it.try_next().is_some());
    /// assert!(it.try_next().is_none());
    /// ```
    pub fn try_next(&mut self) -> Option<Finished<T>> {
        if self.done.is_empty() {
            self.refill();
        }
        self.done.pop_front()
    }

    /// The number of tasks not yielded yet.
    pub fn remaining(&self) -> usize {
        self.remaining + self.done.len()
    }

    /// Cancels every task not done yet; returns how many this call cancelled.
    /// They are still yielded (as cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::as_completed;
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let blocker = pool.submit(move || rx.recv().is_ok()).unwrap();
    /// let mut it = as_completed([pool.submit(|| 1).unwrap()]);
    /// assert_eq!(it.cancel_remaining(), 1);
    /// assert!(it.next().unwrap().is_cancelled());
    /// tx.send(()).unwrap();
    /// blocker.get().unwrap();
    /// ```
    pub fn cancel_remaining(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .filter(|slot| slot.handle.cancel())
            .count()
    }

    /// The same completion order as a [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html) (for async code, on any runtime).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use executor_completion::as_completed;
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(2).unwrap();
    /// let handles: Vec<_> = (0..4).map(|i| pool.submit(move || i).unwrap()).collect();
    /// let stream = as_completed(handles).into_stream();
    /// let mut got: Vec<i32> =
    ///     futures::executor::block_on(stream.map(|f| f.get().unwrap()).collect::<Vec<_>>());
    /// got.sort();
    /// assert_eq!(got, [0, 1, 2, 3]);
    /// ```
    pub fn into_stream(self) -> AsCompletedStream<T> {
        AsCompletedStream { inner: self }
    }

    /// Gives up iterating: the results finished but not yielded yet (in
    /// completion order), and the handles of the tasks not finished (in input
    /// order). Nothing the iterator was given is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use executor_completion::as_completed;
    /// use executor_futures::ExecutorService;
    /// let pool = executor_core::ThreadPool::new(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let it = as_completed([pool.submit(move || rx.recv().is_ok()).unwrap()]);
    /// let (finished, handles) = it.into_parts();
    /// assert!(finished.is_empty());
    /// tx.send(()).unwrap();
    /// assert!(handles.into_iter().next().unwrap().get().unwrap());
    /// ```
    pub fn into_parts(self) -> (Vec<Finished<T>>, Vec<TaskHandle<T>>) {
        let handles = self.slots.into_iter().flatten().map(|s| s.handle).collect();
        (self.done.into(), handles)
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = Finished<T>;

    /// Blocks until the next task finishes; `None` once all were yielded.
    fn next(&mut self) -> Option<Finished<T>> {
        match self.next_until(None) {
            Ok(next) => next,
            Err(TimedOut) => unreachable!("no deadline"),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining(), Some(self.remaining()))
    }
}

impl<T> ExactSizeIterator for AsCompleted<T> {}

impl<T> std::iter::FusedIterator for AsCompleted<T> {}

/// The [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html) of [`as_completed`], from [`AsCompleted::into_stream`]: the
/// same completion order, for async code. Dropping it drops the handles left.
///
/// # Examples
///
/// See [`AsCompleted::into_stream`].
pub struct AsCompletedStream<T> {
    inner: AsCompleted<T>,
}

impl<T> AsCompletedStream<T> {
    /// Back to the blocking iterator, with the tasks not yielded yet.
    pub fn into_inner(self) -> AsCompleted<T> {
        self.inner
    }
}

// No field is pinned: the handles are polled through `Pin::new` (they are Unpin).
impl<T> Unpin for AsCompletedStream<T> {}

impl<T> Stream for AsCompletedStream<T> {
    type Item = Finished<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Finished<T>>> {
        let this = &mut self.get_mut().inner;
        loop {
            if let Some(finished) = this.done.pop_front() {
                return Poll::Ready(Some(finished));
            }
            if this.remaining == 0 {
                return Poll::Ready(None);
            }
            if this.refill() {
                continue;
            }
            // Register, then re-check (under the lock the wakers push under).
            if this.signal.register(Notifier::Task(cx.waker().clone())) {
                return Poll::Pending;
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.inner.remaining();
        (n, Some(n))
    }
}

impl<T> fmt::Debug for AsCompletedStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AsCompletedStream")
            .field(&self.inner)
            .finish()
    }
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.remaining())
            .field("ready", &self.done.len())
            .finish()
    }
}

/// The iterator of [`as_completed_timeout`]: `Ok` per finished task, then either
/// the end or one `Err(TimedOut)`.
///
/// # Examples
///
/// See [`as_completed_timeout`].
pub struct AsCompletedTimeout<T> {
    inner: AsCompleted<T>,
    deadline: Option<Instant>,
    timed_out: bool,
}

impl<T> AsCompletedTimeout<T> {
    /// True once the deadline passed (and `Err(TimedOut)` was yielded).
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// The underlying [`AsCompleted`], with the tasks not yielded yet.
    pub fn into_inner(self) -> AsCompleted<T> {
        self.inner
    }
}

impl<T> Iterator for AsCompletedTimeout<T> {
    type Item = Result<Finished<T>, TimedOut>;

    fn next(&mut self) -> Option<Result<Finished<T>, TimedOut>> {
        if self.timed_out {
            return None;
        }
        match self.inner.next_until(self.deadline) {
            Ok(next) => next.map(Ok),
            Err(TimedOut) => {
                self.timed_out = true;
                Some(Err(TimedOut))
            }
        }
    }
}

impl<T> std::iter::FusedIterator for AsCompletedTimeout<T> {}

impl<T> fmt::Debug for AsCompletedTimeout<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompletedTimeout")
            .field("inner", &self.inner)
            .field("deadline", &self.deadline)
            .field("timed_out", &self.timed_out)
            .finish()
    }
}

/// Waits until one of `handles` is done, removes it from the vector and returns
/// its result (`index` is its position before the removal): Python's
/// `wait(return_when=FIRST_COMPLETED)`. The other handles stay in `handles`,
/// untouched (not cancelled). A done handle is returned at once (the first in
/// order). Waiting on a pool worker never runs unrelated work.
///
/// # Errors
///
/// [`WaitAnyError::Empty`] for no handles ([`wait_any_timeout`] also reports
/// [`WaitAnyError::TimedOut`]).
///
/// A handle whose result was already taken counts as done: it is returned at
/// once with [`TaskError::AlreadyTaken`].
///
/// # Examples
///
/// ```
/// use executor_completion::wait_any;
/// use executor_futures::ExecutorService;
///
/// let pool = executor_core::ThreadPool::new(2).unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let mut handles = vec![
///     pool.submit(move || { rx.recv().unwrap(); "slow" }).unwrap(),
///     pool.submit(|| "fast").unwrap(),
/// ];
/// let first = wait_any(&mut handles).unwrap();
/// assert_eq!((first.index(), first.get().unwrap()), (1, "fast"));
/// assert_eq!(handles.len(), 1);
/// tx.send(()).unwrap();
/// assert_eq!(wait_any(&mut handles).unwrap().get().unwrap(), "slow");
/// ```
pub fn wait_any<T>(handles: &mut Vec<TaskHandle<T>>) -> Result<Finished<T>, WaitAnyError> {
    wait_any_until(handles, None)
}

/// [`wait_any`] that gives up after `timeout`.
///
/// # Errors
///
/// [`WaitAnyError::Empty`] for no handles; [`WaitAnyError::TimedOut`] when
/// `timeout` passes first (`handles` is then untouched).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use executor_completion::{wait_any_timeout, WaitAnyError};
/// use executor_futures::ExecutorService;
///
/// let pool = executor_core::ThreadPool::new(1).unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let mut handles = vec![pool.submit(move || rx.recv().unwrap()).unwrap()];
/// let err = wait_any_timeout(&mut handles, Duration::from_millis(5)).unwrap_err();
/// assert_eq!(err, WaitAnyError::TimedOut);
/// tx.send(()).unwrap();
/// assert!(wait_any_timeout(&mut handles, Duration::from_secs(10)).is_ok());
/// ```
pub fn wait_any_timeout<T>(
    handles: &mut Vec<TaskHandle<T>>,
    timeout: Duration,
) -> Result<Finished<T>, WaitAnyError> {
    wait_any_until(handles, Instant::now().checked_add(timeout))
}

fn wait_any_until<T>(
    handles: &mut Vec<TaskHandle<T>>,
    deadline: Option<Instant>,
) -> Result<Finished<T>, WaitAnyError> {
    if handles.is_empty() {
        return Err(WaitAnyError::Empty);
    }
    let take = |handles: &mut Vec<TaskHandle<T>>, index: usize, result| {
        let handle = handles.remove(index);
        let id = handle.id();
        drop(handle);
        Ok(Finished { index, id, result })
    };
    if let Some(index) = handles.iter().position(TaskHandle::is_done) {
        let result = handles[index]
            .try_get()
            .expect("a done handle has its result");
        return take(handles, index, result);
    }
    let signal = Arc::new(Signal::default());
    let mut wakers = Vec::with_capacity(handles.len());
    for index in 0..handles.len() {
        let waker = index_waker(index, &signal);
        if let Some(result) = poll_with(&mut handles[index], &waker) {
            return take(handles, index, result);
        }
        wakers.push(waker);
    }
    let mut reported = Vec::new();
    loop {
        if signal.count.load(Ordering::Acquire) == 0
            && !signal.wait(deadline)
            && signal.count.load(Ordering::Acquire) == 0
        {
            return Err(WaitAnyError::TimedOut);
        }
        signal.drain(&mut reported);
        reported.sort_unstable();
        for &index in &reported {
            if let Some(result) = poll_with(&mut handles[index], &wakers[index]) {
                return take(handles, index, result);
            }
        }
    }
}
