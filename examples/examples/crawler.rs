//! A web crawler against a local HTTP server (started here, on 127.0.0.1, with
//! `std::net` only): one thread takes fetched pages from a completion service
//! and submits the links it has not seen yet, from the same loop.
//!
//! `CompletionService::bounded_in_flight(pool, 4)` keeps at most 4 fetches in
//! flight (submitted, not finished) and its `submit` waits for a fetch to
//! *finish*. With `bounded(pool, 4)` (a bound on results not yet taken) this
//! loop would deadlock: four results ready, and the only consumer blocked in
//! `submit`.
//!
//! Run with `cargo run -p examples --example crawler`.

use executor_completion::CompletionService;
use executor_core::ThreadPool;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

/// Pages of the site: page `n` links to `2n+1`, `2n+2`, back to `n/2`, and to
/// a missing page (404) beyond the last.
const PAGES: u32 = 300;
const IN_FLIGHT: usize = 4;

/// Serves the site until `/quit` is requested; one thread per connection.
fn serve(listener: TcpListener) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut request_line = String::new();
        if BufReader::new(&stream)
            .read_line(&mut request_line)
            .is_err()
        {
            continue;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string();
        if path == "/quit" {
            let _ = stream.write_all(b"HTTP/1.0 200 OK\r\n\r\nbye");
            return;
        }
        std::thread::spawn(move || {
            let page: Option<u32> = path.trim_start_matches("/page/").parse().ok();
            let response = match page {
                Some(n) if n < PAGES => {
                    let links: String = [2 * n + 1, 2 * n + 2, n / 2, PAGES + n]
                        .iter()
                        .map(|l| format!("<a href=\"/page/{l}\">page {l}</a>\n"))
                        .collect();
                    format!("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>page {n}</h1>\n{links}")
                }
                _ => "HTTP/1.0 404 Not Found\r\n\r\nno such page".to_string(),
            };
            let _ = stream.write_all(response.as_bytes());
        });
    }
}

/// GETs `path` and returns the status line's code and the links of the body.
fn fetch(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, Vec<String>)> {
    let mut stream = TcpStream::connect(addr)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let links = response
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect();
    Ok((status, links))
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || serve(listener));
    println!("serving {PAGES} pages on http://{addr}");

    let start = Instant::now();
    let pool = ThreadPool::new(4)?;
    let crawler = CompletionService::bounded_in_flight(pool.clone(), IN_FLIGHT);
    let mut seen = HashSet::from(["/page/0".to_string()]);
    crawler.submit(move || fetch(addr, "/page/0").map(|r| ("/page/0".to_string(), r)))?;
    let (mut ok, mut missing, mut most_in_flight) = (0, 0, 0);
    while let Some(done) = crawler.take() {
        let (path, (status, links)) = done.get()??;
        match status {
            200 => ok += 1,
            _ => missing += 1,
        }
        if status == 200 && (ok == 1 || ok % 50 == 0) {
            println!("{path}: {status}, {} links", links.len());
        }
        for link in links {
            if seen.insert(link.clone()) {
                crawler.submit(move || fetch(addr, &link).map(|r| (link, r)))?;
                most_in_flight = most_in_flight.max(crawler.pending());
            }
        }
    }
    println!(
        "crawled {ok} pages ({missing} not found) in {:?}, at most {most_in_flight} fetches in flight (bound {IN_FLIGHT})",
        start.elapsed()
    );
    assert_eq!(ok, PAGES as usize);
    assert!(most_in_flight <= IN_FLIGHT);
    fetch(addr, "/quit")?;
    server.join().expect("server thread");
    pool.close();
    Ok(())
}
