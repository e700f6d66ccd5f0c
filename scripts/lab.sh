#!/usr/bin/env bash
# One command: set up this machine, bring up the local lab, run the main job on it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
export PATH="$REPO/.venv/bin:$PATH"

meetfleet lab up --inventory inventories/lab
# The main job: the whole fleet configured from the inventory (base everywhere, coturn,
# BBB in lab mode with its API stand-in, the capacity exporter on the monitoring host).
ansible-playbook -i inventories/lab playbooks/site.yml
ansible -i inventories/lab all -m ansible.builtin.ping -o
meetfleet lab status --inventory inventories/lab
