//! The "done when", as a compile-and-run test: with one dependency and
//! one `use executor::prelude::*;`, a downloader-style `Callable` with
//! `invoke_all` and the shutdown-and-await-termination pattern, a
//! completion-order loop, fork-join, an async task and every error moved into a
//! `Box<dyn Error + Send + Sync>` by `?`. Nothing but the prelude and `std`
//! (and `futures::executor::block_on`, any runtime's) is imported.

use executor::prelude::*;
use std::error::Error;
use std::time::Duration;

type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// A task type of its own, as a Java `Callable<String>`.
struct Fetch {
    page: u32,
}

impl Callable<String> for Fetch {
    fn call(self) -> String {
        format!("page {}", self.page)
    }
}

fn downloader(pool: &ThreadPool) -> Result<Vec<String>, BoxError> {
    let handles = pool.invoke_all((0..8).map(|page| Fetch { page }))?;
    let pages = handles
        .into_iter()
        .map(TaskHandle::get)
        .collect::<Result<Vec<_>, TaskError>>()?;
    pool.shutdown();
    if pool.await_termination(Duration::from_secs(10)).is_err() {
        pool.shutdown_now();
        assert!(pool.await_termination(Duration::from_secs(10)).is_ok());
    }
    Ok(pages)
}

fn completion_order(pool: &ThreadPool) -> Result<u32, BoxError> {
    let service = CompletionService::new(pool);
    for n in 1..=10u32 {
        service.submit(move || n * n)?;
    }
    let mut sum = 0;
    while let Some(done) = service.take() {
        sum += done.get()?;
    }
    Ok(sum)
}

fn fork_join(pool: &ThreadPool, data: &[u64]) -> u64 {
    let (left, right) = data.split_at(data.len() / 2);
    let (a, b) = pool.join(|| left.iter().sum::<u64>(), || right.iter().sum::<u64>());
    let mut parts = [0u64; 4];
    pool.scope(|s| {
        for (chunk, out) in data.chunks(data.len().div_ceil(4)).zip(&mut parts) {
            s.spawn(move |_| *out = chunk.iter().sum());
        }
    });
    assert_eq!(a + b, parts.iter().sum::<u64>());
    a + b
}

fn every_error_boxes() -> Result<(), BoxError> {
    let pool: ThreadPool = ThreadPool::builder().num_threads(2).build()?; // BuildError
    let handle: TaskHandle<u32> = pool.submit(|| 1)?; // Rejected<closure>
    assert_eq!(handle.get()?, 1); // TaskError
    let mut slow = pool.submit(|| {
        while !is_cancelled() {
            std::thread::yield_now();
        }
    })?;
    let timed_out: Result<(), GetTimeoutError> = slow.get_timeout(Duration::from_millis(1));
    assert!(timed_out.unwrap_err().is_timed_out());
    slow.cancel();
    let any: Result<u32, InvokeAnyError> = pool.invoke_any(vec![|| 7]);
    assert_eq!(any?, 7); // InvokeAnyError
    let in_order = pool.submit_all((0..3u32).map(|i| move || i))?; // BatchRejected
    assert_eq!(in_order.len(), 3);
    let service = CompletionService::new(&pool);
    service.submit(|| 2u32)?;
    let mut results = executor::as_completed_timeout(
        (0..2u32)
            .map(|i| pool.submit(move || i))
            .collect::<Result<Vec<_>, _>>()?,
        Duration::from_secs(10),
    );
    for finished in &mut results {
        finished?; // TimedOut
    }
    assert_eq!(service.take().map(|done| done.get()).transpose()?, Some(2));
    Ok(())
}

#[test]
fn one_use_gives_the_downloader_the_completion_loop_and_fork_join() {
    testkit::bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        let data: Vec<u64> = (1..=10_000).collect();
        assert_eq!(fork_join(&pool, &data), 50_005_000);
        assert_eq!(completion_order(&pool).unwrap(), 385);
        let answer = pool.spawn(async { 6 * 7 }).unwrap();
        assert_eq!(futures::executor::block_on(answer).unwrap(), 42);
        let pages = downloader(&pool).unwrap();
        assert_eq!(pages.len(), 8);
        assert_eq!(pages[3], "page 3");
        assert!(pool.is_terminated());
    });
}

#[test]
fn question_mark_moves_every_error_into_a_send_sync_box() {
    testkit::bounded(|| every_error_boxes().unwrap());
}

/// `ScopedError` (its panic payload) and `Rejected<F>` for a closure `F` that is
/// `Send` but not `Sync` (here one that owns an `mpsc::Receiver`) move into a
/// `Box<dyn Error + Send + Sync>` by `?` too (issue 16 item 8).
#[test]
fn question_mark_moves_scoped_and_non_sync_rejections_into_a_send_sync_box() {
    fn scoped(pool: &ThreadPool) -> Result<u32, BoxError> {
        let v = pool.scope(|s| s.submit(|_| 5u32).get())?; // ScopedError
        Ok(v)
    }
    fn non_sync(pool: &ThreadPool) -> Result<u32, BoxError> {
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        tx.send(3).unwrap();
        let handle = pool.submit(move || rx.recv().unwrap())?; // Rejected<F>, F: !Sync
        Ok(handle.get()?)
    }
    testkit::bounded(|| {
        let pool = ThreadPool::new(2).unwrap();
        assert_eq!(scoped(&pool).unwrap(), 5);
        assert_eq!(non_sync(&pool).unwrap(), 3);
    });
}

/// The README's annotated form compiles: the default executor parameter of
/// `CompletionService<T, E = ThreadPool>` no longer fights `new(&pool)`, and
/// `pool`, `&pool` and `pool.clone()` all give a `CompletionService<T>`.
#[test]
fn an_annotated_completion_service_takes_the_pool_by_reference_or_by_value() {
    let pool = ThreadPool::new(2).unwrap();
    let by_ref: CompletionService<u32> = CompletionService::new(&pool);
    let by_clone: CompletionService<u32> = CompletionService::new(pool.clone());
    let bounded: CompletionService<u32> = CompletionService::bounded(&pool, 2);
    for (i, s) in [&by_ref, &by_clone, &bounded].into_iter().enumerate() {
        s.submit(move || i as u32).unwrap();
        assert_eq!(s.take().unwrap().get().unwrap(), i as u32);
    }
    drop((by_ref, by_clone, bounded));
    let by_value: CompletionService<u32> = CompletionService::new(pool);
    by_value.submit(|| 7).unwrap();
    assert_eq!(by_value.take().unwrap().get().unwrap(), 7);
}
