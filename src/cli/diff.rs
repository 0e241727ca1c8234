//! `flagstone diff [--base REV] [--head REV]`: what a change does, flag by flag and
//! environment by environment, with its blast radius. Both sides are read from git objects
//! (the head defaults to the work tree).

use std::io::Write;

use crate::compare::{Compared, Comparison, Revisions};
use crate::diff::{Diff, FileKind, Status};
use crate::review::radius;

use super::{Error, Exit, Format, GithubOutput, RepoArgs, findings, formats};

/// Show the semantic changes between two revisions of a flags repository.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    /// The base revision.
    #[arg(long, default_value = "HEAD")]
    base: String,
    /// The head revision. Default: the work tree as it is.
    #[arg(long)]
    head: Option<String>,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Markdown]))]
    format: Format,
    /// Outputs: changed-flags (a JSON array of the keys of the flags the change adds,
    /// removes or changes).
    #[command(flatten)]
    github_output: GithubOutput,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let now = args.repo.now_millis()?;
    let revisions = Revisions {
        dir: args.repo.dir(),
        base: &args.base,
        head: args.head.as_deref(),
    };
    let Some(compared) = compared(&revisions, now, args.format, out)? else {
        return Ok(Exit::Failure);
    };
    let changed: Vec<&str> = compared
        .diff
        .flags
        .iter()
        .map(|f| f.flag.as_str())
        .collect();
    args.github_output
        .write(&[("changed-flags", serde_json::to_string(&changed)?)])?;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &compared.diff)?;
            writeln!(out)?;
        }
        Format::Human | Format::Github => human(out, &compared.diff)?,
        Format::Markdown => markdown(out, &compared.diff)?,
    }
    // The process ends next: freeing both versions value by value would only delay it.
    std::mem::forget(compared);
    Ok(Exit::Success)
}

/// Compares two versions, rendering the findings of their checks: `None` when the head has
/// errors or the change touches expired flags, after rendering them in `format`; errors in
/// the base are an error: there is nothing to compare with.
pub(super) fn compared(
    revisions: &Revisions<'_>,
    now: i64,
    format: Format,
    out: &mut dyn Write,
) -> Result<Option<Compared>, Error> {
    let dir = revisions.dir;
    match crate::compare::compare(revisions, now)? {
        Comparison::Compared(compared) => {
            findings(
                &compared.base.repo,
                &compared.base.diagnostics,
                dir,
                format,
                out,
            )?;
            findings(
                &compared.head.repo,
                &compared.head.diagnostics,
                dir,
                format,
                out,
            )?;
            Ok(Some(compared))
        }
        Comparison::BaseErrors(base) => {
            findings(&base.repo, &base.diagnostics, dir, format, out)?;
            let base = revisions.base;
            Err(format!("the base revision `{base}` has errors (above)").into())
        }
        Comparison::HeadErrors { base, head } => {
            findings(&base.repo, &base.diagnostics, dir, format, out)?;
            findings(&head.repo, &head.diagnostics, dir, format, out)?;
            Ok(None)
        }
        Comparison::TouchesExpired {
            base,
            head,
            expired,
        } => {
            findings(&base.repo, &base.diagnostics, dir, format, out)?;
            findings(&head.repo, &head.diagnostics, dir, format, out)?;
            super::render::diagnostics(out, format, dir, &head.repo, &expired)?;
            Ok(None)
        }
    }
}

fn status(status: Status) -> &'static str {
    match status {
        Status::Added => "added",
        Status::Removed => "removed",
        Status::Changed => "changed",
    }
}

fn file_kind(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Test => "test file",
        FileKind::Experiment => "experiment settings",
        FileKind::Other => "file",
        FileKind::Protected => "protected file",
    }
}

fn human(out: &mut dyn Write, diff: &Diff) -> std::io::Result<()> {
    for line in &diff.project {
        writeln!(out, "project: {line}")?;
    }
    for line in &diff.teams {
        writeln!(out, "teams: {line}")?;
    }
    if let Some(policy) = &diff.policy {
        writeln!(out, "review policy changed:")?;
        for line in policy.lines() {
            writeln!(out, "  {line}")?;
        }
    }
    for file in &diff.files {
        writeln!(
            out,
            "{} {} ({})",
            file_kind(file.kind),
            file.path,
            status(file.status)
        )?;
    }
    for segment in &diff.segments {
        writeln!(
            out,
            "segment {} ({}): affects {}",
            segment.segment,
            status(segment.status),
            if segment.affected_flags.is_empty() {
                "no flag".to_owned()
            } else {
                segment.affected_flags.join(", ")
            }
        )?;
    }
    for flag in &diff.flags {
        writeln!(out, "{} ({})", flag.flag, status(flag.status))?;
        if let Some([before, after]) = &flag.owners {
            writeln!(out, "  owners: {} → {}", before.join(" "), after.join(" "))?;
        }
        for line in &flag.metadata {
            writeln!(out, "  {line}")?;
        }
        for env in &flag.environments {
            writeln!(out, "  {}:", env.environment)?;
            for change in &env.changes {
                for (i, line) in change.lines().enumerate() {
                    let indent = if i == 0 { "    - " } else { "      " };
                    writeln!(out, "{indent}{line}")?;
                }
            }
            if let Some(off) = &env.off {
                writeln!(
                    out,
                    "    every unit now gets `{}` = {}",
                    off.variant, off.value
                )?;
            }
            writeln!(out, "    blast radius: {}", radius(&env.blast_radius))?;
        }
    }
    writeln!(out, "{}", flags_changed(diff.flags.len()))
}

fn flags_changed(count: usize) -> String {
    format!("{count} flag{} changed", if count == 1 { "" } else { "s" })
}

fn markdown(out: &mut dyn Write, diff: &Diff) -> std::io::Result<()> {
    use super::markdown::{code, code_block, details, text};
    // Blocks are separated by one blank line: a list, the policy's diff, the table, and the
    // changes that span several lines, in full.
    let mut bullets = Vec::new();
    for line in &diff.project {
        bullets.push(format!("- **project**: {}", text(line)));
    }
    for line in &diff.teams {
        bullets.push(format!("- **teams**: {}", text(line)));
    }
    for file in &diff.files {
        bullets.push(format!(
            "- **{}** {} {}",
            file_kind(file.kind),
            code(&file.path),
            status(file.status)
        ));
    }
    for flag in &diff.flags {
        if let Some([before, after]) = &flag.owners {
            let (before, after) = (before.join(" "), after.join(" "));
            bullets.push(format!(
                "- **owners** of {}: {} → {}",
                code(&flag.flag),
                text(&before),
                text(&after)
            ));
        }
        for line in &flag.metadata {
            bullets.push(format!(
                "- **metadata** of {}: {}",
                code(&flag.flag),
                text(line)
            ));
        }
    }
    for segment in &diff.segments {
        let affected: Vec<String> = segment.affected_flags.iter().map(|f| code(f)).collect();
        bullets.push(format!(
            "- **segment** {} {}: affects {}",
            code(&segment.segment),
            status(segment.status),
            if affected.is_empty() {
                "no flag".to_owned()
            } else {
                affected.join(", ")
            }
        ));
    }
    let mut blocks = Vec::new();
    if !bullets.is_empty() {
        blocks.push(bullets.join("\n"));
    }
    if let Some(policy) = &diff.policy {
        blocks.push(format!(
            "**review policy** changed:\n\n{}",
            code_block(policy, "diff")
        ));
    }
    let mut rows = Vec::new();
    let mut full = Vec::new();
    for flag in &diff.flags {
        for env in &flag.environments {
            let mut changes: Vec<String> = env
                .changes
                .iter()
                .map(|c| text(c.lines().next().unwrap_or_default()))
                .collect();
            if let Some(off) = &env.off {
                changes.push(format!(
                    "every unit now gets {} = {}",
                    code(&off.variant),
                    code(&off.value.to_string())
                ));
            }
            rows.push(format!(
                "| {} ({}) | {} | {} | {} |",
                code(&flag.flag),
                status(flag.status),
                text(&env.environment),
                changes.join("<br>"),
                text(&radius(&env.blast_radius))
            ));
            for change in env.changes.iter().filter(|c| c.contains('\n')) {
                let first = change.lines().next().unwrap_or_default();
                let summary = format!("{} in {}: {first}", flag.flag, env.environment);
                let body: String = change.lines().skip(1).map(|l| format!("{l}\n")).collect();
                full.push(details(&summary, &code_block(&body, "diff")));
            }
        }
    }
    if !rows.is_empty() {
        let header = "| flag | environment | changes | blast radius |\n|---|---|---|---|";
        blocks.push(format!("{header}\n{}", rows.join("\n")));
    }
    blocks.extend(full);
    writeln!(
        out,
        "### flagstone diff: {}",
        flags_changed(diff.flags.len())
    )?;
    for block in blocks {
        writeln!(out, "\n{block}")?;
    }
    Ok(())
}
