//! `flagstone analyze --format json`: the document of a report, serialised straight from
//! borrowed views (no intermediate
//! `Value`: a large report renders in a few milliseconds). Every number in it is finite: an
//! unavailable result is `{"unavailable": "<reason>"}`.

use serde::Serialize;

use crate::analyze::{
    Call, Estimate, Estimator, Guardrail, Lift, MetricResult, Report, Role, SRM_THRESHOLD, Test,
    Verdict,
};
use crate::stats::{Bayesian, Correction, Describe, Frequentist};
use crate::summary::events::{EventCounts, ExposureCounts, Summary};

/// The `--format json` document: the analysis, and with raw data what it was computed from
/// (`raw_data`, docs/raw-data.md).
#[derive(Serialize)]
pub struct AnalysisFrom<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_data: Option<RawData<'a>>,
    #[serde(flatten)]
    pub analysis: Analysis<'a>,
}

/// The counts of the exposures and events a summary was computed from.
#[derive(Serialize)]
pub struct RawData<'a> {
    units: Vec<UnitsView<'a>>,
    exposures: &'a ExposureCounts,
    events: &'a EventCounts,
}

#[derive(Serialize)]
struct UnitsView<'a> {
    variant: &'a str,
    units: u64,
}

pub fn raw_data(summary: &Summary) -> RawData<'_> {
    RawData {
        units: summary
            .rows
            .iter()
            .map(|r| UnitsView {
                variant: &r.variation,
                units: r.users,
            })
            .collect(),
        exposures: &summary.exposures,
        events: &summary.events,
    }
}

/// The `--format json` document of a report; docs/analyze.md lists every field.
#[derive(Serialize)]
pub struct Analysis<'a> {
    file: &'a str,
    control: &'a str,
    alpha: f64,
    prior_stddev: Option<f64>,
    sequential_tuning: f64,
    correction: &'static str,
    mde: Option<f64>,
    variants: Vec<VariantView<'a>>,
    srm: SrmView,
    metrics: Vec<MetricView<'a>>,
    decision: DecisionView<'a>,
}

#[derive(Serialize)]
struct VariantView<'a> {
    name: &'a str,
    row: u64,
    users: u64,
    expected_share: f64,
}

#[derive(Serialize)]
struct SrmView {
    p_value: f64,
    threshold: f64,
    mismatch: bool,
}

#[derive(Serialize)]
struct MetricView<'a> {
    name: &'a str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    numerator: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    denominator: Option<&'a str>,
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_regression: Option<f64>,
    inverse: bool,
    covariate: Option<&'a str>,
    results: Vec<ResultView<'a>>,
}

#[derive(Serialize)]
struct ResultView<'a> {
    variant: &'a str,
    control: DescribeView,
    treatment: DescribeView,
    cuped_theta: Option<f64>,
    bayesian: LiftView<'a, BayesianView>,
    frequentist: LiftView<'a, TestView>,
    sequential: LiftView<'a, FrequentistView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    guardrail: Option<GuardrailView<'a>>,
}

#[derive(Serialize)]
struct DescribeView {
    users: u64,
    mean: f64,
    stddev: f64,
}

#[derive(Serialize)]
struct LiftView<'a, T> {
    relative: Or<'a, T>,
    absolute: Or<'a, T>,
}

/// A result, or why there is none.
#[derive(Serialize)]
#[serde(untagged)]
enum Or<'a, T> {
    Value(T),
    Unavailable { unavailable: &'a str },
}

#[derive(Serialize)]
struct BayesianView {
    expected: f64,
    ci: [f64; 2],
    chance_to_win: f64,
    risk: RiskView,
}

#[derive(Serialize)]
struct RiskView {
    ship: f64,
    keep: f64,
}

#[derive(Serialize)]
struct FrequentistView {
    expected: f64,
    ci: [f64; 2],
    p_value: f64,
}

#[derive(Serialize)]
struct TestView {
    expected: f64,
    ci: [f64; 2],
    p_value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    adjusted_p_value: Option<f64>,
}

#[derive(Serialize)]
struct GuardrailView<'a> {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct DecisionView<'a> {
    verdict: &'static str,
    variant: Option<&'a str>,
    more_units: Option<u64>,
    summary: &'a str,
    variants: Vec<CallView<'a>>,
}

#[derive(Serialize)]
struct CallView<'a> {
    variant: &'a str,
    call: &'static str,
    more_units: Option<u64>,
    detail: &'a str,
}

/// The document of a report, to serialise.
pub fn analyze(r: &Report) -> Analysis<'_> {
    Analysis {
        file: &r.file,
        control: &r.control,
        alpha: r.settings.alpha,
        prior_stddev: r.settings.prior_stddev,
        sequential_tuning: r.settings.sequential_tuning,
        correction: match r.correction {
            Correction::None => "none",
            Correction::Holm => "holm",
            Correction::BenjaminiHochberg => "bh",
        },
        mde: r.mde,
        variants: r
            .variants
            .iter()
            .map(|v| VariantView {
                name: &v.name,
                row: v.row,
                users: v.users,
                expected_share: v.expected_share,
            })
            .collect(),
        srm: SrmView {
            p_value: r.srm.p_value,
            threshold: SRM_THRESHOLD,
            mismatch: r.srm.mismatch,
        },
        metrics: r.metrics.iter().map(metric).collect(),
        decision: DecisionView {
            verdict: r.decision.verdict.label(),
            variant: match &r.decision.verdict {
                Verdict::Ship { variant } => Some(variant),
                _ => None,
            },
            more_units: match r.decision.verdict {
                Verdict::KeepRunning { more_units } => more_units,
                _ => None,
            },
            summary: &r.decision.summary,
            variants: r
                .decision
                .variants
                .iter()
                .map(|c| CallView {
                    variant: &c.variant,
                    call: c.call.label(),
                    more_units: match c.call {
                        Call::Inconclusive { more_units } => more_units,
                        _ => None,
                    },
                    detail: &c.detail,
                })
                .collect(),
        },
    }
}

fn metric(m: &MetricResult) -> MetricView<'_> {
    let spec = &m.spec;
    let (kind, numerator, denominator) = match &spec.kind {
        Estimator::Binomial => ("binomial", None, None),
        Estimator::Mean => ("mean", None, None),
        Estimator::Ratio {
            numerator,
            denominator,
        } => (
            "ratio",
            Some(numerator.as_str()),
            Some(denominator.as_str()),
        ),
    };
    MetricView {
        name: &spec.name,
        kind,
        numerator,
        denominator,
        role: spec.role.label(),
        max_regression: match spec.role {
            Role::Guardrail { max_regression } => Some(max_regression),
            _ => None,
        },
        inverse: spec.inverse,
        covariate: spec.covariate.as_deref(),
        results: m
            .variants
            .iter()
            .map(|v| ResultView {
                variant: &v.variant,
                control: describe(&v.control),
                treatment: describe(&v.treatment),
                cuped_theta: v.theta,
                bayesian: lift(&v.bayesian, bayesian),
                frequentist: lift(&v.frequentist, test),
                sequential: lift(&v.sequential, frequentist),
                guardrail: v.guardrail.as_ref().map(|g| match g {
                    Guardrail::Pass => GuardrailView {
                        status: "pass",
                        reason: None,
                    },
                    Guardrail::Fail => GuardrailView {
                        status: "fail",
                        reason: None,
                    },
                    Guardrail::Unknown(reason) => GuardrailView {
                        status: "unknown",
                        reason: Some(reason),
                    },
                }),
            })
            .collect(),
    }
}

fn describe(d: &Describe) -> DescribeView {
    DescribeView {
        users: d.users,
        mean: d.mean,
        stddev: d.stddev,
    }
}

fn lift<T, V>(lift: &Lift<T>, view: fn(&T) -> V) -> LiftView<'_, V> {
    LiftView {
        relative: or(&lift.relative, view),
        absolute: or(&lift.absolute, view),
    }
}

fn or<T, V>(outcome: &Estimate<T>, view: fn(&T) -> V) -> Or<'_, V> {
    match outcome {
        Ok(value) => Or::Value(view(value)),
        Err(reason) => Or::Unavailable {
            unavailable: reason,
        },
    }
}

fn bayesian(b: &Bayesian) -> BayesianView {
    BayesianView {
        expected: b.expected,
        ci: b.ci,
        chance_to_win: b.chance_to_win,
        risk: RiskView {
            ship: b.risk_ship,
            keep: b.risk_keep,
        },
    }
}

fn frequentist(f: &Frequentist) -> FrequentistView {
    FrequentistView {
        expected: f.expected,
        ci: f.ci,
        p_value: f.p_value,
    }
}

fn test(t: &Test) -> TestView {
    TestView {
        expected: t.result.expected,
        ci: t.result.ci,
        p_value: t.result.p_value,
        adjusted_p_value: t.adjusted_p_value,
    }
}
