//! Reading a flags repository: walk it in a fixed order, parse each file once keeping spans,
//! validate it against its JSON Schema and deserialize it into the typed model.
//!
//! A file that cannot be read, parsed or validated yields diagnostics and no document; the
//! other files are still loaded, so one run reports every problem.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::diag::{Code, Diagnostic};
use crate::git::{Descend, GitError, Kind, Repository};
use crate::model::{self, ExperimentFile, FlagFile, ProjectFile, SegmentFile, TestFile};
use crate::schema::{FileKind, Validator};

/// The project file's name at the repository root.
pub const PROJECT_FILE: &str = "flagstone.toml";

/// Files larger than this are not parsed: no flag, segment or test needs anywhere near it,
/// and every bundle an application loads stays small.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// Syntax errors reported per file; past this, the file is unlikely to be TOML at all.
const MAX_SYNTAX_ERRORS: usize = 20;

/// A repository file's text, kept for locating and rendering diagnostics.
#[derive(Debug)]
pub struct SourceFile {
    /// Repo-relative, `/`-separated path.
    pub path: String,
    /// Empty when the loader let it go: read it with [`Repo::text`].
    pub text: String,
    /// The git blob it was read from, when it was read from a revision.
    pub blob: Option<crate::git::ObjectId>,
    /// The digest of the text the loader let go, to read it again ([`load_lean`]).
    dropped: Option<u64>,
}

/// A file's typed document, or `None` when it could not be read, parsed or validated.
#[derive(Debug)]
pub struct Loaded<T> {
    /// Index into [`Repo::files`].
    pub file: usize,
    pub doc: Option<T>,
}

/// Everything read from a flags repository.
#[derive(Debug, Default)]
pub struct Repo {
    pub files: Vec<SourceFile>,
    /// The directory it was read from, when the loader let texts go ([`load_lean`]).
    pub(crate) root: Option<PathBuf>,
    /// `None` when flagstone.toml is missing.
    pub project: Option<Loaded<ProjectFile>>,
    /// Flags by key ("checkout/one-page").
    pub flags: BTreeMap<String, Loaded<FlagFile>>,
    /// Segments by name.
    pub segments: BTreeMap<String, Loaded<SegmentFile>>,
    pub tests: Vec<Loaded<TestFile>>,
    /// Experiments by key ("growth/onboarding").
    pub experiments: BTreeMap<String, Loaded<ExperimentFile>>,
    /// Problems found while loading.
    pub diagnostics: Vec<Diagnostic>,
    /// The files flags name as `payload_schema`, by the path as written: their bytes, or why
    /// they could not be read.
    pub schemas: BTreeMap<String, Result<Vec<u8>, String>>,
}

impl Repo {
    pub fn path(&self, file: usize) -> &str {
        &self.files[file].path
    }

    /// The text of file `file`, which spans point into: as loaded, or read again when the
    /// loader let it go. A file changed since loading reads as empty, so positions fall back
    /// to the file's start rather than point at other text.
    pub fn text(&self, file: usize) -> Cow<'_, str> {
        let source = &self.files[file];
        let (Some(digest), Some(root)) = (source.dropped, &self.root) else {
            return Cow::Borrowed(&source.text);
        };
        let reread = read_limited(&root.join(&source.path))
            .ok()
            .and_then(
                |bytes| match content(&source.path, bytes, &mut Vec::new()) {
                    Content::Text(text) => Some(text),
                    Content::Unparseable(_) => None,
                },
            )
            .filter(|text| digest_of(text) == digest);
        Cow::Owned(reread.unwrap_or_default())
    }

    /// The text of the file at repo-relative `path`; empty for a path the repository lacks.
    pub fn text_of(&self, path: &str) -> Cow<'_, str> {
        match self.files.iter().position(|f| f.path == path) {
            Some(file) => self.text(file),
            None => Cow::Borrowed(""),
        }
    }

    /// Flags with a rule that tests one of `segments`, directly or through other segments.
    pub fn flags_testing<'r>(&'r self, mut segments: BTreeSet<&'r str>) -> BTreeSet<&'r str> {
        let tests = |conditions: &[model::Spanned<model::Condition>], reach: &BTreeSet<&str>| {
            conditions.iter().any(|c| {
                let name = c.segment.as_ref().or(c.not_segment.as_ref());
                name.is_some_and(|n| reach.contains(n.as_str()))
            })
        };
        loop {
            let before = segments.len();
            for (name, loaded) in &self.segments {
                if loaded
                    .doc
                    .as_ref()
                    .is_some_and(|s| tests(&s.conditions, &segments))
                {
                    segments.insert(name);
                }
            }
            if segments.len() == before {
                break;
            }
        }
        self.flags
            .iter()
            .filter(|(_, loaded)| {
                loaded.doc.as_ref().is_some_and(|flag| {
                    flag.env
                        .iter()
                        .flat_map(|(_, env)| &env.rules)
                        .any(|rule| tests(&rule.conditions, &segments))
                })
            })
            .map(|(key, _)| key.as_str())
            .collect()
    }
}

/// Why a directory could not be loaded at all (as opposed to findings in its files).
#[derive(Debug)]
pub enum RepoError {
    NotADirectory(PathBuf),
    NotARepository(PathBuf),
    Io(PathBuf, std::io::Error),
    /// A git revision that cannot be read (for instance a commit a shallow clone lacks).
    Revision(String, GitError),
    /// The directory is not in a git repository's work tree, to read revisions from.
    Git(GitError),
}

impl fmt::Display for RepoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepoError::NotADirectory(p) => write!(f, "{} is not a directory", p.display()),
            RepoError::NotARepository(p) => write!(
                f,
                "{} is not a flags repository: it has neither {PROJECT_FILE} nor flags/",
                p.display()
            ),
            RepoError::Io(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            RepoError::Revision(rev, why) => write!(
                f,
                "cannot read revision `{rev}`: {why} (in a shallow clone, fetch the commit first)"
            ),
            RepoError::Git(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RepoError {}

/// One file to load.
#[derive(Clone)]
struct Entry {
    kind: FileKind,
    /// Repo-relative path.
    path: String,
    /// Flag, segment or experiment key; empty for the project and test files.
    key: String,
}

/// A file's typed document; `None` inside when it could not be read, parsed or validated.
/// Boxed: outcomes wait in vectors as large as the repository until they are assembled.
enum Doc {
    Project(Option<Box<ProjectFile>>),
    Flag(Option<Box<FlagFile>>),
    Segment(Option<Box<SegmentFile>>),
    Test(Option<Box<TestFile>>),
    Experiment(Option<Box<ExperimentFile>>),
}

struct Parsed {
    source: SourceFile,
    doc: Doc,
    diagnostics: Vec<Diagnostic>,
}

/// Loads the repository at `root`.
pub fn load(root: &Path) -> Result<Repo, RepoError> {
    load_replacing(root, None, false)
}

/// Loads the repository at `root` like [`load`], but keeps the text only of files with
/// findings: the others' texts are let go as soon as they are parsed and read again, from
/// the file system, only if a later finding needs them ([`Repo::text`]). Texts are a quarter
/// of a loaded repository, and checks find problems in few of its files.
pub fn load_lean(root: &Path) -> Result<Repo, RepoError> {
    let mut repo = load_replacing(root, None, true)?;
    repo.root = Some(root.to_owned());
    Ok(repo)
}

/// Loads the repository at `root` as if its file `path` (repo-relative, `/`-separated) held
/// `text`: how an edit is checked before it is written.
pub fn load_edited(root: &Path, path: &str, text: &str) -> Result<Repo, RepoError> {
    load_replacing(root, Some((path, text)), false)
}

fn load_replacing(
    root: &Path,
    replaced: Option<(&str, &str)>,
    lean: bool,
) -> Result<Repo, RepoError> {
    if !root.is_dir() {
        return Err(RepoError::NotADirectory(root.to_owned()));
    }
    let has_project = root.join(PROJECT_FILE).is_file();
    if !has_project && !root.join("flags").is_dir() {
        return Err(RepoError::NotARepository(root.to_owned()));
    }
    let (entries, diagnostics) = classify(list_dir(root)?);
    let read = |path: &str| match replaced {
        Some((replaced, text)) if replaced == path => Ok(text.as_bytes().to_vec()),
        _ => {
            let full = root.join(path);
            read_limited(&full).map_err(|e| RepoError::Io(full, e))
        }
    };
    let outcomes = load_all(&entries, &read, lean)?;
    let mut repo = assemble(entries, outcomes, diagnostics, has_project);
    repo.schemas = payload_schemas(&repo, |path| read_schema_file(root, path));
    Ok(repo)
}

/// Reads the payload schemas the repository's flags name, each once.
fn payload_schemas(
    repo: &Repo,
    read: impl Fn(&str) -> Result<Vec<u8>, String>,
) -> BTreeMap<String, Result<Vec<u8>, String>> {
    let named: BTreeSet<&str> = repo
        .flags
        .values()
        .filter_map(|loaded| loaded.doc.as_ref()?.payload_schema.as_ref())
        .map(|path| path.as_str())
        .collect();
    named
        .into_iter()
        .map(|path| {
            let bytes = schema_path_problem(path).map_or_else(|| read(path), Err);
            (path.to_owned(), bytes)
        })
        .collect()
}

/// Why `path` cannot name a file of the repository: schemas are read from inside it only.
fn schema_path_problem(path: &str) -> Option<String> {
    if path.is_empty() {
        Some("the path is empty".to_owned())
    } else if path.starts_with('/') || path.contains('\\') || path.contains(':') {
        Some("the path must be relative to the repository root, with `/` between names".into())
    } else if path.split('/').any(|part| matches!(part, "" | "." | "..")) {
        Some("the path must lead down from the repository root: no `.`, `..` or `//`".into())
    } else {
        None
    }
}

/// Reads a payload schema from the directory `root`, refusing symbolic links like every
/// other repository file: a link may leave the repository.
fn read_schema_file(root: &Path, path: &str) -> Result<Vec<u8>, String> {
    let mut full = root.to_owned();
    for part in path.split('/') {
        full.push(part);
        match std::fs::symlink_metadata(&full) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err("symbolic links are not followed".to_owned());
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err("the file does not exist".to_owned());
            }
            Err(e) => return Err(format!("cannot read it: {e}")),
        }
    }
    let bytes = read_limited(&full).map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(format!("the file is larger than {MAX_FILE_BYTES} bytes"));
    }
    Ok(bytes)
}

/// Reads a payload schema from the git tree `tree`, refusing symbolic links.
fn read_schema_blob(
    repository: &Repository,
    tree: &crate::git::Tree<'_>,
    path: &str,
) -> Result<Vec<u8>, String> {
    let unreadable = |e: GitError| format!("cannot read it: {e}");
    let mut dir = tree.clone();
    let mut parts = path.split('/').peekable();
    while let Some(part) = parts.next() {
        let Some(entry) = dir.get_name(part) else {
            return Err("the file does not exist".to_owned());
        };
        match (entry.kind, parts.peek().is_some()) {
            (Kind::Link, _) => return Err("symbolic links are not followed".to_owned()),
            (Kind::Tree, true) => dir = dir.child(&entry).map_err(unreadable)?,
            (Kind::Blob, false) => {
                let bytes = repository.blob(entry.id).map_err(unreadable)?;
                if bytes.len() > MAX_FILE_BYTES {
                    return Err(format!("the file is larger than {MAX_FILE_BYTES} bytes"));
                }
                return Ok(bytes);
            }
            _ => return Err("the file does not exist".to_owned()),
        }
    }
    Err("the file does not exist".to_owned())
}

/// Loads the repository as it is at revision `rev` of the git repository `repository`, in its
/// directory `dir` (relative to the work tree's root; empty for the root), reading git
/// objects only: no checkout.
///
/// Files whose bytes equal those of the same file in `known` (another version of the
/// repository, already loaded) are taken from it instead of being parsed again: comparing
/// two versions costs one parse of what they share.
pub fn load_revision(
    repository: &Repository,
    rev: &str,
    dir: &Path,
    known: Option<&Repo>,
) -> Result<Repo, RepoError> {
    let missing = |e: GitError| RepoError::Revision(rev.to_owned(), e);
    let commit = repository.commit(rev).map_err(missing)?;
    let tree = commit
        .tree()
        .and_then(|root| root.directory(dir))
        .map_err(missing)?
        .ok_or_else(|| {
            RepoError::NotARepository(PathBuf::from(format!("{rev}:{}", dir.display())))
        })?;
    let mut found = Vec::new();
    let mut blobs = BTreeMap::new();
    tree.walk(|parent, entry| {
        let name = entry.name().unwrap_or_default();
        let path = format!("{parent}{name}");
        let top = path.split('/').next().unwrap_or_default();
        if entry.kind == Kind::Tree {
            // The same directories as on disk: flags/, segments/ and experiments/ whole,
            // tests/ one level.
            let descend = !name.starts_with('.')
                && (matches!(top, "flags" | "segments" | "experiments") || path == "tests");
            return if descend { Descend::Yes } else { Descend::No };
        }
        let wanted = path == PROJECT_FILE
            || (matches!(top, "flags" | "segments" | "tests" | "experiments")
                && path.contains('/'));
        if wanted && !name.starts_with('.') {
            let symlink = entry.kind == Kind::Link;
            blobs.insert(path.clone(), entry.id);
            found.push(Found { path, symlink });
        }
        Descend::Yes
    })
    .map_err(missing)?;
    let has_project = blobs.contains_key(PROJECT_FILE);
    if !has_project && tree.get_name("flags").is_none() {
        return Err(RepoError::NotARepository(PathBuf::from(format!(
            "{rev}:{}",
            dir.display()
        ))));
    }
    let (entries, diagnostics) = classify(found);
    let known_files: BTreeMap<&str, usize> = known
        .iter()
        .flat_map(|k| {
            k.files
                .iter()
                .enumerate()
                .map(|(i, f)| (f.path.as_str(), i))
        })
        .collect();
    // A file is the same as the known version's when its blob id is that of the known text.
    let reused: Vec<Option<Parsed>> = entries
        .iter()
        .map(|entry| {
            let (known, file) = (known?, *known_files.get(entry.path.as_str())?);
            let id = match known.files[file].blob {
                Some(id) => id,
                None => crate::git::hash_blob(known.text(file).as_bytes())?,
            };
            (id == blobs[&entry.path])
                .then(|| reuse(known, file, entry))
                .flatten()
        })
        .collect();
    let fresh: Vec<Entry> = entries
        .iter()
        .zip(&reused)
        .filter(|(_, r)| r.is_none())
        .map(|(e, _)| e.clone())
        .collect();
    // git objects are not shared across threads: read the blobs to parse first.
    let mut contents = BTreeMap::new();
    for entry in &fresh {
        let blob = repository.blob(blobs[&entry.path]).map_err(missing)?;
        contents.insert(entry.path.clone(), blob);
    }
    let read = |path: &str| Ok(contents.get(path).cloned().unwrap_or_default());
    let mut parsed = load_all(&fresh, &read, false)?.into_iter();
    let outcomes = reused
        .into_iter()
        .map(|r| r.unwrap_or_else(|| parsed.next().expect("one outcome per fresh entry")))
        .collect();
    let mut repo = assemble(entries, outcomes, diagnostics, has_project);
    for file in &mut repo.files {
        file.blob = blobs.get(&file.path).copied();
    }
    repo.schemas = payload_schemas(&repo, |path| read_schema_blob(repository, &tree, path));
    Ok(repo)
}

/// The outcome `known` already has for its file `file`.
fn reuse(known: &Repo, file: usize, entry: &Entry) -> Option<Parsed> {
    let source = &known.files[file];
    let doc = match entry.kind {
        FileKind::Project => Doc::Project(Some(Box::new(known.project.as_ref()?.doc.clone()?))),
        FileKind::Flag => Doc::Flag(Some(Box::new(known.flags.get(&entry.key)?.doc.clone()?))),
        FileKind::Segment => {
            Doc::Segment(Some(Box::new(known.segments.get(&entry.key)?.doc.clone()?)))
        }
        FileKind::Test => {
            let loaded = known.tests.iter().find(|t| t.file == file)?;
            Doc::Test(Some(Box::new(loaded.doc.clone()?)))
        }
        FileKind::Experiment => Doc::Experiment(Some(Box::new(
            known.experiments.get(&entry.key)?.doc.clone()?,
        ))),
    };
    Some(Parsed {
        source: SourceFile {
            path: source.path.clone(),
            text: known.text(file).into_owned(),
            blob: source.blob,
            dropped: None,
        },
        doc,
        diagnostics: known
            .diagnostics
            .iter()
            .filter(|d| d.file == entry.path)
            .cloned()
            .collect(),
    })
}

/// The repository from its files' outcomes, in the entries' order.
fn assemble(
    entries: Vec<Entry>,
    outcomes: Vec<Parsed>,
    mut diagnostics: Vec<Diagnostic>,
    has_project: bool,
) -> Repo {
    let mut repo = Repo::default();
    if !has_project {
        diagnostics.push(
            Diagnostic::new(
                Code::MissingProject,
                PROJECT_FILE,
                None,
                "the project file is missing".to_owned(),
            )
            .with_help("create it with `name`, `environments` and the `[attributes]` flags use"),
        );
    }
    repo.files.reserve_exact(outcomes.len());
    // Gathered, then made maps in one go: a map built from sorted entries has full nodes,
    // one built by inserting them in order half-empty ones.
    let mut flags = Vec::new();
    let mut segments = Vec::new();
    let mut experiments = Vec::new();
    for (entry, outcome) in entries.into_iter().zip(outcomes) {
        let file = repo.files.len();
        repo.files.push(outcome.source);
        diagnostics.extend(outcome.diagnostics);
        match outcome.doc {
            Doc::Project(doc) => {
                let doc = doc.map(|d| *d);
                repo.project = Some(Loaded { file, doc });
            }
            Doc::Flag(doc) => flags.push((
                entry.key,
                Loaded {
                    file,
                    doc: doc.map(|d| *d),
                },
            )),
            Doc::Segment(doc) => {
                segments.push((
                    entry.key,
                    Loaded {
                        file,
                        doc: doc.map(|d| *d),
                    },
                ));
            }
            Doc::Test(doc) => repo.tests.push(Loaded {
                file,
                doc: doc.map(|d| *d),
            }),
            Doc::Experiment(doc) => {
                experiments.push((
                    entry.key,
                    Loaded {
                        file,
                        doc: doc.map(|d| *d),
                    },
                ));
            }
        }
    }
    repo.flags = flags.into_iter().collect();
    repo.segments = segments.into_iter().collect();
    repo.experiments = experiments.into_iter().collect();
    repo.diagnostics = diagnostics;
    repo
}

/// A file found in a repository, by repo-relative `/`-separated path.
struct Found {
    path: String,
    symlink: bool,
}

/// Lists the project file and the files below flags/, segments/, experiments/ (recursively)
/// and tests/ (one level), skipping hidden names.
fn list_dir(root: &Path) -> Result<Vec<Found>, RepoError> {
    let mut found = Vec::new();
    if root.join(PROJECT_FILE).is_file() {
        found.push(Found {
            path: PROJECT_FILE.to_owned(),
            symlink: false,
        });
    }
    for (dir, depth) in [
        ("flags", usize::MAX),
        ("segments", usize::MAX),
        ("tests", 1),
        ("experiments", usize::MAX),
    ] {
        let base = root.join(dir);
        if !base.is_dir() {
            continue;
        }
        let walk = walkdir::WalkDir::new(&base)
            .max_depth(depth)
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for item in walk {
            let item = item.map_err(|e| {
                let path = e.path().unwrap_or(&base).to_owned();
                RepoError::Io(path, e.into())
            })?;
            if item.depth() == 0 || item.file_type().is_dir() {
                continue;
            }
            let relative = item
                .path()
                .strip_prefix(root)
                .expect("walked paths are below the root");
            found.push(Found {
                path: relative.to_string_lossy().replace('\\', "/"),
                symlink: item.path_is_symlink(),
            });
        }
    }
    Ok(found)
}

/// Turns found files into the entries to load, in a fixed order (project, flags, segments,
/// tests, experiments; each sorted by path), and checks their names.
fn classify(mut found: Vec<Found>) -> (Vec<Entry>, Vec<Diagnostic>) {
    let rank = |path: &str| match path.split('/').next() {
        Some("flags") => 1,
        Some("segments") => 2,
        Some("tests") => 3,
        Some("experiments") => 4,
        _ => 0,
    };
    found.sort_by(|a, b| (rank(&a.path), &a.path).cmp(&(rank(&b.path), &b.path)));
    let mut entries = Vec::new();
    let mut diagnostics = Vec::new();
    // Lower-cased keys seen so far, per kind: two keys that differ only in case collide on
    // case-insensitive file systems.
    let mut seen: BTreeMap<(FileKind, String), String> = BTreeMap::new();
    for Found { path, symlink } in found {
        if symlink {
            // A link may leave the repository, and git-based reviews see only the link.
            diagnostics.push(
                Diagnostic::new(
                    Code::BadFileName,
                    &path,
                    None,
                    "symbolic links are not followed, so this one is not read".to_owned(),
                )
                .with_help("keep flags, segments and tests as regular files"),
            );
            continue;
        }
        if path == PROJECT_FILE {
            entries.push(Entry {
                kind: FileKind::Project,
                path,
                key: String::new(),
            });
            continue;
        }
        let Some(relative) = path.strip_suffix(".toml") else {
            continue;
        };
        let (dir, key) = relative
            .split_once('/')
            .expect("found files are in a directory");
        let kind = match dir {
            "flags" => FileKind::Flag,
            "segments" => FileKind::Segment,
            "experiments" => FileKind::Experiment,
            _ => FileKind::Test,
        };
        if let Some(bad) = key.split('/').find(|c| !valid_key_segment(c)) {
            diagnostics.push(
                Diagnostic::new(
                    Code::BadFileName,
                    &path,
                    None,
                    format!("`{bad}` is not a valid name for a {}", kind_noun(kind)),
                )
                .with_help(crate::model::NAME_HELP),
            );
            continue;
        }
        if let Some(other) = seen.insert((kind, key.to_lowercase()), path.clone()) {
            diagnostics.push(
                Diagnostic::new(
                    Code::BadFileName,
                    &path,
                    None,
                    format!("`{key}` differs from {other} only in letter case"),
                )
                .with_help("keys must stay distinct on case-insensitive file systems"),
            );
            continue;
        }
        let key = key.to_owned();
        entries.push(Entry { kind, path, key });
    }
    (entries, diagnostics)
}

fn kind_noun(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Project => "project",
        FileKind::Flag => "flag",
        FileKind::Segment => "segment",
        FileKind::Test => "test file",
        FileKind::Experiment => "experiment",
    }
}

/// A flag or segment name segment: letters, digits, `_`, `-`; starting with a letter or digit.
pub fn valid_key_segment(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Loads every entry, spread over the available cores, keeping the entries' order.
/// Reads a repository file's bytes, given its repo-relative path.
type Reader<'a> = &'a (dyn Fn(&str) -> Result<Vec<u8>, RepoError> + Sync);

/// With `lean`, the texts of files without findings are let go as each is parsed.
fn load_all(entries: &[Entry], read: Reader<'_>, lean: bool) -> Result<Vec<Parsed>, RepoError> {
    let validators: Vec<(FileKind, Validator)> = FileKind::ALL
        .into_iter()
        .filter(|kind| entries.iter().any(|e| e.kind == *kind))
        .map(|kind| (kind, Validator::new(kind)))
        .collect();
    let validator = |kind: FileKind| {
        &validators
            .iter()
            .find(|(k, _)| *k == kind)
            .expect("a validator exists for every kind present")
            .1
    };
    // Workers take the next file as they free up, which balances files of uneven size on a
    // busy machine; the results are put back in the entries' order.
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(entry) = entries.get(i) else {
                break done;
            };
            let mut outcome = load_file(entry, validator(entry.kind), read);
            if let Ok(loaded) = &mut outcome
                && lean
                && loaded.diagnostics.is_empty()
            {
                let text = std::mem::take(&mut loaded.source.text);
                loaded.source.dropped = Some(digest_of(&text));
            }
            done.push((i, outcome));
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = threads.min(entries.len().div_ceil(64)).max(1);
    let mut slots: Vec<Option<Result<Parsed, RepoError>>> = std::iter::repeat_with(|| None)
        .take(entries.len())
        .collect();
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mine = work();
        let theirs = helpers
            .into_iter()
            .flat_map(|h| h.join().expect("loading a file does not panic"));
        for (i, outcome) in mine.into_iter().chain(theirs) {
            slots[i] = Some(outcome);
        }
    });
    slots
        .into_iter()
        .map(|slot| slot.expect("every entry was loaded"))
        .collect()
}

fn load_file(entry: &Entry, validator: &Validator, read: Reader<'_>) -> Result<Parsed, RepoError> {
    let path = entry.path.as_str();
    let mut diagnostics = Vec::new();
    let content = content(path, read(path)?, &mut diagnostics);
    let parseable = match &content {
        Content::Text(text) => Some(text.as_str()),
        Content::Unparseable(_) => None,
    };
    let d = &mut diagnostics;
    let kind = entry.kind;
    let doc = match kind {
        FileKind::Project => {
            Doc::Project(parseable.and_then(|t| parse(kind, path, t, validator, d)))
        }
        FileKind::Flag => Doc::Flag(parseable.and_then(|t| parse(kind, path, t, validator, d))),
        FileKind::Segment => {
            Doc::Segment(parseable.and_then(|t| parse(kind, path, t, validator, d)))
        }
        FileKind::Test => Doc::Test(parseable.and_then(|t| parse(kind, path, t, validator, d))),
        FileKind::Experiment => {
            Doc::Experiment(parseable.and_then(|t| parse(kind, path, t, validator, d)))
        }
    };
    let text = match content {
        Content::Text(text) | Content::Unparseable(text) => text,
    };
    Ok(Parsed {
        source: SourceFile {
            path: path.to_owned(),
            text,
            blob: None,
            dropped: None,
        },
        doc,
        diagnostics,
    })
}

/// Tells a text read again from the one loaded. Only compared within one process.
fn digest_of(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// A file's content as read.
enum Content {
    /// UTF-8 text, to parse.
    Text(String),
    /// Not to be parsed; holds the text kept for locating its finding: the valid prefix of a
    /// file that is not UTF-8 (so the finding points at the first bad byte), or nothing.
    Unparseable(String),
}

/// Reads at most one byte past the size limit, so an oversized file is never read whole.
fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let limit = MAX_FILE_BYTES as u64 + 1;
    let size = file.metadata().map_or(0, |m| m.len()).min(limit);
    let mut bytes = Vec::with_capacity(size as usize + 1);
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A file's bytes as text to parse, reporting a file too large or not UTF-8.
fn content(path: &str, bytes: Vec<u8>, diagnostics: &mut Vec<Diagnostic>) -> Content {
    if bytes.len() > MAX_FILE_BYTES {
        diagnostics.push(
            Diagnostic::new(
                Code::FileTooLarge,
                path,
                None,
                format!("the file is larger than {MAX_FILE_BYTES} bytes"),
            )
            .with_help("split it, or move large payloads out of the flags repository"),
        );
        return Content::Unparseable(String::new());
    }
    match String::from_utf8(bytes) {
        // TOML lets a parser normalise line breaks, and multi-line strings keep them: CRLF
        // would otherwise reach payloads, and a checkout's line endings the bundle's hash.
        Ok(text) if text.contains("\r\n") => Content::Text(text.replace("\r\n", "\n")),
        Ok(text) => Content::Text(text),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            diagnostics.push(
                Diagnostic::new(
                    Code::NotUtf8,
                    path,
                    Some(valid..valid),
                    format!("the file is not valid UTF-8 (first bad byte at offset {valid})"),
                )
                .with_help("TOML files must be UTF-8 text; is this a binary file?"),
            );
            Content::Unparseable(String::from_utf8(bytes).expect("the prefix is valid UTF-8"))
        }
    }
}

/// Parses, validates (the schema, control characters) and deserializes one file's text.
fn parse<T: serde::de::DeserializeOwned>(
    kind: FileKind,
    path: &str,
    text: &str,
    validator: &Validator,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Box<T>> {
    let (tree, errors) = toml::de::DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        // A set, not a scan of the list: a garbage file yields an error per line.
        let mut seen = std::collections::HashSet::new();
        let mut reported: Vec<Diagnostic> = Vec::new();
        for error in &errors {
            let diagnostic = syntax_diagnostic(path, text, error);
            if seen.insert((diagnostic.span.clone(), diagnostic.message.clone())) {
                reported.push(diagnostic);
            }
        }
        if reported.len() > MAX_SYNTAX_ERRORS {
            let hidden = reported.len() - MAX_SYNTAX_ERRORS;
            reported.truncate(MAX_SYNTAX_ERRORS);
            let mut note = Diagnostic::new(
                Code::TomlSyntax,
                path,
                None,
                format!("{hidden} more TOML syntax errors in this file are not shown"),
            );
            note.left_out = hidden;
            reported.push(note);
        }
        diagnostics.extend(reported);
        return None;
    }
    // Unknown keys are the schema's to report; deserialization ignores them, so a file with
    // schema errors still gets its semantic checks when its shape allows.
    let schema_errors = validator.validate(path, &tree);
    let schema_valid = schema_errors.is_empty();
    diagnostics.extend(schema_errors);
    diagnostics.extend(crate::characters::scan(kind, path, text));
    match model::from_tree(tree) {
        Ok(doc) => Some(Box::new(doc)),
        Err(e) => {
            if schema_valid {
                diagnostics.push(Diagnostic::new(
                    Code::InvalidValue,
                    path,
                    e.span(),
                    e.message().to_owned(),
                ));
            }
            None
        }
    }
}

fn syntax_diagnostic(path: &str, text: &str, error: &toml::de::Error) -> Diagnostic {
    let span = error
        .span()
        .map(|s| s.start.min(text.len())..s.end.min(text.len()));
    let message = error.message().trim_end();
    let help = if message.contains("duplicate key") {
        "each key may appear once per table; remove or rename one of them"
    } else if message.contains("recurs") {
        "values may nest at most 80 levels deep"
    } else {
        "see https://toml.io for TOML syntax"
    };
    Diagnostic::new(
        Code::TomlSyntax,
        path,
        span,
        format!("invalid TOML: {message}"),
    )
    .with_help(help)
}
