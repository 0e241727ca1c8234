//! Running a repository's tests (`tests/*.toml`) against its freshly built bundles.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::check::Checked;
use crate::eval::{Evaluator, RuleTrace};
use crate::model::{Distribution, Payload, Spanned, Table, TestCase, Timestamp};

/// How many units a distribution evaluates when it does not say.
pub const DEFAULT_UNITS: u32 = 10_000;
/// A distribution's default tolerance, in percentage points.
pub const DEFAULT_TOLERANCE: f64 = 1.0;

/// The outcome of one case or distribution.
#[derive(Debug, Serialize)]
pub struct CaseResult {
    /// The test file, repo-relative.
    pub file: String,
    /// 1-based line of the case or distribution.
    pub line: usize,
    pub name: String,
    pub passed: bool,
    /// Every comparison that failed.
    pub failures: Vec<Failure>,
}

/// One expectation that did not hold.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub flag: String,
    /// What was expected and what happened, as text ("variant on", "value {...}", "25% on").
    pub expected: String,
    pub actual: String,
    /// For a case: what every rule of the flag did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<RuleTrace>,
    /// Why the variant was served, as the evaluator reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Runs every test of a checked repository. `now_millis` is the time for cases and
/// distributions that do not set `now`.
pub fn run(checked: Checked<'_>, now_millis: i64) -> Vec<CaseResult> {
    let repo = checked.repo();
    let evaluators: BTreeMap<String, Evaluator> = crate::build::all(checked)
        .into_iter()
        .map(|bundle| {
            let env = bundle.environment.clone();
            let evaluator = Evaluator::from_bundle(bundle).expect("built bundles load");
            (env, evaluator)
        })
        .collect();
    let mut outcomes = Vec::new();
    for loaded in &repo.tests {
        let file = &repo.files[loaded.file];
        let tests = loaded.doc.as_ref().expect("checked test files load");
        let outcome =
            |span: std::ops::Range<usize>, name: &str, failures: Vec<Failure>| CaseResult {
                file: file.path.clone(),
                line: crate::diag::LineCol::of(&file.text, span.start).line,
                name: name.to_owned(),
                passed: failures.is_empty(),
                failures,
            };
        for case in &tests.cases {
            let failures = run_case(&evaluators[case.env.as_str()], case, now_millis);
            outcomes.push(outcome(case.span(), &case.name, failures));
        }
        for d in &tests.distributions {
            let failures = run_distribution(&evaluators[d.env.as_str()], d, now_millis);
            outcomes.push(outcome(d.span(), &d.name, failures));
        }
    }
    outcomes
}

fn context(context: &Option<Spanned<Table<Spanned<Payload>>>>) -> Value {
    let entries = context.iter().flat_map(|c| c.iter());
    Value::Object(
        entries
            .map(|(k, v)| (k.as_str().to_owned(), v.0.clone()))
            .collect(),
    )
}

fn time(now: &Option<Spanned<Timestamp>>, default: i64) -> i64 {
    now.as_ref().and_then(|t| t.millis()).unwrap_or(default)
}

fn run_case(evaluator: &Evaluator, case: &TestCase, default_now: i64) -> Vec<Failure> {
    let context = context(&case.context);
    let now = time(&case.now, default_now);
    let mut failures = Vec::new();
    let flags = case.variants.keys().chain(case.values.keys());
    let mut seen = std::collections::BTreeSet::new();
    for flag in flags.filter(|f| seen.insert(f.as_str())) {
        let explanation = evaluator
            .explain(flag, &context, now)
            .expect("checked tests name existing flags");
        let result = &explanation.evaluation;
        let mut mismatch = |expected: String, actual: String| {
            failures.push(Failure {
                flag: flag.as_str().to_owned(),
                expected,
                actual,
                trace: explanation.trace.clone(),
                reason: Some(result.reason.to_string()),
            })
        };
        if let Some(variant) = case.variants.get(flag)
            && variant.as_str() != result.variant
        {
            mismatch(
                format!("variant {}", variant.value),
                format!("variant {}", result.variant),
            );
        }
        if let Some(value) = case.values.get(flag)
            && !same_json(&value.0, result.value)
        {
            mismatch(
                format!("value {}", value.0),
                format!("value {}", result.value),
            );
        }
    }
    failures
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

fn run_distribution(evaluator: &Evaluator, d: &Distribution, default_now: i64) -> Vec<Failure> {
    let now = time(&d.now, default_now);
    let units = d.units.as_ref().map_or(DEFAULT_UNITS, |u| u.value);
    let tolerance = d.tolerance.as_ref().map_or(DEFAULT_TOLERANCE, |t| t.value);
    let bucket_by = evaluator
        .bucket_by(&d.flag)
        .expect("checked tests name existing flags");
    let mut context = context(&d.context);
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for i in 0..units {
        let unit = Value::String(format!("unit-{i}"));
        crate::eval::set_path(&mut context, bucket_by, unit.clone());
        // Segments recognise units by their targeting key: give every unit its own.
        crate::eval::set_path(&mut context, crate::bundle::TARGETING_KEY, unit);
        let result = evaluator
            .evaluate(&d.flag, &context, now)
            .expect("the flag exists");
        *counts.entry(result.variant.to_owned()).or_default() += 1;
    }
    let share = |variant: &str| {
        f64::from(counts.get(variant).copied().unwrap_or(0)) * 100.0 / f64::from(units)
    };
    let observed = counts
        .keys()
        .map(|v| format!("{v} {:.2}%", share(v)))
        .collect::<Vec<_>>()
        .join(", ");
    d.expect
        .iter()
        .filter(|(variant, expected)| (share(variant) - expected.value).abs() > tolerance)
        .map(|(variant, expected)| Failure {
            flag: d.flag.as_str().to_owned(),
            expected: format!("{} {}% ± {tolerance}", variant.value, expected.value),
            actual: observed.clone(),
            trace: Vec::new(),
            reason: None,
        })
        .collect()
}
