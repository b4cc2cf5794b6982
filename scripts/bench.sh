#!/usr/bin/env bash
# CLI speed on the embedded platform (issue targets in brackets):
#   plat --version / --help                       median [<= 5 ms]
#   plat account list -o json, 10,000 accounts    median [<= 50 ms]
#   plat account create in a loop                 [>= 100 creations/s]
#   plat env list, 1,000 environments             median [<= 30 ms]
#   peak RSS of any of these                      [<= 30 MB]
# Needs hyperfine (Debian package); builds plat in release mode first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
(cd "$ROOT" && cargo build --release --locked --quiet)
PLAT="$ROOT/target/release/plat"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export PLAT_DATA_DIR="$WORK/data" PLAT_CONFIG_DIR="$WORK/config" NO_COLOR=1 PLAT_NO_PROGRESS=1

# The targets are medians; hyperfine prints means, so its JSON export gives the medians.
medians() {
  python3 - "$1" <<'PY'
import json, sys
for result in json.load(open(sys.argv[1]))["results"]:
    command = result["command"].split("/")[-1]
    print(f"median {result['median'] * 1000:6.1f} ms  {command}")
PY
}
hyperfine --style basic -N --warmup 20 --runs 200 --export-json "$WORK/startup.json" "$PLAT --version" "$PLAT --help"
medians "$WORK/startup.json"

echo "== account create loop (500 creations)"
"$PLAT" account list >/dev/null # bootstrap outside the timing
start=$(date +%s%N)
for i in $(seq 1 500); do "$PLAT" account create "loop-$i" --owner "o$i@bench.test" --tenant default -q >/dev/null; done
end=$(date +%s%N)
python3 -c "print(f'{500 / (($end - $start) / 1e9):.0f} creations/s')"

echo "== filling the database to 10,000 accounts and 1,000 environments"
python3 - "$PLAT_DATA_DIR/plat.db" <<'PY'
import sqlite3, sys, uuid, datetime
db = sqlite3.connect(sys.argv[1])
master_id, master_path, tenant_id, owner = db.execute(
    "SELECT id, path, tenant_id, owner_user_id FROM accounts WHERE parent_id IS NULL").fetchone()
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
later = (now + datetime.timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
have = db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
rows = []
for i in range(have, 10000):
    aid = uuid.uuid4().hex
    rows.append((aid, f"bulk-{i}", f"bulk-{i}", master_id, f"{master_path}{aid}/", tenant_id, owner, "[]", stamp))
db.executemany("INSERT INTO accounts (id, slug, name, parent_id, path, tenant_id, owner_user_id, roles, created_at) VALUES (?,?,?,?,?,?,?,?,?)", rows)
envs = [(uuid.uuid4().hex, master_id, f"env-{i}", "demo", "{}", owner, "ready", None, stamp, later, None, "{}", "[]", None, 1, None, 0) for i in range(1000)]
db.executemany("INSERT INTO envs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", envs)
db.commit()
PY
hyperfine --style basic -N --warmup 5 --runs 50 --export-json "$WORK/lists.json" \
  "$PLAT account list -o json" "$PLAT env list -o json" "$PLAT env list"
medians "$WORK/lists.json"

echo "== peak RSS"
for cmd in "--version" "account list -o json" "env list" "account create rss-probe --owner rss@bench.test --tenant default"; do
  /usr/bin/env time -f "%M KB  plat $cmd" "$PLAT" $cmd >/dev/null 2>"$WORK/rss" || true
  tail -n 1 "$WORK/rss"
done
