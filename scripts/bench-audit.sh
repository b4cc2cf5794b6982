#!/usr/bin/env bash
# What the audit trail (R-GOV-3) costs a write: `account create` through the service with and
# without its audit record (examples/bench_audit.rs), creates alternating between the two on the
# same fresh database so that a busy machine's drift hits both alike; on SQLite (WAL, a file in
# a temp dir) and on PostgreSQL.
# Usage: scripts/bench-audit.sh   Env: CREATES (per mode and run, default 2000), ROUNDS
#   (default 3), PROFILE (default release; `dev` skips the long release build, for a quick look).
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
echo "== account create, $CREATES with and $CREATES without the audit record per run ($PROFILE build)"
for round in $(seq "$ROUNDS"); do
  echo "sqlite, round $round"
  "$bench" "sqlite://$WORK/round-$round.db" "$CREATES"
  runuser -u postgres -- "$PG/createdb" -h 127.0.0.1 -p "$PGPORT" -U plat "round_$round"
  echo "postgresql, round $round"
  "$bench" "postgres://plat@127.0.0.1:$PGPORT/round_$round" "$CREATES"
done
