#!/usr/bin/env bash
# Benchmarks the scan engine (src/scan) on generated Kubernetes manifests:
#   1. throughput on one core (full rule set, 100k objects),
#   2. speed against Checkov on the same manifests in the same run,
#   3. peak RSS on a ~500 MB input (streamed, counting sink).
# Usage: scripts/bench-scan.sh   (builds examples/bench_scan.rs in release)
# Env: CHECKOV (checkov binary; default: target/venv-checkov/bin/checkov, created with
#      `python3 -m venv` + `pip install checkov` if missing),
#      OBJECTS (default 100000), CHECKOV_OBJECTS (default 2000), BIG_OBJECTS (default 660000).
set -euo pipefail

crate=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$crate/target}
objects=${OBJECTS:-100000}
checkov_objects=${CHECKOV_OBJECTS:-2000}
big_objects=${BIG_OBJECTS:-700000}
checkov=${CHECKOV:-$target/venv-checkov/bin/checkov}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

CARGO_TARGET_DIR=$target cargo build --quiet --release --example bench_scan --manifest-path "$crate/Cargo.toml"
bench=$target/release/examples/bench_scan
pin=(); command -v taskset >/dev/null && pin=(taskset -c 0)

echo "== throughput: $objects objects, one core"
"$bench" generate "$objects" "$work/corpus.yaml"
echo "input: $(du -h "$work/corpus.yaml" | cut -f1)"
# objects/s of wall time is what a user sees; objects per CPU-second is robust on a busy machine.
for run in 1 2 3; do
  /usr/bin/time -f "%U %S" -o "$work/run.time" "${pin[@]}" "$bench" run "$work/corpus.yaml"
  read -r user sys < <(tail -1 "$work/run.time")
  echo "  cpu ${user}s user + ${sys}s sys = $(echo "$objects / ($user + $sys)" | bc) objects per CPU-second"
done

echo "== against Checkov: $checkov_objects objects"
if [[ ! -x $checkov ]]; then
  python3 -m venv "$target/venv-checkov"
  "$target/venv-checkov/bin/pip" install --quiet checkov
fi
"$bench" generate "$checkov_objects" "$work/small.yaml"
# Both pinned to the same core; wall and CPU (user+sys) time include process start-up.
/usr/bin/time -f "%e %U %S" -o "$work/plat.time" "${pin[@]}" "$bench" run "$work/small.yaml"
/usr/bin/time -f "%e %U %S" -o "$work/checkov.time" "${pin[@]}" "$checkov" --quiet --compact --skip-download \
  --framework kubernetes -o json -f "$work/small.yaml" >"$work/checkov.json" 2>"$work/checkov.err" || true
read -r plat_wall plat_user plat_sys < <(tail -1 "$work/plat.time")
read -r checkov_wall checkov_user checkov_sys < <(tail -1 "$work/checkov.time")
plat_seconds=$(echo "$plat_user + $plat_sys" | bc)
checkov_seconds=$(echo "$checkov_user + $checkov_sys" | bc)
[[ $(echo "$plat_seconds < 0.01" | bc) == 1 ]] && plat_seconds=0.01
checkov_results=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d=d[0] if isinstance(d,list) else d; print(d["summary"]["failed"]+d["summary"]["passed"])' "$work/checkov.json" 2>/dev/null || echo "?")
echo "plat: wall ${plat_wall}s, cpu ${plat_seconds}s; checkov: wall ${checkov_wall}s, cpu ${checkov_seconds}s ($checkov_results check results)"
echo "speed-up (cpu): $(echo "scale=1; $checkov_seconds / $plat_seconds" | bc)x, (wall): $(echo "scale=1; $checkov_wall / $plat_wall" | bc)x"

echo "== memory: $big_objects objects (streamed)"
"$bench" generate "$big_objects" "$work/big.yaml"
echo "input: $(du -h "$work/big.yaml" | cut -f1)"
/usr/bin/time -f "peak RSS %M KiB, %e s" "${pin[@]}" "$bench" run "$work/big.yaml"
