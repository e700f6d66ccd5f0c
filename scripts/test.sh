#!/usr/bin/env bash
# One command: set up this machine, then every check: ruff, yamllint, ansible-lint, pytest
# (all of tests/, the lab integration tests included) and every molecule scenario.
# Four lanes run side by side, because much of each is waiting on apt, pip, SSH and
# podman rather than on a CPU: the linters then the fast tests in one (done in minutes),
# the lab tests (pytest -m lab: playbooks against the podman lab, the longest) in another,
# the molecule scenarios split over the other two. Each check's output goes to
# .test-logs/NAME.log, printed when the check ends (whole on failure, its last lines on
# success), so lanes never interleave.
# Runs them all even after a failure, prints what passed, exits 1 if anything failed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
export PATH="$REPO/.venv/bin:$PATH"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"

LOGS="$REPO/.test-logs"
# When the whole run began: the lab's longest test (tests/playbooks/test_lab_tenant_apply.py)
# starts only when CI's 90 minutes leave it room (tests/conftest.py, ci_seconds_left).
export MEETFLEET_CI_STARTED="${MEETFLEET_CI_STARTED:-$(date +%s)}"
rm -rf "$LOGS"
mkdir -p "$LOGS"

# step NAME TIMEOUT_SECONDS COMMAND...: run, time and record one check in $LOGS/NAME.result
step() {
    local name="$1" limit="$2" start rc slug
    shift 2
    slug="${name// /-}"
    start=$(date +%s)
    set +e
    timeout --kill-after=30 "$limit" "$@" > "$LOGS/$slug.log" 2>&1
    rc=$?
    set -e
    local took=$(( $(date +%s) - start )) line
    if [ "$rc" -eq 0 ]; then
        line="PASS  $name (${took}s)"
        printf '\n\033[1m==> %s\033[0m (last lines of %s)\n' "$line" "$LOGS/$slug.log"
        tail -n 15 "$LOGS/$slug.log"
    else
        local why="exit $rc"
        [ "$rc" -eq 124 ] && why="timed out after ${limit}s"
        [[ "$name" == pytest* ]] && [ "$rc" -eq 5 ] && why="no tests were collected (exit 5)"
        line="FAIL  $name (${took}s): $why"
        printf '\n\033[1m==> %s\033[0m\n' "$line"
        cat "$LOGS/$slug.log"
    fi
    echo "$line" > "$LOGS/$slug.result"
}

# Molecule scenarios need the podman settings and the lab image (setup.sh made them); this
# also removes molecule containers a killed run left stale.
step "lab prepare" 1800 meetfleet lab prepare

# pytest is every test of tests/, in two steps: what needs no lab, then what does (marker lab).
# The lab tests that bring up labs of their own (own label, network and ports: tests/lab,
# tests/deploy) run here, after the fast ones, beside the main lab's lane.
OWN_LABS=(tests/lab tests/deploy)
lane_checks() {
    step ruff 300 ruff check .
    step yamllint 300 yamllint .
    step ansible-lint 900 ansible-lint --offline
    step pytest 1200 python -m pytest -q -m "not lab" tests
    step "pytest lab own labs" 1800 python -m pytest -q --durations=10 -m lab "${OWN_LABS[@]}"
}

# The longest lane (2347 s in the last full run, before tests/playbooks/test_lab_tenant_apply.py, which takes
# 1430 s alone on a quiet machine: three limited applies): every lab test on inventories/lab (configuring a
# fresh lab with `meetfleet lab apply` once, conftest.applied_lab, then `lab apply --check` and the tests
# reading it, then a member onboarded, applied again and removed).
lane_lab() {
    step "pytest lab" 5100 python -m pytest -q -rs --durations=15 -m lab tests "${OWN_LABS[@]/#/--ignore=}"
}

# The molecule scenarios, in an order that balances two lanes when dealt alternately (times of the last full
# run, 2026-12-02, docs/testing.md: monitoring 965 s, base 1165, capacity_exporter 306, keycloak 609, coturn 445,
# bbb 217, nextcloud 324, greenlight 238, gateway 152: lanes of 2192 and 2229 s), each lane running its
# scenarios one after another. A third lane was tried: on this machine's two cores it slowed the others more
# than it saved.
scenario_order=(monitoring base capacity_exporter keycloak coturn bbb nextcloud greenlight gateway)
scenarios=()
for name in "${scenario_order[@]}"; do
    [ -e "molecule/$name/molecule.yml" ] && scenarios+=("$name")
done
for file in molecule/*/molecule.yml; do
    [ -e "$file" ] || continue
    name="$(basename "$(dirname "$file")")"
    [[ " ${scenarios[*]} " == *" $name "* ]] || scenarios+=("$name")
done
[ "${#scenarios[@]}" -gt 0 ] || echo "NONE  molecule: no scenario found in molecule/*/molecule.yml" > "$LOGS/molecule.result"

lane_molecule() {  # lane_molecule LANE(0|1): every other scenario, from LANE
    local i
    for (( i = $1; i < ${#scenarios[@]}; i += 2 )); do
        step "molecule ${scenarios[$i]}" 2700 molecule test -s "${scenarios[$i]}"
    done
}

lane_checks &
checks_pid=$!
lane_lab &
lab_pid=$!
lane_molecule 0 &
molecule0_pid=$!
lane_molecule 1 &
molecule1_pid=$!
wait "$checks_pid" || true
wait "$lab_pid" || true
wait "$molecule0_pid" || true
wait "$molecule1_pid" || true

printf '\n\033[1m==> summary\033[0m\n'
failed=0
shopt -s nullglob
for log in "$LOGS"/*.log; do
    # a check whose log exists but left no result was killed mid-way: a failure
    [ -e "${log%.log}.result" ] || echo "FAIL  $(basename "${log%.log}"): ended without a result" > "${log%.log}.result"
done
results=("$LOGS"/*.result)
[ "${#results[@]}" -gt 0 ] || { echo "  no check ran"; failed=1; }
for result in "${results[@]}"; do
    line="$(cat "$result")"
    printf '  %s\n' "$line"
    [[ "$line" == PASS* ]] || failed=1
done
if [ "$failed" -ne 0 ]; then
    echo "test.sh: FAILED"
    exit 1
fi
echo "test.sh: all passed"
