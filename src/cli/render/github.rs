//! GitHub workflow commands (`::error file=…::message`): annotations on the lines concerned.

use std::io::{self, Write};
use std::path::Path;

use crate::cli::render::{Texts, human, workspace_path};
use crate::diag::{Diagnostic, Severity, escape_controls};
use crate::load::Repo;

/// GitHub workflow commands: `::error file=…,line=…,col=…::message`.
pub fn diagnostics(
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
            escape_property_value(&escape_controls(&workspace_path(dir, &d.file))),
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
            escape_property_value(&format!("{} {}", d.code.as_str(), d.code.name()))
        ));
        let mut message = escape_controls(&d.message).into_owned();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(&escape_controls(help));
        }
        writeln!(out, "::{level} {properties}::{}", escape_message(&message))?;
    }
    Ok(())
}

/// `::error file=…,line=…,col=…,title=…::message`, one per finding.
pub fn refs(out: &mut dyn Write, report: &crate::refs::Report) -> std::io::Result<()> {
    for f in &report.findings {
        writeln!(
            out,
            "::{} file={},line={},col={},title={}::{}",
            human::refs::severity(f.severity),
            escape_property_value(&f.file),
            f.line,
            f.column,
            escape_property_value(&format!("flagstone refs: {}", f.kind.as_str())),
            escape_message(&format!("{}\nhelp: {}", f.message, f.help))
        )?;
    }
    for unreadable in &report.files.unreadable {
        writeln!(
            out,
            "::warning title=flagstone refs::{}",
            escape_message(&format!("cannot read {unreadable}"))
        )?;
    }
    Ok(())
}

/// `s` as the message of a workflow command (after `::`), where a line break would end the
/// command.
pub fn escape_message(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// `s` as a property value of a workflow command (`file=…`), where `,` and `:` also separate.
pub fn escape_property_value(s: &str) -> String {
    escape_message(s).replace(':', "%3A").replace(',', "%2C")
}
