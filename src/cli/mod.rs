//! The `flagstone` command line: argument parsing, one file per command, and the renderers.
//!
//! Exit status: 0 success (warnings allowed), 1 findings with errors, 2 usage or I/O error.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod analyze;
mod build;
mod check;
mod codeowners;
mod completions;
mod diff;
mod edit;
mod eval;
mod evals;
mod export;
mod exposures;
mod init;
mod man;
mod plan;
mod publish;
mod refs;
pub mod render;
mod review;
mod schema;
mod serve;
mod sql;
mod stale;
mod test;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::TypedValueParser;
use clap::{Parser, Subcommand, ValueEnum};

pub use crate::fs::write_atomic;

/// Feature flags and experiments as code.
#[derive(Debug, Parser)]
#[command(name = "flagstone", version = env!("FLAGSTONE_VERSION"), about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Check(check::Args),
    Build(build::Args),
    Export(export::Args),
    Eval(eval::Args),
    Publish(publish::Args),
    Serve(serve::Args),
    Test(test::Args),
    Diff(diff::Args),
    Review(review::Args),
    Codeowners(codeowners::Args),
    Kill(edit::KillArgs),
    Restore(edit::RestoreArgs),
    Rollout(edit::RolloutArgs),
    Promote(edit::PromoteArgs),
    Stale(stale::Args),
    Refs(refs::Args),
    Plan(plan::Args),
    Analyze(analyze::Args),
    Sql(sql::Args),
    Evals(evals::Args),
    Exposures(exposures::Args),
    Schema(schema::Args),
    Init(init::Args),
    Completions(completions::Args),
    Man(man::Args),
}

/// Output formats. One type for every command, each accepting the values that apply to it (see
/// [`formats`]), so a value means the same wherever it is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: text, with source excerpts under findings.
    Human,
    /// One JSON document.
    Json,
    /// Markdown, for a job summary or a pull request comment.
    Markdown,
    /// GitHub workflow annotations on the lines concerned, plus a Markdown job summary when
    /// $GITHUB_STEP_SUMMARY is set.
    Github,
}

/// The `--format` parser of a command that writes the `allowed` formats.
fn formats(allowed: &'static [Format]) -> impl TypedValueParser<Value = Format> {
    let values = allowed.iter().filter_map(|f| f.to_possible_value());
    clap::builder::PossibleValuesParser::new(values).map(|name| {
        // The possible values parser passes only the names of `allowed`.
        Format::value_variants()
            .iter()
            .copied()
            .find(|f| f.to_possible_value().is_some_and(|v| v.get_name() == name))
            .unwrap_or(Format::Human)
    })
}

/// The command line's definition: every command, argument and help text.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// How a command ended.
pub enum Exit {
    Success,
    /// The command ran and found errors.
    Failure,
}

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match cli.command {
        Command::Check(args) => check::run(args, &mut out),
        Command::Analyze(args) => analyze::run(args, &mut out),
        Command::Sql(args) => sql::run(args, &mut out),
        Command::Build(args) => build::run(args, &mut out),
        Command::Export(args) => export::run(args, &mut out),
        Command::Eval(args) => eval::run(args, &mut out),
        Command::Evals(args) => evals::run(args, &mut out),
        Command::Exposures(args) => exposures::run(args, &mut out),
        Command::Publish(args) => publish::run(args, &mut out),
        Command::Serve(args) => serve::run(args, &mut out),
        Command::Test(args) => test::run(args, &mut out),
        Command::Diff(args) => diff::run(args, &mut out),
        Command::Review(args) => review::run(args, &mut out),
        Command::Codeowners(args) => codeowners::run(args, &mut out),
        Command::Kill(args) => edit::kill(args, &mut out),
        Command::Restore(args) => edit::restore(args, &mut out),
        Command::Rollout(args) => edit::rollout(args, &mut out),
        Command::Promote(args) => edit::promote(args, &mut out),
        Command::Stale(args) => stale::run(args, &mut out),
        Command::Refs(args) => refs::run(args, &mut out),
        Command::Schema(args) => schema::run(args, &mut out),
        Command::Plan(args) => plan::run(args, &mut out),
        Command::Init(args) => init::run(args, &mut out),
        Command::Completions(args) => completions::run(args, &mut out),
        Command::Man(args) => man::run(args, &mut out),
    };
    let _ = out.flush();
    match result {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::Failure) => ExitCode::from(1),
        // A reader that stopped early (`| head`) wants no more output, and no complaint.
        Err(e) if is_broken_pipe(&*e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(hinted) = e.downcast_ref::<Hinted>() {
                eprintln!("help: {}", hinted.hint);
            }
            ExitCode::from(2)
        }
    }
}

/// Whether writing the output failed because its reader went away, directly or inside a
/// serializer's error.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let kind = match (
        e.downcast_ref::<std::io::Error>(),
        e.downcast_ref::<serde_json::Error>(),
    ) {
        (Some(e), _) => Some(e.kind()),
        (None, Some(e)) => e.io_error_kind(),
        (None, None) => None,
    };
    kind == Some(std::io::ErrorKind::BrokenPipe)
}

/// An error that stops a command before it can report findings (exit status 2).
pub type Error = Box<dyn std::error::Error>;

/// An error with the command line's advice (which option to pass, which command to run
/// first), printed on a `help:` line under it. The library's errors say what went wrong in its
/// own terms; only the command line knows its options.
#[derive(Debug)]
pub struct Hinted {
    pub error: Error,
    pub hint: String,
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// `error` with `hint` under it.
pub fn hinted(error: impl Into<Error>, hint: impl Into<String>) -> Error {
    Box::new(Hinted {
        error: error.into(),
        hint: hint.into(),
    })
}

/// `--dir`: the flags repository, the same way for every command that reads one.
#[derive(Debug, clap::Args)]
pub struct DirArg {
    /// The flags repository: the directory holding flagstone.toml.
    #[arg(
        short = 'C',
        long,
        value_name = "DIR",
        env = "FLAGSTONE_DIR",
        default_value = "."
    )]
    dir: PathBuf,
}

/// The options of every command that reads a flags repository at a time: where it is, and
/// the time.
#[derive(Debug, clap::Args)]
pub struct RepoArgs {
    #[command(flatten)]
    dir: DirArg,
    #[command(flatten)]
    now: NowArg,
}

impl DirArg {
    pub fn path(&self) -> &std::path::Path {
        &self.dir
    }
}

impl RepoArgs {
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn options(&self) -> Result<crate::check::Options, Error> {
        Ok(crate::check::Options {
            now_millis: self.now_millis()?,
        })
    }

    pub fn now_millis(&self) -> Result<i64, Error> {
        self.now.millis()
    }
}

/// `--now`: the time a command acts at, for every command whose result depends on it.
#[derive(Debug, clap::Args)]
pub struct NowArg {
    /// The time to act at: schedules, datetime conditions and expiry are judged at it. An RFC
    /// 3339 date-time, or a date (its midnight UTC). Default: the system clock.
    #[arg(long, value_name = "TIME", value_parser = parse_now)]
    now: Option<i64>,
}

impl NowArg {
    /// `--now`, or the system clock, in milliseconds since the Unix epoch.
    pub fn millis(&self) -> Result<i64, Error> {
        now_or_clock(self.now)
    }
}

/// `--deny`, for the commands that stop on errors in the repository (check, build, test).
#[derive(Debug, clap::Args)]
pub struct DenyArgs {
    /// Treat the warnings with this code as errors: its name (`expired`) or number (`FS051`).
    /// Repeatable.
    #[arg(long, value_name = "CODE", value_parser = parse_code)]
    deny: Vec<crate::diag::Code>,
}

impl DenyArgs {
    /// Checks the repository, with the denied warnings as errors.
    pub fn check<'r>(
        &self,
        repo: &'r crate::load::Repo,
        options: &crate::check::Options,
    ) -> crate::check::Report<'r> {
        let mut report = crate::check::check(repo, options);
        report.deny(&self.deny);
        report
    }
}

fn parse_code(s: &str) -> Result<crate::diag::Code, String> {
    crate::diag::Code::ALL
        .iter()
        .copied()
        .find(|c| c.name() == s || c.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("`{s}` is not a diagnostic code: see docs/diagnostics.md"))
}

/// `--now`, or the system clock, in milliseconds since the Unix epoch.
fn now_or_clock(now: Option<i64>) -> Result<i64, Error> {
    match now {
        Some(now) => Ok(now),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
            .try_into()?),
    }
}

/// Parses `--now`: an RFC 3339 date-time, or a date meaning its midnight UTC.
fn parse_now(s: &str) -> Result<i64, String> {
    crate::literal::parse_timestamp(s)
        .or_else(|| crate::literal::parse_date(s).map(|days| days * 86_400_000))
        .ok_or_else(|| format!("`{s}` is not an RFC 3339 date-time or a YYYY-MM-DD date"))
}

/// The checked repository, or, when the check found errors, `None` after rendering them.
/// Warnings alone go to standard error, leaving standard output to the command's result.
fn checked<'r>(
    report: &crate::check::Report<'r>,
    dir: &std::path::Path,
    format: Format,
    out: &mut dyn Write,
) -> Result<Option<crate::check::Checked<'r>>, Error> {
    findings(report.repo(), &report.diagnostics, dir, format, out)?;
    Ok(report.checked())
}

/// Renders a check's findings: errors in `format`, or warnings alone to standard error.
fn findings(
    repo: &crate::load::Repo,
    diagnostics: &[crate::diag::Diagnostic],
    dir: &std::path::Path,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), Error> {
    if diagnostics.iter().any(crate::diag::Diagnostic::is_error) {
        render::diagnostics(out, format, dir, repo, diagnostics)?;
    } else if !diagnostics.is_empty() {
        render::human::diagnostics(&mut std::io::stderr(), repo, diagnostics)?;
    }
    Ok(())
}

/// The repository for a command that reads experiments (`plan`, `analyze`), or `None` after
/// rendering its errors. What they compute does not depend on the time, so it is checked at
/// the earliest time: nothing has expired, no schedule is past.
fn experiment_repository(
    dir: &DirArg,
    format: Format,
    out: &mut dyn Write,
) -> Result<Option<crate::load::Repo>, Error> {
    let dir = dir.path();
    let repo = crate::load::load(dir)?;
    let options = crate::check::Options {
        now_millis: i64::MIN,
    };
    let report = crate::check::check(&repo, &options);
    let clean = checked(&report, dir, format, out)?.is_some();
    drop(report);
    Ok(clean.then_some(repo))
}

/// `--github-output FILE`: a command's results as GitHub Actions step outputs, so that a
/// workflow needs no JSON tool to read them.
#[derive(Debug, clap::Args)]
pub struct GithubOutput {
    /// Also append this command's step outputs to FILE in GitHub Actions' format: give it
    /// `$GITHUB_OUTPUT`. See docs/github-action.md for the names.
    #[arg(long, value_name = "FILE")]
    github_output: Option<PathBuf>,
}

impl GithubOutput {
    /// Appends `name=value` lines; a value with a line break gets a heredoc, with a delimiter
    /// the value does not contain.
    pub fn write(&self, outputs: &[(&str, String)]) -> Result<(), Error> {
        let Some(path) = &self.github_output else {
            return Ok(());
        };
        let mut text = String::new();
        for (name, value) in outputs {
            if value.contains(['\n', '\r']) {
                let mut delimiter = String::from("FLAGSTONE_EOF");
                while value.contains(&delimiter) {
                    delimiter.push('_');
                }
                text += &format!("{name}<<{delimiter}\n{value}\n{delimiter}\n");
            } else {
                text += &format!("{name}={value}\n");
            }
        }
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()).into())
    }
}
