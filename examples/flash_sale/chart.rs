//! Draws the comparison as an SVG: throughput per stock decision on the
//! left, latency from the opening (p50 and p99) on the right; and the bursts
//! of growing size (`scale.rs`) as lines against the burst size.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

use crate::report::Outcome;
use crate::scale::{Row, thousands};

const BAR: RGBColor = RGBColor(52, 101, 164);
const P99: RGBColor = RGBColor(204, 85, 0);

pub fn draw(outcomes: &[Outcome], title: &str, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1100, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 20))?;
    let (left, right) = root.split_horizontally(550);
    let n = outcomes.len();
    let names: Vec<String> = outcomes.iter().map(|o| short(&o.variant)).collect();
    let label = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 0.01 && i >= 0.0 {
            names.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };

    let top = outcomes
        .iter()
        .map(|o| o.requests_per_sec)
        .fold(1.0, f64::max);
    let mut chart = panel(&left, "purchases answered per second", n, top, &label)?;
    chart.draw_series(outcomes.iter().enumerate().map(|(i, o)| {
        let x = i as f64;
        Rectangle::new(
            [(x - 0.3, 0.0), (x + 0.3, o.requests_per_sec)],
            BAR.filled(),
        )
    }))?;
    chart.draw_series(outcomes.iter().enumerate().map(|(i, o)| {
        Text::new(
            format!("{:.0}", o.requests_per_sec),
            (i as f64 - 0.2, o.requests_per_sec * 1.07),
            ("sans-serif", 13),
        )
    }))?;

    let top = outcomes
        .iter()
        .map(|o| o.latency.p99_ms)
        .fold(1.0, f64::max);
    let mut chart = panel(
        &right,
        "latency from the opening, ms (p50, p99)",
        n,
        top,
        &label,
    )?;
    chart
        .draw_series(outcomes.iter().enumerate().map(|(i, o)| {
            let x = i as f64;
            Rectangle::new([(x - 0.3, 0.0), (x, o.latency.p50_ms)], BAR.filled())
        }))?
        .label("p50")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], BAR.filled()));
    chart
        .draw_series(outcomes.iter().enumerate().map(|(i, o)| {
            let x = i as f64;
            Rectangle::new([(x, 0.0), (x + 0.3, o.latency.p99_ms)], P99.filled())
        }))?
        .label("p99")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], P99.filled()));
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    root.present()?;
    Ok(())
}

type Panel<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One bar panel: a slot per variant on x (named by `label`), 0 to `top` on y.
fn panel<'a>(
    area: &DrawingArea<SVGBackend<'a>, Shift>,
    caption: &str,
    n: usize,
    top: f64,
    label: &dyn Fn(&f64) -> String,
) -> anyhow::Result<Panel<'a>> {
    let mut chart = ChartBuilder::on(area)
        .margin(15)
        .caption(caption, ("sans-serif", 16))
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..top * 1.15)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 4)
        .x_label_formatter(label)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    Ok(chart)
}

fn short(variant: &str) -> String {
    match variant {
        "stampede" => "actors (MariaDB)".into(),
        "stampede-sqlite" => "actors (SQLite)".into(),
        "row-lock" => "FOR UPDATE".into(),
        "redis-lua" => "Redis Lua".into(),
        other => other.into(),
    }
}

/// A figure of a row of the bursts.
type Value = fn(&Row) -> Option<f64>;

/// One panel of `bursts.svg`: where, its caption, the value drawn against
/// the burst size, and a second value drawn thin beside it.
struct Figure<'a, 'b> {
    area: &'b DrawingArea<SVGBackend<'a>, Shift>,
    caption: &'static str,
    value: Value,
    floor: Option<Value>,
    /// Where the legend covers the fewest points.
    legend: SeriesLabelPosition,
}

/// Colours of the variants' lines in `bursts.svg`, in order.
const LINES: [RGBColor; 4] = [BAR, P99, RGBColor(78, 154, 6), RGBColor(117, 80, 123)];

/// `bursts.svg`: drain time (left) and the process's peak RSS (right)
/// against the burst size, a line per variant through its single-SKU
/// bursts, and a cross for its drop over many SKUs.
pub fn draw_bursts(rows: &[Row], path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1100, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "Bursts of growing size: purchases at the opening, stock N/10",
        ("sans-serif", 20),
    )?;
    let (left, right) = root.split_horizontally(550);
    let mut variants: Vec<(&str, &str)> = Vec::new();
    for r in rows {
        if !variants.iter().any(|(v, _)| *v == r.variant) {
            variants.push((&r.variant, &r.label));
        }
    }
    let panels = [
        Figure {
            area: &left,
            caption: "drained ms (opening to last answer)",
            value: |r| Some(r.drained_ms),
            floor: None,
            legend: SeriesLabelPosition::UpperLeft,
        },
        Figure {
            area: &right,
            caption: "peak RSS of the process, MiB (thin: at the burst's start)",
            value: |r| r.memory.map(|m| m.peak_mib),
            floor: Some(|r| r.memory.map(|m| m.before_mib)),
            legend: SeriesLabelPosition::LowerRight,
        },
    ];
    let widest = rows.iter().map(|r| r.purchases).max().unwrap_or(1) as f64;
    for Figure {
        area,
        caption,
        value,
        floor,
        legend,
    } in panels
    {
        let top = rows.iter().filter_map(value).fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(area)
            .margin(15)
            .caption(caption, ("sans-serif", 16))
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..widest * 1.08, 0.0..top * 1.15)?;
        chart
            .configure_mesh()
            .x_desc("purchases in the burst")
            .x_label_formatter(&|v| thousands(v.round() as usize))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        for (i, (variant, label)) in variants.iter().enumerate() {
            let color = LINES[i % LINES.len()];
            let mine = |skus: fn(usize) -> bool, value: Value| {
                let mut points = rows
                    .iter()
                    .filter(|r| r.variant == *variant && skus(r.skus))
                    .filter_map(|r| value(r).map(|v| (r.purchases as f64, v)))
                    .collect::<Vec<_>>();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                points
            };
            if let Some(floor) = floor {
                let thin = LineSeries::new(mine(|k| k == 1, floor), color.stroke_width(1));
                chart.draw_series(thin)?;
            }
            let line = mine(|k| k == 1, value);
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
                .label(short_label(variant, label))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 14, y)], color.stroke_width(2))
                });
            chart.draw_series(line.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
            let hot = mine(|k| k > 1, value);
            if !hot.is_empty() {
                let skus = rows
                    .iter()
                    .find(|r| r.variant == *variant && r.skus > 1)
                    .map_or(0, |r| r.skus);
                chart
                    .draw_series(hot.iter().map(|p| Cross::new(*p, 7, color.stroke_width(3))))?
                    .label(format!("{}, over {} SKUs", short(variant), thousands(skus)))
                    .legend(move |(x, y)| Cross::new((x + 7, y), 5, color.stroke_width(2)));
            }
        }
        chart
            .configure_series_labels()
            .position(legend)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

fn short_label(variant: &str, label: &str) -> String {
    match variant {
        "external" => label.into(),
        v => short(v),
    }
}
