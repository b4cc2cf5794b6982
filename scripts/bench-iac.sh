#!/usr/bin/env bash
# Compares plat's IaC runner with bare Terraform on the demo template, same binary, same machine:
#   (a) runner: template copy + vars + backend override + init + apply -json + outputs + destroy -json
#   (b) bare:   template copy + vars + `init && apply -auto-approve && destroy -auto-approve`
# Target: (a) <= BENCH_MAX_RATIO (default 1.15) x (b); exits 3 when the target is missed.
#
#   RUNNER=/path/to/iac_demo scripts/bench-iac.sh        # RUNNER takes `cycle <dir> -q --state F`
#   RUNNER="plat env" ...                                  # once the lead wires `plat env up/down`
#
# Uses hyperfine when installed (Debian: apt-get install hyperfine), else a plain loop.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNNER="${RUNNER:-/work/scratch/iac/target/release/examples/iac_demo}"
RUNS="${RUNS:-15}"
MAX_RATIO="${BENCH_MAX_RATIO:-1.15}"
TEMPLATE="$ROOT/templates/env/demo"

[[ -x "${RUNNER%% *}" ]] || { echo "bench-iac: RUNNER=$RUNNER is not executable" >&2; exit 1; }
BIN="$("$ROOT/scripts/install-terraform.sh" | tail -n1)"
export PLAT_IAC_BIN="$BIN" PLAT_TEMPLATES="$ROOT/templates/env"
# Same environment for both sides: the runner sets these itself.
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
if [[ -n "${TF_CLI_CONFIG_FILE:-}" && ! -f "$TF_CLI_CONFIG_FILE" ]]; then
  unset TF_CLI_CONFIG_FILE # the runner drops it too (Terraform only warns about it)
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
VARS='{"plat_env":"bench","plat_owner":"bench@example.com","plat_account":"acme","plat_tenant":"tenant-1","plat_expires_at":"2030-01-01T00:00:00Z"}'

runner_cmd="$RUNNER cycle $WORK/runner -q --state $WORK/runner.tfstate"
bare_cmd="cp -r $TEMPLATE $WORK/bare && printf '%s' '$VARS' > $WORK/bare/plat.auto.tfvars.json && cd $WORK/bare && $BIN init -input=false >/dev/null && $BIN apply -auto-approve -input=false >/dev/null && $BIN destroy -auto-approve -input=false >/dev/null"
reset_cmd="rm -rf $WORK/runner $WORK/runner.tfstate* $WORK/bare"

echo "binary: $BIN ($("$BIN" version | head -n1))" >&2
if command -v hyperfine >/dev/null 2>&1; then
  hyperfine --style basic --warmup 2 --runs "$RUNS" --prepare "$reset_cmd" \
    --export-json "$WORK/bench.json" -n runner "$runner_cmd" -n bare "$bare_cmd" >&2
  read -r runner_mean bare_mean < <(python3 -c '
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
print(r["runner"], r["bare"])' "$WORK/bench.json")
else
  time_it() {
    local total=0 start end
    for _ in $(seq "$RUNS"); do
      bash -c "$reset_cmd"
      start=$(date +%s%N); bash -c "$1"; end=$(date +%s%N)
      total=$((total + end - start))
    done
    python3 -c "print($total / $RUNS / 1e9)"
  }
  runner_mean=$(time_it "$runner_cmd")
  bare_mean=$(time_it "$bare_cmd")
fi

python3 - "$runner_mean" "$bare_mean" "$MAX_RATIO" <<'EOF'
import sys
runner, bare, limit = map(float, sys.argv[1:])
ratio = runner / bare
print(f"runner {runner*1000:.0f} ms, bare {bare*1000:.0f} ms, ratio {ratio:.3f} (target <= {limit})")
sys.exit(0 if ratio <= limit else 3)
EOF
