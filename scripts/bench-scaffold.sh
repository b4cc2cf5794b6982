#!/usr/bin/env bash
# Benchmark: render a 500-file template with plat's scaffold engine and with cookiecutter (PyPI),
# same content, same machine, same run. Targets: plat <= 150 ms and >= 10x faster than cookiecutter.
#
# Usage: scripts/bench-scaffold.sh
#   SCAFFOLD_BENCH_BIN  binary that renders a Backstage template: `BIN TEMPLATE OUT [--iterations N]`
#                       (default: build the bench_scaffold example of SCAFFOLD_BENCH_CRATE in release)
#   SCAFFOLD_BENCH_CRATE crate holding examples/bench_scaffold.rs (default: the repository root)
#   FILES               number of template files (default 500)
# Needs python3 (venv) and, optionally, hyperfine (Debian package `hyperfine`).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
files="${FILES:-500}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

crate="${SCAFFOLD_BENCH_CRATE:-$here}"
bin="${SCAFFOLD_BENCH_BIN:-}"
if [[ -z "$bin" ]]; then
  (cd "$crate" && cargo build --quiet --release --example bench_scaffold)
  target_dir="${CARGO_TARGET_DIR:-$crate/target}"
  bin="$target_dir/release/examples/bench_scaffold"
fi

venv="${SCAFFOLD_BENCH_VENV:-$work/venv}"
if [[ ! -x "$venv/bin/cookiecutter" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet cookiecutter
fi

# Generate the same template twice: Backstage format and cookiecutter format. (cookiecutter
# reads a JSON list as a choice, so the loop runs over a dict's keys there.)
python3 - "$work" "$files" <<'PY'
import os, sys
work, count = sys.argv[1], int(sys.argv[2])
body = """# {v_name} module {i}

Owner: {v_owner}. Replicas: {v_replicas}.
{b_if_docs}
Documentation for {v_name} lives in docs/{i}.md.
{b_endif}
{b_for}- item {v_item} of {v_name}
{b_endfor}
""" + "".join(f"line {n}: plain text that is copied through the renderer unchanged\n" for n in range(30))

def write(root, var, block_open, ctx):
    def v(name): return f"{var[0]} {ctx}.{name} {var[1]}"
    os.makedirs(root, exist_ok=True)
    for i in range(count):
        d = os.path.join(root, f"pkg{i % 25}")
        os.makedirs(d, exist_ok=True)
        text = body.format(
            i=i, v_name=v("name"), v_owner=v("owner"), v_replicas=v("replicas"),
            v_item=f"{var[0]} item {var[1]}",
            b_if_docs=f"{{% if {ctx}.docs %}}", b_endif="{% endif %}",
            b_for=f"{{% for item in {ctx}.entries %}}", b_endfor="{% endfor %}",
        )
        with open(os.path.join(d, f"file{i}.md"), "w") as f:
            f.write(text)

backstage = os.path.join(work, "backstage")
write(os.path.join(backstage, "skeleton"), ("${{", "}}"), "{%", "values")
with open(os.path.join(backstage, "template.yaml"), "w") as f:
    f.write("""apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: bench}
spec:
  parameters:
    required: [name]
    properties:
      name: {type: string}
  steps:
    - id: fetch
      action: fetch:template
      input:
        url: ./skeleton
        values:
          name: ${{ parameters.name }}
          owner: group:default/team
          replicas: 3
          docs: true
          entries: [a, b, c]
""")

cookie = os.path.join(work, "cookie")
write(os.path.join(cookie, "{{cookiecutter.name}}"), ("{{", "}}"), "{%", "cookiecutter")
with open(os.path.join(cookie, "cookiecutter.json"), "w") as f:
    f.write('{"name": "bench-service", "owner": "group:default/team", "replicas": 3, "docs": true, "entries": {"a": "a", "b": "b", "c": "c"}}')
PY

echo "== in-process (plat engine, $files files)"
"$bin" "$work/backstage" "$work/out-inproc" --iterations 20

if command -v hyperfine >/dev/null; then
  echo "== whole process, hyperfine"
  hyperfine --warmup 2 --runs 10 --export-json "$work/hyperfine.json" \
    --prepare "rm -rf $work/out-plat $work/out-cc" \
    -n plat "$bin $work/backstage $work/out-plat" \
    -n cookiecutter "$venv/bin/cookiecutter --no-input -f -o $work/out-cc $work/cookie"
  python3 - "$work/hyperfine.json" <<'PY'
import json, sys
results = {r["command"]: r["mean"] for r in json.load(open(sys.argv[1]))["results"]}
plat, cc = results["plat"], results["cookiecutter"]
print(f"plat {plat*1000:.1f} ms, cookiecutter {cc*1000:.1f} ms, speed-up {cc/plat:.1f}x")
sys.exit(0 if plat <= 0.150 and cc / plat >= 10 else 1)
PY
else
  start=$(date +%s%N); "$bin" "$work/backstage" "$work/out-plat"; plat=$(( ($(date +%s%N) - start) / 1000000 ))
  start=$(date +%s%N); "$venv/bin/cookiecutter" --no-input -f -o "$work/out-cc" "$work/cookie"; cc=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "plat ${plat} ms, cookiecutter ${cc} ms"
  [[ $plat -le 150 && $(( cc / (plat > 0 ? plat : 1) )) -ge 10 ]]
fi
