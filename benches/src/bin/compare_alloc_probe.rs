//! `compare` with [`benches::probe_alloc::PerThread`] as the global
//! allocator of the whole process (every pool of it, ours and the peers):
//! what the rows would read with a per-thread cache of task cells. A probe for
//! the lab notes, not a figure to quote as ours (the shipped library uses
//! whatever allocator the application chose, glibc's by default).
//!
//! ```text
//! cargo build --release -p benches --bin compare_alloc_probe
//! target/release/compare_alloc_probe --workloads submit_collect,completion_first --rounds 7
//! ```

#[path = "compare.rs"]
mod cmp;

#[global_allocator]
static GLOBAL: benches::probe_alloc::PerThread = benches::probe_alloc::PerThread;

fn main() -> std::process::ExitCode {
    cmp::main()
}
