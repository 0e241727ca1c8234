# The release targets: what .github/workflows/release.yml builds and action.yml downloads.
# Both source this file, so the two cannot drift apart (tests/test_action.rs checks it).
#
# One line per target: the Rust target, the GitHub runner that builds it, and the runners
# (RUNNER_OS, RUNNER_ARCH, C library: gnu, musl, or - for any) the Action gives it to.
FLAGSTONE_TARGETS='
x86_64-unknown-linux-gnu   ubuntu-24.04      Linux    X64    gnu
aarch64-unknown-linux-gnu  ubuntu-24.04-arm  Linux    ARM64  gnu
x86_64-unknown-linux-musl  ubuntu-24.04      Linux    X64    musl
aarch64-apple-darwin       macos-15          macOS    ARM64  -
x86_64-apple-darwin        macos-15-intel    macOS    X64    -
x86_64-pc-windows-msvc     windows-2025      Windows  X64    -
'

# flagstone_archive VERSION TARGET: the file name of the target's release archive.
flagstone_archive() {
  case "$2" in
    *-windows-*) echo "flagstone-$1-$2.zip" ;;
    *) echo "flagstone-$1-$2.tar.gz" ;;
  esac
}

# flagstone_binary TARGET: the executable's name inside the archive.
flagstone_binary() {
  case "$1" in
    *-windows-*) echo flagstone.exe ;;
    *) echo flagstone ;;
  esac
}

# flagstone_target OS ARCH LIBC: the target for such a runner; fails when none is released.
flagstone_target() {
  local target runner os arch libc
  while read -r target runner os arch libc; do
    if [[ -n "$target" && "$os" == "$1" && "$arch" == "$2" && ("$libc" == - || "$libc" == "$3") ]]; then
      echo "$target"
      return 0
    fi
  done <<<"$FLAGSTONE_TARGETS"
  return 1
}
