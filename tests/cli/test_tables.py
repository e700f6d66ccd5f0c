"""Tables never cut a name or a number: piped (full width) and in an 80-column terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Standin
from tests.conftest import REPO
from tests.helpers import run

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def in_terminal(*args: str, columns: int = 80) -> str:
    """`meetfleet ARGS` on a pseudo-terminal COLUMNS wide: what a person at a terminal sees."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "MEETFLEET_PROMETHEUS_URL": "", "MEETFLEET_EXPORTER_URL": ""}
    process = subprocess.Popen([sys.executable, "-m", "meetfleet.cli.main", *args], stdin=follower,
                               stdout=follower, stderr=follower, env=env, cwd=REPO, close_fds=True)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert process.wait(60) in (0, 1), out.decode()
    return ANSI.sub("", out.decode()).replace("\r", "")


def _rows(output: str) -> dict[str, list[str]]:
    """Each line starting with a name, split into its cells' words."""
    return {line.split()[0]: line.split() for line in output.splitlines() if line.strip()}


def _expected_capacity_rows(inventory: Path, standin: Standin) -> dict[str, list[str]]:
    data = json.loads(run("capacity", "--inventory", str(inventory), "--exporter", standin.url, "--json").stdout)
    rows = {}
    for s in data["servers"]:
        rows[s["server"]] = [s["server"], s["region"], s["state"], "up", f"{s['load_now']:.0f}",
                             f"{s['observed_peak']:.0f}", f"{s['recent_load']:.0f}", str(s["capacity"]),
                             f"{s['spare']:.0f}", "-", str(len(s["tenants"]))]
    assert any(float(r[8]) < 0 for r in rows.values())  # a negative number is among them
    return rows


def _assert_whole(output: str, expected: dict[str, list[str]]) -> None:
    assert "…" not in output, output
    rows = _rows(output)
    for name, cells in expected.items():
        assert rows.get(name) == cells, f"{name}: {rows.get(name)} != {cells}\n{output}"


@pytest.mark.parametrize("how", ["piped", "terminal"])
def test_capacity_table_keeps_every_name_and_number_whole(example_copy: Path, standin: Standin, how: str) -> None:
    expected = _expected_capacity_rows(example_copy, standin)
    args = ["capacity", "--inventory", str(example_copy), "--exporter", standin.url]
    output = in_terminal(*args) if how == "terminal" else run(*args, env={"COLUMNS": "80"}).output
    _assert_whole(output, expected)
    if how == "piped":  # a pipe gets the title and the legend on one line each, unwrapped
        assert f"Capacity (load units; source exporter {standin.url}/metrics, headroom 10%)" in output.splitlines()


@pytest.mark.parametrize("how", ["piped", "terminal"])
def test_placement_table_keeps_every_name_and_number_whole(example_copy: Path, standin: Standin, how: str) -> None:
    common = ["--plan", "small", "--region", "ca", "--inventory", str(example_copy), "--exporter", standin.url]
    data = json.loads(run("place", *common, "--json").stdout)
    expected = {c["server"]: [c["server"], c["region"], c["state"], "up", str(c["capacity"]),
                              f"{c['observed_peak']:.0f}", f"{sum(c['recent_tenants'].values()):.0f}",
                              f"{c['spare']:.0f}", f"{c['spare_after']:.0f}", "-", "-"]
                for c in data["candidates"]}
    args = ["place", *common, "--explain"]
    output = in_terminal(*args) if how == "terminal" else run(*args, env={"COLUMNS": "80"}).output
    _assert_whole(output, expected)


@pytest.mark.parametrize("how", ["piped", "terminal"])
def test_inventory_tables_keep_names_whole_and_wrap_free_text(example_copy: Path, how: str) -> None:
    args = ["inventory", "show", "--inventory", str(example_copy)]
    output = in_terminal(*args) if how == "terminal" else run(*args, env={"COLUMNS": "80"}).output
    assert "…" not in output
    rows = _rows(output)
    fleet = json.loads(run("inventory", "show", "--inventory", str(example_copy), "--json").stdout)
    for name, host in fleet["hosts"].items():
        assert rows[name][:2] == [name, host["region"]], output
        if host["bbb"]:
            assert host["bbb"]["api_url"] in output
    for name, tenant in fleet["tenants"].items():
        assert rows[name][:3] == [name, tenant["plan"], tenant["region"]], output
    # Free text wraps at spaces in a terminal, whole words kept; piped, it is on one line.
    description = fleet["regions"]["ca"]["description"]
    if how == "piped":
        assert description in output
    else:
        assert all(word in output.split() for word in description.split())
