//! The SVG chart: one horizontal bar per workload from 1 to `ours / best other`
//! (the median of the paired per-round ratios), its 25th–75th percentile as a
//! whisker, on a logarithmic axis so that 2× slower and 2× faster are the same
//! length. Green: WIN, red: LOSS, grey: tie.

use super::report::Verdict;
use super::{Outcome, POOLS};
use plotters::prelude::*;
use std::path::Path;

/// Draws the chart of `outcomes` to `path`; `subtitle` goes under the title.
/// Workloads without a ratio (no other pool) are left out.
pub fn svg(path: &Path, subtitle: &str, outcomes: &[Outcome]) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("chart {}: {e}", path.display());
    // (name, best other, median, p25, p75, verdict), first workload on top.
    let bars: Vec<_> = outcomes
        .iter()
        .filter_map(|o| {
            let s = o.summary();
            let (r, v) = s.ratio?;
            Some((o.name, POOLS[s.best?], r.median, r.p25, r.p75, v))
        })
        .collect();
    if bars.is_empty() {
        return Err(err(&"no workload has a ratio to draw"));
    }
    let n = bars.len() as i32;
    let lo = bars.iter().map(|b| b.3).fold(0.5f64, f64::min) * 0.8;
    let hi = bars.iter().map(|b| b.4).fold(2.0f64, f64::max) * 2.2;

    let height = 140 + 42 * bars.len() as u32;
    let root = SVGBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (title, body) = root.split_vertically(56);
    title
        .draw(&Text::new(
            "executor_core / best other pool, per workload (lower is better)",
            (12, 8),
            ("sans-serif", 20).into_font(),
        ))
        .map_err(|e| err(&e))?;
    title
        .draw(&Text::new(
            subtitle.to_string(),
            (12, 34),
            ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
        ))
        .map_err(|e| err(&e))?;

    let names: Vec<&str> = bars.iter().map(|b| b.0).collect();
    let mut chart = ChartBuilder::on(&body)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(120)
        .build_cartesian_2d((lo..hi).log_scale(), (0..n - 1).into_segmented())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(bars.len())
        .x_desc("ours / best other (median of per-round ratios; whisker p25-p75; log scale)")
        // Label only the 1-2-5 ticks: a log axis spanning a decade otherwise
        // prints every integer and the labels run into each other.
        .x_label_formatter(&|x| {
            let mantissa = *x / 10f64.powf(x.log10().floor());
            if [1.0, 2.0, 5.0, 10.0]
                .iter()
                .any(|k| (mantissa - k).abs() < 1e-6)
            {
                super::report::num(*x)
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| match y {
            SegmentValue::CenterOf(i) if (0..n).contains(i) => {
                names[(n - 1 - i) as usize].to_string()
            }
            _ => String::new(),
        })
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|e| err(&e))?;

    let color = |v: Verdict| match v {
        Verdict::Win => RGBColor(46, 139, 87),
        Verdict::Loss => RGBColor(200, 60, 60),
        Verdict::Tie => RGBColor(150, 150, 150),
    };
    for (k, &(_, best, median, p25, p75, verdict)) in bars.iter().enumerate() {
        let i = n - 1 - k as i32;
        let mut bar = Rectangle::new(
            [
                (1.0, SegmentValue::Exact(i)),
                (median, SegmentValue::Exact(i + 1)),
            ],
            color(verdict).mix(0.75).filled(),
        );
        bar.set_margin(9, 9, 0, 0);
        chart.draw_series([bar]).map_err(|e| err(&e))?;
        chart
            .draw_series([PathElement::new(
                vec![
                    (p25, SegmentValue::CenterOf(i)),
                    (p75, SegmentValue::CenterOf(i)),
                ],
                BLACK.stroke_width(2),
            )])
            .map_err(|e| err(&e))?;
        chart
            .draw_series([Text::new(
                format!("{median:.2} vs {best} ({})", verdict.word()),
                (p75.max(median).max(1.0) * 1.06, SegmentValue::CenterOf(i)),
                ("sans-serif", 13).into_font(),
            )])
            .map_err(|e| err(&e))?;
    }
    chart
        .draw_series([PathElement::new(
            vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Last)],
            BLACK.stroke_width(1),
        )])
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Row;

    #[test]
    fn draws_an_svg() {
        let row = |pool, values: &[f64]| Row {
            pool,
            variant: pool,
            values: values.to_vec(),
        };
        let outcomes = [
            Outcome {
                name: "a",
                what: String::new(),
                unit: "ns/job",
                floor: 0.0,
                rows: vec![row("executor_core", &[1.0, 2.0]), row("rayon", &[2.0, 3.0])],
            },
            Outcome {
                name: "b",
                what: String::new(),
                unit: "ns/job",
                floor: 0.0,
                rows: vec![row("executor_core", &[3.0, 3.0]), row("tokio", &[1.0, 1.5])],
            },
        ];
        let path = std::env::temp_dir().join(format!("compare-chart-{}.svg", std::process::id()));
        svg(&path, "test", &outcomes).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(text.starts_with("<svg") && text.contains("vs rayon (WIN)"));
    }
}
