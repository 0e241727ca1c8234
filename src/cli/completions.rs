//! `flagstone completions SHELL`: the shell completion script, generated from the same
//! definition that parses the command line, so it cannot fall behind it.

use std::io::Write;

use clap::CommandFactory;

use super::{Cli, Error, Exit};

/// Print the completion script for a shell.
///
/// bash: `flagstone completions bash > ~/.local/share/bash-completion/completions/flagstone`;
/// zsh: into a directory on `$fpath` as `_flagstone`; fish:
/// `~/.config/fish/completions/flagstone.fish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    shell: clap_complete::Shell,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    // Rendered first: clap_complete panics when the writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "flagstone", &mut script);
    out.write_all(&script)?;
    Ok(Exit::Success)
}
