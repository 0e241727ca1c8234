//! `flagstone schema [--out DIR]`: write the JSON Schemas of the repository files, so editors
//! can complete and check them (see docs/editors.md).

use std::io::Write;
use std::path::PathBuf;

use crate::schema::{
    BUNDLE_SCHEMA_FILE, EXPOSURE_SCHEMA_FILE, FileKind, generate, generate_bundle,
    generate_exposure,
};

use super::{Error, Exit, write_atomic};

/// Write the JSON Schemas of flagstone.toml, flags, segments, experiments, tests and bundles.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to write them to (created if missing).
    #[arg(long, default_value = "schema")]
    out: PathBuf,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let schemas = FileKind::ALL
        .into_iter()
        .map(|kind| (kind.schema_file(), generate(kind)))
        .chain([
            (BUNDLE_SCHEMA_FILE, generate_bundle()),
            (EXPOSURE_SCHEMA_FILE, generate_exposure()),
        ]);
    for (file, schema) in schemas {
        let mut text = serde_json::to_string_pretty(&schema)?;
        text.push('\n');
        let path = args.out.join(file);
        write_atomic(&path, text.as_bytes())?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(Exit::Success)
}
