//! `flagstone plan`: a plan as aligned lines.

use std::io::{self, Write};

use crate::cli::render::json::Planned;
use crate::format::{decimal, percent, plural};

/// A plan as aligned lines: the design, the units and days it needs, and whether the end
/// date leaves them.
pub fn plan(out: &mut dyn Write, p: &Planned<'_>) -> io::Result<()> {
    if let (Some(experiment), Some(flag), Some(env)) = (p.experiment, p.flag, p.environment) {
        writeln!(out, "experiment   {experiment} (flag {flag}, in {env})")?;
    }
    // Rates read best as percentages, means as numbers.
    let value = |x: f64| match p.kind {
        "binomial" => percent(x),
        _ => decimal(x),
    };
    let metric = p.metric.map_or(String::new(), |m| format!("{m}, "));
    match p.stddev {
        Some(stddev) => writeln!(
            out,
            "primary      {metric}a mean of {} (standard deviation {})",
            decimal(p.baseline),
            decimal(stddev)
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
    writeln!(out, "alpha        {} (two-sided)", decimal(p.alpha))?;
    writeln!(out, "power        {}", decimal(p.power))?;
    let arms: Vec<String> = p
        .arms
        .iter()
        .map(|arm| format!("{} {}%", arm.variant, decimal(arm.weight)))
        .collect();
    writeln!(out, "arms         {}", arms.join(", "))?;
    writeln!(out, "per variant  {} units", p.plan.units_per_variant)?;
    writeln!(out, "total        {} units", p.plan.total_units)?;
    if p.in_experiment < 1.0 {
        writeln!(
            out,
            "traffic      {} units a day: {} of {} reaching the split, after layer and holdout",
            decimal(p.plan.daily_in_experiment),
            percent(p.in_experiment),
            decimal(p.daily_units)
        )?;
    } else {
        writeln!(out, "traffic      {} units a day", decimal(p.daily_units))?;
    }
    writeln!(out, "duration     {}", plural(p.plan.days, "day"))?;
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
