//! The query that computes the summary in a warehouse.
