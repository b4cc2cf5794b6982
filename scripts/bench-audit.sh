#!/usr/bin/env bash
# What the audit trail (R-GOV-3) costs a write: `account create` through the service, with and
# without its audit record (examples/bench_audit.rs), on SQLite (WAL, a file in a temp dir) and
# on PostgreSQL, each run on a fresh database, runs alternating so drift hits both alike.
# Usage: scripts/bench-audit.sh   Env: CREATES (default 2000), ROUNDS (default 3),
#   PROFILE (default release; `dev` skips the long release build, for a quick look).
# Needs PostgreSQL binaries (scripts/install-deps.sh --test).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CREATES="${CREATES:-2000}"
ROUNDS="${ROUNDS:-3}"
PROFILE="${PROFILE:-release}"
# The benchmark drives the library in process; the plat binary is not needed.
PLAT_BIN="${PLAT_BIN:-unused}"
. "$ROOT/scripts/bench-common.sh"

target="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --quiet --locked --profile "$PROFILE" --example bench_audit)
dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
bench="$target/$dir/examples/bench_audit"

start_postgres
echo "== account create, $CREATES per run, $ROUNDS rounds ($PROFILE build)"
for round in $(seq "$ROUNDS"); do
  for mode in audited unaudited; do
    flag=$([ "$mode" = unaudited ] && echo --without-audit || true)
    echo -n "sqlite     round $round: "
    "$bench" "sqlite://$WORK/$mode-$round.db" "$CREATES" $flag
    runuser -u postgres -- "$PG/createdb" -h 127.0.0.1 -p "$PGPORT" -U plat "b_${mode}_$round"
    echo -n "postgresql round $round: "
    "$bench" "postgres://plat@127.0.0.1:$PGPORT/b_${mode}_$round" "$CREATES" $flag
  done
done
