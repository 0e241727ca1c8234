//! `flagstone plan [EXPERIMENT]`: how many units and days an experiment needs to detect its
//! minimum detectable effect; without an experiment, the same from the command line's numbers.

use std::io::Write;

use super::render::human;
use super::render::json::{Arm, Planned};
use super::{DirArg, Error, Exit, Format, experiment_repository, formats};
use crate::experiment::{DEFAULT_ALPHA, DEFAULT_POWER, Design, Plan};
use crate::literal::format_date;
use crate::stats::power::{self, Baseline};

/// Plan an experiment: the units per variant and the days it needs to detect its minimum
/// detectable effect (docs/experiments.md).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment's key (its path below experiments/ without .toml). Omit it to plan
    /// from --baseline, --mde and --daily-units instead.
    experiment: Option<String>,
    #[command(flatten)]
    dir: DirArg,
    /// The environment to plan for. Default: the one the experiment lists that comes last in
    /// the project's promotion order.
    #[arg(long, requires = "experiment")]
    env: Option<String>,
    /// The control's expected value: a conversion rate in (0, 1), or a mean with --stddev.
    #[arg(long, conflicts_with = "experiment", allow_negative_numbers = true)]
    baseline: Option<f64>,
    /// The minimum detectable effect, relative: 0.05 for 5%.
    #[arg(long, conflicts_with = "experiment", allow_negative_numbers = true)]
    mde: Option<f64>,
    /// The standard deviation per unit of a mean metric.
    #[arg(long, conflicts_with = "experiment", allow_negative_numbers = true)]
    stddev: Option<f64>,
    /// The two-sided significance level [default: 0.05].
    #[arg(long, conflicts_with = "experiment", allow_negative_numbers = true)]
    alpha: Option<f64>,
    /// The probability of detecting the MDE [default: 0.8].
    #[arg(long, conflicts_with = "experiment", allow_negative_numbers = true)]
    power: Option<f64>,
    /// Units entering the experiment per day.
    #[arg(long, conflicts_with = "experiment", allow_negative_numbers = true)]
    daily_units: Option<f64>,
    /// How many variants, control included, split the units equally [default: 2].
    #[arg(long, conflicts_with = "experiment")]
    variants: Option<u32>,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json]))]
    format: Format,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    match &args.experiment {
        Some(key) => from_repository(&args, key, out),
        None => {
            let printed = from_arguments(&args)?;
            print(&printed, args.format, out)?;
            Ok(Exit::Success)
        }
    }
}

fn print(planned: &Planned<'_>, format: Format, out: &mut dyn Write) -> Result<(), Error> {
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, planned)?;
        writeln!(out)?;
    } else {
        human::plan(out, planned)?;
    }
    Ok(())
}

fn from_repository(args: &Args, key: &str, out: &mut dyn Write) -> Result<Exit, Error> {
    let Some(repo) = experiment_repository(&args.dir, args.format, out)? else {
        return Ok(Exit::Failure);
    };
    let design = crate::experiment::design(&repo, key, args.env.as_deref())?;
    let plan = design.plan()?;
    print(&describe(&design, plan)?, args.format, out)?;
    Ok(Exit::Success)
}

fn describe<'a>(design: &'a Design<'a>, plan: Plan) -> Result<Planned<'a>, Error> {
    let experiment = design.experiment;
    let (baseline, stddev, kind) = match design.baseline()? {
        Baseline::Rate(p) => (p, None, "binomial"),
        Baseline::Mean { mean, stddev } => (mean, Some(stddev), "mean"),
    };
    let start = crate::experiment::day(&experiment.start.value);
    let end = experiment
        .end
        .as_ref()
        .and_then(|e| crate::experiment::day(&e.value));
    let earliest = start.map(|s| s + plan.days as i64 - 1);
    Ok(Planned {
        experiment: Some(design.key),
        flag: Some(design.flag),
        environment: Some(design.environment),
        metric: Some(experiment.primary.name.as_str()),
        kind,
        baseline,
        stddev,
        mde: design.mde,
        target: baseline * (1.0 + design.mde),
        alpha: design.alpha,
        power: design.power,
        arms: design
            .weights
            .iter()
            .map(|&(variant, weight)| Arm {
                variant: variant.to_owned(),
                weight,
            })
            .collect(),
        daily_units: design.daily_units,
        in_experiment: design.in_experiment,
        plan,
        start: start.map(format_date),
        earliest_end: earliest.map(format_date),
        end: end.map(format_date),
        enough: end.zip(earliest).map(|(end, earliest)| earliest <= end),
    })
}

fn from_arguments(args: &Args) -> Result<Planned<'static>, Error> {
    let missing: Vec<&str> = [
        ("--baseline", args.baseline.is_none()),
        ("--mde", args.mde.is_none()),
        ("--daily-units", args.daily_units.is_none()),
    ]
    .into_iter()
    .filter(|(_, missing)| *missing)
    .map(|(name, _)| name)
    .collect();
    if !missing.is_empty() {
        return Err(format!(
            "give an EXPERIMENT, or plan from numbers with {} (missing: {})",
            "--baseline, --mde and --daily-units",
            missing.join(", ")
        )
        .into());
    }
    let (baseline, mde, daily_units) = (
        args.baseline.unwrap_or_default(),
        args.mde.unwrap_or_default(),
        args.daily_units.unwrap_or_default(),
    );
    let variants = args.variants.unwrap_or(2);
    if variants < 2 {
        return Err(format!(
            "--variants counts control and at least one variant: 2 or more, not {variants}"
        )
        .into());
    }
    let (alpha, power_) = (
        args.alpha.unwrap_or(DEFAULT_ALPHA),
        args.power.unwrap_or(DEFAULT_POWER),
    );
    let metric = match args.stddev {
        Some(stddev) => Baseline::Mean {
            mean: baseline,
            stddev,
        },
        None => Baseline::Rate(baseline),
    };
    let n = power::units_per_variant(metric, mde, alpha, power_)?;
    let share = 1.0 / f64::from(variants);
    let shares = vec![share; variants as usize];
    let days = power::days_needed(n, daily_units, 1.0, &shares)?;
    let arms = (0..variants)
        .map(|i| Arm {
            variant: match i {
                0 => "control".to_owned(),
                _ => format!("variant-{i}"),
            },
            weight: share * 100.0,
        })
        .collect();
    Ok(Planned {
        experiment: None,
        flag: None,
        environment: None,
        metric: None,
        kind: if args.stddev.is_some() {
            "mean"
        } else {
            "binomial"
        },
        baseline,
        stddev: args.stddev,
        mde,
        target: baseline * (1.0 + mde),
        alpha,
        power: power_,
        arms,
        daily_units,
        in_experiment: 1.0,
        plan: Plan {
            units_per_variant: n,
            total_units: n.saturating_mul(u64::from(variants)),
            daily_in_experiment: daily_units,
            days,
        },
        start: None,
        earliest_end: None,
        end: None,
        enough: None,
    })
}
