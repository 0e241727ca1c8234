//! Git, read and written through one interface.
