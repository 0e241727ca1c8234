//! The JSON document of a report. Every number in it is finite: an unavailable result is
//! `{"unavailable": "<reason>"}`.

use serde_json::{Map, Value, json};

use super::{Call, Guardrail, Lift, MetricKind, Outcome, Report, Role, Test, Verdict};
use crate::stats::{Bayesian, Correction, Describe, Frequentist};

pub(super) fn report(r: &Report) -> Value {
    json!({
        "file": r.file,
        "control": r.control,
        "alpha": r.settings.alpha,
        "prior_stddev": r.settings.prior_stddev,
        "sequential_tuning": r.settings.sequential_tuning,
        "correction": correction(r.correction),
        "mde": r.mde,
        "variants": r.variants.iter().map(|v| json!({
            "name": v.name,
            "row": v.row,
            "users": v.users,
            "expected_share": v.expected_share,
        })).collect::<Vec<_>>(),
        "srm": {
            "p_value": r.srm.p_value,
            "threshold": super::SRM_THRESHOLD,
            "mismatch": r.srm.mismatch,
        },
        "metrics": r.metrics.iter().map(|m| {
            let mut metric = Map::new();
            metric.insert("name".into(), json!(m.spec.name));
            match &m.spec.kind {
                MetricKind::Binomial => { metric.insert("kind".into(), json!("binomial")); }
                MetricKind::Mean => { metric.insert("kind".into(), json!("mean")); }
                MetricKind::Ratio { numerator, denominator } => {
                    metric.insert("kind".into(), json!("ratio"));
                    metric.insert("numerator".into(), json!(numerator));
                    metric.insert("denominator".into(), json!(denominator));
                }
            }
            metric.insert("role".into(), json!(m.spec.role.label()));
            if let Role::Guardrail { max_regression } = m.spec.role {
                metric.insert("max_regression".into(), json!(max_regression));
            }
            metric.insert("inverse".into(), json!(m.spec.inverse));
            metric.insert("covariate".into(), json!(m.spec.covariate));
            metric.insert("results".into(), m.variants.iter().map(|v| {
                let mut result = json!({
                    "variant": v.variant,
                    "control": describe(&v.control),
                    "treatment": describe(&v.treatment),
                    "cuped_theta": v.theta,
                    "bayesian": lift(&v.bayesian, bayesian),
                    "frequentist": lift(&v.frequentist, test),
                    "sequential": lift(&v.sequential, frequentist),
                });
                if let Some(g) = &v.guardrail {
                    result["guardrail"] = match g {
                        Guardrail::Pass => json!({"status": "pass"}),
                        Guardrail::Fail => json!({"status": "fail"}),
                        Guardrail::Unknown(reason) => json!({"status": "unknown", "reason": reason}),
                    };
                }
                result
            }).collect());
            Value::Object(metric)
        }).collect::<Vec<_>>(),
        "decision": {
            "verdict": r.decision.verdict.label(),
            "variant": match &r.decision.verdict {
                Verdict::Ship { variant } => Some(variant),
                _ => None,
            },
            "more_units": match r.decision.verdict {
                Verdict::KeepRunning { more_units } => more_units,
                _ => None,
            },
            "summary": r.decision.summary,
            "variants": r.decision.variants.iter().map(|c| json!({
                "variant": c.variant,
                "call": c.call.label(),
                "more_units": match c.call {
                    Call::Inconclusive { more_units } => more_units,
                    _ => None,
                },
                "detail": c.detail,
            })).collect::<Vec<_>>(),
        },
    })
}

fn correction(c: Correction) -> &'static str {
    match c {
        Correction::None => "none",
        Correction::Holm => "holm",
        Correction::BenjaminiHochberg => "bh",
    }
}

fn describe(d: &Describe) -> Value {
    json!({"users": d.users, "mean": d.mean, "stddev": d.stddev})
}

fn lift<T>(lift: &Lift<T>, render: fn(&T) -> Value) -> Value {
    let one = |o: &Outcome<T>| match o {
        Ok(value) => render(value),
        Err(reason) => json!({"unavailable": reason}),
    };
    json!({"relative": one(&lift.relative), "absolute": one(&lift.absolute)})
}

fn bayesian(b: &Bayesian) -> Value {
    json!({
        "expected": b.expected,
        "ci": b.ci,
        "chance_to_win": b.chance_to_win,
        "risk": {"ship": b.risk_ship, "keep": b.risk_keep},
    })
}

fn frequentist(f: &Frequentist) -> Value {
    json!({"expected": f.expected, "ci": f.ci, "p_value": f.p_value})
}

fn test(t: &Test) -> Value {
    let mut value = frequentist(&t.result);
    if let Some(adjusted) = t.adjusted_p_value {
        value["adjusted_p_value"] = json!(adjusted);
    }
    value
}
