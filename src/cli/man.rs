//! `flagstone man [--out DIR]`: manual pages, generated from the command line's definition.

use std::io::Write;
use std::path::PathBuf;

use clap::CommandFactory;

use super::{Cli, Error, Exit, write_atomic};

/// Print the flagstone(1) manual page, or write it and one page per subcommand.
///
/// `flagstone man | man -l -` reads it; `flagstone man --out DIR` writes flagstone.1,
/// flagstone-check.1 and the others, to install into a `man1` directory.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to write every page to (created if missing).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    // Built, so that each subcommand knows its full name (`flagstone-check`).
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let Some(dir) = args.out else {
        page(command).render(out)?;
        return Ok(Exit::Success);
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write_pages(command, &dir, out)?;
    Ok(Exit::Success)
}

/// Writes the page of `command`, then those of its subcommands, each `flagstone-NAME.1`.
fn write_pages(
    command: clap::Command,
    dir: &std::path::Path,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let subcommands: Vec<clap::Command> = command
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .cloned()
        .collect();
    let page = page(command);
    let mut text = Vec::new();
    page.render(&mut text)?;
    let path = dir.join(page.get_filename());
    write_atomic(&path, &text)?;
    writeln!(out, "wrote {}", path.display())?;
    for subcommand in subcommands {
        write_pages(subcommand, dir, out)?;
    }
    Ok(())
}

/// The page of `command`, every page naming the version it documents (subcommands have none
/// of their own).
fn page(command: clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(command).source(concat!("flagstone ", env!("FLAGSTONE_VERSION")))
}
