//! Comparing two versions of a flags repository: both loaded from git (the head may be the
//! work tree), checked, built as far as the flags that may differ, and diffed.

use std::path::{Path, PathBuf};

use crate::bundle::Bundle;
use crate::diag::{Code, Diagnostic, Severity};
use crate::diff::{Diff, FlagDiff, Status, Version};
use crate::git::{Change, GitError, Repository};
use crate::load::{Repo, RepoError};
use crate::model::ChangeKind;
use crate::provenance::Unfaithful;

/// Two versions of the flags repository at `dir`: git revisions, or the work tree as head.
pub struct Revisions<'a> {
    pub dir: &'a Path,
    pub base: &'a str,
    /// `None`: the work tree as it is.
    pub head: Option<&'a str>,
}

/// A version, loaded, and its check's findings.
pub struct Side {
    pub repo: Repo,
    pub diagnostics: Vec<Diagnostic>,
    /// The bundles built to compare: only the flags that may differ, with what evaluating
    /// them needs; none when either side has errors.
    pub bundles: Vec<Bundle>,
}

impl Side {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// What comparing found.
pub enum Comparison {
    /// Both versions check; what differs.
    Compared(Compared),
    /// The base has errors: there is nothing to compare with.
    BaseErrors(Side),
    /// The head has errors.
    HeadErrors { base: Side, head: Side },
    /// The change touches flags past their `expires` date: those expiry findings, as errors.
    TouchesExpired {
        base: Side,
        head: Side,
        expired: Vec<Diagnostic>,
    },
}

/// Both versions, checked, and what differs between them.
pub struct Compared {
    pub repository: Repository,
    /// The flags repository's directory, relative to the work tree's root.
    pub relative: PathBuf,
    pub base: Side,
    pub head: Side,
    pub diff: Diff,
}

/// Why two versions could not be compared.
#[derive(Debug)]
pub enum CompareError {
    /// The directory is not in a git repository's work tree.
    Git(GitError),
    /// A version would not check out as git holds it.
    Unfaithful(Unfaithful),
    Load(RepoError),
    /// A revision whose tree cannot be read.
    Revision {
        rev: String,
        error: GitError,
    },
    /// The trees could not be compared.
    Paths(GitError),
}

impl std::fmt::Display for CompareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompareError::Git(e) => e.fmt(f),
            CompareError::Unfaithful(e) => e.fmt(f),
            CompareError::Load(e) => e.fmt(f),
            CompareError::Revision { rev, error } => {
                write!(f, "cannot read revision `{rev}`: {error}")
            }
            CompareError::Paths(e) => write!(f, "cannot compare the revisions: {e}"),
        }
    }
}

impl std::error::Error for CompareError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CompareError::Git(e) | CompareError::Paths(e) => Some(e),
            CompareError::Revision { error, .. } => Some(error),
            CompareError::Unfaithful(e) => Some(e),
            CompareError::Load(e) => Some(e),
        }
    }
}

impl From<RepoError> for CompareError {
    fn from(e: RepoError) -> CompareError {
        CompareError::Load(e)
    }
}

/// Loads, checks and compares two versions at `now` (milliseconds since the Unix epoch).
pub fn compare(revisions: &Revisions<'_>, now: i64) -> Result<Comparison, CompareError> {
    let dir = revisions.dir;
    let repository = Repository::discover(dir).map_err(CompareError::Git)?;
    let relative = repository.relative(dir).map_err(CompareError::Git)?;
    // What ships must be what is reviewed: refuse versions that would not check out as read.
    crate::provenance::require_faithful(
        &repository,
        dir,
        &relative,
        revisions.base,
        revisions.head,
    )
    .map_err(CompareError::Unfaithful)?;
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
    let (Some(base_checked), Some(head_checked)) = (base_report.checked(), head_report.checked())
    else {
        let base_errors = base_report.has_errors();
        let (base_findings, head_findings) = (base_report.diagnostics, head_report.diagnostics);
        let base = Side {
            repo: base,
            diagnostics: base_findings,
            bundles: Vec::new(),
        };
        if base_errors {
            return Ok(Comparison::BaseErrors(base));
        }
        let head = Side {
            repo: head,
            diagnostics: head_findings,
            bundles: Vec::new(),
        };
        return Ok(Comparison::HeadErrors { base, head });
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
    let (base_findings, head_findings) = (base_report.diagnostics, head_report.diagnostics);
    let base = Side {
        repo: base,
        diagnostics: base_findings,
        bundles: base_bundles,
    };
    let head = Side {
        repo: head,
        diagnostics: head_findings,
        bundles: head_bundles,
    };
    if !expired.is_empty() {
        return Ok(Comparison::TouchesExpired {
            base,
            head,
            expired,
        });
    }
    let paths = changed_paths(&repository, revisions.base, revisions.head)?;
    let slashed = relative.to_string_lossy().replace('\\', "/");
    // Test and experiment files are named from the flags repository: name them from the git
    // root, as the other files are.
    if !slashed.is_empty() {
        for file in &mut diff.files {
            file.path = format!("{slashed}/{}", file.path);
        }
    }
    diff.files
        .extend(crate::diff::other_files(&paths, &slashed));
    Ok(Comparison::Compared(Compared {
        repository,
        relative,
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
    let only_kills = |flag: &FlagDiff| {
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
    repository: &Repository,
    base: &str,
    head: Option<&str>,
) -> Result<Vec<(String, Status)>, CompareError> {
    let tree = |rev: &str| {
        repository
            .tree(rev)
            .map_err(|error| CompareError::Revision {
                rev: rev.to_owned(),
                error,
            })
    };
    let base_tree = tree(base)?;
    let head_tree = head.map(tree).transpose()?;
    let changes = repository
        .changed_paths(&base_tree, head_tree.as_ref())
        .map_err(CompareError::Paths)?;
    Ok(changes
        .into_iter()
        .map(|change| match change {
            Change::Added(path) => (path, Status::Added),
            Change::Removed(path) => (path, Status::Removed),
            Change::Changed(path) => (path, Status::Changed),
        })
        .collect())
}
