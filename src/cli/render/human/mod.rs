//! Text for a terminal, one module per command. The findings of a check are [`diagnostics`].

pub(super) mod analyze;
mod diagnostics;
pub(super) mod diff;
mod eval;
pub(super) mod evals;
pub(super) mod exposures;
mod plan;
pub(super) mod refs;
pub(super) mod review;
pub(super) mod stale;

pub use analyze::{analyze, raw_data};
pub use diagnostics::diagnostics;
pub use diff::diff;
pub use eval::eval;
pub use evals::{EvalsWords, evals};
pub use exposures::{exposures, sessions as exposure_sessions};
pub use plan::plan;
pub use refs::refs;
pub use review::review;
pub use stale::stale;
