"""What the monitoring host probes, as Ansible evaluates the monitoring role's own variables
for the lab and example inventories: every Greenlight site (each member's own, the shared
one) at /health_check, labelled with its tenant and host; Keycloak and Nextcloud by host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_INVENTORY, LAB_INVENTORY, REPO

ROLE = REPO / "roles" / "monitoring"
PLAY = """
- hosts: monitoring
  gather_facts: false
  connection: local
  vars_files: [{defaults}, {vars}]
  tasks:
    - ansible.builtin.copy:
        content: "{{{{ monitoring_probe_jobs | to_json }}}}"
        dest: {out}
        mode: "0644"
      delegate_to: localhost
"""


def probe_targets(inventory: Path, tmp_path: Path, *extra: str) -> dict[str, dict]:
    out = tmp_path / "jobs.json"
    play = tmp_path / "play.yml"
    play.write_text(PLAY.format(defaults=ROLE / "defaults/main.yml", vars=ROLE / "vars/main.yml", out=out))
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                             *extra, str(play)], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "ANSIBLE_FORCE_COLOR": "0"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    jobs = {job["name"]: job for job in json.loads(out.read_text())}
    return {t["target"]: t["labels"] for t in jobs["probe-sites"]["targets"]}


@pytest.mark.parametrize("inventory", [LAB_INVENTORY, EXAMPLE_INVENTORY], ids=["lab", "example"])
def test_every_greenlight_site_is_probed_with_its_tenant_and_host(inventory: Path, tmp_path: Path):
    import yaml

    tenants = yaml.safe_load((inventory / "group_vars/all/tenants.yml").read_text())["fleet_tenants"]
    shared = yaml.safe_load((inventory / "group_vars/all/sso.yml").read_text())["fleet_sso"]["shared_greenlight"]
    expected = {f"https://{t['origin_server_names'][0]}/health_check": {
        "kind": "greenlight", "tenant": name, "server": t["greenlight"]}
        for name, t in tenants.items() if t.get("greenlight")}
    shared_host = shared.removeprefix("https://").rstrip("/")
    expected[f"https://{shared_host}/health_check"] = {"kind": "greenlight", "tenant": "shared",
                                                       "server": shared_host}
    targets = probe_targets(inventory, tmp_path)
    greenlight = {target: labels for target, labels in targets.items() if labels["kind"] == "greenlight"}
    assert greenlight == expected
    assert len(expected) >= 3  # both inventories have members with their own Greenlight, and the shared one
    assert {labels["kind"] for labels in targets.values()} == {"greenlight", "keycloak", "nextcloud"}
    # Keycloak: the fleet's realm as members reach it; roles/keycloak's nginx refuses the master realm
    realm = yaml.safe_load((inventory / "group_vars/all/sso.yml").read_text())["fleet_sso"]["realm"]
    keycloak = [target for target, labels in targets.items() if labels["kind"] == "keycloak"]
    assert keycloak and all(t.endswith(f"/realms/{realm}/.well-known/openid-configuration") for t in keycloak)


def test_a_fleet_without_greenlight_probes_none(tmp_path: Path):
    targets = probe_targets(LAB_INVENTORY, tmp_path, "-e", '{"fleet_tenants": {}, "fleet_sso": {}}')
    assert [t for t, labels in targets.items() if labels["kind"] == "greenlight"] == []
