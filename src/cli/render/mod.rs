//! The renderers: one module per output format, each holding the reports in that format
//! (findings, and the reports of analyze, evals, plan, diff, review, refs and stale; a format
//! with several is a folder of one file per command). [`human`] is text for a terminal,
//! [`markdown`] is for job summaries and pull request comments (all Markdown escaping is its
//! functions), [`github`] is workflow commands, [`svg`] is the analysis plot, and [`json`] is
//! JSON.
//!
//! JSON has one policy: every document is the serde serialization of a type, never a value
//! assembled at run time (`json!`). A library report type is serialized as it is when its
//! fields are the document (diff, review, refs, stale); otherwise a named view type borrows
//! its fields, and its declaration is the document's schema: in [`json`] for the reports here
//! (findings, analyze, evals, plan).
//!
//! Number formats come from [`crate::format`], which library messages use too.

pub mod github;
pub mod human;
pub mod json;
pub mod markdown;
pub mod svg;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::path::Path;

use crate::diag::{Diagnostic, LineCol};
use crate::load::Repo;

use super::Format;

/// Findings in `format`; with [`Format::Github`], also a Markdown summary appended to
/// `$GITHUB_STEP_SUMMARY` when it is set.
pub fn diagnostics(
    out: &mut dyn Write,
    format: Format,
    dir: &Path,
    repo: &Repo,
    diagnostics: &[Diagnostic],
) -> io::Result<()> {
    match format {
        Format::Human => human::diagnostics(out, repo, diagnostics),
        Format::Json => json::diagnostics(out, repo, diagnostics),
        Format::Markdown => markdown::diagnostics(out, dir, repo, diagnostics),
        Format::Github => {
            github::diagnostics(out, dir, repo, diagnostics)?;
            match std::env::var_os("GITHUB_STEP_SUMMARY") {
                Some(path) => {
                    let mut summary = std::fs::OpenOptions::new()
                        .append(true)
                        .create(true)
                        .open(path)?;
                    markdown::diagnostics(&mut summary, dir, repo, diagnostics)
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
pub(crate) fn position_in(text: &str, diagnostic: &Diagnostic) -> Position {
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
pub(crate) struct Texts<'r>(HashMap<&'r str, Cow<'r, str>>);

impl<'r> Texts<'r> {
    pub(crate) fn of(repo: &'r Repo, diagnostics: &[Diagnostic]) -> Self {
        let wanted: HashSet<&str> = diagnostics.iter().map(|d| d.file.as_str()).collect();
        Texts(
            (repo.files.iter().enumerate())
                .filter(|(_, f)| wanted.contains(f.path.as_str()))
                .map(|(i, f)| (f.path.as_str(), repo.text(i)))
                .collect(),
        )
    }

    pub(crate) fn get(&self, file: &str) -> &str {
        self.0.get(file).map_or("", |text| text)
    }

    pub(crate) fn position(&self, diagnostic: &Diagnostic) -> Position {
        position_in(self.get(&diagnostic.file), diagnostic)
    }
}

/// Errors and warnings found, counting those a note stands for in its place.
pub(crate) fn counts(diagnostics: &[Diagnostic]) -> (usize, usize) {
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
pub(crate) fn left_out(diagnostics: &[Diagnostic]) -> usize {
    diagnostics.iter().map(|d| d.left_out).sum()
}

/// What ends a summary line when findings are left out: ` (N not shown)`.
pub(crate) fn not_shown(diagnostics: &[Diagnostic]) -> String {
    match left_out(diagnostics) {
        0 => String::new(),
        n => format!(" ({n} not shown)"),
    }
}

/// The path GitHub knows a file by: the checked directory joined with the repo-relative path
/// (`.` being the directory itself).
pub(crate) fn workspace_path(dir: &Path, file: &str) -> String {
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
