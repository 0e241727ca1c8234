//! flagstone: feature flags and experiments as code.
//!
//! Data flows one way: [`load`] reads and parses a repository into the typed [`model`],
//! validated against its [`schema`]; [`check`] finds semantic problems. Every stage reports
//! [`diag::Diagnostic`]s instead of stopping at the first problem. The library never prints;
//! the `flagstone` binary renders.
#![warn(clippy::print_stdout, clippy::print_stderr)]

#[cfg(feature = "compiler")]
pub mod analyze;
#[cfg(feature = "eval")]
pub mod bundle;
#[cfg(feature = "compiler")]
pub mod check;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "compiler")]
pub mod codeowners;
#[cfg(feature = "compiler")]
mod csv_input;
#[cfg(feature = "compiler")]
pub mod diag;
#[cfg(feature = "compiler")]
pub mod diff;
#[cfg(feature = "compiler")]
pub mod edit;
#[cfg(feature = "eval")]
pub mod eval;
#[cfg(feature = "compiler")]
pub mod evals;
#[cfg(feature = "compiler")]
pub mod experiment;
pub mod literal;
#[cfg(feature = "compiler")]
pub mod load;
#[cfg(feature = "compiler")]
pub mod model;
pub mod op;
#[cfg(feature = "compiler")]
pub mod provenance;
#[cfg(feature = "compiler")]
pub mod publish;
#[cfg(feature = "compiler")]
pub mod refs;
#[cfg(feature = "compiler")]
pub mod review;
#[cfg(feature = "compiler")]
pub mod schema;
#[cfg(feature = "compiler")]
pub mod stale;
#[cfg(feature = "compiler")]
pub mod stats;
#[cfg(feature = "compiler")]
pub mod suite;
