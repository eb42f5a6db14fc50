//! Issue 16, item 8: every public error type of `executor-futures` is
//! `std::error::Error + Send + Sync + 'static` whatever the user's closure is,
//! so `?` turns it into `Box<dyn Error + Send + Sync>` (the bound
//! `anyhow::Error`'s `From` has too). Checked by the compiler: before the fix
//! this file did not compile (`Rejected<C>` and `BatchRejected<_, C>` were
//! `Sync` only for a `Sync` closure).

use executor_core::ThreadPool;
use executor_futures::{
    BatchRejected, Cancelled, ExecutorService, Failure, GetTimeoutError, InvokeAnyError,
    PanicPayload, Rejected, TaskError, TaskHandle, TaskRef, WouldDeadlock,
};
use std::error::Error;
use std::sync::mpsc;
use std::time::Duration;

type BoxError = Box<dyn Error + Send + Sync + 'static>;

fn assert_error<E: Error + Send + Sync + 'static>() {}
fn assert_send_sync<T: Send + Sync + 'static>() {}

fn for_closure<C: Send + 'static>(_: &C) {
    assert_error::<Rejected<C>>();
    assert_error::<BatchRejected<TaskHandle<u32>, C>>();
    assert_error::<BatchRejected<TaskRef, C>>();
}

#[test]
fn every_error_type_is_a_send_sync_static_error() {
    assert_error::<TaskError>();
    assert_error::<GetTimeoutError>();
    assert_error::<WouldDeadlock>();
    assert_error::<Cancelled>();
    assert_error::<Failure<std::io::Error>>();
    assert_error::<InvokeAnyError>();
    assert_error::<InvokeAnyError<Failure<std::io::Error>>>();
    assert_send_sync::<PanicPayload>();
    // A closure that owns a `Receiver`: `Send`, not `Sync`.
    let (_tx, rx) = mpsc::channel::<u32>();
    for_closure(&move || rx.recv());
}

/// The scenario, and every other fallible call, with `?`.
fn uses_question_mark(pool: &ThreadPool) -> Result<u32, BoxError> {
    let (tx, rx) = mpsc::channel::<u32>();
    let handle = pool.submit(move || rx.recv())?;
    tx.send(1)?;
    let one = handle.get()??;
    let mut slow = pool.submit(|| 2u32)?;
    let two = slow.get_timeout(Duration::from_secs(10))?;
    let batch = pool.submit_all((0..2u32).map(|i| {
        let (_tx, rx) = mpsc::channel::<u32>();
        move || rx.try_recv().unwrap_or(i)
    }))?;
    let mut three = 0;
    for h in batch {
        three += h.get()?;
    }
    let four = pool.invoke_any([|| 4u32])?;
    let five = pool.invoke_any_ok([|| "5".parse::<u32>()])?;
    executor_futures::checkpoint()?;
    Ok(one + two + three + four + five)
}

#[test]
fn errors_go_through_question_mark() {
    let pool = ThreadPool::new(2).unwrap();
    assert_eq!(uses_question_mark(&pool).unwrap(), 1 + 2 + 1 + 4 + 5);
    pool.shutdown();
    let err = uses_question_mark(&pool).unwrap_err();
    assert!(err.to_string().contains("shut down"), "{err}");
}
