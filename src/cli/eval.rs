//! `flagstone eval FLAG --env ENV --context JSON`: what a unit gets, and why — from the
//! repository (compiled in memory) or from a built bundle.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::eval::Evaluator;

use super::render::{human, json};
use super::{Error, Exit, Format, RepoArgs, checked, formats};

/// Evaluate flags for a context, from the repository or a bundle.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The flag's key; omit it with --all.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    flag: Option<String>,
    /// Evaluate every flag.
    #[arg(long)]
    all: bool,
    /// The environment. Required unless --bundle is given.
    #[arg(long, required_unless_present = "bundle")]
    env: Option<String>,
    /// The context: a JSON object, or @FILE to read one.
    #[arg(long, default_value = "{}")]
    context: String,
    /// Also show every rule considered and why it did or did not match.
    #[arg(long)]
    explain: bool,
    /// Evaluate a built bundle instead of the repository. Its content hash is checked: it is
    /// the file name (as `build` writes it), or given with --hash.
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// The bundle's expected content hash.
    #[arg(long, requires = "bundle")]
    hash: Option<String>,
    /// Evaluate the bundle a directory written by `flagstone publish` serves for --env.
    #[arg(long, value_name = "DIR", conflicts_with = "bundle")]
    publish_dir: Option<PathBuf>,
    /// With --publish-dir: the bundle that was live at this time (from publish.log), evaluated
    /// at this time unless --now says otherwise. An RFC 3339 date-time or a date.
    #[arg(long, value_name = "TIME", requires = "publish_dir", value_parser = super::parse_now)]
    at: Option<i64>,
    /// The repository is compiled in memory unless --bundle or --publish-dir is given.
    #[command(flatten)]
    repo: RepoArgs,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json]))]
    format: Format,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let context = read_context(&args.context)?;
    let now = super::now_or_clock(args.repo.now.now.or(args.at))?;
    let options = crate::check::Options { now_millis: now };
    let mut published = None;
    let evaluator = match (&args.bundle, &args.publish_dir) {
        (Some(path), _) => {
            let evaluator = load_bundle(path, args.hash.as_deref())?;
            if let Some(env) = &args.env
                && env != evaluator.environment()
            {
                return Err(format!(
                    "{} is the bundle of `{}`, not `{env}`",
                    path.display(),
                    evaluator.environment()
                )
                .into());
            }
            evaluator
        }
        (None, Some(dir)) => {
            let env = args.env.as_deref().ok_or("--publish-dir needs --env")?;
            let (evaluator, pointer) =
                crate::publish::load_published(dir, env, args.at).map_err(super::publish::error)?;
            published = Some(pointer);
            evaluator
        }
        (None, None) => {
            let env = args
                .env
                .as_deref()
                .ok_or("--env is required unless --bundle is given")?;
            let repo = crate::load::load(args.repo.dir())?;
            let report = crate::check::check(&repo, &options);
            // Findings keep the requested format, so JSON consumers get JSON either way.
            let Some(checked) = checked(&report, args.repo.dir(), args.format, out)? else {
                return Ok(Exit::Failure);
            };
            let bundle = crate::build::all(checked)
                .into_iter()
                .find(|b| b.environment == env)
                .ok_or_else(|| {
                    let known: Vec<String> = repo
                        .project
                        .iter()
                        .flat_map(|p| p.doc.iter())
                        .flat_map(|p| p.environments.iter().map(|e| e.as_str().to_owned()))
                        .collect();
                    format!("unknown environment `{env}` (known: {})", known.join(", "))
                })?;
            Evaluator::from_bundle(bundle)?
        }
    };
    let keys: Vec<String> = match &args.flag {
        Some(flag) => vec![flag.clone()],
        None => evaluator.flag_keys().map(str::to_owned).collect(),
    };
    let mut results = Vec::with_capacity(keys.len());
    for key in &keys {
        let explanation = evaluator.explain(key, &context, now).map_err(|e| {
            let known: Vec<&str> = evaluator.flag_keys().collect();
            match crate::diag::did_you_mean(key, known.iter().copied()) {
                Some(best) => format!("{e}; did you mean `{best}`?"),
                None => e.to_string(),
            }
        })?;
        results.push((key, explanation));
    }
    let published = published.as_ref();
    match args.format {
        Format::Json => json::eval(out, &evaluator, &results, published, args.explain, args.all)?,
        Format::Human | Format::Markdown | Format::Github => {
            human::eval(out, &evaluator, &results, published, args.explain)?
        }
    }
    Ok(Exit::Success)
}

fn read_context(argument: &str) -> Result<Value, Error> {
    let (text, source) = match argument.strip_prefix('@') {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?,
            path.to_owned(),
        ),
        None => (argument.to_owned(), "--context".to_owned()),
    };
    let context: Value =
        serde_json::from_str(&text).map_err(|e| format!("{source} is not valid JSON: {e}"))?;
    if !context.is_object() {
        return Err(format!(
            "{source} must be a JSON object, like {{\"targeting_key\": \"user-1\"}}"
        )
        .into());
    }
    Ok(context)
}

/// Loads a bundle file, checking it against the expected hash: given, or the file's name.
fn load_bundle(path: &Path, hash: Option<&str>) -> Result<Evaluator, Error> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    let expected = match (hash, stem) {
        (Some(hash), _) => hash.to_owned(),
        (None, Some(stem)) if stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()) => {
            stem
        }
        _ => {
            return Err(format!(
                "cannot verify {}: its name is not its content hash; pass --hash",
                path.display()
            )
            .into());
        }
    };
    Ok(Evaluator::load(&bytes, &expected)?)
}
