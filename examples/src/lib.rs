//! Shared by the examples: a small HTTP/1.1 server on 127.0.0.1 and a blocking
//! `GET` over `std::net`, so that the downloader examples fetch real pages
//! without any network access or dependency.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The pages a [`Server`] knows: URL path, latency in milliseconds, body size.
pub type Pages = &'static [(&'static str, u64, usize)];

/// A small site: five pages of different sizes and latencies.
pub const SITE: Pages = &[
    ("/index.html", 120, 2_048),
    ("/news", 30, 8_192),
    ("/images/logo.png", 200, 65_536),
    ("/about", 60, 1_024),
    ("/api/stats.json", 10, 512),
];

/// How a fetch can fail.
#[derive(Debug)]
pub enum FetchError {
    /// Connecting, writing or reading failed.
    Io(io::Error),
    /// The server answered with a status other than 200.
    Status(u16, String),
    /// The server closed the connection without answering.
    NoResponse,
    /// The response was not HTTP/1.1 as expected.
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
pub struct Page {
    /// The HTTP status (200).
    pub status: u16,
    /// The length of the body.
    pub bytes: usize,
}

/// `GET path` over HTTP/1.1 (`Connection: close`, so the body runs to EOF).
///
/// # Errors
///
/// A [`FetchError`] for an I/O error, a status other than 200, a connection
/// closed without an answer, or a malformed response.
pub fn fetch(addr: SocketAddr, path: &str) -> Result<Page, FetchError> {
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

/// A local HTTP/1.1 server on 127.0.0.1 (an ephemeral port): a listener
/// thread and a thread per connection. Each path of its [`Pages`] is answered
/// after the page's latency; an unknown path is a 404 after 50 ms, and
/// `/flaky` closes the connection without answering after 80 ms.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    pages: Pages,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts the server for `pages`.
    ///
    /// # Errors
    ///
    /// When binding or spawning the listener thread fails.
    pub fn start(pages: Pages) -> io::Result<Server> {
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
                                    if let Err(e) = serve(stream, pages) {
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
            pages,
            stop,
            thread: Some(thread),
        })
    }

    /// The URL paths of its pages, in table order.
    pub fn paths(&self) -> Vec<&'static str> {
        self.pages.iter().map(|(p, _, _)| *p).collect()
    }

    /// Stops the listener and waits for it (connections still open finish on
    /// their own threads).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with one last connection.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers one request: the page after its latency, a 404, or a dropped connection.
fn serve(stream: TcpStream, pages: Pages) -> io::Result<()> {
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
    match pages.iter().find(|(p, _, _)| *p == path) {
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
