//! Renderers of findings: one function per output format, over the same diagnostics.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::ops::Range;
use std::path::Path;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, MietteError,
    MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};
use serde::Serialize;

use crate::diag::{Diagnostic, LineCol, Severity, escape_controls, is_control};
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
    position_in(&source_text(repo, &diagnostic.file), diagnostic)
}

/// The position of a finding in `text`, its file's text.
fn position_in(text: &str, diagnostic: &Diagnostic) -> Position {
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

fn source_text<'r>(repo: &'r Repo, file: &str) -> Cow<'r, str> {
    repo.text_of(file)
}

/// The texts of the files findings are in, by path, for renderers that look up every
/// finding's file. Only those: a lean repository reads them again ([`Repo::text`]).
struct Texts<'r>(HashMap<&'r str, Cow<'r, str>>);

impl<'r> Texts<'r> {
    fn of(repo: &'r Repo, diagnostics: &[Diagnostic]) -> Self {
        let wanted: HashSet<&str> = diagnostics.iter().map(|d| d.file.as_str()).collect();
        Texts(
            (repo.files.iter().enumerate())
                .filter(|(_, f)| wanted.contains(f.path.as_str()))
                .map(|(i, f)| (f.path.as_str(), repo.text(i)))
                .collect(),
        )
    }

    fn get(&self, file: &str) -> &str {
        self.0.get(file).map_or("", |text| text)
    }

    fn position(&self, diagnostic: &Diagnostic) -> Position {
        position_in(self.get(&diagnostic.file), diagnostic)
    }
}

/// Errors and warnings found, counting those a note stands for in its place.
fn counts(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let stands_for = |d: &Diagnostic| d.left_out.max(1);
    let errors = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(stands_for)
        .sum();
    let warnings = diagnostics
        .iter()
        .filter(|d| !d.is_error())
        .map(stands_for)
        .sum();
    (errors, warnings)
}

/// Findings found but not listed.
fn left_out(diagnostics: &[Diagnostic]) -> usize {
    diagnostics.iter().map(|d| d.left_out).sum()
}

/// What ends a summary line when findings are left out: ` (N not shown)`.
fn not_shown(diagnostics: &[Diagnostic]) -> String {
    match left_out(diagnostics) {
        0 => String::new(),
        n => format!(" ({n} not shown)"),
    }
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
    let texts = Texts::of(repo, diagnostics);
    for diagnostic in diagnostics {
        let mut report = MietteDiagnostic::new(escape_controls(&diagnostic.message))
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
            report = report.with_help(escape_controls(help));
        }
        let file = escape_controls(&diagnostic.file);
        let text = texts.get(&diagnostic.file);
        let mut rendered = String::new();
        match &diagnostic.span {
            Some(span) if !text.is_empty() => {
                let start = position_in(text, diagnostic).start;
                let name = format!("{file}:{}:{}", start.line, start.column);
                let (excerpt, span) = Excerpt::new(name, text, span.clone());
                let report = report.with_label(LabeledSpan::underline(span));
                let report = miette::Report::new(report).with_source_code(excerpt);
                handler
                    .render_report(&mut rendered, report.as_ref())
                    .map_err(io::Error::other)?;
            }
            _ => {
                // A finding about a whole file names the file in its message.
                report.message = format!("{file}: {}", report.message);
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
        return writeln!(out, "✓ {checked} checked: no problems");
    }
    writeln!(
        out,
        "{} {checked} checked: {}, {}{}",
        if errors > 0 { "✗" } else { "!" },
        plural(errors, "error"),
        plural(warnings, "warning"),
        not_shown(diagnostics)
    )
}

/// Lines longer than this many characters are shown as a window around the span.
const MAX_LINE_CHARS: usize = 160;
/// The characters of a long line shown, and how many of them come before the span.
const WINDOW_CHARS: usize = 100;
const BEFORE_SPAN_CHARS: usize = 30;
/// A span over more lines than this is shown on its first line, which ends in an ellipsis.
const MAX_SPAN_LINES: usize = 10;

/// What the human format shows of a file around a span: the span's lines and two on either
/// side (miette picks its context among them), with long lines cut to a window marked by `…`
/// and control characters escaped (`\u{202e}`), so a terminal shows them and never acts on
/// them. miette would print a line whole, and panics on a column past 65,535.
struct Excerpt {
    name: String,
    text: String,
    /// The 0-based line of the file where the excerpt starts.
    first_line: usize,
}

impl Excerpt {
    /// The excerpt of `text` around `span`, and the span within the excerpt.
    fn new(name: String, text: &str, span: Range<usize>) -> (Excerpt, Range<usize>) {
        let floor = |mut i: usize| {
            i = i.min(text.len());
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let start = floor(span.start);
        let mut end = floor(span.end.max(start));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let long_span = text[start..end].matches('\n').count() >= MAX_SPAN_LINES;
        if long_span {
            end = line_end;
        }
        let mut from = line_start;
        for _ in 0..2 {
            if from > 0 {
                from = text[..from - 1].rfind('\n').map_or(0, |i| i + 1);
            }
        }
        let mut to = text[end..].find('\n').map_or(text.len(), |i| end + i);
        for _ in 0..2 {
            if to < text.len() {
                to = text[to + 1..].find('\n').map_or(text.len(), |i| to + 1 + i);
            }
        }
        let mut excerpt = Excerpt {
            name,
            text: String::new(),
            first_line: text[..from].matches('\n').count(),
        };
        let (mut mapped_start, mut mapped_end) = (0, 0);
        let mut at = from;
        while at <= to {
            let stop = text[at..to].find('\n').map_or(to, |i| at + i);
            let line = &text[at..stop];
            let chars = line.chars().count();
            let (a, b) = if at == line_start {
                let before = text[at..start].chars().count();
                window(chars, before)
            } else {
                window(chars, 0)
            };
            // Where each byte offset of the line lands in the excerpt: the span's ends are
            // looked up here.
            let mut place = |offset: usize, landed: usize| {
                if offset == start {
                    mapped_start = landed;
                }
                if offset == end {
                    mapped_end = landed;
                }
            };
            if a > 0 {
                excerpt.text.push('…');
            }
            for (i, (byte, c)) in line.char_indices().enumerate() {
                if i == b {
                    excerpt.text.push('…');
                }
                // Offsets cut off land next to the ellipsis on their side.
                place(at + byte, excerpt.text.len());
                if !(a..b).contains(&i) {
                    continue;
                }
                if c != '\t' && is_control(c) {
                    excerpt.text.extend(c.escape_unicode());
                } else {
                    excerpt.text.push(c);
                }
            }
            if long_span && stop == end && b >= chars {
                excerpt.text.push('…');
            }
            place(stop, excerpt.text.len());
            if stop < to {
                excerpt.text.push('\n');
            }
            at = stop + 1;
        }
        (excerpt, mapped_start..mapped_end.max(mapped_start))
    }
}

/// The characters `[a, b)` of a line of `chars` characters to show, for a span starting
/// `before` characters into it.
fn window(chars: usize, before: usize) -> (usize, usize) {
    if chars <= MAX_LINE_CHARS {
        return (0, chars);
    }
    let a = before.saturating_sub(BEFORE_SPAN_CHARS);
    let b = (a + WINDOW_CHARS).min(chars);
    (a.min(chars.saturating_sub(WINDOW_CHARS)), b)
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let contents = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(
            MietteSpanContents::new_named(
                self.name.clone(),
                contents.data(),
                *contents.span(),
                self.first_line + contents.line(),
                contents.column(),
                contents.line_count(),
            )
            .with_language("toml"),
        ))
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
    /// Only on a note that stands for findings not listed: how many.
    #[serde(skip_serializing_if = "is_zero")]
    left_out: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One JSON document: `{"diagnostics": [...]}`, and `"suppressed": N` when N findings were
/// left out of the list.
pub fn json(out: &mut dyn Write, repo: &Repo, diagnostics: &[Diagnostic]) -> io::Result<()> {
    #[derive(Serialize)]
    struct Document<'a> {
        diagnostics: Vec<JsonDiagnostic<'a>>,
        #[serde(skip_serializing_if = "is_zero")]
        suppressed: usize,
    }
    let texts = Texts::of(repo, diagnostics);
    let document = Document {
        suppressed: left_out(diagnostics),
        diagnostics: diagnostics
            .iter()
            .map(|d| {
                let p = texts.position(d);
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
                    left_out: d.left_out,
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
    let texts = Texts::of(repo, diagnostics);
    for d in diagnostics {
        let p = texts.position(d);
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = format!(
            "file={},line={},endLine={}",
            escape_property(&escape_controls(&workspace_path(dir, &d.file))),
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
        let mut message = escape_controls(&d.message).into_owned();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(&escape_controls(help));
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
        "### flagstone check: {}, {}{}\n",
        plural(errors, "error"),
        plural(warnings, "warning"),
        not_shown(diagnostics)
    )?;
    if diagnostics.is_empty() {
        return writeln!(out, "No problems found.");
    }
    writeln!(out, "| | code | location | message |")?;
    writeln!(out, "|---|---|---|---|")?;
    let texts = Texts::of(repo, diagnostics);
    for d in diagnostics {
        let p = texts.position(d);
        let icon = if d.is_error() { "❌" } else { "⚠️" };
        let message = match &d.help {
            Some(help) => format!("{} — {}", d.message, help),
            None => d.message.clone(),
        };
        writeln!(
            out,
            "| {icon} | {} | `{}:{}:{}` | {} |",
            d.code.as_str(),
            escape_controls(&workspace_path(dir, &d.file)),
            p.start.line,
            p.start.column,
            escape_controls(&message.replace('|', "\\|").replace('\n', " "))
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
