//! The GitHub Action (action.yml), run locally. GitHub cannot be reached from a test, so the
//! harness does what the runner does for a composite action: it runs each `run:` step with
//! bash in order, with the step's `env:` (its `${{ }}` expressions evaluated here), GitHub's
//! environment variables and a `$GITHUB_OUTPUT` file per step, and stops at the first failing
//! step. `uses:` steps (the build cache) are skipped; the action is given the test's flagstone
//! binary, at the tests' fixed time, through its `flagstone-path` input, and `gh` is a fake
//! (tests/action/gh) that prints the reviews a test wrote.
// The steps are bash scripts, and the fake gh an executable one.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{commit, commit_on, copy_dir, root};

/// The token the harness gives as `github.token`; the fake `gh` insists on it.
const TOKEN: &str = "ghs_token-of-the-test";
const REPOSITORY: &str = "acme/flags";
const PR_NUMBER: u64 = 42;
/// The pull request's author, unless a test says otherwise: a member of no team that owns a
/// changed flag.
const AUTHOR: &str = "nora";

/// The parts of action.yml the harness reads.
struct Action {
    /// Input name → default.
    inputs: BTreeMap<String, String>,
    /// Output name → value expression.
    outputs: BTreeMap<String, String>,
    steps: Vec<Step>,
}

struct Step {
    id: Option<String>,
    /// The id, else the name or the `uses:` reference: for messages.
    label: String,
    run: Option<String>,
    shell: Option<String>,
    condition: Option<String>,
    env: Vec<(String, String)>,
    /// The values of `with:`, only checked for the names they refer to.
    with: Vec<String>,
    keys: Vec<String>,
}

fn scalar(value: &Yaml, what: &str) -> String {
    match value {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        other => panic!("action.yml: {what} is {other:?}, not a scalar"),
    }
}

fn optional(map: &Yaml, key: &str, what: &str) -> Option<String> {
    match &map[key] {
        Yaml::BadValue => None,
        value => Some(scalar(value, &format!("{what}.{key}"))),
    }
}

/// A mapping's entries, in file order; absent means empty.
fn entries(map: &Yaml, what: &str) -> Vec<(String, Yaml)> {
    match map {
        Yaml::BadValue => Vec::new(),
        Yaml::Hash(hash) => hash
            .iter()
            .map(|(k, v)| (scalar(k, what), v.clone()))
            .collect(),
        other => panic!("action.yml: {what} is {other:?}, not a mapping"),
    }
}

fn action_text() -> String {
    std::fs::read_to_string(root().join("action.yml")).unwrap()
}

fn action() -> Action {
    let docs = YamlLoader::load_from_str(&action_text()).expect("action.yml is YAML");
    let doc = &docs[0];
    let inputs = entries(&doc["inputs"], "inputs")
        .into_iter()
        .map(|(name, input)| {
            let default = optional(&input, "default", &name).unwrap_or_default();
            (name, default)
        })
        .collect();
    let outputs = entries(&doc["outputs"], "outputs")
        .into_iter()
        .map(|(name, output)| {
            let value = optional(&output, "value", &name).expect("every output has a value");
            (name, value)
        })
        .collect();
    assert_eq!(
        optional(&doc["runs"], "using", "runs").as_deref(),
        Some("composite")
    );
    let steps = doc["runs"]["steps"]
        .as_vec()
        .expect("runs.steps is a list")
        .iter()
        .map(|step| {
            let id = optional(step, "id", "step");
            let label = id
                .clone()
                .or_else(|| optional(step, "name", "step"))
                .or_else(|| optional(step, "uses", "step"))
                .expect("a step has an id, a name or uses");
            let env = entries(&step["env"], &format!("{label}.env"))
                .into_iter()
                .map(|(k, v)| (k, scalar(&v, &format!("{label}.env"))))
                .collect();
            let with = entries(&step["with"], &format!("{label}.with"))
                .into_iter()
                .map(|(k, v)| scalar(&v, &format!("{label}.with.{k}")))
                .collect();
            Step {
                keys: entries(step, "step").into_iter().map(|(k, _)| k).collect(),
                id,
                run: optional(step, "run", &label),
                shell: optional(step, "shell", &label),
                condition: optional(step, "if", &label),
                env,
                with,
                label,
            }
        })
        .collect();
    Action {
        inputs,
        outputs,
        steps,
    }
}

/// `text` with each `${{ expression }}` replaced by `value(expression)`.
fn substitute(text: &str, mut value: impl FnMut(&str) -> String) -> String {
    let mut result = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let after = &rest[start + 3..];
        let end = after
            .find("}}")
            .unwrap_or_else(|| panic!("an unclosed expression in {text:?}"));
        result.push_str(&rest[..start]);
        result.push_str(&value(after[..end].trim()));
        rest = &after[end + 2..];
    }
    result + rest
}

/// The `${{ }}` expressions in `text`, trimmed.
fn expressions(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    substitute(text, |expression| {
        found.push(expression.to_owned());
        String::new()
    });
    found
}

/// The names that follow `prefix` (such as `inputs.`) in an expression.
fn references(expression: &str, prefix: &str) -> Vec<String> {
    expression
        .match_indices(prefix)
        .filter(|(at, _)| {
            // `inputs.` inside `steps.inputs.` or `xinputs.` is not the inputs context.
            !expression[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '.' || c == '_')
        })
        .map(|(at, _)| {
            let name = &expression[at + prefix.len()..];
            let end = name
                .find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(name.len());
            name[..end].to_owned()
        })
        .collect()
}

#[test]
fn inputs_reach_scripts_only_through_env_and_every_reference_resolves() {
    let action = action();
    let mut used_inputs = Vec::new();
    let mut earlier_ids: Vec<&str> = Vec::new();
    for step in &action.steps {
        let label = &step.label;
        // Expressions in `if:` need no ${{ }}; those elsewhere do.
        let mut exprs: Vec<String> = step.condition.iter().cloned().collect();
        exprs.extend(step.env.iter().flat_map(|(_, v)| expressions(v)));
        exprs.extend(step.with.iter().flat_map(|v| expressions(v)));
        for expression in exprs {
            used_inputs.extend(references(&expression, "inputs."));
            for id in references(&expression, "steps.") {
                assert!(
                    earlier_ids.contains(&id.as_str()),
                    "step {label} refers to step {id}, which does not run before it"
                );
            }
        }
        // Keys the harness does not model (working-directory, continue-on-error…) would
        // make it run the step differently from GitHub.
        let known: &[&str] = match step.run {
            Some(_) => &["id", "name", "shell", "env", "run"],
            None => &["id", "name", "if", "uses", "with"],
        };
        for key in &step.keys {
            assert!(known.contains(&key.as_str()), "step {label} has {key}:");
        }
        if let Some(script) = &step.run {
            assert!(
                !script.contains("${{"),
                "step {label}: an expression inside a run script is pasted into the shell \
                 source; pass it through env: instead"
            );
            assert_eq!(step.shell.as_deref(), Some("bash"), "step {label}");
            // The harness runs every run step, so bash must decide what a step skips.
            assert!(step.condition.is_none(), "step {label} has an if:");
            assert!(
                script.starts_with("set -euo pipefail\n"),
                "step {label} starts with set -euo pipefail"
            );
        }
        earlier_ids.extend(step.id.as_deref());
    }
    for value in action.outputs.values() {
        for expression in expressions(value) {
            for id in references(&expression, "steps.") {
                assert!(
                    earlier_ids.contains(&id.as_str()),
                    "an output refers to step {id}"
                );
            }
        }
    }
    for name in &used_inputs {
        assert!(
            action.inputs.contains_key(name),
            "action.yml uses input {name}, which it does not declare"
        );
    }
    for name in action.inputs.keys() {
        assert!(
            used_inputs.contains(name),
            "input {name} is declared but not used"
        );
    }
}

/// What one run of the action did.
#[derive(Debug)]
struct Run {
    /// The ids of the run steps that ran, in order.
    ran: Vec<String>,
    /// The step that failed, and its exit status.
    failed: Option<(String, i32)>,
    /// The action's outputs, as its `outputs:` map them.
    outputs: BTreeMap<String, String>,
    /// What each step wrote to its `$GITHUB_STEP_SUMMARY` (GitHub shows them one after
    /// another as the job summary), by step id; steps that wrote nothing are left out.
    summaries: BTreeMap<String, String>,
    /// Every step's standard output and error, each under a `--- step` line.
    log: String,
    /// `$RUNNER_TEMP` and the other files of the run, kept until the test has read them.
    _files: tempfile::TempDir,
}

/// The values that `${{ }}` expressions can refer to.
struct Context<'a> {
    action: &'a Action,
    /// The inputs the workflow gave; the others take their defaults.
    given: &'a [(&'a str, &'a str)],
    /// Step id → the outputs it wrote, for the steps that have run.
    steps: BTreeMap<String, BTreeMap<String, String>>,
    /// The event's payload, as `github.event`.
    event: &'a serde_json::Value,
}

impl Context<'_> {
    /// `text` with every expression replaced by its value.
    fn evaluate(&self, text: &str) -> String {
        substitute(text, |expression| self.value(expression))
    }

    /// The value of one expression: only the forms action.yml uses, so that a new form
    /// fails here loudly instead of being run wrongly.
    fn value(&self, expression: &str) -> String {
        if let Some(name) = expression.strip_prefix("inputs.") {
            let default = self
                .action
                .inputs
                .get(name)
                .unwrap_or_else(|| panic!("undeclared input {name}"));
            return match self.given.iter().find(|(n, _)| *n == name) {
                Some((_, value)) => (*value).to_owned(),
                None => self.evaluate(default),
            };
        }
        if let Some(rest) = expression.strip_prefix("steps.") {
            let (id, name) = rest
                .split_once(".outputs.")
                .unwrap_or_else(|| panic!("the harness only reads steps' outputs: {expression}"));
            // A step that did not run, or wrote no such output, gives "", as on GitHub.
            return self
                .steps
                .get(id)
                .and_then(|outputs| outputs.get(name))
                .cloned()
                .unwrap_or_default();
        }
        if let Some(path) = expression.strip_prefix("github.event.") {
            // A missing field is "", as on GitHub; numbers and strings are their text.
            let field = path
                .split('.')
                .try_fold(self.event, |value, key| value.get(key));
            return match field {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
        }
        match expression {
            "github.token" => TOKEN.to_owned(),
            "github.action_path" => root().display().to_string(),
            // As for a local action (`uses: ./`): the download step needs `release-url`, so
            // no test reaches the network.
            "github.action_repository" => String::new(),
            _ => panic!("the test harness does not evaluate `{expression}`"),
        }
    }
}

/// `$GITHUB_OUTPUT`: `name=value` lines and `name<<DELIMITER` heredocs.
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                outputs.insert(line[..e].to_owned(), line[e + 1..].to_owned());
            }
            (_, Some(h)) => {
                let delimiter = &line[h + 2..];
                let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
                outputs.insert(line[..h].to_owned(), value.join("\n"));
            }
            _ => panic!("$GITHUB_OUTPUT line without = or <<: {line}"),
        }
    }
    outputs
}

/// What GitHub says about the event that runs the action.
struct Event<'a> {
    /// `$GITHUB_EVENT_NAME`: `pull_request`, `push`…
    name: &'a str,
    /// `$GITHUB_EVENT_PATH`'s content.
    payload: &'a serde_json::Value,
    /// `$GITHUB_SHA`: the commit the workflow runs on (a pull request's merge commit).
    sha: &'a str,
}

/// Runs the action in `workspace`, a git repository, for `event`, with the inputs `given`;
/// `gh api --paginate` prints `reviews`.
/// What the fake `gh` answers: the pull request's reviews and its commits (JSON text).
struct GitHub<'a> {
    reviews: &'a str,
    commits: &'a str,
}

fn run_action(
    workspace: &Path,
    event: &Event<'_>,
    given: &[(&str, &str)],
    github: GitHub<'_>,
) -> Run {
    run_steps(workspace, event, given, github, &Runner::default())
}

/// What a test changes in the runner: programs first on `PATH` (stand-ins for cargo or
/// ldd), variables (`RUNNER_OS`…), and which run steps run (by id; `None`, all of them).
#[derive(Default)]
struct Runner {
    path: Vec<PathBuf>,
    env: Vec<(String, String)>,
    only: Option<Vec<&'static str>>,
}

fn run_steps(
    workspace: &Path,
    event: &Event<'_>,
    given: &[(&str, &str)],
    github: GitHub<'_>,
    runner: &Runner,
) -> Run {
    let action = action();
    let temp = crate::support::tempdir();
    let dir = |name: &str| {
        let path = temp.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        path
    };
    let (bin, runner_temp, home, scripts) =
        (dir("bin"), dir("runner"), dir("home"), dir("scripts"));
    // Copied, so that the executable bit does not depend on how the file was checked out.
    let gh = bin.join("gh");
    std::fs::copy(root().join("tests/action/gh"), &gh).unwrap();
    make_executable(&gh);
    // The action needs no JSON tool: a `jq` on the PATH fails any step that calls it.
    let jq = bin.join("jq");
    std::fs::write(
        &jq,
        "#!/bin/sh\necho 'the action must not need jq' >&2\nexit 127\n",
    )
    .unwrap();
    make_executable(&jq);
    let event_path = temp.path().join("event.json");
    std::fs::write(&event_path, event.payload.to_string()).unwrap();
    let reviews_path = temp.path().join("reviews.json");
    std::fs::write(&reviews_path, github.reviews).unwrap();
    let commits_path = temp.path().join("commits.json");
    std::fs::write(&commits_path, github.commits).unwrap();
    let path = std::env::join_paths(
        (runner.path.iter().cloned())
            .chain(std::iter::once(bin))
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();

    let mut context = Context {
        action: &action,
        given,
        steps: BTreeMap::new(),
        event: event.payload,
    };
    let mut ran = Vec::new();
    let mut failed = None;
    let mut log = String::new();
    let mut summaries = BTreeMap::new();
    for (index, step) in action.steps.iter().enumerate() {
        let Some(script) = &step.run else { continue };
        let label = &step.label;
        if (runner.only.as_ref()).is_some_and(|only| !only.contains(&label.as_str())) {
            continue;
        }
        let script_path = scripts.join(format!("{index}.sh"));
        std::fs::write(&script_path, script).unwrap();
        // Each step has its own output and summary files, as on GitHub.
        let output_path = temp.path().join(format!("output-{index}"));
        std::fs::write(&output_path, "").unwrap();
        let summary_path = temp.path().join(format!("summary-{index}.md"));
        std::fs::write(&summary_path, "").unwrap();
        let env: Vec<(String, String)> = step
            .env
            .iter()
            .map(|(name, value)| (name.clone(), context.evaluate(value)))
            .collect();
        // How the runner starts a `shell: bash` step, in a clean environment: the step sees
        // only what GitHub would give it.
        let output = std::process::Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_path)
            .current_dir(workspace)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", event.name)
            .env("GITHUB_EVENT_PATH", &event_path)
            .env("GITHUB_SHA", event.sha)
            .env("GITHUB_REPOSITORY", REPOSITORY)
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_WORKSPACE", workspace)
            .env("GITHUB_ACTION_PATH", root())
            .env("GITHUB_OUTPUT", &output_path)
            .env("GITHUB_STEP_SUMMARY", &summary_path)
            .env("RUNNER_TEMP", &runner_temp)
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("FAKE_GH_REPOSITORY", REPOSITORY)
            .env("FAKE_GH_PR_NUMBER", PR_NUMBER.to_string())
            .env("FAKE_GH_TOKEN", TOKEN)
            .env("FAKE_GH_REVIEWS", &reviews_path)
            .env("FAKE_GH_COMMITS", &commits_path)
            .envs(runner.env.iter().cloned())
            .envs(env)
            .output()
            .expect("bash runs");
        log += &format!(
            "--- {label}\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        ran.push(label.clone());
        // The runner reads the outputs of a failed step too.
        let outputs = parse_outputs(&std::fs::read_to_string(&output_path).unwrap());
        let summary = std::fs::read_to_string(&summary_path).unwrap();
        if !summary.is_empty() {
            summaries.insert(label.clone(), summary);
        }
        if let Some(id) = &step.id {
            context.steps.insert(id.clone(), outputs);
        }
        if !output.status.success() {
            let code = output.status.code().expect("exited, not killed");
            failed = Some((label.clone(), code));
            break;
        }
    }
    Run {
        ran,
        failed,
        outputs: action
            .outputs
            .iter()
            .map(|(name, value)| (name.clone(), context.evaluate(value)))
            .collect(),
        summaries,
        log,
        _files: temp,
    }
}

/// Writes at `path` the flagstone the action is given: the test's binary at the tests' fixed
/// time. The action runs flagstone on the system clock, and every command it runs takes --now.
fn flagstone_at_now(path: &Path) {
    let script = format!(
        "#!/bin/sh\ncase $1 in -*) ;; *) set -- \"$@\" --now {} ;; esac\nexec '{}' \"$@\"\n",
        crate::support::NOW,
        env!("CARGO_BIN_EXE_flagstone")
    );
    std::fs::write(path, script).unwrap();
    make_executable(path);
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A pull request's history: flags.example at `flags/` (the base commit), then `change`
/// applied to the work tree and committed (the head, checked out).
struct PullRequest {
    work: tempfile::TempDir,
    base: String,
    head: String,
    author: &'static str,
    /// `$GITHUB_SHA`; `None`: the commit checked out (HEAD), as actions/checkout leaves it.
    github_sha: Option<String>,
    /// GitHub's list of the pull request's commits.
    commits: String,
}

impl PullRequest {
    fn new(change: impl FnOnce(&Path)) -> PullRequest {
        let (work, repository) = flags_repository();
        let base = commit(&repository, "flags").to_string();
        change(work.path());
        let head = commit(&repository, "change").to_string();
        PullRequest {
            work,
            base,
            head,
            author: AUTHOR,
            github_sha: None,
            commits: "[]".to_owned(),
        }
    }

    /// A pull request raising checkout/one-page's rollout whose base branch has moved on
    /// since it branched off (semantic-search's rollout was raised), checked out as GitHub's
    /// merge of the two (refs/pull/N/merge), which `actions/checkout` checks out by default.
    /// Returns it and the merge commit.
    fn behind_its_base() -> (PullRequest, String) {
        let (work, repository) = flags_repository();
        let fork = commit(&repository, "flags");
        // semantic-search from 12.5% to 15%, with the test of its share, or back.
        let semantic_search = |(before, after): (&str, &str)| {
            let rollout = |share: &str| format!("rollout = {share}\n");
            let expect =
                |share: f64| format!("expect = {{ on = {share}, off = {} }}", 100.0 - share);
            edit(
                work.path(),
                "search/semantic-search.toml",
                &rollout(before),
                &rollout(after),
            );
            let (before, after) = (before.parse().unwrap(), after.parse().unwrap());
            let tests = work.path().join("flags/tests/ai.toml");
            edit_file(&tests, &expect(before), &expect(after));
        };
        semantic_search(("12.5", "15"));
        let base = commit_on(&repository, "main moves on", &[fork]);
        semantic_search(("15", "12.5"));
        raise_one_page_rollout(work.path());
        let head = commit_on(&repository, "change", &[fork]);
        semantic_search(("12.5", "15"));
        let merge = commit_on(&repository, "merge", &[base, head]);
        let pr = PullRequest {
            work,
            base: base.to_string(),
            head: head.to_string(),
            author: AUTHOR,
            github_sha: None,
            commits: "[]".to_owned(),
        };
        (pr, merge.to_string())
    }

    fn path(&self) -> &Path {
        self.work.path()
    }

    /// A `pull_request` event for it, as GitHub writes `$GITHUB_EVENT_PATH`.
    fn event(&self) -> serde_json::Value {
        serde_json::json!({
            "action": "synchronize",
            "number": PR_NUMBER,
            "pull_request": {
                "number": PR_NUMBER,
                "state": "open",
                "user": { "login": self.author, "type": "User" },
                "base": { "ref": "main", "sha": self.base },
                "head": { "ref": "faster-checkout-rollout", "sha": self.head },
            },
            "repository": { "full_name": REPOSITORY },
        })
    }

    /// Runs the action on its pull request event with the test's flagstone binary.
    fn run(&self, given: &[(&str, &str)], reviews: &str) -> Run {
        self.run_on(&self.event(), given, reviews)
    }

    fn run_on(&self, event: &serde_json::Value, given: &[(&str, &str)], reviews: &str) -> Run {
        let bin = crate::support::tempdir();
        let flagstone = bin.path().join("flagstone");
        flagstone_at_now(&flagstone);
        // The test's own inputs come first, so they win.
        let given = [
            given,
            &[
                ("directory", "flags"),
                ("flagstone-path", flagstone.to_str().unwrap()),
            ],
        ]
        .concat();
        let head = git2::Repository::open(self.path())
            .unwrap()
            .head()
            .unwrap()
            .peel_to_commit()
            .unwrap()
            .id()
            .to_string();
        let event = Event {
            name: if event.get("pull_request").is_some() {
                "pull_request"
            } else {
                "push"
            },
            payload: event,
            sha: self.github_sha.as_deref().unwrap_or(&head),
        };
        let github = GitHub {
            reviews,
            commits: &self.commits,
        };
        run_action(self.path(), &event, &given, github)
    }
}

/// A git repository holding flags.example at `flags/`, not yet committed.
fn flags_repository() -> (tempfile::TempDir, git2::Repository) {
    let work = crate::support::tempdir();
    copy_dir(&root().join("flags.example"), &work.path().join("flags"));
    let repository = git2::Repository::init(work.path()).unwrap();
    (work, repository)
}

/// Runs the git command line in `dir` and returns its standard output, trimmed.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = crate::support::git()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git is installed");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Replaces the first `from` in the flag file `file` with `to`.
fn edit(work: &Path, file: &str, from: &str, to: &str) {
    edit_file(&work.join("flags/flags").join(file), from, to);
}

fn edit_file(path: &Path, from: &str, to: &str) {
    let file = path.display();
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// checkout/one-page, owned by @payments (alice, bob), from 25% to 30% in production: a
/// blast radius of 5%, which its owners approve alone. The test of its share follows.
fn raise_one_page_rollout(work: &Path) {
    raise_one_page_rollout_untested(work);
    edit_file(
        &work.join("flags/tests/checkout.toml"),
        "expect = { on = 25, off = 75 }",
        "expect = { on = 30, off = 70 }",
    );
}

/// The same rollout, with the test that expects 25% left as it is: `flagstone test` fails.
fn raise_one_page_rollout_untested(work: &Path) {
    edit(
        work,
        "checkout/one-page.toml",
        "rollout = 25\n",
        "rollout = 30\n",
    );
}

/// The reviews in tests/action/reviews-approved.json, given on `commit`: a comment from
/// oskar, then, on a second page, bob's approval.
fn approved_reviews(commit: &str) -> String {
    std::fs::read_to_string(root().join("tests/action/reviews-approved.json"))
        .unwrap()
        .replace("@HEAD_SHA@", commit)
}

const RUN_STEPS: [&str; 13] = [
    "revisions",
    "download",
    "cache-key",
    "install",
    "check",
    "test",
    "refs",
    "build",
    "diff",
    "reviews",
    "evals",
    "review",
    "test-result",
];

#[test]
fn an_owner_approval_on_the_head_passes_and_every_output_is_set() {
    let pr = PullRequest::new(raise_one_page_rollout);
    let run = pr.run(&[], &approved_reviews(&pr.head));
    assert_eq!(run.failed, None, "{}", run.log);
    assert_eq!(run.ran, RUN_STEPS);
    assert_eq!(run.outputs["verdict"], "approved", "{}", run.log);
    assert_eq!(run.outputs["approval-required"], "true");
    // checkout/express-pay needs checkout/one-page: it changes with it.
    assert_eq!(
        run.outputs["changed-flags"],
        r#"["checkout/express-pay","checkout/one-page"]"#
    );

    // The hashes are the manifest's, which describes the head, built from its git objects.
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&run.outputs["bundle-dir"]).join("manifest.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["commit"], pr.head.as_str());
    assert_eq!(run.outputs["bundle-commit"], pr.head);
    assert_eq!(
        manifest["tree"],
        git(pr.path(), &["rev-parse", "HEAD:flags"])
    );
    assert_eq!(manifest["dirty"], false);
    let expected: serde_json::Map<String, serde_json::Value> = manifest["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e["hash"].clone()))
        .collect();
    let hashes: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&run.outputs["bundle-hashes"]).unwrap();
    assert_eq!(hashes, expected);
    let mut names: Vec<&str> = hashes.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["development", "production", "staging"]);
    for hash in hashes.values() {
        let hash = hash.as_str().unwrap();
        assert!(
            hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{hash}"
        );
    }

    // Both pages of reviews reached flagstone: bob's approval is on the second.
    assert!(
        run.summaries["review"].ends_with("\n- approved the head commit\\: bob\n"),
        "{}",
        run.summaries["review"]
    );
    let summaries = &run.summaries;
    assert_eq!(
        summaries.keys().collect::<Vec<_>>(),
        ["check", "diff", "review"]
    );
    assert_eq!(
        summaries["check"],
        "### flagstone check: 0 errors, 0 warnings\n\nNo problems found.\n"
    );
    let diff = &summaries["diff"];
    assert!(
        diff.starts_with("### flagstone diff: 2 flags changed\n"),
        "{diff}"
    );
    assert!(
        diff.contains(
            "\n| <code>checkout/one-page</code> (changed) | production | rule <code>north-america-gradual</code> rollout 25% → 30% |"
        ),
        "{diff}"
    );
    let review = &summaries["review"];
    assert!(
        review.starts_with("### flagstone review: approved\n"),
        "{review}"
    );
    assert!(review.contains("| ✅ approved by bob |"), "{review}");
}

#[test]
fn the_eval_command_scores_a_changed_prompt_and_review_judges_those_scores() {
    let prompt = |version: &'static str| {
        move |work: &Path| {
            edit(
                work,
                "ai/assistant-model.toml",
                "prompt_version = \"assistant-v8-rc2\"",
                &format!("prompt_version = \"{version}\""),
            );
        }
    };
    let harness = [("eval-command", "sh flags/evals/harness.sh")];
    // rc3 scores worse on SQL answers: the action fails on the evals, whatever the approvals.
    let pr = PullRequest::new(prompt("assistant-v8-rc3"));
    let run = pr.run(&harness, &approved_reviews(&pr.head));
    assert_eq!(run.failed, Some(("review".to_owned(), 1)), "{}", run.log);
    assert_eq!(run.outputs["verdict"], "evals_failing");
    let review = &run.summaries["review"];
    assert!(
        review.starts_with(
            "### flagstone review: blocked: a changed AI payload lacks passing evals\n"
        ),
        "{review}"
    );
    assert!(
        review.contains("| ❌ regression\\: the gate stays closed |"),
        "{review}"
    );
    assert!(
        run.log.contains("prompt-v8-candidate.csv: 48 cases scored"),
        "{}",
        run.log
    );
    // No report lands in the work tree: review read the run's own, not the committed one
    // (of the previous prompt change).
    let report = "evals/ai/assistant-model/prompt-v8-candidate.csv";
    assert_eq!(
        std::fs::read(pr.path().join("flags").join(report)).unwrap(),
        std::fs::read(root().join("flags.example").join(report)).unwrap()
    );

    // rc4 passes its evals; the approvals are what is left.
    let pr = PullRequest::new(prompt("assistant-v8-rc4"));
    let run = pr.run(&harness, "[]");
    assert_eq!(run.outputs["verdict"], "approvals_missing", "{}", run.log);
    assert!(
        run.summaries["review"].contains("| ✅ pass |"),
        "{}",
        run.summaries["review"]
    );

    // Without the command, review looks for a report committed with the change.
    let run = pr.run(&[], "[]");
    assert_eq!(run.outputs["verdict"], "evals_failing", "{}", run.log);
}

#[test]
fn a_check_error_fails_the_check_step_with_an_annotation_and_stops_the_action() {
    let pr = PullRequest::new(|work| {
        edit(
            work,
            "checkout/one-page.toml",
            "rollout = 25\n",
            "rollout = 250\n",
        )
    });
    let run = pr.run(&[], "[]");
    assert_eq!(run.failed, Some(("check".to_owned(), 1)), "{}", run.log);
    assert_eq!(run.ran, RUN_STEPS[..5]);
    let file = "flags/flags/checkout/one-page.toml";
    let text = std::fs::read_to_string(pr.path().join(file)).unwrap();
    let line = 1 + text
        .lines()
        .position(|l| l == "rollout = 250")
        .expect("the edited line");
    let annotation = format!("::error file={file},line={line},endLine={line},col=11,");
    assert!(
        run.log
            .lines()
            .any(|l| l.starts_with(&annotation) && l.contains(",title=FS041 bad-rollout::")),
        "no {annotation}… annotation in\n{}",
        run.log
    );
    assert_eq!(run.summaries.keys().collect::<Vec<_>>(), ["check"]);
    let summary = &run.summaries["check"];
    assert!(
        summary.starts_with("### flagstone check: 1 error, 0 warnings\n"),
        "{summary}"
    );
    for output in [
        "bundle-hashes",
        "bundle-commit",
        "changed-flags",
        "approval-required",
        "verdict",
    ] {
        assert_eq!(run.outputs[output], "", "{output}");
    }
}

#[test]
fn code_reading_an_undefined_flag_fails_the_refs_step_with_an_annotation() {
    let pr = PullRequest::new(|work| {
        let code = "if (flags.bool(\"checkout/one-page\")) {}\nif (flags.bool(\"checkout/one-pgae\")) {}\n";
        std::fs::create_dir_all(work.join("src")).unwrap();
        std::fs::write(work.join("src/app.ts"), code).unwrap();
    });
    let run = pr.run(&[("code-paths", " src\n")], "[]");
    assert_eq!(run.failed, Some(("refs".to_owned(), 1)), "{}", run.log);
    assert_eq!(run.ran, RUN_STEPS[..7]);
    assert!(
        run.log.contains(
            "::error file=src/app.ts,line=2,col=17,title=flagstone refs%3A undefined::undefined flag `checkout/one-pgae`%0Ahelp: did you mean `checkout/one-page`?\n"
        ),
        "{}",
        run.log
    );
    assert_eq!(run.summaries.keys().collect::<Vec<_>>(), ["check", "refs"]);
    let summary = &run.summaries["refs"];
    assert!(
        summary.starts_with("### flagstone refs: 1 error, 19 warnings\n"),
        "{summary}"
    );
}

#[test]
fn a_missing_base_commit_fails_before_anything_is_built() {
    let pr = PullRequest::new(raise_one_page_rollout);
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let run = pr.run(&[("base", missing)], "[]");
    assert_eq!(run.failed, Some(("revisions".to_owned(), 2)), "{}", run.log);
    assert!(
        run.log.contains(&format!(
            "::error title=flagstone::base revision {missing} is not in this clone: check out with fetch-depth: 0\n"
        )),
        "{}",
        run.log
    );
}

#[test]
fn a_bad_fail_on_missing_approvals_value_is_refused() {
    let pr = PullRequest::new(raise_one_page_rollout);
    let run = pr.run(&[("fail-on-missing-approvals", "yes")], "[]");
    assert_eq!(run.failed, Some(("revisions".to_owned(), 2)), "{}", run.log);
    assert!(
        run.log
            .contains("fail-on-missing-approvals must be true or false, not 'yes'"),
        "{}",
        run.log
    );
}

#[test]
fn without_an_approval_the_review_step_fails_and_says_what_is_missing() {
    let pr = PullRequest::new(raise_one_page_rollout);
    let run = pr.run(&[], "[]");
    assert_eq!(run.failed, Some(("review".to_owned(), 1)), "{}", run.log);
    assert_eq!(run.ran, RUN_STEPS[..12]);
    assert_eq!(run.outputs["verdict"], "approvals_missing");
    assert_eq!(run.outputs["approval-required"], "true");
    // checkout/express-pay needs checkout/one-page: it changes with it.
    assert_eq!(
        run.outputs["changed-flags"],
        r#"["checkout/express-pay","checkout/one-page"]"#
    );
    assert!(
        run.log.contains(
            "::error title=flagstone::review verdict approvals_missing: the job summary lists the approvals and evals still needed\n"
        ),
        "{}",
        run.log
    );
    let review = &run.summaries["review"];
    assert!(
        review.starts_with("### flagstone review: approvals missing\n"),
        "{review}"
    );
    assert!(
        review.contains("| 1 from owners (alice, bob) | ❌ 1 missing |"),
        "{review}"
    );
}

#[test]
fn missing_approvals_only_warn_when_the_action_is_told_not_to_fail() {
    let pr = PullRequest::new(raise_one_page_rollout);
    let run = pr.run(&[("fail-on-missing-approvals", "false")], "[]");
    assert_eq!(run.failed, None, "{}", run.log);
    assert_eq!(run.outputs["verdict"], "approvals_missing");
    assert!(
        run.log
            .contains("::warning title=flagstone::review verdict approvals_missing; not failing"),
        "{}",
        run.log
    );
}

/// Every mapping in `yaml` that has a `uses:` of this action.
fn uses_of_the_action(yaml: &Yaml, found: &mut Vec<Yaml>) {
    match yaml {
        Yaml::Hash(hash) => {
            if yaml["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("<owner>/flagstone@"))
            {
                found.push(yaml.clone());
            }
            hash.values().for_each(|v| uses_of_the_action(v, found));
        }
        Yaml::Array(items) => items.iter().for_each(|v| uses_of_the_action(v, found)),
        _ => {}
    }
}

#[test]
fn the_documented_workflows_use_only_what_the_action_declares() {
    let action = action();
    let example = std::fs::read_to_string(root().join("docs/examples/pull-request.yml")).unwrap();
    let guide = std::fs::read_to_string(root().join("docs/github-action.md")).unwrap();
    let mut workflows = vec![example.clone()];
    let mut lines = guide.lines();
    while let Some(line) = lines.next() {
        if line == "```yaml" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            workflows.push(block.join("\n"));
        }
    }
    let mut uses = Vec::new();
    for workflow in &workflows {
        let docs = YamlLoader::load_from_str(workflow)
            .unwrap_or_else(|e| panic!("{e}: a documented workflow is not YAML:\n{workflow}"));
        uses_of_the_action(&docs[0], &mut uses);
        for name in references(workflow, "steps.flagstone.outputs.") {
            assert!(action.outputs.contains_key(&name), "no output {name}");
        }
    }
    assert_eq!(
        uses.len(),
        workflows.len(),
        "each workflow uses the action once"
    );
    for step in &uses {
        for (input, _) in entries(&step["with"], "with") {
            assert!(action.inputs.contains_key(&input), "no input {input}");
        }
    }

    // What the guide says the example does.
    let example = &YamlLoader::load_from_str(&example).unwrap()[0];
    let strings = |yaml: &Yaml| -> Vec<String> {
        let items = yaml.as_vec().expect("a list");
        items.iter().map(|v| scalar(v, "list")).collect()
    };
    assert!(matches!(example["on"]["pull_request"], Yaml::Null));
    assert_eq!(
        strings(&example["on"]["pull_request_review"]["types"]),
        ["submitted", "dismissed"]
    );
    let permissions: Vec<(String, String)> = entries(&example["permissions"], "permissions")
        .into_iter()
        .map(|(k, v)| (k, scalar(&v, "permission")))
        .collect();
    assert_eq!(
        permissions,
        [
            ("contents".to_owned(), "read".to_owned()),
            ("pull-requests".to_owned(), "read".to_owned())
        ]
    );
    let steps = example["jobs"]["flagstone"]["steps"].as_vec().unwrap();
    assert_eq!(steps[0]["uses"].as_str(), Some("actions/checkout@v6"));
    assert_eq!(steps[0]["with"]["fetch-depth"].as_i64(), Some(0));
    assert_eq!(steps[1]["with"]["directory"].as_str(), Some("flags"));
}

#[test]
fn an_approval_of_an_older_commit_does_not_count() {
    let pr = PullRequest::new(raise_one_page_rollout);
    let run = pr.run(&[], &approved_reviews(&pr.base));
    assert_eq!(run.failed, Some(("review".to_owned(), 1)), "{}", run.log);
    assert_eq!(run.outputs["verdict"], "approvals_missing");
    let review = &run.summaries["review"];
    assert!(
        review.contains("stale approvals (given on an older commit; approve again)\\: bob"),
        "{review}"
    );
}

#[test]
fn the_author_s_own_approval_does_not_count() {
    let pr = PullRequest {
        author: "bob",
        ..PullRequest::new(raise_one_page_rollout)
    };
    let run = pr.run(&[], &approved_reviews(&pr.head));
    assert_eq!(run.failed, Some(("review".to_owned(), 1)), "{}", run.log);
    assert_eq!(run.outputs["verdict"], "approvals_missing");
}

/// bob pushed a commit to nora's pull request: GitHub lists him among its commits' authors,
/// and his approval no longer counts.
#[test]
fn a_commit_author_s_approval_does_not_count() {
    let mut pr = PullRequest::new(raise_one_page_rollout);
    pr.commits = serde_json::json!([
        { "sha": pr.head, "author": { "login": "bob" }, "committer": { "login": "web-flow" } }
    ])
    .to_string();
    let run = pr.run(&[], &approved_reviews(&pr.head));
    assert_eq!(run.failed, Some(("review".to_owned(), 1)), "{}", run.log);
    assert_eq!(run.outputs["verdict"], "approvals_missing");
    let review = &run.summaries["review"];
    assert!(
        review
            .contains("- wrote or committed the pull request (cannot approve it)\\: bob, web-flow"),
        "{review}"
    );
}

#[test]
fn a_kill_merges_without_approval_and_says_so_loudly() {
    let pr = PullRequest::new(|work| {
        edit(
            work,
            "billing/payment-service-v2.toml",
            "[env.production]\n",
            "[env.production]\nenabled = false\n",
        )
    });
    let run = pr.run(&[], "[]");
    assert_eq!(run.failed, None, "{}", run.log);
    assert_eq!(run.outputs["verdict"], "emergency");
    assert_eq!(run.outputs["approval-required"], "false");
    // Both checkout flags need payment-service-v2 = on: killing it turns them off too.
    assert_eq!(
        run.outputs["changed-flags"],
        r#"["billing/payment-service-v2","checkout/express-pay","checkout/one-page"]"#
    );
    let review = &run.summaries["review"];
    assert!(
        review.starts_with("### flagstone review: EMERGENCY CHANGE"),
        "{review}"
    );
    assert!(review.contains("\n> [!CAUTION]\n"), "{review}");
    assert!(
        run.log
            .contains("\n::warning title=flagstone: emergency change::"),
        "{}",
        run.log
    );
    // The tests that expect payment-service v2 on in production fail, as a kill must make
    // them: they are reported, and do not hold the kill up.
    assert_eq!(run.ran, RUN_STEPS);
    let tests = &run.summaries["test"];
    assert!(
        tests.starts_with("### flagstone test: tests fail\n\n```text\nFAIL tests/checkout.toml:"),
        "{tests}"
    );
    assert!(
        run.log.contains(
            "--- test-result\n::warning title=flagstone: tests fail::this emergency change kills flags that tests expect on; update the tests after the fact\n"
        ),
        "{}",
        run.log
    );
}

#[test]
fn a_failing_test_fails_the_action_after_the_diff_and_review_report() {
    let pr = PullRequest::new(raise_one_page_rollout_untested);
    let run = pr.run(&[], &approved_reviews(&pr.head));
    assert_eq!(
        run.failed,
        Some(("test-result".to_owned(), 1)),
        "{}",
        run.log
    );
    assert_eq!(run.ran, RUN_STEPS);
    assert_eq!(run.outputs["verdict"], "approved");
    assert_eq!(
        run.summaries.keys().collect::<Vec<_>>(),
        ["check", "diff", "review", "test"]
    );
    assert_eq!(
        run.summaries["test"],
        "### flagstone test: tests fail\n\n```text\n\
         FAIL tests/checkout.toml:189 25% of North American customers get the one-page checkout\n\
         \x20 checkout/one-page: expected off 75% ± 1\n\
         \x20                    actual   off 70.21%, on 29.79%\n\
         \x20 checkout/one-page: expected on 25% ± 1\n\
         \x20                    actual   off 70.21%, on 29.79%\n\
         96 passed, 1 failed\n```\n"
    );
    assert!(
        run.log.contains(
            "--- test-result\n::error title=flagstone test::tests fail: the flagstone test step lists each failing case\n"
        ),
        "{}",
        run.log
    );
}

#[test]
fn the_bundles_are_built_from_the_commit_s_objects_not_the_work_tree() {
    let pr = PullRequest::new(raise_one_page_rollout);
    // After the checkout, the work tree changes (an earlier step, a smudge filter…): it
    // still checks and tests cleanly, but it is not what review judged.
    edit(
        pr.path(),
        "checkout/one-page.toml",
        "rollout = 30\n",
        "rollout = 30.5\n",
    );
    let run = pr.run(&[], &approved_reviews(&pr.head));
    assert_eq!(run.failed, None, "{}", run.log);
    // What ships is the head's objects: the hashes of `build --rev HEAD` in a clean clone.
    let clean = crate::support::tempdir();
    git(
        clean.path(),
        &["clone", "--quiet", pr.path().to_str().unwrap(), "c"],
    );
    let (code, stdout, stderr) = crate::support::run(
        &[
            "build",
            "--dir",
            "flags",
            "--out",
            "out",
            "--now",
            crate::support::NOW,
            "--format",
            "json",
        ],
        &clean.path().join("c"),
    );
    assert_eq!(code, 0, "{stderr}");
    let expected: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let hashes: serde_json::Value = serde_json::from_str(&run.outputs["bundle-hashes"]).unwrap();
    for env in expected["environments"].as_array().unwrap() {
        assert_eq!(hashes[env["name"].as_str().unwrap()], env["hash"]);
    }
    assert_eq!(expected["commit"], pr.head.as_str());
    assert_eq!(expected["dirty"], false);
    let manifest =
        std::fs::read_to_string(Path::new(&run.outputs["bundle-dir"]).join("manifest.json"))
            .unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["environments"], expected["environments"]);
    assert_eq!(manifest["tree"], expected["tree"]);
    assert_eq!(manifest["dirty"], false);
    // The work tree's own build differs, and says so.
    let (code, stdout, stderr) = crate::support::run(
        &[
            "build",
            "--dir",
            "flags",
            "--out",
            "out",
            "--now",
            crate::support::NOW,
            "--format",
            "json",
        ],
        pr.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let work: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(work["dirty"], true);
    assert_ne!(work["environments"], expected["environments"]);
}

#[test]
fn a_github_sha_missing_from_the_clone_or_not_merging_the_head_builds_the_head() {
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let pr = PullRequest {
        github_sha: Some(missing.to_owned()),
        ..PullRequest::new(raise_one_page_rollout)
    };
    let run = pr.run(&[], &approved_reviews(&pr.head));
    assert_eq!(run.failed, None, "{}", run.log);
    assert_eq!(run.outputs["bundle-commit"], pr.head);
    assert!(
        run.log.contains(&format!(
            "GITHUB_SHA {missing} is not in this clone: building the head {}\n",
            pr.head
        )),
        "{}",
        run.log
    );
    // The base branch's tip is in the clone, but it is no merge of the head.
    let pr = PullRequest {
        github_sha: Some(pr.base.clone()),
        ..pr
    };
    let run = pr.run(&[], &approved_reviews(&pr.head));
    assert_eq!(run.failed, None, "{}", run.log);
    assert_eq!(run.outputs["bundle-commit"], pr.head);
    assert!(
        run.log.contains(&format!(
            "GITHUB_SHA {} does not merge the head {}: building the head\n",
            pr.base, pr.head
        )),
        "{}",
        run.log
    );
}

#[test]
fn a_gitattributes_filter_in_the_pull_request_fails_the_check() {
    let pr = PullRequest::new(|work| {
        raise_one_page_rollout(work);
        std::fs::write(
            work.join(".gitattributes"),
            "flags/flags/**/*.toml filter=reviewed-differently\n",
        )
        .unwrap();
    });
    let run = pr.run(&[], &approved_reviews(&pr.head));
    assert_eq!(run.failed, Some(("check".to_owned(), 1)), "{}", run.log);
    assert!(
        run.log.contains(
            "::error file=flags/flags/checkout/one-page.toml,line=1,endLine=1,col=1,endColumn=1,title=FS073 checkout-attribute::git rewrites this file when it checks it out (`filter=reviewed-differently` from `.gitattributes` line 1)%0Ahelp: "
        ),
        "{}",
        run.log
    );
    assert!(
        run.summaries["check"].starts_with("### flagstone check: 20 errors, 0 warnings\n"),
        "{}",
        run.summaries["check"]
    );
}

#[test]
fn a_pull_request_behind_its_base_is_judged_on_its_own_changes() {
    let (pr, merge) = PullRequest::behind_its_base();
    let run = pr.run(&[], &approved_reviews(&pr.head));
    assert_eq!(run.failed, None, "{}", run.log);
    // check and build see the merge, as it would land.
    let manifest =
        std::fs::read_to_string(Path::new(&run.outputs["bundle-dir"]).join("manifest.json"))
            .unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["commit"], merge.as_str());
    // diff and review compare the head with where it branched off, not with the base
    // branch's tip: semantic-search's change is not the pull request's.
    // checkout/express-pay needs checkout/one-page: it changes with it.
    assert_eq!(
        run.outputs["changed-flags"],
        r#"["checkout/express-pay","checkout/one-page"]"#
    );
    assert_eq!(run.outputs["verdict"], "approved");
    assert!(
        run.log.contains(&format!(
            "where the head branched off the base {}\n",
            pr.base
        )),
        "{}",
        run.log
    );
}

#[test]
fn outside_a_pull_request_the_review_is_skipped() {
    let pr = PullRequest::new(raise_one_page_rollout);
    let push = serde_json::json!({ "ref": "refs/heads/main", "before": pr.base, "after": pr.head });
    // The fake gh fails the run if the action asks it for reviews.
    let run = pr.run_on(&push, &[("base", &pr.base), ("head", &pr.head)], "");
    assert_eq!(run.failed, None, "{}", run.log);
    assert_eq!(run.ran, RUN_STEPS);
    // checkout/express-pay needs checkout/one-page: it changes with it.
    assert_eq!(
        run.outputs["changed-flags"],
        r#"["checkout/express-pay","checkout/one-page"]"#
    );
    assert_eq!(run.outputs["bundle-commit"], pr.head);
    assert_eq!(run.outputs["verdict"], "");
    assert_eq!(run.outputs["approval-required"], "");
    assert_eq!(run.summaries.keys().collect::<Vec<_>>(), ["check", "diff"]);
    assert!(
        run.log
            .contains("--- review\nnot a pull request: no approvals to check\n"),
        "{}",
        run.log
    );
}

/// flagstone's version, which the action downloads the release of.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A release server on loopback: serves the files under a directory over HTTP/1.1 (404 for
/// anything else) and records the paths asked for, as GitHub's release downloads would be
/// asked. No test reaches beyond 127.0.0.1.
struct ReleaseServer {
    /// `http://127.0.0.1:PORT/vVERSION`: the action's `release-url`.
    url: String,
    files: tempfile::TempDir,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    address: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl ReleaseServer {
    fn start() -> ReleaseServer {
        use std::io::{BufRead, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let files = crate::support::tempdir();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (root, log, stopped) = (files.path().to_owned(), requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut reader = std::io::BufReader::new(&stream);
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = request.split(' ').nth(1).unwrap_or("/").to_owned();
                let file = (!path.contains(".."))
                    .then(|| std::fs::read(root.join(path.trim_start_matches('/'))).ok())
                    .flatten();
                log.lock().unwrap().push(path);
                let (status, body) = match file {
                    Some(body) => ("200 OK", body),
                    None => ("404 Not Found", Vec::new()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream
                    .write_all(head.as_bytes())
                    .and_then(|()| stream.write_all(&body));
            }
        });
        ReleaseServer {
            url: format!("http://{address}/v{VERSION}"),
            files,
            requests,
            address,
            stop,
        }
    }

    /// Publishes `archives` (file name → content) and their SHA256SUMS, as the release
    /// workflow does; then `tamper` may change what is served.
    fn publish(&self, archives: &[(String, Vec<u8>)], tamper: impl FnOnce(&Path)) {
        let dir = self.files.path().join(format!("v{VERSION}"));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, content) in archives {
            std::fs::write(dir.join(name), content).unwrap();
        }
        let names: Vec<&str> = archives.iter().map(|(name, _)| name.as_str()).collect();
        let sums = std::process::Command::new("sha256sum")
            .args(&names)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(sums.status.success());
        std::fs::write(dir.join("SHA256SUMS"), sums.stdout).unwrap();
        tamper(&dir);
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for ReleaseServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = std::net::TcpStream::connect(self.address);
    }
}

/// Runs `program` with `args` in `dir`, and asserts it succeeds.
fn succeed(program: &str, args: &[&str], dir: &Path) {
    let status = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}: install it"));
    assert!(status.success(), "{program} {args:?}");
}

/// The archive a release holds for `target`, with `binary` (a file) as its executable, made
/// with tar or zip as the release workflow makes it.
fn archive(name: &str, binary: &Path, binary_name: &str) -> Vec<u8> {
    let dir = crate::support::tempdir();
    std::fs::copy(binary, dir.path().join(binary_name)).unwrap();
    make_executable(&dir.path().join(binary_name));
    if name.ends_with(".zip") {
        succeed("zip", &["-q", name, binary_name], dir.path());
    } else {
        succeed("tar", &["-czf", name, binary_name], dir.path());
    }
    std::fs::read(dir.path().join(name)).unwrap()
}

/// The archive of the Linux x86-64 (glibc) release, holding this test's flagstone as the
/// action is otherwise given it (at the tests' fixed time): made once.
fn linux_release_archive() -> &'static (String, Vec<u8>) {
    static ARCHIVE: std::sync::OnceLock<(String, Vec<u8>)> = std::sync::OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let dir = crate::support::tempdir();
        let binary = dir.path().join("flagstone");
        flagstone_at_now(&binary);
        let name = format!("flagstone-{VERSION}-x86_64-unknown-linux-gnu.tar.gz");
        let content = archive(&name, &binary, "flagstone");
        (name, content)
    })
}

/// A stand-in for a program, first on `PATH`: a bash script.
fn stub(dir: &Path, name: &str, script: &str) {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("#!/usr/bin/env bash\nset -euo pipefail\n{script}"),
    )
    .unwrap();
    make_executable(&path);
}

/// The pull request the download tests run the action on, with the action told to download
/// from `server` (not given `flagstone-path`).
fn run_with_release(server_url: &str, runner: &Runner) -> Run {
    let pr = PullRequest::new(raise_one_page_rollout);
    let given = [
        ("release-url", server_url),
        ("flagstone-path", ""),
        ("directory", "flags"),
    ];
    let event = pr.event();
    let head = pr.head.clone();
    let event = Event {
        name: "pull_request",
        payload: &event,
        sha: &head,
    };
    let reviews = approved_reviews(&pr.head);
    let github = GitHub {
        reviews: &reviews,
        commits: &pr.commits,
    };
    run_steps(pr.path(), &event, &given, github, runner)
}

#[test]
fn the_action_installs_the_release_binary_of_its_version_after_checking_its_checksum() {
    let server = ReleaseServer::start();
    let (name, content) = linux_release_archive();
    server.publish(&[(name.clone(), content.clone())], |_| {});
    let run = run_with_release(&server.url, &Runner::default());
    assert_eq!(run.failed, None, "{}", run.log);
    assert_eq!(run.ran, RUN_STEPS);
    assert_eq!(run.outputs["verdict"], "approved");
    let base = format!("/v{VERSION}");
    assert_eq!(
        server.requests(),
        [format!("{base}/SHA256SUMS"), format!("{base}/{name}")]
    );
    // The step says what it installed; the install step's `--version` is the binary's.
    let reported = crate::support::run(&["--version"], Path::new(".")).1;
    let reported = reported.trim_end();
    assert!(
        reported.starts_with(&format!("flagstone {VERSION} (")),
        "{reported}"
    );
    assert!(
        run.log.contains(&format!(
            "--- download\n{reported}, x86_64-unknown-linux-gnu, SHA-256 "
        )),
        "{}",
        run.log
    );
    assert!(
        run.log.contains(&format!("--- install\n{reported}\n")),
        "{}",
        run.log
    );
    // Nothing was built, so nothing is cached.
    assert!(!run.log.contains("::notice"), "{}", run.log);
}

#[test]
fn a_tampered_archive_fails_the_action_and_nothing_is_built_instead() {
    let server = ReleaseServer::start();
    let (name, content) = linux_release_archive();
    server.publish(&[(name.clone(), content.clone())], |dir| {
        let mut altered = content.clone();
        altered.extend_from_slice(b"appended");
        std::fs::write(dir.join(name), altered).unwrap();
    });
    let stubs = crate::support::tempdir();
    stub(
        stubs.path(),
        "cargo",
        "echo 'cargo must not run' >&2\nexit 99\n",
    );
    let runner = Runner {
        path: vec![stubs.path().to_owned()],
        ..Runner::default()
    };
    let run = run_with_release(&server.url, &runner);
    assert_eq!(run.failed, Some(("download".to_owned(), 1)), "{}", run.log);
    assert_eq!(run.ran, ["revisions", "download"]);
    assert!(
        run.log.contains(&format!(
            "::error title=flagstone::checksum mismatch for {}/{name}: its SHA-256 is ",
            server.url
        )),
        "{}",
        run.log
    );
    assert!(
        run.log.contains(
            "The download is corrupt or was tampered with: not using it, and not building instead\n"
        ),
        "{}",
        run.log
    );
    assert!(!run.log.contains("building flagstone"), "{}", run.log);
}

#[test]
fn without_a_release_or_a_network_the_action_builds_from_source() {
    // cargo, stood in for: it records how it was called and "builds" the test's binary.
    let stubs = crate::support::tempdir();
    let calls = stubs.path().join("cargo-calls");
    stub(
        stubs.path(),
        "cargo",
        &format!(
            "echo \"$*\" >>'{calls}'\n\
             while (($#)); do [[ $1 == --target-dir ]] && target=$2; shift; done\n\
             mkdir -p \"$target/release\"\n\
             cp '{binary}' \"$target/release/flagstone\"\n",
            calls = calls.display(),
            binary = env!("CARGO_BIN_EXE_flagstone"),
        ),
    );
    let runner = Runner {
        path: vec![stubs.path().to_owned()],
        only: Some(vec!["download", "cache-key", "install"]),
        ..Runner::default()
    };
    // No release of this version: a 404.
    let server = ReleaseServer::start();
    let run = run_with_release(&server.url, &runner);
    assert_eq!(run.failed, None, "{}", run.log);
    assert_eq!(run.ran, ["download", "cache-key", "install"]);
    assert!(
        run.log.contains(&format!(
            "::notice title=flagstone::cannot download {}/SHA256SUMS (curl: (22) The requested URL returned error: 404): building flagstone {VERSION} from the action's source instead\n",
            server.url
        )),
        "{}",
        run.log
    );
    // No network: nothing listens on the port any more.
    let closed = format!("http://{}/v{VERSION}", server.address);
    drop(server);
    let run = run_with_release(&closed, &runner);
    assert_eq!(run.failed, None, "{}", run.log);
    assert!(
        run.log.contains(&format!(
            "::notice title=flagstone::cannot download {closed}/SHA256SUMS (curl: (7) Failed to connect to 127.0.0.1 port "
        )),
        "{}",
        run.log
    );
    // Both runs built.
    let calls = std::fs::read_to_string(&calls).unwrap();
    let call = format!(
        "build --release --locked --bin flagstone --manifest-path {}/Cargo.toml --target-dir ",
        root().display()
    );
    assert_eq!(calls.matches(&call).count(), 2, "{calls}");
    assert!(run.log.contains("--- install\nflagstone "), "{}", run.log);
}

/// The release workflow, parsed.
fn release_workflow() -> Yaml {
    let text = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    YamlLoader::load_from_str(&text)
        .expect("release.yml is YAML")
        .remove(0)
}

/// The archives the release workflow's plan step says each target's job makes, as its
/// `matrix` output: (target, runner, archive, binary), in the file's order.
fn release_matrix(workflow: &Yaml) -> Vec<[String; 4]> {
    let steps = workflow["jobs"]["plan"]["steps"].as_vec().unwrap();
    let step = steps
        .iter()
        .find(|s| s["id"].as_str() == Some("targets"))
        .expect("the plan job has a targets step");
    let script = step["run"].as_str().unwrap();
    let repository = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let repository = repository
        .lines()
        .find_map(|l| l.strip_prefix("repository = \"https://github.com/"))
        .and_then(|l| l.strip_suffix('"'))
        .expect("Cargo.toml has a GitHub repository");
    let temp = crate::support::tempdir();
    let output_path = temp.path().join("output");
    std::fs::write(&output_path, "").unwrap();
    let output = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(root())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("GITHUB_REF_NAME", format!("v{VERSION}"))
        .env("GITHUB_REPOSITORY", repository)
        .env("GITHUB_OUTPUT", &output_path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let outputs = parse_outputs(&std::fs::read_to_string(&output_path).unwrap());
    assert_eq!(outputs["version"], VERSION);
    let matrix: serde_json::Value = serde_json::from_str(&outputs["matrix"]).unwrap();
    let field = |entry: &serde_json::Value, name: &str| entry[name].as_str().unwrap().to_owned();
    matrix["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            [
                field(e, "target"),
                field(e, "runs-on"),
                field(e, "archive"),
                field(e, "binary"),
            ]
        })
        .collect()
}

#[test]
fn the_release_workflow_builds_exactly_the_archives_the_action_downloads() {
    let workflow = release_workflow();
    // Each target's job builds and archives what the plan step lists.
    let build = &workflow["jobs"]["build"];
    assert_eq!(
        build["strategy"]["matrix"].as_str(),
        Some("${{ fromJSON(needs.plan.outputs.matrix) }}")
    );
    assert_eq!(build["runs-on"].as_str(), Some("${{ matrix.runs-on }}"));
    let steps = build["steps"].as_vec().unwrap();
    let archiving = steps
        .iter()
        .find(|s| s["env"]["ARCHIVE"].as_str().is_some())
        .expect("a step archives the binary");
    assert_eq!(
        archiving["env"]["ARCHIVE"].as_str(),
        Some("${{ matrix.archive }}")
    );
    assert_eq!(
        archiving["env"]["BINARY"].as_str(),
        Some("${{ matrix.binary }}")
    );
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .expect("a step uploads the archive");
    assert_eq!(
        upload["with"]["path"].as_str(),
        Some("${{ matrix.archive }}")
    );
    // No expression inside a script, and every action pinned to a full version.
    for job in workflow["jobs"].as_hash().unwrap().values() {
        for step in job["steps"].as_vec().unwrap() {
            if let Some(script) = step["run"].as_str() {
                assert!(!script.contains("${{"), "{script}");
                assert!(script.starts_with("set -euo pipefail\n"), "{script}");
            }
            if let Some(uses) = step["uses"].as_str() {
                let version = uses.split_once("@v").expect("pinned").1;
                assert_eq!(
                    version.split('.').count(),
                    3,
                    "{uses} is not a full version"
                );
            }
        }
    }

    let matrix = release_matrix(&workflow);
    let targets: Vec<&str> = matrix.iter().map(|[target, ..]| target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "x86_64-unknown-linux-gnu",
            "aarch64-unknown-linux-gnu",
            "x86_64-unknown-linux-musl",
            "aarch64-apple-darwin",
            "x86_64-apple-darwin",
            "x86_64-pc-windows-msvc",
        ]
    );
    for [target, _, archive, binary] in &matrix {
        let (name, ext) = match target.contains("windows") {
            true => ("flagstone.exe", "zip"),
            false => ("flagstone", "tar.gz"),
        };
        assert_eq!(archive, &format!("flagstone-{VERSION}-{target}.{ext}"));
        assert_eq!(binary, name);
    }

    // The release, served: each archive holds a binary that reports the version.
    let server = ReleaseServer::start();
    let fake = crate::support::tempdir();
    let binary = fake.path().join("binary");
    std::fs::write(&binary, format!("#!/bin/sh\necho 'flagstone {VERSION}'\n")).unwrap();
    let archives: Vec<(String, Vec<u8>)> = matrix
        .iter()
        .map(|[_, _, name, binary_name]| (name.clone(), archive(name, &binary, binary_name)))
        .collect();
    server.publish(&archives, |_| {});
    // Each kind of runner the release builds for: the action downloads the archive built for
    // it, and only that one. Linux runners are told apart by their C library, as ldd says.
    let runners = [
        ("Linux", "X64", "ldd (GNU libc) 2.39"),
        ("Linux", "ARM64", "ldd (Ubuntu GLIBC 2.39-0ubuntu8) 2.39"),
        ("Linux", "X64", "musl libc (x86_64)\nVersion 1.2.5"),
        ("macOS", "ARM64", "bash: ldd: command not found"),
        ("macOS", "X64", "bash: ldd: command not found"),
        ("Windows", "X64", "bash: ldd: command not found"),
    ];
    let mut downloaded = Vec::new();
    for (os, arch, ldd) in runners {
        let stubs = crate::support::tempdir();
        stub(
            stubs.path(),
            "ldd",
            &format!("printf '%s\\n' '{ldd}' >&2\nexit 1\n"),
        );
        let before = server.requests().len();
        let runner = Runner {
            path: vec![stubs.path().to_owned()],
            env: vec![
                ("RUNNER_OS".to_owned(), os.to_owned()),
                ("RUNNER_ARCH".to_owned(), arch.to_owned()),
            ],
            only: Some(vec!["download"]),
        };
        let workspace = crate::support::tempdir();
        let event = serde_json::json!({});
        let event = Event {
            name: "push",
            payload: &event,
            sha: "0123456789abcdef0123456789abcdef01234567",
        };
        let given = [("release-url", server.url.as_str())];
        let github = GitHub {
            reviews: "[]",
            commits: "[]",
        };
        let run = run_steps(workspace.path(), &event, &given, github, &runner);
        assert_eq!(run.failed, None, "{os} {arch}: {}", run.log);
        let requests = server.requests()[before..].to_vec();
        let [sums, archive] = &requests[..] else {
            panic!("{os} {arch}: {requests:?}")
        };
        assert_eq!(sums, &format!("/v{VERSION}/SHA256SUMS"));
        let archive = archive.rsplit('/').next().unwrap().to_owned();
        assert!(
            run.log
                .contains(&format!("--- download\nflagstone {VERSION}, ")),
            "{os} {arch}: {}",
            run.log
        );
        downloaded.push(archive);
    }
    let released: Vec<String> = matrix
        .iter()
        .map(|[_, _, archive, _]| archive.clone())
        .collect();
    assert_eq!(downloaded, released);
}

#[test]
fn the_workflow_init_writes_uses_only_what_the_action_declares() {
    let action = action();
    let text = std::fs::read_to_string(root().join("src/cli/init/github/workflows/flagstone.yml"))
        .unwrap();
    // As init fills the template in.
    let text = text
        .replace("{repository}", "owner/flagstone")
        .replace("{version}", VERSION);
    let workflow = &YamlLoader::load_from_str(&text).unwrap()[0];
    let steps = workflow["jobs"]["flagstone"]["steps"].as_vec().unwrap();
    assert_eq!(steps[0]["uses"].as_str(), Some("actions/checkout@v6.0.2"));
    assert_eq!(steps[0]["with"]["fetch-depth"].as_i64(), Some(0));
    let uses = format!("owner/flagstone@v{VERSION}");
    assert_eq!(steps[1]["uses"].as_str(), Some(uses.as_str()));
    for (input, _) in entries(&steps[1]["with"], "with") {
        assert!(action.inputs.contains_key(&input), "no input {input}");
    }
}
