# Sourced by the server benchmarks (needs ROOT set): the binary to measure, a temp work dir
# removed at exit together with every process listed in `pids`, free loopback ports, and a
# private PostgreSQL.
# PLAT_BIN=path skips the release build (e.g. to compare two binaries).
if [ -z "${PLAT_BIN:-}" ]; then (cd "$ROOT" && cargo build --release --locked --quiet); fi
PLAT="${PLAT_BIN:-$ROOT/target/release/plat}"
WORK="$(mktemp -d)"
chmod 755 "$WORK"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# PostgreSQL in $WORK/pg, as the postgres user (initdb refuses root), with a database `bench`
# owned by `plat`; sets PG (its bin dir) and PGPORT.
start_postgres() {
  PG="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
  PGPORT="$(free_port)"
  mkdir -p "$WORK/pg" && chown postgres "$WORK/pg"
  runuser -u postgres -- "$PG/initdb" -D "$WORK/pg/data" -U plat --auth=trust --no-sync >/dev/null
  runuser -u postgres -- "$PG/postgres" -D "$WORK/pg/data" -p "$PGPORT" -k "$WORK/pg" -c listen_addresses=127.0.0.1 -c max_connections=200 >/dev/null 2>&1 &
  pids+=($!)
  until runuser -u postgres -- "$PG/pg_isready" -h 127.0.0.1 -p "$PGPORT" -q; do sleep 0.2; done
  runuser -u postgres -- "$PG/createdb" -h 127.0.0.1 -p "$PGPORT" -U plat bench
}
