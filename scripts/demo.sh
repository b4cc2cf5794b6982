#!/usr/bin/env bash
# The main job on the embedded default: build plat, create an account tree, list it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
plat=target/release/plat
export PLAT_DATA_DIR="${PLAT_DATA_DIR:-$PWD/target/demo/data}" PLAT_CONFIG_DIR="${PLAT_CONFIG_DIR:-$PWD/target/demo/config}"
$plat account show acme >/dev/null 2>&1 ||
  $plat account create acme --owner alice@acme.test --tenant default \
    --role account-admin --role user-admin --role tenant-admin
PLAT_USER=alice@acme.test $plat tenant show acme-portal >/dev/null 2>&1 ||
  PLAT_USER=alice@acme.test $plat tenant create acme-portal --domain portal.acme.test --color '#0a7'
PLAT_USER=alice@acme.test $plat account show acme-shop >/dev/null 2>&1 ||
  PLAT_USER=alice@acme.test $plat account create acme-shop --owner bob@shop.test --tenant acme-portal
$plat account list
