//! [`CellArc`]: the reference count of task cells, continuations and callbacks,
//! allocated by [`cell_alloc`](crate::cell_alloc) instead of the global
//! allocator (`std`'s `Arc` takes no allocator on stable Rust).
//!
//! The same layout and protocol as `std::sync::Arc` (a strong and a weak count
//! before the value; the strong references together hold one weak), with two
//! RMWs less per task:
//!
//! * [`CellArc::new_pair`]: a cell born with two references (the handle's and
//!   the queued job's) costs no clone;
//! * the last strong reference frees the memory after a *load* of the weak
//!   count when no [`CellWeak`] exists (no `CellWeak` can be made once the
//!   strong count is 0, so a weak count of 1 cannot change), where `Arc` pays
//!   a decrement.
//!
//! Measured with callgrind (`cell_cost batch`, 100,000 tasks): the two RMWs
//! are 22 instructions per task on the submitting thread (280 → 258) and
//! two locked instructions on the task path (the clone on the submitter, the
//! weak decrement on the freeing thread).
//!
//! ```text
//!   clone:    strong.fetch_add(1, Relaxed)
//!   drop:     strong.fetch_sub(1, Release) == 1 ?  fence(Acquire), drop value,
//!               weak.load(Acquire) == 1 ? free : weak.fetch_sub(1, Release) == 1 ? free
//!   upgrade:  CAS strong n → n + 1 while n > 0
//!   weak drop: weak.fetch_sub(1, Release) == 1 ? fence(Acquire), free
//! ```
//!
//! A `CellArc<dyn Trait>` is made from a `CellArc<X>` with [`upcast!`]: the
//! raw pointer is unsized (`CoerceUnsized` is not stable), the counts stay
//! where they are, and the layout is read from the value's vtable at the free.

#![allow(unsafe_code)]

use crate::cell_alloc;
use std::alloc::Layout;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;
// `std`'s even under loom, as `Arc`'s were: with loom's, the models of the
// task cell (`task.rs`, `continuation.rs`, `combinators.rs`) did not finish
// in 15 minutes. The protocol is `Arc`'s, less the two RMWs above.
use std::sync::atomic::{fence, AtomicUsize, Ordering};

#[cfg(test)]
static CELLS_LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Test hook: `CellArc` allocations not freed yet.
#[cfg(test)]
pub(crate) fn cells_live() -> usize {
    CELLS_LIVE.load(std::sync::atomic::Ordering::SeqCst)
}

/// The allocation: the counts, then the value.
#[repr(C)]
pub(crate) struct Inner<U: ?Sized> {
    strong: AtomicUsize,
    weak: AtomicUsize,
    value: U,
}

/// A counted reference to a cell (module docs).
pub(crate) struct CellArc<U: ?Sized> {
    ptr: NonNull<Inner<U>>,
    _owns: PhantomData<Inner<U>>,
}

// SAFETY: as for `Arc<U>`: the value is shared between threads (`Sync`) and
// dropped on whichever thread releases the last reference (`Send`).
unsafe impl<U: ?Sized + Send + Sync> Send for CellArc<U> {}
// SAFETY: as above.
unsafe impl<U: ?Sized + Send + Sync> Sync for CellArc<U> {}

// A reference never pins its value (as `Arc`).
impl<U: ?Sized> Unpin for CellArc<U> {}

/// Unsizes a `CellArc<X>` into a `CellArc<dyn Trait>` (module docs).
macro_rules! upcast {
    ($arc:expr) => {{
        let raw = $crate::cell_arc::CellArc::into_inner_raw($arc);
        // SAFETY: `raw` came from `into_inner_raw`; `from_upcast` accepts
        // only a pointer to an unsized value, which `as` makes from a thin one
        // by unsizing only (same allocation, same counts); its reference
        // moves here.
        #[allow(unsafe_code, unused_unsafe)]
        let upcast = unsafe { $crate::cell_arc::CellArc::from_upcast(raw as _) };
        upcast
    }};
}
pub(crate) use upcast;

impl<X> CellArc<X> {
    /// A new value with one strong reference.
    #[inline]
    pub(crate) fn new(value: X) -> CellArc<X> {
        Self::with_count(value, 1)
    }

    /// A new value with two strong references (a cell and its queued job).
    #[inline]
    pub(crate) fn new_pair(value: X) -> (CellArc<X>, CellArc<X>) {
        let a = Self::with_count(value, 2);
        let b = CellArc {
            ptr: a.ptr,
            _owns: PhantomData,
        };
        (a, b)
    }

    #[inline]
    fn with_count(value: X, strong: usize) -> CellArc<X> {
        #[cfg(test)]
        CELLS_LIVE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let layout = Layout::new::<Inner<X>>();
        let p = cell_alloc::alloc(layout).cast::<Inner<X>>();
        // SAFETY: `p` is fresh memory of `Inner<X>`'s layout.
        unsafe {
            p.write(Inner {
                strong: AtomicUsize::new(strong),
                weak: AtomicUsize::new(1),
                value,
            })
        };
        CellArc {
            // SAFETY: `alloc` never returns null.
            ptr: unsafe { NonNull::new_unchecked(p) },
            _owns: PhantomData,
        }
    }

    /// The value, if this is the only reference (and no `CellWeak` exists).
    pub(crate) fn into_inner(this: CellArc<X>) -> Option<X> {
        let this = std::mem::ManuallyDrop::new(this);
        let inner = this.inner();
        if inner.strong.fetch_sub(1, Ordering::Release) != 1 {
            return None;
        }
        fence(Ordering::Acquire);
        // SAFETY: the strong count reached 0 here: the value is ours to move
        // out, once; the memory is released as a drop would.
        unsafe {
            let value = std::ptr::read(&inner.value);
            Self::release_memory(this.ptr, Layout::new::<Inner<X>>());
            Some(value)
        }
    }

    /// The allocation of the value `p` points to.
    #[inline]
    fn inner_of(p: *const X) -> *const Inner<X> {
        p.cast::<u8>()
            .wrapping_sub(std::mem::offset_of!(Inner<X>, value))
            .cast()
    }

    /// Gives up this reference as a pointer to the value, for
    /// [`from_value_raw`](CellArc::from_value_raw) (a queued job's word, a
    /// waker's data).
    #[inline]
    pub(crate) fn into_value_raw(this: CellArc<X>) -> *const X {
        let this = std::mem::ManuallyDrop::new(this);
        CellArc::as_ptr(&this)
    }

    /// Takes back a reference given up by `into_value_raw`.
    ///
    /// # Safety
    ///
    /// `p` came from `into_value_raw` of a `CellArc<X>`, and each such
    /// reference is taken back once.
    #[inline]
    pub(crate) unsafe fn from_value_raw(p: *const X) -> CellArc<X> {
        // SAFETY: the caller's contract: `p` is the value of an allocation
        // whose reference moves here.
        unsafe { CellArc::from_inner_raw(Self::inner_of(p)) }
    }

    /// A new reference to the value `value` (a `&self` method of the value
    /// that needs an owned reference).
    ///
    /// # Safety
    ///
    /// `value` is the value of a `CellArc<X>` (every value of the types that
    /// call this is made by `CellArc::new`).
    #[inline]
    pub(crate) unsafe fn clone_from_value(value: &X) -> CellArc<X> {
        // SAFETY: the caller's contract; `value` is alive, so is its allocation.
        unsafe { CellArc::clone_from_inner_raw(Self::inner_of(value)) }
    }

    /// A weak reference (for a set that must not keep the cell alive).
    pub(crate) fn downgrade(this: &CellArc<X>) -> CellWeak<X> {
        this.inner().weak.fetch_add(1, Ordering::Relaxed);
        CellWeak { ptr: this.ptr }
    }
}

impl<U: ?Sized> CellArc<U> {
    #[inline]
    fn inner(&self) -> &Inner<U> {
        // SAFETY: a strong reference keeps the allocation and the value alive.
        unsafe { self.ptr.as_ref() }
    }

    /// The value's address (for identity: the current-task stack, the pool's
    /// run reports).
    #[inline]
    pub(crate) fn as_ptr(this: &CellArc<U>) -> *const U {
        &this.inner().value
    }

    /// True iff both point to the same value.
    #[cfg(test)]
    pub(crate) fn ptr_eq(a: &CellArc<U>, b: &CellArc<U>) -> bool {
        std::ptr::addr_eq(a.ptr.as_ptr(), b.ptr.as_ptr())
    }

    /// Gives up this reference as a pointer to the allocation, for
    /// [`from_inner_raw`](CellArc::from_inner_raw).
    #[inline]
    pub(crate) fn into_inner_raw(this: CellArc<U>) -> *const Inner<U> {
        let this = std::mem::ManuallyDrop::new(this);
        this.ptr.as_ptr()
    }

    /// Takes back a reference given up by `into_inner_raw`.
    ///
    /// # Safety
    ///
    /// `raw` came from `into_inner_raw` (possibly unsized since), and each
    /// such reference is taken back once.
    #[inline]
    pub(crate) unsafe fn from_inner_raw(raw: *const Inner<U>) -> CellArc<U> {
        CellArc {
            // SAFETY: `into_inner_raw` returned a non-null pointer.
            ptr: unsafe { NonNull::new_unchecked(raw as *mut Inner<U>) },
            _owns: PhantomData,
        }
    }

    /// [`from_inner_raw`](CellArc::from_inner_raw) for [`upcast!`]: `U` must
    /// be unsized (a `dyn` value), so the `as` cast that made `raw` was an
    /// unsizing one, never a cast between two sized types.
    ///
    /// # Safety
    ///
    /// As for `from_inner_raw`.
    #[doc(hidden)]
    #[inline]
    pub(crate) unsafe fn from_upcast(raw: *const Inner<U>) -> CellArc<U> {
        assert!(
            std::mem::size_of::<*const Inner<U>>() == 2 * std::mem::size_of::<usize>(),
            "upcast! makes `dyn` references only"
        );
        // SAFETY: the caller's contract.
        unsafe { CellArc::from_inner_raw(raw) }
    }

    /// A new reference to the allocation `raw` points to.
    ///
    /// # Safety
    ///
    /// `raw` points to the allocation of a `CellArc` that stays alive during
    /// this call.
    #[inline]
    pub(crate) unsafe fn clone_from_inner_raw(raw: *const Inner<U>) -> CellArc<U> {
        // SAFETY: the caller's contract: the allocation is alive.
        unsafe { &*raw }.strong.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the reference just counted is taken here.
        unsafe { Self::from_inner_raw(raw) }
    }

    /// A new reference to the value `value` of unknown type (the current-task
    /// stack keeps `dyn` values).
    ///
    /// # Safety
    ///
    /// `value` is the value of a `CellArc<U>` (possibly unsized since).
    #[inline]
    pub(crate) unsafe fn clone_from_value_dyn(value: &U) -> CellArc<U> {
        // The value's offset in `Inner<U>` (`repr(C)`): the two counts,
        // rounded up to the value's alignment.
        let counts = 2 * std::mem::size_of::<AtomicUsize>();
        debug_assert_eq!(
            std::mem::offset_of!(Inner<()>, value),
            counts,
            "the counts come first"
        );
        let align = std::mem::align_of_val(value);
        let offset = (counts + align - 1) & !(align - 1);
        let inner = (value as *const U).wrapping_byte_sub(offset) as *const Inner<U>;
        // SAFETY: the caller's contract: `inner` is the live allocation.
        unsafe { CellArc::clone_from_inner_raw(inner) }
    }

    /// The allocation's address (for `clone_from_inner_raw`).
    #[cfg(test)]
    pub(crate) fn inner_ptr(this: &CellArc<U>) -> *const Inner<U> {
        this.ptr.as_ptr()
    }

    /// Drops the value: the strong count reached 0.
    #[inline(never)]
    unsafe fn drop_slow(&mut self) {
        // Read while the value is alive (a `dyn` value's from its vtable).
        let layout = Layout::for_value(self.inner());
        // SAFETY: the strong count is 0 and this thread made it so: the value
        // is ours to drop, once.
        unsafe {
            std::ptr::drop_in_place(&mut (*self.ptr.as_ptr()).value);
            Self::release_memory(self.ptr, layout);
        }
    }

    /// Gives up the strong references' weak count, freeing the memory if no
    /// `CellWeak` is left.
    ///
    /// # Safety
    ///
    /// The value was dropped or moved out; the strong count is 0; `layout`
    /// is the allocation's.
    unsafe fn release_memory(ptr: NonNull<Inner<U>>, layout: Layout) {
        // SAFETY: the memory is alive until the weak count reaches 0.
        let inner = unsafe { ptr.as_ref() };
        // No `CellWeak` left (module docs): none can be made any more.
        if inner.weak.load(Ordering::Acquire) != 1
            && inner.weak.fetch_sub(1, Ordering::Release) != 1
        {
            return;
        }
        fence(Ordering::Acquire);
        #[cfg(test)]
        CELLS_LIVE.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: the last count is gone: nobody uses the memory, which came
        // from `cell_alloc::alloc` with this layout.
        unsafe { cell_alloc::dealloc(ptr.as_ptr().cast(), layout) };
    }
}

impl<U: ?Sized> Clone for CellArc<U> {
    #[inline]
    fn clone(&self) -> CellArc<U> {
        let old = self.inner().strong.fetch_add(1, Ordering::Relaxed);
        if old > isize::MAX as usize {
            std::process::abort();
        }
        CellArc {
            ptr: self.ptr,
            _owns: PhantomData,
        }
    }
}

impl<U: ?Sized> Drop for CellArc<U> {
    #[inline]
    fn drop(&mut self) {
        if self.inner().strong.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // SAFETY: this thread took the strong count to 0.
        unsafe { self.drop_slow() };
    }
}

impl<U: ?Sized> Deref for CellArc<U> {
    type Target = U;
    #[inline]
    fn deref(&self) -> &U {
        &self.inner().value
    }
}

/// A weak reference: keeps the memory, not the value.
pub(crate) struct CellWeak<X> {
    ptr: NonNull<Inner<X>>,
}

// SAFETY: as for `std::sync::Weak`.
unsafe impl<X: Send + Sync> Send for CellWeak<X> {}
// SAFETY: as above.
unsafe impl<X: Send + Sync> Sync for CellWeak<X> {}

impl<X> CellWeak<X> {
    /// A strong reference, if the value is still alive.
    pub(crate) fn upgrade(&self) -> Option<CellArc<X>> {
        // SAFETY: a weak reference keeps the memory (and its counts) alive.
        let strong = &unsafe { self.ptr.as_ref() }.strong;
        let mut n = strong.load(Ordering::Relaxed);
        loop {
            if n == 0 {
                return None;
            }
            match strong.compare_exchange_weak(n, n + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => {
                    return Some(CellArc {
                        ptr: self.ptr,
                        _owns: PhantomData,
                    })
                }
                Err(seen) => n = seen,
            }
        }
    }
}

impl<X> Drop for CellWeak<X> {
    fn drop(&mut self) {
        // SAFETY: a weak reference keeps the memory alive.
        let inner = unsafe { self.ptr.as_ref() };
        if inner.weak.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        #[cfg(test)]
        CELLS_LIVE.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: the last count is gone, the value was dropped (the strong
        // references' weak count was given up after it): free the memory.
        unsafe { cell_alloc::dealloc(self.ptr.as_ptr().cast(), Layout::new::<Inner<X>>()) };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdAtomic;
    use std::sync::Arc;

    struct Counted(Arc<StdAtomic>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    trait Speak: Send + Sync {
        fn speak(&self) -> usize;
    }
    impl Speak for Counted {
        fn speak(&self) -> usize {
            7
        }
    }

    #[test]
    fn counts_drop_once_upcast_weak_and_into_inner() {
        let _serial = crate::cell_alloc::tests::serial();
        let drops = Arc::new(StdAtomic::new(0));
        let (a, b) = CellArc::new_pair(Counted(drops.clone()));
        let w = CellArc::downgrade(&a);
        let c = a.clone();
        let d: CellArc<dyn Speak> = upcast!(c);
        assert_eq!(d.speak(), 7);
        drop(a);
        drop(b);
        assert!(w.upgrade().is_some());
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(d);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert!(w.upgrade().is_none());
        drop(w);

        let e = CellArc::new(Counted(drops.clone()));
        let f = e.clone();
        assert!(CellArc::into_inner(f).is_none());
        let v = CellArc::into_inner(e).expect("the last reference");
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(v);
        assert_eq!(drops.load(Ordering::SeqCst), 2);

        // A value too large for a page.
        let big = CellArc::new([7u64; 100]);
        let raw = CellArc::inner_ptr(&big);
        // SAFETY: `big` is alive.
        let again = unsafe { CellArc::clone_from_inner_raw(raw) };
        assert!(CellArc::ptr_eq(&big, &again));
        assert_eq!(again[99], 7);
    }

    #[test]
    fn shared_across_threads() {
        let _serial = crate::cell_alloc::tests::serial();
        let drops = Arc::new(StdAtomic::new(0));
        let a = CellArc::new(Counted(drops.clone()));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let a = a.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        drop(a.clone());
                    }
                })
            })
            .collect();
        drop(a);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}
