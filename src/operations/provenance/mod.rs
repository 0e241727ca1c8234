//! Whether a checkout is faithful to git: what ships must be exactly what review judged.
//!
//! `diff` and `review` read git objects; `check` and a work-tree `build` read files. Three
//! things can make the files differ from the objects, and each is refused with a finding:
//!
//! - FS073 checkout-attribute: `.gitattributes` makes git rewrite a file the loader reads
//!   when it checks it out (`filter`, `ident`, `working-tree-encoding`). `text`, `eol`,
//!   `diff` and `merge` are allowed: they change line endings at most.
//! - FS074 submodule: a submodule in the repository directory (directly, or anywhere in the
//!   directories the loader reads): its files are another repository's.
//! - FS075 symlinked-repository: the repository directory, a directory above it (below the
//!   git root), one of its directories the loader reads or `flagstone.toml` is a symbolic
//!   link: git holds the link, the work tree the files it points to.
//!
//! In the work tree, symbolic links and `.git` entries are read from the file system (outside
//! a git repository too); gitlinks from HEAD and the index, and attributes from git itself
//! (git's own attribute lookup). In a revision, everything comes from the commit's tree,
//! with `.gitattributes` files matched here by git's rules.

mod attributes;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::diag::{Code, Diagnostic};
use crate::git::{Attributes, Commit, Descend, Kind, ObjectId, Repository, Tree};
use crate::load::{PROJECT_FILE, Repo, RepoError};
pub use crate::output::Source;

/// The directories below the repository directory that the loader reads.
const READ_DIRS: [&str; 4] = ["flags", "segments", "tests", "experiments"];

/// The attributes that make git rewrite a file on checkout.
const CHECKOUT_ATTRIBUTES: [&str; 3] = ["filter", "ident", "working-tree-encoding"];

/// Git ignores attribute files larger than this.
const MAX_ATTRIBUTES_BYTES: usize = 100 * 1024 * 1024;

const ATTRIBUTE_HELP: &str = "review reads the committed file, check and build the rewritten \
one: remove `filter`, `ident` and `working-tree-encoding` for the repository's files from \
.gitattributes (unset forms such as `-filter` are fine, and so are `text` and `eol`)";
const SUBMODULE_HELP: &str = "a submodule's files belong to another repository, which review \
does not read: copy the files into this repository instead";
const SYMLINK_HELP: &str = "git holds the link, not what it points to: review would read the \
link while check and build read its target; replace the link with the directory or file itself";

/// Loads the repository at `dir` from the work tree, with the findings of [`worktree`].
pub fn load(dir: &Path) -> Result<Repo, RepoError> {
    let mut repo = crate::load::load(dir)?;
    repo.diagnostics.extend(worktree(dir));
    Ok(repo)
}

/// Findings about the work tree at `dir`: what would make its files differ from what git
/// holds. Outside a git repository only the file system's part applies: symbolic links and
/// `.git` entries.
pub fn worktree(dir: &Path) -> Vec<Diagnostic> {
    let mut out = symlinked_path(dir);
    out.extend(worktree_inside(dir));
    dedupe(out)
}

fn worktree_inside(dir: &Path) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let files = scan_worktree(dir, &mut out);
    if let Some(at) = Located::discover(dir) {
        at.gitlinks(&mut out);
        at.attributes(&files, &mut out);
    }
    out
}

/// Findings about the repository directory `dir` (relative to the git root) in `commit`.
pub fn revision(repository: &Repository, commit: &Commit<'_>, dir: &Path) -> Vec<Diagnostic> {
    match commit.tree() {
        Ok(root) => {
            let relative = slashed(dir);
            let scan = scan_tree(repository, &root, &relative);
            revision_findings(repository, &scan, &relative)
        }
        Err(_) => Vec::new(),
    }
}

/// Loads the repository as it is at revision `rev`, from git objects, in the directory
/// `dir` of a work tree, with the findings of [`revision`] and of symbolic links on the path
/// `dir`. When the directory itself is a link or a submodule in the revision, the
/// repository holds those findings alone.
pub fn load_revision(dir: &Path, rev: &str) -> Result<(Repo, Source), RepoError> {
    if !dir.is_dir() {
        return Err(RepoError::NotADirectory(dir.to_path_buf()));
    }
    let repository = &Repository::discover(dir).map_err(RepoError::Git)?;
    let relative = &repository.relative(dir).map_err(RepoError::Git)?;
    let commit = resolve(repository, rev)?;
    let root = commit
        .tree()
        .map_err(|e| RepoError::Revision(rev.to_owned(), e))?;
    let slashed_relative = slashed(relative);
    let scan = scan_tree(repository, &root, &slashed_relative);
    let mut findings = symlinked_path(dir);
    findings.extend(revision_findings(repository, &scan, &slashed_relative));
    let findings = dedupe(findings);
    let source = Source {
        commit: commit.id().to_string(),
        tree: scan.tree.as_ref().map(|t| t.id().to_string()),
        dirty: false,
    };
    let repo = if scan.tree.is_none() && scan.blocked {
        Repo {
            diagnostics: findings,
            ..Repo::default()
        }
    } else {
        let mut repo = crate::load::load_revision(repository, &source.commit, relative, None)?;
        repo.diagnostics.extend(findings);
        repo
    };
    Ok((repo, source))
}

/// The commit HEAD points at in the git repository holding `dir`, the tree of `dir` in it,
/// and whether `repo` (loaded from `dir`) differs from it: a file whose bytes are not the
/// committed blob's, or a file on one side only. Not `git status`, which compares files
/// after git's filters and so would hide what they change. `None` outside a git
/// repository or before its first commit.
pub fn worktree_source(dir: &Path, repo: &Repo) -> Option<Source> {
    let at = Located::discover(dir)?;
    let commit = at.repository.head().ok()?;
    let root = commit.tree().ok()?;
    let scan = scan_tree(&at.repository, &root, &at.relative);
    let dirty = scan.tree.is_none() || differs(repo, &scan.files);
    Some(Source {
        commit: commit.id().to_string(),
        tree: scan.tree.as_ref().map(|t| t.id().to_string()),
        dirty,
    })
}

/// Why two versions cannot be compared: per version, what makes its checkout differ from
/// its git objects.
#[derive(Debug)]
pub struct Unfaithful {
    /// The version ("the head revision `abc`", "the work tree") and its findings.
    pub versions: Vec<(String, Vec<Diagnostic>)>,
}

impl fmt::Display for Unfaithful {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (version, findings)) in self.versions.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{version} does not check out as git holds it, so what ships need not be what \
                 is reviewed:"
            )?;
            for d in findings {
                write!(
                    f,
                    "\n  {}({}) {}: {}",
                    d.code.as_str(),
                    d.code.name(),
                    d.file,
                    d.message
                )?;
            }
        }
        write!(f, "\n(docs/diagnostics.md explains each code)")
    }
}

impl std::error::Error for Unfaithful {}

/// Refuses to compare two versions of the repository at `dir` (`relative` to the git root)
/// when either does not check out as git holds it: the revision `base`, and `head` (a
/// revision, or the work tree when `None`). A revision that cannot be read is left to the
/// loader to report.
pub fn require_faithful(
    repository: &Repository,
    dir: &Path,
    relative: &Path,
    base: &str,
    head: Option<&str>,
) -> Result<(), Unfaithful> {
    let mut versions = Vec::new();
    let path = symlinked_path(dir);
    if !path.is_empty() {
        versions.push((format!("the directory `{}`", dir.display()), path));
    }
    for (role, rev) in [("base", Some(base)), ("head", head)] {
        let (version, findings) = match rev {
            Some(rev) => {
                let Ok(commit) = resolve(repository, rev) else {
                    continue;
                };
                let findings = revision(repository, &commit, relative);
                (format!("the {role} revision `{rev}`"), findings)
            }
            None => ("the work tree".to_owned(), worktree_inside(dir)),
        };
        let mut findings = dedupe(findings);
        // In the loader's order: the directory, the project file, then flags, segments,
        // tests and experiments.
        findings.sort_by_key(|d| {
            let top = d.file.split('/').next().unwrap_or_default();
            let rank = [
                ".",
                PROJECT_FILE,
                "flags",
                "segments",
                "tests",
                "experiments",
            ]
            .iter()
            .position(|t| *t == top);
            (rank.unwrap_or(usize::MAX), d.file.clone())
        });
        if !findings.is_empty() {
            versions.push((version, findings));
        }
    }
    if versions.is_empty() {
        Ok(())
    } else {
        Err(Unfaithful { versions })
    }
}

fn resolve<'r>(repository: &'r Repository, rev: &str) -> Result<Commit<'r>, RepoError> {
    repository
        .commit(rev)
        .map_err(|e| RepoError::Revision(rev.to_owned(), e))
}

fn finding(code: Code, file: &str, message: String) -> Diagnostic {
    let help = match code {
        Code::CheckoutAttribute => ATTRIBUTE_HELP,
        Code::Submodule => SUBMODULE_HELP,
        _ => SYMLINK_HELP,
    };
    Diagnostic::new(code, file, None, message).with_help(help)
}

/// One finding per code and file: the first.
fn dedupe(findings: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = BTreeSet::new();
    findings
        .into_iter()
        .filter(|d| seen.insert((d.code, d.file.clone())))
        .collect()
}

/// A path as git names it: `/`-separated.
fn slashed(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

fn join(dir: &str, path: &str) -> String {
    if dir.is_empty() {
        path.to_owned()
    } else {
        format!("{dir}/{path}")
    }
}

/// Whether the loader reads the file at `path` (relative to the repository directory,
/// `/`-separated): flagstone.toml, and `.toml` files with no hidden name below flags/,
/// segments/ and experiments/, or directly in tests/.
fn read_by_loader(path: &str) -> bool {
    if path == PROJECT_FILE {
        return true;
    }
    let parts: Vec<&str> = path.split('/').collect();
    if !path.ends_with(".toml") || parts.iter().any(|p| p.starts_with('.')) {
        return false;
    }
    match parts[0] {
        "flags" | "segments" | "experiments" => parts.len() >= 2,
        "tests" => parts.len() == 2,
        _ => false,
    }
}

/// Whether a path relative to the repository directory is where a submodule matters:
/// directly in the directory, or in a directory the loader reads (no hidden names).
fn in_read_area(path: &str) -> bool {
    !path.split('/').any(|part| part.starts_with('.'))
        && match path.split_once('/') {
            None => true,
            Some((top, _)) => READ_DIRS.contains(&top),
        }
}

fn is_symlink(path: &Path) -> bool {
    path.symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
}

/// " (to `TARGET`)" for a symbolic link on disk.
fn link_target(path: &Path) -> String {
    std::fs::read_link(path)
        .map(|target| format!(" (to `{}`)", target.display()))
        .unwrap_or_default()
}

/// FS075 findings for the path `dir`: the directory itself, or a directory above it below
/// the git root (the nearest directory holding `.git`), as a symbolic link.
fn symlinked_path(dir: &Path) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Ok(absolute) = std::path::absolute(dir) else {
        return out;
    };
    if is_symlink(&absolute) {
        out.push(finding(
            Code::SymlinkedRepository,
            ".",
            format!(
                "the repository directory `{}` is a symbolic link{}",
                dir.display(),
                link_target(&absolute)
            ),
        ));
    }
    if absolute.join(".git").symlink_metadata().is_ok() {
        return out;
    }
    let mut links = Vec::new();
    for ancestor in absolute.ancestors().skip(1) {
        if ancestor.join(".git").symlink_metadata().is_ok() {
            for link in links {
                let shown = Path::strip_prefix(link, ancestor).unwrap_or(link);
                out.push(finding(
                    Code::SymlinkedRepository,
                    ".",
                    format!(
                        "`{}`, a directory the repository directory is in, is a symbolic link{}",
                        shown.display(),
                        link_target(link)
                    ),
                ));
            }
            break;
        }
        if is_symlink(ancestor) {
            links.push(ancestor);
        }
    }
    out
}

/// Walks the work tree as the loader reads it, reporting symbolic links among
/// flagstone.toml and the directories read (FS075) and `.git` entries in those directories
/// (FS074). Returns the files the loader reads, sorted.
fn scan_worktree(dir: &Path, out: &mut Vec<Diagnostic>) -> Vec<String> {
    let mut files = Vec::new();
    for top in std::iter::once(PROJECT_FILE).chain(READ_DIRS) {
        let path = dir.join(top);
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        if meta.file_type().is_symlink() {
            out.push(finding(
                Code::SymlinkedRepository,
                top,
                format!("`{top}` is a symbolic link{}", link_target(&path)),
            ));
            continue;
        }
        if top == PROJECT_FILE {
            if meta.is_file() {
                files.push(top.to_owned());
            }
            continue;
        }
        if !meta.is_dir() {
            continue;
        }
        // A stack, not recursion: a directory tree of any depth is walked.
        let mut stack = vec![(path, top.to_owned())];
        while let Some((path, relative)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if name == ".git" {
                    let what = if kind.is_dir() { "directory" } else { "file" };
                    out.push(finding(
                        Code::Submodule,
                        &relative,
                        format!(
                            "`{relative}` is a git submodule or a repository of its own: it \
                             holds a `.git` {what}"
                        ),
                    ));
                } else if kind.is_dir() && !name.starts_with('.') {
                    // Hidden directories are not read.
                    stack.push((entry.path(), format!("{relative}/{name}")));
                } else if kind.is_file() {
                    let child = format!("{relative}/{name}");
                    if read_by_loader(&child) {
                        files.push(child);
                    }
                }
            }
        }
    }
    files.sort();
    files
}

/// The git repository holding a work-tree directory, and the directory's path in it.
struct Located {
    repository: Repository,
    /// `/`-separated, relative to the work tree's root; empty for the root.
    relative: String,
}

impl Located {
    fn discover(dir: &Path) -> Option<Located> {
        let repository = Repository::discover(dir).ok()?;
        let relative = slashed(&repository.relative(dir).ok()?);
        Some(Located {
            repository,
            relative,
        })
    }

    /// `path` (relative to the git root) relative to the repository directory, if inside it.
    fn inside<'p>(&self, path: &'p str) -> Option<&'p str> {
        if self.relative.is_empty() {
            Some(path)
        } else {
            path.strip_prefix(self.relative.as_str())?.strip_prefix('/')
        }
    }

    /// FS074 for gitlinks in the index and in HEAD.
    fn gitlinks(&self, out: &mut Vec<Diagnostic>) {
        if let Some(index) = self.repository.index() {
            for entry in index {
                if !entry.gitlink {
                    continue;
                }
                if let Some(inside) = self.inside(&entry.path).filter(|p| in_read_area(p)) {
                    out.push(finding(
                        Code::Submodule,
                        inside,
                        format!("`{inside}` is a git submodule: the index records it as one"),
                    ));
                }
            }
        }
        let head = self.repository.head().and_then(|h| h.tree());
        if let Ok(root) = head {
            let scan = scan_tree(&self.repository, &root, &self.relative);
            out.extend(
                revision_findings(&self.repository, &scan, &self.relative)
                    .into_iter()
                    .filter(|d| d.code == Code::Submodule),
            );
        }
    }

    /// Whether a `.gitattributes` file in the index differs from the work tree's (which
    /// takes precedence when it exists).
    fn index_attributes_differ(&self) -> bool {
        let (Some(index), Some(workdir)) = (self.repository.index(), self.repository.work_tree())
        else {
            return true;
        };
        index.iter().any(|entry| {
            let path = &entry.path;
            if path != ".gitattributes" && !path.ends_with("/.gitattributes") {
                return false;
            }
            let file = workdir.join(path);
            file.exists() && crate::git::hash_file(&file).is_some_and(|id| id != entry.id)
        })
    }

    /// FS073 for the files the loader reads that git rewrites on checkout, by the attributes
    /// git gives them from the work tree's `.gitattributes` files, the index's, and git's
    /// configuration.
    fn attributes(&self, files: &[String], out: &mut Vec<Diagnostic>) {
        // The work tree's `.gitattributes` files, or the index's where the work tree has
        // none; and the index's alone when one of them differs from the work tree's.
        let mut sources = vec![Attributes::FileThenIndex];
        if self.index_attributes_differ() {
            sources.push(Attributes::IndexOnly);
        }
        let mut origins = Origins::default();
        for file in files {
            let path = PathBuf::from(join(&self.relative, file));
            let mut set = BTreeSet::new();
            for name in CHECKOUT_ATTRIBUTES {
                for flags in &sources {
                    match self.repository.attribute(&path, name, *flags) {
                        Ok(value) => {
                            let shown = match value {
                                Some(None) => format!("`{name}`"),
                                Some(Some(v)) => format!("`{name}={v}`"),
                                None => continue,
                            };
                            let origin = origins.of(&self.repository, &path, name);
                            set.insert(format!("{shown}{origin}"));
                        }
                        Err(e) => {
                            set.insert(format!("`{name}` cannot be read: {e}"));
                        }
                    }
                }
            }
            if !set.is_empty() {
                let set: Vec<String> = set.into_iter().collect();
                out.push(finding(
                    Code::CheckoutAttribute,
                    file,
                    format!(
                        "git rewrites this file when it checks it out ({})",
                        set.join(", ")
                    ),
                ));
            }
        }
    }
}

/// Where an attribute git gives a work-tree file comes from, for messages: the line of a
/// `.gitattributes` file on the way to it, when one sets it.
#[derive(Default)]
struct Origins {
    /// Parsed `.gitattributes` files by directory (relative to the git root); `None` when
    /// the directory has none.
    files: BTreeMap<String, Option<attributes::File>>,
    macros: attributes::Macros,
}

impl Origins {
    /// " from `.gitattributes` line N" for the attribute `name` of the file at `path`
    /// (relative to the git root), or nothing when no `.gitattributes` file sets it (it
    /// then comes from git's configuration or `.git/info/attributes`).
    fn of(&mut self, repository: &Repository, path: &Path, name: &str) -> String {
        let Some(workdir) = repository.work_tree() else {
            return String::new();
        };
        if self.macros.is_empty() {
            self.macros = attributes::builtin_macros();
        }
        let path = slashed(path);
        // The root first, so that its macros are known before they are used.
        let mut dirs = vec![String::new()];
        let mut dir = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            dir = join(&dir, part);
            dirs.push(dir.clone());
        }
        for dir in &dirs {
            if !self.files.contains_key(dir) {
                let file = join(dir, ".gitattributes");
                let full = workdir.join(&file);
                let parsed = (!is_symlink(&full))
                    .then(|| std::fs::read(&full).ok())
                    .flatten()
                    .map(|bytes| attributes::parse(&file, &bytes, &mut self.macros));
                self.files.insert(dir.clone(), parsed);
            }
        }
        let files: Vec<&attributes::File> = dirs
            .iter()
            .filter_map(|d| self.files.get(d).and_then(Option::as_ref))
            .collect();
        let decided = attributes::attributes_of(&path, files, &self.macros);
        match decided.get(name) {
            Some(d)
                if matches!(
                    d.state,
                    attributes::State::Set | attributes::State::Value(_)
                ) =>
            {
                format!(" from `{}` line {}", d.file, d.line)
            }
            _ => String::new(),
        }
    }
}

/// What a commit's tree holds at and in the repository directory.
struct TreeScan<'r> {
    /// The repository directory's tree, when the path leads to one.
    tree: Option<Tree<'r>>,
    /// Whether the path to the directory is a symbolic link or a submodule (then `tree` is
    /// `None`): findings, not a missing directory.
    blocked: bool,
    findings: Vec<Diagnostic>,
    /// The files the loader reads (relative to the directory) and their blob ids.
    files: Vec<(String, ObjectId)>,
    /// The `.gitattributes` files that apply to them (relative to the git root).
    attribute_files: Vec<(String, ObjectId)>,
    /// Symbolic links among flagstone.toml and the directories the loader reads.
    links: Vec<(String, ObjectId)>,
    /// Gitlinks in the directory or the directories the loader reads, and their commits.
    gitlinks: Vec<(String, ObjectId)>,
}

/// A link's target, as git stores it (the blob's text), for messages.
fn blob_target(repository: &Repository, id: ObjectId) -> String {
    match repository.blob(id) {
        Ok(blob) if blob.len() <= 4096 => format!(" (to `{}`)", String::from_utf8_lossy(&blob)),
        _ => String::new(),
    }
}

fn short(id: ObjectId) -> String {
    id.to_string().chars().take(12).collect()
}

/// Reads the repository directory `relative` of a commit's `root` tree.
fn scan_tree<'r>(repository: &'r Repository, root: &Tree<'r>, relative: &str) -> TreeScan<'r> {
    let mut scan = TreeScan {
        tree: None,
        blocked: false,
        findings: Vec::new(),
        files: Vec::new(),
        attribute_files: Vec::new(),
        links: Vec::new(),
        gitlinks: Vec::new(),
    };
    let attribute_file = |tree: &Tree<'_>, dir: &str, into: &mut Vec<(String, ObjectId)>| {
        if let Some(entry) = tree.get_name(".gitattributes")
            && entry.kind == Kind::Blob
        {
            into.push((join(dir, ".gitattributes"), entry.id));
        }
    };
    let components: Vec<&str> = relative.split('/').filter(|c| !c.is_empty()).collect();
    let mut current = root.clone();
    let mut prefix = String::new();
    for (i, component) in components.iter().enumerate() {
        attribute_file(&current, &prefix, &mut scan.attribute_files);
        let path = join(&prefix, component);
        let Some(entry) = current.get_name(component) else {
            return scan;
        };
        let what = if i + 1 == components.len() {
            format!("the repository directory `{path}`")
        } else {
            format!("`{path}`, a directory the repository directory is in,")
        };
        let next = match entry.kind {
            Kind::Tree => match current.child(&entry) {
                Ok(tree) => tree,
                Err(_) => return scan,
            },
            Kind::Link => {
                let target = blob_target(repository, entry.id);
                scan.findings.push(finding(
                    Code::SymlinkedRepository,
                    ".",
                    format!("{what} is a symbolic link in git{target}"),
                ));
                scan.blocked = true;
                return scan;
            }
            Kind::Submodule => {
                scan.findings.push(finding(
                    Code::Submodule,
                    ".",
                    format!(
                        "{what} is a git submodule: git records it as a gitlink to commit {}",
                        short(entry.id)
                    ),
                ));
                scan.blocked = true;
                return scan;
            }
            _ => return scan,
        };
        current = next;
        prefix = path;
    }
    attribute_file(&current, &prefix, &mut scan.attribute_files);
    let base = prefix;
    let walked = current.walk(|parent, entry| {
        let name = entry.lossy_name();
        let path = format!("{parent}{name}");
        let top = parent.is_empty();
        match entry.kind {
            Kind::Submodule if in_read_area(&path) => {
                scan.gitlinks.push((path, entry.id));
            }
            // Hidden directories are not read.
            Kind::Tree if name.starts_with('.') => return Descend::No,
            // At the top, only the directories the loader reads; below them, everything.
            Kind::Tree if top && !READ_DIRS.contains(&name.as_ref()) => return Descend::No,
            Kind::Link if top && (name == PROJECT_FILE || READ_DIRS.contains(&name.as_ref())) => {
                scan.links.push((path, entry.id));
            }
            // The directory's own `.gitattributes` is read above; git does not follow links.
            Kind::Blob if !top && name == ".gitattributes" => {
                scan.attribute_files.push((join(&base, &path), entry.id));
            }
            Kind::Blob if read_by_loader(&path) => {
                scan.files.push((path, entry.id));
            }
            _ => {}
        }
        Descend::Yes
    });
    // A tree that cannot be walked fails loading too, with the loader's message.
    let _ = walked;
    scan.tree = Some(current);
    scan
}

/// The findings of a scanned revision: the path's, links, gitlinks and attributes.
fn revision_findings(
    repository: &Repository,
    scan: &TreeScan<'_>,
    relative: &str,
) -> Vec<Diagnostic> {
    let mut out = scan.findings.clone();
    for (path, id) in &scan.links {
        let target = blob_target(repository, *id);
        out.push(finding(
            Code::SymlinkedRepository,
            path,
            format!("`{path}` is a symbolic link in git{target}"),
        ));
    }
    for (path, id) in &scan.gitlinks {
        out.push(finding(
            Code::Submodule,
            path,
            format!(
                "`{path}` is a git submodule: git records it as a gitlink to commit {}",
                short(*id)
            ),
        ));
    }
    let mut macros = attributes::builtin_macros();
    let mut files = Vec::new();
    for (path, id) in &scan.attribute_files {
        if let Ok(blob) = repository.blob(*id)
            && blob.len() <= MAX_ATTRIBUTES_BYTES
        {
            files.push(attributes::parse(path, &blob, &mut macros));
        }
    }
    if files.is_empty() {
        return out;
    }
    for (file, _) in &scan.files {
        let decided = attributes::attributes_of(&join(relative, file), files.iter(), &macros);
        let set: Vec<String> = CHECKOUT_ATTRIBUTES
            .iter()
            .filter_map(|name| {
                let d = decided.get(*name)?;
                let shown = match &d.state {
                    attributes::State::Set => format!("`{name}`"),
                    attributes::State::Value(v) => format!("`{name}={v}`"),
                    attributes::State::Unset | attributes::State::Unspecified => return None,
                };
                Some(format!("{shown} from `{}` line {}", d.file, d.line))
            })
            .collect();
        if !set.is_empty() {
            out.push(finding(
                Code::CheckoutAttribute,
                file,
                format!(
                    "git would rewrite this file when it checks it out ({})",
                    set.join(", ")
                ),
            ));
        }
    }
    out
}

/// Whether the files of `repo` differ from the `committed` blobs (path → id).
fn differs(repo: &Repo, committed: &[(String, ObjectId)]) -> bool {
    let mut committed: BTreeMap<&str, ObjectId> =
        committed.iter().map(|(p, id)| (p.as_str(), *id)).collect();
    for (i, file) in repo.files.iter().enumerate() {
        let Some(id) = committed.remove(file.path.as_str()) else {
            return true;
        };
        if !same_blob(repo.text(i).as_bytes(), id) {
            return true;
        }
    }
    !committed.is_empty()
}

/// Whether `bytes` are the blob `id`: byte for byte, as git would store them unfiltered. A
/// CRLF checkout of LF blobs (`text`, `eol`, `core.autocrlf`) differs: TOML keeps the line
/// ends inside multi-line strings, so its bundles can too.
fn same_blob(bytes: &[u8], id: ObjectId) -> bool {
    crate::git::hash_blob(bytes) == Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loader_s_files_are_recognised() {
        for read in [
            "flagstone.toml",
            "flags/a.toml",
            "flags/a/b.toml",
            "tests/t.toml",
            "experiments/e.toml",
        ] {
            assert!(read_by_loader(read), "{read}");
        }
        for skipped in [
            "README.md",
            "flags/README.md",
            "flags/.hidden/a.toml",
            "tests/sub/t.toml",
            "other/a.toml",
            "flags.toml",
        ] {
            assert!(!read_by_loader(skipped), "{skipped}");
        }
    }
}
