//! `compare`: our pool raced against rayon, tokio, `futures`' thread pool, the
//! `threadpool` crate and a std-only baseline on every workload, side by side,
//! with the pools interleaved round by round (see [`interleave`](crate::interleave)).
//!
//! | part | what |
//! |---|---|
//! | [`baseline`] | [`StdMpsc`](baseline::StdMpsc): std threads fed by one `mpsc` channel, one more [`Peer`](crate::Peer) |
//! | [`workloads`] | what each workload measures, its unit, its contestants |
//! | [`probe`] | per-thread CPU and resident memory from `/proc` (`idle_cpu`, `memory`) |
//! | [`timers`] | the `timer_*` rows: our timer against tokio's and a std `BinaryHeap` thread |
//! | [`report`] | median and 25th–75th percentile, best other pool, verdict; text, CSV, JSON |
//! | [`chart`] | the SVG chart of `ours / best other` per workload |
//!
//! Method: every pool is built once and kept; each round runs one iteration of
//! the workload on every contestant, starting one later each round
//! ([`rotate`]), after one uncounted warm-up round. A
//! pool's figure is the median over the rounds (with the 25th–75th percentile);
//! for pools with several variants of a workload (e.g. a slot or a channel to
//! collect values) its fastest variant by median. `ours / best` is the median of
//! the per-round ratios of our figure to the best other pool's figure of the
//! same round: two measurements seconds apart at most, so the load of a shared
//! machine hits both alike. `WIN` when even its 75th percentile is below 1,
//! `LOSS` when even its 25th percentile is above 1 (both as printed, to two
//! decimals), `tie` otherwise.

pub mod baseline;
pub mod chart;
pub mod dependencies;
pub mod probe;
pub mod report;
pub mod timers;
pub mod workloads;

use crate::interleave::rotate;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use workloads::{plan, Context, Inputs, Pools, WORKLOADS};

/// The pools compared, ours first (the reference of every ratio).
pub const POOLS: [&str; 6] = [
    "executor_core",
    "rayon",
    "tokio",
    "threadpool",
    "futures",
    "std_mpsc",
];

/// One contestant's figures over the counted rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The pool (one of [`POOLS`]).
    pub pool: &'static str,
    /// The variant's name.
    pub variant: &'static str,
    /// One figure per round, in the workload's unit.
    pub values: Vec<f64>,
}

/// A workload's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The workload's name.
    pub name: &'static str,
    /// What it measures (one line).
    pub what: String,
    /// The unit of its figures.
    pub unit: &'static str,
    /// Figures below this are raised to it before ratios are taken.
    pub floor: f64,
    /// Every contestant's figures, ours first.
    pub rows: Vec<Row>,
}

/// The problem sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizes {
    /// Jobs of `spawn_outside`/`spawn_inside`; `chained_spawn` runs a tenth as
    /// many links, `ping_pong` a twentieth as many round trips.
    pub jobs: usize,
    /// Single jobs per `round_trip` iteration.
    pub round_trips: usize,
    /// Tasks of `submit_collect`.
    pub tasks: usize,
    /// Tasks of `completion` and `completion_first`.
    pub completion_tasks: usize,
    /// Longest task of `completion` and `completion_first`, in microseconds.
    pub completion_max_us: u64,
    /// `n` of `fib_coarse`.
    pub fib_coarse: u64,
    /// `fib_coarse` forks while `n >= fib_cutoff`.
    pub fib_cutoff: u64,
    /// `n` of `fib_fine`.
    pub fib_fine: u64,
    /// `u64`s of `sum`.
    pub sum: usize,
    /// Jobs from outside (and again from inside) before `idle_cpu` measures.
    pub idle_burst: usize,
    /// How long `idle_cpu` measures.
    pub idle_window: Duration,
    /// At most this many rounds of `idle_cpu` (each costs a window per pool).
    pub idle_rounds: usize,
    /// Queued jobs of `memory`.
    pub memory_jobs: usize,
    /// At most this many rounds of `memory` (a child process per pool each).
    pub memory_rounds: usize,
    /// Jobs of `latency`'s stream.
    pub latency_jobs: usize,
    /// Tasks of `blocking_mix`.
    pub blocking_tasks: usize,
    /// Trees of `nested_wait`.
    pub nested_roots: usize,
}

impl Sizes {
    /// The full run: the sizes of the `interleaved*` binaries.
    pub const FULL: Sizes = Sizes {
        jobs: 1_000_000,
        round_trips: 1000,
        tasks: 100_000,
        completion_tasks: 10_000,
        completion_max_us: 50,
        fib_coarse: 30,
        fib_cutoff: 18,
        fib_fine: 25,
        sum: 10_000_000,
        idle_burst: 100_000,
        idle_window: Duration::from_secs(2),
        idle_rounds: 3,
        memory_jobs: 1_000_000,
        memory_rounds: 3,
        latency_jobs: 20_000,
        blocking_tasks: 2_000,
        // 8 trees hold at most 8 × 21 waits at once: within the default spare
        // cap (256) for the block_in_place row, whose every waiting task holds
        // a thread (32 trees, 672 waits, stalled that row at the cap).
        nested_roots: 8,
    };

    /// `--quick`: about a tenth, to finish in well under a minute.
    pub const QUICK: Sizes = Sizes {
        jobs: 100_000,
        round_trips: 200,
        tasks: 10_000,
        completion_tasks: 2_000,
        completion_max_us: 50,
        fib_coarse: 25,
        fib_cutoff: 18,
        fib_fine: 20,
        sum: 2_000_000,
        idle_burst: 20_000,
        idle_window: Duration::from_millis(250),
        idle_rounds: 1,
        memory_jobs: 100_000,
        memory_rounds: 1,
        latency_jobs: 4_000,
        blocking_tasks: 400,
        nested_roots: 8,
    };

    /// Tiny sizes for unit tests.
    #[cfg(test)]
    pub(crate) const TEST: Sizes = Sizes {
        jobs: 2000,
        round_trips: 10,
        tasks: 500,
        completion_tasks: 200,
        completion_max_us: 20,
        fib_coarse: 15,
        fib_cutoff: 10,
        fib_fine: 10,
        sum: 200_000,
        idle_burst: 100,
        idle_window: Duration::from_millis(20),
        idle_rounds: 1,
        memory_jobs: 1000,
        memory_rounds: 1,
        latency_jobs: 200,
        blocking_tasks: 40,
        nested_roots: 1,
    };
}

/// What to run, from the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Worker threads of every pool (`--threads`).
    pub threads: usize,
    /// Small sizes and few rounds (`--quick`).
    pub quick: bool,
    /// Counted rounds (`--rounds`; default 15, or 3 with `--quick`).
    pub rounds: usize,
    /// The workloads to run (`--workloads a,b,c`), in [`WORKLOADS`] order.
    pub workloads: Vec<&'static str>,
    /// Where to write the CSV (`--csv`).
    pub csv: Option<std::path::PathBuf>,
    /// Where to write the JSON (`--json`).
    pub json: Option<std::path::PathBuf>,
    /// Where to write the SVG chart (`--svg`).
    pub svg: Option<std::path::PathBuf>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run the comparison.
    Run(Options),
    /// Print the workloads, one per line.
    List,
}

/// What `--help` prints after the options.
const AFTER_HELP: &str = "\
Nothing is written to disk unless asked (--csv, --json, --svg). The table goes to
stdout, the progress bar to stderr (only when it is a terminal). Examples:
  compare --quick
  compare --workloads fib_fine,round_trip --rounds 25 --csv out.csv --json out.json --svg out.svg";

/// The command line: every option, and every workload as a possible value of
/// `--workloads`, so that `--help` lists them and a typo is an error naming the
/// known ones.
pub fn cli() -> clap::Command {
    use clap::builder::{PossibleValuesParser, RangedU64ValueParser};
    use clap::{Arg, ArgAction};
    let positive = || RangedU64ValueParser::<usize>::new().range(1..);
    let path = || clap::value_parser!(std::path::PathBuf);
    clap::Command::new("compare")
        .about("Our pool against rayon, tokio, futures, threadpool and std threads + mpsc, interleaved round by round")
        .arg(
            Arg::new("threads")
                .long("threads")
                .value_name("N")
                .value_parser(positive())
                .help("Worker threads of every pool [default: EXECUTOR_BENCH_THREADS or 2]"),
        )
        .arg(
            Arg::new("quick")
                .long("quick")
                .action(ArgAction::SetTrue)
                .help("Small sizes, 3 rounds, 1 round of idle_cpu and memory (under a minute)"),
        )
        .arg(
            Arg::new("rounds")
                .long("rounds")
                .value_name("N")
                .value_parser(positive())
                .help("Counted rounds of each workload [default: 15, or 3 with --quick; idle_cpu and memory at most 3]"),
        )
        .arg(
            Arg::new("workloads")
                .long("workloads")
                .value_name("LIST")
                .value_delimiter(',')
                .action(ArgAction::Append)
                .value_parser(PossibleValuesParser::new(WORKLOADS.iter().copied()))
                .help("Comma-separated workloads to run [default: all]"),
        )
        .arg(Arg::new("csv").long("csv").value_name("PATH").value_parser(path()).help("Also write every row's figures as CSV"))
        .arg(Arg::new("json").long("json").value_name("PATH").value_parser(path()).help("Also write every row's per-round figures as JSON"))
        .arg(Arg::new("svg").long("svg").value_name("PATH").value_parser(path()).help("Also write a chart of ours / best other pool per workload"))
        .arg(
            Arg::new("list")
                .long("list")
                .action(ArgAction::SetTrue)
                .help("Print the workloads, one per line, and exit"),
        )
        .after_help(AFTER_HELP)
}

impl Command {
    /// Parses the arguments (without the program name).
    ///
    /// # Errors
    ///
    /// clap's error for a bad argument, and for `--help` (print it with
    /// `exit`, which prints help on stdout and exits 0, an error on stderr and
    /// exits 2).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, clap::Error> {
        let program = std::iter::once("compare".to_string());
        let m = cli().try_get_matches_from(program.chain(args))?;
        if m.get_flag("list") {
            return Ok(Command::List);
        }
        let quick = m.get_flag("quick");
        let workloads: Option<Vec<&'static str>> = m.get_many::<String>("workloads").map(|names| {
            let names: Vec<&String> = names.collect();
            WORKLOADS
                .iter()
                .copied()
                .filter(|w| names.iter().any(|n| n == w))
                .collect()
        });
        Ok(Command::Run(Options {
            threads: m
                .get_one::<usize>("threads")
                .copied()
                .unwrap_or_else(crate::bench_threads),
            quick,
            rounds: m
                .get_one::<usize>("rounds")
                .copied()
                .unwrap_or(if quick { 3 } else { 15 }),
            workloads: workloads.unwrap_or_else(|| WORKLOADS.to_vec()),
            csv: m.get_one("csv").cloned(),
            json: m.get_one("json").cloned(),
            svg: m.get_one("svg").cloned(),
        }))
    }
}

impl Options {
    /// The sizes: [`Sizes::QUICK`] with `--quick`, else [`Sizes::FULL`].
    pub fn sizes(&self) -> Sizes {
        if self.quick {
            Sizes::QUICK
        } else {
            Sizes::FULL
        }
    }
}

/// What a run reports about itself: key and value lines for the top of every
/// output.
pub fn meta(options: &Options) -> Vec<(&'static str, String)> {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    vec![
        ("date", utc_now()),
        (
            "machine",
            format!(
                "{nproc} CPUs ({}), load average {}",
                probe::cpu_model().unwrap_or_else(|| "unknown CPU".into()),
                probe::load_average().unwrap_or_else(|| "unknown".into())
            ),
        ),
        (
            "threads",
            format!("{} worker threads per pool", options.threads),
        ),
        (
            "mode",
            format!(
                "{}, {} rounds (+1 warm-up; idle_cpu at most {}, memory at most {}, no warm-up)",
                if options.quick { "quick" } else { "full" },
                options.rounds,
                options.sizes().idle_rounds,
                options.sizes().memory_rounds
            ),
        ),
    ]
}

/// The current UTC date and time, `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        t / 3600,
        t % 3600 / 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// How a run reports progress; [`run`] calls it from the measuring thread.
pub trait Progress {
    /// The run will take `iterations` iterations in all.
    fn start(&mut self, iterations: u64);
    /// An iteration of `variant` in `workload` begins.
    fn iteration(&mut self, workload: &str, variant: &str);
    /// The iteration ended.
    fn done(&mut self);
    /// A line for the report (stdout), printed so as not to tear the progress bar.
    fn line(&mut self, text: &str);
}

/// Runs the selected workloads, interleaved, and returns their outcomes. `exe`
/// is this program (for `memory`'s child processes); without it `memory` is
/// left out. Prints each workload's line when it starts and its detailed table
/// when it ends through `progress`.
pub fn run(
    options: &Options,
    exe: Option<&std::path::Path>,
    progress: &mut dyn Progress,
) -> Vec<Outcome> {
    let sizes = options.sizes();
    let pools = Pools::new(options.threads);
    let inputs = Inputs::new(&options.workloads, &sizes);
    let cx = Context {
        pools: &pools,
        inputs: &inputs,
        sizes,
        threads: options.threads,
        rounds: options.rounds,
        exe,
    };
    let mut planned = Vec::new();
    for name in &options.workloads {
        match plan(name, &cx) {
            Some(p) => planned.push(p),
            None => progress.line(&format!("{name}: cannot run here, left out")),
        }
    }
    let total: usize = planned
        .iter()
        .map(|p| p.entries.len() * (p.rounds + usize::from(p.warm_up)))
        .sum();
    progress.start(total as u64);
    let mut outcomes = Vec::new();
    for mut p in planned {
        progress.line(&format!("\n{} — {} [{}]", p.name, p.what, p.unit));
        let entries = &mut p.entries;
        let values = rotate(entries.len(), p.rounds, p.warm_up, |c| {
            progress.iteration(p.name, entries[c].variant);
            let v = (entries[c].run)();
            progress.done();
            v
        });
        let outcome = Outcome {
            name: p.name,
            what: p.what,
            unit: p.unit,
            floor: p.floor,
            rows: entries
                .iter()
                .zip(values)
                .map(|(e, values)| Row {
                    pool: e.pool,
                    variant: e.variant,
                    values,
                })
                .collect(),
        };
        progress.line(report::workload_table(&outcome).trim_end());
        outcomes.push(outcome);
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Command, clap::Error> {
        Command::parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn parses_options() {
        let Ok(Command::Run(o)) =
            args("--quick --threads 3 --workloads=sum,spawn_outside --svg a.svg")
        else {
            panic!("parse");
        };
        assert!(o.quick);
        assert_eq!((o.threads, o.rounds), (3, 3));
        assert_eq!(o.workloads, ["spawn_outside", "sum"]);
        assert_eq!(o.svg.as_deref(), Some(std::path::Path::new("a.svg")));
        let Ok(Command::Run(o)) =
            args("--workloads sum --workloads fib_fine --csv a.csv --json a.json --rounds 9")
        else {
            panic!("parse");
        };
        assert_eq!(
            (o.workloads.as_slice(), o.rounds),
            (["fib_fine", "sum"].as_slice(), 9)
        );
        assert!(o.csv.is_some() && o.json.is_some());
        assert_eq!(args("--list").ok(), Some(Command::List));
        let Ok(Command::Run(o)) = args("") else {
            panic!("parse");
        };
        assert_eq!(o.workloads.len(), WORKLOADS.len());
        assert_eq!(o.rounds, 15);
    }

    #[test]
    fn help_lists_every_workload_and_option() {
        let help = args("--help").unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        let text = help.to_string();
        for w in WORKLOADS {
            assert!(text.contains(w), "{w} missing from --help");
        }
        for flag in [
            "--quick",
            "--json",
            "--csv",
            "--svg",
            "--workloads",
            "--rounds",
            "--threads",
            "--list",
        ] {
            assert!(text.contains(flag), "{flag} missing from --help");
        }
    }

    #[test]
    fn typos_are_clear_errors() {
        use clap::error::ErrorKind;
        let e = args("--workloads fib_fien").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidValue);
        let text = e.to_string();
        assert!(
            text.contains("fib_fien") && text.contains("fib_fine"),
            "{text}"
        );
        assert_eq!(
            args("--rounds 0").unwrap_err().kind(),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            args("--threads").unwrap_err().kind(),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            args("--frobnicate").unwrap_err().kind(),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            args("--quikc").unwrap_err().kind(),
            ErrorKind::UnknownArgument
        );
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert!(utc_now().ends_with(" UTC"));
    }
}
