//! SVG. `flagstone analyze --plot`: a self-contained SVG of every metric's relative lifts, one panel per metric and
//! one row per variant, with the frequentist, sequential and Bayesian intervals around the
//! point estimate and a zero line. Deterministic: fixed sizes and number formats.

use std::fmt::Write;

use crate::analyze::{MetricResult, Report, Role};
use crate::format::{confidence_level, p_is, signed};

const WIDTH: f64 = 760.0;
/// The plotting area, between the variant names and the right edge.
const LEFT: f64 = 190.0;
const RIGHT: f64 = 730.0;
const HEADER: f64 = 64.0;
const TITLE: f64 = 30.0;
const ROW: f64 = 36.0;
const AXIS: f64 = 36.0;
/// Lifts beyond ±1,000,000% are drawn at the edge, so that any input has finite coordinates.
const LIMIT: f64 = 10_000.0;

const BAYESIAN: &str = "#7b3294";
const FREQUENTIST: &str = "#0571b0";
const SEQUENTIAL: &str = "#e66101";

/// The SVG document for a report.
pub fn analyze(report: &Report) -> String {
    let panels: Vec<f64> = report
        .metrics
        .iter()
        .map(|m| TITLE + ROW * m.variants.len() as f64 + AXIS)
        .collect();
    let height = HEADER + panels.iter().sum::<f64>() + 10.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">Relative lift against control "{}" ({} intervals)</text>"#,
        escape_xml(&report.control),
        confidence_level(report.settings.alpha)
    );
    let legend = [
        ("Bayesian", BAYESIAN),
        ("frequentist", FREQUENTIST),
        ("sequential", SEQUENTIAL),
    ];
    for (i, (name, colour)) in legend.iter().enumerate() {
        let x = 10.0 + 130.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{x}" y1="38" x2="{}" y2="38" stroke="{colour}" stroke-width="3"/><text x="{}" y="42">{name}</text>"#,
            x + 24.0,
            x + 30.0
        );
    }
    let _ = writeln!(
        s,
        r#"<circle cx="406" cy="38" r="4" fill="black"/><text x="416" y="42">point estimate</text>"#
    );
    if report.srm.mismatch {
        let _ = writeln!(
            s,
            r##"<text x="10" y="58" fill="#c00000" font-weight="bold">SAMPLE RATIO MISMATCH ({}): these results cannot be trusted</text>"##,
            escape_xml(&p_is("p", report.srm.p_value))
        );
    }
    let mut top = HEADER;
    for (metric, height) in report.metrics.iter().zip(&panels) {
        panel(&mut s, metric, top);
        top += height;
    }
    s.push_str("</svg>\n");
    s
}

fn panel(s: &mut String, metric: &MetricResult, top: f64) {
    let spec = &metric.spec;
    let _ = writeln!(
        s,
        r#"<g class="metric"><text x="10" y="{}" font-weight="bold">{} ({}, {}{})</text>"#,
        top + 18.0,
        escape_xml(&spec.name),
        escape_xml(&spec.kind.label()),
        spec.role.label(),
        if spec.inverse {
            ", lower is better"
        } else {
            ""
        }
    );
    let intervals: Vec<[f64; 2]> = metric
        .variants
        .iter()
        .flat_map(|v| {
            let f = v.frequentist.relative.as_ref().ok().map(|t| t.result.ci);
            let q = v.sequential.relative.as_ref().ok().map(|q| q.ci);
            let b = v.bayesian.relative.as_ref().ok().map(|b| b.ci);
            [f, q, b].into_iter().flatten()
        })
        .map(|[a, b]| [clamp(a), clamp(b)])
        .collect();
    // A guardrail's tolerated regression, in its bad direction.
    let tolerance = match spec.role {
        Role::Guardrail { max_regression } => Some(clamp(if spec.inverse {
            max_regression
        } else {
            -max_regression
        })),
        _ => None,
    };
    let edge = tolerance.unwrap_or(0.0);
    let low = intervals.iter().map(|i| i[0]).fold(edge.min(0.0), f64::min);
    let high = intervals.iter().map(|i| i[1]).fold(edge.max(0.0), f64::max);
    let (low, high) = if high - low > 0.0 {
        let pad = (high - low) * 0.05;
        (low - pad, high + pad)
    } else {
        (-0.01, 0.01)
    };
    let x = |v: f64| LEFT + (clamp(v) - low) / (high - low) * (RIGHT - LEFT);
    let rows_top = top + TITLE;
    let rows_bottom = rows_top + ROW * metric.variants.len() as f64;
    let _ = writeln!(
        s,
        r##"<line class="zero" x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#888888" stroke-dasharray="4 3"/>"##,
        x(0.0),
        rows_top,
        rows_bottom
    );
    if let Some(tolerance) = tolerance {
        let _ = writeln!(
            s,
            r##"<line class="tolerance" x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#c00000" stroke-dasharray="2 2"/>"##,
            x(tolerance),
            rows_top,
            rows_bottom
        );
    }
    for (i, v) in metric.variants.iter().enumerate() {
        let y = rows_top + ROW * i as f64 + ROW / 2.0;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 10.0,
            y + 4.0,
            escape_xml(&v.variant)
        );
        let test = match &v.frequentist.relative {
            Ok(test) => test,
            Err(reason) => {
                let _ = writeln!(
                    s,
                    r##"<text x="{LEFT}" y="{:.1}" fill="#c00000" font-size="10">n/a: {}</text>"##,
                    y + 4.0,
                    escape_xml(reason)
                );
                continue;
            }
        };
        let lines = [
            (
                v.bayesian.relative.as_ref().ok().map(|b| b.ci),
                BAYESIAN,
                -8.0,
            ),
            (Some(test.result.ci), FREQUENTIST, 0.0),
            (
                v.sequential.relative.as_ref().ok().map(|q| q.ci),
                SEQUENTIAL,
                8.0,
            ),
        ];
        for (ci, colour, offset) in lines {
            if let Some([a, b]) = ci {
                let _ = writeln!(
                    s,
                    r#"<line x1="{:.1}" y1="{2:.1}" x2="{:.1}" y2="{2:.1}" stroke="{colour}" stroke-width="3"/>"#,
                    x(a),
                    x(b),
                    y + offset
                );
            }
        }
        let _ = writeln!(
            s,
            r#"<circle cx="{:.1}" cy="{y:.1}" r="4" fill="black"/>"#,
            x(test.result.expected)
        );
    }
    let axis = rows_bottom + 4.0;
    let _ = writeln!(
        s,
        r#"<line class="axis" x1="{LEFT}" y1="{axis:.1}" x2="{RIGHT}" y2="{axis:.1}" stroke="black"/>"#
    );
    let step = tick_step(high - low);
    let decimals = (-(step * 100.0).log10().floor()).max(0.0) as usize;
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    for k in first..=last {
        let value = k as f64 * step;
        let _ = writeln!(
            s,
            r#"<line x1="{0:.1}" y1="{axis:.1}" x2="{0:.1}" y2="{1:.1}" stroke="black"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3}%</text>"#,
            x(value),
            axis + 5.0,
            axis + 18.0,
            signed(value * 100.0, decimals)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">relative lift</text></g>"#,
        (LEFT + RIGHT) / 2.0,
        axis + 31.0
    );
}

/// A round step (1, 2 or 5 × 10ⁿ) giving about five ticks over `span`.
fn tick_step(span: f64) -> f64 {
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * magnitude);
    if step > 0.0 && step.is_finite() {
        step
    } else {
        span.max(f64::MIN_POSITIVE)
    }
}

fn clamp(v: f64) -> f64 {
    v.clamp(-LIMIT, LIMIT)
}

/// Text for SVG content and attributes.
fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}
