//! `cell_cost` with [`benches::probe_alloc::PerThread`] as the global
//! allocator: how much of the task path's cost is glibc's `malloc`/`free` of
//! task cells (compare its callgrind counts and wall times with `cell_cost`'s).
//!
//! ```text
//! cargo build --release -p benches --bin cell_cost --bin cell_alloc_probe
//! valgrind --tool=callgrind target/release/cell_alloc_probe batch 100000
//! ROUNDS=20 target/release/cell_alloc_probe wall_batch 100000
//! ```

#[path = "cell_cost.rs"]
mod cost;

#[global_allocator]
static GLOBAL: benches::probe_alloc::PerThread = benches::probe_alloc::PerThread;

fn main() {
    cost::main();
}
