#!/usr/bin/env bash
# Automation speed (issue 7 targets in brackets):
#   plat automation run, a one-step no-op (exec `true`), embedded platform   median [<= 20 ms]
#   queued runs a `plat server` with two workers finishes, SQLite and PostgreSQL [>= 1,000/min],
#   and PostgreSQL with the runs handed to the workers through RabbitMQ
# The runs are queued through the automation's signed webhook (no IdP needed): N POSTs as fast as
# one client sends them, timed from the first POST until the last run has finished.
# Needs hyperfine, openssl, curl, python3, PostgreSQL and RabbitMQ (scripts/install-deps.sh --test).
# RUNS=2000 by default; PLAT_BIN=path skips the release build (e.g. to try the script on a debug build).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-2000}"
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
. "$ROOT/scripts/bench-common.sh"

echo "== embedded: plat automation run, one exec step running \`true\`"
export PLAT_DATA_DIR="$WORK/embedded" PLAT_CONFIG_DIR="$WORK/config" NO_COLOR=1 PLAT_NO_PROGRESS=1
cat >"$WORK/noop.yaml" <<'YAML'
apiVersion: plat.dev/v1
kind: Automation
metadata: { name: noop }
spec:
  steps:
    - { id: noop, action: exec, input: { command: ["true"] } }
YAML
"$PLAT" automation apply -f "$WORK/noop.yaml" -q >/dev/null
hyperfine --style basic -N --warmup 10 --runs 100 "$PLAT --version" "$PLAT automation run noop -q"
unset PLAT_DATA_DIR PLAT_CONFIG_DIR

cat >"$WORK/hook.yaml" <<'YAML'
apiVersion: plat.dev/v1
kind: Automation
metadata: { name: noop-hook }
spec:
  trigger: { webhook: { secret_env: BENCH_HOOK_SECRET } }
  steps:
    - { id: noop, action: exec, input: { command: ["true"] } }
YAML

# `plat server` with its two default workers; the automation applied straight into its database
# (the API would want an IdP token), then RUNS signed webhook deliveries.
queue_and_drain() {
  local name=$1 url=$2 count_sql=$3 port server
  shift 3
  port="$(free_port)"
  BENCH_HOOK_SECRET=bench-secret PLAT_DATA_DIR="$WORK/$name" PLAT_LOG=warn "$PLAT" server \
    --listen "127.0.0.1:$port" --database-url "$url" --oidc-issuer http://127.0.0.1:9/unused \
    --bootstrap-admin bench@localhost "$@" >"$WORK/$name.log" 2>&1 &
  server=$!
  pids+=($server)
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done
  # plat on the same database (a context with `database_url`) applies it as the bootstrap admin.
  mkdir -p "$WORK/$name-config"
  printf 'current_context: db\ncontexts:\n- name: db\n  database_url: %s\n' "$url" >"$WORK/$name-config/config.yaml"
  PLAT_CONFIG_DIR="$WORK/$name-config" PLAT_DATA_DIR="$WORK/$name-cli" PLAT_USER=bench@localhost \
    "$PLAT" automation apply -f "$WORK/hook.yaml" -q >/dev/null
  echo "== $name: $RUNS runs queued by signed webhook, two workers${*:+ ($*)}"
  python3 - "http://127.0.0.1:$port/api/v1/automations/noop-hook/webhook?account=platform" "$RUNS" "$count_sql" <<'PY'
import hashlib, hmac, http.client, json, subprocess, sys, time, urllib.parse
url, runs, count_cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
parts = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(parts.hostname, parts.port)
start = time.monotonic()
for i in range(runs):
    body = json.dumps({"n": i}).encode()
    sig = "sha256=" + hmac.new(b"bench-secret", body, hashlib.sha256).hexdigest()
    conn.request("POST", parts.path + "?" + parts.query, body, {"content-type": "application/json", "x-plat-signature-256": sig})
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 202, answer.status
queued = time.monotonic() - start
print(f"   queued {runs} in {queued:.1f} s ({runs / queued:.0f}/s)")
while True:
    out = subprocess.run(["sh", "-c", count_cmd], capture_output=True, text=True).stdout.split()
    done, failed = int(out[0]), int(out[1])
    if done + failed >= runs:
        break
    time.sleep(0.2)
elapsed = time.monotonic() - start
print(f"   {done} succeeded, {failed} failed in {elapsed:.1f} s: {runs / elapsed * 60:.0f} runs/min")
PY
  curl -sf "http://127.0.0.1:$port/metrics" | grep '^plat_automation_runs_claimed_total' | sed 's/^/   /' || true
  kill "$server"
}

# What the drain loop polls: runs succeeded, runs failed.
RUN_COUNTS="SELECT COUNT(*) FILTER (WHERE status='succeeded'), COUNT(*) FILTER (WHERE status='failed') FROM automation_runs"
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3; }
SQLITE_DB="$WORK/bench.db"
queue_and_drain sqlite "sqlite://$SQLITE_DB?mode=rwc" \
  "sqlite3 -separator ' ' $SQLITE_DB \"$RUN_COUNTS\""

start_postgres
queue_and_drain postgres "postgres://plat@127.0.0.1:$PGPORT/bench" \
  "$PG/psql -h 127.0.0.1 -p $PGPORT -U plat -d bench -tA -F ' ' -c \"$RUN_COUNTS\""

# The same on a fresh database, the runs handed to the workers through a private RabbitMQ node.
RABBIT_HOME="$WORK/rabbit"
mkdir -p "$RABBIT_HOME" && echo '[].' >"$RABBIT_HOME/enabled_plugins"
AMQP_PORT="$(free_port)"
export HOME="$RABBIT_HOME" RABBITMQ_NODENAME="plat-bench-$$@localhost" ERL_EPMD_ADDRESS=127.0.0.1 \
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$AMQP_PORT" RABBITMQ_DIST_PORT="$(free_port)" \
  RABBITMQ_MNESIA_BASE="$RABBIT_HOME/mnesia" RABBITMQ_LOG_BASE="$RABBIT_HOME/log" \
  RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_HOME/enabled_plugins" RABBITMQ_CONFIG_FILE="$RABBIT_HOME/rabbitmq"
/usr/lib/rabbitmq/bin/rabbitmq-server >/dev/null 2>&1 &
pids+=($!)
until /usr/lib/rabbitmq/bin/rabbitmqctl await_startup --timeout 30 >/dev/null 2>&1; do sleep 0.3; done
cleanup_rabbit() { /usr/lib/rabbitmq/bin/rabbitmqctl stop >/dev/null 2>&1 || true; cleanup; }
trap cleanup_rabbit EXIT
runuser -u postgres -- "$PG/createdb" -h 127.0.0.1 -p "$PGPORT" -U plat bench_amqp
queue_and_drain postgres-rabbitmq "postgres://plat@127.0.0.1:$PGPORT/bench_amqp" \
  "$PG/psql -h 127.0.0.1 -p $PGPORT -U plat -d bench_amqp -tA -F ' ' -c \"$RUN_COUNTS\"" \
  --amqp-url "amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f"
