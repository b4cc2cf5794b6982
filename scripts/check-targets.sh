#!/usr/bin/env bash
# Checks that plat compiles for the release targets this machine can check: x86_64 Windows,
# through the GNU toolchain (Rust's std for it, and MinGW for the C that build scripts compile).
# The MSVC build itself, and macOS (which needs Apple's SDK), are built by
# .github/workflows/release.yml on GitHub's runners; the Linux musl builds by scripts/bench-startup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-pc-windows-gnu
command -v x86_64-w64-mingw32-gcc >/dev/null || {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64
}
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
cargo check --locked --quiet --target "$target" --bin plat
echo "check-targets: plat compiles for $target" >&2
