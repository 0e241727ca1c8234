//! `flagstone init [DIR]`: a starter flags repository, with the editor settings and the GitHub
//! workflow that go with it.

use std::io::Write;
use std::path::PathBuf;

use super::{Error, Exit, write_atomic};

/// Write a starter flags repository: flagstone.toml, a flag, a segment, a test, editor
/// settings (.taplo.toml) and a GitHub workflow that runs the flagstone Action.
///
/// Writes nothing when any of these files exists already.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to write the repository into (created if missing).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// The files, by path in the new repository; `{version}` and `{repository}` (`owner/name` on
/// GitHub) are filled in with this flagstone's, so that the workflow and the editor schemas
/// are those of the release that wrote them.
const FILES: [(&str, &str); 6] = [
    ("flagstone.toml", include_str!("init/flagstone.toml")),
    (
        "flags/onboarding/welcome-tour.toml",
        include_str!("init/flags/onboarding/welcome-tour.toml"),
    ),
    (
        "segments/staff.toml",
        include_str!("init/segments/staff.toml"),
    ),
    (
        "tests/onboarding.toml",
        include_str!("init/tests/onboarding.toml"),
    ),
    (".taplo.toml", include_str!("init/taplo.toml")),
    (
        ".github/workflows/flagstone.yml",
        include_str!("init/github/workflows/flagstone.yml"),
    ),
];

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let existing: Vec<&str> = FILES
        .iter()
        .map(|(path, _)| *path)
        .filter(|path| args.dir.join(path).symlink_metadata().is_ok())
        .collect();
    if !existing.is_empty() {
        return Err(format!(
            "{} already has {}; init wrote nothing",
            args.dir.display(),
            existing.join(", ")
        )
        .into());
    }
    let repository = env!("CARGO_PKG_REPOSITORY").trim_start_matches("https://github.com/");
    for (path, template) in FILES {
        let path = args.dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let text = template
            .replace("{version}", env!("CARGO_PKG_VERSION"))
            .replace("{repository}", repository);
        write_atomic(&path, text.as_bytes())?;
        writeln!(out, "wrote {}", path.display())?;
    }
    writeln!(
        out,
        "\nNext steps:\n\
         1. In flagstone.toml, put your team's GitHub logins in [teams]; in the flag, set the\n   \
            date you mean to remove it by (`expires`).\n\
         2. Run `flagstone check` and `flagstone test` in {dir}: both pass as written.\n\
         3. Commit and push; .github/workflows/flagstone.yml runs the flagstone Action on pull\n   \
            requests. Make its `flagstone` check required on the default branch.",
        dir = args.dir.display()
    )?;
    Ok(Exit::Success)
}
