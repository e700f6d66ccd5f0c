"""Placement against the real chain: BBB API test servers -> capacity exporter -> Prometheus.

Numbers come from the exporter's metrics (load units of the seeded meetings) and the
plans' expected loads: small 77.7, medium 310.8, large 932.4 (see expected.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from meetfleet.cli.main import cli
from meetfleet.fleet import load_inventory
from meetfleet.fleet.writer import set_tenant
from meetfleet.placement.exporter_metrics import read_exporter
from meetfleet.placement.prometheus import read_prometheus
from tests.fleet.test_inventory_cli import snapshot
from tests.placement import stack as lab

pytestmark = pytest.mark.slow
EU1, EU2 = "bbb-eu-1.example.coop", "bbb-eu-2.example.coop"
WINDOW = 16  # seconds; tenants have history after 8 (half the window)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), env={"MEETFLEET_PROMETHEUS_URL": "", "MEETFLEET_EXPORTER_URL": ""})


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def exporter_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab.Stack]:
    stack = lab.start(tmp_path_factory.mktemp("exporter-stack"), with_prometheus=False)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def prometheus_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab.Stack]:
    if not lab.PROMETHEUS.exists():
        pytest.skip("Debian's prometheus is not installed (apt-get install prometheus)")
    stack = lab.start(tmp_path_factory.mktemp("prometheus-stack"), with_prometheus=True)
    yield stack
    stack.stop()


# --- straight from the exporter: a snapshot ------------------------------------------


def test_capacity_from_the_exporter_replaces_tenants_current_load_by_their_expected_peak(
        exporter_stack: lab.Stack, tmp_path: Path) -> None:
    observed = read_exporter(exporter_stack.exporter_url)
    bakery = observed.tenants["bakery-collective"].load_now_on[EU1]
    school = observed.tenants["free-school-leipzig"].load_now_on[EU1]
    assert observed.servers[EU1].load_now == pytest.approx(bakery + school)
    inventory = exporter_stack.copy_inventory(tmp_path / "inv")
    result = run("capacity", "--inventory", str(inventory), "--exporter", exporter_stack.exporter_url, "--json")
    assert result.exit_code == 0, result.output
    servers = {s["server"]: s for s in json.loads(result.output)["servers"]}
    # No history in a snapshot: each tenant counts at its plan's expected peak.
    assert servers[EU1]["spare"] == pytest.approx(900 - 310.8 - 77.7, abs=0.2)
    assert servers[EU2]["spare"] == pytest.approx(900 - 932.4, abs=0.2)
    assert servers[EU1]["tenants"] == ["bakery-collective", "free-school-leipzig"]


def test_place_from_the_exporter(exporter_stack: lab.Stack, tmp_path: Path) -> None:
    inventory = exporter_stack.copy_inventory(tmp_path / "inv")
    result = run("place", "--plan", "small", "--region", "eu", "--inventory", str(inventory),
                 "--exporter", exporter_stack.exporter_url, "--explain")
    assert result.exit_code == 0, result.output
    assert f"chosen: {EU1}" in result.output
    assert "would pass its capacity" in flat(result.output)
    assert "other region" in flat(result.output)
    detail = run("place", "--plan", "small", "--region", "eu", "--inventory", str(inventory),
                 "--exporter", exporter_stack.exporter_url, "--json")
    reasons = {c["server"]: c["excluded_because"] for c in json.loads(detail.output)["candidates"]}
    assert reasons[EU1] == []
    assert reasons[EU2] == ["would pass its capacity (spare -32 < expected 78)"]
    assert reasons["bbb-ca-1.example.coop"] == ["other region (ca)"]


def test_nothing_fits_says_what_would_and_exits_1(exporter_stack: lab.Stack, tmp_path: Path) -> None:
    inventory = exporter_stack.copy_inventory(tmp_path / "inv")
    before = snapshot(inventory)
    result = run("tenant", "add", "big-union", "--plan", "large", "--region", "eu", "--inventory", str(inventory),
                 "--exporter", exporter_stack.exporter_url)
    assert result.exit_code == 1
    text = flat(result.output)
    assert "no server can take tenant big-union (large)" in text
    assert "a smaller plan would fit on bbb-eu-1.example.coop: small, medium" in text
    assert "fleet_bbb_capacity >= 1036" in text
    assert snapshot(inventory) == before


def test_move_checks_the_target_and_force_overrides(exporter_stack: lab.Stack, tmp_path: Path) -> None:
    inventory = exporter_stack.copy_inventory(tmp_path / "inv")
    before = snapshot(inventory)
    args = ["tenant", "move", "bakery-collective", "--to", EU2, "--inventory", str(inventory),
            "--exporter", exporter_stack.exporter_url]
    refused = run(*args)
    assert refused.exit_code == 1
    assert f"{EU2} cannot take tenant bakery-collective" in flat(refused.output)
    assert snapshot(inventory) == before
    assert run(*args, "--force").exit_code == 0
    assert load_inventory(inventory).tenants["bakery-collective"].bbb_server == EU2


# --- through Prometheus: peaks over the window and tenants' history --------------------


def _wait_for_history(stack: lab.Stack) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        observed = read_prometheus(stack.prometheus_url, WINDOW)
        if observed.tenants and min(t.history_seconds for t in observed.tenants.values()) >= 0.6 * WINDOW:
            return
        time.sleep(1)
    raise TimeoutError("Prometheus did not collect enough history")


def test_prometheus_placement_uses_the_peak_not_the_load_of_the_moment(
        prometheus_stack: lab.Stack, tmp_path: Path) -> None:
    _wait_for_history(prometheus_stack)
    # housing-federation's meetings end: eu-2 is now the emptiest server, but its peak
    # over the window is still the highest. A least-current-load rule would pick eu-2.
    prometheus_stack.end_meetings(EU2, [f"housing-federation-{i}" for i in range(4)])
    deadline = time.monotonic() + 20
    while read_prometheus(prometheus_stack.prometheus_url, WINDOW).servers[EU2].load_now > 0:
        assert time.monotonic() < deadline, "the exporter never saw the meetings end"
        time.sleep(0.5)
    inventory = prometheus_stack.copy_inventory(tmp_path / "inv")
    result = run("place", "--plan", "small", "--region", "eu", "--inventory", str(inventory),
                 "--prometheus", prometheus_stack.prometheus_url, "--window", f"{WINDOW}s", "--json")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["chosen"] == EU1
    eu1, eu2 = (next(c for c in decision["candidates"] if c["server"] == s) for s in (EU1, EU2))
    assert eu2["load_now"] == 0
    assert eu2["observed_peak"] == pytest.approx(229.6, abs=0.1)
    assert eu1["recent_tenants"] == {} and eu2["recent_tenants"] == {}  # history covers them
    assert eu1["spare"] == pytest.approx(900 - eu1["observed_peak"], abs=0.1)

    # A tenant recorded on eu-1 a moment ago has no series yet: its plan's expected peak
    # (large: 932.4) is added on top of eu-1's peak, which no longer fits; eu-2 wins.
    set_tenant(inventory, "newcomer", {"plan": "large", "region": "eu", "bbb_server": EU1}, create=True)
    result = run("place", "--plan", "small", "--region", "eu", "--inventory", str(inventory),
                 "--prometheus", prometheus_stack.prometheus_url, "--window", f"{WINDOW}s", "--json")
    decision = json.loads(result.output)
    assert decision["chosen"] == EU2, result.output
    eu1 = next(c for c in decision["candidates"] if c["server"] == EU1)
    assert eu1["recent_tenants"] == {"newcomer": pytest.approx(932.4)}
    assert any("would pass its capacity" in r for r in eu1["excluded_because"])

    # tenant add records the choice; with eu-2 cordoned nothing fits and nothing is written.
    added = run("tenant", "add", "choir-lyon", "--plan", "small", "--region", "eu", "--inventory", str(inventory),
                "--prometheus", prometheus_stack.prometheus_url, "--window", f"{WINDOW}s")
    assert added.exit_code == 0, added.output
    assert load_inventory(inventory).tenants["choir-lyon"].bbb_server == EU2
    assert run("server", "cordon", EU2, "--inventory", str(inventory)).exit_code == 0
    before = snapshot(inventory)
    refused = run("tenant", "add", "choir-nantes", "--plan", "small", "--region", "eu", "--inventory",
                  str(inventory), "--prometheus", prometheus_stack.prometheus_url, "--window", f"{WINDOW}s")
    assert refused.exit_code == 1
    assert f"uncordon {EU2}" in flat(refused.output)
    assert snapshot(inventory) == before
