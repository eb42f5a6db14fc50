//! Helpers shared by the probe binaries (`src/bin/*_probe.rs`, `cell_cost`):
//! how many timed rounds to run, and how to print their spread.

/// The timed modes' rounds: `ROUNDS` from the environment, default 20.
pub fn rounds() -> usize {
    std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

/// Sorts `times` and prints its median and range after `what`.
///
/// # Panics
///
/// If `times` is empty.
pub fn report(what: &str, unit: &str, mut times: Vec<f64>) {
    times.sort_by(f64::total_cmp);
    println!(
        "{what}: median {:.1} {unit} ({:.1}-{:.1})",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
}
