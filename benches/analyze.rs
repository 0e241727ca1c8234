//! `flagstone analyze` on a large summary: 200 metrics (binomial, mean, ratio and CUPED) × 5
//! variants, parsed, analysed and rendered as JSON. `cargo bench --bench analyze`

use divan::{Bencher, black_box};
use flagstone::analyze::{self, Request};
use flagstone::cli::render;

fn main() {
    divan::main();
}

const METRICS: usize = 200;
const VARIANTS: usize = 5;

/// A summary CSV with consistent sums, and the `--metric` specs that read it: each fourth
/// metric is binomial, a mean, a ratio, or a mean with a covariate.
fn summary() -> (String, Vec<String>) {
    let mut header = vec!["variation".to_owned(), "users".to_owned()];
    let mut specs = Vec::new();
    for m in 0..METRICS {
        let name = format!("m{m}");
        let columns: Vec<String> = match m % 4 {
            0 => {
                specs.push(format!("{name}=binomial"));
                vec![format!("{name}__sum")]
            }
            1 => {
                specs.push(format!("{name}=mean"));
                vec![format!("{name}__sum"), format!("{name}__sum_squares")]
            }
            2 => {
                specs.push(format!("{name}={name}n/{name}d"));
                vec![
                    format!("{name}n__sum"),
                    format!("{name}n__sum_squares"),
                    format!("{name}d__sum"),
                    format!("{name}d__sum_squares"),
                    format!("{name}n__x__{name}d__sum_product"),
                ]
            }
            _ => {
                specs.push(format!("{name}=mean,covariate={name}pre"));
                vec![
                    format!("{name}__sum"),
                    format!("{name}__sum_squares"),
                    format!("{name}pre__sum"),
                    format!("{name}pre__sum_squares"),
                    format!("{name}__x__{name}pre__sum_product"),
                ]
            }
        };
        header.extend(columns);
    }
    let mut text = header.join(",") + "\n";
    for v in 0..VARIANTS {
        let n = 20_000.0 + 37.0 * v as f64;
        let mut row = vec![format!("v{v}"), format!("{n}")];
        for m in 0..METRICS {
            // Means and spreads that differ by metric and, a little, by variant.
            let lift = 1.0 + 0.01 * v as f64 * ((m % 7) as f64 - 3.0) / 3.0;
            let mu = (1.0 + (m % 13) as f64) * lift;
            let var = 4.0 + (m % 5) as f64;
            let moments = |mu: f64, var: f64| [n * mu, n * (var + mu * mu)];
            match m % 4 {
                0 => {
                    let p = (0.05 + 0.01 * (m % 9) as f64) * lift;
                    row.push(format!("{}", (n * p).round()));
                }
                1 => row.extend(moments(mu, var).map(|x| format!("{x:.3}"))),
                _ => {
                    let (mu_b, var_b) = (2.0 + (m % 3) as f64, 1.0 + (m % 4) as f64);
                    let covariance = 0.5 * (var * var_b).sqrt();
                    row.extend(moments(mu, var).map(|x| format!("{x:.3}")));
                    row.extend(moments(mu_b, var_b).map(|x| format!("{x:.3}")));
                    row.push(format!("{:.3}", n * (covariance + mu * mu_b)));
                }
            }
        }
        text.push_str(&row.join(","));
        text.push('\n');
    }
    (text, specs)
}

#[divan::bench]
fn parse_analyze_render_200_metrics_5_variants(bencher: Bencher) {
    let (text, specs) = summary();
    let request = Request::new(analyze::parse_metrics(&specs).unwrap());
    bencher.bench(|| {
        let report = analyze::analyze_csv(black_box(text.as_bytes()), "summary.csv", &request)
            .expect("the generated summary is valid");
        serde_json::to_vec(&render::json::analyze(&report)).unwrap()
    });
}

/// The parts: parsing and analysing without rendering…
#[divan::bench]
fn parse_analyze_200_metrics_5_variants(bencher: Bencher) {
    let (text, specs) = summary();
    let request = Request::new(analyze::parse_metrics(&specs).unwrap());
    bencher.bench(|| {
        analyze::analyze_csv(black_box(text.as_bytes()), "summary.csv", &request)
            .expect("the generated summary is valid")
    });
}

/// …and rendering the JSON of an analysed summary.
#[divan::bench]
fn render_json_200_metrics_5_variants(bencher: Bencher) {
    let (text, specs) = summary();
    let request = Request::new(analyze::parse_metrics(&specs).unwrap());
    let report = analyze::analyze_csv(text.as_bytes(), "summary.csv", &request).unwrap();
    bencher.bench(|| serde_json::to_vec(&render::json::analyze(black_box(&report))).unwrap());
}
