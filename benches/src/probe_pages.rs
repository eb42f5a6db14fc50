//! A probe allocator for the `*_pages_probe` binaries: the page design of a
//! task-cell allocator (issue 21), as the process's global allocator, to
//! measure what it would buy before the library's cells move onto it.
//!
//! Blocks of at most 256 bytes (alignment at most 16) are cut by a bump of a
//! thread-local cursor from the calling thread's current 16 KiB page of their
//! size class (16-byte steps). A page's header counts `live` = cells not freed
//! yet + 1 while it is current (set to `capacity + 1` when a thread takes it);
//! a free from any thread is one `fetch_sub`, the owner's retirement of a
//! full page another, and whichever makes it 0 gets the page: into its
//! thread's cache of 4 free pages, else back to `System`. So, unlike
//! [`probe_alloc`](crate::probe_alloc), memory goes back page by page and
//! nothing migrates; allocation is a bump with no atomic RMW. Larger blocks go
//! to `System`.
//!
//! A probe, not the library's allocator: its thread-locals have no destructor
//! (a global allocator must not allocate to register one), so a thread's
//! current pages and cache are leaked when it exits.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{fence, AtomicUsize, Ordering};

const PAGE: usize = 16 * 1024;
const HEADER: usize = 64;
const GRAIN: usize = 16;
const MAX: usize = 256;
const CLASSES: usize = MAX / GRAIN;
const KEEP: usize = 4;
const PAGE_LAYOUT: Layout = match Layout::from_size_align(PAGE, PAGE) {
    Ok(l) => l,
    Err(_) => panic!("a valid layout"),
};

struct Local {
    /// Per size class: the next cell and the end of the current page.
    bumps: [Cell<(usize, usize)>; CLASSES],
    cache: [Cell<usize>; KEEP],
    cached: Cell<usize>,
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            bumps: [const { Cell::new((0, 0)) }; CLASSES],
            cache: [const { Cell::new(0) }; KEEP],
            cached: Cell::new(0),
        }
    };
}

fn class(layout: Layout) -> Option<usize> {
    (layout.size() <= MAX && layout.align() <= GRAIN).then(|| (layout.size().max(1) - 1) / GRAIN)
}

/// The page's counter, at its start.
fn live(page: usize) -> &'static AtomicUsize {
    // SAFETY: `page` is a page of this allocator whose header was written
    // when a thread took it, and it is alive while this reference is used
    // (the caller holds a cell or the "current" credit).
    unsafe { &*(page as *const AtomicUsize) }
}

/// The allocator (module docs); install it with `#[global_allocator]`.
#[derive(Debug)]
pub struct Pages;

// SAFETY: a small block is a cell of a page no other live block overlaps
// (bumped once per page use), and a page is reused only after its count
// reached 0 (every cell freed, and no longer current), with the `Acquire`
// of that RMW ordering the frees before. Other requests, and any during
// thread-local teardown, go to `System`, with a page of its own for a small
// one (count 1), so `dealloc` can tell them apart by the layout alone.
unsafe impl GlobalAlloc for Pages {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class(layout) else {
            // SAFETY: forwarded.
            return unsafe { System.alloc(layout) };
        };
        let size = GRAIN * (class + 1);
        let got = LOCAL.try_with(|l| {
            let (next, end) = l.bumps[class].get();
            if next != 0 {
                let after = next + size;
                if after + size > end {
                    // The last cell: retire the page (its cell keeps it).
                    l.bumps[class].set((0, 0));
                    live(next & !(PAGE - 1)).fetch_sub(1, Ordering::AcqRel);
                } else {
                    l.bumps[class].set((after, end));
                }
                return next as *mut u8;
            }
            let n = l.cached.get();
            let page = if n > 0 {
                l.cached.set(n - 1);
                l.cache[n - 1].get()
            } else {
                // SAFETY: a valid, non-zero layout.
                let p = unsafe { System.alloc(PAGE_LAYOUT) };
                if p.is_null() {
                    return p;
                }
                p as usize
            };
            let cap = (PAGE - HEADER) / size;
            // SAFETY: the page is free and ours.
            unsafe { (page as *mut AtomicUsize).write(AtomicUsize::new(cap + 1)) };
            let first = page + HEADER;
            l.bumps[class].set((first + size, first + cap * size));
            first as *mut u8
        });
        got.unwrap_or_else(|_| {
            // SAFETY: a valid, non-zero layout.
            let p = unsafe { System.alloc(PAGE_LAYOUT) };
            if p.is_null() {
                return p;
            }
            // SAFETY: the page is new and ours: one cell, count 1.
            unsafe { (p as *mut AtomicUsize).write(AtomicUsize::new(1)) };
            p.wrapping_add(HEADER)
        })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if class(layout).is_none() {
            // SAFETY: allocated by `System` with this layout (above).
            return unsafe { System.dealloc(ptr, layout) };
        }
        let page = ptr as usize & !(PAGE - 1);
        if live(page).fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        let kept = LOCAL
            .try_with(|l| {
                let n = l.cached.get();
                if n < KEEP {
                    l.cache[n].set(page);
                    l.cached.set(n + 1);
                    true
                } else {
                    false
                }
            })
            .unwrap_or(false);
        if !kept {
            // SAFETY: the count reached 0: the page is free and ours.
            unsafe { System.dealloc(page as *mut u8, PAGE_LAYOUT) };
        }
    }
}
