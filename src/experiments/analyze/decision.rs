//! The decision: ship a variant, don't ship, or keep running (and for about how long).
//! docs/analyze.md states the rule.

use super::{Guardrail, MetricResult, Request, Role, Srm, Variant};
use crate::format::{about, count, p_is, signed_percent, signed_percent_interval};
use crate::stats::dist::normal_quantile;

/// The power the "keep running" estimate plans for.
pub const POWER: f64 = 0.8;

/// Beyond this many units an estimate means "never", not a plan.
const MAX_UNITS: f64 = 1e15;

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Ship {
        variant: String,
    },
    DontShip,
    /// `more_units`: about how many more units each variant needs, when it can be estimated.
    KeepRunning {
        more_units: Option<u64>,
    },
}

/// What the primary metric and the guardrails say about one variant.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    /// Significantly better on the primary metric, and no guardrail fails.
    Wins,
    /// Significantly worse on the primary metric.
    Loses,
    /// Some guardrail fails.
    FailsGuardrail,
    /// Not significant, with enough units to detect the effect sought: no such effect.
    Flat,
    /// Not decided yet; `more_units` as in [`Verdict::KeepRunning`].
    Inconclusive { more_units: Option<u64> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct VariantCall {
    pub variant: String,
    pub call: Call,
    /// Why, in words.
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub verdict: Verdict,
    /// The verdict in one sentence.
    pub summary: String,
    /// One per variant other than control.
    pub variants: Vec<VariantCall>,
}

impl Verdict {
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Ship { .. } => "ship",
            Verdict::DontShip => "dont_ship",
            Verdict::KeepRunning { .. } => "keep_running",
        }
    }
}

impl Call {
    pub fn label(&self) -> &'static str {
        match self {
            Call::Wins => "wins",
            Call::Loses => "loses",
            Call::FailsGuardrail => "fails_guardrail",
            Call::Flat => "flat",
            Call::Inconclusive { .. } => "inconclusive",
        }
    }
}

pub(super) fn decide(
    metrics: &[MetricResult],
    variants: &[Variant],
    srm: Srm,
    request: &Request,
) -> Decision {
    let alpha = request.settings.alpha;
    let primary = metrics
        .iter()
        .find(|m| m.spec.role == Role::Primary)
        .expect("a validated request has a primary metric");
    let name = &primary.spec.name;
    let mut calls = Vec::with_capacity(variants.len() - 1);
    // The best winner so far, by its lift in the good direction.
    let mut best: Option<(usize, f64)> = None;
    for (i, variant) in variants[1..].iter().enumerate() {
        let result = &primary.variants[i];
        let mut failing = Vec::new();
        let mut unknown = Vec::new();
        for metric in metrics {
            let Role::Guardrail { max_regression } = metric.spec.role else {
                continue;
            };
            let tolerated = if metric.spec.inverse {
                max_regression
            } else {
                -max_regression
            };
            match (
                &metric.variants[i].guardrail,
                &metric.variants[i].frequentist.relative,
            ) {
                (Some(Guardrail::Fail), Ok(test)) => failing.push(format!(
                    "`{}` {} {} is beyond the tolerated {}",
                    metric.spec.name,
                    signed_percent(test.result.expected),
                    signed_percent_interval(test.result.ci),
                    signed_percent(tolerated)
                )),
                (Some(Guardrail::Unknown(reason)), _) => {
                    unknown.push(format!("`{}`: {reason}", metric.spec.name));
                }
                _ => {}
            }
        }
        let (call, detail) = match &result.frequentist.relative {
            _ if !failing.is_empty() => (
                Call::FailsGuardrail,
                format!("fails guardrail {}", failing.join("; ")),
            ),
            Err(reason) => (
                Call::Inconclusive { more_units: None },
                format!("no relative result on `{name}`: {reason}"),
            ),
            Ok(test) => {
                let f = &test.result;
                let p = test.adjusted_p_value.unwrap_or(f.p_value);
                let p_label = if test.adjusted_p_value.is_some() {
                    "adjusted p"
                } else {
                    "p"
                };
                let good = if primary.spec.inverse {
                    f.expected < 0.0
                } else {
                    f.expected > 0.0
                };
                let lift = format!(
                    "`{name}` {} {}, {}",
                    signed_percent(f.expected),
                    signed_percent_interval(f.ci),
                    p_is(p_label, p)
                );
                if p < alpha && !good {
                    (Call::Loses, format!("worse at alpha {alpha}: {lift}"))
                } else if p < alpha && !unknown.is_empty() {
                    (
                        Call::Inconclusive { more_units: None },
                        format!(
                            "better at alpha {alpha} ({lift}), but a guardrail cannot be judged: {}",
                            unknown.join("; ")
                        ),
                    )
                } else if p < alpha {
                    let score = f.expected.abs();
                    if best.is_none_or(|(_, s)| score > s) {
                        best = Some((i, score));
                    }
                    (Call::Wins, format!("better at alpha {alpha}: {lift}"))
                } else {
                    estimate(f.ci, f.expected, variant.users, request, &lift)
                }
            }
        };
        calls.push(VariantCall {
            variant: variant.name.clone(),
            call,
            detail,
        });
    }
    let (verdict, summary) = if srm.mismatch {
        (
            Verdict::DontShip,
            format!(
                "Don't ship: sample ratio mismatch ({} < {}). The variants did not get their intended shares of units, so no result can be trusted; find the cause (assignment, exposure logging, bot filtering) and restart.",
                p_is("p", srm.p_value),
                super::SRM_THRESHOLD
            ),
        )
    } else if let Some((i, _)) = best {
        let variant = calls[i].variant.clone();
        let summary = format!(
            "Ship \"{variant}\": {}; no guardrail fails.",
            calls[i].detail
        );
        (Verdict::Ship { variant }, summary)
    } else if calls
        .iter()
        .all(|c| matches!(c.call, Call::Loses | Call::FailsGuardrail | Call::Flat))
    {
        (
            Verdict::DontShip,
            format!(
                "Don't ship: no variant is better than control \"{}\" on `{name}` without failing a guardrail.",
                variants[0].name
            ),
        )
    } else {
        let more_units = calls
            .iter()
            .filter_map(|c| match c.call {
                Call::Inconclusive { more_units } => more_units,
                _ => None,
            })
            .max();
        let summary = match more_units {
            Some(n) => format!(
                "Keep running: no variant is significantly better on `{name}` yet; about {} more units per variant give {:.0}% power to detect {} at alpha {alpha}.",
                count(about(n)),
                POWER * 100.0,
                match request.mde {
                    Some(mde) => format!("a lift of {}", signed_percent(mde)),
                    None => "the observed lift".to_owned(),
                }
            ),
            None => format!(
                "Keep running: no variant is significantly better on `{name}` yet, and how long it needs cannot be estimated (see each variant)."
            ),
        };
        (Verdict::KeepRunning { more_units }, summary)
    };
    Decision {
        verdict,
        summary,
        variants: calls,
    }
}

/// For a variant that is not significant yet: how many more units per variant would detect
/// the effect sought (the MDE, or else the observed lift) with [`POWER`] at `alpha`, from
/// the current standard error, which shrinks as 1/√n.
fn estimate(
    ci: [f64; 2],
    expected: f64,
    users: u64,
    request: &Request,
    lift: &str,
) -> (Call, String) {
    let alpha = request.settings.alpha;
    let z_alpha = normal_quantile(1.0 - alpha / 2.0);
    let z_power = normal_quantile(POWER);
    let standard_error = (ci[1] - ci[0]) / (2.0 * z_alpha);
    let effect = request.mde.unwrap_or(expected.abs());
    let sought = match request.mde {
        Some(_) => format!("a lift of {}", signed_percent(effect)),
        None => format!("the observed lift of {}", signed_percent(expected)),
    };
    let not_significant = format!("not significant at alpha {alpha}: {lift}");
    if !(effect > 0.0 && standard_error > 0.0) {
        return (
            Call::Inconclusive { more_units: None },
            format!(
                "{not_significant}; the observed lift is zero, so no number of units can be estimated (give a minimum detectable effect)"
            ),
        );
    }
    let n = users as f64;
    let needed = n * ((z_alpha + z_power) * standard_error / effect).powi(2);
    if !(needed.is_finite() && needed < MAX_UNITS) {
        return (
            Call::Inconclusive { more_units: None },
            format!("{not_significant}; detecting {sought} would take more than 10^15 units"),
        );
    }
    if needed <= n {
        return (
            Call::Flat,
            format!(
                "{not_significant}, with enough units for {:.0}% power to detect {sought}",
                POWER * 100.0
            ),
        );
    }
    let more = (needed - n).ceil() as u64;
    (
        Call::Inconclusive {
            more_units: Some(more),
        },
        format!(
            "{not_significant}; about {} more units to detect {sought}",
            count(about(more))
        ),
    )
}
