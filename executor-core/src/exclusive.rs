//! [`Exclusive`]: a value that is only ever reached by value or through
//! `&mut`, and is therefore `Sync` whatever the value is (the pattern of the
//! standard library's unstable `std::sync::Exclusive` and of the
//! `sync_wrapper` crate).
//!
//! Why: an error that hands a user's closure back (a rejected submission)
//! must be `Error + Send + Sync + 'static` to go through `?` into
//! `Box<dyn Error + Send + Sync>` or `anyhow::Error`, but closures are often
//! not `Sync` (one that owns a `Receiver`, a `Cell`). `Sync` means "`&Self`
//! may be shared between threads"; a shared `&Exclusive<T>` gives access to
//! nothing of `T` (only [`get`](Exclusive::get), and only when `T: Sync`), so
//! sharing it is harmless.
//!
//! Invariant: no method hands out `&T` from `&self` unless `T: Sync`.

// The one `unsafe impl` below is the point of this module.
#![allow(unsafe_code)]

use std::fmt;

/// A value reachable only by value or through `&mut`: `Sync` whatever `T` is
/// (and `Send` when `T` is). It is how the errors of this workspace hold a
/// closure they give back (e.g. [`Rejected`](crate::Rejected)) and still are
/// `Error + Send + Sync`.
///
/// # Examples
///
/// ```
/// use executor_core::integration::Exclusive;
/// use std::cell::Cell;
///
/// fn assert_sync<T: Sync>(_: &T) {}
/// let mut counter = Exclusive::new(Cell::new(1)); // `Cell` is not `Sync`
/// assert_sync(&counter);
/// counter.get_mut().set(2);
/// assert_eq!(counter.into_inner().get(), 2);
/// ```
#[derive(Default)]
pub struct Exclusive<T: ?Sized> {
    inner: T,
}

// SAFETY: `Sync` lets several threads hold `&Exclusive<T>` at once. Through a
// shared reference this type gives no access to `T` except `get`, which
// requires `T: Sync` (sharing `&T` is then allowed by `T` itself); every other
// access takes `&mut self` or `self`, which the borrow checker makes
// exclusive. So no `&T` of a non-`Sync` `T` is ever shared between threads.
unsafe impl<T: ?Sized> Sync for Exclusive<T> {}

impl<T> Exclusive<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Exclusive<T> {
        Exclusive { inner: value }
    }

    /// The value, unwrapped.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(executor_core::integration::Exclusive::new(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: ?Sized> Exclusive<T> {
    /// The value, mutably (an exclusive borrow, so any `T` is fine).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut x = executor_core::integration::Exclusive::new(vec![1]);
    /// x.get_mut().push(2);
    /// assert_eq!(x.into_inner(), [1, 2]);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The value, shared: only for a `Sync` value (sharing `&T` across threads
    /// is then allowed).
    ///
    /// # Examples
    ///
    /// ```
    /// let x = executor_core::integration::Exclusive::new(String::from("shared"));
    /// assert_eq!(x.get(), "shared");
    /// ```
    pub fn get(&self) -> &T
    where
        T: Sync,
    {
        &self.inner
    }
}

impl<T> From<T> for Exclusive<T> {
    fn from(value: T) -> Exclusive<T> {
        Exclusive::new(value)
    }
}

impl<T: ?Sized> fmt::Debug for Exclusive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exclusive").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::Exclusive;
    use std::cell::Cell;
    use std::sync::mpsc::Receiver;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn sync_whatever_the_value_send_when_the_value_is() {
        assert_send_sync::<Exclusive<Cell<u8>>>();
        assert_send_sync::<Exclusive<Receiver<u8>>>();
        assert_send_sync::<Exclusive<Box<dyn FnOnce() + Send>>>();
    }
}
