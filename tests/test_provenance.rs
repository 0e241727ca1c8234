//! What ships is exactly what review judged: the attacks that would make a checkout differ
//! from the git objects `review` reads, each refused by `check`, `build` (from the work tree
//! and with `--rev`) and `review`/`diff`; and `build --rev`, which builds from git objects.
//!
//! Each test builds a real git repository: the flags repository at `flags/` (flagstone.toml
//! and one flag), committed once as the base of a pull request.
// Symbolic links and filter commands (sed) are Unix's.
#![cfg(unix)]

use std::path::Path;

use crate::support::{PROJECT, commit, run};

const FLAG: &str = "description = \"One-page checkout\"
owners = [\"alice\"]
kind = \"ops\"

[env.production]
serve = \"off\"

[[env.production.rules]]
name = \"half\"
rollout = 50
serve = \"on\"
";

const NOW: &str = "2026-11-26";

/// The hint that closes every refusal of `diff` and `review`.
const SEE_DOCS: &str = "(docs/diagnostics.md explains each code)\n";

struct Pr {
    work: tempfile::TempDir,
    repository: git2::Repository,
    /// The base commit.
    base: String,
}

impl Pr {
    fn new() -> Pr {
        let work = crate::support::tempdir();
        let repository = git2::Repository::init(work.path()).unwrap();
        let pr = Pr {
            work,
            repository,
            base: String::new(),
        };
        pr.write(
            "flags/flagstone.toml",
            std::str::from_utf8(PROJECT).unwrap(),
        );
        pr.write("flags/flags/checkout.toml", FLAG);
        Pr {
            base: pr.commit(),
            ..pr
        }
    }

    fn path(&self) -> &Path {
        self.work.path()
    }

    /// Writes `text` at `path`, relative to the git root.
    fn write(&self, path: &str, text: &str) {
        let path = self.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Commits the work tree and returns the commit's id.
    fn commit(&self) -> String {
        commit(&self.repository, "change").to_string()
    }

    /// Runs flagstone in the git root.
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run(args, self.path())
    }

    /// `check flags`: its exit status and findings, each `CODE file: message`.
    fn check(&self) -> (i32, Vec<String>) {
        let (code, stdout, stderr) =
            self.run(&["check", "--dir", "flags", "--now", NOW, "--format", "json"]);
        assert_ne!(code, 2, "{stderr}");
        (code, findings(&stdout))
    }

    /// `build flags` (from the work tree, or `--rev REV`): its exit status, and the findings
    /// when it refused or the manifest when it built.
    fn build(&self, rev: Option<&str>) -> (i32, serde_json::Value) {
        let out = self.path().join("out");
        let out = out.to_str().unwrap();
        let mut args = vec![
            "build", "--dir", "flags", "--out", out, "--now", NOW, "--format", "json",
        ];
        args.extend(rev.iter().flat_map(|rev| ["--rev", *rev]));
        let (code, stdout, stderr) = self.run(&args);
        assert_ne!(code, 2, "{stderr}");
        (code, serde_json::from_str(&stdout).unwrap())
    }

    /// `review flags --base BASE` of the head commit (HEAD), with no reviews.
    fn review(&self) -> (i32, String, String) {
        let reviews = self.path().join("reviews.json");
        std::fs::write(&reviews, "[]").unwrap();
        let reviews = reviews.to_str().unwrap().to_owned();
        self.run(&[
            "review",
            "--dir",
            "flags",
            "--base",
            &self.base,
            "--reviews",
            &reviews,
            "--author",
            "nora",
            "--now",
            NOW,
        ])
    }

    /// `git ARGS` in the git root.
    fn git(&self, args: &[&str]) -> String {
        git(self.path(), args)
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = crate::support::git()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git is installed");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// A JSON document's diagnostics, each `CODE file: message`.
fn findings(json: &str) -> Vec<String> {
    let document: serde_json::Value = serde_json::from_str(json).unwrap();
    document["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let field = |name: &str| d[name].as_str().unwrap().to_owned();
            format!("{} {}: {}", field("code"), field("file"), field("message"))
        })
        .collect()
}

/// The environments of a manifest: name → hash.
fn hashes(manifest: &serde_json::Value) -> Vec<(String, String)> {
    manifest["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let field = |name: &str| e[name].as_str().unwrap().to_owned();
            (field("name"), field("hash"))
        })
        .collect()
}

/// A `.gitattributes` setting one checkout attribute on flag files is refused by check, by
/// both builds and by review, each naming the attribute and where it is set.
fn refused_everywhere(attributes: &str, in_work_tree: &[&str], in_revision: &[&str]) {
    let pr = Pr::new();
    pr.write(".gitattributes", attributes);
    let head = pr.commit();

    let owned = |list: &[&str]| list.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    assert_eq!(pr.check(), (1, owned(in_work_tree)));
    let (code, refused) = pr.build(None);
    assert_eq!(
        (code, findings(&refused.to_string())),
        (1, owned(in_work_tree))
    );
    assert!(!pr.path().join("out/manifest.json").exists());
    let (code, refused) = pr.build(Some(&head));
    assert_eq!(
        (code, findings(&refused.to_string())),
        (1, owned(in_revision))
    );
    assert!(!pr.path().join("out/manifest.json").exists());

    let (code, stdout, stderr) = pr.review();
    assert_eq!((code, stdout.as_str()), (2, ""));
    let listed: String = in_revision
        .iter()
        .map(|f| {
            let (code, rest) = f.split_once(' ').unwrap();
            format!("  {code}(checkout-attribute) {rest}\n")
        })
        .collect();
    assert_eq!(
        stderr,
        format!(
            "error: the head revision `HEAD` does not check out as git holds it, so what ships \
             need not be what is reviewed:\n{listed}{SEE_DOCS}"
        )
    );
}

#[test]
fn a_gitattributes_filter_on_flag_files_is_refused() {
    refused_everywhere(
        "# decrypted on checkout\nflags/flags/*.toml filter=rewrite\n",
        &[
            "FS073 flags/checkout.toml: git rewrites this file when it checks it out (`filter=rewrite` from `.gitattributes` line 2)",
        ],
        &[
            "FS073 flags/checkout.toml: git would rewrite this file when it checks it out (`filter=rewrite` from `.gitattributes` line 2)",
        ],
    );
}

#[test]
fn a_gitattributes_ident_on_flag_files_is_refused() {
    refused_everywhere(
        "*.toml ident\n",
        &[
            "FS073 flagstone.toml: git rewrites this file when it checks it out (`ident` from `.gitattributes` line 1)",
            "FS073 flags/checkout.toml: git rewrites this file when it checks it out (`ident` from `.gitattributes` line 1)",
        ],
        &[
            "FS073 flagstone.toml: git would rewrite this file when it checks it out (`ident` from `.gitattributes` line 1)",
            "FS073 flags/checkout.toml: git would rewrite this file when it checks it out (`ident` from `.gitattributes` line 1)",
        ],
    );
}

#[test]
fn a_gitattributes_working_tree_encoding_on_flag_files_is_refused() {
    refused_everywhere(
        "flags/** working-tree-encoding=UTF-16\n",
        &[
            "FS073 flagstone.toml: git rewrites this file when it checks it out (`working-tree-encoding=UTF-16` from `.gitattributes` line 1)",
            "FS073 flags/checkout.toml: git rewrites this file when it checks it out (`working-tree-encoding=UTF-16` from `.gitattributes` line 1)",
        ],
        &[
            "FS073 flagstone.toml: git would rewrite this file when it checks it out (`working-tree-encoding=UTF-16` from `.gitattributes` line 1)",
            "FS073 flags/checkout.toml: git would rewrite this file when it checks it out (`working-tree-encoding=UTF-16` from `.gitattributes` line 1)",
        ],
    );
}

#[test]
fn an_ident_checkout_really_rewrites_the_file_and_check_refuses_the_clone() {
    let pr = Pr::new();
    pr.write(
        "flags/flags/checkout.toml",
        &FLAG.replace("\"One-page checkout\"", "\"One-page checkout $Id$\""),
    );
    pr.write("flags/.gitattributes", "flags/*.toml ident\n");
    pr.commit();
    let clone = crate::support::tempdir();
    git(
        clone.path(),
        &["clone", "--quiet", pr.path().to_str().unwrap(), "c"],
    );
    let checked_out =
        std::fs::read_to_string(clone.path().join("c/flags/flags/checkout.toml")).unwrap();
    let blob = pr.git(&["rev-parse", "HEAD:flags/flags/checkout.toml"]);
    assert!(
        checked_out.contains(&format!("\"One-page checkout $Id: {} $\"", blob.trim())),
        "{checked_out}"
    );
    let (code, stdout, _) = run(
        &["check", "--dir", "flags", "--now", NOW, "--format", "json"],
        &clone.path().join("c"),
    );
    assert_eq!(code, 1);
    assert_eq!(
        findings(&stdout),
        [
            "FS073 flags/checkout.toml: git rewrites this file when it checks it out (`ident` from `flags/.gitattributes` line 1)"
        ]
    );
}

#[test]
fn a_macro_that_sets_a_filter_is_refused_in_a_revision() {
    let pr = Pr::new();
    pr.write(
        ".gitattributes",
        "[attr]innocent filter=rewrite\n*.toml text eol=lf\nflags/flags/** innocent\n",
    );
    let head = pr.commit();
    let (code, refused) = pr.build(Some(&head));
    assert_eq!(code, 1);
    assert_eq!(
        findings(&refused.to_string()),
        [
            "FS073 flags/checkout.toml: git would rewrite this file when it checks it out (`filter=rewrite` from `.gitattributes` line 3)"
        ]
    );
}

#[test]
fn line_end_attributes_and_unset_filters_are_allowed() {
    let pr = Pr::new();
    pr.write(
        ".gitattributes",
        "* filter=lfs\n*.toml -filter !ident text eol=lf diff merge=union\n",
    );
    let head = pr.commit();
    assert_eq!(pr.check(), (0, vec![]));
    let (code, manifest) = pr.build(Some(&head));
    assert_eq!(code, 0);
    assert_eq!(manifest["commit"], head.as_str());
    // Allowed, not ignored: changing .gitattributes needs the protected approvers.
    let (code, stdout, stderr) = pr.review();
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("review: approvals missing\nfile `.gitattributes`\n"),
        "{stdout}"
    );
}

/// A real submodule (`git submodule add`) at flags/flags/vendored, holding a flag.
fn with_submodule(pr: &Pr) -> (tempfile::TempDir, String) {
    let other = crate::support::tempdir();
    let repository = git2::Repository::init(other.path()).unwrap();
    std::fs::write(other.path().join("vendored.toml"), FLAG).unwrap();
    let id = commit(&repository, "vendored").to_string();
    pr.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "--quiet",
        other.path().to_str().unwrap(),
        "flags/flags/vendored",
    ]);
    pr.git(&["commit", "--quiet", "-m", "vendor"]);
    (other, id)
}

#[test]
fn a_submodule_inside_the_flags_directory_is_refused() {
    let pr = Pr::new();
    let (_other, id) = with_submodule(&pr);
    let short = &id[..12];
    // The work tree holds the submodule's checkout: its flag would be read.
    assert!(
        pr.path()
            .join("flags/flags/vendored/vendored.toml")
            .is_file()
    );
    let work_tree = "FS074 flags/vendored: `flags/vendored` is a git submodule or a repository of its own: it holds a `.git` file";
    assert_eq!(pr.check(), (1, vec![work_tree.to_owned()]));
    let (code, refused) = pr.build(None);
    assert_eq!(
        (code, findings(&refused.to_string())),
        (1, vec![work_tree.to_owned()])
    );
    let in_git = format!(
        "`flags/vendored` is a git submodule: git records it as a gitlink to commit {short}"
    );
    let (code, refused) = pr.build(Some("HEAD"));
    assert_eq!(
        (code, findings(&refused.to_string())),
        (1, vec![format!("FS074 flags/vendored: {in_git}")])
    );
    let (code, stdout, stderr) = pr.review();
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        format!(
            "error: the head revision `HEAD` does not check out as git holds it, so what ships \
             need not be what is reviewed:\n  FS074(submodule) flags/vendored: {in_git}\n{SEE_DOCS}"
        )
    );
}

#[test]
fn a_submodule_only_in_the_index_is_refused() {
    let pr = Pr::new();
    let (_other, _) = with_submodule(&pr);
    // Its checkout removed, the gitlink stays in the index and in HEAD.
    std::fs::remove_dir_all(pr.path().join("flags/flags/vendored")).unwrap();
    std::fs::create_dir(pr.path().join("flags/flags/vendored")).unwrap();
    assert_eq!(
        pr.check(),
        (
            1,
            vec![
                "FS074 flags/vendored: `flags/vendored` is a git submodule: the index records it as one"
                    .to_owned()
            ]
        )
    );
}

/// The flags repository moved to `config/`, `flags` made a symbolic link to it.
fn link_flags_to_config(pr: &Pr) {
    std::fs::rename(pr.path().join("flags"), pr.path().join("config")).unwrap();
    std::os::unix::fs::symlink("config", pr.path().join("flags")).unwrap();
}

#[test]
fn a_symlinked_flags_directory_is_refused() {
    let pr = Pr::new();
    link_flags_to_config(&pr);
    let head = pr.commit();
    let on_disk = "the repository directory `flags` is a symbolic link (to `config`)";
    let finding = format!("FS075 .: {on_disk}");
    assert_eq!(pr.check(), (1, vec![finding.clone()]));
    let (code, refused) = pr.build(None);
    assert_eq!(
        (code, findings(&refused.to_string())),
        (1, vec![finding.clone()])
    );
    let (code, refused) = pr.build(Some(&head));
    assert_eq!((code, findings(&refused.to_string())), (1, vec![finding]));
    let (code, stdout, stderr) = pr.review();
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        format!(
            "error: the directory `flags` does not check out as git holds it, so what ships need \
             not be what is reviewed:\n  FS075(symlinked-repository) .: {on_disk}\n{SEE_DOCS}"
        )
    );

    // From a checkout of the base, where flags/ is a directory, the head's tree is what says
    // it is a link.
    pr.git(&["checkout", "--quiet", "--detach", &pr.base]);
    assert!(!pr.path().join("flags").is_symlink());
    let in_git = "the repository directory `flags` is a symbolic link in git (to `config`)";
    let (code, refused) = pr.build(Some(&head));
    assert_eq!(
        (code, findings(&refused.to_string())),
        (1, vec![format!("FS075 .: {in_git}")])
    );
    let (code, stdout, stderr) = pr.run(&[
        "diff", "--dir", "flags", "--base", &pr.base, "--head", &head, "--now", NOW,
    ]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        format!(
            "error: the head revision `{head}` does not check out as git holds it, so what ships \
             need not be what is reviewed:\n  FS075(symlinked-repository) .: {in_git}\n{SEE_DOCS}"
        )
    );
}

#[test]
fn a_symlinked_directory_above_the_flags_directory_is_refused() {
    let pr = Pr::new();
    std::fs::create_dir(pr.path().join("real")).unwrap();
    std::fs::rename(pr.path().join("flags"), pr.path().join("real/flags")).unwrap();
    std::os::unix::fs::symlink("real", pr.path().join("team")).unwrap();
    let (code, stdout, _) = pr.run(&[
        "check",
        "--dir",
        "team/flags",
        "--now",
        NOW,
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&stdout),
        [
            "FS075 .: `team`, a directory the repository directory is in, is a symbolic link (to `real`)"
        ]
    );
}

#[test]
fn a_symlinked_flags_subdirectory_in_a_revision_is_refused() {
    let pr = Pr::new();
    std::fs::rename(pr.path().join("flags/flags"), pr.path().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("../elsewhere", pr.path().join("flags/flags")).unwrap();
    let head = pr.commit();
    let (code, refused) = pr.build(Some(&head));
    assert_eq!(
        (code, findings(&refused.to_string())),
        (
            1,
            vec!["FS075 flags: `flags` is a symbolic link in git (to `../elsewhere`)".to_owned()]
        )
    );
    assert_eq!(
        pr.check(),
        (
            1,
            vec!["FS075 flags: `flags` is a symbolic link (to `../elsewhere`)".to_owned()]
        )
    );
}

#[test]
fn build_rev_gives_the_bundles_of_a_clean_checkout_of_that_commit_and_records_it() {
    let pr = Pr::new();
    let old = pr.base.clone();
    pr.write(
        "flags/flags/checkout.toml",
        &FLAG.replace("rollout = 50", "rollout = 75"),
    );
    let new = pr.commit();
    // The work tree is at the newer commit, with a change of its own.
    pr.write(
        "flags/flags/checkout.toml",
        &FLAG.replace("rollout = 50", "rollout = 90"),
    );
    let (code, from_objects) = pr.build(Some(&old));
    assert_eq!(code, 0);

    let clean = crate::support::tempdir();
    git(
        clean.path(),
        &["clone", "--quiet", pr.path().to_str().unwrap(), "c"],
    );
    let clone = clean.path().join("c");
    git(&clone, &["checkout", "--quiet", "--detach", &old]);
    let (code, stdout, stderr) = run(
        &[
            "build", "--dir", "flags", "--out", "out", "--now", NOW, "--format", "json",
        ],
        &clone,
    );
    assert_eq!(code, 0, "{stderr}");
    let from_checkout: serde_json::Value = serde_json::from_str(&stdout).unwrap();

    assert_eq!(hashes(&from_objects), hashes(&from_checkout));
    assert_eq!(from_objects["environments"], from_checkout["environments"]);
    let tree = pr.git(&["rev-parse", &format!("{old}:flags")]);
    for manifest in [&from_objects, &from_checkout] {
        assert_eq!(manifest["commit"], old.as_str());
        assert_eq!(manifest["tree"], tree.trim());
        assert_eq!(manifest["dirty"], false);
    }
    // The manifest on disk is the one printed.
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(pr.path().join("out/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(written, from_objects);

    // Neither the newer commit nor the work tree is what was built.
    let (_, at_new) = pr.build(Some(&new));
    assert_ne!(hashes(&at_new), hashes(&from_objects));
    assert_eq!(at_new["commit"], new.as_str());
    let (_, work_tree) = pr.build(None);
    assert_eq!(work_tree["commit"], new.as_str());
    assert_eq!(work_tree["dirty"], true);
    assert_ne!(hashes(&work_tree), hashes(&at_new));
}

#[test]
fn a_work_tree_changed_by_a_smudge_filter_is_dirty_though_git_status_is_clean() {
    let pr = Pr::new();
    let clean = crate::support::tempdir();
    git(
        clean.path(),
        &[
            "clone",
            "--quiet",
            "--no-checkout",
            pr.path().to_str().unwrap(),
            "c",
        ],
    );
    let clone = clean.path().join("c");
    // A local filter (not committed): smudge raises the rollout, clean lowers it back, so
    // git sees no change.
    std::fs::write(
        clone.join(".git/info/attributes"),
        "*.toml filter=rewrite\n",
    )
    .unwrap();
    git(
        &clone,
        &[
            "config",
            "filter.rewrite.smudge",
            "sed 's/rollout = 50/rollout = 100/'",
        ],
    );
    git(
        &clone,
        &[
            "config",
            "filter.rewrite.clean",
            "sed 's/rollout = 100/rollout = 50/'",
        ],
    );
    git(&clone, &["reset", "--quiet", "--hard"]);
    let text = std::fs::read_to_string(clone.join("flags/flags/checkout.toml")).unwrap();
    assert!(text.contains("rollout = 100\n"), "{text}");
    assert_eq!(git(&clone, &["status", "--porcelain"]), "");

    let dir = clone.join("flags");
    let repo = flagstone::load::load(&dir).unwrap();
    let source = flagstone::provenance::worktree_source(&dir, &repo).unwrap();
    let tree = pr.git(&["rev-parse", "HEAD:flags"]);
    assert_eq!(
        source,
        flagstone::provenance::Source {
            commit: pr.base.clone(),
            tree: Some(tree.trim().to_owned()),
            dirty: true,
        }
    );

    // check and build refuse the filter; a build from git objects is what was committed.
    let (code, stdout, _) = run(
        &["check", "--dir", "flags", "--now", NOW, "--format", "json"],
        &clone,
    );
    assert_eq!(code, 1);
    assert_eq!(
        findings(&stdout),
        [
            "FS073 flagstone.toml: git rewrites this file when it checks it out (`filter=rewrite`)",
            "FS073 flags/checkout.toml: git rewrites this file when it checks it out (`filter=rewrite`)"
        ]
    );
    let (code, stdout, stderr) = run(
        &[
            "build", "--dir", "flags", "--rev", "HEAD", "--out", "out", "--now", NOW, "--format",
            "json",
        ],
        &clone,
    );
    assert_eq!(code, 0, "{stderr}");
    let from_objects: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let (_, committed) = pr.build(Some(&pr.base));
    assert_eq!(hashes(&from_objects), hashes(&committed));
}

#[test]
fn an_untracked_flag_file_makes_the_work_tree_dirty() {
    let pr = Pr::new();
    let dir = pr.path().join("flags");
    let clean = flagstone::load::load(&dir).unwrap();
    let source = flagstone::provenance::worktree_source(&dir, &clean).unwrap();
    assert!(!source.dirty);
    // A file git does not have, and one it has that is gone.
    pr.write("flags/flags/extra.toml", FLAG);
    let added = flagstone::load::load(&dir).unwrap();
    assert!(
        flagstone::provenance::worktree_source(&dir, &added)
            .unwrap()
            .dirty
    );
    std::fs::remove_file(pr.path().join("flags/flags/extra.toml")).unwrap();
    std::fs::remove_file(pr.path().join("flags/flags/checkout.toml")).unwrap();
    let removed = flagstone::load::load(&dir).unwrap();
    assert!(
        flagstone::provenance::worktree_source(&dir, &removed)
            .unwrap()
            .dirty
    );
    // Files the loader does not read make no difference.
    std::fs::write(pr.path().join("flags/flags/checkout.toml"), FLAG).unwrap();
    pr.write("flags/README.md", "notes\n");
    let noted = flagstone::load::load(&dir).unwrap();
    assert!(
        !flagstone::provenance::worktree_source(&dir, &noted)
            .unwrap()
            .dirty
    );
}

#[test]
fn build_rev_of_a_nonexistent_revision_is_an_error_that_names_it() {
    let pr = Pr::new();
    let (code, stdout, stderr) = pr.run(&[
        "build",
        "--dir",
        "flags",
        "--rev",
        "no-such-rev",
        "--out",
        "out",
        "--now",
        NOW,
    ]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        "error: cannot read revision `no-such-rev`: revspec 'no-such-rev' not found (in a shallow \
         clone, fetch the commit first)\n"
    );
    assert!(!pr.path().join("out").exists());
}

#[test]
fn build_rev_outside_a_git_repository_is_an_error() {
    let dir = crate::support::repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/f.toml", FLAG.as_bytes()),
    ]);
    let (code, stdout, stderr) = run(
        &[
            "build", "--dir", ".", "--rev", "HEAD", "--out", "out", "--now", NOW,
        ],
        dir.path(),
    );
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(stderr, "error: . is not inside a git repository\n");
    // The work tree build, outside git, records no commit.
    let (code, stdout, stderr) = run(
        &[
            "build", "--dir", ".", "--out", "out", "--now", NOW, "--format", "json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let manifest: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for field in ["commit", "tree", "dirty"] {
        assert!(manifest.get(field).is_none(), "{field}: {manifest}");
    }
}
