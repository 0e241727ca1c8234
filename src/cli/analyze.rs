//! `flagstone analyze [EXPERIMENT] --summary FILE.csv [--metric SPEC...]`: experiment results
//! from per-variant sufficient statistics (docs/analyze.md). The experiment file, when named,
//! gives the metrics, control, variants, intended split, alpha and MDE.
//! `flagstone analyze EXPERIMENT --exposures FILE... --events FILE...` computes that summary
//! from raw data first (docs/raw-data.md).
//!
//! Exit status: 0 when the analysis is done, whatever it decides; 2 on bad input.

use std::io::Write;
use std::path::PathBuf;

use crate::analyze::{self, Request, RequestError};
use crate::stats::{Correction, Settings};
use crate::summary::{self, Plan, events::Summary};

use super::render::{human, json, markdown, svg};
use super::{DirArg, Error, Exit, Format, experiment_repository, formats, hinted, write_atomic};

/// Analyse an experiment from a per-variant summary CSV, or from raw exposures and events:
/// Bayesian, frequentist and sequential results per metric and variant, the sample ratio
/// check, and a decision.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment's key (its path below experiments/ without .toml): its metrics,
    /// control, variants, intended split, alpha and MDE. Without it, give --metric.
    experiment: Option<String>,
    #[command(flatten)]
    dir: DirArg,
    /// The environment the summary comes from, for the intended split. Default: the one the
    /// experiment lists that comes last in the project's promotion order.
    #[arg(long, requires = "experiment")]
    env: Option<String>,
    /// The summary: one row per variant with `variation`, `users` and each metric's sums.
    #[arg(long, value_name = "FILE.csv", required_unless_present = "exposures")]
    summary: Option<PathBuf>,
    /// Exposure files (JSON Lines, as the recorder writes them): compute the summary from
    /// raw data, with --events. Needs EXPERIMENT, whose metric definitions say how.
    #[arg(
        long,
        value_name = "FILE",
        num_args = 1..,
        requires_all = ["experiment", "events"],
        conflicts_with = "summary"
    )]
    exposures: Vec<PathBuf>,
    /// Event files (JSON Lines: time, unit, event, properties), with --exposures.
    #[arg(long, value_name = "FILE", num_args = 1.., requires = "exposures")]
    events: Vec<PathBuf>,
    /// Also write the summary computed from raw data to this file, as `--summary` reads it.
    #[arg(long, value_name = "FILE.csv", requires = "exposures")]
    write_summary: Option<PathBuf>,
    /// A metric: NAME=binomial, NAME=mean or NAME=NUMERATOR/DENOMINATOR, then optionally
    /// `,inverse` (lower is better), `,covariate=NAME` (CUPED) or `,guardrail=MAX_REGRESSION`.
    /// The first that is not a guardrail is the primary metric.
    #[arg(
        long = "metric",
        value_name = "SPEC",
        required_unless_present = "experiment",
        conflicts_with = "experiment"
    )]
    metrics: Vec<String>,
    /// The control variant; default: the experiment's, or the summary's first row.
    #[arg(long)]
    control: Option<String>,
    /// The significance level; intervals are (1 − alpha) [default: the experiment's, or
    /// 0.05].
    #[arg(long, allow_negative_numbers = true)]
    alpha: Option<f64>,
    /// The standard deviation of a normal prior on the relative lift; default: a flat prior.
    #[arg(long, allow_negative_numbers = true)]
    prior_stddev: Option<f64>,
    /// The sequential test's tuning parameter, in units.
    #[arg(long, default_value_t = 5000.0, allow_negative_numbers = true)]
    sequential_tuning: f64,
    /// The smallest relative lift worth detecting (0.02 is 2%), for the "keep running"
    /// estimate; default: the experiment's, or the observed lift.
    #[arg(long, allow_negative_numbers = true)]
    mde: Option<f64>,
    /// The multiple-comparison correction across every metric × variant p-value.
    #[arg(long, value_enum, default_value_t = CorrectionArg::None)]
    correction: CorrectionArg,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Markdown]))]
    format: Format,
    /// Also write an SVG plot of every metric's relative lifts to this file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum CorrectionArg {
    None,
    /// Holm–Bonferroni (family-wise error rate).
    Holm,
    /// Benjamini–Hochberg (false discovery rate).
    Bh,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let repo;
    let mut raw = None;
    let base = match &args.experiment {
        Some(key) => {
            repo = match experiment_repository(&args.dir, args.format, out)? {
                Some(repo) => repo,
                None => return Ok(Exit::Failure),
            };
            let design = crate::experiment::design(&repo, key, args.env.as_deref())?;
            if !args.exposures.is_empty() {
                let plan = Plan::new(&repo, &design)?;
                raw = Some(from_raw_data(&plan, &args.exposures, &args.events)?);
            }
            Request::for_design(&design)
        }
        None => Request::new(
            analyze::parse_metrics(&args.metrics)
                .map_err(|e| format!("--metric `{}`: {}", e.spec, e.problem))?,
        ),
    };
    let request = Request {
        control: args.control.or(base.control),
        settings: Settings {
            alpha: args.alpha.unwrap_or(base.settings.alpha),
            prior_stddev: args.prior_stddev,
            sequential_tuning: args.sequential_tuning,
            ..Settings::default()
        },
        correction: match args.correction {
            CorrectionArg::None => Correction::None,
            CorrectionArg::Holm => Correction::Holm,
            CorrectionArg::Bh => Correction::BenjaminiHochberg,
        },
        mde: args.mde.or(base.mde),
        ..base
    };
    // The command line's advice names its options.
    request.validate().map_err(|e| match e {
        RequestError::NoPrimary => hinted(
            e,
            "the first --metric that is not a guardrail is the primary",
        ),
        e => e.into(),
    })?;
    let (bytes, name) = match (&raw, &args.summary) {
        (Some(summary), _) => {
            let csv = summary.csv();
            if let Some(path) = &args.write_summary {
                write_atomic(path, csv.as_bytes())?;
            }
            let name = args
                .write_summary
                .as_ref()
                .map_or_else(|| RAW_DATA.to_owned(), |p| p.display().to_string());
            (csv.into_bytes(), name)
        }
        (None, Some(path)) => (
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            path.display().to_string(),
        ),
        (None, None) => return Err("give --summary, or --exposures and --events".into()),
    };
    let report = analyze::analyze_csv(&bytes, &name, &request)?;
    if let Some(plot) = &args.plot {
        write_atomic(plot, svg::analyze(&report).as_bytes())?;
    }
    match args.format {
        Format::Json => {
            let document = json::AnalysisFrom {
                raw_data: raw.as_ref().map(json::raw_data),
                analysis: json::analyze(&report),
            };
            serde_json::to_writer_pretty(&mut *out, &document)?;
            writeln!(out)?;
        }
        Format::Human | Format::Github => {
            if let Some(summary) = &raw {
                human::raw_data(out, summary)?;
            }
            human::analyze(out, &report)?;
        }
        Format::Markdown => {
            if let Some(summary) = &raw {
                markdown::raw_data(out, summary)?;
            }
            markdown::analyze(out, &report)?;
        }
    }
    Ok(Exit::Success)
}

/// What the report names as its summary when it is computed and not written.
const RAW_DATA: &str = "the summary computed from raw data";

/// The summary computed from exposure and event files, streamed: the exposures one file at a
/// time, the events two at once.
fn from_raw_data(plan: &Plan, exposures: &[PathBuf], events: &[PathBuf]) -> Result<Summary, Error> {
    let open = |path: &PathBuf| {
        std::fs::File::open(path)
            .map(|f| std::io::BufReader::with_capacity(1 << 16, f))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let mut reading = summary::events::Exposures::new(plan);
    for path in exposures {
        reading.read(&path.display().to_string(), open(path)?)?;
    }
    let mut reading = reading.finish();
    reading.read_files(events)?;
    Ok(reading.summary())
}
