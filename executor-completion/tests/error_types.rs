//! Issue 16, item 8: every public error type of `executor-completion` is
//! `std::error::Error + Send + Sync + 'static` whatever the user's closure is,
//! so `?` turns it into `Box<dyn Error + Send + Sync>` (the bound
//! `anyhow::Error`'s `From` has too); the closure still comes back, by
//! `into_inner`. Checked by the compiler: before the fix this file did not
//! compile (`TrySubmitError<C>` and `Rejected<C>` were `Sync` only for a
//! `Sync` closure).

use executor_completion::{
    wait_any, BatchRejected, CompletionService, TaskId, TimedOut, TrySubmitError, WaitAnyError,
};
use executor_core::{Rejected, ThreadPool};
use executor_futures::ExecutorService;
use std::error::Error;
use std::sync::mpsc;

type BoxError = Box<dyn Error + Send + Sync + 'static>;

fn assert_error<E: Error + Send + Sync + 'static>() {}

fn for_closure<C: Send + 'static>(_: &C) {
    assert_error::<TrySubmitError<C>>();
    assert_error::<Rejected<C>>();
    assert_error::<BatchRejected<TaskId, C>>();
}

#[test]
fn every_error_type_is_a_send_sync_static_error() {
    assert_error::<TimedOut>();
    assert_error::<WaitAnyError>();
    // A closure that owns a `Receiver`: `Send`, not `Sync`.
    let (_tx, rx) = mpsc::channel::<u32>();
    for_closure(&move || rx.recv());
}

/// The scenario on a completion service, and the other fallible calls,
/// with `?`.
fn uses_question_mark(service: &CompletionService<u32>) -> Result<u32, BoxError> {
    let (tx, rx) = mpsc::channel::<u32>();
    service.submit(move || rx.recv().unwrap_or(0))?;
    tx.send(1)?;
    let (_keep, rx) = mpsc::channel::<u32>();
    service.try_submit(move || rx.try_recv().unwrap_or(2))?;
    service.submit_all((0..2u32).map(|i| {
        let (_tx, rx) = mpsc::channel::<u32>();
        move || rx.try_recv().unwrap_or(i)
    }))?;
    let mut sum = 0;
    for done in service {
        sum += done.get()?;
    }
    let pool = service.executor();
    let mut handles = vec![pool.submit(|| 10u32)?];
    sum += wait_any(&mut handles)?.get()?;
    Ok(sum)
}

#[test]
fn errors_go_through_question_mark_and_give_the_closure_back() {
    let pool = ThreadPool::new(2).unwrap();
    let service = CompletionService::bounded(pool.clone(), 4);
    assert_eq!(uses_question_mark(&service).unwrap(), 1 + 2 + 1 + 10);

    // A full service: the (non-`Sync`) closure comes back through a boxed error.
    let (tx, rx) = mpsc::channel::<()>();
    let full = CompletionService::bounded(pool.clone(), 1);
    full.submit(move || {
        let _ = rx.recv();
        0
    })
    .unwrap();
    let (_keep, rx2) = mpsc::channel::<u32>();
    let boxed: BoxError = match full.try_submit(move || rx2.try_recv().unwrap_or(3)) {
        Err(e) => {
            assert!(e.is_full());
            assert_eq!(e.into_inner()(), 3);
            Box::new(TimedOut)
        }
        Ok(_) => panic!("the service is full"),
    };
    assert!(boxed.is::<TimedOut>());
    tx.send(()).unwrap();
    assert_eq!(full.take().unwrap().get().unwrap(), 0);

    pool.shutdown();
    let err = uses_question_mark(&service).unwrap_err();
    assert!(err.to_string().contains("shut down"), "{err}");
}
