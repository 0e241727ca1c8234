//! `--plot`: a self-contained SVG of every metric's relative lifts, one panel per metric and
//! one row per variant, with the frequentist, sequential and Bayesian intervals around the
//! point estimate and a zero line. Deterministic: fixed sizes and number formats.

use std::fmt::Write;

use super::text::{p_is, signed};
use super::{MetricResult, Report, Role};

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
pub fn svg(report: &Report) -> String {
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
    let level = 100.0 * (1.0 - report.settings.alpha);
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">Relative lift against control "{}" ({} intervals)</text>"#,
        escape(&report.control),
        trim(level)
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
            escape(&p_is("p", report.srm.p_value))
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
        escape(&spec.name),
        escape(&spec.kind.label()),
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
            escape(&v.variant)
        );
        let test = match &v.frequentist.relative {
            Ok(test) => test,
            Err(reason) => {
                let _ = writeln!(
                    s,
                    r##"<text x="{LEFT}" y="{:.1}" fill="#c00000" font-size="10">n/a: {}</text>"##,
                    y + 4.0,
                    escape(reason)
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

fn trim(level: f64) -> String {
    let text = format!("{level:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned() + "%"
}

/// Text for SVG content and attributes.
pub fn escape(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that `xml` is well formed: balanced tags, quoted attributes, entities only
    /// from XML's five; returns the element names in document order.
    pub fn elements(xml: &str) -> Result<Vec<String>, String> {
        let mut open: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = xml;
        while let Some(start) = rest.find('<') {
            check_text(&rest[..start])?;
            let end = rest[start..].find('>').ok_or("unclosed tag")? + start;
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match open.pop() {
                    Some(o) if o == name => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
                continue;
            }
            let closed = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, attributes) = tag.split_once(' ').unwrap_or((tag, ""));
            let mut attributes = attributes.trim();
            while !attributes.is_empty() {
                let (_, value) = attributes.split_once("=\"").ok_or("unquoted attribute")?;
                let (value, after) = value.split_once('"').ok_or("unterminated attribute")?;
                check_text(value)?;
                attributes = after.trim_start();
            }
            names.push(name.to_owned());
            if !closed {
                open.push(name.to_owned());
            }
        }
        check_text(rest)?;
        match open.is_empty() {
            true => Ok(names),
            false => Err(format!("unclosed {open:?}")),
        }
    }

    fn check_text(text: &str) -> Result<(), String> {
        let mut pieces = text.split('&').skip(1);
        match pieces.find(|p| {
            !["amp;", "lt;", "gt;", "quot;", "apos;"]
                .iter()
                .any(|e| p.starts_with(e))
        }) {
            Some(p) => Err(format!("bare & before {p:?}")),
            None if text.contains('>') => Err("bare >".to_owned()),
            None => Ok(()),
        }
    }

    #[test]
    fn the_plot_is_well_formed_with_every_element() {
        let svg = svg(&crate::analyze::tests::sample_report(true));
        let names = elements(&svg).unwrap();
        let count = |name: &str| names.iter().filter(|n| *n == name).count();
        assert_eq!(names[0], "svg");
        // Two panels; in the first, one variant has no relative result.
        assert_eq!(count("g"), 2);
        assert_eq!(count("circle"), 1 + 3);
        assert!(svg.contains(r#">b&lt;&amp;&gt;</text>"#), "{svg}");
        assert!(
            svg.contains("n/a: the control mean of `converted` is zero"),
            "{svg}"
        );
        assert!(
            svg.contains("SAMPLE RATIO MISMATCH (p &lt; 0.0001)"),
            "{svg}"
        );
        assert_eq!(svg.matches(r#"class="zero""#).count(), 2);
        assert_eq!(svg.matches(r#"class="axis""#).count(), 2);
        assert_eq!(svg.matches(r#"class="tolerance""#).count(), 1);
        assert!(svg.contains(">+10%</text>"), "{svg}");
        assert_eq!(
            svg,
            crate::analyze::plot::svg(&crate::analyze::tests::sample_report(true))
        );
        assert!(elements("<a><b></a>").is_err());
        assert!(elements("<a x=\"&\"/>").is_err());
    }
}
