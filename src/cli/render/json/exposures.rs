//! `flagstone exposures --format json`: the summary, and the sessions of one variant, with
//! their fields in alphabetical order (docs/exposures-report.md lists them).

use serde::Serialize;

use crate::analyze::SRM_THRESHOLD;
use crate::exposures::{BundleSeen, FlagReport, Malformed, Report, Session, SrmOutcome};

/// The document of a summary.
#[derive(Serialize)]
pub struct Exposures<'a> {
    bundles: Vec<BundleView<'a>>,
    exposures: u64,
    files: u64,
    flags: Vec<FlagView<'a>>,
    /// Absent when the live bundles are not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    from_dead_bundles: Option<u64>,
    incomplete: &'a [String],
    malformed: u64,
    malformed_shown: Vec<MalformedView<'a>>,
}

#[derive(Serialize)]
struct BundleView<'a> {
    exposures: u64,
    first_seen: &'a str,
    found: bool,
    hash: &'a str,
    last_seen: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<bool>,
}

#[derive(Serialize)]
struct FlagView<'a> {
    environment: &'a str,
    flag: &'a str,
    latest_bundle: Option<&'a str>,
    multi_variant_units: MultiView,
    not_in_bundle: u64,
    splits: Vec<SplitView<'a>>,
    units: u64,
    unknown_variant: u64,
    variants: Vec<VariantView<'a>>,
}

#[derive(Serialize)]
struct MultiView {
    bundle_changed: u64,
    context_changed: u64,
    total: u64,
}

#[derive(Serialize)]
struct VariantView<'a> {
    exposures: u64,
    first_seen: &'a str,
    last_seen: &'a str,
    name: &'a str,
    sessions: u64,
    units: u64,
}

#[derive(Serialize)]
struct SplitView<'a> {
    arms: Vec<ArmView<'a>>,
    bundle: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mismatch: Option<bool>,
    outside_split: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    p_value: Option<f64>,
    rule: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<&'a str>,
    threshold: f64,
}

#[derive(Serialize)]
struct ArmView<'a> {
    expected_share: f64,
    units: u64,
    variant: &'a str,
}

#[derive(Serialize)]
struct MalformedView<'a> {
    file: &'a str,
    line: u64,
    reason: &'a str,
}

/// The summary's document.
pub fn exposures(report: &Report) -> Exposures<'_> {
    Exposures {
        bundles: report.bundles.iter().map(bundle).collect(),
        exposures: report.exposures,
        files: report.files,
        flags: report.flags.iter().map(flag).collect(),
        from_dead_bundles: report.live_known.then(|| report.from_dead_bundles()),
        incomplete: &report.incomplete,
        malformed: report.malformed,
        malformed_shown: report.malformed_shown.iter().map(malformed).collect(),
    }
}

fn bundle(b: &BundleSeen) -> BundleView<'_> {
    BundleView {
        exposures: b.exposures,
        first_seen: &b.first_seen,
        found: b.known,
        hash: &b.hash,
        last_seen: &b.last_seen,
        live: b.live,
    }
}

fn malformed(m: &Malformed) -> MalformedView<'_> {
    MalformedView {
        file: &m.file,
        line: m.line,
        reason: &m.reason,
    }
}

fn flag(f: &FlagReport) -> FlagView<'_> {
    FlagView {
        environment: &f.environment,
        flag: &f.flag,
        latest_bundle: f.latest_bundle.as_deref(),
        multi_variant_units: MultiView {
            bundle_changed: f.multi.bundle_changed,
            context_changed: f.multi.context_changed,
            total: f.multi.total(),
        },
        not_in_bundle: f.not_in_bundle,
        splits: f
            .splits
            .iter()
            .map(|s| {
                let (p_value, mismatch, skipped) = match &s.outcome {
                    SrmOutcome::Tested { p_value, mismatch } => {
                        (Some(*p_value), Some(*mismatch), None)
                    }
                    SrmOutcome::Skipped(why) => (None, None, Some(why.as_str())),
                };
                SplitView {
                    arms: s
                        .arms
                        .iter()
                        .map(|a| ArmView {
                            expected_share: a.expected_share,
                            units: a.units,
                            variant: &a.variant,
                        })
                        .collect(),
                    bundle: &s.bundle,
                    mismatch,
                    outside_split: s.outside_split,
                    p_value,
                    rule: &s.rule,
                    skipped,
                    threshold: SRM_THRESHOLD,
                }
            })
            .collect(),
        units: f.units,
        unknown_variant: f.unknown_variant,
        variants: f
            .variants
            .iter()
            .map(|v| VariantView {
                exposures: v.exposures,
                first_seen: &v.first_seen,
                last_seen: &v.last_seen,
                name: &v.name,
                sessions: v.sessions,
                units: v.units,
            })
            .collect(),
    }
}

/// The sessions' document: an array of `{first_seen, session, unit}`.
pub fn sessions(sessions: &[Session]) -> Vec<SessionView<'_>> {
    sessions
        .iter()
        .map(|s| SessionView {
            first_seen: &s.first_seen,
            session: &s.session,
            unit: &s.unit,
        })
        .collect()
}

#[derive(Serialize)]
pub struct SessionView<'a> {
    first_seen: &'a str,
    session: &'a str,
    unit: &'a str,
}
