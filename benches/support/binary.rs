/// The binary measured: this build's (the bench profile's, optimised), or `FLAGSTONE_BIN`.
pub fn binary() -> std::path::PathBuf {
    std::env::var_os("FLAGSTONE_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_flagstone").into(), Into::into)
}
