//! Installing flagstone: `--version`, shell completions, manual pages and `init`.

use std::path::Path;

use crate::support::{root, run};

/// The fixed date `check` and `test` run at, so that nothing depends on the day.
const NOW: &str = "2026-11-26";

#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let (code, stdout, _) = run(&["--version"], &root());
    assert_eq!(code, 0);
    let version = env!("CARGO_PKG_VERSION");
    let head = crate::support::git()
        .args(["log", "-1", "--format=%H %cd", "--date=short"])
        .current_dir(root())
        .output()
        .unwrap();
    if !head.status.success() {
        // Not built in a git checkout (a package): no commit to name.
        assert_eq!(stdout, format!("flagstone {version}\n"));
        return;
    }
    // Built from this checkout's HEAD (build.rs reruns when it moves): its id, 12 hex
    // digits, and its date.
    let head = String::from_utf8(head.stdout).unwrap();
    let (id, date) = head.trim_end().split_once(' ').unwrap();
    assert_eq!(
        stdout,
        format!("flagstone {version} ({} {date})\n", &id[..12])
    );
}

#[test]
fn the_bash_completion_script_completes_every_subcommand() {
    let (code, script, stderr) = run(&["completions", "bash"], &root());
    assert_eq!(code, 0, "{stderr}");
    assert!(script.starts_with("_flagstone() {\n"), "{script}");
    assert!(
        script.ends_with("complete -F _flagstone -o nosort -o bashdefault -o default flagstone\nelse\n    complete -F _flagstone -o bashdefault -o default flagstone\nfi\n"),
        "{script}"
    );
    // The subcommands `flagstone --help` lists.
    let (_, help, _) = run(&["--help"], &root());
    let commands: Vec<&str> = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .map_while(|l| l.strip_prefix("  "))
        // Not the lines a long description wraps onto.
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 20, "{help}");
    for command in ["check", "test", "init", "completions", "man", "evals"] {
        assert!(commands.contains(&command), "{commands:?}");
    }
    for command in &commands {
        // bash's case arm for the subcommand, in the `flagstone` command's word list.
        assert!(
            script.contains(&format!("flagstone,{command})\n")),
            "no completion of {command}"
        );
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let (code, script, _) = run(&["completions", shell], &root());
        assert_eq!(code, 0);
        assert!(script.contains("flagstone"), "{shell}");
    }
}

#[test]
fn the_manual_page_is_roff_with_a_page_per_subcommand() {
    let (_, version, _) = run(&["--version"], &root());
    let version = version.trim_end();
    let (code, page, stderr) = run(&["man"], &root());
    assert_eq!(code, 0, "{stderr}");
    let head = format!(
        ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.TH flagstone 1  \"{version}\" \n.SH NAME\nflagstone \\- Feature flags and experiments as code: validate, review and compile flag repositories\n.SH SYNOPSIS\n\\fBflagstone\\fR [\\fB\\-h\\fR|\\fB\\-\\-help\\fR] [\\fB\\-V\\fR|\\fB\\-\\-version\\fR] <\\fIsubcommands\\fR>\n"
    );
    assert!(page.starts_with(&head), "{page}");
    assert!(page.contains("\n.SH SUBCOMMANDS\n"), "{page}");

    let dir = crate::support::tempdir();
    let out = dir.path().join("man1");
    let (code, stdout, stderr) = run(&["man", "--out", out.to_str().unwrap()], &root());
    assert_eq!(code, 0, "{stderr}");
    let mut pages: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    for page in [
        "flagstone.1",
        "flagstone-check.1",
        "flagstone-test.1",
        "flagstone-evals-compare.1",
    ] {
        assert!(pages.contains(&page.to_owned()), "{pages:?}");
        assert!(stdout.contains(&format!("wrote {}\n", out.join(page).display())));
    }
    assert_eq!(
        std::fs::read_to_string(out.join("flagstone.1")).unwrap(),
        page,
        "the main page is the one `flagstone man` prints"
    );
    let check = std::fs::read_to_string(out.join("flagstone-check.1")).unwrap();
    assert!(
        check.starts_with(&format!(
            ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.TH flagstone-check 1  \"{version}\" \n.SH NAME\nflagstone\\-check \\- Validate"
        )),
        "{check}"
    );
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walkdir(dir) {
        found.push(
            entry
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        );
    }
    found.sort();
    found
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walkdir(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn init_writes_a_repository_that_checks_and_tests_cleanly() {
    let temp = crate::support::tempdir();
    let (code, stdout, stderr) = run(&["init", "flags"], temp.path());
    assert_eq!(code, 0, "{stderr}");
    let dir = temp.path().join("flags");
    let written = [
        ".github/workflows/flagstone.yml",
        ".taplo.toml",
        "flags/onboarding/welcome-tour.toml",
        "flagstone.toml",
        "segments/staff.toml",
        "tests/onboarding.toml",
    ];
    assert_eq!(files(&dir), written);
    for file in written {
        assert!(
            stdout.contains(&format!("wrote flags/{file}\n")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("\nNext steps:\n"), "{stdout}");

    // No findings, not even a warning, and every test passes.
    let (code, stdout, stderr) = run(&["check", "--now", NOW], &dir);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "✓ 1 flag, 1 segment, 1 test file checked: no problems\n"
    );
    assert_eq!(stderr, "");
    let (code, stdout, stderr) = run(&["test", "--now", NOW], &dir);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout, "4 passed, 0 failed\n");
    // And years from now: the flag's expiry is far off.
    let (code, stdout, stderr) = run(&["check", "--now", "2099-01-01"], &dir);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");

    // The workflow uses the Action of this version; the editor settings, its schemas.
    let version = env!("CARGO_PKG_VERSION");
    let repository = env!("CARGO_PKG_REPOSITORY").trim_start_matches("https://github.com/");
    let workflow = std::fs::read_to_string(dir.join(".github/workflows/flagstone.yml")).unwrap();
    assert!(
        workflow.contains(&format!(
            "      - uses: {repository}@v{version}\n        with:\n          directory: .\n"
        )),
        "{workflow}"
    );
    let taplo = std::fs::read_to_string(dir.join(".taplo.toml")).unwrap();
    for schema in ["project", "flag", "segment", "experiment", "test"] {
        let url = format!(
            "url = \"https://raw.githubusercontent.com/{repository}/v{version}/schema/{schema}.schema.json\"\n"
        );
        assert!(taplo.contains(&url), "{taplo}");
        assert!(
            root()
                .join(format!("schema/{schema}.schema.json"))
                .is_file()
        );
    }
}

#[test]
fn init_refuses_to_overwrite_and_writes_nothing() {
    let temp = crate::support::tempdir();
    let project = "name = \"mine\"\nenvironments = [\"production\"]\n";
    std::fs::write(temp.path().join("flagstone.toml"), project).unwrap();
    std::fs::create_dir(temp.path().join("segments")).unwrap();
    std::fs::write(
        temp.path().join("segments/staff.toml"),
        "description = \"x\"\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["init"], temp.path());
    assert_eq!(code, 2, "{stdout}");
    assert_eq!(
        stderr,
        "error: . already has flagstone.toml, segments/staff.toml; init wrote nothing\n"
    );
    assert_eq!(stdout, "");
    assert_eq!(
        files(temp.path()),
        ["flagstone.toml", "segments/staff.toml"]
    );
    assert_eq!(
        std::fs::read_to_string(temp.path().join("flagstone.toml")).unwrap(),
        project
    );
}
