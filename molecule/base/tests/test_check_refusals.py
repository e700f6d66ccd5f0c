"""base refuses bad input in its check phase, with a message naming the variable."""

import json
import os
import subprocess
from pathlib import Path

import pytest

CONTAINER = "meetfleet-molecule-base"
HERE = Path(__file__).parent
ROLES = HERE.parents[2] / "roles"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN8Rg1DaX/Z7xdXiAsUHPKp2kvlpw5H6R6kwNs84j9fZ test"


def _check(extra_vars: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(ROLES), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
           "ANSIBLE_PIPELINING": "1"}
    return subprocess.run(
        ["ansible-playbook", "-i", f"{CONTAINER},", "-c", "containers.podman.podman",
         "-e", json.dumps(extra_vars), str(HERE / "check_only.yml")],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )


@pytest.mark.parametrize(
    ("extra_vars", "expected"),
    [
        ({"base_admin_users": []}, "defines no present user with an SSH key"),
        ({"base_admin_users": [{"name": "root", "ssh_keys": [KEY]}]}, "base_admin_users entry root is invalid"),
        ({"base_admin_users": [{"name": "alice", "ssh_keys": ["not a key"]}]},
         "base_admin_users entry alice is invalid"),
        ({"base_admin_users": [{"name": "alice", "ssh_keys": [KEY]}],
          "bbb_firewall_ports": [{"port": "32768-16384", "proto": "udp"}]}, "bbb_firewall_ports has an invalid entry"),
        ({"base_admin_users": [{"name": "alice", "ssh_keys": [KEY]}], "x_firewall_ports": {"port": 80}},
         "x_firewall_ports is not a list"),
        ({"base_admin_users": [{"name": "alice", "ssh_keys": [KEY]}],
          "base_firewall_ports": [{"port": 80, "sources": ["example.org"]}]},
         "base_firewall_ports has an invalid entry"),
    ],
)
def test_bad_input_is_refused_with_the_variable_named(extra_vars, expected):
    result = _check(extra_vars)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, output[-2000:]
    assert expected in output, output[-2000:]


def test_good_input_passes_the_check_phase():
    result = _check({"base_admin_users": [{"name": "alice", "ssh_keys": [KEY]}],
                     "bbb_firewall_ports": [{"port": "16384-32768", "proto": "udp"}]})
    assert result.returncode == 0, result.stdout[-2000:]
