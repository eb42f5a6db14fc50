//! Issue 16, item 8: every public error type of `executor-core` is
//! `std::error::Error + Send + Sync + 'static` whatever the user's closure is,
//! so `?` turns it into `Box<dyn Error + Send + Sync>` (and, with the same
//! bound, into `anyhow::Error`). The closure still comes back, by a method.
//!
//! Most of this file is checked by the compiler: before the fix it did not
//! compile (`Rejected<C>` was `Sync` only for a `Sync` closure, and
//! `ScopedError` never was).

use executor_core::{BuildError, RejectReason, Rejected, ScopedError, ThreadPool};
use std::cell::Cell;
use std::error::Error;
use std::sync::mpsc;

type BoxError = Box<dyn Error + Send + Sync + 'static>;

fn assert_error<E: Error + Send + Sync + 'static>() {}

/// A closure that is `Send` but not `Sync` (it owns a `Receiver` and a `Cell`);
/// it sends `7` to the returned receiver when run.
fn not_sync_closure() -> (impl FnOnce() + Send + 'static, mpsc::Receiver<u32>) {
    let (tx, rx) = mpsc::channel::<u32>();
    let (out_tx, out_rx) = mpsc::channel::<u32>();
    let cell = Cell::new(7);
    let f = move || {
        drop(tx);
        let _ = rx.try_recv();
        out_tx.send(cell.get()).unwrap();
    };
    (f, out_rx)
}

#[test]
fn every_error_type_is_a_send_sync_static_error() {
    assert_error::<BuildError>();
    assert_error::<ScopedError>();
    assert_error::<Rejected<Box<dyn FnOnce() + Send>>>();
    assert_error::<Rejected<mpsc::Receiver<u8>>>();
    fn rejected_of<C: Send + 'static>(_: &C) {
        assert_error::<Rejected<C>>();
    }
    rejected_of(&not_sync_closure().0);
}

/// The user's scenario: `pool.execute(move || rx.recv())?` in a function that
/// returns `Result<_, Box<dyn Error + Send + Sync>>`.
fn submit_with_question_mark(pool: &ThreadPool) -> Result<(), BoxError> {
    let (tx, rx) = mpsc::channel::<u32>();
    pool.execute(move || {
        let _ = rx.recv();
    })?;
    drop(tx);
    Ok(())
}

/// `handle.get()?` of a scoped task, inside a scope.
fn scoped_with_question_mark(pool: &ThreadPool) -> Result<u32, BoxError> {
    pool.scope(|s| {
        let h = s.submit(|_| -> u32 { panic!("scoped failure") });
        let v = h.get()?;
        Ok(v)
    })
}

#[test]
fn errors_go_through_question_mark_and_give_the_closure_back() {
    let pool = ThreadPool::new(1).unwrap();
    submit_with_question_mark(&pool).unwrap();
    let err = scoped_with_question_mark(&pool).unwrap_err();
    assert_eq!(err.to_string(), "scoped task panicked: scoped failure");
    let scoped = err.downcast::<ScopedError>().unwrap();
    assert_eq!(scoped.message(), Some("scoped failure"));

    pool.shutdown();
    let err = submit_with_question_mark(&pool).unwrap_err();
    assert!(err.to_string().contains("shut down"), "{err}");

    // Through `?`-style boxing and back: the closure (not `Sync`) is given
    // back by `into_inner`, still runnable.
    let (f, out) = not_sync_closure();
    let f: Box<dyn FnOnce() + Send> = Box::new(f);
    let mut rejected = pool.execute(f).unwrap_err();
    assert_eq!(rejected.reason(), RejectReason::Shutdown);
    let _: &mut Box<dyn FnOnce() + Send> = rejected.task_mut();
    let boxed: BoxError = rejected.into();
    let rejected = boxed
        .downcast::<Rejected<Box<dyn FnOnce() + Send>>>()
        .unwrap();
    (rejected.into_inner())();
    assert_eq!(out.recv().unwrap(), 7);
}
