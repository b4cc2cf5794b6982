#!/usr/bin/env bash
# Start-up of a release build against kubectl on the same machine, side by side:
#   plat --version   median  [<= 0.1 x `kubectl version --client`]
#   peak RSS         [<= 12 MB]
# Measures the static musl build that release.yml ships for Linux (`--features static`), or the
# binary in PLAT_BIN (e.g. a glibc build, to compare). Needs hyperfine and kubectl (Debian
# packages; scripts/install-deps.sh --test installs kubectl) and the x86_64-unknown-linux-musl
# target with musl-tools.
#
# BENCH_PROFILE=release builds with the project's release profile (fat LTO, about 10 minutes on
# 2 cores). The default, `thin`, overrides it to thin LTO, which builds far faster and starts up
# within noise of fat LTO (start-up is dominated by loading and relocating, not code quality).
#
# The binary is measured as installed: copied first (as `install`, `tar -x` or the setup action
# do). A binary the linker has just written sits in the page cache in large folios, and a page
# fault then maps a whole folio: the same fat-LTO musl build peaked at 19.7 MB run from the
# target dir, and at 6.3 MB once copied (6.1 MB after `drop_caches`).
#
# Measured 2026-12-06 (machine idle but for this), BENCH_PROFILE=release (fat LTO) static-pie musl
# build, 44 MB: plat --version 1.40 ms median against 33.7 ms for kubectl v1.32.4 (ratio 0.042);
# peak RSS 6.3 MB [<= 12 MB].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
command -v kubectl >/dev/null || { echo "bench-startup: kubectl is missing (scripts/install-deps.sh --test)" >&2; exit 1; }
TARGET=x86_64-unknown-linux-musl
if [ -z "${PLAT_BIN:-}" ]; then
  command -v musl-gcc >/dev/null || { apt-get update -qq && apt-get install -y -qq musl-tools; }
  rustup target add "$TARGET" >/dev/null
  if [ "${BENCH_PROFILE:-thin}" = thin ]; then
    export CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
  fi
  # musl-gcc, not the host's glibc gcc, for the C of OpenSSL, libgit2 and libdbus.
  (cd "$ROOT" && CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --release --locked --quiet --target "$TARGET" --features static)
  PLAT_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$TARGET/release/plat"
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
install -m 755 "$PLAT_BIN" "$WORK/plat"
PLAT_BIN="$WORK/plat"
export PLAT_DATA_DIR="$WORK/data" PLAT_CONFIG_DIR="$WORK/config" NO_COLOR=1 KUBECONFIG="$WORK/kubeconfig"

echo "== $PLAT_BIN: $(file -b "$PLAT_BIN" | cut -d, -f1-2), $(du -h "$PLAT_BIN" | cut -f1)"
hyperfine --style basic -N --warmup 20 --runs 300 --export-json "$WORK/startup.json" \
  "$PLAT_BIN --version" "kubectl version --client" >/dev/null
python3 - "$WORK/startup.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
plat, kubectl = (r["median"] * 1000 for r in results)
print(f"median plat --version             {plat:6.2f} ms")
print(f"median kubectl version --client   {kubectl:6.2f} ms")
print(f"ratio                             {plat / kubectl:6.3f}  [<= 0.1]")
PY
rss_kb="$(/usr/bin/time -f %M "$PLAT_BIN" --version 2>&1 >/dev/null | tail -n1)"
echo "peak RSS plat --version           $((rss_kb / 1024)) MB ($rss_kb kB)  [<= 12 MB]"
