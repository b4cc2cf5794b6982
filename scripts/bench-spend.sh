#!/usr/bin/env bash
# Spend queries over 100,000 env-days (issue 20, R-ACC-5), embedded platform (SQLite):
#   plat spend --month M -o json               by account
#   plat spend --month M --by tenant|owner|label:appgear.io/suite
#   plat spend --month M, asked by a sub-account (its subtree only)
# 100,000 envs of the demo template, each alive for one day of last month, spread over 21
# accounts (the root, 4 children, 16 grandchildren) and 4 owners, each with 3 labels.
# Needs hyperfine (Debian package). PLAT_BIN=path skips the release build (e.g. a dev build).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
if [ -z "${PLAT_BIN:-}" ]; then (cd "$ROOT" && cargo build --release --locked --quiet); fi
PLAT="${PLAT_BIN:-$ROOT/target/release/plat}"
WORK="$(mktemp -d)"
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
export PLAT_DATA_DIR="$WORK/data" PLAT_CONFIG_DIR="$WORK/config" NO_COLOR=1 PLAT_NO_PROGRESS=1
ENV_DAYS="${ENV_DAYS:-100000}"

"$PLAT" account list >/dev/null # bootstrap outside the timing
MONTH="$(python3 -c 'import datetime as d; t = d.date.today().replace(day=1) - d.timedelta(days=1); print(t.strftime("%Y-%m"))')"
echo "== seeding $ENV_DAYS env-days in $MONTH"
python3 - "$PLAT_DATA_DIR/plat.db" "$ENV_DAYS" <<'PY'
import sqlite3, sys, uuid, datetime, calendar
db = sqlite3.connect(sys.argv[1])
count = int(sys.argv[2])
root_id, root_path, tenant_id, owner = db.execute(
    "SELECT id, path, tenant_id, owner_user_id FROM accounts WHERE parent_id IS NULL").fetchone()
stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
accounts = [(root_id, "platform", root_path)]
def add(parent_id, parent_path, slug):
    aid = uuid.uuid4().hex
    path = f"{parent_path}{aid}/"
    db.execute("INSERT INTO accounts (id, slug, name, parent_id, path, tenant_id, owner_user_id, roles, created_at) "
               "VALUES (?,?,?,?,?,?,?,?,?)", (aid, slug, slug, parent_id, path, tenant_id, owner, "[]", stamp))
    accounts.append((aid, slug, path))
    return aid, path
for b in range(4):
    bid, bpath = add(root_id, root_path, f"branch-{b}")
    for l in range(4):
        add(bid, bpath, f"leaf-{b}-{l}")
users = [owner]
for u in range(3):
    uid = uuid.uuid4().hex
    db.execute("INSERT INTO users (id, email, created_at) VALUES (?,?,?)", (uid, f"dev{u}@bench.test", stamp))
    users.append(uid)
emails = dict(db.execute("SELECT id, email FROM users").fetchall())
first = datetime.date.today().replace(day=1) - datetime.timedelta(days=1)
first = first.replace(day=1)
days = calendar.monthrange(first.year, first.month)[1]
start = int(datetime.datetime(first.year, first.month, 1, tzinfo=datetime.timezone.utc).timestamp())
fmt = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
envs, spend, labels = [], [], []
for i in range(count):
    aid, slug, _ = accounts[i % len(accounts)]
    user = users[i % len(users)]
    eid = uuid.uuid4().hex
    born = start + (i * 86400 * (days - 1)) // count
    died = born + 86400
    envs.append((eid, aid, f"env-{i}", "demo", "{}", user, "destroyed", None, fmt(born), fmt(died), fmt(died), "{}", "[]", None, 1, None, 0))
    spend.append((eid, aid, "demo", emails[user], "default", 44_500_000, born, died))
    for key, value in (("appgear.io/tenant-id", "default"), ("appgear.io/account-id", slug),
                       ("appgear.io/suite", ("demo", "shop", "data")[i % 3])):
        labels.append((eid, key, value, aid, 44_500_000, born, died))
db.executemany("INSERT INTO envs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", envs)
db.executemany("INSERT INTO env_spend VALUES (?,?,?,?,?,?,?,?)", spend)
db.executemany("INSERT INTO env_spend_labels VALUES (?,?,?,?,?,?,?)", labels)
db.commit()
db.execute("ANALYZE")
PY
"$PLAT" spend --month "$MONTH" | tail -n 3
if [ -n "${KEEP_WORK:-}" ]; then echo "seeded database: $PLAT_DATA_DIR/plat.db"; fi
[ -z "${SEED_ONLY:-}" ] || { echo "$WORK"; exit 0; }
hyperfine --style basic -N --warmup 3 --runs 20 --export-json "$WORK/spend.json" \
  "$PLAT spend --month $MONTH -o json" \
  "$PLAT spend --month $MONTH --by tenant -o json" \
  "$PLAT spend --month $MONTH --by owner -o json" \
  "$PLAT spend --month $MONTH --by label:appgear.io/suite -o json" \
  "$PLAT spend --month $MONTH --account branch-0 -o json"
python3 - "$WORK/spend.json" <<'PY'
import json, sys
for result in json.load(open(sys.argv[1]))["results"]:
    command = result["command"].split("/")[-1]
    print(f"median {result['median'] * 1000:6.1f} ms  {command}")
PY
