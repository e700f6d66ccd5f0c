"""The sysadmins' first journey, for real in the lab: a second Canadian BBB server is
added by editing the inventory only, configured by playbooks/bbb.yml limited to it, and
then seen by the capacity exporter.

The inventory is a copy of inventories/lab; the new host gets its own container on the
lab's network (`meetfleet lab up`), is configured over SSH like any real host (bbb role in
lab mode, with the LAB STAND-IN for BBB's API since BBB cannot run here), and the
exporter on the lab's monitoring host, redeployed from the edited inventory by
playbooks/monitoring.yml, polls it by name over the lab network as it would poll a real
server. Its /metrics is read from this machine through the container's address.
Afterwards the extra container is removed and the monitoring host redeployed from
inventories/lab.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import LAB_INVENTORY, REPO

pytestmark = [pytest.mark.lab, pytest.mark.slow]

if shutil.which("podman") is None:
    pytest.skip("podman is not installed (bash scripts/setup.sh installs it)", allow_module_level=True)

BIN = Path(sys.executable).parent
NEW_HOST = "bbb-ca-2.lab"
NEW_PORT = 22999
MONITOR = "monitor.lab"
EXPORTER_PORT = 9840
ENV = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1"}


def run(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=REPO, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def playbook(inventory: Path, name: str, *extra: str) -> subprocess.CompletedProcess:
    return run("ansible-playbook", "-i", str(inventory), str(REPO / "playbooks" / name), *extra)


def recap(output: str, host: str) -> dict[str, int]:
    match = re.search(rf"^{re.escape(host)}\s*:\s*(.*)$", output, re.MULTILINE)
    assert match, f"no PLAY RECAP line for {host}"
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def add_canadian_server(inventory: Path) -> None:
    """What the runbook (docs/regional-server.md) tells a sysadmin to edit: two files."""
    hosts = inventory / "hosts.yml"
    text = hosts.read_text()
    anchor = "        bbb-ca-1.lab:\n"
    assert anchor in text, "hosts.yml no longer lists bbb-ca-1.lab under bbb"
    hosts.write_text(text.replace(anchor, anchor + f"        {NEW_HOST}:\n", 1))
    (inventory / "host_vars" / f"{NEW_HOST}.yml").write_text(
        "# Second Canadian server, handed over by a partner (Hetzner has no Canadian location).\n"
        f"fleet_region: ca\nfleet_provider: static\nansible_port: {NEW_PORT}\n")


def remove_container(name: str) -> None:
    subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("regional")
    copy = root / "inventories" / "lab"
    # vault.yml is copied too: the existing lab hosts keep the secrets they run with.
    shutil.copytree(LAB_INVENTORY, copy)
    # The lab inventory finds its SSH key at inventory_dir/../../.lab, as in the repository.
    (root / ".lab").symlink_to(REPO / ".lab", target_is_directory=True)
    remove_container(NEW_HOST)  # leftover of an interrupted run
    add_canadian_server(copy)
    yield copy
    remove_container(NEW_HOST)
    # Put the monitoring host back on the real lab inventory (best effort).
    playbook(LAB_INVENTORY, "monitoring.yml")


def test_edited_inventory_is_valid(inventory: Path):
    result = run("meetfleet", "inventory", "check", "--inventory", str(inventory))
    assert result.returncode == 0, result.stdout + result.stderr
    shown = run("meetfleet", "inventory", "show", "--inventory", str(inventory), "--json")
    assert NEW_HOST in shown.stdout


def test_lab_up_creates_the_new_host(inventory: Path):
    result = run("meetfleet", "lab", "up", "--inventory", str(inventory), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    vault = yaml.safe_load((inventory / "group_vars" / "all" / "vault.yml").read_text())
    assert "vault_bbb_secret_bbb_ca_2_lab" in vault
    ping = run("ansible", "-i", str(inventory), NEW_HOST, "-m", "ansible.builtin.ping", timeout=120)
    assert ping.returncode == 0, ping.stdout + ping.stderr


def test_bbb_playbook_configures_only_the_new_host_and_twice_changes_nothing(inventory: Path):
    first = playbook(inventory, "bbb.yml", "--limit", NEW_HOST)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr
    assert recap(first.stdout, NEW_HOST)["failed"] == 0
    assert re.findall(r"^(\S+)\s*: ok=", first.stdout, re.MULTILINE) == [NEW_HOST]
    second = playbook(inventory, "bbb.yml", "--limit", NEW_HOST)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr
    assert recap(second.stdout, NEW_HOST)["changed"] == 0, second.stdout[-4000:]
    secret = yaml.safe_load((inventory / "group_vars" / "all" / "vault.yml").read_text())[
        "vault_bbb_secret_bbb_ca_2_lab"]
    assert secret not in first.stdout + first.stderr + second.stdout + second.stderr


REACH_NEW_SERVER = f"""
- name: The monitoring host asks the new server's API by name, with its vault secret
  hosts: {MONITOR}
  gather_facts: false
  tasks:
    - name: getMeetings on {NEW_HOST} as the exporter calls it
      ansible.builtin.uri:
        url: "{{{{ hostvars['{NEW_HOST}'].fleet_bbb_api_url }}}}/getMeetings?checksum={{{{
               ('getMeetings' ~ hostvars['{NEW_HOST}'].bbb_secret) | hash('sha256') }}}}"
        return_content: true
        timeout: 10
      register: reach_answer
      no_log: true
    - name: It answers SUCCESS
      ansible.builtin.assert:
        that: "'<returncode>SUCCESS</returncode>' in reach_answer.content"
"""


def test_monitoring_host_reaches_the_new_server_by_name(inventory: Path, tmp_path: Path):
    play = tmp_path / "reach.yml"
    play.write_text(REACH_NEW_SERVER)
    result = run("ansible-playbook", "-i", str(inventory), str(play), timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr


def _monitor_address() -> str:
    out = subprocess.run(["podman", "inspect", MONITOR, "--format",
                          "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert out, f"{MONITOR} has no address on a podman network"
    return out[0]


def _server_up(metrics_text: str, server: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for family in text_string_to_metric_families(metrics_text)
            for s in family.samples if s.name == "meetfleet_server_up" and s.labels.get("server") == server]


def test_exporter_sees_the_new_server(inventory: Path):
    # pip on monitor.lab trusts what this machine's pip trusts: `lab up` sees to it.
    deployed = playbook(inventory, "monitoring.yml")
    assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr
    password = yaml.safe_load((inventory / "group_vars" / "all" / "vault.yml").read_text())[
        "vault_exporter_basic_auth_password"]
    url = f"http://{_monitor_address()}:{EXPORTER_PORT}/metrics"
    deadline, samples, last_error = time.monotonic() + 120, [], ""
    with httpx.Client(timeout=5, auth=("prometheus", password)) as client:
        while time.monotonic() < deadline:
            try:
                answer = client.get(url)
                answer.raise_for_status()
                samples = _server_up(answer.text, NEW_HOST)
                if samples and samples[0][1] == 1:
                    break
            except httpx.HTTPError as exc:
                last_error = repr(exc)
            time.sleep(3)
    assert samples, f"no meetfleet_server_up for {NEW_HOST} at {url} {last_error}"
    labels, value = samples[0]
    assert labels["region"] == "ca"
    assert value == 1, f"{NEW_HOST} is known to the exporter but not up"
