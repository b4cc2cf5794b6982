#!/usr/bin/env bash
# The main job on the embedded default: build plat, make sure Terraform/OpenTofu is there, create
# an account tree, then provision the demo environment and show it with its resources, outputs
# and expiry. Re-runnable: it reuses what an earlier run made.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --locked --quiet
# The binary wherever cargo puts it (CARGO_TARGET_DIR, a workspace's target dir).
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
plat="$target_dir/release/plat"
# The demo keeps its platform apart from yours, and says at the end how to reach it.
demo_home="${XDG_DATA_HOME:-$HOME/.local/share}/plat-demo"
export PLAT_DATA_DIR="${PLAT_DATA_DIR:-$demo_home/data}" PLAT_CONFIG_DIR="${PLAT_CONFIG_DIR:-$demo_home/config}"
PLAT_IAC_BIN="$(scripts/install-terraform.sh | tail -n 1)"
export PLAT_IAC_BIN

$plat account show acme >/dev/null 2>&1 ||
  $plat account create acme --owner alice@acme.test --tenant default \
    --role account-admin --role user-admin --role tenant-admin >/dev/null
PLAT_USER=alice@acme.test $plat tenant show acme-portal >/dev/null 2>&1 ||
  PLAT_USER=alice@acme.test $plat tenant create acme-portal --domain portal.acme.test --color '#0a7' >/dev/null
PLAT_USER=alice@acme.test $plat account show acme-shop >/dev/null 2>&1 ||
  PLAT_USER=alice@acme.test $plat account create acme-shop --owner bob@shop.test --tenant acme-portal >/dev/null
$plat account list

# Destroy whatever an earlier run left to expire, then bring the demo environment up.
$plat env reap --quiet >/dev/null
if ! $plat env show demo >/dev/null 2>&1; then
  # The default quota is one environment per user per day; the demo may run more often.
  $plat policy set --envs-per-day 20 --quiet >/dev/null
  $plat env up demo --template demo --ttl 30m >/dev/null
fi
$plat env show demo

echo >&2
echo "The demo platform lives in $PLAT_DATA_DIR. To use it from this shell:" >&2
printf '  export PATH="%s:$PATH" PLAT_DATA_DIR="%s" PLAT_CONFIG_DIR="%s"\n' "$(dirname "$plat")" "$PLAT_DATA_DIR" "$PLAT_CONFIG_DIR" >&2
