// The checker allocates many small values; mimalloc is markedly faster than the system
// allocator at that (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    flagstone::cli::main()
}
