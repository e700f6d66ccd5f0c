"""What the lab tests share to read the lab's hosts with a throwaway play (the lab itself is
conftest.applied_lab): Keycloak's admin sign-in (tasks for a play on the keycloak hosts, with
roles/keycloak's defaults loaded), and running such a play to collect what each host
reported as its `seen` fact (`reported`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import LAB_INVENTORY, REPO

BIN = Path(sys.executable).parent
KEYCLOAK_DEFAULTS = REPO / "roles/keycloak/defaults/main.yml"
ENV = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1"}

# The permanent admin's token as `token` (its password from the lab vault), for the admin API.
KEYCLOAK_SIGN_IN = """\
    - name: Sign the permanent admin in
      ansible.builtin.uri:
        url: "{{ keycloak_admin_url }}/realms/master/protocol/openid-connect/token"
        method: POST
        body_format: form-urlencoded
        body: {client_id: admin-cli, grant_type: password, username: "{{ keycloak_admin_user }}",
               password: "{{ vault_keycloak_admin_password }}"}
        timeout: 30
      register: token
      no_log: true
"""


def reported(play_text: str, play_dir: Path) -> dict[str, dict]:
    """Run the play against the lab inventory; each host's `seen` fact, by host."""
    play = play_dir / "read.yml"
    play.write_text(play_text)
    read = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(LAB_INVENTORY), str(play)], cwd=REPO,
                          capture_output=True, text=True, timeout=600,
                          env={**ENV, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    assert read.returncode == 0, read.stdout[-6000:] + read.stderr[-3000:]
    facts: dict[str, dict] = {}
    for play_result in json.loads(read.stdout)["plays"]:
        for task in play_result["tasks"]:
            for host, result in task["hosts"].items():
                if "seen" in result.get("ansible_facts", {}):
                    facts[host] = result["ansible_facts"]["seen"]
    return facts
