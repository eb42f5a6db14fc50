//! `compare` with [`benches::probe_pages::Pages`] as the global allocator of
//! the whole process (every pool of it, ours and the peers): what the rows
//! would read with task cells on pages. A probe for the lab notes, not a
//! figure to quote as ours.
//!
//! ```text
//! cargo build --release -p benches --bin compare_pages_probe
//! target/release/compare_pages_probe --workloads submit_collect,completion_first --rounds 7
//! ```

#[path = "compare.rs"]
mod cmp;

#[global_allocator]
static GLOBAL: benches::probe_pages::Pages = benches::probe_pages::Pages;

fn main() -> std::process::ExitCode {
    cmp::main()
}
