//! Findings as source excerpts with the span underlined, then a one-line summary.

use std::io::{self, Write};
use std::ops::Range;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, MietteError,
    MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};

use crate::cli::render::{Texts, counts, not_shown, position_in};
use crate::diag::{Diagnostic, Severity, escape_controls, is_control};
use crate::format::plural;
use crate::load::Repo;

/// Source excerpts with the span underlined, then a one-line summary.
pub fn diagnostics(out: &mut dyn Write, repo: &Repo, diagnostics: &[Diagnostic]) -> io::Result<()> {
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
