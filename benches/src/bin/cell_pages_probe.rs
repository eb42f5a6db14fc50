//! `cell_cost` with [`benches::probe_pages::Pages`] as the global allocator:
//! what the page design of a task-cell allocator would save on the task path
//! (compare its callgrind counts and wall times with `cell_cost`'s and
//! `cell_alloc_probe`'s).
//!
//! ```text
//! cargo build --release -p benches --bin cell_cost --bin cell_pages_probe
//! valgrind --tool=callgrind target/release/cell_pages_probe batch 100000
//! ```

#[path = "cell_cost.rs"]
mod cost;

#[global_allocator]
static GLOBAL: benches::probe_pages::Pages = benches::probe_pages::Pages;

fn main() {
    cost::main();
}
