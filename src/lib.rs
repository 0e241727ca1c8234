//! flagstone: feature flags and experiments as code.
//!
//! Data flows one way: [`load`] reads and parses a repository into the typed [`model`],
//! validated against its [`schema`]; [`check`] finds semantic problems and hands out a
//! [`check::Checked`] only when there are none; [`build`] resolves a checked repository into
//! one [`bundle`] per environment; [`eval`] loads a bundle and evaluates flags. Diff, review,
//! edits and publishing work on top of that pipeline; experiment analysis and eval
//! comparison beside them. Every stage reports [`diag::Diagnostic`]s or a typed error instead
//! of stopping at the first problem or printing: the library never prints; the `flagstone`
//! binary renders.
//!
//! # Layers
//!
//! The source folders are the layers. A module may use the modules of its own layer and of
//! the layers listed before it in this table, never after; no two modules use each other
//! (tests/test_layout.rs holds these rules, reading the source; docs/architecture.md draws
//! them).
//!
//! | layer (folder) | modules | feature |
//! |---|---|---|
//! | `foundation` | literal, op, fast_hash; diag, model, metric, stats, format, fs, git, s3 | `eval`; `compiler` |
//! | `runtime` | bundle (the format); eval (the evaluator and its watcher); exposure (what units were served); ofrep (OpenFeature's remote evaluation protocol); server (OFREP over HTTP); openfeature (the OpenFeature provider) | `eval`; `serve`; `openfeature` |
//! | `compiler` | schema, characters, load, experiment, check, build, output | `compiler` |
//! | `operations` | diff, compare, review, edit, publish, stale, refs, codeowners, provenance, suite, export | `compiler` |
//! | `experiments` | csv_input, analyze, evals, exposures, summary | `compiler` |
//! | `cli` | one file per command, rendering | `cli` |
//!
//! `operations` and `experiments` sit beside each other: neither uses the other. `stats` is
//! foundation, not experiments, because `check` warns when an experiment cannot reach its
//! planned power, and that one warning needs the power calculation; the statistics depend on
//! nothing. The modules are re-exported here, flat: embedding code names `flagstone::eval`,
//! not the layer it lives in.
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod foundation {
    #[cfg(feature = "compiler")]
    pub mod diag;
    pub(crate) mod fast_hash;
    #[cfg(feature = "compiler")]
    pub mod format;
    #[cfg(feature = "compiler")]
    pub mod fs;
    #[cfg(feature = "compiler")]
    pub mod git;
    pub mod literal;
    #[cfg(feature = "compiler")]
    pub mod metric;
    #[cfg(feature = "compiler")]
    pub mod model;
    pub mod op;
    #[cfg(feature = "compiler")]
    pub mod s3;
    #[cfg(feature = "compiler")]
    pub mod stats;
}

#[cfg(feature = "eval")]
mod runtime {
    pub mod bundle;
    pub mod eval;
    pub mod exposure;
    pub mod ofrep;
    #[cfg(feature = "openfeature")]
    pub mod openfeature;
    #[cfg(feature = "serve")]
    pub mod server;
}

#[cfg(feature = "compiler")]
mod compiler {
    pub mod build;
    pub mod characters;
    pub mod check;
    pub mod experiment;
    pub mod load;
    pub mod output;
    pub mod schema;
}

#[cfg(feature = "compiler")]
mod operations {
    pub mod codeowners;
    pub mod compare;
    pub mod diff;
    pub mod edit;
    pub mod export;
    pub mod provenance;
    pub mod publish;
    pub mod refs;
    pub mod review;
    pub mod stale;
    pub mod suite;
}

#[cfg(feature = "compiler")]
mod experiments {
    pub mod analyze;
    pub(crate) mod csv_input;
    pub mod evals;
    pub mod exposures;
    pub mod summary;
}

#[cfg(feature = "cli")]
pub mod cli;

use foundation::fast_hash;
#[cfg(feature = "compiler")]
pub use foundation::{diag, format, fs, git, metric, model, s3, stats};
pub use foundation::{literal, op};

#[cfg(feature = "openfeature")]
pub use runtime::openfeature;
#[cfg(feature = "serve")]
pub use runtime::server;
#[cfg(feature = "eval")]
pub use runtime::{bundle, eval, exposure, ofrep};

#[cfg(feature = "compiler")]
use compiler::characters;
#[cfg(feature = "compiler")]
pub use compiler::{build, check, experiment, load, output, schema};

#[cfg(feature = "compiler")]
pub use operations::{
    codeowners, compare, diff, edit, export, provenance, publish, refs, review, stale, suite,
};

#[cfg(feature = "compiler")]
use experiments::csv_input;
#[cfg(feature = "compiler")]
pub use experiments::{analyze, evals, exposures, summary};
