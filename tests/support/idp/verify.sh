#!/bin/sh
# End-to-end self-check of the test IdP (see README.md). Installs the
# dependencies from the npm registry if needed, then runs verify.mjs.
set -eu
cd "$(dirname "$0")"
[ -d node_modules/oidc-provider ] || npm ci --no-audit --no-fund
exec node verify.mjs
