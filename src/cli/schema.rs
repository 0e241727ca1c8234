//! `flagstone schema [--out DIR]`: write the JSON Schemas of the repository files, so editors
//! can complete and check them (see docs/editors.md).

use std::io::Write;
use std::path::PathBuf;

use crate::schema::{FileKind, generate};

use super::{Error, Outcome, write_atomic};

/// Write the JSON Schemas of flagstone.toml, flags, segments and tests.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to write them to (created if missing).
    #[arg(long, default_value = "schema")]
    out: PathBuf,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Outcome, Error> {
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    for kind in FileKind::ALL {
        let mut text = serde_json::to_string_pretty(&generate(kind))?;
        text.push('\n');
        let path = args.out.join(kind.schema_file());
        write_atomic(&path, text.as_bytes())?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(Outcome::Success)
}
