//! One command that races our pool against rayon, tokio, `futures`' thread pool,
//! the `threadpool` crate and a std-only baseline (std threads fed by one `mpsc`
//! channel) on the same workloads, interleaved round by round, and prints a table
//! of the median figure per pool and `ours / best other` per workload, with its
//! 25th–75th percentile and a verdict (WIN, LOSS or tie).
//!
//! The method and the workloads are in `benches::compare` (each workload prints
//! one line saying what it measures before it runs).
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-compare cargo run --release -p benches --bin compare
//! CARGO_TARGET_DIR=/work/target-compare cargo run --release -p benches --bin compare -- --quick
//! CARGO_TARGET_DIR=/work/target-compare cargo run --release -p benches --bin compare -- \
//!     --workloads spawn_outside,fib_fine --rounds 9 --csv out.csv --json out.json --svg out.svg
//! ```
//!
//! Nothing is written to disk unless asked (`--csv`, `--json`, `--svg`). The
//! progress bar is drawn on stderr, only when stderr is a terminal.
//! `compare --child memory POOL THREADS JOBS` is the child process of the
//! `memory` workload (prints `bytes N`).

use benches::compare::workloads::{child_memory, WORKLOADS};
use benches::compare::{chart, meta, report, run, Command, Options, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::process::ExitCode;

/// The progress bar on stderr (hidden when stderr is not a terminal); report
/// lines go to stdout, printed with the bar suspended.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&mut self, iterations: u64) {
        self.0.set_length(iterations);
        self.0.reset_elapsed();
    }

    fn iteration(&mut self, workload: &str, variant: &str) {
        self.0.set_message(format!("{workload}: {variant}"));
    }

    fn done(&mut self) {
        self.0.inc(1);
    }

    fn line(&mut self, text: &str) {
        self.0.suspend(|| println!("{text}"));
    }
}

fn progress_bar() -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(0), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} iterations, eta {eta}  {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}

/// `compare --child memory POOL THREADS JOBS`.
fn child(args: &[String]) -> ExitCode {
    let parsed = match args {
        [kind, pool, threads, jobs] if kind == "memory" => threads
            .parse()
            .ok()
            .zip(jobs.parse().ok())
            .map(|(t, j)| (pool, t, j)),
        _ => None,
    };
    let Some((pool, threads, jobs)) = parsed else {
        eprintln!("usage: compare --child memory POOL THREADS JOBS");
        return ExitCode::FAILURE;
    };
    match child_memory(pool, threads, jobs) {
        Ok(bytes) => {
            println!("bytes {bytes}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn write(path: &std::path::Path, what: &str, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents)
        .map_err(|e| format!("cannot write {what} {}: {e}", path.display()))
}

fn compare(options: &Options) -> Result<(), String> {
    let meta = meta(options);
    for (k, v) in &meta {
        println!("{k}: {v}");
    }
    let exe = std::env::current_exe().ok();
    let bar = progress_bar();
    let outcomes = run(options, exe.as_deref(), &mut Bar(bar.clone()));
    bar.finish_and_clear();

    println!(
        "\nSummary: median per pool (its fastest variant), lower is better; ours/best = \
         median of the per-round ratios ours / best other pool, with p25-p75;\n\
         WIN: p75 < 1, LOSS: p25 > 1, tie: the spread contains 1. n/a: the workload \
         does not run on that pool.\n"
    );
    print!("{}", report::summary_table(&outcomes));
    if let Some(path) = &options.csv {
        write(path, "CSV", &report::csv(&meta, &outcomes))?;
    }
    if let Some(path) = &options.json {
        let json = serde_json::to_string_pretty(&report::json(&meta, &outcomes))
            .map_err(|e| e.to_string())?;
        write(path, "JSON", &(json + "\n"))?;
    }
    if let Some(path) = &options.svg {
        let subtitle = format!("{}; {}; {}", meta[0].1, meta[1].1, meta[2].1);
        chart::svg(path, &subtitle, &outcomes)?;
    }
    Ok(())
}

/// Runs the command line (module docs).
pub(crate) fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    match Command::parse(args) {
        Ok(Command::List) => {
            println!("{}", WORKLOADS.join("\n"));
            ExitCode::SUCCESS
        }
        Ok(Command::Run(options)) => match compare(&options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("compare: {e}");
                ExitCode::FAILURE
            }
        },
        // --help (stdout, exit 0) or a bad argument (stderr, exit 2).
        Err(e) => e.exit(),
    }
}
