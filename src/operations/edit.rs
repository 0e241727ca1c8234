//! Edits of one flag's file that keep its comments and formatting (toml_edit): kill, restore,
//! set a rule's rollout, promote one environment's targeting to another.
//!
//! [`apply`] works on the file's text alone. [`prepare`] applies an edit to a flag of a
//! repository and checks the result: an edit is refused, with the file untouched, when it
//! would add an error to the repository; errors it already had elsewhere do not block it, so
//! a kill is never held up by an unrelated broken file. [`save`] then writes it atomically,
//! or commits it alone.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, TableLike, Value};

use crate::diag::Diagnostic;
use crate::fs::WriteError;
use crate::git::{CommitError, ObjectId, Repository};
use crate::load::{Repo, RepoError};

/// Why an edit could not be prepared or saved.
#[derive(Debug)]
pub enum EditError {
    Load(RepoError),
    /// The project file is missing or cannot be read.
    NoProject,
    /// The edit names an environment the project lacks; `help` suggests one.
    NoEnvironment {
        env: String,
        help: String,
    },
    /// There is no flag with this key; `help` suggests one.
    NoFlag {
        key: String,
        help: String,
    },
    /// The edit does not apply to the flag's file (at `path`): why.
    Inapplicable {
        path: String,
        reason: Inapplicable,
    },
    Write(WriteError),
    /// The flags repository is not inside a git repository, so it cannot be committed to.
    NotInGit,
    Commit(CommitError),
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::Load(e) => e.fmt(f),
            EditError::NoProject => {
                write!(f, "flagstone.toml is missing or unreadable; fix it first")
            }
            EditError::NoEnvironment { env, help } => {
                write!(f, "there is no environment `{env}`; {help}")
            }
            EditError::NoFlag { key, help } => write!(f, "there is no flag `{key}`; {help}"),
            EditError::Inapplicable { path, reason } => {
                write!(f, "{path}: {reason}; the file is untouched")
            }
            EditError::Write(e) => e.fmt(f),
            EditError::NotInGit => {
                write!(f, "the flags repository is not inside a git repository")
            }
            EditError::Commit(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for EditError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EditError::Load(e) => Some(e),
            EditError::Write(e) => Some(e),
            EditError::Commit(e) => Some(e),
            EditError::Inapplicable { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// What preparing an edit of a flag came to.
pub enum Prepared {
    /// The edit changes nothing; `notes` say why.
    Unchanged { path: String, notes: Vec<String> },
    /// The edit would add `added` errors to the repository (`edited`, as the edit leaves
    /// it): refused.
    Refused {
        path: String,
        notes: Vec<String>,
        edited: Box<Repo>,
        added: Vec<Diagnostic>,
    },
    /// Checked, ready to save.
    Ready(Ready),
}

/// An edit that checks, to be saved.
pub struct Ready {
    /// The flag file, relative to the flags repository.
    pub path: String,
    /// The flag file on disk.
    pub file: PathBuf,
    pub before: String,
    pub after: String,
    pub notes: Vec<String>,
    /// The commit subject: the flag's key and what changed.
    pub subject: String,
}

/// Applies `edit` to environment `env` of the flag `key` in the repository at `dir`, and
/// checks the repository as the edit leaves it, at `options`' time. `other_envs` are further
/// environments the edit names, which must exist too.
pub fn prepare(
    dir: &Path,
    key: &str,
    env: &str,
    other_envs: &[&str],
    edit: &Edit,
    options: &crate::check::Options,
) -> Result<Prepared, EditError> {
    let repo = crate::load::load(dir).map_err(EditError::Load)?;
    let project = repo
        .project
        .as_ref()
        .and_then(|p| p.doc.as_ref())
        .ok_or(EditError::NoProject)?;
    let environments: Vec<&str> = project.environments.iter().map(|e| e.as_str()).collect();
    for env in std::iter::once(env).chain(other_envs.iter().copied()) {
        if !environments.contains(&env) {
            let help = crate::diag::suggest(env, environments.iter().copied(), "environments");
            return Err(EditError::NoEnvironment {
                env: env.to_owned(),
                help,
            });
        }
    }
    let Some(loaded) = repo.flags.get(key) else {
        let help = crate::diag::suggest(key, repo.flags.keys().map(String::as_str), "flags");
        return Err(EditError::NoFlag {
            key: key.to_owned(),
            help,
        });
    };
    let source = &repo.files[loaded.file];
    let path = source.path.clone();
    let Edited {
        text,
        notes,
        summary,
    } = apply(&source.text, env, edit).map_err(|reason| EditError::Inapplicable {
        path: path.clone(),
        reason,
    })?;
    let Some(summary) = summary else {
        return Ok(Prepared::Unchanged { path, notes });
    };
    let before = crate::check::check(&repo, options).diagnostics;
    let edited = crate::load::load_edited(dir, &path, &text).map_err(EditError::Load)?;
    let after = crate::check::check(&edited, options).diagnostics;
    let added: Vec<Diagnostic> = after
        .into_iter()
        .filter(|d| d.is_error() && !before.iter().any(|b| same_finding(b, d)))
        .collect();
    if !added.is_empty() {
        return Ok(Prepared::Refused {
            path,
            notes,
            edited: Box::new(edited),
            added,
        });
    }
    Ok(Prepared::Ready(Ready {
        file: dir.join(&path),
        before: source.text.clone(),
        after: text,
        notes,
        subject: format!("{key}: {summary}"),
        path,
    }))
}

/// The same finding, at any position (the edit may move text).
fn same_finding(a: &Diagnostic, b: &Diagnostic) -> bool {
    a.code == b.code && a.file == b.file && a.message == b.message
}

/// Writes the edited file atomically; with `commit`, also commits it alone on HEAD (other
/// staged changes stay staged), refusing when the file differs from HEAD already. Returns
/// the commit's id.
pub fn save(ready: &Ready, commit: bool) -> Result<Option<ObjectId>, EditError> {
    let write = || crate::fs::write_atomic(&ready.file, ready.after.as_bytes());
    if !commit {
        write().map_err(EditError::Write)?;
        return Ok(None);
    }
    let repository = Repository::discover(ready.file.parent().unwrap_or(Path::new(".")))
        .map_err(|_| EditError::NotInGit)?;
    repository
        .commit_file(
            &ready.file,
            &ready.before,
            &ready.after,
            &ready.subject,
            write,
        )
        .map(Some)
        .map_err(EditError::Commit)
}

/// What to change in one environment of a flag.
#[derive(Clone, Debug)]
pub enum Edit {
    /// `enabled = false`: every unit gets the off variant. Schedule steps that would enable
    /// the flag again are removed, so that the kill wins.
    Kill,
    /// Undoes a kill: `enabled = false` is removed (enabled is the default).
    Restore,
    /// Sets a rule's rollout percentage; the rule may be left out when only one rule has a
    /// rollout (or there is only one rule).
    Rollout { rule: Option<String>, percent: f64 },
    /// Replaces the environment's targeting with that of environment `from`.
    Promote { from: String },
}

/// The edited text, and what the edit did beyond the obvious.
#[derive(Debug, PartialEq)]
pub struct Edited {
    pub text: String,
    /// Things the person editing should know ("removed a schedule step…").
    pub notes: Vec<String>,
    /// What changed, in a few words, for messages and commit subjects; `None` for no change.
    pub summary: Option<String>,
}

/// Why an edit does not apply to a flag's file.
#[derive(Debug)]
pub enum Inapplicable {
    /// A rollout that does not say which of the environment's rules it sets.
    WhichRule {
        env: String,
        rules: Vec<String>,
    },
    Other(String),
}

impl std::fmt::Display for Inapplicable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Inapplicable::WhichRule { env, rules } => {
                write!(f, "which rule? {env} has the rules {}", rules.join(", "))
            }
            Inapplicable::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Inapplicable {}

/// Applies `edit` to environment `env` of the flag file `text`.
pub fn apply(text: &str, env: &str, edit: &Edit) -> Result<Edited, Inapplicable> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        Inapplicable::Other(format!("the file is not valid TOML: {e}"))
    })?;
    let mut notes = Vec::new();
    let summary = match edit {
        Edit::Kill => kill(&mut doc, env, &mut notes).map_err(Inapplicable::Other)?,
        Edit::Restore => restore(&mut doc, env, &mut notes).map_err(Inapplicable::Other)?,
        Edit::Rollout { rule, percent } => {
            rollout(&mut doc, env, rule.as_deref(), *percent, &mut notes)?
        }
        Edit::Promote { from } => {
            promote(&mut doc, from, env, &mut notes).map_err(Inapplicable::Other)?
        }
    };
    Ok(Edited {
        text: if summary.is_some() {
            doc.to_string()
        } else {
            text.to_owned()
        },
        notes,
        summary,
    })
}

/// The environment's table in the flag's `env` table, if the flag has an entry for it.
fn environment<'d>(doc: &'d mut DocumentMut, env: &str) -> Option<&'d mut dyn TableLike> {
    doc.get_mut("env")?
        .as_table_like_mut()?
        .get_mut(env)?
        .as_table_like_mut()
}

fn kill(
    doc: &mut DocumentMut,
    env: &str,
    notes: &mut Vec<String>,
) -> Result<Option<String>, String> {
    let Some(table) = environment(doc, env) else {
        notes.push(format!(
            "the flag has no entry for {env}, so {env} already serves the off variant"
        ));
        return Ok(None);
    };
    let mut changed = false;
    if table.get("enabled").and_then(Item::as_bool) == Some(false) {
        notes.push(format!("the flag is killed in {env} already"));
    } else {
        set(table, "enabled", Value::from(false));
        changed = true;
    }
    // A step with `enabled = true` turns the flag back on from its time on, past or future:
    // the kill must win, so the step loses its `enabled` (and goes, if that was all it did).
    if let Some(schedule) = table.get_mut("schedule") {
        for_each_table(schedule, |step| {
            if step.get("enabled").and_then(Item::as_bool) != Some(true) {
                return Keep::Yes;
            }
            let at = step
                .get("at")
                .and_then(Item::as_value)
                .map_or_else(|| "?".to_owned(), |v| v.to_string().trim().to_owned());
            changed = true;
            step.remove("enabled");
            if step.iter().any(|(key, _)| key != "at") {
                notes.push(format!(
                    "the schedule step at {at} would enable the flag again: it no longer does (its other changes stay)"
                ));
                Keep::Yes
            } else {
                notes.push(format!(
                    "the schedule step at {at} would enable the flag again: it is removed"
                ));
                Keep::No
            }
        });
    }
    if changed {
        enabled_first(doc, env);
    }
    Ok(changed.then(|| format!("kill in {env}: every unit gets the off variant")))
}

/// Moves `enabled` to the top of the environment's table, where a reader looks first.
fn enabled_first(doc: &mut DocumentMut, env: &str) {
    let order = |a: &toml_edit::Key, b: &toml_edit::Key| {
        (a.get() != "enabled").cmp(&(b.get() != "enabled"))
    };
    let entry = doc
        .get_mut("env")
        .and_then(Item::as_table_like_mut)
        .and_then(|envs| envs.get_mut(env));
    match entry {
        Some(Item::Table(table)) => table.sort_values_by(|a, _, b, _| order(a, b)),
        Some(Item::Value(Value::InlineTable(table))) => {
            table.sort_values_by(|a, _, b, _| order(a, b));
        }
        _ => {}
    }
}

fn restore(
    doc: &mut DocumentMut,
    env: &str,
    notes: &mut Vec<String>,
) -> Result<Option<String>, String> {
    let table = environment(doc, env).ok_or_else(|| format!("the flag has no entry for {env}"))?;
    if table.get("enabled").and_then(Item::as_bool) != Some(false) {
        notes.push(format!("the flag is not killed in {env}"));
        return Ok(None);
    }
    table.remove("enabled");
    Ok(Some(format!("restore in {env}")))
}

fn rollout(
    doc: &mut DocumentMut,
    env: &str,
    rule: Option<&str>,
    percent: f64,
    notes: &mut Vec<String>,
) -> Result<Option<String>, Inapplicable> {
    if !(0.0..=100.0).contains(&percent) || (percent * 1000.0).fract() != 0.0 {
        return Err(Inapplicable::Other(format!(
            "a rollout is a percentage from 0 to 100 with at most 3 decimals, not {percent}"
        )));
    }
    let table = environment(doc, env)
        .ok_or_else(|| Inapplicable::Other(format!("the flag has no entry for {env}")))?;
    let rules = table
        .get_mut("rules")
        .ok_or_else(|| Inapplicable::Other(format!("the flag has no rules in {env}")))?;
    let mut names = Vec::new();
    let mut with_rollout = Vec::new();
    for_each_table(rules, |r| {
        let name = r
            .get("name")
            .and_then(Item::as_str)
            .unwrap_or_default()
            .to_owned();
        if r.contains_key("rollout") {
            with_rollout.push(name.clone());
        }
        names.push(name);
        Keep::Yes
    });
    let target = match rule {
        Some(rule) if names.iter().any(|n| n == rule) => rule.to_owned(),
        Some(rule) => {
            let help = crate::diag::suggest(rule, names.iter().map(String::as_str), "rules");
            return Err(Inapplicable::Other(format!(
                "{env} has no rule `{rule}`; {help}"
            )));
        }
        None => match (&with_rollout[..], &names[..]) {
            ([only], _) | ([], [only]) => only.clone(),
            _ => {
                return Err(Inapplicable::WhichRule {
                    env: env.to_owned(),
                    rules: names,
                });
            }
        },
    };
    let mut summary = None;
    for_each_table(rules, |r| {
        if r.get("name").and_then(Item::as_str) != Some(target.as_str()) {
            return Keep::Yes;
        }
        let before = r.get("rollout").and_then(|i| i.as_value()).and_then(number);
        if before != Some(percent) && !(before.is_none() && percent == 100.0) {
            set(r, "rollout", percent_value(percent));
            let from = before.map_or("100%".to_owned(), |b| format!("{b}%"));
            summary = Some(format!(
                "rule `{target}` rollout {from} → {percent}% in {env}"
            ));
        }
        if let Some(schedule) = r.get_mut("schedule") {
            let mut steps = 0;
            for_each_table(schedule, |step| {
                steps += usize::from(step.contains_key("rollout"));
                Keep::Yes
            });
            if steps > 0 {
                notes.push(format!(
                    "rule `{target}` has {steps} scheduled rollout step{}: each still applies from its time on",
                    if steps == 1 { "" } else { "s" }
                ));
            }
        }
        Keep::Yes
    });
    if summary.is_none() {
        notes.push(format!(
            "rule `{target}` already rolls out to {percent}% in {env}"
        ));
    }
    Ok(summary)
}

fn promote(
    doc: &mut DocumentMut,
    from: &str,
    to: &str,
    notes: &mut Vec<String>,
) -> Result<Option<String>, String> {
    if from == to {
        return Err(format!("cannot promote {from} to itself"));
    }
    let envs = doc
        .get_mut("env")
        .and_then(Item::as_table_like_mut)
        .ok_or_else(|| format!("the flag has no entry for {from}"))?;
    let mut copy = envs
        .get(from)
        .cloned()
        .ok_or_else(|| format!("the flag has no entry for {from}"))?;
    if same_entry(envs.get(from), envs.get(to)) {
        notes.push(format!("{to} already has the same targeting as {from}"));
        return Ok(None);
    }
    // Positions are the copied tables' places in the file: cleared, the promoted tables are
    // written after the others instead of among the source's.
    clear_positions(&mut copy);
    envs.insert(to, copy);
    Ok(Some(format!("promote {from} to {to}")))
}

/// Whether two environment entries say the same, whatever their layout.
fn same_entry(a: Option<&Item>, b: Option<&Item>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return false;
    };
    let plain = |item: &Item| -> Option<toml::Value> {
        let mut doc = DocumentMut::new();
        doc.insert("x", item.clone());
        let table: toml::Table = doc.to_string().parse().ok()?;
        table.get("x").cloned()
    };
    plain(a).is_some() && plain(a) == plain(b)
}

fn clear_positions(item: &mut Item) {
    let tables: Vec<&mut toml_edit::Table> = match item {
        Item::Table(table) => vec![table],
        Item::ArrayOfTables(array) => array.iter_mut().collect(),
        _ => Vec::new(),
    };
    for table in tables {
        table.set_position(None);
        for (_, child) in table.iter_mut() {
            clear_positions(child);
        }
    }
}

/// Whether to keep a table visited by [`for_each_table`].
enum Keep {
    Yes,
    No,
}

/// Visits each table of an array of tables (`[[x]]`) or of an inline array of inline tables.
fn for_each_table(item: &mut Item, mut visit: impl FnMut(&mut dyn TableLike) -> Keep) {
    match item {
        Item::ArrayOfTables(array) => {
            let mut i = 0;
            while i < array.len() {
                let table = array.get_mut(i).expect("in bounds");
                match visit(table) {
                    Keep::Yes => i += 1,
                    Keep::No => drop(array.remove(i)),
                }
            }
        }
        Item::Value(Value::Array(array)) => {
            let mut i = 0;
            while i < array.len() {
                let keep = match array.get_mut(i).and_then(Value::as_inline_table_mut) {
                    Some(table) => visit(table),
                    None => Keep::Yes,
                };
                match keep {
                    Keep::Yes => i += 1,
                    Keep::No => drop(array.remove(i)),
                }
            }
        }
        _ => {}
    }
}

/// Sets `key` to `value`, keeping the comments and spacing around an existing value.
fn set(table: &mut dyn TableLike, key: &str, mut value: Value) {
    if let Some(old) = table.get(key).and_then(Item::as_value) {
        *value.decor_mut() = old.decor().clone();
    }
    table.insert(key, Item::Value(value));
}

fn number(value: &Value) -> Option<f64> {
    value
        .as_float()
        .or_else(|| value.as_integer().map(|i| i as f64))
}

/// A percentage as TOML writes it: `25`, not `25.0`.
fn percent_value(percent: f64) -> Value {
    if percent.fract() == 0.0 {
        Value::from(percent as i64)
    } else {
        Value::from(percent)
    }
}
