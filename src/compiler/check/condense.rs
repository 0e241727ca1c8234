//! Bounded reports. `check` runs in CI on untrusted pull requests, where one file can hold a
//! hundred thousand wrong elements: like findings in one array are grouped, each file lists
//! at most [`MAX_PER_FILE`] findings, and messages are cut to [`MAX_MESSAGE_CHARS`]. Every
//! finding left out is counted by a note that stands for it ([`Diagnostic::left_out`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::diag::{Code, Diagnostic, Severity};
use crate::load::Repo;

use crate::diag::shown;

/// An array with more findings of one code than this is a flood: only its first
/// [`SHOWN_PER_ARRAY`] are listed, then one note counts the rest. A few distinct mistakes in
/// one list (bad logins among the owners) are each still shown.
pub const GROUP_ABOVE: usize = 10;
pub const SHOWN_PER_ARRAY: usize = 3;

/// Findings listed per file, as many as the syntax errors listed per file (FS002); one FS078
/// note per severity counts the rest.
pub const MAX_PER_FILE: usize = 20;

/// Longer messages and help lines keep their start and end around an ellipsis: a message can
/// quote a name or value as long as its file.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// The diagnostics, sorted by file and position, grouped and capped file by file. Only what
/// is listed is copied.
pub(super) fn condense(diagnostics: &[Diagnostic], repo: &Repo) -> Vec<Diagnostic> {
    let files: BTreeMap<&str, usize> = repo
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.as_str(), i))
        .collect();
    let mut out = Vec::new();
    for file in diagnostics.chunk_by(|a, b| a.file == b.file) {
        // Only a flood needs the text, to find the arrays findings are in.
        let text = match files.get(file[0].file.as_str()) {
            Some(&i) if is_flood(file) => repo.text(i),
            _ => Cow::Borrowed(""),
        };
        for d in cap(group(file, &text)) {
            let mut d = d.into_owned();
            clip(&mut d.message);
            if let Some(help) = &mut d.help {
                clip(help);
            }
            out.push(d);
        }
    }
    out
}

/// Whether a file's findings hold more than [`GROUP_ABOVE`] located ones of one code and
/// severity: the only case [`group`] has work for.
fn is_flood(file: &[Diagnostic]) -> bool {
    let mut per_code: BTreeMap<(Code, Severity), usize> = BTreeMap::new();
    for d in file.iter().filter(|d| d.span.is_some()) {
        *per_code.entry((d.code, d.severity)).or_default() += 1;
    }
    per_code.values().any(|&n| n > GROUP_ABOVE)
}

/// Replaces all but the first [`SHOWN_PER_ARRAY`] findings of one code in one array (the
/// innermost array holding the finding's start, its path with the indices of the arrays
/// around it) with one note, when the array has more than [`GROUP_ABOVE`].
fn group<'d>(file: &'d [Diagnostic], text: &str) -> Vec<Cow<'d, Diagnostic>> {
    let listed = || file.iter().map(Cow::Borrowed).collect();
    if !is_flood(file) {
        return listed();
    }
    let Some(arrays) = Arrays::of(text) else {
        return listed();
    };
    let array_of: Vec<Option<usize>> = arrays.locate(file);
    let mut members: BTreeMap<(Code, Severity, usize), Vec<usize>> = BTreeMap::new();
    for (i, d) in file.iter().enumerate() {
        if let Some(array) = array_of[i] {
            members
                .entry((d.code, d.severity, array))
                .or_default()
                .push(i);
        }
    }
    // The note takes the place of the first finding it stands for.
    let mut notes: BTreeMap<usize, Diagnostic> = BTreeMap::new();
    let mut dropped = vec![false; file.len()];
    for ((code, severity, array), indices) in members {
        if indices.len() <= GROUP_ABOVE {
            continue;
        }
        let hidden = &indices[SHOWN_PER_ARRAY..];
        for &i in hidden {
            dropped[i] = true;
        }
        let at = &file[hidden[0]];
        let mut note = Diagnostic::new(
            code,
            &at.file,
            at.span.clone(),
            format!(
                "{} more {} findings in `{}` are not shown ({} in all)",
                hidden.len(),
                code.as_str(),
                arrays.paths[array],
                indices.len()
            ),
        )
        .with_help(format!(
            "they are like the {SHOWN_PER_ARRAY} above, and start here; fix those and check again"
        ))
        .with_severity(severity);
        note.left_out = hidden.len();
        notes.insert(hidden[0], note);
    }
    file.iter()
        .enumerate()
        .filter_map(|(i, d)| {
            notes
                .remove(&i)
                .map(Cow::Owned)
                .or((!dropped[i]).then_some(Cow::Borrowed(d)))
        })
        .collect()
}

/// Keeps a file's first [`MAX_PER_FILE`] findings (and the notes among them), and puts first
/// one FS078 note per severity that counts what is left out.
fn cap(mut file: Vec<Cow<'_, Diagnostic>>) -> Vec<Cow<'_, Diagnostic>> {
    let Some(past) = file
        .iter()
        .enumerate()
        .filter(|(_, d)| d.left_out == 0)
        .nth(MAX_PER_FILE)
        .map(|(i, _)| i)
    else {
        return file;
    };
    let cut = file.split_off(past);
    let stands_for = |d: &Cow<Diagnostic>| d.left_out.max(1);
    let mut notes = Vec::new();
    for (severity, word) in [(Severity::Error, "error"), (Severity::Warning, "warning")] {
        let count: usize = cut
            .iter()
            .filter(|d| d.severity == severity)
            .map(stands_for)
            .sum();
        if count == 0 {
            continue;
        }
        let mut note = Diagnostic::new(
            Code::FindingsLeftOut,
            &file[0].file,
            None,
            match count {
                1 => format!("1 more {word} in this file is not shown"),
                n => format!("{n} more {word}s in this file are not shown"),
            },
        )
        .with_help(format!(
            "at most {MAX_PER_FILE} findings are listed per file; fix those and check again"
        ))
        .with_severity(severity);
        note.left_out = count;
        notes.push(Cow::Owned(note));
    }
    notes.extend(file);
    notes
}

/// Cuts `text` longer than [`MAX_MESSAGE_CHARS`] characters in the middle.
fn clip(text: &mut String) {
    let chars = text.chars().count();
    if chars <= MAX_MESSAGE_CHARS {
        return;
    }
    let tail = 100;
    let head = MAX_MESSAGE_CHARS - tail - 1;
    let byte = |n: usize| text.char_indices().nth(n).map_or(text.len(), |(i, _)| i);
    let (head_end, tail_start) = (byte(head), byte(chars - tail));
    *text = format!("{}…{}", &text[..head_end], &text[tail_start..]);
}

/// The arrays of a file: every key and value span, with the innermost array holding it.
struct Arrays {
    /// Display paths, e.g. `env.production.rules[0].if`.
    paths: Vec<String>,
    /// (span, index into `paths`), sorted by start, then longest first.
    nodes: Vec<(Range<usize>, Option<usize>)>,
}

impl Arrays {
    /// `None` for a file that is not TOML: its syntax errors are capped where they are found.
    fn of(text: &str) -> Option<Arrays> {
        let tree = DeTable::parse(text).ok()?;
        let mut arrays = Arrays {
            paths: Vec::new(),
            nodes: Vec::new(),
        };
        arrays.table(tree.get_ref(), "", None);
        arrays
            .nodes
            .sort_by_key(|(span, _)| (span.start, std::cmp::Reverse(span.end)));
        Some(arrays)
    }

    // `table` and `value` recurse, bounded: the TOML parser refuses nesting deeper than 80.
    fn table(&mut self, table: &DeTable<'_>, path: &str, array: Option<usize>) {
        for (key, value) in table {
            self.nodes.push((key.span(), array));
            let key = shown(key.get_ref());
            let path = if path.is_empty() {
                key
            } else {
                format!("{path}.{key}")
            };
            self.value(value, &path, array);
        }
    }

    fn value(&mut self, value: &toml::Spanned<DeValue<'_>>, path: &str, array: Option<usize>) {
        self.nodes.push((value.span(), array));
        match value.get_ref() {
            DeValue::Table(table) => self.table(table, path, array),
            DeValue::Array(items) => {
                let this = self.paths.len();
                self.paths.push(path.to_owned());
                for (i, item) in items.iter().enumerate() {
                    self.value(item, &format!("{path}[{i}]"), Some(this));
                }
            }
            _ => {}
        }
    }

    /// The innermost array holding each finding's start (findings sorted by position), in one
    /// sweep over the nested spans.
    fn locate(&self, findings: &[Diagnostic]) -> Vec<Option<usize>> {
        let contains = |span: &Range<usize>, at: usize| span.contains(&at) || span.start == at;
        let mut open: Vec<usize> = Vec::new();
        let mut next = 0;
        findings
            .iter()
            .map(|d| {
                let at = d.span.as_ref()?.start;
                while let Some((span, _)) = self.nodes.get(next).filter(|(s, _)| s.start <= at) {
                    while open
                        .last()
                        .is_some_and(|&o| self.nodes[o].0.end <= span.start)
                    {
                        open.pop();
                    }
                    open.push(next);
                    next += 1;
                }
                while open
                    .last()
                    .is_some_and(|&o| !contains(&self.nodes[o].0, at))
                {
                    open.pop();
                }
                self.nodes[*open.last()?].1
            })
            .collect()
    }
}
