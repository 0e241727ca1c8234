//! `flagstone refs --code PATH...`: flag references in source code. Reports references
//! to undefined and removed flags (errors), to expired flags, and flags no code references
//! (warnings). See docs/refs.md.
//!
//! Exit status: 0 no errors, 1 errors found, 2 usage or I/O error.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::diag::Severity;
use crate::model::AliasStyle;
use crate::refs::Report;

use super::render::{escape_data, escape_property};
use super::{Error, Exit, Format, RepoArgs, formats};

/// Find flag references in source code: undefined, removed and expired flags, and unused ones.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    /// Files and directories to scan. .gitignore and .ignore rules apply, and hidden files are
    /// skipped.
    #[arg(long, required = true, num_args = 1..)]
    code: Vec<PathBuf>,
    /// A string that encloses flag keys, on both sides; repeat for several. Replaces
    /// `[refs] delimiters`.
    #[arg(long = "delimiter")]
    delimiters: Vec<String>,
    /// An alias style to search for: camelCase, PascalCase, snake_case, SCREAMING_SNAKE_CASE,
    /// kebab-case, or none; repeat for several. Replaces `[refs] aliases`.
    #[arg(long = "alias", value_parser = parse_alias)]
    aliases: Vec<Option<AliasStyle>>,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Markdown, Format::Github]))]
    format: Format,
}

fn parse_alias(s: &str) -> Result<Option<AliasStyle>, String> {
    if s == "none" {
        return Ok(None);
    }
    AliasStyle::ALL
        .into_iter()
        .find(|style| style.name() == s)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = AliasStyle::ALL.iter().map(|s| s.name()).collect();
            format!("`{s}` is not an alias style: {}, or none", names.join(", "))
        })
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let dir = args.repo.dir();
    let repo = crate::load::load(dir)?;
    let config = match &repo.project {
        Some(loaded) => match &loaded.doc {
            Some(project) => project.refs.as_ref(),
            None => {
                let path = dir.join(crate::load::PROJECT_FILE);
                return Err(format!("{} has errors: run `flagstone check`", path.display()).into());
            }
        },
        None => None,
    };
    let mut options = crate::refs::Options::new(config, args.repo.now_millis()?);
    if !args.delimiters.is_empty() {
        options.delimiters = args.delimiters;
    }
    if !args.aliases.is_empty() {
        options.aliases = args.aliases.into_iter().flatten().collect();
    }
    let report = crate::refs::scan(&repo, dir, &args.code, &options)?;
    match args.format {
        Format::Human => human(out, &report, dir)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        Format::Markdown => markdown(out, &report, dir)?,
        Format::Github => {
            github(out, &report)?;
            if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                let mut summary = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(path)?;
                markdown(&mut summary, &report, dir)?;
            }
        }
    }
    Ok(if report.errors() > 0 {
        Exit::Failure
    } else {
        Exit::Success
    })
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// "12 files scanned (1 binary skipped); 7 references to 4 of 6 flags"
fn counts(report: &Report) -> String {
    let files = &report.files;
    let mut skipped = Vec::new();
    if files.binary > 0 {
        skipped.push(format!("{} binary", files.binary));
    }
    if files.too_large > 0 {
        let mib = crate::refs::MAX_FILE_BYTES / (1024 * 1024);
        skipped.push(format!("{} over {mib} MiB", files.too_large));
    }
    if !files.unreadable.is_empty() {
        skipped.push(format!("{} unreadable", files.unreadable.len()));
    }
    let skipped = if skipped.is_empty() {
        String::new()
    } else {
        format!(" ({} skipped)", skipped.join(", "))
    };
    format!(
        "{} scanned{skipped}; {} to {} of {}",
        plural(files.scanned, "file"),
        plural(report.references.len(), "reference"),
        report.referenced_flags,
        plural(report.flags, "flag")
    )
}

fn verdict(report: &Report) -> String {
    let errors = report.errors();
    let warnings = report.findings.len() - errors;
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

/// What limits the search for removed flags, if anything does.
fn history_note(report: &Report, dir: &Path) -> Option<String> {
    match &report.history {
        None => Some(format!(
            "removed flags are not detected: {} is not in a git repository",
            dir.display()
        )),
        Some(history) if history.truncated => Some(format!(
            "removed flags: only the last {} searched",
            plural(history.commits, "commit")
        )),
        Some(_) => None,
    }
}

fn human(out: &mut dyn Write, report: &Report, dir: &Path) -> std::io::Result<()> {
    for f in &report.findings {
        writeln!(
            out,
            "{}:{}:{}: {}: {}; {}",
            f.file,
            f.line,
            f.column,
            severity(f.severity),
            f.message,
            f.help
        )?;
    }
    for unreadable in &report.files.unreadable {
        writeln!(out, "warning: cannot read {unreadable}")?;
    }
    if let Some(note) = history_note(report, dir) {
        writeln!(out, "note: {note}")?;
    }
    let icon = if report.errors() > 0 {
        "✗"
    } else if report.findings.is_empty() {
        "✓"
    } else {
        "!"
    };
    writeln!(out, "{icon} {}: {}", counts(report), verdict(report))
}

fn markdown(out: &mut dyn Write, report: &Report, dir: &Path) -> std::io::Result<()> {
    writeln!(out, "### flagstone refs: {}\n", verdict(report))?;
    writeln!(out, "{}.", counts(report))?;
    if let Some(note) = history_note(report, dir) {
        writeln!(out, "\n> [!NOTE]\n> {note}.")?;
    }
    if report.findings.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\n| | finding | location | message |\n|---|---|---|---|"
    )?;
    for f in &report.findings {
        let icon = match f.severity {
            Severity::Error => "❌",
            Severity::Warning => "⚠️",
        };
        writeln!(
            out,
            "| {icon} | {} | `{}:{}:{}` | {} — {} |",
            f.kind.as_str(),
            f.file,
            f.line,
            f.column,
            f.message.replace('|', "\\|"),
            f.help.replace('|', "\\|")
        )?;
    }
    Ok(())
}

/// `::error file=…,line=…,col=…,title=…::message`, one per finding.
fn github(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    for f in &report.findings {
        writeln!(
            out,
            "::{} file={},line={},col={},title={}::{}",
            severity(f.severity),
            escape_property(&f.file),
            f.line,
            f.column,
            escape_property(&format!("flagstone refs: {}", f.kind.as_str())),
            escape_data(&format!("{}\nhelp: {}", f.message, f.help))
        )?;
    }
    for unreadable in &report.files.unreadable {
        writeln!(
            out,
            "::warning title=flagstone refs::{}",
            escape_data(&format!("cannot read {unreadable}"))
        )?;
    }
    Ok(())
}
