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
//! Run it with `cargo run -p examples --example completion`.

use executor_completion::CompletionService;
use executor_core::ThreadPool;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The pages the server knows: path, simulated latency, body size.
const PAGES: &[(&str, u64, usize)] = &[
    ("/index.html", 120, 2_048),
    ("/news", 30, 8_192),
    ("/images/logo.png", 200, 65_536),
    ("/about", 60, 1_024),
    ("/api/stats.json", 10, 512),
];

/// How a fetch can fail.
#[derive(Debug)]
enum FetchError {
    Io(io::Error),
    Status(u16, String),
    NoResponse,
    Malformed(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Io(e) => write!(f, "I/O error: {e}"),
            FetchError::Status(code, reason) => write!(f, "HTTP {code} {reason}"),
            FetchError::NoResponse => {
                f.write_str("the server closed the connection without answering")
            }
            FetchError::Malformed(line) => write!(f, "malformed response: {line:?}"),
        }
    }
}

impl std::error::Error for FetchError {}

impl From<io::Error> for FetchError {
    fn from(e: io::Error) -> Self {
        FetchError::Io(e)
    }
}

/// A page that was fetched.
#[derive(Debug)]
struct Page {
    status: u16,
    bytes: usize,
}

/// `GET path` over HTTP/1.1 (`Connection: close`, so the body runs to EOF).
fn fetch(addr: SocketAddr, path: &str) -> Result<Page, FetchError> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    match reader.read_line(&mut status_line) {
        Ok(0) => return Err(FetchError::NoResponse),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Err(FetchError::NoResponse),
        Err(e) => return Err(e.into()),
    }
    let mut parts = status_line.trim_end().splitn(3, ' ');
    let (Some(_version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(FetchError::Malformed(status_line));
    };
    let status: u16 = code
        .parse()
        .map_err(|_| FetchError::Malformed(status_line.clone()))?;
    let reason = parts.next().unwrap_or("").to_string();
    // Headers, then the body.
    let mut content_length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = Vec::new();
    reader.read_to_end(&mut body)?;
    if content_length.is_some_and(|n| n != body.len()) {
        return Err(FetchError::Malformed(format!(
            "body of {} bytes, announced {content_length:?}",
            body.len()
        )));
    }
    if status != 200 {
        return Err(FetchError::Status(status, reason));
    }
    Ok(Page {
        status,
        bytes: body.len(),
    })
}

/// The test server: a listener thread and a thread per connection.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start() -> io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("http-server".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if s.load(Ordering::SeqCst) {
                        break;
                    }
                    match conn {
                        Ok(stream) => {
                            let _ = std::thread::Builder::new().name("http-conn".into()).spawn(
                                move || {
                                    if let Err(e) = serve(stream) {
                                        eprintln!("  (server: {e})");
                                    }
                                },
                            );
                        }
                        Err(e) => eprintln!("  (server: accept failed: {e})"),
                    }
                }
            })?;
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with one last connection.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers one request: the page after its latency, a 404, or a dropped connection.
fn serve(stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(()); // the shutdown poke
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let mut stream = stream;
    if path == "/flaky" {
        // Simulated network latency, then hang up without a response.
        std::thread::sleep(Duration::from_millis(80));
        return stream.shutdown(Shutdown::Both);
    }
    match PAGES.iter().find(|(p, _, _)| *p == path) {
        Some(&(_, latency_ms, size)) => {
            std::thread::sleep(Duration::from_millis(latency_ms)); // simulated latency
            let body: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
            write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
            stream.write_all(&body)?;
        }
        None => {
            std::thread::sleep(Duration::from_millis(50));
            let body = format!("no page at {path}\n");
            write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
        }
    }
    stream.flush()
}

fn ms(d: Duration) -> String {
    format!("{:>4} ms", d.as_millis())
}

fn main() {
    let server = Server::start().expect("a local HTTP server");
    println!("HTTP server on http://{}", server.addr);

    let pool = ThreadPool::builder()
        .num_threads(3)
        .thread_name(|i| format!("fetcher-{i}"))
        .build()
        .expect("a pool of 3");
    let service = CompletionService::new(pool.clone());

    let mut paths: Vec<&str> = PAGES.iter().map(|(p, _, _)| *p).collect();
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
    while let Some(done) = service.poll_deadline(Some(deadline)) {
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
    if !pool.await_termination(Duration::from_secs(10)) {
        let never_started = pool.shutdown_now();
        println!(
            "pool did not terminate in time; {} jobs never started",
            never_started.len()
        );
        pool.await_termination(Duration::from_secs(10));
    }
    println!("pool terminated: {}", pool.is_terminated());
    server.stop();
}
