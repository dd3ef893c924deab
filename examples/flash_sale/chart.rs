//! Draws the comparison as an SVG: throughput per stock decision on the
//! left, latency from the opening (p50 and p99) on the right.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

use crate::report::Outcome;

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
