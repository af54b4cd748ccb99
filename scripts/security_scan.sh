#!/usr/bin/env bash
# The security scans CI runs (`make scan`, after `make lint` in .ci/run). From the repo root:
#   1. bandit over libs/ and services/ ([tool.bandit] in pyproject.toml): fails on any
#      high-severity finding, lists the medium ones;
#   2. detect-secrets: a fresh scan of the tracked files against the audited .secrets.baseline;
#      fails on any secret that is not in it;
#   3. requirements.lock: fails when it differs from what `make setup` installed (.venv);
#   4. pip-audit of requirements.lock: fails on a known vulnerability;
#   5. npm audit --omit=dev of web/ (the packages shipped in the page): the same.
# ruff's security rules ("S", pyproject.toml) run with every `ruff check`, i.e. in `make lint`.
#
# Without a route to an advisory database (pip-audit: PyPI's per-version JSON or OSV; npm: the
# registry's audit endpoint) checks 4 and 5 cannot say anything: each then prints a line starting
# "SKIPPED:" with the reason, and the last line reads "security scan: PASSED WITH n SKIPPED".
# SECURITY_SCAN_STRICT=1 turns a skip into a failure (for a CI runner that has the internet).
#
# Refresh the lock after changing dependencies:
#   .venv/bin/pip freeze --exclude-editable > requirements.lock
# Refresh the secrets baseline after adding a fake credential to a test, then mark it audited:
#   .venv/bin/detect-secrets scan --baseline .secrets.baseline
#   .venv/bin/detect-secrets audit .secrets.baseline
set -uo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failed=()
skipped=()

step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*"; failed+=("$1"); }
skip() { echo "SKIPPED: ${*:2}"; skipped+=("$1"); }  # skip LABEL MESSAGE...

step "bandit (libs, services): fails on high severity, reports medium"
"$BIN/bandit" -c pyproject.toml -r libs services --severity-level medium --quiet \
  --format custom --msg-template '{relpath}:{line}: {severity} {test_id} {msg}' \
  > "$WORK/bandit.txt" 2> "$WORK/bandit.err"
bandit_status=$?  # 1 when it found something
cat "$WORK/bandit.txt"
if ((bandit_status > 1)) || { ((bandit_status == 1)) && [[ ! -s "$WORK/bandit.txt" ]]; }; then
  fail bandit "did not run (status $bandit_status): $(tail -n 1 "$WORK/bandit.err")"
elif grep -q ': HIGH ' "$WORK/bandit.txt"; then
  fail bandit "$(grep -c ': HIGH ' "$WORK/bandit.txt") high-severity finding(s)"
else
  echo "ok: no high-severity finding ($(grep -c ': MEDIUM ' "$WORK/bandit.txt") medium listed)"
fi

step "detect-secrets: tracked files against .secrets.baseline"
# The baseline's own exclusions: lock files (hashes) and the baseline (hashes of its findings).
exclude='(^|/)(package-lock\.json|requirements\.lock|channels\.lock\.json|\.secrets\.baseline)$'
if "$BIN/detect-secrets" scan --exclude-files "$exclude" > "$WORK/secrets.json"; then
  if new=$("$BIN/python" - "$WORK/secrets.json" .secrets.baseline <<'PYTHON'
import json
import sys

found, baseline = (json.load(open(path))["results"] for path in sys.argv[1:])
known = {(name, s["hashed_secret"]) for name, items in baseline.items() for s in items}
for name, items in sorted(found.items()):
    for s in items:
        if (name, s["hashed_secret"]) not in known:
            print(f"{name}:{s['line_number']}: {s['type']}")
PYTHON
  ); then
    if [[ -n "$new" ]]; then
      echo "$new"
      fail detect-secrets "$(wc -l <<< "$new") secret(s) not in .secrets.baseline (see the top)"
    else
      echo "ok: every finding is in the audited baseline"
    fi
  else
    fail detect-secrets "could not compare with .secrets.baseline"
  fi
else
  fail detect-secrets "the scan did not run"
fi

step "requirements.lock matches the installed environment"
"$BIN/pip" freeze --exclude-editable > "$WORK/freeze.txt"
if diff <(grep -v '^#' requirements.lock) "$WORK/freeze.txt" > "$WORK/lock.diff"; then
  echo "ok: $(grep -vc '^#' requirements.lock) pinned packages"
else
  cat "$WORK/lock.diff"
  fail lock "requirements.lock is stale: .venv/bin/pip freeze --exclude-editable > requirements.lock"
fi

step "pip-audit: requirements.lock"
"$BIN/pip-audit" -r requirements.lock --no-deps --disable-pip --progress-spinner off \
  --format json --output "$WORK/audit.json" 2> "$WORK/audit.err"
audit_status=$?
if [[ ! -s "$WORK/audit.json" ]]; then
  skip pip-audit "dependency audit could not reach the advisory database" \
    "($(tail -n 1 "$WORK/audit.err"))"
else
  # pip-audit exits 0 and says "No known vulnerabilities found" when it could look up nothing:
  # count what it actually audited.
  read -r total audited vulnerable < <("$BIN/python" - "$WORK/audit.json" <<'PYTHON'
import json
import sys

deps = json.load(open(sys.argv[1]))["dependencies"]
audited = [d for d in deps if "skip_reason" not in d]
print(len(deps), len(audited), sum(1 for d in audited if d.get("vulns")))
PYTHON
  )
  if ((vulnerable > 0)); then
    "$BIN/python" - "$WORK/audit.json" <<'PYTHON'
import json
import sys

for dep in json.load(open(sys.argv[1]))["dependencies"]:
    for vuln in dep.get("vulns", []):
        fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
        print(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
PYTHON
    fail pip-audit "$vulnerable of $audited audited package(s) have known vulnerabilities"
  elif ((audited == 0)); then
    skip pip-audit "dependency audit could not reach the advisory database" \
      "(0 of $total packages looked up: $(grep -o 'Dependency not found[^:]*' \
      "$WORK/audit.json" | head -n 1))"
  elif ((audit_status != 0)); then
    fail pip-audit "exit status $audit_status: $(tail -n 1 "$WORK/audit.err")"
  else
    echo "ok: $audited of $total packages audited, no known vulnerability"
    ((audited < total)) && echo "note: $((total - audited)) not found in the advisory database"
  fi
fi

step "npm audit --omit=dev: web/"
(cd web && npm audit --omit=dev --json > "$WORK/npm.json" 2> "$WORK/npm.err")
read -r reachable vulnerable detail < <("$BIN/python" - "$WORK/npm.json" <<'PYTHON'
import json
import sys

try:
    report = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    report = {"message": "no JSON answer"}
if "metadata" in report:  # the registry answered
    counts = report["metadata"]["vulnerabilities"]
    print(1, counts.get("total", 0), json.dumps(counts))
else:
    print(0, 0, report.get("message") or report.get("error", {}).get("summary", "unknown error"))
PYTHON
)
if ((reachable == 0)); then
  skip npm-audit "npm audit could not reach the advisory database ($detail)"
elif ((vulnerable > 0)); then
  (cd web && npm audit --omit=dev) || true
  fail npm-audit "$vulnerable vulnerable package(s) shipped in web/: $detail"
else
  echo "ok: no known vulnerability in web/'s runtime packages"
fi

echo
if ((${#failed[@]})); then
  echo "security scan: FAILED (${failed[*]})${skipped:+; skipped: ${skipped[*]}}"
  exit 1
fi
if ((${#skipped[@]})); then
  echo "security scan: PASSED WITH ${#skipped[@]} SKIPPED (${skipped[*]}): not audited, see above"
  [[ "${SECURITY_SCAN_STRICT:-0}" == 1 ]] && exit 1
  exit 0
fi
echo "security scan: PASSED"
