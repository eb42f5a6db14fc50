//! Statistics over the rounds, the verdict per workload, and the outputs: the
//! text tables, CSV and JSON.

use super::{Outcome, Row, POOLS};
use crate::interleave::quantile;
use std::fmt::Write as _;

/// Median and 25th–75th percentile of some per-round values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// The median.
    pub median: f64,
    /// The 25th percentile.
    pub p25: f64,
    /// The 75th percentile.
    pub p75: f64,
}

impl Stat {
    /// The statistics of `values` (nearest rank); `None` when empty.
    pub fn of(values: &[f64]) -> Option<Stat> {
        if values.is_empty() {
            return None;
        }
        Some(Stat {
            median: quantile(values, 0.5),
            p25: quantile(values, 0.25),
            p75: quantile(values, 0.75),
        })
    }
}

/// How our pool fared against the best other pool of a workload, judged on the
/// 25th–75th percentile of the paired per-round ratios `ours / best`, rounded to
/// the two decimals the tables print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Even the 75th percentile of `ours / best` is below 1.
    Win,
    /// Even the 25th percentile of `ours / best` is above 1.
    Loss,
    /// The 25th–75th percentile range contains 1.
    Tie,
}

impl Verdict {
    /// The word the tables print.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Win => "WIN",
            Verdict::Loss => "LOSS",
            Verdict::Tie => "tie",
        }
    }
}

/// One pool's cell of a workload: its best variant and that variant's figures.
#[derive(Debug, Clone, Copy)]
pub struct Cell<'a> {
    /// The row (variant) with the lowest median among the pool's rows.
    pub row: &'a Row,
    /// Its per-round statistics.
    pub stat: Stat,
    /// Paired per-round ratios `ours / this` (after the workload's floor);
    /// `None` for our own cell.
    pub vs_ours: Option<Stat>,
}

/// A workload's figures per pool, its best other pool and our ratio to it.
#[derive(Debug, Clone)]
pub struct Summary<'a> {
    /// Per pool of [`POOLS`] (same order), its cell, `None` when the workload
    /// does not run on that pool.
    pub cells: Vec<Option<Cell<'a>>>,
    /// The index into [`POOLS`] of the other pool with the lowest median.
    pub best: Option<usize>,
    /// Paired per-round `ours / best` (after the floor), and the verdict on it.
    pub ratio: Option<(Stat, Verdict)>,
}

/// Paired per-round ratios `a / b`, both raised to `floor` first.
fn paired(a: &[f64], b: &[f64], floor: f64) -> Option<Stat> {
    let ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(a, b)| a.max(floor) / b.max(floor))
        .collect();
    Stat::of(&ratios)
}

impl Outcome {
    /// Picks each pool's best variant, the best other pool, and our ratio to it.
    pub fn summary(&self) -> Summary<'_> {
        let mut cells: Vec<Option<Cell<'_>>> = POOLS
            .iter()
            .map(|&pool| {
                self.rows
                    .iter()
                    .filter(|r| r.pool == pool)
                    .filter_map(|row| {
                        Some(Cell {
                            row,
                            stat: Stat::of(&row.values)?,
                            vs_ours: None,
                        })
                    })
                    .min_by(|a, b| a.stat.median.total_cmp(&b.stat.median))
            })
            .collect();
        let best = (1..POOLS.len())
            .filter_map(|i| Some((i, cells[i]?.stat.median)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i);
        let mut ratio = None;
        if let Some(ours) = cells[0] {
            for cell in cells.iter_mut().skip(1).flatten() {
                cell.vs_ours = paired(&ours.row.values, &cell.row.values, self.floor);
            }
            ratio = best
                .and_then(|b| cells[b]?.vs_ours)
                .map(|s| (s, verdict(s)));
        }
        Summary { cells, best, ratio }
    }
}

/// The verdict on `ours / best`, judged on the figures as printed (two
/// decimals), so that a printed `1.00-1.05` is a tie.
fn verdict(s: Stat) -> Verdict {
    let printed = |x: f64| (x * 100.0).round() / 100.0;
    if printed(s.p75) < 1.0 {
        Verdict::Win
    } else if printed(s.p25) > 1.0 {
        Verdict::Loss
    } else {
        Verdict::Tie
    }
}

/// A figure with as many decimals as its size deserves.
pub fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The detailed table of one workload: every row (variant) with its median and
/// spread, and the paired ratio `ours / this`.
pub fn workload_table(outcome: &Outcome) -> String {
    let summary = outcome.summary();
    let ours = summary.cells[0].map(|c| c.row.variant);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| {:<21} | {:>11} | {:>17} | {:>9} | {:>11} |",
        "pool", outcome.unit, "p25-p75", "ours/this", "p25-p75"
    );
    let _ = writeln!(
        s,
        "|{:-<23}|{:->13}|{:->19}|{:->11}|{:->13}|",
        "", "", "", "", ""
    );
    for row in &outcome.rows {
        let Some(stat) = Stat::of(&row.values) else {
            continue;
        };
        let vs = match (ours, summary.cells[0]) {
            (Some(o), _) if o == row.variant => None,
            (_, Some(o)) => paired(&o.row.values, &row.values, outcome.floor),
            _ => None,
        };
        let (r, spread) = match vs {
            Some(v) => (
                format!("{:.2}", v.median),
                format!("{:.2}-{:.2}", v.p25, v.p75),
            ),
            None => ("-".into(), String::new()),
        };
        let _ = writeln!(
            s,
            "| {:<21} | {:>11} | {:>17} | {:>9} | {:>11} |",
            row.variant,
            num(stat.median),
            format!("{}-{}", num(stat.p25), num(stat.p75)),
            r,
            spread
        );
    }
    s
}

/// The summary: one line per workload, the median of each pool's best variant,
/// and `ours / best other` with its spread and verdict.
pub fn summary_table(outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let _ = write!(s, "| {:<16} | {:<8} |", "workload", "unit");
    for pool in POOLS {
        let _ = write!(s, " {:>10} |", short(pool));
    }
    let _ = writeln!(
        s,
        " {:>9} | {:>11} | {:<10} | {:<4} |",
        "ours/best", "p25-p75", "best other", ""
    );
    let _ = write!(s, "|{:-<18}|{:-<10}|", "", "");
    for _ in POOLS {
        let _ = write!(s, "{:->12}|", "");
    }
    let _ = writeln!(s, "{:->11}|{:->13}|{:-<12}|{:-<6}|", "", "", "", "");
    for outcome in outcomes {
        let summary = outcome.summary();
        let _ = write!(s, "| {:<16} | {:<8} |", outcome.name, outcome.unit);
        for cell in &summary.cells {
            let v = cell.map_or_else(|| "n/a".to_string(), |c| num(c.stat.median));
            let _ = write!(s, " {v:>10} |");
        }
        match (summary.ratio, summary.best) {
            (Some((r, v)), Some(b)) => {
                let _ = writeln!(
                    s,
                    " {:>9.2} | {:>11} | {:<10} | {:<4} |",
                    r.median,
                    format!("{:.2}-{:.2}", r.p25, r.p75),
                    POOLS[b],
                    v.word()
                );
            }
            _ => {
                let _ = writeln!(s, " {:>9} | {:>11} | {:<10} | {:<4} |", "-", "", "", "");
            }
        }
    }
    s
}

/// The pool's column header: `ours` for our pool.
fn short(pool: &str) -> &str {
    if pool == POOLS[0] {
        "ours"
    } else {
        pool
    }
}

/// Escapes a CSV field (quotes it when it holds a comma, quote or newline).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV: one line per workload and row (variant), with the row's statistics, the
/// paired ratio `ours / this`, and whether the row is its pool's cell and the
/// workload's best other pool. `#` lines at the top hold `meta`.
pub fn csv(meta: &[(&str, String)], outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    for (k, v) in meta {
        let _ = writeln!(s, "# {k}: {v}");
    }
    let _ = writeln!(
        s,
        "workload,unit,pool,variant,rounds,median,p25,p75,ours_over_this_median,ours_over_this_p25,ours_over_this_p75,pool_cell,best_other,verdict"
    );
    for outcome in outcomes {
        let summary = outcome.summary();
        for row in &outcome.rows {
            let Some(stat) = Stat::of(&row.values) else {
                continue;
            };
            let index = POOLS.iter().position(|p| *p == row.pool);
            let cell = index
                .and_then(|i| summary.cells[i])
                .filter(|c| c.row.variant == row.variant);
            let vs = summary.cells[0]
                .filter(|o| o.row.variant != row.variant)
                .and_then(|o| paired(&o.row.values, &row.values, outcome.floor));
            let is_best = cell.is_some() && index == summary.best;
            let f = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.4}"));
            let verdict = if is_best {
                summary.ratio.map_or("", |r| r.1.word())
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "{},{},{},{},{},{:.4},{:.4},{:.4},{},{},{},{},{},{}",
                outcome.name,
                csv_field(outcome.unit),
                row.pool,
                row.variant,
                row.values.len(),
                stat.median,
                stat.p25,
                stat.p75,
                f(vs.map(|v| v.median)),
                f(vs.map(|v| v.p25)),
                f(vs.map(|v| v.p75)),
                cell.is_some(),
                is_best,
                verdict,
            );
        }
    }
    s
}

/// JSON: `meta`, then per workload what it measures, its unit, every row with all
/// its per-round values, and the summary (cells, best other, ratio, verdict).
pub fn json(meta: &[(&str, String)], outcomes: &[Outcome]) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let stat = |s: Stat| json!({ "median": s.median, "p25": s.p25, "p75": s.p75 });
    let meta: Map<String, Value> = meta
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String(v.clone())))
        .collect();
    let workloads: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            let summary = o.summary();
            let cells: Map<String, Value> = POOLS
                .iter()
                .zip(&summary.cells)
                .filter_map(|(pool, c)| {
                    let c = (*c)?;
                    Some((
                        (*pool).to_string(),
                        json!({
                            "variant": c.row.variant,
                            "value": stat(c.stat),
                            "ours_over_this": c.vs_ours.map(stat),
                        }),
                    ))
                })
                .collect();
            json!({
                "name": o.name,
                "what": o.what,
                "unit": o.unit,
                "floor": o.floor,
                "rows": o.rows.iter().map(|r| json!({
                    "pool": r.pool,
                    "variant": r.variant,
                    "values": r.values,
                })).collect::<Vec<_>>(),
                "cells": cells,
                "best_other": summary.best.map(|b| POOLS[b]),
                "ours_over_best": summary.ratio.map(|(s, _)| stat(s)),
                "verdict": summary.ratio.map(|(_, v)| v.word()),
            })
        })
        .collect();
    json!({ "meta": meta, "workloads": workloads })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(rows: Vec<Row>) -> Outcome {
        Outcome {
            name: "w",
            what: "test".into(),
            unit: "ns/job",
            floor: 0.0,
            rows,
        }
    }

    fn row(pool: &'static str, variant: &'static str, values: &[f64]) -> Row {
        Row {
            pool,
            variant,
            values: values.to_vec(),
        }
    }

    #[test]
    fn best_variant_best_peer_and_paired_ratio() {
        let o = outcome(vec![
            row(
                "executor_core",
                "executor_core",
                &[10.0, 20.0, 30.0, 40.0, 50.0],
            ),
            row("rayon", "rayon_slot", &[40.0; 5]),
            row("rayon", "rayon_mpsc", &[5.0, 10.0, 60.0, 20.0, 100.0]),
            row("tokio", "tokio", &[20.0, 40.0, 60.0, 80.0, 100.0]),
        ]);
        let s = o.summary();
        assert_eq!(s.cells[1].unwrap().row.variant, "rayon_mpsc");
        assert_eq!(s.best, Some(1));
        let (r, v) = s.ratio.unwrap();
        // Paired: 10/5, 20/10, 30/60, 40/20, 50/100.
        assert_eq!((r.p25, r.median, r.p75), (0.5, 2.0, 2.0));
        assert_eq!(v, Verdict::Tie);
        assert!(s.cells[2].is_some() && s.cells[3].is_none());
        assert!(summary_table(&[o]).contains("rayon"));
    }

    #[test]
    fn floor_and_verdicts() {
        let mut o = outcome(vec![
            row("executor_core", "executor_core", &[0.0, 0.1, 0.0]),
            row("rayon", "rayon", &[0.0, 0.0, 0.2]),
        ]);
        o.floor = 1.0;
        assert_eq!(o.summary().ratio.unwrap().1, Verdict::Tie);
        let o = outcome(vec![
            row("executor_core", "executor_core", &[1.0, 1.0]),
            row("tokio", "tokio", &[2.0, 3.0]),
        ]);
        assert_eq!(o.summary().ratio.unwrap().1, Verdict::Win);
        let close = Stat {
            median: 1.03,
            p25: 1.004,
            p75: 1.05,
        };
        assert_eq!(verdict(close), Verdict::Tie);
        let text = csv(&[("k", "v".into())], &[o]);
        assert!(text.starts_with("# k: v\n"));
        assert_eq!(text.lines().count(), 4);
    }
}
