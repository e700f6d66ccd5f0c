"""pyinfra's bootstrap deploy against a real lab host over SSH, run twice."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import LAB_INVENTORY, REPO

pytestmark = [pytest.mark.lab, pytest.mark.slow]

if shutil.which("podman") is None:
    pytest.skip("podman is not installed (bash scripts/setup.sh installs it)", allow_module_level=True)

BIN = Path(sys.executable).parent
HOST, PORT = "t-boot.labtest", 22911
ENV = {**os.environ, "MEETFLEET_LAB_LABEL": "boottest", "MEETFLEET_LAB_NETWORK": "meetfleet-boottest",
       "NO_COLOR": "1"}


def run(*cmd: str, inventory: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / cmd[0]), *cmd[1:]], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**ENV, "MEETFLEET_INVENTORY": str(inventory)})


@pytest.fixture(scope="module")
def one_host_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    inventory = tmp_path_factory.mktemp("boot") / "inventories" / "lab"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "host_vars").mkdir()
    for name in ("group_vars/all/connection.yml", "group_vars/all/fleet.yml"):
        shutil.copy(LAB_INVENTORY / name, inventory / name)
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"turn": {"hosts": {HOST: None}}}}}))
    (inventory / "host_vars" / f"{HOST}.yml").write_text(
        f"fleet_region: ca\nfleet_provider: static\nansible_port: {PORT}\n")
    up = run("meetfleet", "lab", "up", "--inventory", str(inventory), inventory=inventory)
    assert up.returncode == 0, up.stdout + up.stderr
    yield inventory
    run("meetfleet", "lab", "down", "--inventory", str(inventory), inventory=inventory)


def pyinfra(inventory: Path, *args: str) -> subprocess.CompletedProcess:
    return run("pyinfra", "deploy/inventory.py", "deploy/bootstrap.py", *args, inventory=inventory)


def grand_total(output: str) -> tuple[int, int, int]:
    """(success, error, no change) from pyinfra's results table."""
    line = next(ln for ln in output.splitlines() if "Grand total" in ln)
    cells = [int(c) if c.isdigit() else 0 for c in re.split(r"\s{2,}", line.strip())[1:]]
    return cells[1], cells[2], cells[3]


def test_bootstrap_converges_then_changes_nothing(one_host_lab: Path) -> None:
    first = pyinfra(one_host_lab, "-y")
    assert first.returncode == 0, first.stdout + first.stderr
    assert grand_total(first.stdout + first.stderr)[1] == 0

    probe = "hostname; command -v python3; command -v sudo; dpkg-query -W -f='${Status}' python3-apt"
    host = subprocess.run(["podman", "exec", HOST, "sh", "-c", probe],
                          capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert host[0] == HOST
    assert host[1:3] == ["/usr/bin/python3", "/usr/bin/sudo"]
    assert " ".join(host[3:]) == "install ok installed"

    second = pyinfra(one_host_lab, "-y")
    assert second.returncode == 0, second.stdout + second.stderr
    success, error, unchanged = grand_total(second.stdout + second.stderr)
    assert (success, error) == (0, 0), second.stdout
    assert unchanged == 2


def test_dry_run_shows_without_changing(one_host_lab: Path) -> None:
    dry = pyinfra(one_host_lab, "--dry")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    output = dry.stdout + dry.stderr
    assert "Detected changes" in output
    assert "Beginning operation run" not in output
