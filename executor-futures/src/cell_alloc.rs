//! The task-cell allocator: cells cut from per-thread pages by a bump of a
//! thread-local pointer, each page given back when its last cell is freed, by
//! whichever thread frees it (issue 21; Java's thread-local allocation buffers
//! plus collection are the model).
//!
//! ## Why (measured)
//!
//! A batch of `submit`s holds all its cells (10,000–100,000) before any is
//! freed, and frees them on another thread. With glibc each cell was a
//! `malloc` on the submitting thread and a `free` that landed in the fastbins,
//! which the next large allocation consolidated (`malloc_consolidate`): 390 of
//! the submitting thread's 585 instructions per task (`task.rs`, "What a task
//! costs"). A per-thread free list does not help that pattern (the batch is held
//! before any cell is freed), and a cache as large as a batch's peak would hold
//! that memory for good. Pages give the bump of a fresh page for every
//! allocation and give memory back page by page.
//!
//! ## The protocol
//!
//! A page is [`PAGE`] bytes, aligned to its size, so a cell finds its page by
//! masking its address. Its header holds one counter, `live`. The thread that
//! takes a page (its *owner* while the page is *current*) sets
//!
//! ```text
//!   live = capacity + 1        (every cell not freed yet, + 1 for "current")
//! ```
//!
//! and then hands out cells by bumping a thread-local cursor: no atomic RMW.
//!
//! ```text
//!   owner thread                          any thread
//!   ────────────                          ──────────
//!   take page: live = cap + 1
//!   alloc: cursor += size (plain)   ──▶   free(cell): drop the value, then
//!   alloc ...                               live.fetch_sub(1, Release) == 1 ?
//!   last cell handed out: retire:             └ yes: fence(Acquire), page goes
//!     live.fetch_sub(1, AcqRel) == 1 ?            to this thread's cache (at
//!       └ yes: page freed here                    most KEEP_PAGES), else to
//!                                                 the global allocator
//!   thread exit: retire the current page with the credit of its cells never
//!     handed out: live.fetch_sub(unused + 1, AcqRel) == unused + 1 ? free it
//! ```
//!
//! Invariant: `live` is the number of cells handed out and not freed, plus
//! the cells never handed out, plus 1 while the page is current. Each cell is
//! freed once and each credit is dropped once, so `live` reaches 0 exactly
//! once, after the last of those events, and the thread whose RMW made it 0
//! frees the page. Nobody touches a page's header after its RMW except that
//! thread: the owner only writes the cursor (its own thread-local), never the
//! page, after it retired it. The `Release` of every decrement and the
//! `Acquire` of the one that reaches 0 order all uses of the page's cells
//! before its reuse. So:
//!
//! * allocation on the owner: a bump, no atomic RMW (one RMW per page, the
//!   retirement);
//! * a free from any thread: one atomic RMW;
//! * a page goes back when its last cell is freed and it is no longer current:
//!   memory is never held for a batch's peak. A thread keeps at most
//!   [`KEEP_PAGES`] free pages for its next allocations (64 KiB), and gives
//!   them back when it exits;
//! * a page outliving its thread: the thread's exit drops its credit, and the
//!   page is freed by whichever thread frees its last cell;
//! * allocation while the thread-locals are gone (in a thread-local
//!   destructor): a page of its own for the one cell (`live` = 1), freed with
//!   it.
//!
//! The loom model (`loom_page_count`) checks the counter: alloc on the owner,
//! frees on other threads, retirement racing the last free, the page freed
//! exactly once and never while a cell is live.
//!
//! ## Sizes
//!
//! Cells of at most [`MAX_CELL`] bytes and alignment at most 16 use pages,
//! rounded up to a multiple of 16 (16 size classes, one current page each);
//! larger ones (a callable capturing a big array) go to the global allocator,
//! whose cost is then small against the work. The typed task cells of
//! `submit` (88–112 bytes) and of a completion service (~120) are well under
//! it. A page of 16 KiB holds 170 cells of 96 bytes; a thread holds at most
//! one partly used page per size class in use.
//!
//! ## What a page costs in memory
//!
//! A page lives as long as its longest-lived cell: a task handle kept for
//! hours keeps its 16 KiB page, however many of the page's other cells were
//! freed (bump allocation never reuses a slot of a page in use; Java's
//! collector would move the survivor, we cannot). Batches and streams of
//! tasks free their cells in about the order they were made, so their pages
//! empty whole; an application that keeps one handle in every few hundred
//! tasks for long pins up to 16 KiB per kept handle. Reusing the freed slots
//! of a retired page (a per-page free list, as mimalloc does) would bound
//! that, at the cost of the bump; not done, nothing here measured it.
//!
//! ## Measured (callgrind, `cell_cost`, 100,000 tasks, 1 worker)
//!
//! Instructions per task on the submitting thread with glibc's `malloc` for
//! the `Arc` cells → this allocator and [`CellArc`](crate::cell_arc::CellArc):
//! `batch` (`submit_all`) 642 → 258, `completion` (a `CompletionService`)
//! 1,278 → 877. Wall clock, `compare --workloads
//! submit_collect,completion_first --rounds 7`, 3 alternating pairs at load
//! 5-6: submit_collect 196/225/191 → 132/102/114 ns per task,
//! completion_first 633/592/618 → 327/344/326 µs.
//!
//! ## Not measured here
//!
//! On 16–64 cores: each cell's free is one RMW on its page's line, shared by
//! the cells of that page that other threads free at the same time; cells of
//! one page were allocated in sequence by one submitter, so they tend to be
//! freed in sequence by one consumer too. A page per size class per thread
//! bounds the partly used memory at 16 × 16 KiB per allocating thread.
//!
//! Under `--cfg loom` every cell goes to the global allocator (loom's atomics
//! cannot outlive one model execution in a cached page); the page protocol is
//! model-checked on its own.

#![allow(unsafe_code)]

use std::alloc::Layout;
use std::cell::Cell;
use std::ptr;

#[cfg(not(loom))]
use std::sync::atomic::{fence, AtomicUsize, Ordering};

#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicUsize, Ordering};

/// The size and alignment of a page.
pub(crate) const PAGE: usize = 16 * 1024;

/// The largest cell that uses pages.
pub(crate) const MAX_CELL: usize = 256;

/// The size-class granularity, and the largest alignment pages serve.
const GRAIN: usize = 16;

/// Size classes: 16, 32, ..., 256 bytes.
const CLASSES: usize = MAX_CELL / GRAIN;

/// Where cells start in a page: after the header, on its own cache line.
const HEADER: usize = 64;

/// How many free pages a thread keeps for its next allocations.
pub(crate) const KEEP_PAGES: usize = 4;

const PAGE_LAYOUT: Layout = match Layout::from_size_align(PAGE, PAGE) {
    Ok(layout) => layout,
    Err(_) => panic!("a valid layout"),
};

/// A page's counter (module docs): cells not freed yet + 1 while current.
pub(crate) struct PageCount {
    live: AtomicUsize,
}

impl PageCount {
    /// A page taken by its owner with `capacity` cells, current.
    pub(crate) fn new(capacity: usize) -> PageCount {
        PageCount {
            live: AtomicUsize::new(capacity + 1),
        }
    }

    /// A cell of the page was freed; true iff the page is now free (the
    /// caller frees it).
    #[inline]
    pub(crate) fn release_cell(&self) -> bool {
        if self.live.fetch_sub(1, Ordering::Release) != 1 {
            return false;
        }
        // Every other use of the page happened before its decrement.
        fence(Ordering::Acquire);
        true
    }

    /// The owner stops using the page (full, or the thread exits) with
    /// `unused` cells never handed out; true iff the page is now free.
    pub(crate) fn retire(&self, unused: usize) -> bool {
        let credit = unused + 1;
        self.live.fetch_sub(credit, Ordering::AcqRel) == credit
    }
}

/// The header at the start of every page.
#[repr(C)]
struct PageHeader {
    count: PageCount,
}

/// Pages are only used for cells that fit a size class and its alignment.
#[inline]
pub(crate) const fn paged(layout: Layout) -> bool {
    !cfg!(loom) && layout.size() <= MAX_CELL && layout.align() <= GRAIN && layout.size() > 0
}

/// The size-class index of a paged layout.
#[inline]
const fn class_of(size: usize) -> usize {
    size.div_ceil(GRAIN) - 1
}

/// How many cells of class `class` a page holds.
#[inline]
const fn capacity(class: usize) -> usize {
    (PAGE - HEADER) / ((class + 1) * GRAIN)
}

/// A thread's current page of one size class: the next cell and the end.
#[derive(Clone, Copy)]
struct Bump {
    next: *mut u8,
    end: *mut u8,
}

const EMPTY: Bump = Bump {
    next: ptr::null_mut(),
    end: ptr::null_mut(),
};

/// A thread's allocator state.
struct Local {
    bumps: [Cell<Bump>; CLASSES],
    /// Free pages kept for the next allocations (module docs).
    cache: [Cell<*mut u8>; KEEP_PAGES],
    cached: Cell<usize>,
}

impl Drop for Local {
    /// Thread exit: retire the current pages (module docs) and give the cached
    /// ones back.
    fn drop(&mut self) {
        for (class, bump) in self.bumps.iter().enumerate() {
            let Bump { next, end } = bump.replace(EMPTY);
            if next.is_null() {
                continue;
            }
            let unused = (end as usize - next as usize) / ((class + 1) * GRAIN);
            let page = page_of(next.wrapping_sub(1));
            // SAFETY: `page` is a current page of this thread (its bump is
            // non-empty, so at least its "current" credit keeps it alive).
            if unsafe { (*page).count.retire(unused) } {
                // SAFETY: the retirement made the count 0: nobody else uses it.
                unsafe { free_page(page.cast()) };
            }
        }
        for i in 0..self.cached.replace(0) {
            // SAFETY: a cached page is free and owned by the cache alone.
            unsafe { free_page(self.cache[i].replace(ptr::null_mut())) };
        }
    }
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            bumps: [const { Cell::new(EMPTY) }; CLASSES],
            cache: [const { Cell::new(ptr::null_mut()) }; KEEP_PAGES],
            cached: Cell::new(0),
        }
    };
}

#[cfg(test)]
static PAGES_LIVE: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);

/// Test hook: pages taken from the global allocator and not given back yet
/// (cached ones included).
#[cfg(test)]
pub(crate) fn pages_live() -> isize {
    PAGES_LIVE.load(std::sync::atomic::Ordering::SeqCst)
}

/// The page a cell (any byte of it) lives in.
#[inline]
fn page_of(p: *mut u8) -> *mut PageHeader {
    p.wrapping_sub(p as usize % PAGE).cast()
}

fn new_page() -> *mut u8 {
    // SAFETY: `PAGE_LAYOUT` has a non-zero size.
    let p = unsafe { std::alloc::alloc(PAGE_LAYOUT) };
    if p.is_null() {
        std::alloc::handle_alloc_error(PAGE_LAYOUT);
    }
    #[cfg(test)]
    PAGES_LIVE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    p
}

/// Gives a free page back to the global allocator.
///
/// # Safety
///
/// `page` came from `new_page`, is free, and is not used after this call.
unsafe fn free_page(page: *mut u8) {
    #[cfg(test)]
    PAGES_LIVE.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    // SAFETY: the caller's contract.
    unsafe { std::alloc::dealloc(page, PAGE_LAYOUT) };
}

/// Starts `page` as a page with `capacity` cells (writes its header).
///
/// # Safety
///
/// `page` is a free page, owned by the caller.
unsafe fn start_page(page: *mut u8, capacity: usize) {
    // SAFETY: the page is ours and aligned for its header (caller's contract).
    unsafe {
        page.cast::<PageHeader>().write(PageHeader {
            count: PageCount::new(capacity),
        })
    };
}

impl Local {
    #[inline]
    fn alloc(&self, class: usize) -> *mut u8 {
        let size = (class + 1) * GRAIN;
        let bump = &self.bumps[class];
        let Bump { next, end } = bump.get();
        if next.is_null() {
            return self.alloc_slow(class);
        }
        let after = next.wrapping_add(size);
        if after == end {
            // The page's last cell: retire the page (module docs).
            bump.set(EMPTY);
            let page = page_of(next);
            // SAFETY: the page is current (this thread holds its credit); the
            // cell just handed out keeps it from being free, so `retire`
            // returns false and the page lives on.
            let free = unsafe { (*page).count.retire(0) };
            debug_assert!(!free, "a page with a live cell is never free");
        } else {
            bump.set(Bump { next: after, end });
        }
        next
    }

    #[inline(never)]
    fn alloc_slow(&self, class: usize) -> *mut u8 {
        let page = self.take_page();
        let size = (class + 1) * GRAIN;
        let cap = capacity(class);
        // SAFETY: the page is free and ours.
        unsafe { start_page(page, cap) };
        let first = page.wrapping_add(HEADER);
        let end = first.wrapping_add(cap * size);
        self.bumps[class].set(Bump {
            next: first.wrapping_add(size),
            end,
        });
        first
    }

    fn take_page(&self) -> *mut u8 {
        let n = self.cached.get();
        if n > 0 {
            self.cached.set(n - 1);
            self.cache[n - 1].replace(ptr::null_mut())
        } else {
            new_page()
        }
    }

    /// Keeps a free page, or gives it back if the cache is full.
    fn keep(&self, page: *mut u8) {
        let n = self.cached.get();
        if n < KEEP_PAGES {
            self.cache[n].set(page);
            self.cached.set(n + 1);
        } else {
            // SAFETY: the page is free and ours (caller: `dealloc`).
            unsafe { free_page(page) };
        }
    }
}

/// Allocates memory for a cell of `layout`.
#[inline]
pub(crate) fn alloc(layout: Layout) -> *mut u8 {
    if !paged(layout) {
        // SAFETY: `layout` has a non-zero size (a cell has a reference count).
        let p = unsafe { std::alloc::alloc(layout) };
        if p.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        return p;
    }
    let class = class_of(layout.size());
    LOCAL
        .try_with(|local| local.alloc(class))
        .unwrap_or_else(|_| lone_cell())
}

/// A cell on a page of its own (the thread-locals are gone): `live` = 1.
#[cold]
fn lone_cell() -> *mut u8 {
    let page = new_page();
    // SAFETY: the page is new and ours; `PageCount::new(0)` is 1: the one cell.
    unsafe { start_page(page, 0) };
    page.wrapping_add(HEADER)
}

/// Frees a cell from [`alloc`] with the same `layout`, on any thread.
///
/// # Safety
///
/// `p` came from `alloc(layout)`, its value was dropped, and it is not used
/// after this call.
#[inline]
pub(crate) unsafe fn dealloc(p: *mut u8, layout: Layout) {
    if !paged(layout) {
        // SAFETY: the caller's contract: `alloc` took it from the global
        // allocator with this layout.
        unsafe { std::alloc::dealloc(p, layout) };
        return;
    }
    let page = page_of(p);
    // SAFETY: `p` is a cell of `page` not freed yet (the caller's contract),
    // so the page is alive (its count includes this cell).
    if unsafe { (*page).count.release_cell() } {
        let page = page.cast::<u8>();
        if LOCAL.try_with(|local| local.keep(page)).is_err() {
            // SAFETY: the count reached 0: the page is free and ours.
            unsafe { free_page(page) };
        }
    }
}

#[cfg(all(test, not(loom)))]
pub(crate) mod tests {
    use super::*;
    use crate::handle::TaskHandle;
    use crate::ExecutorService;
    use std::sync::{Mutex, MutexGuard};
    use testkit::DropCounter;

    /// The page and cell counters are process-wide: tests that allocate
    /// cells or count them run one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    pub(crate) fn serial() -> MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cell_layout() -> Layout {
        Layout::from_size_align(96, 8).unwrap()
    }

    #[test]
    fn classes_and_pages() {
        assert_eq!(class_of(1), 0);
        assert_eq!(class_of(16), 0);
        assert_eq!(class_of(17), 1);
        assert_eq!(class_of(256), CLASSES - 1);
        assert_eq!(capacity(class_of(96)), 170);
        assert!(paged(cell_layout()));
        assert!(!paged(Layout::from_size_align(257, 8).unwrap()));
        assert!(!paged(Layout::from_size_align(64, 32).unwrap()));
    }

    #[test]
    fn cells_are_distinct_aligned_and_pages_come_back() {
        let _serial = serial();
        std::thread::spawn(|| {
            let before = pages_live();
            let layout = cell_layout();
            let cells: Vec<*mut u8> = (0..10_000).map(|_| alloc(layout)).collect();
            let mut sorted: Vec<usize> = cells.iter().map(|&p| p as usize).collect();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), cells.len(), "every cell distinct");
            for w in sorted.windows(2) {
                assert!(w[1] - w[0] >= 96, "cells do not overlap");
            }
            for &p in &cells {
                assert_eq!(p as usize % GRAIN, 0);
                // SAFETY: the cell is ours; writing all of it is allowed.
                unsafe { p.write_bytes(0xa5, 96) };
            }
            assert!(pages_live() - before >= (10_000 / 170) as isize);
            for p in cells {
                // SAFETY: from `alloc(layout)`, used no more.
                unsafe { dealloc(p, layout) };
            }
            // Only the current page and the cache are left.
            assert!(pages_live() - before <= 1 + KEEP_PAGES as isize);
        })
        .join()
        .unwrap();
    }

    /// Cells allocated on one thread, freed on others, after the owner exited:
    /// every page is given back.
    #[test]
    fn pages_outlive_their_thread_and_come_back() {
        let _serial = serial();
        let before = pages_live();
        let layout = cell_layout();
        let cells: Vec<usize> =
            std::thread::spawn(move || (0..5_000).map(|_| alloc(layout) as usize).collect())
                .join()
                .unwrap();
        let halves: Vec<Vec<usize>> = cells.chunks(2_500).map(<[usize]>::to_vec).collect();
        let frees: Vec<_> = halves
            .into_iter()
            .map(|half| {
                std::thread::spawn(move || {
                    for p in half {
                        // SAFETY: from `alloc(layout)`, freed once.
                        unsafe { dealloc(p as *mut u8, layout) };
                    }
                })
            })
            .collect();
        for f in frees {
            f.join().unwrap();
        }
        assert_eq!(pages_live(), before, "no page leaked");
    }

    /// The user's scenario at full speed: tasks submitted from one thread
    /// (their cells on its pages), run on two workers, cancelled from a second
    /// thread, read with `get`, detached unread, chained with `then` and
    /// `on_complete`, async tasks woken across threads. Afterwards every
    /// closure and output was dropped once, and every cell and page was given
    /// back, once the threads that held pages exited.
    #[test]
    fn no_cell_or_page_leaks_under_concurrent_submit_cancel_get() {
        let _serial = serial();
        let pages_before = pages_live();
        let cells_before = crate::cell_arc::cells_live();
        const N: usize = 20_000;
        let closures = DropCounter::new(N);
        let outputs = DropCounter::new(N);
        let (c, o) = (closures.clone(), outputs.clone());
        testkit::bounded(move || {
            let pool = executor_core::ThreadPool::new(2).unwrap();
            let submitter = {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    let (tx, rx) = std::sync::mpsc::channel::<crate::TaskRef>();
                    let canceller = std::thread::spawn(move || {
                        for (i, task) in rx.into_iter().enumerate() {
                            if i % 2 == 0 {
                                task.cancel();
                            }
                        }
                    });
                    let mut handles: Vec<TaskHandle<testkit::Token>> = Vec::new();
                    for i in 0..N {
                        let token = c.token(i);
                        let out = o.clone();
                        let h = pool
                            .submit(move || {
                                drop(token);
                                out.token(i)
                            })
                            .unwrap();
                        match i % 5 {
                            0 => tx.send(h.task_ref()).unwrap(),
                            1 => {
                                h.on_complete(|t| assert!(t.is_done()));
                                handles.push(h);
                                continue;
                            }
                            2 => {
                                let chained = h.then(|t| t);
                                handles.push(chained);
                                continue;
                            }
                            3 => {
                                drop(h);
                                continue;
                            }
                            _ => {}
                        }
                        handles.push(h);
                        if handles.len() >= 1000 {
                            for h in handles.drain(..) {
                                let _ = h.get();
                            }
                        }
                    }
                    drop(tx);
                    for h in handles {
                        let _ = h.get();
                    }
                    canceller.join().unwrap();
                    // Async tasks woken from another thread.
                    let mut asyncs = Vec::new();
                    for _ in 0..200 {
                        let (wtx, wrx) = futures::channel::oneshot::channel::<u8>();
                        asyncs.push(pool.spawn(async move { wrx.await.ok() }).unwrap());
                        let _ = std::thread::spawn(move || wtx.send(1)).join().unwrap();
                    }
                    for a in asyncs {
                        assert_eq!(a.get().unwrap(), Some(1));
                    }
                })
            };
            submitter.join().unwrap();
            pool.shutdown();
            pool.await_termination(std::time::Duration::from_secs(30))
                .unwrap();
            drop(pool);
        });
        closures.assert_all_dropped_once(N);
        outputs.assert_no_double_drop();
        assert!(
            testkit::eventually(|| outputs.live() == 0),
            "outputs dropped"
        );
        // Worker threads exit after the pool's termination; their pages
        // (current or cached) go back then.
        assert!(
            testkit::eventually(|| crate::cell_arc::cells_live() == cells_before),
            "cells leaked: {}",
            crate::cell_arc::cells_live() - cells_before
        );
        assert!(
            testkit::eventually(|| pages_live() == pages_before),
            "pages leaked: {}",
            pages_live() - pages_before
        );
    }

    #[test]
    fn large_cells_use_the_global_allocator() {
        let layout = Layout::from_size_align(4096, 8).unwrap();
        let p = alloc(layout);
        assert_ne!(p as usize % PAGE, HEADER);
        // SAFETY: from `alloc(layout)`.
        unsafe { dealloc(p, layout) };
    }
}

/// Model check of the page counter (module docs): alloc on the owner, frees
/// on other threads, the retirement racing the last free. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p executor-futures --lib --release loom`.
#[cfg(all(test, loom))]
mod loom_model {
    use super::PageCount;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;
    use loom::thread;

    /// A page of two cells: the owner hands both out (to two freeing
    /// threads), then retires the page, or exits with a cell never handed
    /// out. The page is freed exactly once, after every cell's last use.
    #[test]
    fn loom_page_count() {
        for unused in [0usize, 1] {
            loom::model(move || {
                let cap = 2;
                let page = Arc::new((PageCount::new(cap), AtomicUsize::new(0)));
                // A cell's "use": a write the free must not overtake.
                let cells = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
                let frees: Vec<_> = (0..cap - unused)
                    .map(|i| {
                        let page = page.clone();
                        let cells = cells.clone();
                        thread::spawn(move || {
                            cells[i].store(1, Ordering::Relaxed);
                            if page.0.release_cell() {
                                // Every cell's use happened before.
                                for c in cells.iter().take(cap - unused) {
                                    assert_eq!(c.load(Ordering::Relaxed), 1);
                                }
                                page.1.fetch_add(1, Ordering::Relaxed);
                            }
                        })
                    })
                    .collect();
                if page.0.retire(unused) {
                    for c in cells.iter().take(cap - unused) {
                        assert_eq!(c.load(Ordering::Relaxed), 1);
                    }
                    page.1.fetch_add(1, Ordering::Relaxed);
                }
                for f in frees {
                    f.join().unwrap();
                }
                assert_eq!(page.1.load(Ordering::Relaxed), 1, "freed exactly once");
            });
        }
    }
}
