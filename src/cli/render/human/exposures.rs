//! `flagstone exposures`: per flag and environment, each variant's units and sessions, the
//! units that saw more than one variant, the split checks; then the bundles and the lines
//! that could not be read. The words here are shared with the Markdown renderer.

use std::io::Write;

use crate::analyze::SRM_THRESHOLD;
use crate::exposures::{FlagReport, Report, Session, SplitCheck, SrmOutcome};
use crate::format::{count, fixed, p_is, percent, plural};

use super::analyze::columns;

/// A bundle hash as shown: its first 12 digits, as `eval` shows them.
pub(in crate::cli::render) fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The first line: how much was read.
pub(in crate::cli::render) fn totals(report: &Report) -> String {
    let mut line = format!(
        "{} from {}",
        plural_count(report.exposures, "exposure"),
        plural(report.files, "file")
    );
    if report.malformed > 0 {
        line += &format!("; {}", plural_count(report.malformed, "malformed line"));
    }
    if !report.incomplete.is_empty() {
        line += &format!(
            "; {} still being written",
            plural(report.incomplete.len(), "last line")
        );
    }
    line
}

pub(in crate::cli::render) fn plural_count(n: u64, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", count(n))
}

/// The variants' table: headers first.
pub(in crate::cli::render) fn variant_rows(flag: &FlagReport) -> Vec<Vec<String>> {
    let mut rows = vec![
        [
            "variant",
            "units",
            "sessions",
            "exposures",
            "first seen",
            "last seen",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for v in &flag.variants {
        rows.push(vec![
            v.name.clone(),
            count(v.units),
            count(v.sessions),
            count(v.exposures),
            v.first_seen.clone(),
            v.last_seen.clone(),
        ]);
    }
    rows
}

/// The units that saw more than one variant, and why; `None` when there are none.
pub(in crate::cli::render) fn multi_variant(flag: &FlagReport) -> Option<String> {
    let multi = flag.multi;
    (multi.total() > 0).then(|| {
        format!(
            "{} saw more than one variant: {} context changed within a bundle, {} bundle changed",
            plural_count(multi.total(), "unit"),
            count(multi.context_changed),
            count(multi.bundle_changed)
        )
    })
}

/// Exposures the flag's bundle cannot explain; `None` when there are none.
pub(in crate::cli::render) fn unexplained(flag: &FlagReport) -> Option<String> {
    let mut parts = Vec::new();
    if flag.not_in_bundle > 0 {
        parts.push(format!(
            "{} from a bundle without this flag",
            plural_count(flag.not_in_bundle, "exposure")
        ));
    }
    if flag.unknown_variant > 0 {
        parts.push(format!(
            "{} to a variant the bundle does not have",
            plural_count(flag.unknown_variant, "exposure")
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// One split check in a line: the rule, the bundle, units against intended shares, the verdict.
pub(in crate::cli::render) fn split_line(split: &SplitCheck) -> String {
    let total: u64 = split.arms.iter().map(|a| a.units).sum();
    let arms: Vec<String> = split
        .arms
        .iter()
        .map(|a| {
            let observed = if total == 0 {
                0.0
            } else {
                a.units as f64 / total as f64
            };
            format!(
                "{} {} ({}% of {} intended)",
                a.variant,
                count(a.units),
                fixed(observed * 100.0, 1),
                percent(a.expected_share)
            )
        })
        .collect();
    let mut line = format!(
        "split of rule \"{}\" in bundle {}: {}",
        split.rule,
        short(&split.bundle),
        arms.join(", ")
    );
    if split.outside_split > 0 {
        line += &format!(
            ", {} outside the split",
            plural_count(split.outside_split, "unit")
        );
    }
    line += &match &split.outcome {
        SrmOutcome::Tested {
            p_value,
            mismatch: true,
        } => format!(
            ": SAMPLE RATIO MISMATCH ({}, below {SRM_THRESHOLD})",
            p_is("p", *p_value)
        ),
        SrmOutcome::Tested { p_value, .. } => format!(": no mismatch ({})", p_is("p", *p_value)),
        SrmOutcome::Skipped(why) => format!(": not checked, {why}"),
    };
    line
}

/// The heading of the malformed lines' list, saying when it shows only the first.
pub(in crate::cli::render) fn malformed_heading(report: &Report) -> String {
    let heading = plural_count(report.malformed, "malformed line");
    if report.malformed > report.malformed_shown.len() as u64 {
        format!(
            "{heading} (the first {} shown)",
            report.malformed_shown.len()
        )
    } else {
        heading
    }
}

/// Where a bundle stands in the published directory, in words.
pub(in crate::cli::render) fn bundle_state(known: bool, live: Option<bool>) -> &'static str {
    match (live, known) {
        (Some(true), _) => "live",
        (_, true) => "not live",
        (_, false) => "not live, not found",
    }
}

/// The report as text.
pub fn exposures(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    writeln!(out, "{}", totals(report))?;
    for flag in &report.flags {
        writeln!(out)?;
        let latest = flag
            .latest_bundle
            .as_deref()
            .map(|b| format!("; latest bundle {}", short(b)))
            .unwrap_or_default();
        writeln!(
            out,
            "{}  {}  ({}{latest})",
            flag.flag,
            flag.environment,
            plural_count(flag.units, "unit")
        )?;
        columns(out, &variant_rows(flag), "  ")?;
        for line in multi_variant(flag).into_iter().chain(unexplained(flag)) {
            writeln!(out, "  {line}")?;
        }
        for split in &flag.splits {
            writeln!(out, "  {}", split_line(split))?;
        }
    }
    if !report.bundles.is_empty() {
        writeln!(out)?;
        writeln!(out, "bundles")?;
        let mut header = vec!["bundle", "exposures", "first seen", "last seen"];
        if report.live_known {
            header.push("state");
        }
        let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
        for b in &report.bundles {
            let mut row = vec![
                short(&b.hash).to_owned(),
                count(b.exposures),
                b.first_seen.clone(),
                b.last_seen.clone(),
            ];
            if report.live_known {
                row.push(bundle_state(b.known, b.live).to_owned());
            }
            rows.push(row);
        }
        columns(out, &rows, "  ")?;
        if report.live_known {
            writeln!(
                out,
                "exposures from bundles not live: {}",
                count(report.from_dead_bundles())
            )?;
        }
    }
    if report.malformed > 0 {
        writeln!(out)?;
        writeln!(out, "{}", malformed_heading(report))?;
        for m in &report.malformed_shown {
            writeln!(out, "  {}:{}: {}", m.file, m.line, m.reason)?;
        }
    }
    for line in &report.incomplete {
        writeln!(
            out,
            "{line}: incomplete last line, still being written (skipped)"
        )?;
    }
    Ok(())
}

/// The session ids, one a line.
pub fn sessions(out: &mut dyn Write, sessions: &[Session]) -> std::io::Result<()> {
    for s in sessions {
        writeln!(out, "{}", s.session)?;
    }
    Ok(())
}
