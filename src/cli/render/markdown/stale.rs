//! `flagstone stale --format markdown`: stale flags as a table.

use std::io::Write;

use super::{code, text};
use crate::cli::render::human::stale::{count, detail, experiments, heading, note, why};
use crate::stale::{ExperimentReason, Reason, Report};

/// Stale flags as a job summary table.
pub fn stale(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    writeln!(out, "### flagstone stale: {}", count(report))?;
    if !report.flags.is_empty() {
        writeln!(
            out,
            "\n| flag | kind | owners | stale because |\n|---|---|---|---|"
        )?;
        for flag in &report.flags {
            let reasons: Vec<String> = flag
                .reasons
                .iter()
                .map(|reason| match reason {
                    Reason::Expired => detail(flag, *reason),
                    _ => format!("{}: {}", reason.label(), detail(flag, *reason)),
                })
                .collect();
            writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                flag.flag,
                flag.kind.as_str(),
                flag.owners.join(" "),
                reasons
                    .iter()
                    .map(|r| text(r))
                    .collect::<Vec<_>>()
                    .join("<br>")
            )?;
        }
    }
    for reason in ExperimentReason::ALL {
        let experiments = experiments(report, reason);
        if experiments.is_empty() {
            continue;
        }
        writeln!(
            out,
            "\n**{}**\n\n| experiment | owners | why |\n|---|---|---|",
            heading(reason)
        )?;
        for experiment in experiments {
            writeln!(
                out,
                "| {} | {} | {} |",
                code(&experiment.experiment),
                text(&experiment.owners.join(" ")),
                text(&why(experiment))
            )?;
        }
    }
    if let Some(note) = note(report.history) {
        writeln!(out, "\n_{}._", note)?;
    }
    Ok(())
}
