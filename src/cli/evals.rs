//! `flagstone evals compare --cases FILE.csv`: whether a candidate prompt or model scores
//! worse than its baseline on the same eval cases (docs/evals.md).
//!
//! Exit status: 0 pass or inconclusive (with a warning), 1 regression, 2 usage or I/O error.

use std::io::{Read, Write};
use std::path::PathBuf;

use crate::evals::{Conclusion, DEFAULT_SEED, Margin, Options};

use super::render::human::EvalsWords;
use super::render::{human, json, markdown};
use super::{Error, Exit, Format, RepoArgs, formats};

/// Compare AI eval scores of a baseline and a candidate.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: EvalsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum EvalsCommand {
    Compare(CompareArgs),
    Payload(PayloadArgs),
    Run(RunArgs),
}

/// Run an eval harness on each changed payload of an AI flag between two revisions, and
/// write the reports the review policy's `evals` rules ask for (docs/evals.md#running-the-harness).
#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// The base revision the head is compared with.
    #[arg(long, value_name = "REV")]
    base: String,
    /// The head revision. Default: the work tree as it is, so the reports can be written
    /// and committed with the change.
    #[arg(long, value_name = "REV")]
    head: Option<String>,
    /// The revision whose review policy names the reports (as `review --policy`). Default:
    /// --base.
    #[arg(long, value_name = "REV")]
    policy: Option<String>,
    /// The harness, run by `sh -c` once per payload: the payload's canonical JSON on standard
    /// input, CSV with the columns case_id and score on standard output.
    #[arg(long, value_name = "COMMAND")]
    command: String,
    /// Where the reports go, at the paths the rules give. Default: the repository's
    /// directory, where `review` finds them once committed.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Print a variant's payload as canonical JSON, the bytes an eval harness scores, or its
/// hash, which an eval report names (docs/evals.md#eval-reports).
#[derive(Debug, clap::Args)]
struct PayloadArgs {
    /// The flag's key.
    flag: String,
    /// The variant's name.
    variant: String,
    /// Read the repository as it is at this git revision (from git objects), not the work
    /// tree.
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    /// Print the payload's hash instead of the payload.
    #[arg(long)]
    hash: bool,
    #[command(flatten)]
    dir: super::DirArg,
}

/// Compare per-case scores of a baseline and a candidate (CSV: case_id,baseline,candidate).
#[derive(Debug, clap::Args)]
struct CompareArgs {
    /// The cases: a CSV file with the columns case_id, baseline and candidate; `-` reads
    /// standard input.
    #[arg(long, value_name = "FILE.csv")]
    cases: PathBuf,
    /// Lower scores are better (latency, cost, error rate). Default: higher is better.
    #[arg(long)]
    lower_is_better: bool,
    /// The tolerated regression: score units (`0.02`), or a percentage of the baseline
    /// mean (`2%`).
    #[arg(
        long,
        value_name = "X|X%",
        default_value = "0",
        allow_hyphen_values = true
    )]
    max_regression: String,
    /// Intervals are (1 − alpha) and tests two-sided at level alpha.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = 10_000)]
    resamples: u32,
    /// The bootstrap's random seed.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// The fewest cases a PASS needs: with fewer, an interval that clears the margin is
    /// inconclusive (the bootstrap's interval is too narrow on few cases).
    #[arg(long, value_name = "N", default_value_t = crate::evals::MIN_CASES)]
    min_cases: usize,
    /// How many of the most regressed cases to list.
    #[arg(long, value_name = "K", default_value_t = 10)]
    worst: usize,
    /// The hash of the baseline's payload (`evals payload --hash`): with it, the file is a
    /// report naming on every row the payloads scored, and rows of other payloads are errors.
    #[arg(long, value_name = "HASH", requires = "candidate_payload")]
    baseline_payload: Option<String>,
    /// The hash of the candidate's payload.
    #[arg(long, value_name = "HASH", requires = "baseline_payload")]
    candidate_payload: Option<String>,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Markdown]))]
    format: Format,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let args = match args.command {
        EvalsCommand::Compare(args) => args,
        EvalsCommand::Payload(args) => return payload(&args, out),
        EvalsCommand::Run(args) => return run_harness(&args, out),
    };
    let margin: Margin = args.max_regression.parse()?;
    let options = Options {
        alpha: args.alpha,
        lower_is_better: args.lower_is_better,
        resamples: args.resamples,
        seed: args.seed,
        worst: args.worst,
        margin,
        threads: 0,
        min_cases: args.min_cases,
    };
    options.validate()?;
    let (name, bytes) = if args.cases.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        ("<stdin>".to_owned(), bytes)
    } else {
        let name = args.cases.display().to_string();
        let bytes = std::fs::read(&args.cases).map_err(|e| format!("cannot read {name}: {e}"))?;
        (name, bytes)
    };
    let cases = match (&args.baseline_payload, &args.candidate_payload) {
        (Some(baseline), Some(candidate)) => {
            let payloads = crate::evals::Payloads {
                baseline,
                candidate,
            };
            crate::evals::parse_report(&name, &bytes, payloads)?
        }
        _ => crate::evals::parse_cases(&name, &bytes)?,
    };
    let report = crate::evals::compare(&cases, &options).map_err(|e| format!("{name}: {e}"))?;
    let text = EvalsWords::new(&report, margin);
    match args.format {
        Format::Human | Format::Github => human::evals(out, &report, &text)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &json::evals(&report, margin, &text))?;
            writeln!(out)?;
        }
        Format::Markdown => markdown::evals(out, &report, &text)?,
    }
    for note in &text.notes {
        eprintln!("warning: {note}");
    }
    Ok(match report.verdict.outcome {
        Conclusion::Regression => Exit::Failure,
        Conclusion::Pass | Conclusion::Inconclusive => Exit::Success,
    })
}

fn payload(args: &PayloadArgs, out: &mut dyn Write) -> Result<Exit, Error> {
    let dir = args.dir.path();
    let repo = match &args.rev {
        Some(rev) => crate::provenance::load_revision(dir, rev)?.0,
        None => crate::load::load(dir)?,
    };
    let Some(loaded) = repo.flags.get(&args.flag) else {
        let known = repo.flags.keys().map(String::as_str);
        let help = crate::diag::suggest(&args.flag, known, "flags");
        return Err(super::hinted(format!("no flag `{}`", args.flag), help));
    };
    let Some(flag) = loaded.doc.as_ref() else {
        let message = format!("{} does not load", repo.path(loaded.file));
        return Err(super::hinted(message, "`flagstone check` says why"));
    };
    // Without `[variants]`, a flag's variants are off = false and on = true.
    let defaults = [("off", serde_json::Value::Bool(false)), ("on", true.into())];
    let payload = match flag.variants.as_ref().map(|v| &v.value) {
        Some(variants) => variants.get(&args.variant).map(|v| &v.value.0),
        None => defaults
            .iter()
            .find(|(name, _)| *name == args.variant)
            .map(|(_, value)| value),
    };
    let Some(payload) = payload else {
        let names: Vec<&str> = match flag.variants.as_ref() {
            Some(variants) => variants.value.keys().map(|n| n.as_str()).collect(),
            None => vec!["off", "on"],
        };
        let help = crate::diag::suggest(&args.variant, names.iter().copied(), "variants");
        let message = format!("flag `{}` has no variant `{}`", args.flag, args.variant);
        return Err(super::hinted(message, help));
    };
    if args.hash {
        writeln!(out, "{}", crate::bundle::payload_hash(payload))?;
    } else {
        writeln!(out, "{}", crate::bundle::canonical_json(payload))?;
    }
    Ok(Exit::Success)
}

fn run_harness(args: &RunArgs, out: &mut dyn Write) -> Result<Exit, Error> {
    let now = args.repo.now_millis()?;
    let revisions = crate::compare::Revisions {
        dir: args.repo.dir(),
        base: &args.base,
        head: args.head.as_deref(),
    };
    let Some(compared) = super::diff::compared(&revisions, now, Format::Human, out)? else {
        let head = args.head.as_deref().unwrap_or("the work tree");
        return Err(format!("the head (`{head}`) has errors (above)").into());
    };
    let judge = match &args.policy {
        Some(rev) => Some(crate::review::policy_version(&compared, rev)?),
        None => None,
    };
    let versions = crate::review::Versions {
        judge: judge.as_ref().unwrap_or(&compared.base.repo),
        base: &compared.base.repo,
        head: &compared.head.repo,
    };
    let demands = crate::review::eval_demands(versions);
    if demands.is_empty() {
        writeln!(out, "no changed AI payload needs an eval report")?;
    }
    let root = args.out.as_deref().unwrap_or(args.repo.dir());
    let mut written = std::collections::BTreeSet::new();
    for demand in &demands {
        // Two rules may ask for the same report.
        if !written.insert(&demand.report) {
            continue;
        }
        let scores = |side: &'static str, payload: &serde_json::Value, hash: &str| {
            let name = format!(
                "the harness's scores of the {side} (`{}` variant `{}`)",
                demand.flag,
                if side == "baseline" {
                    &demand.baseline_variant
                } else {
                    &demand.variant
                }
            );
            let stdout = harness(&args.command, demand, side, payload, hash)?;
            crate::evals::parse_scores(&name, &stdout).map_err(Error::from)
        };
        let baseline = scores("baseline", &demand.baseline, &demand.baseline_payload)?;
        let candidate = scores("candidate", &demand.candidate, &demand.candidate_payload)?;
        let payloads = crate::evals::Payloads {
            baseline: &demand.baseline_payload,
            candidate: &demand.candidate_payload,
        };
        let report = crate::evals::write_report(&baseline, &candidate, payloads)
            .map_err(|e| format!("`{}` variant `{}`: {e}", demand.flag, demand.variant))?;
        let path = root.join(&demand.report);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        crate::fs::write_atomic(&path, &report)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        writeln!(
            out,
            "wrote {}: {} scored, `{}` variant `{}` against {}",
            match &args.out {
                Some(_) => path.display().to_string(),
                None => demand.report.clone(),
            },
            crate::format::plural(baseline.len() as u64, "case"),
            demand.flag,
            demand.variant,
            if demand.baseline_variant == demand.variant {
                "its base version".to_owned()
            } else {
                format!("the base's `{}`", demand.baseline_variant)
            }
        )?;
    }
    Ok(Exit::Success)
}

/// Runs the harness on one payload and returns what it printed.
fn harness(
    command: &str,
    demand: &crate::review::EvalDemand,
    side: &str,
    payload: &serde_json::Value,
    hash: &str,
) -> Result<Vec<u8>, Error> {
    use std::process::{Command, Stdio};
    let what = format!(
        "the harness on the {side} of `{}` variant `{}`",
        demand.flag, demand.variant
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("FLAGSTONE_FLAG", &demand.flag)
        .env("FLAGSTONE_VARIANT", &demand.variant)
        .env("FLAGSTONE_SIDE", side)
        .env("FLAGSTONE_PAYLOAD_HASH", hash)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {what} (`sh -c {command:?}`): {e}"))?;
    let json = crate::bundle::canonical_json(payload);
    let mut stdin = child.stdin.take();
    // Written from a thread: a harness that prints before it reads cannot deadlock.
    let writer = std::thread::spawn(move || {
        if let Some(stdin) = stdin.as_mut() {
            // A harness may ignore its input and exit first; that is its business.
            let _ = stdin.write_all(json.as_bytes());
        }
    });
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{what}: {e}"))?;
    let _ = writer.join();
    if !output.status.success() {
        return Err(format!("{what} failed ({})", output.status).into());
    }
    Ok(output.stdout)
}
