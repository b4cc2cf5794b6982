#!/usr/bin/env bash
# Coverage of plat's cloud baseline (PLAT101-150) against Checkov on the same Terraform plans:
# which of Checkov's failures plat also reports (same resource, same weakness), and which not.
# The plans are tests/fixtures/scan/tf/cloud-plan-{insecure,secure}.json: `terraform show -json`
# plans written by hand (terraform plan needs provider plugins, which cannot be downloaded here).
# Usage: scripts/checkov-coverage.sh   Env: PLAT (default: $CARGO_TARGET_DIR/debug/plat, built if
# missing), CHECKOV (default: $CARGO_TARGET_DIR/venv-checkov/bin/checkov, installed if missing).
set -euo pipefail
crate=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$crate/target}
plat=${PLAT:-$target/debug/plat}
checkov=${CHECKOV:-$target/venv-checkov/bin/checkov}
[[ -x $plat ]] || CARGO_TARGET_DIR=$target cargo build --quiet --bin plat --manifest-path "$crate/Cargo.toml"
if [[ ! -x $checkov ]]; then
  python3 -m venv "$target/venv-checkov"
  "$target/venv-checkov/bin/pip" install --quiet checkov
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for plan in insecure secure; do
  file=$crate/tests/fixtures/scan/tf/cloud-plan-$plan.json
  "$checkov" --quiet --compact --skip-download --framework terraform_plan -o json -f "$file" >"$work/checkov-$plan.json" 2>/dev/null || true
  "$plat" scan --tf-state "$file" -o json --fail-on never >"$work/plat-$plan.json" 2>/dev/null
  python3 - "$work/checkov-$plan.json" "$work/plat-$plan.json" "$plan" <<'PY'
import json, sys
from collections import defaultdict
# Checkov check → the plat rule that reports the same weakness.
SAME = {
    "CKV_AWS_24": "PLAT101", "CKV_AWS_25": "PLAT101", "CKV_AWS_20": "PLAT102",
    "CKV_AWS_53": "PLAT103", "CKV_AWS_54": "PLAT103", "CKV_AWS_55": "PLAT103", "CKV_AWS_56": "PLAT103",
    "CKV_AWS_16": "PLAT104", "CKV_AWS_17": "PLAT105",
    "CKV_AWS_3": "PLAT106", "CKV_AWS_8": "PLAT106", "CKV_AWS_42": "PLAT106",
    "CKV_AWS_251": "PLAT107", "CKV_AWS_36": "PLAT114",
    "CKV_AWS_62": "PLAT108", "CKV_AWS_63": "PLAT108", "CKV_AWS_355": "PLAT108", "CKV2_AWS_40": "PLAT108",
    "CKV_AWS_286": "PLAT108", "CKV_AWS_287": "PLAT108", "CKV_AWS_288": "PLAT108",
    "CKV_AWS_289": "PLAT108", "CKV_AWS_290": "PLAT108",
    "CKV_AWS_7": "PLAT109", "CKV_AWS_38": "PLAT110", "CKV_AWS_39": "PLAT110",
    "CKV_AWS_79": "PLAT111", "CKV_AWS_91": "PLAT112", "CKV_AWS_37": "PLAT113",
    "CKV_AZURE_9": "PLAT120", "CKV_AZURE_10": "PLAT120",
    "CKV_AZURE_190": "PLAT121", "CKV2_AZURE_47": "PLAT121", "CKV_AZURE_34": "PLAT121",
    "CKV_AZURE_3": "PLAT122", "CKV_AZURE_44": "PLAT122", "CKV_AZURE_11": "PLAT123",
    "CKV_AZURE_110": "PLAT124", "CKV_AZURE_42": "PLAT124", "CKV_AZURE_40": "PLAT125",
    "CKV_AZURE_115": "PLAT126", "CKV_AZURE_6": "PLAT126", "CKV_AZURE_12": "PLAT127",
    "CKV_AZURE_1": "PLAT128", "CKV_AZURE_149": "PLAT128", "CKV_AZURE_178": "PLAT128",
    "CKV_AZURE_39": "PLAT130",
    "CKV_GCP_2": "PLAT140", "CKV_GCP_3": "PLAT140", "CKV_GCP_28": "PLAT141", "CKV_GCP_29": "PLAT142",
    "CKV_GCP_11": "PLAT143", "CKV_GCP_6": "PLAT144", "CKV_GCP_43": "PLAT145",
    "CKV_GCP_20": "PLAT146", "CKV_GCP_25": "PLAT146", "CKV_GCP_1": "PLAT147",
    "CKV_GCP_26": "PLAT149", "CKV_GCP_117": "PLAT150",
}
checkov = json.load(open(sys.argv[1]))
checkov = checkov[0] if isinstance(checkov, list) else checkov
plat = json.load(open(sys.argv[2]))
found = defaultdict(set)
for f in plat["findings"]:
    found[f["resource"]].add(f["rule_id"])
failed = checkov["results"]["failed_checks"]
matched = [c for c in failed if SAME.get(c["check_id"]) in found[c["resource"]]]
missed = [c for c in failed if c not in matched]
cloud = sorted((r, rule) for r, rules in found.items() for rule in rules if rule >= "PLAT100")
print(f"== {sys.argv[3]} plan: Checkov {len(failed)} failures, plat {len(cloud)} cloud findings")
print(f"   Checkov failures plat also reports: {len(matched)}")
print(f"   Checkov failures plat does not report: {len(missed)}")
for c in sorted(missed, key=lambda c: c["check_id"]):
    print(f"     {c['check_id']:12} {c['resource']:52} {c['check_name'][:80]}")
same = {(c["resource"], SAME.get(c["check_id"])) for c in failed}
alone = [(r, rule) for r, rule in cloud if (r, rule) not in same]
print(f"   plat cloud findings Checkov does not report: {len(alone)} {alone}")
PY
done
