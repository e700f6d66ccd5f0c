"""Set-up's own check (meetfleet.lab.doctor): it names the missing package, and its
network check does for real what the lab needs (a container reaching another by name)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meetfleet.lab.doctor import REQUIREMENTS, check_binaries, find_binary

HIDDEN = "iptables"


def _path_hiding(tmp_path: Path, hidden: str) -> str:
    """A PATH with every required binary this machine has, except `hidden`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for req in REQUIREMENTS:
        found = shutil.which(req.binary)
        if found and req.binary != hidden and not (bin_dir / req.binary).exists():
            (bin_dir / req.binary).symlink_to(found)
    return str(bin_dir)


def _doctor(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    # The venv's interpreter by its absolute path: PATH only decides which tools it finds.
    return subprocess.run([sys.executable, "-m", "meetfleet.lab.doctor", *args], capture_output=True, text=True,
                          env={**os.environ, "PATH": path}, timeout=300, check=False)


def test_every_requirement_is_found_on_this_machine():
    # Set-up ran before the tests; anything missing here is a gap in scripts/setup.sh.
    missing = [c for c in check_binaries() if not c.ok]
    assert missing == []


def test_a_hidden_binary_fails_the_check_naming_its_package(tmp_path: Path):
    result = _doctor("--no-network", path=_path_hiding(tmp_path, HIDDEN))
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    assert [line.split()[2] for line in lines if line.startswith("MISSING")] == [HIDDEN]
    assert lines[-1].endswith("install: apt-get install iptables")


def test_json_names_the_missing_package(tmp_path: Path):
    result = _doctor("--no-network", "--json", path=_path_hiding(tmp_path, "debootstrap"))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["missing_packages"] == ["debootstrap"]
    failed = [c["name"] for c in report["checks"] if not c["ok"]]
    assert failed == ["binary debootstrap"]


def test_podman_helpers_are_found_off_the_path(tmp_path: Path):
    netavark = next(r for r in REQUIREMENTS if r.binary == "netavark")
    helper = tmp_path / "netavark"
    helper.write_text("")
    moved = type(netavark)(netavark.binary, netavark.package, netavark.used_by, (str(tmp_path),))
    assert find_binary(moved, which=lambda _: None) == str(helper)
    assert find_binary(type(netavark)("netavark", "netavark", "", ()), which=lambda _: None) is None


@pytest.mark.lab
def test_network_check_passes_with_podman_and_fails_without_iptables(tmp_path: Path):
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    good = _doctor(path=os.environ["PATH"])
    assert good.returncode == 0, good.stdout
    assert "ok       container network" in good.stdout
    # netavark looks for iptables on the PATH podman gives it: hidden, every network run fails,
    # which is what a fresh machine without the package did.
    bad = _doctor(path=_path_hiding(tmp_path, HIDDEN))
    assert bad.returncode == 1
    network = next(line for line in bad.stdout.splitlines() if "container network" in line)
    assert network.startswith("MISSING") and "netavark" in network
    leftovers = subprocess.run(["podman", "network", "ls", "--filter", "label=meetfleet.doctor=1", "--quiet"],
                               capture_output=True, text=True, check=True).stdout.split()
    assert leftovers == []
