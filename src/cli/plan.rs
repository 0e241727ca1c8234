//! `flagstone plan [EXPERIMENT]`: how many units and days an experiment needs to detect its
//! minimum detectable effect; without an experiment, the same from the command line's numbers.

use std::io::Write;

use serde::Serialize;

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

/// An arm and its share of the split, in percent.
#[derive(Serialize)]
struct Arm {
    variant: String,
    weight: f64,
}

/// A plan as printed.
#[derive(Serialize)]
struct Printed<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    experiment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metric: Option<&'a str>,
    /// "binomial" or "mean" (ratios are planned as means).
    kind: &'static str,
    baseline: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stddev: Option<f64>,
    mde: f64,
    /// The variant's value the MDE stands for.
    target: f64,
    alpha: f64,
    power: f64,
    arms: Vec<Arm>,
    daily_units: f64,
    /// The share of daily units the layer and holdout leave in the experiment.
    in_experiment: f64,
    #[serde(flatten)]
    plan: Plan,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    /// The last day of a run that starts on `start` and lasts `days`.
    #[serde(skip_serializing_if = "Option::is_none")]
    earliest_end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<String>,
    /// Whether `end` leaves the days needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    enough: Option<bool>,
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

fn from_repository(args: &Args, key: &str, out: &mut dyn Write) -> Result<Exit, Error> {
    let Some(repo) = experiment_repository(&args.dir, args.format, out)? else {
        return Ok(Exit::Failure);
    };
    let design = crate::experiment::design(&repo, key, args.env.as_deref())?;
    let plan = design.plan()?;
    print(&describe(&design, plan)?, args.format, out)?;
    Ok(Exit::Success)
}

fn describe<'a>(design: &'a Design<'a>, plan: Plan) -> Result<Printed<'a>, Error> {
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
    Ok(Printed {
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

fn from_arguments(args: &Args) -> Result<Printed<'static>, Error> {
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
    Ok(Printed {
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

fn print(printed: &Printed<'_>, format: Format, out: &mut dyn Write) -> Result<(), Error> {
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, printed)?;
        writeln!(out)?;
        return Ok(());
    }
    let p = printed;
    if let (Some(experiment), Some(flag), Some(env)) = (p.experiment, p.flag, p.environment) {
        writeln!(out, "experiment   {experiment} (flag {flag}, in {env})")?;
    }
    // Rates read best as percentages, means as numbers.
    let value = |x: f64| match p.kind {
        "binomial" => percent(x),
        _ => number(x),
    };
    let metric = p.metric.map_or(String::new(), |m| format!("{m}, "));
    match p.stddev {
        Some(stddev) => writeln!(
            out,
            "primary      {metric}a mean of {} (standard deviation {})",
            number(p.baseline),
            number(stddev)
        )?,
        None => writeln!(
            out,
            "primary      {metric}a rate of {}",
            percent(p.baseline)
        )?,
    }
    writeln!(
        out,
        "mde          {} relative: {} → {}",
        percent(p.mde),
        value(p.baseline),
        value(p.target)
    )?;
    writeln!(out, "alpha        {} (two-sided)", number(p.alpha))?;
    writeln!(out, "power        {}", number(p.power))?;
    let arms: Vec<String> = p
        .arms
        .iter()
        .map(|arm| format!("{} {}%", arm.variant, number(arm.weight)))
        .collect();
    writeln!(out, "arms         {}", arms.join(", "))?;
    writeln!(out, "per variant  {} units", p.plan.units_per_variant)?;
    writeln!(out, "total        {} units", p.plan.total_units)?;
    if p.in_experiment < 1.0 {
        writeln!(
            out,
            "traffic      {} units a day: {} of {} reaching the split, after layer and holdout",
            number(p.plan.daily_in_experiment),
            percent(p.in_experiment),
            number(p.daily_units)
        )?;
    } else {
        writeln!(out, "traffic      {} units a day", number(p.daily_units))?;
    }
    writeln!(
        out,
        "duration     {} day{}",
        p.plan.days,
        if p.plan.days == 1 { "" } else { "s" }
    )?;
    if let (Some(start), Some(earliest)) = (&p.start, &p.earliest_end) {
        writeln!(
            out,
            "runs         from {start} to {earliest} at the earliest"
        )?;
    }
    match (&p.end, p.enough) {
        (Some(end), Some(true)) => writeln!(out, "end          {end}: enough time")?,
        (Some(end), Some(false)) => writeln!(
            out,
            "end          {end}: too early to detect the MDE; move it to {} or later",
            p.earliest_end.as_deref().unwrap_or_default()
        )?,
        _ => {}
    }
    Ok(())
}

/// A fraction as a percentage, rounded to 4 significant decimals: 0.3255 → "32.55%".
fn percent(fraction: f64) -> String {
    format!("{}%", number(fraction * 100.0))
}

/// A number without float noise: at most 6 decimals, trailing zeros dropped.
fn number(x: f64) -> String {
    let rounded = (x * 1e6).round() / 1e6;
    format!("{rounded}")
}
