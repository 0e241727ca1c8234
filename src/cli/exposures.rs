//! `flagstone exposures FILE... [--publish-dir DIR]`: who was exposed to which variant, the
//! units that saw more than one, the live sample ratio check of each split, and the exposures
//! of bundles no longer live (docs/exposures-report.md). `--sessions FLAG --variant V` lists
//! one variant's session ids instead, to filter session replays.
//!
//! Exit status: 0 when the files were read (whatever they hold), 2 when one cannot be read.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use crate::eval::Evaluator;
use crate::eval::watch::{Pointer, bundle_path, valid_environment};
use crate::exposures::{BundleShape, Reader, SessionQuery, SessionReader};

use super::render::{human, json, markdown};
use super::{Error, Exit, Format, formats, hinted};

/// Summarise exposure files: units and sessions per flag, environment and variant, units
/// that saw more than one variant, and the sample ratio of each split.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Exposure files (JSON Lines, one event a line).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The directory `flagstone publish` writes: the bundles the exposures name are read from
    /// DIR/bundles (for the splits and variants), the live ones from DIR/current.
    #[arg(long, value_name = "DIR")]
    publish_dir: Option<PathBuf>,
    /// List the session ids of one variant of this flag instead of the summary.
    #[arg(long, value_name = "FLAG", requires = "variant")]
    sessions: Option<String>,
    /// With --sessions: the variant.
    #[arg(long, value_name = "VARIANT", requires = "sessions")]
    variant: Option<String>,
    /// With --sessions: the environment (needed when the flag was exposed in several).
    #[arg(long, value_name = "ENV", requires = "sessions")]
    env: Option<String>,
    /// With --sessions: CSV with the columns session, unit, first_seen.
    #[arg(long, requires = "sessions", conflicts_with = "format")]
    csv: bool,
    /// Output format. With --sessions: human is one session id a line.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Markdown]))]
    format: Format,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    if let (Some(flag), Some(variant)) = (&args.sessions, &args.variant) {
        return sessions(&args, flag, variant, out);
    }
    let mut reader = Reader::new();
    for file in &args.files {
        reader.read(&file.display().to_string(), open(file)?)?;
    }
    let mut shapes = BTreeMap::new();
    let mut live = None;
    if let Some(dir) = &args.publish_dir {
        for hash in reader.bundle_hashes() {
            match load_shape(dir, hash) {
                Ok(Some(shape)) => {
                    shapes.insert(hash.to_owned(), shape);
                }
                // Pruned, or never published here: the summary says it was not found.
                Ok(None) => {}
                Err(e) => eprintln!("warning: {e}"),
            }
        }
        live = Some(live_hashes(dir)?);
    }
    let report = reader.finish(&shapes, live.as_ref());
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &json::exposures(&report))?;
            writeln!(out)?;
        }
        Format::Markdown => markdown::exposures(out, &report)?,
        Format::Human | Format::Github => human::exposures(out, &report)?,
    }
    Ok(Exit::Success)
}

fn open(file: &Path) -> Result<BufReader<std::fs::File>, Error> {
    let f =
        std::fs::File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    Ok(BufReader::with_capacity(1 << 20, f))
}

/// The shape of bundle `hash` from DIR/bundles, verified by its hash; `None` when it is not
/// there.
fn load_shape(dir: &Path, hash: &str) -> Result<Option<BundleShape>, Error> {
    let path = bundle_path(dir, hash);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display()).into()),
    };
    Evaluator::load(&bytes, hash).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(BundleShape::parse(hash, &bytes)?))
}

/// The hashes the pointers in DIR/current name.
fn live_hashes(dir: &Path) -> Result<BTreeSet<String>, Error> {
    let current = dir.join("current");
    let entries = std::fs::read_dir(&current).map_err(|e| {
        hinted(
            format!("cannot read {}: {e}", current.display()),
            "--publish-dir takes the directory `flagstone publish --publish-dir` writes",
        )
    })?;
    let mut live = BTreeSet::new();
    for entry in entries {
        let name = entry
            .map_err(|e| format!("cannot read {}: {e}", current.display()))?
            .file_name();
        let Some(environment) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if valid_environment(environment) {
            live.insert(Pointer::read(dir, environment)?.hash);
        }
    }
    Ok(live)
}

fn sessions(args: &Args, flag: &str, variant: &str, out: &mut dyn Write) -> Result<Exit, Error> {
    let query = SessionQuery {
        flag,
        variant,
        environment: args.env.as_deref(),
    };
    let mut reader = SessionReader::default();
    for file in &args.files {
        reader.read(&file.display().to_string(), &query, open(file)?)?;
    }
    let sessions = reader
        .finish()
        .map_err(|e| hinted(e, "name one with --env"))?;
    if args.csv {
        writeln!(out, "session,unit,first_seen")?;
        for s in &sessions {
            writeln!(
                out,
                "{},{},{}",
                csv_field(&s.session),
                csv_field(&s.unit),
                s.first_seen
            )?;
        }
        return Ok(Exit::Success);
    }
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &json::exposure_sessions(&sessions))?;
            writeln!(out)?;
        }
        Format::Human | Format::Github | Format::Markdown => {
            human::exposure_sessions(out, &sessions)?
        }
    }
    Ok(Exit::Success)
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}
