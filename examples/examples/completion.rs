//! Results in completion order: fetch several pages with a pool of 3 threads and
//! print each one as soon as it arrives, with the worker that fetched it and how
//! long it queued and ran (Java's `ExecutorCompletionService`, Python's
//! `as_completed`).
//!
//! No network is needed: the example starts a small HTTP/1.1 server on
//! 127.0.0.1 (an ephemeral port, a thread per connection) that answers each path
//! after its own delay; one path is a 404 and one closes the connection without
//! answering. The tasks are real HTTP GETs over `std::net::TcpStream`.
//!
//! Run it with `cargo run -p examples --example completion` (CI runs it).

use examples::{fetch, Server, SITE};
use executor::prelude::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn ms(d: Duration) -> String {
    format!("{:>4} ms", d.as_millis())
}

fn main() {
    let server = Server::start(SITE).expect("a local HTTP server");
    println!("HTTP server on http://{}", server.addr);

    let pool = ThreadPool::builder()
        .num_threads(3)
        .thread_name(|i| format!("fetcher-{i}"))
        .build()
        .expect("a pool of 3");
    let service = CompletionService::new(pool.clone());

    let mut paths = server.paths();
    paths.extend(["/missing", "/flaky"]);
    let start = Instant::now();
    let mut names = HashMap::new();
    for path in &paths {
        let addr = server.addr;
        let owned = path.to_string();
        let id = service
            .submit(move || fetch(addr, &owned))
            .expect("the pool is running");
        names.insert(id, *path);
    }
    println!(
        "submitted {} GETs to a pool of {} threads; results as they complete:\n",
        paths.len(),
        pool.num_threads()
    );
    println!(
        "  {:>7}  {:<8}  {:<18}  {:>7}  {:>7}  result",
        "at", "worker", "path", "queued", "ran"
    );

    let deadline = start + Duration::from_secs(20);
    let (mut ok, mut failed) = (0, 0);
    while let Ok(Some(done)) = service.poll_deadline(deadline) {
        let path = names[&done.id()];
        let worker = done
            .worker()
            .map_or_else(|| "-".to_string(), |w| format!("#{w}"));
        let ran = done.ran().map_or_else(|| "-".into(), ms);
        let at = ms(done.finished_at() - start);
        let queued = ms(done.queued());
        let outcome = match done.get() {
            Ok(Ok(page)) => {
                ok += 1;
                format!("{} OK, {} bytes", page.status, page.bytes)
            }
            Ok(Err(e)) => {
                failed += 1;
                format!("FAILED: {e}")
            }
            Err(e) => {
                failed += 1;
                format!("FAILED: {e}")
            }
        };
        println!("  {at}  {worker:<8}  {path:<18}  {queued}  {ran:>7}  {outcome}");
    }
    if !service.is_empty() {
        let n = service.cancel_all();
        println!("\ndeadline passed: cancelled {n} fetches still running");
    }
    println!(
        "\n{ok} pages fetched, {failed} failed, in {:?}",
        start.elapsed()
    );

    // Shut down robustly: orderly first, then forcefully if something hangs.
    drop(service);
    pool.shutdown();
    if pool.await_termination(Duration::from_secs(10)).is_err() {
        let never_started = pool.shutdown_now();
        println!(
            "pool did not terminate in time; {} jobs never started",
            never_started.len()
        );
        let _ = pool.await_termination(Duration::from_secs(10));
    }
    println!("pool terminated: {}", pool.is_terminated());
    server.stop();
}
