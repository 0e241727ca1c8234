//! Findings as one JSON document.

use std::io::{self, Write};

use serde::Serialize;

use crate::cli::render::{Texts, left_out};
use crate::diag::{Diagnostic, Severity};
use crate::load::Repo;

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
pub fn diagnostics(out: &mut dyn Write, repo: &Repo, diagnostics: &[Diagnostic]) -> io::Result<()> {
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
