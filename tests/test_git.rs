//! Loading a repository straight from git objects, without a checkout.

use std::path::Path;

use crate::support::{commit, copy_dir, options, root, run, shallow_clone};

fn hashes(repo: &flagstone::load::Repo) -> Vec<String> {
    let report = flagstone::check::check(repo, &options());
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    flagstone::build::all(report.checked().unwrap())
        .iter()
        .map(|b| flagstone::bundle::content_hash(&b.to_canonical_json()))
        .collect()
}

#[test]
fn a_revision_loads_like_its_checkout() {
    let work = crate::support::tempdir();
    copy_dir(
        &root().join("flags.example"),
        &work.path().join("config/flags-repo"),
    );
    let repository = git2::Repository::init(work.path()).unwrap();
    let first = commit(&repository, "flags");
    let git = flagstone::git::Repository::discover(work.path()).unwrap();
    let from_disk = flagstone::load::load(&work.path().join("config/flags-repo")).unwrap();
    let dir = Path::new("config/flags-repo");
    let from_git = flagstone::load::load_revision(&git, "HEAD", dir, None).unwrap();
    assert_eq!(hashes(&from_git), hashes(&from_disk));
    assert_eq!(from_git.files.len(), from_disk.files.len());

    // A later commit changes one rollout; the first commit still reads as it was.
    let flag = work
        .path()
        .join("config/flags-repo/flags/checkout/one-page.toml");
    let text = std::fs::read_to_string(&flag).unwrap();
    std::fs::write(&flag, text.replacen("rollout = 25", "rollout = 30", 1)).unwrap();
    commit(&repository, "raise the rollout");
    let before = flagstone::load::load_revision(&git, &first.to_string(), dir, None).unwrap();
    let after = flagstone::load::load_revision(&git, "HEAD", dir, None).unwrap();
    assert_eq!(hashes(&before), hashes(&from_disk));
    // Reusing what another version shares gives the same repository as parsing it all.
    let reusing =
        flagstone::load::load_revision(&git, &first.to_string(), dir, Some(&after)).unwrap();
    assert_eq!(hashes(&reusing), hashes(&before));
    let paths = |repo: &flagstone::load::Repo| -> Vec<String> {
        repo.files.iter().map(|f| f.path.clone()).collect()
    };
    assert_eq!(paths(&reusing), paths(&before));
    let (before, after) = (hashes(&before), hashes(&after));
    assert_eq!(before[0], after[0], "development is unchanged");
    assert_ne!(before[2], after[2], "production changed");
}

#[test]
fn a_missing_revision_is_named() {
    let work = crate::support::tempdir();
    copy_dir(&root().join("flags.example"), work.path());
    let repository = git2::Repository::init(work.path()).unwrap();
    commit(&repository, "flags");
    let git = flagstone::git::Repository::discover(work.path()).unwrap();
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let error = flagstone::load::load_revision(&git, missing, Path::new(""), None).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("cannot read revision `{missing}`")),
        "{message}"
    );
    assert!(message.contains("shallow clone"), "{message}");
    let error =
        flagstone::load::load_revision(&git, "HEAD", Path::new("nowhere"), None).unwrap_err();
    assert!(
        error.to_string().contains("is not a flags repository"),
        "{error}"
    );
}

#[test]
fn symbolic_links_in_a_revision_are_reported() {
    let work = crate::support::tempdir();
    std::fs::create_dir_all(work.path().join("flags")).unwrap();
    std::fs::write(work.path().join("flagstone.toml"), crate::support::PROJECT).unwrap();
    std::fs::write(work.path().join("other.toml"), "description = \"d\"\n").unwrap();
    std::os::unix::fs::symlink("../other.toml", work.path().join("flags/link.toml")).unwrap();
    let repository = git2::Repository::init(work.path()).unwrap();
    commit(&repository, "flags");
    let git = flagstone::git::Repository::discover(work.path()).unwrap();
    let repo = flagstone::load::load_revision(&git, "HEAD", Path::new(""), None).unwrap();
    let report = flagstone::check::check(&repo, &options());
    let codes: Vec<(&str, &str)> = report
        .diagnostics
        .iter()
        .map(|d| (d.code.as_str(), d.file.as_str()))
        .collect();
    assert_eq!(codes, [("FS005", "flags/link.toml")]);
}

/// A shallow clone (as CI checkouts often are) compares the commits it has, and names the one
/// it lacks. The clone is made by the git command line, as a CI runner makes it.
#[test]
fn a_shallow_clone_compares_the_commits_it_has() {
    let source = crate::support::tempdir();
    copy_dir(&root().join("flags.example"), &source.path().join("flags"));
    let repository = git2::Repository::init(source.path()).unwrap();
    let one_page = source.path().join("flags/flags/checkout/one-page.toml");
    let oldest = commit(&repository, "25%").to_string();
    for (from, to) in [
        ("rollout = 25", "rollout = 30"),
        ("rollout = 30", "rollout = 35"),
    ] {
        let text = std::fs::read_to_string(&one_page).unwrap();
        std::fs::write(&one_page, text.replacen(from, to, 1)).unwrap();
        commit(&repository, to);
    }
    let clone = crate::support::tempdir();
    let work = shallow_clone(source.path(), clone.path(), 2);
    let diff = |base: &str| {
        let args = [
            "diff",
            "--dir",
            "flags",
            "--base",
            base,
            "--head",
            "HEAD",
            "--now",
            "2026-11-26",
        ];
        run(&args, &work)
    };
    let (code, stdout, stderr) = diff("HEAD~1");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("rule `north-america-gradual` rollout 30% → 35%\n"),
        "{stdout}"
    );
    let (code, stdout, stderr) = diff(&oldest);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        format!(
            "error: cannot read revision `{oldest}`: revspec '{oldest}' not found (in a shallow clone, fetch the commit first)\n"
        )
    );
}
