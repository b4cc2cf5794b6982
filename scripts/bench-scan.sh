#!/usr/bin/env bash
# Benchmarks `plat scan` on generated Kubernetes manifests:
#   1. throughput per CPU-second: the engine alone (examples/bench_scan.rs, mixed corpus), and the
#      plat binary writing SARIF on a findings-heavy corpus (exactly 4 findings per object),
#   2. speed against Checkov on the same manifests in the same run,
#   3. peak RSS of the plat binary on 700,000 findings-heavy objects (2.8 million findings) in
#      every report format, output to /dev/null (backstage spills its inventory to a temporary
#      file and keeps a compact index of it).
# Each target line ends in PASS or FAIL: >= 60,000 objects per CPU-second (plat binary, SARIF,
# findings-heavy), >= 100x Checkov (CPU), <= 100 MiB peak RSS per format.
# Usage: scripts/bench-scan.sh   (builds plat and examples/bench_scan.rs in release)
# Env: CHECKOV (checkov binary; default: $CARGO_TARGET_DIR/venv-checkov/bin/checkov, created with
#      `python3 -m venv` + `pip install checkov` if missing), OBJECTS (default 100000),
#      HEAVY_OBJECTS (default 100000), CHECKOV_OBJECTS (default 2000), BIG_OBJECTS (default
#      700000), FORMATS (default "sarif github json yaml table backstage"), SKIP_BUILD=1 (measure the release binaries already built).
set -euo pipefail

crate=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$crate/target}
objects=${OBJECTS:-100000}
heavy_objects=${HEAVY_OBJECTS:-100000}
checkov_objects=${CHECKOV_OBJECTS:-2000}
big_objects=${BIG_OBJECTS:-700000}
formats=${FORMATS:-sarif github json yaml table backstage}
checkov=${CHECKOV:-$target/venv-checkov/bin/checkov}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  CARGO_TARGET_DIR=$target cargo build --quiet --release --bin plat --example bench_scan --manifest-path "$crate/Cargo.toml"
fi
bench=$target/release/examples/bench_scan
plat=$target/release/plat
pin=(); command -v taskset >/dev/null && pin=(taskset -c 0)
# plat needs a data dir of its own; scanning never writes to it.
export PLAT_DATA_DIR=$work/data PLAT_CONFIG_DIR=$work/config
per_cpu_second() { echo "$1 / ($2 + $3)" | bc; }
# verdict VALUE OP LIMIT: PASS when `VALUE OP LIMIT` holds (bc syntax).
verdict() { [[ $(echo "$1 $2 $3" | bc) == 1 ]] && echo PASS || echo FAIL; }
best_rate=0

echo "binary: $("$plat" --version 2>/dev/null || true), built $(date -u -r "$plat" +%FT%TZ)"
echo "== engine throughput: $objects objects (mixed corpus), one core"
"$bench" generate "$objects" "$work/corpus.yaml"
echo "input: $(du -h "$work/corpus.yaml" | cut -f1)"
for run in 1 2 3; do
  /usr/bin/time -f "%U %S" -o "$work/run.time" "${pin[@]}" "$bench" run "$work/corpus.yaml" >/dev/null
  read -r user sys < <(tail -1 "$work/run.time")
  echo "  cpu ${user}s user + ${sys}s sys = $(per_cpu_second "$objects" "$user" "$sys") objects per CPU-second"
done

echo "== plat binary, findings-heavy: $heavy_objects objects x 4 findings, --format sarif, one core"
"$bench" generate-heavy "$heavy_objects" "$work/heavy.yaml"
for run in 1 2 3; do
  /usr/bin/time -f "%U %S" -o "$work/run.time" "${pin[@]}" "$plat" scan "$work/heavy.yaml" --format sarif --fail-on never >/dev/null 2>"$work/plat.err"
  read -r user sys < <(tail -1 "$work/run.time")
  rate=$(per_cpu_second "$heavy_objects" "$user" "$sys")
  [[ $rate -gt $best_rate ]] && best_rate=$rate
  echo "  cpu ${user}s user + ${sys}s sys = $rate objects per CPU-second ($(tail -1 "$work/plat.err"))"
done
echo "target >= 60000 objects per CPU-second (best of 3): $best_rate $(verdict "$best_rate" ">=" 60000)"

echo "== against Checkov: $checkov_objects objects"
if [[ ! -x $checkov ]]; then
  python3 -m venv "$target/venv-checkov"
  "$target/venv-checkov/bin/pip" install --quiet checkov
fi
"$bench" generate "$checkov_objects" "$work/small.yaml"
# Both pinned to the same core; wall and CPU (user+sys) time include process start-up.
/usr/bin/time -f "%e %U %S" -o "$work/plat.time" "${pin[@]}" "$plat" scan "$work/small.yaml" --format sarif --fail-on never >/dev/null 2>&1
/usr/bin/time -f "%e %U %S" -o "$work/checkov.time" "${pin[@]}" "$checkov" --quiet --compact --skip-download \
  --framework kubernetes -o json -f "$work/small.yaml" >"$work/checkov.json" 2>"$work/checkov.err" || true
read -r plat_wall plat_user plat_sys < <(tail -1 "$work/plat.time")
read -r checkov_wall checkov_user checkov_sys < <(tail -1 "$work/checkov.time")
plat_seconds=$(echo "$plat_user + $plat_sys" | bc)
checkov_seconds=$(echo "$checkov_user + $checkov_sys" | bc)
[[ $(echo "$plat_seconds < 0.01" | bc) == 1 ]] && plat_seconds=0.01
[[ $(echo "$plat_wall < 0.01" | bc) == 1 ]] && plat_wall=0.01
checkov_results=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d=d[0] if isinstance(d,list) else d; print(d["summary"]["failed"]+d["summary"]["passed"])' "$work/checkov.json" 2>/dev/null || echo "?")
echo "plat: wall ${plat_wall}s, cpu ${plat_seconds}s; checkov: wall ${checkov_wall}s, cpu ${checkov_seconds}s ($checkov_results check results)"
speedup=$(echo "scale=1; $checkov_seconds / $plat_seconds" | bc)
echo "speed-up (cpu): ${speedup}x, (wall): $(echo "scale=1; $checkov_wall / $plat_wall" | bc)x"
echo "target >= 100x Checkov (cpu): ${speedup}x $(verdict "$speedup" ">=" 100)"

echo "== memory: $big_objects findings-heavy objects ($((big_objects * 4)) findings), plat binary, output to /dev/null"
"$bench" generate-heavy "$big_objects" "$work/big.yaml"
echo "input: $(du -h "$work/big.yaml" | cut -f1)"
for format in $formats; do
  /usr/bin/time -f "%M %e" -o "$work/mem.time" "${pin[@]}" "$plat" scan "$work/big.yaml" --format "$format" --fail-on never >/dev/null 2>"$work/plat.err" || true
  read -r rss seconds < <(tail -1 "$work/mem.time")
  echo "  --format $format: peak RSS $((rss / 1024)) MiB, ${seconds}s ($(grep Scanned "$work/plat.err" | tail -1)) $(verdict $((rss / 1024)) "<=" 100)"
done

