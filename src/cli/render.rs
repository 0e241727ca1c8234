//! Renderers of findings: one function per output format, over the same diagnostics.

use std::io::{self, Write};
use std::path::Path;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};
use serde::Serialize;

use crate::diag::{Diagnostic, LineCol, Severity};
use crate::load::Repo;

use super::Format;

pub fn diagnostics(
    out: &mut dyn Write,
    format: Format,
    dir: &Path,
    repo: &Repo,
    diagnostics: &[Diagnostic],
) -> io::Result<()> {
    match format {
        Format::Human => human(out, repo, diagnostics),
        Format::Json => json(out, repo, diagnostics),
        Format::Markdown => markdown_summary(out, dir, repo, diagnostics),
        Format::Github => {
            github(out, dir, repo, diagnostics)?;
            match std::env::var_os("GITHUB_STEP_SUMMARY") {
                Some(path) => {
                    let mut summary = std::fs::OpenOptions::new()
                        .append(true)
                        .create(true)
                        .open(path)?;
                    markdown_summary(&mut summary, dir, repo, diagnostics)
                }
                None => Ok(()),
            }
        }
    }
}

/// Where a finding starts and ends, 1-based; a finding about a whole file is at 1:1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub start: LineCol,
    pub end: LineCol,
}

pub fn position(repo: &Repo, diagnostic: &Diagnostic) -> Position {
    let text = source_text(repo, &diagnostic.file);
    match &diagnostic.span {
        Some(span) => Position {
            start: LineCol::of(text, span.start),
            end: LineCol::of(text, span.end),
        },
        None => {
            let origin = LineCol { line: 1, column: 1 };
            Position {
                start: origin,
                end: origin,
            }
        }
    }
}

fn source_text<'r>(repo: &'r Repo, file: &str) -> &'r str {
    repo.files
        .iter()
        .find(|f| f.path == file)
        .map_or("", |f| f.text.as_str())
}

fn counts(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    (errors, diagnostics.len() - errors)
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Source excerpts with the span underlined, then a one-line summary.
pub fn human(out: &mut dyn Write, repo: &Repo, diagnostics: &[Diagnostic]) -> io::Result<()> {
    let theme = if color_enabled() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    // miette counts columns in bytes; the header names the position itself, in characters,
    // as every other format does.
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_width(100)
        .without_primary_span_start();
    for diagnostic in diagnostics {
        let mut report = MietteDiagnostic::new(diagnostic.message.clone())
            .with_code(format!(
                "{}({})",
                diagnostic.code.as_str(),
                diagnostic.code.name()
            ))
            .with_severity(match diagnostic.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            });
        if let Some(help) = &diagnostic.help {
            report = report.with_help(help.clone());
        }
        let text = source_text(repo, &diagnostic.file);
        let mut rendered = String::new();
        match &diagnostic.span {
            Some(span) if !text.is_empty() => {
                let start = position(repo, diagnostic).start;
                let name = format!("{}:{}:{}", diagnostic.file, start.line, start.column);
                let report = report.with_label(LabeledSpan::underline(span.clone()));
                let report = miette::Report::new(report).with_source_code(
                    NamedSource::new(name, text.to_owned()).with_language("toml"),
                );
                handler
                    .render_report(&mut rendered, report.as_ref())
                    .map_err(io::Error::other)?;
            }
            _ => {
                // A finding about a whole file names the file in its message.
                report.message = format!("{}: {}", diagnostic.file, report.message);
                handler
                    .render_report(&mut rendered, &report)
                    .map_err(io::Error::other)?;
            }
        }
        writeln!(out, "{rendered}")?;
    }
    let (errors, warnings) = counts(diagnostics);
    let mut checked = format!(
        "{}, {}, {}",
        plural(repo.flags.len(), "flag"),
        plural(repo.segments.len(), "segment"),
        plural(repo.tests.len(), "test file")
    );
    // Said only when there are some, so repositories without experiments read as before.
    if !repo.experiments.is_empty() {
        checked += &format!(", {}", plural(repo.experiments.len(), "experiment"));
    }
    if diagnostics.is_empty() {
        writeln!(out, "✓ {checked} checked: no problems")
    } else {
        writeln!(
            out,
            "{} {checked} checked: {}, {}",
            if errors > 0 { "✗" } else { "!" },
            plural(errors, "error"),
            plural(warnings, "warning")
        )
    }
}

fn color_enabled() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none() && io::stdout().is_terminal()
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    name: &'a str,
    severity: Severity,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    message: &'a str,
    help: Option<&'a str>,
}

/// One JSON document: `{"diagnostics": [...]}`.
pub fn json(out: &mut dyn Write, repo: &Repo, diagnostics: &[Diagnostic]) -> io::Result<()> {
    #[derive(Serialize)]
    struct Document<'a> {
        diagnostics: Vec<JsonDiagnostic<'a>>,
    }
    let document = Document {
        diagnostics: diagnostics
            .iter()
            .map(|d| {
                let p = position(repo, d);
                JsonDiagnostic {
                    code: d.code.as_str(),
                    name: d.code.name(),
                    severity: d.severity,
                    file: &d.file,
                    line: p.start.line,
                    column: p.start.column,
                    end_line: p.end.line,
                    end_column: p.end.column,
                    message: &d.message,
                    help: d.help.as_deref(),
                }
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}

/// The path GitHub knows a file by: the checked directory joined with the repo-relative path
/// (`.` being the directory itself).
fn workspace_path(dir: &Path, file: &str) -> String {
    let dir = dir.to_string_lossy().replace('\\', "/");
    let dir = dir.trim_start_matches("./").trim_end_matches('/');
    if dir.is_empty() || dir == "." {
        file.to_owned()
    } else if file == "." {
        dir.to_owned()
    } else {
        format!("{dir}/{file}")
    }
}

/// GitHub workflow commands: `::error file=…,line=…,col=…::message`.
pub fn github(
    out: &mut dyn Write,
    dir: &Path,
    repo: &Repo,
    diagnostics: &[Diagnostic],
) -> io::Result<()> {
    for d in diagnostics {
        let p = position(repo, d);
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = format!(
            "file={},line={},endLine={}",
            escape_property(&workspace_path(dir, &d.file)),
            p.start.line,
            p.end.line
        );
        // GitHub ignores columns on annotations spanning lines.
        if p.start.line == p.end.line {
            properties.push_str(&format!(
                ",col={},endColumn={}",
                p.start.column, p.end.column
            ));
        }
        properties.push_str(&format!(
            ",title={}",
            escape_property(&format!("{} {}", d.code.as_str(), d.code.name()))
        ));
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        writeln!(out, "::{level} {properties}::{}", escape_data(&message))?;
    }
    Ok(())
}

/// A Markdown table of every finding, for `$GITHUB_STEP_SUMMARY` (GitHub shows only a few
/// annotations per step).
pub fn markdown_summary(
    out: &mut dyn Write,
    dir: &Path,
    repo: &Repo,
    diagnostics: &[Diagnostic],
) -> io::Result<()> {
    let (errors, warnings) = counts(diagnostics);
    writeln!(
        out,
        "### flagstone check: {}, {}\n",
        plural(errors, "error"),
        plural(warnings, "warning")
    )?;
    if diagnostics.is_empty() {
        return writeln!(out, "No problems found.");
    }
    writeln!(out, "| | code | location | message |")?;
    writeln!(out, "|---|---|---|---|")?;
    for d in diagnostics {
        let p = position(repo, d);
        let icon = if d.is_error() { "❌" } else { "⚠️" };
        let message = match &d.help {
            Some(help) => format!("{} — {}", d.message, help),
            None => d.message.clone(),
        };
        writeln!(
            out,
            "| {icon} | {} | `{}:{}:{}` | {} |",
            d.code.as_str(),
            workspace_path(dir, &d.file),
            p.start.line,
            p.start.column,
            message.replace('|', "\\|").replace('\n', " ")
        )?;
    }
    Ok(())
}

pub(super) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

pub(super) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
