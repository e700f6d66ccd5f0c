"""A real two-host lab, built from a temporary inventory, reached over SSH by Ansible.

Its own host names, ports, network and label keep it apart from the real lab
(inventories/lab) and from anything else on the machine; `lab down` must prove that.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from meetfleet.fleet import load_inventory
from meetfleet.lab.hosts import SECRETS_LABEL
from meetfleet.lab.podman import process_alive
from tests.conftest import LAB_INVENTORY, REPO

pytestmark = [pytest.mark.lab, pytest.mark.slow]

if shutil.which("podman") is None:
    pytest.skip("podman is not installed (bash scripts/setup.sh installs it)", allow_module_level=True)

BIN = Path(sys.executable).parent
HOSTS = {"t-a.labtest": 22901, "t-b.labtest": 22902}
LABEL = "labtest"
NETWORK = "meetfleet-labtest"
UNRELATED = "t-unrelated.labtest"
ENV = {**os.environ, "MEETFLEET_LAB_LABEL": LABEL, "MEETFLEET_LAB_NETWORK": NETWORK,
       "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1"}


def meetfleet(*args: str, inventory: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    extra = ["--inventory", str(inventory)] if inventory else []
    return subprocess.run([str(BIN / "meetfleet"), "lab", *args, *extra], env=ENV, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def ansible(inventory: Path, pattern: str, *module: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ansible"), "-i", str(inventory), pattern, *module], env=ENV, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def podman_names() -> set[str]:
    out = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return set(out.split())


def two_host_inventory(root: Path) -> Path:
    inventory = root / "inventories" / "lab"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "host_vars").mkdir()
    for name in ("group_vars/all/connection.yml", "group_vars/all/fleet.yml", "group_vars/bbb.yml"):
        shutil.copy(LAB_INVENTORY / name, inventory / name)
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
        "bbb": {"hosts": {"t-a.labtest": None}},
        "monitoring": {"hosts": {"t-b.labtest": None}},
    }}}))
    for host, port in HOSTS.items():
        (inventory / "host_vars" / f"{host}.yml").write_text(
            f"fleet_region: eu\nfleet_provider: static\nansible_port: {port}\n")
    return inventory


@pytest.fixture(scope="module")
def test_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    meetfleet("down")  # leftovers of an interrupted earlier run carry the same label
    subprocess.run(["podman", "rm", "-f", UNRELATED], capture_output=True, timeout=60)
    inventory = two_host_inventory(tmp_path_factory.mktemp("labtest"))
    yield inventory
    meetfleet("down")
    subprocess.run(["podman", "rm", "-f", "-t", "0", UNRELATED], capture_output=True, timeout=60)


def test_up_makes_hosts_ansible_reaches_over_ssh(test_lab: Path) -> None:
    first = meetfleet("up", "--json", inventory=test_lab)
    assert first.returncode == 0, first.stderr
    outcomes = {s["item"]: s["outcome"] for s in json.loads(first.stdout)["steps"]}
    assert outcomes["host t-a.labtest"] == "created"
    assert outcomes["host t-b.labtest"] == "created"
    assert "t-a.labtest: answers SSH on 127.0.0.1:22901" in first.stderr

    vault = test_lab / "group_vars" / "all" / "vault.yml"
    assert stat.S_IMODE(vault.stat().st_mode) == 0o600
    secrets = yaml.safe_load(vault.read_text())
    lab_id = secrets.pop("lab_secrets_id")  # not a secret: the vault's id, which containers carry
    assert set(secrets) == {"vault_bbb_secret_t_a_labtest", "vault_coturn_secret",
                            "vault_exporter_basic_auth_password"}
    assert all(len(v) == 64 for v in secrets.values())
    for host in HOSTS:
        label_format = f'{{{{index .Config.Labels "{SECRETS_LABEL}"}}}}'
        label = subprocess.run(["podman", "inspect", host, "--format", label_format],
                               check=True, capture_output=True, text=True, timeout=60).stdout.strip()
        assert label == lab_id
    assert secrets["vault_bbb_secret_t_a_labtest"] not in first.stdout + first.stderr

    ping = ansible(test_lab, "all", "-m", "ansible.builtin.ping")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    for host in HOSTS:
        assert f"{host} | SUCCESS" in ping.stdout


def test_hosts_reach_each_other_by_name_and_debian_mirrors(test_lab: Path) -> None:
    resolve = ansible(test_lab, "t-a.labtest", "-m", "ansible.builtin.command", "-a", "getent hosts t-b.labtest")
    assert resolve.returncode == 0, resolve.stdout + resolve.stderr
    assert "t-b.labtest" in resolve.stdout.split(">>", 1)[1]
    apt = ansible(test_lab, "t-b.labtest", "-m", "ansible.builtin.command",
                  "-a", "apt-get -o Acquire::http::Timeout=20 update", timeout=300)
    assert apt.returncode == 0, apt.stdout + apt.stderr
    assert "bookworm-security" in apt.stdout


def test_second_up_changes_nothing_and_status_is_healthy(test_lab: Path) -> None:
    again = meetfleet("up", "--json", inventory=test_lab)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["changed"] == 0
    assert {s["outcome"] for s in report["steps"]} == {"present"}

    status = meetfleet("status", "--json", inventory=test_lab)
    assert status.returncode == 0, status.stdout + status.stderr
    data = json.loads(status.stdout)
    assert data["healthy"] is True
    assert {(h["host"], h["container"], h["systemd"], h["ssh"]) for h in data["hosts"]} == {
        (host, "running", "running", True) for host in HOSTS}


def container_states(inventory: Path) -> dict[str, str]:
    """`lab status --json` of an unhealthy lab (exit 1): each host's container state."""
    status = meetfleet("status", "--json", inventory=inventory)
    assert status.returncode == 1, status.stdout + status.stderr
    return {h["host"]: h["container"] for h in json.loads(status.stdout)["hosts"]}


def up_repairs(inventory: Path) -> dict[str, dict[str, str]]:
    """`lab up --json` steps by item, once the lab is healthy again."""
    repaired = meetfleet("up", "--json", inventory=inventory)
    assert repaired.returncode == 0, repaired.stderr
    assert meetfleet("status", inventory=inventory).returncode == 0
    return {s["item"]: s for s in json.loads(repaired.stdout)["steps"]}


def test_up_repairs_only_what_is_missing(test_lab: Path) -> None:
    subprocess.run(["podman", "stop", "-t", "2", "t-a.labtest"], check=True, capture_output=True, timeout=120)
    subprocess.run(["podman", "rm", "-f", "t-b.labtest"], check=True, capture_output=True, timeout=120)
    assert container_states(test_lab) == {"t-a.labtest": "exited", "t-b.labtest": "missing"}

    outcomes = {item: step["outcome"] for item, step in up_repairs(test_lab).items()}
    assert outcomes.pop("host t-a.labtest") == "started"
    assert outcomes.pop("host t-b.labtest") == "created"
    assert set(outcomes.values()) == {"present"}


def test_up_recreates_a_host_whose_processes_were_killed_behind_podman(test_lab: Path) -> None:
    # What a sandbox that kills every process but keeps /run leaves behind (CI found it):
    # podman still says running, yet can neither exec, stop nor start the container.
    pids = subprocess.run(["podman", "inspect", "t-a.labtest", "--format", "{{.State.ConmonPid}} {{.State.Pid}}"],
                          check=True, capture_output=True, text=True, timeout=60).stdout.split()
    for pid in pids:
        os.kill(int(pid), 9)
    # The kernel ends a PID namespace's init only once every process in it is gone: under load
    # that takes a while, and until then the container still lives (CI saw it "running").
    deadline = time.monotonic() + 60
    while any(process_alive(int(pid)) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert container_states(test_lab) == {"t-a.labtest": "stale", "t-b.labtest": "running"}

    steps = up_repairs(test_lab)
    assert steps["host t-a.labtest"]["outcome"] == "recreated"
    assert "rerun the playbooks" in steps["host t-a.labtest"]["detail"]
    assert steps["host t-b.labtest"]["outcome"] == "present"
    resolve = ansible(test_lab, "t-b.labtest", "-m", "ansible.builtin.command", "-a", "getent hosts t-a.labtest")
    assert resolve.returncode == 0, resolve.stdout + resolve.stderr


def test_down_removes_exactly_the_lab(test_lab: Path) -> None:
    subprocess.run(["podman", "run", "-d", "--name", UNRELATED, "--label", "meetfleet.lab=labtest-other",
                    "localhost/meetfleet-lab:bookworm", "sleep", "600"],
                   check=True, capture_output=True, timeout=120)
    before = podman_names()
    assert set(HOSTS) <= before

    # --inventory: only that inventory's hosts; the network stays while t-a uses it
    only_b = test_lab.parent.parent / "only-b" / "lab"
    shutil.copytree(test_lab, only_b)
    (only_b / "host_vars" / "t-a.labtest.yml").unlink()
    (only_b / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
        "monitoring": {"hosts": {"t-b.labtest": None}}, "bbb": {"hosts": {}}}}}))
    one = meetfleet("down", "--json", inventory=only_b)
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout) == {"containers": ["t-b.labtest"], "networks": [], "images": []}

    down = meetfleet("down", "--json")
    assert down.returncode == 0, down.stderr
    removed = json.loads(down.stdout)
    assert removed == {"containers": ["t-a.labtest"], "networks": [NETWORK], "images": []}
    after = podman_names()
    assert not set(HOSTS) & after
    # Other engineers' containers come and go meanwhile; the unrelated one and the real
    # lab's (same label key, other value) must still be here.
    real_lab = set(load_inventory(LAB_INVENTORY).hosts)
    assert {UNRELATED, *(real_lab & before)} <= after
    assert subprocess.run(["podman", "network", "exists", NETWORK], timeout=60).returncode == 1

    gone = meetfleet("status", inventory=test_lab)
    assert gone.returncode == 1
    assert "missing" in gone.stdout


def test_prepare_removes_stale_molecule_containers_only() -> None:
    stale, alive = "meetfleet-molecule-stale-test", "meetfleet-molecule-alive-test"
    for name in (stale, alive):
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, timeout=60)
        subprocess.run(["podman", "run", "-d", "--name", name, "localhost/meetfleet-lab:bookworm", "sleep", "600"],
                       check=True, capture_output=True, timeout=120)
    try:
        pids = subprocess.run(["podman", "inspect", stale, "--format", "{{.State.ConmonPid}} {{.State.Pid}}"],
                              check=True, capture_output=True, text=True, timeout=60).stdout.split()
        for pid in pids:
            os.kill(int(pid), 9)
        prepared = meetfleet("prepare", "--json")
        assert prepared.returncode == 0, prepared.stderr
        removed = [s for s in json.loads(prepared.stdout)["steps"] if s["outcome"] == "removed"]
        assert [s["item"] for s in removed] == [f"container {stale}"]
        assert stale not in podman_names()
        assert alive in podman_names()
    finally:
        for name in (stale, alive):
            subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, timeout=60)
