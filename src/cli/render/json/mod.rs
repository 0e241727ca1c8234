//! JSON documents: each is the serde serialization of a type (see [`crate::cli::render`]). The
//! view types over library reports are here, one module per command.

mod analyze;
mod diagnostics;
mod eval;
mod evals;
mod exposures;
mod plan;

pub use analyze::{Analysis, AnalysisFrom, RawData, analyze, raw_data};
pub use diagnostics::diagnostics;
pub use eval::{Evaluated, eval};
pub use evals::{Comparison, evals};
pub use exposures::{Exposures, SessionView, exposures, sessions as exposure_sessions};
pub use plan::{Arm, Planned};
