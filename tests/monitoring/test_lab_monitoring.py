"""The lab's monitoring host for real: playbooks/monitoring.yml on monitor.lab, then
`meetfleet capacity` with no flags reads the lab's fleet_capacity_source, monitor.lab's
Prometheus (published on 127.0.0.1:19090), and fills in every server's tightest hour of
the week from the backfilled weeks of synthetic load plus what Prometheus scrapes.

Reads the session's configured lab (conftest.applied_lab: every playbook, monitoring.yml last).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.lab, pytest.mark.slow]

if shutil.which("podman") is None:
    pytest.skip("podman is not installed (bash scripts/setup.sh installs it)", allow_module_level=True)

BIN = Path(sys.executable).parent
ENV = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1"}
PROMETHEUS = "http://127.0.0.1:19090"
LAB_SERVERS = {"bbb-eu-1.lab", "bbb-eu-2.lab", "bbb-ca-1.lab"}
HOUR = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d:00 \S+$|^every hour$")


def _run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=REPO, env=ENV, capture_output=True, text=True, timeout=timeout)


def _query(expr: str) -> list[dict]:
    answer = httpx.get(f"{PROMETHEUS}/api/v1/query", params={"query": expr}, timeout=10)
    answer.raise_for_status()
    return answer.json()["data"]["result"]


def test_prometheus_scrapes_the_exporter_and_keeps_the_placement_window(applied_lab) -> None:
    flags = httpx.get(f"{PROMETHEUS}/api/v1/status/flags", timeout=10).json()["data"]
    assert int(flags["storage.tsdb.retention.time"].removesuffix("d")) >= 35
    # Both at once: right after monitoring.yml restarts Prometheus, the series kept in its
    # TSDB still answer while the freshly loaded targets have not been scraped yet.
    deadline = time.monotonic() + 120
    while True:
        up = {r["metric"]["server"]: r["value"][1] for r in _query('meetfleet_server_up{instance!="lab-backfill"}')}
        targets = httpx.get(f"{PROMETHEUS}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        exporter = [t["health"] for t in targets if t["labels"]["job"] == "meetfleet-capacity"]
        if (set(up) == LAB_SERVERS and exporter == ["up"]) or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert set(up) == LAB_SERVERS and set(up.values()) == {"1"}, up
    assert exporter == ["up"]  # with its basic auth


def test_backfilled_history_is_marked_synthetic(applied_lab) -> None:
    weeks_ago = _query('count_over_time(meetfleet_server_load_units{synthetic="lab-backfill"}[1h] offset 21d)')
    assert {r["metric"]["server"] for r in weeks_ago} == LAB_SERVERS
    # Scraped series are not marked: the marker tells the replay from what was measured.
    assert not _query('meetfleet_server_load_units{instance!="lab-backfill",synthetic!=""}')


def test_capacity_with_no_flags_reads_monitor_lab_prometheus_with_tightest_hours(applied_lab) -> None:
    done = _run(str(BIN / "meetfleet"), "capacity", "--json", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["source"].startswith("prometheus") and "127.0.0.1:19090" in report["source"], report["source"]
    servers = {s["server"]: s for s in report["servers"]}
    assert set(servers) == LAB_SERVERS
    for server in servers.values():
        assert server["up"] is True, server
        assert server["tightest_hour"] and HOUR.match(server["tightest_hour"]), server
        assert server["observed_peak"] > 0, server  # weeks of office hours, not an idle snapshot
    # The same in the table a person reads: every server with its tightest hour filled in.
    table = _run(str(BIN / "meetfleet"), "capacity", timeout=120)
    assert table.returncode == 0, table.stdout + table.stderr
    for name in LAB_SERVERS:
        line = next(line for line in table.stdout.splitlines() if line.lstrip().startswith(name))
        assert re.search(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d:00|every hour", line), line


def test_place_reads_it_too(applied_lab) -> None:
    done = _run(str(BIN / "meetfleet"), "place", "--plan", "small", "--region", "eu", "--json", timeout=120)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    decision = json.loads(done.stdout)
    assert "127.0.0.1:19090" in json.dumps(decision)
