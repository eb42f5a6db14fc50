//! A probe allocator for the `*_alloc_probe` binaries: per-thread free lists.
//! Blocks up to 512 bytes are taken from the calling thread's list of their
//! size class (16-byte steps), or cut from a 4 MiB chunk of that thread when
//! the list is empty; a freed block goes onto the freeing thread's list. No
//! atomics, no coalescing, memory reused once it was touched: about what a
//! per-thread cache of task cells (or mimalloc) would cost, so an estimate of
//! what recycling task cells could save (Java allocates a task by bumping a
//! thread-local pointer). Not a design to use: a block never goes back to the
//! system, and blocks freed by another thread than their allocator's migrate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, UnsafeCell};

const CHUNK: usize = 4 << 20;
const MAX: usize = 512;
const CLASSES: usize = MAX / 16;

struct Lists {
    /// Heads of the free lists, by size class (a free block's first word
    /// points to the next).
    free: UnsafeCell<[*mut u8; CLASSES]>,
    /// The current chunk: next free byte, end.
    area: Cell<(usize, usize)>,
}

thread_local! {
    static LISTS: Lists = const {
        Lists {
            free: UnsafeCell::new([std::ptr::null_mut(); CLASSES]),
            area: Cell::new((0, 0)),
        }
    };
}

fn small(layout: Layout) -> Option<usize> {
    (layout.size() <= MAX && layout.align() <= 16).then(|| (layout.size().max(1) - 1) / 16)
}

/// The allocator (module docs); install it with `#[global_allocator]`.
#[derive(Debug)]
pub struct PerThread;

// SAFETY: a block handed out is either fresh memory of a chunk obtained from
// `System` (16-aligned, `16 * (class + 1)` bytes, never handed out twice) or a
// block of the same class that was freed (and so is no longer in use); the
// lists are thread-local, so only their thread touches them. Other requests,
// and any during thread-local teardown, go to `System`; `dealloc` tells the two
// apart by the layout (a small block from `System` during teardown is leaked).
unsafe impl GlobalAlloc for PerThread {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = small(layout) else {
            // SAFETY: forwarded (non-zero size: the GlobalAlloc contract).
            return unsafe { System.alloc(layout) };
        };
        let got = LISTS.try_with(|l| {
            // SAFETY: thread-local, and no call below re-enters the lists.
            let free = unsafe { &mut *l.free.get() };
            let head = free[class];
            if !head.is_null() {
                // SAFETY: a freed block of this class holds the next pointer.
                free[class] = unsafe { *(head as *mut *mut u8) };
                return head;
            }
            let size = 16 * (class + 1);
            let (mut next, mut end) = l.area.get();
            if next + size > end {
                // SAFETY: a valid, non-zero layout.
                let base = unsafe { System.alloc(Layout::from_size_align(CHUNK, 4096).unwrap()) };
                if base.is_null() {
                    return base;
                }
                next = base as usize;
                end = next + CHUNK;
            }
            l.area.set((next + size, end));
            next as *mut u8
        });
        // SAFETY: forwarded.
        got.unwrap_or_else(|_| unsafe { System.alloc(layout) })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(class) = small(layout) else {
            // SAFETY: allocated by `System` with this layout (above).
            return unsafe { System.dealloc(ptr, layout) };
        };
        let _ = LISTS.try_with(|l| {
            // SAFETY: thread-local; `ptr` is a block of this class no longer in
            // use (the GlobalAlloc contract), at least 16 bytes, 16-aligned.
            unsafe {
                let free = &mut *l.free.get();
                *(ptr as *mut *mut u8) = free[class];
                free[class] = ptr;
            }
        });
    }
}
