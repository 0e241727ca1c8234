//! Git, through one small interface: the rest of the crate names no git library. Reading
//! revisions (commits, trees, blobs), the work tree's place, the one walk of history that
//! dates flags and finds the keys they had, and committing an edit.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Why a git operation failed.
#[derive(Debug)]
pub enum GitError {
    /// No git repository holds the directory.
    NotARepository(PathBuf),
    /// The repository is bare: it has no work tree.
    Bare,
    /// HEAD names a branch with no commit yet.
    Unborn(String),
    /// A revision that names no commit, or an object that cannot be read: git's message.
    Git(String),
    /// A file or directory that cannot be read.
    Io { path: PathBuf, message: String },
    /// git itself could not be run (to find who commits).
    CannotRun(String),
    /// `git var` found no identity to commit as: the last line git printed.
    NoIdentity(String),
}

impl std::fmt::Display for GitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitError::NotARepository(dir) => {
                write!(f, "{} is not inside a git repository", dir.display())
            }
            GitError::Bare => write!(f, "a bare git repository has no work tree"),
            GitError::Unborn(message) | GitError::Git(message) => write!(f, "{message}"),
            GitError::Io { path, message } => {
                write!(f, "cannot read {}: {message}", path.display())
            }
            GitError::CannotRun(e) => write!(f, "cannot run git: {e}"),
            GitError::NoIdentity(reason) => write!(
                f,
                "no git identity: set user.name and user.email (git config), or \
                 GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL; git says: {reason}"
            ),
        }
    }
}

impl std::error::Error for GitError {}

impl From<git2::Error> for GitError {
    fn from(e: git2::Error) -> GitError {
        match e.code() {
            git2::ErrorCode::UnbornBranch => GitError::Unborn(e.message().to_owned()),
            _ => GitError::Git(e.message().to_owned()),
        }
    }
}

/// A git object's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(git2::Oid);

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The id git gives a blob holding `bytes`.
pub fn hash_blob(bytes: &[u8]) -> Option<ObjectId> {
    git2::Oid::hash_object(git2::ObjectType::Blob, bytes)
        .ok()
        .map(ObjectId)
}

/// The id git gives a blob holding the file at `path`'s bytes.
pub fn hash_file(path: &Path) -> Option<ObjectId> {
    git2::Oid::hash_file(git2::ObjectType::Blob, path)
        .ok()
        .map(ObjectId)
}

/// Reading history reads many objects: like git itself, trust the object store instead of
/// hashing every object again (libgit2 does by default). Applies to the whole process.
pub fn trust_object_store() {
    git2::opts::strict_hash_verification(false);
}

/// What a tree entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tree,
    Blob,
    /// A symbolic link: a blob holding its target.
    Link,
    /// A submodule: a commit of another repository.
    Submodule,
    Other,
}

/// One entry of a tree.
#[derive(Clone, Debug)]
pub struct Entry {
    name: Vec<u8>,
    pub id: ObjectId,
    pub kind: Kind,
}

impl Entry {
    /// Its name; `None` when it is not UTF-8.
    pub fn name(&self) -> Option<&str> {
        std::str::from_utf8(&self.name).ok()
    }

    /// Its name, any bytes that are not UTF-8 replaced.
    pub fn lossy_name(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }

    fn of(entry: &git2::TreeEntry<'_>) -> Entry {
        let kind = match entry.kind() {
            Some(git2::ObjectType::Tree) => Kind::Tree,
            Some(git2::ObjectType::Commit) => Kind::Submodule,
            Some(git2::ObjectType::Blob) if entry.filemode() == i32::from(git2::FileMode::Link) => {
                Kind::Link
            }
            Some(git2::ObjectType::Blob) => Kind::Blob,
            _ => Kind::Other,
        };
        Entry {
            name: entry.name_bytes().to_vec(),
            id: ObjectId(entry.id()),
            kind,
        }
    }
}

/// Whether a walk of a tree enters a directory.
pub enum Descend {
    Yes,
    No,
}

/// A repository, found from a directory inside its work tree.
pub struct Repository(git2::Repository);

/// A commit of a [`Repository`].
pub struct Commit<'r> {
    repository: &'r git2::Repository,
    commit: git2::Commit<'r>,
}

/// A tree (a directory) of a [`Repository`].
#[derive(Clone)]
pub struct Tree<'r> {
    repository: &'r git2::Repository,
    tree: git2::Tree<'r>,
}

/// A commit's author or committer.
pub struct Person {
    /// `None` when it is not UTF-8.
    pub email: Option<String>,
}

impl Repository {
    /// The repository holding `dir`, looking in it and its parents.
    pub fn discover(dir: &Path) -> Result<Repository, GitError> {
        git2::Repository::discover(dir)
            .map(Repository)
            .map_err(|_| GitError::NotARepository(dir.to_owned()))
    }

    /// The root of the work tree, canonical.
    pub fn workdir(&self) -> Result<PathBuf, GitError> {
        let workdir = self.0.workdir().ok_or(GitError::Bare)?;
        workdir.canonicalize().map_err(|e| GitError::Io {
            path: workdir.to_owned(),
            message: e.to_string(),
        })
    }

    /// `path` (which must exist) relative to the root of the work tree.
    pub fn relative(&self, path: &Path) -> Result<PathBuf, GitError> {
        let workdir = self.workdir()?;
        let canonical = path.canonicalize().map_err(|e| GitError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        canonical
            .strip_prefix(&workdir)
            .map(Path::to_owned)
            .map_err(|_| GitError::Io {
                path: path.to_owned(),
                message: format!("it is outside the work tree {}", workdir.display()),
            })
    }

    /// Whether the repository is a shallow clone: its history stops short.
    pub fn is_shallow(&self) -> bool {
        self.0.is_shallow()
    }

    /// The root of the work tree as git found it (not canonical); `None` when bare.
    pub fn work_tree(&self) -> Option<&Path> {
        self.0.workdir()
    }

    /// The entries of the index; `None` when it cannot be read.
    pub fn index(&self) -> Option<Vec<IndexEntry>> {
        let index = self.0.index().ok()?;
        Some(
            index
                .iter()
                .map(|entry| IndexEntry {
                    path: String::from_utf8_lossy(&entry.path).into_owned(),
                    id: ObjectId(entry.id),
                    gitlink: entry.mode == u32::from(git2::FileMode::Commit),
                })
                .collect(),
        )
    }

    /// The value git gives the attribute `name` of the work-tree file `path` (relative to
    /// the root), reading `.gitattributes` files from `from`: `None` when unset or
    /// unspecified, `Some(None)` when set, `Some(Some(value))` when it has a value.
    pub fn attribute(
        &self,
        path: &Path,
        name: &str,
        from: Attributes,
    ) -> Result<Option<Option<String>>, GitError> {
        let flags = match from {
            Attributes::FileThenIndex => git2::AttrCheckFlags::FILE_THEN_INDEX,
            Attributes::IndexOnly => git2::AttrCheckFlags::INDEX_ONLY,
        };
        let value = self.0.get_attr_bytes(path, name, flags)?;
        Ok(match git2::AttrValue::from_bytes(value) {
            git2::AttrValue::True => Some(None),
            git2::AttrValue::String(v) => Some(Some(v.to_owned())),
            git2::AttrValue::Bytes(v) => Some(Some(String::from_utf8_lossy(v).into_owned())),
            git2::AttrValue::False | git2::AttrValue::Unspecified => None,
        })
    }

    /// The commit `rev` names.
    pub fn commit(&self, rev: &str) -> Result<Commit<'_>, GitError> {
        let commit = self
            .0
            .revparse_single(rev)
            .and_then(|o| o.peel_to_commit())?;
        Ok(Commit {
            repository: &self.0,
            commit,
        })
    }

    /// The commit HEAD points at; [`GitError::Unborn`] before the first commit.
    pub fn head(&self) -> Result<Commit<'_>, GitError> {
        let commit = self.0.head().and_then(|h| h.peel_to_commit())?;
        Ok(Commit {
            repository: &self.0,
            commit,
        })
    }

    /// The tree `rev` names (a commit's, or a tree itself).
    pub fn tree(&self, rev: &str) -> Result<Tree<'_>, GitError> {
        let tree = self.0.revparse_single(rev).and_then(|o| o.peel_to_tree())?;
        Ok(Tree {
            repository: &self.0,
            tree,
        })
    }

    /// The bytes of the blob `id`.
    pub fn blob(&self, id: ObjectId) -> Result<Vec<u8>, GitError> {
        Ok(self.0.find_blob(id.0)?.content().to_vec())
    }

    /// Commits, newest first: from HEAD along first parents (where a file's history runs),
    /// or every commit HEAD reaches, in topological order. `None` before the first commit.
    /// An item fails where a shallow clone's history is cut.
    pub fn history(&self, order: Order) -> Result<Option<History<'_>>, GitError> {
        let head = match self.head() {
            Ok(head) => head,
            Err(GitError::Unborn(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let walk = match order {
            Order::FirstParent => Walk::FirstParent(Some(head)),
            Order::Topological => {
                let mut walk = self.0.revwalk()?;
                walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)?;
                walk.push(head.commit.id())?;
                Walk::All(walk)
            }
        };
        Ok(Some(History {
            repository: &self.0,
            walk,
        }))
    }

    /// The commits of `base..head` (those `head` reaches and `base` does not).
    pub fn range(&self, base: &str, head: &str) -> Result<Vec<Commit<'_>>, GitError> {
        let mut walk = self.0.revwalk()?;
        walk.push_range(&format!("{base}..{head}"))?;
        walk.map(|id| {
            Ok(Commit {
                repository: &self.0,
                commit: self.0.find_commit(id?)?,
            })
        })
        .collect()
    }

    /// The paths of the whole repository that differ between the trees `base` and `head`,
    /// or between `base` and the work tree (untracked files included) when `head` is `None`.
    pub fn changed_paths(
        &self,
        base: &Tree<'_>,
        head: Option<&Tree<'_>>,
    ) -> Result<Vec<Change>, GitError> {
        let diff = match head {
            Some(head) => self
                .0
                .diff_tree_to_tree(Some(&base.tree), Some(&head.tree), None),
            None => {
                let mut options = git2::DiffOptions::new();
                options.include_untracked(true).recurse_untracked_dirs(true);
                self.0
                    .diff_tree_to_workdir_with_index(Some(&base.tree), Some(&mut options))
            }
        }?;
        let path =
            |file: git2::DiffFile<'_>| file.path().map(|p| p.to_string_lossy().replace('\\', "/"));
        let mut paths = Vec::new();
        for delta in diff.deltas() {
            match delta.status() {
                git2::Delta::Added | git2::Delta::Untracked => {
                    paths.extend(path(delta.new_file()).map(Change::Added));
                }
                git2::Delta::Deleted => {
                    paths.extend(path(delta.old_file()).map(Change::Removed));
                }
                git2::Delta::Renamed => {
                    paths.extend(path(delta.old_file()).map(Change::Removed));
                    paths.extend(path(delta.new_file()).map(Change::Added));
                }
                git2::Delta::Unmodified | git2::Delta::Ignored => {}
                _ => paths.extend(path(delta.new_file()).map(Change::Changed)),
            }
        }
        Ok(paths)
    }

    /// Commits `text` as the file `file` (in the work tree) on HEAD, alone: other staged
    /// changes stay staged. The file is written first, atomically, by `write`; the index
    /// then follows for this file only, so that `git status` shows it clean. Refused when
    /// the file differs from HEAD already: the commit would carry changes nobody asked for.
    /// Returns the commit's id.
    pub fn commit_file(
        &self,
        file: &Path,
        old: &str,
        new: &str,
        message: &str,
        write: impl FnOnce() -> Result<(), crate::fs::WriteError>,
    ) -> Result<ObjectId, CommitError> {
        let workdir = self.workdir()?;
        let relative = self.relative(file)?;
        let head = self.head().map_err(CommitError::NoHead)?;
        let head_tree = head.commit.tree().map_err(GitError::from)?;
        let committed = head_tree
            .get_path(&relative)
            .ok()
            .and_then(|entry| self.0.find_blob(entry.id()).ok())
            .map(|blob| blob.content().to_vec());
        if committed.as_deref() != Some(old.as_bytes()) {
            return Err(CommitError::Uncommitted(relative));
        }
        let author = identity(&workdir, "GIT_AUTHOR_IDENT")?;
        let committer = identity(&workdir, "GIT_COMMITTER_IDENT")?;
        let git = |e: git2::Error| CommitError::Git(e.into());
        let blob = self.0.blob(new.as_bytes()).map_err(git)?;
        let mut update = git2::build::TreeUpdateBuilder::new();
        update.upsert(&relative, blob, git2::FileMode::Blob);
        let tree = update
            .create_updated(&self.0, &head_tree)
            .and_then(|id| self.0.find_tree(id))
            .map_err(git)?;
        write().map_err(CommitError::Write)?;
        let id = self
            .0
            .commit(
                Some("HEAD"),
                &author,
                &committer,
                message,
                &tree,
                &[&head.commit],
            )
            .map_err(git)?;
        let mut index = self.0.index().map_err(git)?;
        index.add_path(&relative).map_err(git)?;
        index.write().map_err(git)?;
        Ok(ObjectId(id))
    }
}

/// Why committing a file failed.
#[derive(Debug)]
pub enum CommitError {
    /// HEAD has no commit to build on.
    NoHead(GitError),
    /// The file (its path in the work tree) differs from HEAD's already.
    Uncommitted(PathBuf),
    Git(GitError),
    Write(crate::fs::WriteError),
}

impl std::fmt::Display for CommitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommitError::NoHead(e) => write!(f, "no commit to build on: {e}"),
            CommitError::Uncommitted(path) => {
                write!(f, "{} has uncommitted changes", path.display())
            }
            CommitError::Git(e) => e.fmt(f),
            CommitError::Write(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CommitError {}

impl From<GitError> for CommitError {
    fn from(e: GitError) -> CommitError {
        CommitError::Git(e)
    }
}

/// One entry of the index.
pub struct IndexEntry {
    /// `/`-separated from the root, bytes that are not UTF-8 replaced.
    pub path: String,
    pub id: ObjectId,
    /// Whether it is a submodule's commit.
    pub gitlink: bool,
}

/// Where [`Repository::attribute`] reads `.gitattributes` files.
#[derive(Clone, Copy)]
pub enum Attributes {
    /// The work tree's, or the index's where the work tree has none.
    FileThenIndex,
    IndexOnly,
}

/// A path that differs between two versions, `/`-separated from the repository's root.
pub enum Change {
    Added(String),
    Removed(String),
    Changed(String),
}

/// The order of [`Repository::history`].
pub enum Order {
    FirstParent,
    Topological,
}

enum Walk<'r> {
    FirstParent(Option<Commit<'r>>),
    All(git2::Revwalk<'r>),
}

/// Commits, newest first; see [`Repository::history`].
pub struct History<'r> {
    repository: &'r git2::Repository,
    walk: Walk<'r>,
}

impl<'r> Iterator for History<'r> {
    type Item = Result<Commit<'r>, GitError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.walk {
            Walk::FirstParent(next) => {
                let commit = next.take()?;
                // In a shallow clone the oldest commit's parent is missing: history ends there.
                *next = commit.commit.parents().next().map(|parent| Commit {
                    repository: self.repository,
                    commit: parent,
                });
                Some(Ok(commit))
            }
            Walk::All(walk) => {
                let id = match walk.next()? {
                    Ok(id) => id,
                    Err(e) => return Some(Err(e.into())),
                };
                Some(
                    self.repository
                        .find_commit(id)
                        .map(|commit| Commit {
                            repository: self.repository,
                            commit,
                        })
                        .map_err(GitError::from),
                )
            }
        }
    }
}

impl<'r> Commit<'r> {
    pub fn id(&self) -> ObjectId {
        ObjectId(self.commit.id())
    }

    /// The commit's time, in seconds since the Unix epoch.
    pub fn seconds(&self) -> i64 {
        self.commit.time().seconds()
    }

    /// The root tree.
    pub fn tree(&self) -> Result<Tree<'r>, GitError> {
        Ok(Tree {
            repository: self.repository,
            tree: self.commit.tree()?,
        })
    }

    /// The directory `path` of the commit's tree; `None` when it has none there.
    pub fn subtree(&self, path: &Path) -> Result<Option<Tree<'r>>, GitError> {
        self.tree()?.subtree(path)
    }

    /// The author and the committer.
    pub fn people(&self) -> [Person; 2] {
        [self.commit.author(), self.commit.committer()].map(|who| Person {
            email: who.email().ok().map(str::to_owned),
        })
    }
}

impl<'r> Tree<'r> {
    pub fn id(&self) -> ObjectId {
        ObjectId(self.tree.id())
    }

    /// The entry named `name` in this tree.
    pub fn get_name(&self, name: &str) -> Option<Entry> {
        self.tree.get_name(name).map(|e| Entry::of(&e))
    }

    /// The entry at `path` below this tree; `None` when there is none.
    pub fn entry(&self, path: &Path) -> Option<Entry> {
        self.tree.get_path(path).ok().map(|e| Entry::of(&e))
    }

    /// The directory at `path` below this tree; `None` when there is none.
    pub fn subtree(&self, path: &Path) -> Result<Option<Tree<'r>>, GitError> {
        if path.as_os_str().is_empty() {
            return Ok(Some(Tree {
                repository: self.repository,
                tree: self.tree.clone(),
            }));
        }
        match self.tree.get_path(path) {
            Ok(entry) => Ok(entry
                .to_object(self.repository)?
                .into_tree()
                .ok()
                .map(|tree| Tree {
                    repository: self.repository,
                    tree,
                })),
            Err(_) => Ok(None),
        }
    }

    /// The directory at `path` below this tree, which must be one: `None` when nothing is
    /// there, an error when something else is.
    pub fn directory(&self, path: &Path) -> Result<Option<Tree<'r>>, GitError> {
        if path.as_os_str().is_empty() {
            return self.subtree(path);
        }
        let Ok(entry) = self.tree.get_path(path) else {
            return Ok(None);
        };
        let tree = entry
            .to_object(self.repository)
            .and_then(|o| o.peel_to_tree())?;
        Ok(Some(Tree {
            repository: self.repository,
            tree,
        }))
    }

    /// The directory the entry `entry` of this tree is.
    pub fn child(&self, entry: &Entry) -> Result<Tree<'r>, GitError> {
        Ok(Tree {
            repository: self.repository,
            tree: self.repository.find_tree(entry.id.0)?,
        })
    }

    /// The entries, in git's order.
    fn entries(&self) -> Vec<Entry> {
        self.tree.iter().map(|e| Entry::of(&e)).collect()
    }

    /// Walks the tree, parents before children: `visit` gets each entry's parent path
    /// (`a/b/`, empty at the top) and decides whether a directory is entered.
    pub fn walk(&self, mut visit: impl FnMut(&str, &Entry) -> Descend) -> Result<(), GitError> {
        self.tree
            .walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
                match visit(parent, &Entry::of(entry)) {
                    Descend::Yes => git2::TreeWalkResult::Ok,
                    Descend::No => git2::TreeWalkResult::Skip,
                }
            })
            .map_err(GitError::from)
    }

    /// The files of this tree that `before` lacks or holds with other content, as (path
    /// below `prefix`, the id before if any, the id after). Subtrees with the same id on both
    /// sides are skipped unread: a commit costs what it changed.
    pub fn changed_since(
        &self,
        before: Option<&Tree<'_>>,
        prefix: &str,
        out: &mut Vec<(String, Option<ObjectId>, ObjectId)>,
    ) -> Result<(), GitError> {
        if before.is_some_and(|b| b.tree.id() == self.tree.id()) {
            return Ok(());
        }
        for entry in self.tree.iter() {
            let Ok(name) = entry.name() else { continue };
            let old = before.and_then(|b| b.tree.get_name(name));
            let old = old.filter(|o| o.kind() == entry.kind());
            if old.as_ref().is_some_and(|o| o.id() == entry.id()) {
                continue;
            }
            let path = format!("{prefix}{name}");
            match entry.kind() {
                Some(git2::ObjectType::Tree) => {
                    let subtree = |e: &git2::TreeEntry<'_>| {
                        self.repository.find_tree(e.id()).map(|tree| Tree {
                            repository: self.repository,
                            tree,
                        })
                    };
                    let old = old.as_ref().map(subtree).transpose()?;
                    subtree(&entry)?.changed_since(old.as_ref(), &format!("{path}/"), out)?;
                }
                Some(git2::ObjectType::Blob) => {
                    out.push((path, old.map(|o| ObjectId(o.id())), ObjectId(entry.id())));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Visits this tree and, recursively, the subdirectories `enter` accepts, each (tree id,
    /// path) once across calls sharing `visited`: `visit` gets each file's path prefix
    /// (`a/b/`) and entry.
    pub fn visit_once(
        &self,
        prefix: &str,
        visited: &mut HashSet<(ObjectId, String)>,
        enter: &impl Fn(&str) -> bool,
        visit: &mut impl FnMut(&str, &Entry),
    ) {
        if !visited.insert((self.id(), prefix.to_owned())) {
            return;
        }
        for entry in self.entries() {
            let Some(name) = entry.name() else { continue };
            match entry.kind {
                Kind::Tree if enter(name) => {
                    if let Ok(subtree) = self.child(&entry) {
                        subtree.visit_once(&format!("{prefix}{name}/"), visited, enter, visit);
                    }
                }
                Kind::Tree => {}
                _ => visit(prefix, &entry),
            }
        }
    }
}

/// The author or committer (`GIT_AUTHOR_IDENT`, `GIT_COMMITTER_IDENT`) as git resolves it:
/// `GIT_AUTHOR_NAME` and the other variables, then `user.name` and `user.email` in every
/// configuration file, with the date `GIT_AUTHOR_DATE` or now.
fn identity(workdir: &Path, variable: &str) -> Result<git2::Signature<'static>, GitError> {
    let output = std::process::Command::new("git")
        .arg("var")
        .arg(variable)
        .current_dir(workdir)
        .output()
        .map_err(|e| GitError::CannotRun(e.to_string()))?;
    let ident = String::from_utf8_lossy(&output.stdout);
    let parsed = output
        .status
        .success()
        .then(|| parse_ident(ident.trim_end()))
        .flatten();
    parsed.ok_or_else(|| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
        GitError::NoIdentity(reason.trim().to_owned())
    })
}

/// Parses git's `NAME <EMAIL> SECONDS OFFSET`, e.g. `A U Thor <a@example.com> 1733400000 +0100`.
fn parse_ident(ident: &str) -> Option<git2::Signature<'static>> {
    let (person, when) = ident.rsplit_once('>')?;
    let (name, email) = person.split_once('<')?;
    let mut when = when.split_whitespace();
    let seconds: i64 = when.next()?.parse().ok()?;
    let offset = when.next()?;
    let sign = match offset.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = offset.get(1..)?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let minutes = digits[..2].parse::<i32>().ok()? * 60 + digits[2..].parse::<i32>().ok()?;
    let time = git2::Time::new(seconds, sign * minutes);
    git2::Signature::new(name.trim(), email, &time).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits `files` (path, text) over `parents`' first tree, at `seconds`.
    fn commit(
        repository: &git2::Repository,
        parents: &[git2::Oid],
        files: &[(&str, &str)],
        seconds: i64,
    ) -> git2::Oid {
        let parents: Vec<git2::Commit<'_>> = parents
            .iter()
            .map(|id| repository.find_commit(*id).unwrap())
            .collect();
        let base = parents.first().map(|p| p.tree().unwrap());
        let mut update = git2::build::TreeUpdateBuilder::new();
        for (path, text) in files {
            let blob = repository.blob(text.as_bytes()).unwrap();
            update.upsert(*path, blob, git2::FileMode::Blob);
        }
        let empty = repository
            .find_tree(repository.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let tree = update
            .create_updated(repository, base.as_ref().unwrap_or(&empty))
            .unwrap();
        let tree = repository.find_tree(tree).unwrap();
        let who = git2::Signature::new("T", "t@example.com", &git2::Time::new(seconds, 0)).unwrap();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        repository
            .commit(Some("HEAD"), &who, &who, "c", &tree, &parents)
            .unwrap()
    }

    /// The one walk: first parents for a file's history, every commit for the keys history
    /// had; and what a commit changed, below a directory.
    #[test]
    fn history_walks_first_parents_or_everything() {
        let dir = tempfile::tempdir().unwrap();
        let raw = git2::Repository::init(dir.path()).unwrap();
        let a = commit(&raw, &[], &[("flags/a.toml", "1")], 10);
        let side = commit(&raw, &[a], &[("flags/side.toml", "s")], 20);
        raw.set_head_detached(a).unwrap();
        let b = commit(&raw, &[a], &[("flags/a.toml", "2"), ("other", "o")], 30);
        let merge = commit(&raw, &[b, side], &[("flags/side.toml", "s")], 40);
        let repository = Repository::discover(dir.path()).unwrap();
        let ids = |order| -> Vec<ObjectId> {
            let history = repository.history(order).unwrap().unwrap();
            history.map(|c| c.unwrap().id()).collect()
        };
        let [a, side, b, merge] = [a, side, b, merge].map(ObjectId);
        assert_eq!(ids(Order::FirstParent), [merge, b, a]);
        // Children before parents: the merge first, the root last.
        let every = ids(Order::Topological);
        assert_eq!(every.len(), 4);
        assert_eq!((every[0], every[3]), (merge, a));
        assert!(every.contains(&side) && every.contains(&b));

        let flags = |id: ObjectId| {
            let commit = repository.commit(&id.to_string()).unwrap();
            commit.subtree(Path::new("flags")).unwrap().unwrap()
        };
        let blob = |text: &str| hash_blob(text.as_bytes()).unwrap();
        let mut changed = Vec::new();
        flags(b)
            .changed_since(Some(&flags(a)), "flags/", &mut changed)
            .unwrap();
        assert_eq!(
            changed,
            [("flags/a.toml".to_owned(), Some(blob("1")), blob("2"))]
        );
        changed.clear();
        flags(a)
            .changed_since(None, "flags/", &mut changed)
            .unwrap();
        assert_eq!(changed, [("flags/a.toml".to_owned(), None, blob("1"))]);
    }

    #[test]
    fn identities_parse_as_git_var_prints_them() {
        let ana = parse_ident("Ana On-Call <ana@example.com> 1764126245 +0130").unwrap();
        assert_eq!(ana.name().ok(), Some("Ana On-Call"));
        assert_eq!(ana.email().ok(), Some("ana@example.com"));
        assert_eq!(ana.when().seconds(), 1_764_126_245);
        assert_eq!(ana.when().offset_minutes(), 90);
        let west = parse_ident("Bot <bot@example.com> 1 -0500").unwrap();
        assert_eq!(west.when().offset_minutes(), -300);
        for bad in [
            "",
            "no email 1 +0000",
            "A <a@example.com>",
            "A <a@example.com> x +0000",
            "A <a@example.com> 1 0000",
            "A <a@example.com> 1 +00",
            "A <a@example.com> 1 +00x0",
        ] {
            assert!(parse_ident(bad).is_none(), "{bad}");
        }
    }
}
