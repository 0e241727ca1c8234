//! The integration tests, in one binary to save link time.

mod support;
mod test_schema;
