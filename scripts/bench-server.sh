#!/usr/bin/env bash
# `plat server` under load from a second process (wrk, loopback, 64 connections, 2 threads):
# GET /api/v1/accounts with a valid JWT vs GET /healthz on the same server in the same run, on
# SQLite and on PostgreSQL, plus the server's RSS at the end of the load.
# Targets: >= 5,000 req/s and p99 <= 20 ms for /api/v1/accounts, >= half of /healthz, RSS <= 60 MB.
# PLAT_BIN=path skips the release build (e.g. to compare two binaries).
# Needs: wrk, node + the test IdP (tests/support/idp), PostgreSQL binaries (scripts/install-deps.sh --test).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-15s}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
(cd "$ROOT/tests/support/idp" && { [ -d node_modules/oidc-provider ] || npm ci --no-audit --no-fund --loglevel=error; })
. "$ROOT/scripts/bench-common.sh"

# The identity provider and a real token from its device flow.
mkfifo "$WORK/idp.out"
(cd "$ROOT/tests/support/idp" && IDP_PORT=0 IDP_ACCESS_TOKEN_TTL=3600 exec node idp.mjs >"$WORK/idp.out" 2>/dev/null) &
pids+=($!)
read -r ready issuer <"$WORK/idp.out"
TOKEN="$(python3 - "$issuer" <<'PY'
import json, sys, urllib.parse, urllib.request
issuer = sys.argv[1]
def post(path, data, as_json=False):
    body = json.dumps(data).encode() if as_json else urllib.parse.urlencode(data).encode()
    req = urllib.request.Request(issuer + path, body, {"content-type": "application/json" if as_json else "application/x-www-form-urlencoded"})
    return json.load(urllib.request.urlopen(req))
start = post("/device/auth", {"client_id": "plat-cli", "scope": "openid email offline_access", "resource": "urn:plat:api"})
post("/test/approve", {"user_code": start["user_code"], "sub": "bench", "email": "bench@localhost"}, as_json=True)
print(post("/token", {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": "plat-cli", "device_code": start["device_code"]})["access_token"])
PY
)"

start_postgres

run_one() {
  local name=$1 url=$2 port
  port="$(free_port)"
  PLAT_DATA_DIR="$WORK/$name" PLAT_LOG=warn "$PLAT" server --listen "127.0.0.1:$port" --database-url "$url" \
    --oidc-issuer "$issuer" --oidc-audience urn:plat:api --bootstrap-admin bench@localhost >/dev/null 2>&1 &
  local server=$!
  pids+=($server)
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done
  curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/api/v1/whoami" >/dev/null
  echo "== $name: GET /api/v1/accounts (JWT)"
  wrk -t2 -c64 -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/api/v1/accounts" | tee "$WORK/$name-api.txt" | grep -E "Requests/sec|99%|Non-2xx"
  echo "   server RSS after load: $(( $(ps -o rss= -p "$server") / 1024 )) MB"
  echo "== $name: GET /healthz"
  wrk -t2 -c64 -d"$DURATION" --latency "http://127.0.0.1:$port/healthz" | tee "$WORK/$name-health.txt" | grep -E "Requests/sec|99%"
  python3 - "$WORK/$name-api.txt" "$WORK/$name-health.txt" <<'PY'
import re, sys
rate = lambda f: float(re.search(r"Requests/sec:\s+([\d.]+)", open(f).read()).group(1))
api, health = rate(sys.argv[1]), rate(sys.argv[2])
print(f"   accounts/healthz throughput: {api / health:.2f}")
PY
  kill "$server"
}

run_one sqlite "sqlite://$WORK/bench.db?mode=rwc"
run_one postgres "postgres://plat@127.0.0.1:$PGPORT/bench"
