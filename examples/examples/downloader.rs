//! The downloader of Java's `ExecutorService` documentation, in Rust: one
//! `Callable` task per URL, `invoke_all` to run them all and wait, then the
//! shutdown-and-await-termination pattern.
//!
//! No network is needed: the example starts a small HTTP/1.1 server on
//! 127.0.0.1 (an ephemeral port) whose pages answer after their own latency;
//! one path is a 404 and one closes the connection without answering. The
//! tasks are real HTTP GETs over `std::net::TcpStream`.
//!
//! Run it with `cargo run -p examples --example downloader` (CI runs it).

use examples::{fetch, FetchError, Page, Server, SITE};
use executor::prelude::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One download: a task type of its own, as a Java `Callable<Page>` would be.
struct Download {
    addr: SocketAddr,
    path: &'static str,
}

impl Callable<Result<Page, FetchError>> for Download {
    fn call(self) -> Result<Page, FetchError> {
        fetch(self.addr, self.path)
    }
}

/// Java's `shutdownAndAwaitTermination`: refuse new tasks, let the queued ones
/// finish; if they do not within the grace period, stop the rest.
fn shutdown_and_await_termination(pool: &ThreadPool, grace: Duration) {
    pool.shutdown(); // new submissions are refused from here on
    if pool.await_termination(grace).is_err() {
        let never_started = pool.shutdown_now(); // running tasks see is_cancelled()
        println!("{} downloads never started", never_started.len());
        if pool.await_termination(grace).is_err() {
            eprintln!("the pool did not terminate");
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(SITE)?;
    println!("HTTP server on http://{}", server.addr);
    let pool = ThreadPool::builder()
        .num_threads(4)
        .thread_name(|i| format!("downloader-{i}"))
        .build()?;

    let mut paths = server.paths();
    paths.extend(["/missing", "/flaky"]);
    let tasks = paths.iter().map(|&path| Download {
        addr: server.addr,
        path,
    });
    let start = Instant::now();
    // Runs every task and waits for all of them; the handles come back in
    // submission order, each already done.
    let handles = pool.invoke_all(tasks)?;
    println!(
        "{} downloads on {} threads took {:?} (the slowest page alone takes 200 ms):",
        paths.len(),
        pool.num_threads(),
        start.elapsed()
    );
    let mut bytes = 0;
    for (path, handle) in paths.iter().zip(handles) {
        // Ok(Ok(page)): downloaded; Ok(Err(e)): the download failed;
        // Err(e): the task panicked or was cancelled.
        match handle.get() {
            Ok(Ok(page)) => {
                bytes += page.bytes;
                println!("  {path:<18} {} bytes", page.bytes);
            }
            Ok(Err(e)) => println!("  {path:<18} failed: {e}"),
            Err(e) => println!("  {path:<18} task failed: {e}"),
        }
    }
    println!("{bytes} bytes in all");

    shutdown_and_await_termination(&pool, Duration::from_secs(10));
    println!("pool terminated: {}", pool.is_terminated());
    server.stop();
    Ok(())
}
