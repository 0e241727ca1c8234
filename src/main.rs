fn main() -> std::process::ExitCode {
    flagstone::cli::main()
}
