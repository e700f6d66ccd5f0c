"""The playbooks as Ansible reads them, without touching any host.

- every playbook passes `--syntax-check` against both inventories;
- site.yml reaches every inventory host exactly once (so base runs once everywhere);
- the bbb and stand-in roles' check phase refuses what it must, run in check mode on
  this machine (nothing can change here, and the refusal happens before any change).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_INVENTORY, LAB_INVENTORY, REPO

BIN = Path(sys.executable).parent
PLAYBOOKS = sorted((REPO / "playbooks").glob("*.yml"))
ENV = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1"}


def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=REPO, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def test_the_host_kind_playbooks_exist():
    assert {p.name for p in PLAYBOOKS} >= {"site.yml", "base.yml", "bbb.yml", "turn.yml", "monitoring.yml"}


@pytest.mark.parametrize("inventory", [EXAMPLE_INVENTORY, LAB_INVENTORY], ids=["example", "lab"])
@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: p.name)
def test_syntax_check(playbook: Path, inventory: Path):
    result = run("ansible-playbook", "-i", str(inventory), "--syntax-check", str(playbook))
    assert result.returncode == 0, result.stderr


def _inventory_hosts(inventory: Path) -> dict[str, list[str]]:
    result = run("ansible-inventory", "-i", str(inventory), "--list")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    return {group: data[group].get("hosts", []) for group in data if group not in ("_meta", "all")}


def test_example_inventory_has_every_host_kind():
    groups = _inventory_hosts(EXAMPLE_INVENTORY)
    assert "bbb-ca-1.example.coop" in groups["bbb"]
    for kind in ("bbb", "turn", "greenlight", "keycloak", "nextcloud", "monitoring"):
        assert groups[kind], f"no host in group {kind}"


def _hosts_per_play(playbook: Path, inventory: Path) -> dict[str, list[str]]:
    result = run("ansible-playbook", "-i", str(inventory), "--list-hosts", str(playbook))
    assert result.returncode == 0, result.stderr
    plays: dict[str, list[str]] = {}
    current = None
    for line in result.stdout.splitlines():
        if match := re.match(r"\s*play #\d+ \((.*)\): (.*?)\s+TAGS", line):
            current = match.group(2)
            plays[current] = []
        elif current and (match := re.match(r"\s{6}(\S+)$", line)):
            plays[current].append(match.group(1))
    return plays


@pytest.mark.parametrize("inventory", [EXAMPLE_INVENTORY, LAB_INVENTORY], ids=["example", "lab"])
def test_site_reaches_every_host_exactly_once(inventory: Path):
    every_host = {h for hosts in _inventory_hosts(inventory).values() for h in hosts}
    plays = _hosts_per_play(REPO / "playbooks" / "site.yml", inventory)
    reached = [h for hosts in plays.values() for h in hosts]
    assert sorted(reached) == sorted(every_host), plays
    bbb_hosts = set(_inventory_hosts(inventory)["bbb"])
    assert set(plays["BigBlueButton servers"]) == bbb_hosts


def _refusal(tmp_path: Path, role: str, variables: dict) -> subprocess.CompletedProcess:
    """Apply `role` to this machine in check mode; its check phase must refuse."""
    playbook = tmp_path / "play.yml"
    variables = {"ansible_python_interpreter": sys.executable, **variables}
    playbook.write_text(json.dumps([{"name": "check phase", "hosts": "localhost", "gather_facts": False,
                                     "vars": variables, "roles": [role]}]))
    return run("ansible-playbook", "-i", "localhost,", "-c", "local", "--check", str(playbook))


GOOD_SECRET = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(("role", "variables", "message"), [
    ("bbb", {"bbb_mode": "install", "bbb_secret": GOOD_SECRET},
     "BigBlueButton 3.0 needs Ubuntu 22.04"),
    ("bbb", {"bbb_mode": "lab", "bbb_secret": GOOD_SECRET},
     "fleet_lab is not true"),
    ("bbb", {"bbb_mode": "configure", "bbb_secret": GOOD_SECRET},
     "/usr/bin/bbb-conf is missing"),
    ("bbb", {"bbb_mode": "upgrade", "bbb_secret": GOOD_SECRET},
     "value of bbb_mode must be one of: install, configure, lab, got: upgrade"),
    ("bbb", {"fleet_lab": True, "bbb_secret": "CHANGE_ME"},
     "bbb_secret for localhost is missing, a placeholder or malformed"),
    ("bbb", {"fleet_lab": True, "bbb_secret": GOOD_SECRET, "fleet_bbb_checksum_algorithm": "sha1",
             "bbb_supported_checksum_algorithms": ["sha256"]},
     "bbb_checksum_algorithm (sha1) must be one of bbb_supported_checksum_algorithms (sha256)"),
    ("bbb", {"fleet_lab": True, "bbb_secret": GOOD_SECRET, "bbb_web_overrides": {"securitySalt": "x"}},
     "bbb_web_overrides must not set securitySalt"),
    ("bbb", {"fleet_lab": True, "bbb_secret": GOOD_SECRET, "bbb_turn_servers": [{"host": "turn.example.org"}]},
     "bbb_turn_servers[0] needs `host` and `secret`"),
    ("bbb_api_standin", {"bbb_secret": GOOD_SECRET},
     "bbb_api_standin is a LAB STAND-IN for BBB's API and localhost is not a lab host"),
], ids=["install-not-ubuntu", "lab-without-fleet-lab", "configure-without-bbb", "unknown-mode",
        "placeholder-secret", "checksum-not-supported", "salt-in-overrides", "turn-without-secret",
        "standin-not-lab"])
def test_check_phase_refuses(tmp_path: Path, role: str, variables: dict, message: str):
    result = _refusal(tmp_path, role, variables)
    assert result.returncode == 2, result.stdout
    assert message in " ".join((result.stdout + result.stderr).split()), result.stdout
    assert GOOD_SECRET not in result.stdout + result.stderr


# BBB release lines: each runs on one Ubuntu release only; this machine (Debian 12) is
# neither, so install and configure-ready checks must refuse it naming the chosen line's
# Ubuntu, and only that line's (not the other's) as the requirement.
@pytest.mark.parametrize(("release", "needs", "not_needs"), [
    ("4.0", "BigBlueButton 4.0 needs Ubuntu 24.04 (noble)", "BigBlueButton 3.0 needs"),
    (4.0, "BigBlueButton 4.0 needs Ubuntu 24.04 (noble)", "BigBlueButton 3.0 needs"),  # unquoted YAML
    ("3.0", "BigBlueButton 3.0 needs Ubuntu 22.04 (jammy)", "BigBlueButton 4.0 needs"),
], ids=["4.0", "4.0-as-float", "3.0"])
def test_install_refuses_a_host_without_the_release_ubuntu(tmp_path: Path, release, needs: str, not_needs: str):
    result = _refusal(tmp_path, "bbb", {"bbb_mode": "install", "bbb_release": release, "bbb_secret": GOOD_SECRET})
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, result.stdout
    assert f"bbb_mode=install with bbb_release={float(release)} on localhost, which runs Debian" in output
    assert needs in output
    assert not_needs not in output
    # both lines named, so the operator sees which Ubuntu each one needs
    assert "Release lines: 3.0 on Ubuntu 22.04, 4.0 on Ubuntu 24.04." in output
    assert GOOD_SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("release", ["3.1", "4.1", "noble-400"])
def test_unknown_release_is_refused(tmp_path: Path, release: str):
    result = _refusal(tmp_path, "bbb", {"bbb_mode": "install", "bbb_release": release, "bbb_secret": GOOD_SECRET})
    assert result.returncode == 2, result.stdout
    assert f"value of bbb_release must be one of: 3.0, 4.0, got: {release}" in " ".join(
        (result.stdout + result.stderr).split()), result.stdout


def test_lab_mode_with_release_4_passes_the_os_check(tmp_path: Path):
    # Lab mode installs nothing, so the Ubuntu check does not apply; it still needs fleet_lab.
    result = _refusal(tmp_path, "bbb", {"bbb_mode": "lab", "bbb_release": "4.0", "bbb_secret": GOOD_SECRET})
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, result.stdout
    assert "fleet_lab is not true" in output
    assert "needs Ubuntu" not in output
