//! `flagstone test`: run the repository's tests/*.toml against its bundles.

use std::io::Write;

use serde::Serialize;

use crate::suite::{self, CaseResult};

use super::{DenyArgs, Error, Exit, Format, RepoArgs, checked, formats};

/// Run the evaluation tests in tests/*.toml.
///
/// Prints each failing case and distribution with what it expected and what was served, then
/// `N passed, M failed`. With --format json, one document: {"passed": N, "failed": M,
/// "tests": [{"file", "line", "name", "passed", "failures": [{"flag", "expected", "actual",
/// "trace"?, "reason"?}]}]}, every case and distribution in file order; a failing case has the
/// rules' "trace" (as `eval --explain --format json` gives it) and the "reason" its variant was
/// served. When the repository has errors, nothing runs and they are printed as `check` prints
/// them (with json, {"diagnostics": [...]}). Exit status 1 when a test fails or the repository
/// has errors.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(flatten)]
    deny: DenyArgs,
    /// Output format (github: the findings of a failed check as annotations).
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Github]))]
    format: Format,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let repo = crate::load::load(args.repo.dir())?;
    let report = args.deny.check(&repo, &args.repo.options()?);
    let Some(checked) = checked(&report, args.repo.dir(), args.format, out)? else {
        return Ok(Exit::Failure);
    };
    let outcomes = suite::run(checked, args.repo.now_millis()?);
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    match args.format {
        Format::Json => {
            #[derive(Serialize)]
            struct Document<'a> {
                passed: usize,
                failed: usize,
                tests: &'a [CaseResult],
            }
            let document = Document {
                passed: outcomes.len() - failed,
                failed,
                tests: &outcomes,
            };
            serde_json::to_writer_pretty(&mut *out, &document)?;
            writeln!(out)?;
        }
        Format::Human | Format::Markdown | Format::Github => human(out, &outcomes)?,
    }
    Ok(if failed == 0 {
        Exit::Success
    } else {
        Exit::Failure
    })
}

fn human(out: &mut dyn Write, outcomes: &[CaseResult]) -> std::io::Result<()> {
    for outcome in outcomes.iter().filter(|o| !o.passed) {
        writeln!(
            out,
            "FAIL {}:{} {}",
            outcome.file, outcome.line, outcome.name
        )?;
        for failure in &outcome.failures {
            writeln!(out, "  {}: expected {}", failure.flag, failure.expected)?;
            writeln!(
                out,
                "  {}  actual   {}",
                " ".repeat(failure.flag.len()),
                failure.actual
            )?;
            if let Some(reason) = &failure.reason {
                writeln!(out, "    reason: {reason}")?;
            }
            for rule in &failure.trace {
                writeln!(out, "    {rule}")?;
            }
        }
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    writeln!(out, "{} passed, {} failed", outcomes.len() - failed, failed)
}
