//! `eval`: each flag's evaluation with the bundle it came from, and its trace with `--explain`.

use std::io::Write;

use serde::Serialize;

use crate::eval::watch::Pointer;
use crate::eval::{Evaluation, Evaluator, Explanation, RuleTrace};

/// One flag's result.
#[derive(Serialize)]
pub struct Evaluated<'a> {
    flag: &'a str,
    env: &'a str,
    bundle: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    published_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<&'a str>,
    #[serde(flatten)]
    evaluation: &'a Evaluation<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<&'a [RuleTrace]>,
}

/// An array of results with `all`, else the one result.
pub fn eval(
    out: &mut dyn Write,
    evaluator: &Evaluator,
    results: &[(&String, Explanation<'_>)],
    published: Option<&Pointer>,
    explain: bool,
    all: bool,
) -> serde_json::Result<()> {
    let evaluated: Vec<Evaluated<'_>> = results
        .iter()
        .map(|(key, e)| Evaluated {
            flag: key,
            env: evaluator.environment(),
            bundle: evaluator.hash(),
            published_at: published.map(|p| p.published_at.as_str()),
            commit: published.and_then(|p| p.commit.as_deref()),
            evaluation: &e.evaluation,
            trace: explain.then_some(e.trace.as_slice()),
        })
        .collect();
    match evaluated.first() {
        Some(first) if !all => serde_json::to_writer_pretty(&mut *out, first)?,
        _ => serde_json::to_writer_pretty(&mut *out, &evaluated)?,
    }
    writeln!(out).map_err(serde_json::Error::io)
}
