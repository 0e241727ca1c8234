//! Flag references in source code: which flags code reads, and which references are wrong.
//!
//! A reference is a flag key between delimiters (`"checkout/one-page"`) or one of the key's
//! aliases as a whole word (`CHECKOUT_ONE_PAGE`). Source trees are walked as git sees them
//! (`.gitignore`, `.ignore`, hidden files skipped), in parallel, one regex pass per kind of
//! match. Keys that existed in git history but are gone now come from the flags directory's
//! history. The rules are specified in docs/refs.md.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use regex::Regex;
use serde::Serialize;

use crate::diag::Severity;
use crate::git::{self, Order, Repository};
use crate::load::Repo;
use crate::model::{AliasStyle, RefsConfig};

/// Files larger than this are skipped: they are generated or vendored, not code that reads
/// flags by hand.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A file with a NUL byte in its first bytes is binary, as git and grep decide.
const BINARY_PROBE_BYTES: usize = 8000;

/// How many commits of the flags directory's history are searched for removed flags.
pub const MAX_HISTORY_COMMITS: usize = 10_000;

impl AliasStyle {
    pub const ALL: [AliasStyle; 5] = [
        AliasStyle::Camel,
        AliasStyle::Pascal,
        AliasStyle::Snake,
        AliasStyle::ScreamingSnake,
        AliasStyle::Kebab,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AliasStyle::Camel => "camelCase",
            AliasStyle::Pascal => "PascalCase",
            AliasStyle::Snake => "snake_case",
            AliasStyle::ScreamingSnake => "SCREAMING_SNAKE_CASE",
            AliasStyle::Kebab => "kebab-case",
        }
    }

    /// `key` written in this style; `None` for a key of one word, which as an identifier
    /// (`beta`, `search`) would mostly match code that has nothing to do with the flag.
    pub fn alias(self, key: &str) -> Option<String> {
        let words = words(key);
        if words.len() < 2 {
            return None;
        }
        let capitalized = |w: &String| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        };
        Some(match self {
            AliasStyle::Camel => {
                words[0].clone() + &words[1..].iter().map(capitalized).collect::<String>()
            }
            AliasStyle::Pascal => words.iter().map(capitalized).collect(),
            AliasStyle::Snake => words.join("_"),
            AliasStyle::ScreamingSnake => words.join("_").to_ascii_uppercase(),
            AliasStyle::Kebab => words.join("-"),
        })
    }
}

/// The words of a key, lowercased: it is split at `/`, `-` and `_`, and where a lowercase
/// letter or a digit is followed by an uppercase letter (`newCheckout` is `new`, `checkout`).
pub fn words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            words.extend((!word.is_empty()).then(|| std::mem::take(&mut word)));
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c.to_ascii_lowercase());
    }
    words.extend((!word.is_empty()).then_some(word));
    words
}

/// What to search for, and where not to.
#[derive(Clone, Debug)]
pub struct Options {
    pub delimiters: Vec<String>,
    pub aliases: Vec<AliasStyle>,
    pub exclude: Vec<String>,
    /// Now, in milliseconds since the Unix epoch: references to flags expired before its
    /// date are reported.
    pub now_millis: i64,
}

impl Options {
    /// The options `[refs]` sets, with the defaults for what it leaves out.
    pub fn new(config: Option<&RefsConfig>, now_millis: i64) -> Options {
        let config = config.cloned().unwrap_or_default();
        Options {
            delimiters: config.delimiters.map_or_else(
                || vec!["\"".into(), "'".into(), "`".into()],
                |d| d.into_iter().map(|d| d.value.into()).collect(),
            ),
            aliases: config
                .aliases
                .unwrap_or_else(|| AliasStyle::ALL[..4].to_vec()),
            exclude: config
                .exclude
                .unwrap_or_default()
                .into_iter()
                .map(|g| g.value.into())
                .collect(),
            now_millis,
        }
    }
}

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A string that is almost a flag key, but no flag's.
    Undefined,
    /// A key of a flag that was deleted from the repository.
    Removed,
    /// A flag whose `expires` date has passed.
    Expired,
    /// A flag no scanned code refers to.
    Unreferenced,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Undefined => "undefined",
            Kind::Removed => "removed",
            Kind::Expired => "expired",
            Kind::Unreferenced => "unreferenced",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Kind::Undefined | Kind::Removed => Severity::Error,
            Kind::Expired | Kind::Unreferenced => Severity::Warning,
        }
    }
}

/// One finding, at a place in a source file (or, for an unreferenced flag, its flag file).
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub severity: Severity,
    /// The flag key concerned: for an undefined flag, the string found.
    pub flag: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The text found at the location, when it is not the key itself (an alias).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub message: String,
    pub help: String,
}

/// A reference to a flag, defined or removed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Reference {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub flag: String,
    /// The text found: the key, or an alias of it.
    pub text: String,
}

/// How many files were read, and which were not.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Files {
    pub scanned: usize,
    pub binary: usize,
    pub too_large: usize,
    /// Files or directories that could not be read, with why.
    pub unreadable: Vec<String>,
}

/// How much history was searched for removed flags.
#[derive(Clone, Debug, Serialize)]
pub struct History {
    pub commits: usize,
    /// Whether the search stopped at [`MAX_HISTORY_COMMITS`] or at a missing commit (a
    /// shallow clone) before the first commit.
    pub truncated: bool,
}

/// Everything `flagstone refs` found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Problems in source order, then unreferenced flags by key.
    pub findings: Vec<Finding>,
    pub references: Vec<Reference>,
    pub files: Files,
    /// Defined flags, and how many of them are referenced.
    pub flags: usize,
    pub referenced_flags: usize,
    /// `None` when the flags repository is not in git: removed flags are then not detected.
    pub history: Option<History>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }
}

/// A key that code may refer to.
struct Key {
    key: String,
    /// For a defined flag, the day it expired, if it has; for a removed one, the commit
    /// that last had it.
    status: Status,
}

enum Status {
    Defined { expired_on: Option<i64> },
    Removed { last_commit: String },
}

/// The compiled search: two regexes, and what their matches may name.
struct Matcher {
    /// A key between two delimiters (not necessarily the same two: `(key)` works).
    delimited: Regex,
    /// Words (`[A-Za-z0-9_]+`), or hyphenated words for kebab-case aliases; `None` without
    /// aliases of that kind.
    words: Option<Regex>,
    kebab_words: Option<Regex>,
    keys: HashMap<String, u32>,
    aliases: HashMap<String, Vec<u32>>,
}

/// Where one matched string is, in one file.
struct Hit {
    offset: usize,
    /// Index into the keys, or `None` for a key-shaped string that is no key.
    key: Option<u32>,
    text: String,
}

const KEY_SHAPE: &str = "[A-Za-z0-9][A-Za-z0-9_-]*(?:/[A-Za-z0-9][A-Za-z0-9_-]*)*";

impl Matcher {
    fn new(keys: &[Key], options: &Options) -> Result<Matcher, RefsError> {
        if options.delimiters.iter().any(String::is_empty) {
            return Err(RefsError::EmptyDelimiter);
        }
        let delimiters: Vec<String> = options
            .delimiters
            .iter()
            .map(|d| regex::escape(d))
            .collect();
        let delimiter = delimiters.join("|");
        let delimited = Regex::new(&format!("(?:{delimiter})({KEY_SHAPE})(?:{delimiter})"))
            .map_err(|e| RefsError::Delimiters(e.to_string()))?;
        let mut aliases: HashMap<String, Vec<u32>> = HashMap::new();
        // Keys come defined first: an alias that a defined and a removed flag share names
        // only the defined one.
        for (i, key) in (0u32..).zip(keys) {
            for style in &options.aliases {
                let Some(alias) = style.alias(&key.key) else {
                    continue;
                };
                match key.status {
                    Status::Defined { .. } => aliases.entry(alias).or_default().push(i),
                    Status::Removed { .. } => {
                        aliases.entry(alias).or_insert_with(|| vec![i]);
                    }
                }
            }
        }
        let kebab = options.aliases.contains(&AliasStyle::Kebab);
        let others = options.aliases.iter().any(|&s| s != AliasStyle::Kebab);
        let regex = |pattern: &str| Regex::new(pattern).expect("a valid constant pattern");
        Ok(Matcher {
            delimited,
            words: others.then(|| regex("[A-Za-z0-9_]+")),
            kebab_words: kebab.then(|| regex("[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)+")),
            keys: (0u32..)
                .zip(keys)
                .map(|(i, k)| (k.key.clone(), i))
                .collect(),
            aliases,
        })
    }

    /// Every key, alias and key-shaped delimited string in `text`, in order.
    fn hits(&self, text: &str) -> Vec<Hit> {
        let mut hits = Vec::new();
        for captures in self.delimited.captures_iter(text) {
            let Some(m) = captures.get(1) else {
                continue;
            };
            hits.push(Hit {
                offset: m.start(),
                key: self.keys.get(m.as_str()).copied(),
                text: m.as_str().to_owned(),
            });
        }
        for words in [&self.words, &self.kebab_words].into_iter().flatten() {
            for m in words.find_iter(text) {
                for &key in self.aliases.get(m.as_str()).into_iter().flatten() {
                    hits.push(Hit {
                        offset: m.start(),
                        key: Some(key),
                        text: m.as_str().to_owned(),
                    });
                }
            }
        }
        // A key in quotes that is also one of its own aliases (`"dark_mode"`) counts once.
        hits.sort_by_key(|h| (h.offset, h.key));
        hits.dedup_by(|a, b| (a.offset, a.key) == (b.offset, b.key));
        hits
    }
}

/// What scanning one file gave.
enum Scanned {
    /// Hits with their line and column.
    Hits(Vec<(usize, usize, Hit)>),
    Binary,
    TooLarge,
    Unreadable(String),
}

/// Options that cannot work: nothing was scanned.
#[derive(Debug)]
pub enum RefsError {
    /// A path to scan that does not exist.
    Missing(PathBuf),
    EmptyDelimiter,
    /// The delimiters make no valid pattern: why.
    Delimiters(String),
    /// An `exclude` glob that is not valid: why.
    Exclude(String),
    /// The `exclude` globs cannot be combined: why.
    Globs(String),
}

impl std::fmt::Display for RefsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefsError::Missing(path) => write!(f, "{} does not exist", path.display()),
            RefsError::EmptyDelimiter => write!(f, "a delimiter must not be empty"),
            RefsError::Delimiters(e) | RefsError::Globs(e) => f.write_str(e),
            RefsError::Exclude(e) => write!(f, "[refs] exclude: {e}"),
        }
    }
}

impl std::error::Error for RefsError {}

/// Scans the source trees `code` for references to the flags of `repo`, the flags repository
/// at `dir`. Errors are for options that cannot work (an invalid glob or delimiter, a
/// missing path); unreadable files are reported in [`Files::unreadable`].
pub fn scan(
    repo: &Repo,
    dir: &Path,
    code: &[PathBuf],
    options: &Options,
) -> Result<Report, RefsError> {
    for path in code {
        if !path.exists() {
            return Err(RefsError::Missing(path.clone()));
        }
    }
    let today = options.now_millis.div_euclid(86_400_000);
    let mut keys: Vec<Key> = repo
        .flags
        .iter()
        .map(|(key, loaded)| Key {
            key: key.clone(),
            status: Status::Defined {
                expired_on: loaded
                    .doc
                    .as_ref()
                    .and_then(|flag| expiry_day(flag.expires.as_ref()?))
                    .filter(|day| *day < today),
            },
        })
        .collect();
    let history = removed_flags(dir, &repo.flags);
    if let Some((_, removed)) = &history {
        keys.extend(removed.iter().map(|(key, commit)| Key {
            key: key.clone(),
            status: Status::Removed {
                last_commit: commit.clone(),
            },
        }));
    }
    let matcher = Matcher::new(&keys, options)?;
    let own_files = OwnFiles::new(dir);
    let results = Mutex::new(Vec::new());
    for root in code {
        walk(root, options, &own_files, &matcher, &results)?;
    }
    let mut results = results.into_inner().expect("no scanning thread panics");
    results.sort_by(|a, b| a.0.cmp(&b.0));
    // Overlapping paths (`--code src --code src/app`) reach a file twice.
    results.dedup_by(|a, b| a.0 == b.0 && !matches!(a.1, Scanned::Unreadable(_)));

    let mut files = Files::default();
    let mut findings = Vec::new();
    let mut references = Vec::new();
    let mut candidates: BTreeMap<String, Vec<(String, usize, usize)>> = BTreeMap::new();
    for (path, scanned) in results {
        let hits = match scanned {
            Scanned::Hits(hits) => hits,
            Scanned::Binary => {
                files.binary += 1;
                continue;
            }
            Scanned::TooLarge => {
                files.too_large += 1;
                continue;
            }
            Scanned::Unreadable(why) => {
                files.unreadable.push(format!("{path}: {why}"));
                continue;
            }
        };
        files.scanned += 1;
        for (line, column, hit) in hits {
            let Some(i) = hit.key else {
                if hit.text.contains('/') {
                    candidates
                        .entry(hit.text)
                        .or_default()
                        .push((path.clone(), line, column));
                }
                continue;
            };
            let key = &keys[i as usize];
            let text = (hit.text != key.key).then(|| hit.text.clone());
            let finding = |kind: Kind, message: String, help: String| Finding {
                kind,
                severity: kind.severity(),
                flag: key.key.clone(),
                file: path.clone(),
                line,
                column,
                text: text.clone(),
                message,
                help,
            };
            let written = match &text {
                Some(text) => format!(" (as `{text}`)"),
                None => String::new(),
            };
            match &key.status {
                Status::Removed { last_commit } => findings.push(finding(
                    Kind::Removed,
                    format!("removed flag `{}`{written}", key.key),
                    format!(
                        "it is no longer in the flags repository (last in commit {last_commit}): remove this code"
                    ),
                )),
                Status::Defined {
                    expired_on: Some(day),
                } => findings.push(finding(
                    Kind::Expired,
                    format!(
                        "expired flag `{}`{written}: it expired on {}",
                        key.key,
                        crate::literal::format_date(*day)
                    ),
                    "remove this code, then the flag, or extend `expires`".into(),
                )),
                Status::Defined { expired_on: None } => {}
            }
            references.push(Reference {
                file: path.clone(),
                line,
                column,
                flag: key.key.clone(),
                text: hit.text,
            });
        }
    }
    findings.extend(undefined(&repo.flags, candidates));
    findings.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));

    let referenced: BTreeSet<&str> = references.iter().map(|r| r.flag.as_str()).collect();
    let mut referenced_flags = 0;
    for (key, loaded) in &repo.flags {
        if referenced.contains(key.as_str()) {
            referenced_flags += 1;
            continue;
        }
        findings.push(Finding {
            kind: Kind::Unreferenced,
            severity: Kind::Unreferenced.severity(),
            flag: key.clone(),
            file: join(dir, repo.path(loaded.file)),
            line: 1,
            column: 1,
            text: None,
            message: format!("flag `{key}` is never referenced"),
            help: "remove it, unless code outside the scanned paths reads it".into(),
        });
    }
    Ok(Report {
        findings,
        references,
        files,
        flags: repo.flags.len(),
        referenced_flags,
        history: history.map(|(h, _)| h),
    })
}

/// Findings for key-shaped strings with a `/` that are a few edits away from a defined key
/// sharing their first or last segment (case aside).
fn undefined<T>(
    flags: &BTreeMap<String, T>,
    candidates: BTreeMap<String, Vec<(String, usize, usize)>>,
) -> Vec<Finding> {
    let mut by_segment: HashMap<String, Vec<&str>> = HashMap::new();
    for key in flags.keys() {
        let lower = key.to_ascii_lowercase();
        let (first, last) = first_and_last(&lower);
        by_segment.entry(first.to_owned()).or_default().push(key);
        if last != first {
            by_segment.entry(last.to_owned()).or_default().push(key);
        }
    }
    let mut findings = Vec::new();
    for (text, places) in candidates {
        let lower = text.to_ascii_lowercase();
        let (first, last) = first_and_last(&lower);
        let near: BTreeSet<&str> = [first, last]
            .iter()
            .flat_map(|s| by_segment.get(*s).into_iter().flatten().copied())
            .filter(|key| {
                let edits = if key.len() < 8 { 1 } else { 2 };
                strsim::osa_distance(&lower, &key.to_ascii_lowercase()) <= edits
            })
            .collect();
        let Some(&nearest) = near.first() else {
            continue;
        };
        let best = crate::diag::did_you_mean(&text, near.iter().copied()).unwrap_or(nearest);
        for (file, line, column) in places {
            findings.push(Finding {
                kind: Kind::Undefined,
                severity: Kind::Undefined.severity(),
                flag: text.clone(),
                file,
                line,
                column,
                text: None,
                message: format!("undefined flag `{text}`"),
                help: format!("did you mean `{best}`?"),
            });
        }
    }
    findings
}

fn first_and_last(key: &str) -> (&str, &str) {
    let first = key.split('/').next().unwrap_or(key);
    let last = key.rsplit('/').next().unwrap_or(key);
    (first, last)
}

/// The day an `expires` date names (a date-time is `check`'s error, not an expiry here).
fn expiry_day(expires: &crate::model::Spanned<crate::model::Timestamp>) -> Option<i64> {
    let datetime = &expires.value.0;
    let date = datetime.date.filter(|_| datetime.time.is_none())?;
    crate::literal::civil_day(
        i64::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    )
}

/// `dir` joined with a repo-relative path, as the user would write it from here.
fn join(dir: &Path, file: &str) -> String {
    let dir = display(dir);
    if dir.is_empty() || dir == "." {
        file.to_owned()
    } else {
        format!("{}/{file}", dir.trim_end_matches('/'))
    }
}

/// A path with `/` separators and no leading `./`.
fn display(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut text = text.as_str();
    while let Some(rest) = text.strip_prefix("./") {
        text = rest;
    }
    text.to_owned()
}

/// The flags repository's own files, which name flags but are not code that reads them.
#[derive(Clone)]
struct OwnFiles {
    project: Option<PathBuf>,
    dirs: Vec<PathBuf>,
    tests: Option<PathBuf>,
}

impl OwnFiles {
    fn new(dir: &Path) -> OwnFiles {
        let canonical = |name: &str| dir.join(name).canonicalize().ok();
        OwnFiles {
            project: canonical(crate::load::PROJECT_FILE),
            dirs: ["flags", "segments"]
                .into_iter()
                .filter_map(canonical)
                .collect(),
            tests: canonical("tests"),
        }
    }

    /// Whether the walk skips this entry. Only directories and .toml files are resolved.
    fn contains(&self, entry: &ignore::DirEntry) -> bool {
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        let is_toml = entry.path().extension().is_some_and(|e| e == "toml");
        if !is_dir && !is_toml {
            return false;
        }
        let Ok(path) = entry.path().canonicalize() else {
            return false;
        };
        if is_dir {
            return self.dirs.contains(&path);
        }
        self.project.as_ref() == Some(&path)
            || (self.tests.is_some() && path.parent() == self.tests.as_deref())
    }
}

/// Walks one source tree in parallel, scanning every file it does not skip.
fn walk(
    root: &Path,
    options: &Options,
    own_files: &OwnFiles,
    matcher: &Matcher,
    results: &Mutex<Vec<(String, Scanned)>>,
) -> Result<(), RefsError> {
    let mut overrides = ignore::overrides::OverrideBuilder::new(root);
    for glob in &options.exclude {
        overrides
            .add(&format!("!{glob}"))
            .map_err(|e| RefsError::Exclude(e.to_string()))?;
    }
    let overrides = overrides
        .build()
        .map_err(|e| RefsError::Globs(e.to_string()))?;
    // filter_entry needs 'static: the flags repository's paths are copied into it.
    let own = own_files.clone();
    ignore::WalkBuilder::new(root)
        // .gitignore applies whether or not the tree is a git repository.
        .require_git(false)
        .overrides(overrides)
        .filter_entry(move |entry| !own.contains(entry))
        .build_parallel()
        .run(|| {
            Box::new(|entry| {
                let scanned = match entry {
                    Ok(entry) if entry.file_type().is_some_and(|t| t.is_file()) => {
                        let path = display(entry.path());
                        let scanned = scan_file(entry.path(), matcher);
                        (path, scanned)
                    }
                    Ok(_) => return ignore::WalkState::Continue,
                    // The error names the path it concerns.
                    Err(e) => (display(root), Scanned::Unreadable(e.to_string())),
                };
                results
                    .lock()
                    .expect("no scanning thread panics")
                    .push(scanned);
                ignore::WalkState::Continue
            })
        });
    Ok(())
}

fn scan_file(path: &Path, matcher: &Matcher) -> Scanned {
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE_BYTES => return Scanned::TooLarge,
        Ok(_) => {}
        Err(e) => return Scanned::Unreadable(e.to_string()),
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return Scanned::Unreadable(e.to_string()),
    };
    if bytes[..bytes.len().min(BINARY_PROBE_BYTES)].contains(&0) {
        return Scanned::Binary;
    }
    // Keys are ASCII: invalid UTF-8 elsewhere in a file (Latin-1, say) hides none of them.
    let text = String::from_utf8_lossy(&bytes);
    let hits = matcher.hits(&text);
    let mut lines = Lines::new(&text);
    Scanned::Hits(
        hits.into_iter()
            .map(|hit| {
                let (line, column) = lines.locate(hit.offset);
                (line, column, hit)
            })
            .collect(),
    )
}

/// 1-based lines and columns (in characters) of increasing offsets, in one pass.
struct Lines<'t> {
    text: &'t str,
    line: usize,
    line_start: usize,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Self {
        Lines {
            text,
            line: 1,
            line_start: 0,
        }
    }

    fn locate(&mut self, offset: usize) -> (usize, usize) {
        let skipped = &self.text[self.line_start..offset];
        if let Some(last) = skipped.rfind('\n') {
            self.line += skipped.matches('\n').count();
            self.line_start += last + 1;
        }
        let column = self.text[self.line_start..offset].chars().count() + 1;
        (self.line, column)
    }
}

/// Keys of flags that the flags directory's git history has but the work tree does not,
/// each with the (12-digit) commit that last had it, newest first; `None` outside git.
fn removed_flags<T>(
    dir: &Path,
    current: &BTreeMap<String, T>,
) -> Option<(History, BTreeMap<String, String>)> {
    let repository = Repository::discover(dir).ok()?;
    let relative = repository.relative(dir).ok()?.join("flags");
    let mut history = History {
        commits: 0,
        truncated: false,
    };
    let Ok(Some(commits)) = repository.history(Order::Topological) else {
        // No commit yet: no history.
        return Some((history, BTreeMap::new()));
    };
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    // A tree already listed at a path holds the same keys: each version is listed once.
    let mut visited = HashSet::new();
    for commit in commits {
        if history.commits == MAX_HISTORY_COMMITS {
            history.truncated = true;
            break;
        }
        // A shallow clone's walk ends with a commit it does not have.
        let Ok(commit) = commit else {
            history.truncated = true;
            break;
        };
        history.commits += 1;
        let Some(tree) = commit.subtree(&relative).ok().flatten() else {
            continue;
        };
        let id = commit.id().to_string();
        let id = &id[..12];
        let valid = |name: &str| crate::load::valid_key_segment(name);
        tree.visit_once("", &mut visited, &valid, &mut |prefix, entry| {
            let stem = entry.name().and_then(|name| name.strip_suffix(".toml"));
            if let (git::Kind::Blob | git::Kind::Link, Some(stem)) = (entry.kind, stem)
                && crate::load::valid_key_segment(stem)
            {
                seen.entry(format!("{prefix}{stem}"))
                    .or_insert_with(|| id.to_owned());
            }
        });
    }
    seen.retain(|key, _| !current.contains_key(key));
    Some((history, seen))
}
