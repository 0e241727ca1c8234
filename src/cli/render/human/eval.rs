//! `eval`: one line per flag (value, variant, reason), the rules with `--explain`, then the
//! bundle evaluated.

use std::io::{self, Write};

use crate::eval::watch::Pointer;
use crate::eval::{Evaluator, Explanation};

pub fn eval(
    out: &mut dyn Write,
    evaluator: &Evaluator,
    results: &[(&String, Explanation<'_>)],
    published: Option<&Pointer>,
    explain: bool,
) -> io::Result<()> {
    for (key, explanation) in results {
        let e = &explanation.evaluation;
        writeln!(
            out,
            "{key} = {}  (variant {}; {})",
            e.value, e.variant, e.reason
        )?;
        if explain {
            for rule in &explanation.trace {
                writeln!(out, "  {rule}")?;
            }
        }
    }
    write!(
        out,
        "({} bundle {}",
        evaluator.environment(),
        &evaluator.hash()[..12]
    )?;
    if let Some(pointer) = published {
        write!(out, ", published {}", pointer.published_at)?;
        if let Some(commit) = &pointer.commit {
            let dirty = if pointer.dirty { " with changes" } else { "" };
            let short = commit.get(..12).unwrap_or(commit);
            write!(out, " from commit {short}{dirty}")?;
        }
    }
    writeln!(out, ")")
}
