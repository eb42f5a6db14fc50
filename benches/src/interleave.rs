//! The interleaved runner shared by the `interleaved*` binaries: paired per-round
//! ratios that hold up on a busy machine.
//!
//! Criterion measures one pool after the other, so when the load of a shared
//! machine changes between two pools' windows, their ratio moves by ±50%. Here
//! every pool is built up front and kept (idle pools park), and each *round* runs
//! one iteration of a workload on every contestant back to back, in an order that
//! rotates each round. A round's ratio `first / this` compares two measurements
//! taken a fraction of a second apart; [`interleave`] prints the median of those
//! paired ratios over the rounds, with the 25th–75th percentile, next to each
//! contestant's median time per element.

use std::time::{Duration, Instant};

/// One pool's (or one variant's) side of a workload: a name and one timed
/// iteration. The iteration returns the time to count, so that it can leave out
/// its own preparation (e.g. copying the unsorted input back).
pub struct Contestant<'a> {
    /// The row name.
    pub name: &'static str,
    /// Runs one iteration and returns the measured time.
    pub run: Box<dyn FnMut() -> Duration + 'a>,
}

impl std::fmt::Debug for Contestant<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contestant")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<'a> Contestant<'a> {
    /// A contestant whose whole iteration `f` is timed.
    pub fn timed(name: &'static str, mut f: impl FnMut() + 'a) -> Self {
        Contestant {
            name,
            run: Box::new(move || {
                let start = Instant::now();
                f();
                start.elapsed()
            }),
        }
    }

    /// A contestant that times itself (see [`Contestant::run`]).
    pub fn self_timed(name: &'static str, f: impl FnMut() -> Duration + 'a) -> Self {
        Contestant {
            name,
            run: Box::new(f),
        }
    }
}

/// The `q`-quantile (0..=1) of `v`, by nearest rank; `v` must not be empty.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Runs `rounds` rounds (plus one warm-up round, not counted) of one iteration per
/// contestant, rotating the order each round, and prints a table headed `title`:
/// per contestant its median nanoseconds per element (`elements` per iteration)
/// and the median and 25th–75th percentile of the paired ratios
/// `contestants[0] / this`. The first contestant is the reference: put ours first.
pub fn interleave(title: &str, elements: usize, rounds: usize, contestants: &mut [Contestant<'_>]) {
    // times[contestant][round]: nanoseconds per element.
    let times = rotate(contestants.len(), rounds, true, |c| {
        (contestants[c].run)().as_nanos() as f64 / elements as f64
    });
    println!("\n{title} ({elements} elements per iteration)");
    println!(
        "| {:<22} | {:>12} | {:>10} | {:>15} |",
        "pool",
        "ns/element",
        format!("{}/this", short(contestants[0].name)),
        "p25-p75"
    );
    println!("|{:-<24}|{:->14}|{:->12}|{:->17}|", "", "", "", "");
    for (c, contestant) in contestants.iter().enumerate() {
        let ratios: Vec<f64> = times[0]
            .iter()
            .zip(&times[c])
            .map(|(first, this)| first / this)
            .collect();
        println!(
            "| {:<22} | {:>12.2} | {:>10.2} | {:>7.2}-{:<7.2} |",
            contestant.name,
            quantile(&times[c], 0.5),
            quantile(&ratios, 0.5),
            quantile(&ratios, 0.25),
            quantile(&ratios, 0.75),
        );
    }
}

/// The round-robin schedule of [`interleave`], for callers that want the raw
/// measurements: `rounds` rounds (after one uncounted warm-up round when
/// `warm_up`) in which `measure(c)` runs once for every contestant index `c` in
/// `0..count`, starting one later each round. Returns `results[c][round]`.
pub fn rotate<T>(
    count: usize,
    rounds: usize,
    warm_up: bool,
    mut measure: impl FnMut(usize) -> T,
) -> Vec<Vec<T>> {
    let mut results: Vec<Vec<T>> = (0..count).map(|_| Vec::with_capacity(rounds)).collect();
    let first = usize::from(!warm_up);
    for round in first..=rounds {
        for k in 0..count {
            let c = (round + k) % count;
            let value = measure(c);
            if round > 0 {
                results[c].push(value);
            }
        }
    }
    results
}

/// "ours" for our pool's rows, else the name: the ratio column's header.
fn short(name: &str) -> &str {
    if name.starts_with("executor_core") {
        "ours"
    } else {
        name
    }
}

/// The workloads a benchmark binary was asked to run: every one when no name
/// was given on the command line, else those named.
#[derive(Debug, Clone)]
pub struct Selection {
    known: &'static [&'static str],
    chosen: Vec<String>,
}

impl Selection {
    /// Whether workload `name` (one of the binary's known workloads) runs.
    pub fn has(&self, name: &str) -> bool {
        debug_assert!(
            self.known.contains(&name),
            "{name} is not in the known list"
        );
        self.chosen.is_empty() || self.chosen.iter().any(|c| c == name)
    }
}

/// Parses a benchmark binary's command line with clap: `--help` prints `about`,
/// the workloads it knows (positional names; none means all) and `env` (the
/// environment variables that size it); an unknown name or option is an error
/// that names the known ones (exit code 2).
pub fn command_line(
    bin: &'static str,
    about: &'static str,
    known: &'static [&'static str],
    env: &'static str,
) -> Selection {
    let mut cmd = clap::Command::new(bin).about(about).after_help(env);
    if !known.is_empty() {
        cmd = cmd.arg(
            clap::Arg::new("workloads")
                .value_name("WORKLOAD")
                .num_args(0..)
                .value_parser(clap::builder::PossibleValuesParser::new(
                    known.iter().copied(),
                ))
                .help("Workloads to run [default: all]"),
        );
    }
    let matches = cmd.get_matches();
    let chosen = match known.is_empty() {
        true => Vec::new(),
        false => matches
            .get_many::<String>("workloads")
            .map(|names| names.cloned().collect())
            .unwrap_or_default(),
    };
    Selection { known, chosen }
}
