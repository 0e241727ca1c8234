//! `flagstone diff [--base REV] [--head REV]`: what a change does, flag by flag and
//! environment by environment, with its blast radius. Both sides are read from git objects
//! (the head defaults to the work tree).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::diag::{Code, Diagnostic, Severity};
use crate::diff::{Diff, Status, Version};
use crate::load::Repo;
use crate::model::ChangeKind;

use super::render::{human, markdown};
use super::{Error, Exit, Format, GithubOutput, RepoArgs, checked, formats};

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
    let Some(compared) = compare(&revisions, now, args.format, out)? else {
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
        Format::Human | Format::Github => human::diff(out, &compared.diff)?,
        Format::Markdown => markdown::diff(out, &compared.diff)?,
    }
    // The process ends next: freeing both versions value by value would only delay it.
    std::mem::forget(compared);
    Ok(Exit::Success)
}

/// Two versions of the flags repository at `dir`: git revisions, or the work tree as head.
pub(super) struct Revisions<'a> {
    pub dir: &'a Path,
    pub base: &'a str,
    pub head: Option<&'a str>,
}

/// Both versions, loaded, and what differs between them.
pub(super) struct Compared {
    pub repository: git2::Repository,
    pub base: Repo,
    pub head: Repo,
    pub diff: Diff,
}

/// Loads, checks and compares two versions. `None` when the head has errors, after rendering
/// them in `format`; errors in the base are an error: there is nothing to compare with.
pub(super) fn compare(
    revisions: &Revisions<'_>,
    now: i64,
    format: Format,
    out: &mut dyn Write,
) -> Result<Option<Compared>, Error> {
    let dir = revisions.dir;
    let repository = git2::Repository::discover(dir)
        .map_err(|_| format!("{} is not inside a git repository", dir.display()))?;
    let relative = relative_dir(&repository, dir)?;
    // What ships must be what is reviewed: refuse versions that would not check out as read.
    crate::provenance::require_faithful(
        &repository,
        dir,
        &relative,
        revisions.base,
        revisions.head,
    )?;
    let head = match revisions.head {
        Some(rev) => crate::load::load_revision(&repository, rev, &relative, None)?,
        None => crate::load::load(dir)?,
    };
    // What the base shares with the head is taken from it, not parsed again.
    let base = crate::load::load_revision(&repository, revisions.base, &relative, Some(&head))?;
    let options = crate::check::Options { now_millis: now };
    // The two checks are independent: one thread each.
    let (base_report, head_report) = std::thread::scope(|scope| {
        let base_check = scope.spawn(|| crate::check::check(&base, &options));
        let head_report = crate::check::check(&head, &options);
        (
            base_check.join().expect("checking does not panic"),
            head_report,
        )
    });
    let Some(base_checked) = checked(&base_report, dir, format, out)? else {
        let base = revisions.base;
        return Err(format!("the base revision `{base}` has errors (above)").into());
    };
    let Some(head_checked) = checked(&head_report, dir, format, out)? else {
        return Ok(None);
    };
    // Only the flags that may differ are built, with what evaluating them needs.
    let (base_bundles, head_bundles) = match crate::diff::flags_to_compare(&base, &head) {
        Some(keys) => (
            crate::build::only(base_checked, &keys),
            crate::build::only(head_checked, &keys),
        ),
        None => (
            crate::build::all(base_checked),
            crate::build::all(head_checked),
        ),
    };
    let mut diff = crate::diff::diff(
        Version {
            repo: &base,
            bundles: &base_bundles,
        },
        Version {
            repo: &head,
            bundles: &head_bundles,
        },
        now,
    );
    let expired = touched_expired(&diff, &base, &head, &head_report.diagnostics);
    if !expired.is_empty() {
        super::render::diagnostics(out, format, dir, &head, &expired)?;
        return Ok(None);
    }
    let paths = changed_paths(&repository, revisions.base, revisions.head)?;
    let relative = relative.to_string_lossy().replace('\\', "/");
    // Test and experiment files are named from the flags repository: name them from the git
    // root, as the other files are.
    if !relative.is_empty() {
        for file in &mut diff.files {
            file.path = format!("{relative}/{}", file.path);
        }
    }
    diff.files
        .extend(crate::diff::other_files(&paths, &relative));
    std::mem::forget((base_bundles, head_bundles));
    Ok(Some(Compared {
        repository,
        base,
        head,
        diff,
    }))
}

/// The expiry warnings of the flags the change touches, as errors: a change to a flag past
/// its `expires` date must extend the date or remove the flag. A kill alone is exempt, so
/// that it is never held up.
fn touched_expired(
    diff: &Diff,
    base: &Repo,
    head: &Repo,
    findings: &[Diagnostic],
) -> Vec<Diagnostic> {
    // A flag changed only through a prerequisite or a segment is not touched: its file is
    // the same.
    fn source<'r>(repo: &'r Repo, key: &str) -> Option<&'r str> {
        let loaded = repo.flags.get(key)?;
        Some(repo.files[loaded.file].text.as_str())
    }
    let only_kills = |flag: &crate::diff::FlagDiff| {
        flag.owners.is_none()
            && flag.metadata.is_empty()
            && flag
                .environments
                .iter()
                .all(|e| e.kinds.iter().all(|k| *k == ChangeKind::Kill))
    };
    let files: Vec<&str> = diff
        .flags
        .iter()
        .filter(|flag| !only_kills(flag) && source(base, &flag.flag) != source(head, &flag.flag))
        .filter_map(|flag| head.flags.get(&flag.flag))
        .map(|loaded| head.files[loaded.file].path.as_str())
        .collect();
    findings
        .iter()
        .filter(|d| d.code == Code::Expired && files.contains(&d.file.as_str()))
        .map(|d| {
            let mut d = d.clone().with_severity(Severity::Error);
            d.help = Some(
                "the change touches this flag: extend `expires`, or remove the flag from code \
                 and from this repository"
                    .into(),
            );
            d
        })
        .collect()
}

/// The paths of the whole git repository that differ between `base` and `head` (the work
/// tree, untracked files included, when `None`).
fn changed_paths(
    repository: &git2::Repository,
    base: &str,
    head: Option<&str>,
) -> Result<Vec<(String, Status)>, Error> {
    let tree = |rev: &str| {
        repository
            .revparse_single(rev)
            .and_then(|o| o.peel_to_tree())
            .map_err(|e| format!("cannot read revision `{rev}`: {}", e.message()))
    };
    let base_tree = tree(base)?;
    let diff = match head {
        Some(head) => repository.diff_tree_to_tree(Some(&base_tree), Some(&tree(head)?), None),
        None => {
            let mut options = git2::DiffOptions::new();
            options.include_untracked(true).recurse_untracked_dirs(true);
            repository.diff_tree_to_workdir_with_index(Some(&base_tree), Some(&mut options))
        }
    }
    .map_err(|e| format!("cannot compare the revisions: {}", e.message()))?;
    let mut paths = Vec::new();
    for delta in diff.deltas() {
        let path =
            |file: git2::DiffFile<'_>| file.path().map(|p| p.to_string_lossy().replace('\\', "/"));
        match delta.status() {
            git2::Delta::Added | git2::Delta::Untracked => {
                paths.extend(path(delta.new_file()).map(|p| (p, Status::Added)));
            }
            git2::Delta::Deleted => {
                paths.extend(path(delta.old_file()).map(|p| (p, Status::Removed)));
            }
            git2::Delta::Renamed => {
                paths.extend(path(delta.old_file()).map(|p| (p, Status::Removed)));
                paths.extend(path(delta.new_file()).map(|p| (p, Status::Added)));
            }
            git2::Delta::Unmodified | git2::Delta::Ignored => {}
            _ => paths.extend(path(delta.new_file()).map(|p| (p, Status::Changed))),
        }
    }
    Ok(paths)
}

/// `dir` relative to the repository's work tree.
pub(super) fn relative_dir(repository: &git2::Repository, dir: &Path) -> Result<PathBuf, Error> {
    let workdir = repository
        .workdir()
        .ok_or("a bare git repository has no work tree")?
        .canonicalize()?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    Ok(dir.strip_prefix(&workdir)?.to_owned())
}
