//! Quiet panics: the process-wide panic hook behind
//! [`Builder::quiet_panics`](crate::Builder::quiet_panics).
//!
//! Every panic passes through std's panic hook before it unwinds, including the
//! panics the pool catches from tasks (as in rayon and tokio), and the default
//! hook prints them. A pool built with `quiet_panics(true)` marks each of its
//! worker threads (a thread-local flag, set by the worker's start hook before it
//! runs any task) and installs, once per process, a filtering hook that wraps
//! the hook in place at that moment:
//!
//! ```text
//! panic on a thread ──► filter hook ──► marked (a quiet pool's worker)? ── yes ──► nothing printed
//!                                                   │ no
//!                                                   └──────────────────────► the previous hook
//! ```
//!
//! Invariants: the filter is installed at most once (a `Once`), so building many
//! quiet pools never stacks hooks; it is silent only on marked threads, and a
//! thread is marked only by a quiet pool's worker, for the worker's whole life
//! (a pool thread never runs anything but the pool's work). The pool still
//! reports every panic it catches: to the task's handle, or to the pool's panic
//! handler. A hook set with `std::panic::set_hook` after the first quiet pool
//! was built replaces the filter (std keeps one hook).

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    /// Whether this thread is a worker of a pool built with `quiet_panics(true)`.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

static INSTALL: Once = Once::new();

/// Installs the filtering hook unless it already is. Not while this thread is
/// panicking (std's `set_hook` would panic): the pool then stays loud.
pub(crate) fn install() {
    if std::thread::panicking() {
        return;
    }
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // `try_with`: a panic while this thread's locals are being torn down
            // is not a pool worker's caught panic: report it.
            if !QUIET.try_with(Cell::get).unwrap_or(false) {
                previous(info);
            }
        }));
    });
}

/// Marks the calling thread as a quiet pool's worker, for the rest of its life.
pub(crate) fn mark_current_thread() {
    QUIET.with(|quiet| quiet.set(true));
}
