#!/usr/bin/env bash
# One command: set up this machine, bring up the local lab, run the main job on it, and
# show the whole loop: the fleet's capacity as the exporter sees it, and one placement.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
export PATH="$REPO/.venv/bin:$PATH"

meetfleet lab up --inventory inventories/lab
# The main job: the whole fleet configured from the inventory (base everywhere, coturn,
# BBB in lab mode with its API stand-in carrying a synthetic load, the gateway, Keycloak,
# Nextcloud, the capacity exporter on the monitoring host). `lab apply` runs the playbooks
# site.yml imports side by side, the monitoring one last: what
# `ansible-playbook -i inventories/lab playbooks/site.yml` does, in about half the time.
meetfleet lab apply --inventory inventories/lab
ansible -i inventories/lab all -m ansible.builtin.ping -o
meetfleet lab status --inventory inventories/lab

# The loop closed: capacity read where the inventory says (fleet_capacity_source: the
# Prometheus on monitor.lab, scraping the exporter), then where a new small tenant in the
# EU would go, and why. The first scrape may still be under way right after a (re)start.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if meetfleet capacity --inventory inventories/lab --json > /dev/null 2>&1; then break; fi
    sleep 3
done
meetfleet capacity --inventory inventories/lab
meetfleet place --plan small --region eu --explain --inventory inventories/lab
