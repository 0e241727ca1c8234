//! The integration tests, in one binary to save link time.

mod support;
mod test_action;
mod test_analyze;
mod test_bad_input;
mod test_bucketing;
mod test_build_eval;
mod test_checks;
mod test_cli;
mod test_codeowners;
mod test_diff;
mod test_docs;
mod test_edit;
mod test_evals;
mod test_experiments;
mod test_fixtures;
mod test_git;
mod test_mutations;
mod test_properties;
mod test_provenance;
mod test_publish;
mod test_readme;
mod test_refs;
mod test_review;
mod test_schema;
mod test_stale;
mod test_stats;
