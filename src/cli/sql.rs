//! `flagstone sql EXPERIMENT --dialect D`: the warehouse query that returns the experiment's
//! per-variant summary from the `[warehouse]` tables (docs/raw-data.md), on standard output.

use std::io::Write;

use super::{DirArg, Error, Exit, Format, experiment_repository, hinted};
use crate::summary::Plan;
use crate::summary::sql::{Dialect, SqlError, Tables, query};

/// Write the SQL query that computes an experiment's summary in a warehouse, from its
/// exposures and events tables: save its result as CSV for `flagstone analyze --summary`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment's key (its path below experiments/ without .toml).
    experiment: String,
    #[command(flatten)]
    dir: DirArg,
    /// The warehouse's SQL dialect.
    #[arg(long, value_name = "D", value_parser = dialects())]
    dialect: String,
    /// The environment whose exposures assign units. Default: the one the experiment lists
    /// that comes last in the project's promotion order.
    #[arg(long)]
    env: Option<String>,
}

fn dialects() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(Dialect::ALL.map(Dialect::as_str))
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let dialect: Dialect = args.dialect.parse()?;
    // Findings go to standard error: standard output is the query alone.
    let Some(repo) = experiment_repository(&args.dir, Format::Human, &mut std::io::stderr())?
    else {
        return Ok(Exit::Failure);
    };
    let design = crate::experiment::design(&repo, &args.experiment, args.env.as_deref())?;
    let plan = Plan::new(&repo, &design)?;
    let tables = Tables::of(&repo).map_err(|e| match e {
        SqlError::NoWarehouse => hinted(
            e,
            "add to flagstone.toml: [warehouse] with exposures = \"SCHEMA.TABLE\" and events = \"SCHEMA.TABLE\" (docs/raw-data.md#in-the-warehouse)",
        ),
        e => e.into(),
    })?;
    out.write_all(query(&plan, &tables, dialect).as_bytes())?;
    Ok(Exit::Success)
}
