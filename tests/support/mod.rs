//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod build;
pub mod contexts;
pub mod raw_data;
pub mod repository;
pub mod toml_writer;

/// The repository root (where Cargo.toml is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether tests should rewrite their expected files instead of comparing with them.
pub fn updating() -> bool {
    std::env::var_os("FLAGSTONE_UPDATE").is_some_and(|v| v == "1")
}

/// Rewrites the file at `path` with `edit` of its text. Tests that update blocks of one page
/// (docs/diagnostics.md has two) take turns, each editing what the other wrote.
pub fn rewrite(path: &Path, edit: impl FnOnce(&str) -> String) {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, edit(&text)).unwrap();
}

/// Compares `actual` with the file at `path`, or rewrites the file when updating.
pub fn assert_file(path: &Path, actual: &str) {
    if updating() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with FLAGSTONE_UPDATE=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "{} differs from what the code produces; run `FLAGSTONE_UPDATE=1 cargo test` and review the diff\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}

/// The fixed "now" of the tests, as `--now` takes it: every time-dependent command and library
/// call in the suite runs at it, so that the suite gives the same answer on any day.
pub const NOW: &str = "2026-11-26T12:00:00Z";

/// The fixed "now" of the tests ([`NOW`]).
pub fn options() -> flagstone::check::Options {
    let now_millis = flagstone::literal::parse_timestamp(NOW).unwrap();
    flagstone::check::Options { now_millis }
}

/// Checks the repository at `dir` as `flagstone check` does (with the findings about its
/// checkout) and lists its findings as `CODE file:line:column`.
pub fn findings(dir: &Path) -> Vec<String> {
    libgit2_without_user_config();
    let repo = flagstone::provenance::load(dir).unwrap();
    flagstone::check::check(&repo, &options())
        .diagnostics
        .iter()
        .map(|d| {
            let p = flagstone::cli::render::position(&repo, d);
            format!(
                "{} {}:{}:{}",
                d.code.as_str(),
                d.file,
                p.start.line,
                p.start.column
            )
        })
        .collect()
}

/// Runs the `flagstone` binary and returns (exit code, stdout, stderr). A command whose result
/// depends on the time must be given `--now` (or `eval --at`): the test fails otherwise.
pub fn run(args: &[&str], cwd: &Path) -> (i32, String, String) {
    assert_clock_fixed(args);
    let output = flagstone()
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the flagstone binary runs");
    (
        output
            .status
            .code()
            .expect("exited, not killed by a signal"),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// Fails the test when `args` run a command that takes `--now` without it (`--help` aside;
/// `eval --at` sets the time too). Which commands take it comes from their definitions.
fn assert_clock_fixed(args: &[&str]) {
    let mut command = flagstone::cli::command();
    for word in args {
        match command.find_subcommand(word) {
            Some(sub) => command = sub.clone(),
            None => break,
        }
    }
    let timed = command.get_arguments().any(|a| a.get_id() == "now");
    let fixed = args
        .iter()
        .any(|a| matches!(*a, "--now" | "--at" | "--help"));
    assert!(
        !timed || fixed,
        "flagstone {args:?} depends on the time: pass \"--now\", NOW (support::NOW), so that \
         the test gives the same answer on any day"
    );
}

/// The `flagstone` binary, in an environment of the test's making: no colours, none of the
/// variables a CI job or a shell may set for it, no user or machine git configuration, and
/// commits (`--commit`) dated [`NOW`]: git dates them by the clock otherwise, and cannot
/// date every year.
pub fn flagstone() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_flagstone"));
    command
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("FLAGSTONE_DIR")
        .env("GIT_AUTHOR_DATE", NOW)
        .env("GIT_COMMITTER_DATE", NOW);
    without_user_git_config(&mut command);
    command
}

/// The git command line, with a fixed identity and date and without the user's or the
/// machine's configuration (signing, hooks, line endings, default branch, ignores).
pub fn git() -> std::process::Command {
    let mut command = std::process::Command::new("git");
    command
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_AUTHOR_DATE", NOW)
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_DATE", NOW);
    without_user_git_config(&mut command);
    command
}

/// Keeps a child process from reading the user's and the machine's git configuration: git
/// honours GIT_CONFIG_GLOBAL and GIT_CONFIG_NOSYSTEM, while libgit2 (in flagstone) and the
/// `ignore` crate (`refs`) look for it, and for global ignore and attributes files, under HOME
/// and XDG_CONFIG_HOME, which point nowhere.
fn without_user_git_config(command: &mut std::process::Command) {
    command
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", "/nonexistent")
        .env_remove("XDG_CONFIG_HOME");
}

/// Points libgit2 in this process away from the user's and the machine's configuration (and
/// the ignore and attributes files it names), as [`without_user_git_config`] does for a child.
/// The helpers every test that touches git calls first ([`tempdir`], [`findings`]) call it.
fn libgit2_without_user_config() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use git2::ConfigLevel::{Global, ProgramData, System, XDG};
        for level in [System, XDG, Global, ProgramData] {
            // SAFETY: the search paths are process-wide; they are set once, before any test's
            // first git operation, which comes after one of the helpers above.
            unsafe { git2::opts::set_search_path(level, "/nonexistent") }.unwrap();
        }
    });
}

/// A new temporary directory, outside every git repository. Tests must not depend on where
/// the system keeps temporary files, and TMPDIR may lie inside a git work tree, whose
/// repository (and its attributes) flagstone would find by walking up from a test's
/// directory; then the directories are made in the first of /tmp and /var/tmp outside git.
pub fn tempdir() -> tempfile::TempDir {
    libgit2_without_user_config();
    static BASE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(|| {
        [std::env::temp_dir(), "/tmp".into(), "/var/tmp".into()]
            .into_iter()
            .find(|dir| dir.is_dir() && git2::Repository::discover(dir).is_err())
            .expect("a temporary directory outside any git work tree: set TMPDIR to one")
    });
    tempfile::tempdir_in(base).unwrap()
}

/// Writes `files` (path → content) under a new temporary directory.
pub fn repo(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempdir();
    for (path, content) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

/// A minimal valid project file.
pub const PROJECT: &[u8] = b"name = \"acme\"
environments = [\"staging\", \"production\"]

[attributes]
country = { type = \"string\", values = [\"US\", \"CA\"] }
";

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A fixture repository ready to check: the fixture itself, or a copy in a temporary
/// directory when it has a `GENERATE` file (lines `path size` make files too large to commit;
/// lines `path -> target` make symbolic links) or a `GIT` file (the copy is made a git
/// repository, its files committed).
pub fn fixture_repo(dir: &Path) -> FixtureRepo {
    let spec = std::fs::read_to_string(dir.join("GENERATE")).ok();
    let git = dir.join("GIT").is_file();
    if spec.is_none() && !git {
        return FixtureRepo::Committed(dir.to_owned());
    }
    let temp = tempdir();
    copy_dir(dir, temp.path());
    for line in spec
        .iter()
        .flat_map(|s| s.lines())
        .filter(|l| !l.trim().is_empty())
    {
        if let Some((path, target)) = line.split_once(" -> ") {
            symlink(target.trim(), &temp.path().join(path.trim()));
            continue;
        }
        let (path, size) = line
            .split_once(' ')
            .expect("GENERATE lines are `path size` or `path -> target`");
        let size: usize = size.trim().parse().unwrap();
        let mut content = "# generated filler\n".repeat(size / 19 + 1);
        content.truncate(size);
        let path = temp.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    if git {
        let repository = git2::Repository::init(temp.path()).unwrap();
        commit(&repository, "fixture");
    }
    FixtureRepo::Generated(temp)
}

/// Makes `link` a symbolic link to `target` (relative to the link's directory).
pub fn symlink(target: &str, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, link).unwrap();
    #[cfg(windows)]
    std::os::windows::fs::symlink_dir(target, link).unwrap();
}

pub enum FixtureRepo {
    Committed(PathBuf),
    Generated(tempfile::TempDir),
}

impl std::ops::Deref for FixtureRepo {
    type Target = Path;
    fn deref(&self) -> &Path {
        match self {
            FixtureRepo::Committed(path) => path,
            FixtureRepo::Generated(dir) => dir.path(),
        }
    }
}

/// Commits the work tree of `repository` on its HEAD with a fixed identity and returns the
/// commit id.
pub fn commit(repository: &git2::Repository, message: &str) -> git2::Oid {
    let head = repository.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<git2::Oid> = head.iter().map(|c| c.id()).collect();
    commit_on(repository, message, &parents)
}

/// Commits the work tree with these parents, with a fixed identity, and moves HEAD to the
/// commit (the branch HEAD names, or a detached HEAD).
pub fn commit_on(repository: &git2::Repository, message: &str, parents: &[git2::Oid]) -> git2::Oid {
    let mut index = repository.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repository.find_tree(index.write_tree().unwrap()).unwrap();
    let author = git2::Signature::new("Test", "test@example.com", &git2::Time::new(0, 0)).unwrap();
    let parents: Vec<git2::Commit<'_>> = parents
        .iter()
        .map(|p| repository.find_commit(*p).unwrap())
        .collect();
    let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
    let id = repository
        .commit(None, &author, &author, message, &tree, &parents)
        .unwrap();
    let head = repository.find_reference("HEAD").unwrap();
    match head.symbolic_target().unwrap() {
        Some(branch) => drop(repository.reference(branch, id, true, message).unwrap()),
        None => repository.set_head_detached(id).unwrap(),
    }
    id
}

/// A shallow clone (`git clone --depth DEPTH`, by the git command line, as CI runners make
/// one) of the repository at `source`, in `into/c`; returns its work tree.
pub fn shallow_clone(source: &Path, into: &Path, depth: u32) -> PathBuf {
    let url = format!("file://{}", source.display());
    let work = into.join("c");
    let status = git()
        .args(["clone", "--quiet", "--depth", &depth.to_string(), &url])
        .arg(&work)
        .status()
        .expect("git is installed");
    assert!(status.success());
    work
}

/// proptest's configuration for `cases` cases that keeps what fails: a failing case's seed is
/// appended to tests/proptest-regressions/`$file`.txt (commit it), and every run replays the
/// seeds there before it tries new cases. The path is absolute, so that it does not depend on
/// the directory the test binary runs in.
macro_rules! proptest_config {
    ($file:literal, $cases:expr) => {
        proptest::test_runner::Config {
            cases: $cases,
            failure_persistence: Some(Box::new(
                proptest::test_runner::FileFailurePersistence::Direct(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/proptest-regressions/",
                    $file,
                    ".txt"
                )),
            )),
            ..proptest::test_runner::Config::default()
        }
    };
}
pub(crate) use proptest_config;

/// Asserts that `page` (a path from the project root) shows, as a Rust block, the code
/// between the lines `// example start` and `// example end` of `source`, the text of the
/// test file `file`, unindented once.
pub fn assert_docs_example(source: &str, file: &str, page: &str) {
    let start = source.find("    // example start\n").unwrap() + "    // example start\n".len();
    let end = source.find("    // example end\n").unwrap();
    let code: String = source[start..end]
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let docs = std::fs::read_to_string(root().join(page)).unwrap();
    assert!(
        docs.contains(&format!("```rust\n{code}```\n")),
        "{page}'s example differs from {file}:\n{code}"
    );
}
