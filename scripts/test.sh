#!/usr/bin/env bash
# One command: set up this machine, then every check: ruff, yamllint, ansible-lint, pytest
# (all of tests/, the lab integration tests included) and every molecule scenario.
# Runs them all even after a failure, prints what passed, exits 1 if anything failed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
export PATH="$REPO/.venv/bin:$PATH"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"

results=()
failed=0
step() {  # step NAME TIMEOUT_SECONDS COMMAND...: run, time and record one check
    local name="$1" limit="$2" start rc
    shift 2
    printf '\n\033[1m==> %s\033[0m\n' "$name"
    start=$(date +%s)
    set +e
    timeout --kill-after=30 "$limit" "$@"
    rc=$?
    set -e
    local took=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ]; then
        results+=("PASS  $name (${took}s)")
    else
        local why="exit $rc"
        [ "$rc" -eq 124 ] && why="timed out after ${limit}s"
        [ "$name" = pytest ] && [ "$rc" -eq 5 ] && why="no tests were collected (exit 5)"
        results+=("FAIL  $name (${took}s): $why")
        failed=1
    fi
}

step ruff 300 ruff check .
step yamllint 300 yamllint .
step ansible-lint 900 ansible-lint --offline
# Molecule scenarios need the podman settings and the lab image; make them once here.
step "lab prepare" 1800 meetfleet lab prepare
step pytest 2400 python -m pytest -q tests

scenarios=()
for file in molecule/*/molecule.yml; do
    [ -e "$file" ] || continue
    scenarios+=("$(basename "$(dirname "$file")")")
done
if [ "${#scenarios[@]}" -eq 0 ]; then
    results+=("NONE  molecule: no scenario found in molecule/*/molecule.yml")
fi
for scenario in "${scenarios[@]}"; do
    step "molecule $scenario" 1800 molecule test -s "$scenario"
done

printf '\n\033[1m==> summary\033[0m\n'
printf '  %s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
    echo "test.sh: FAILED"
    exit 1
fi
echo "test.sh: all passed"
