"""Placement against the real chain: BBB API test servers -> capacity exporter -> Prometheus.

Numbers come from the exporter's metrics (load units of the seeded meetings) and the
plans' expected loads: small 77.7, medium 310.8, large 932.4 (see expected.py).

And the readers against sources serving exactly what a test needs (canned answers over
real sockets): NaN, infinities and negative numbers as Prometheus and the exporter write
them, basic auth, TLS with a CA file.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from meetfleet.capacity_sources import SourceError
from meetfleet.capacity_sources.exporter import read_exporter
from meetfleet.capacity_sources.prometheus import hourly_server_query, read_prometheus
from meetfleet.fleet import load_inventory
from meetfleet.fleet.writer import set_tenant
from meetfleet.placement import place
from meetfleet.placement.profile import HOURS_PER_WEEK, hour_of_week
from tests.conftest import EXAMPLE_INVENTORY
from tests.helpers import flat, run, snapshot
from tests.placement import stack as lab
from tests.placement.fleets import fleet, server, tenant

pytestmark = pytest.mark.slow
EU1, EU2, CA1 = "bbb-eu-1.example.coop", "bbb-eu-2.example.coop", "bbb-ca-1.example.coop"
WINDOW = 16  # seconds; tenants have history after 8 (half the window)




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


def _set_policy(inventory: Path, policy: str) -> None:
    """fleet_placement_policy in the inventory's fleet-wide settings, as an operator writes it."""
    fleet_file = inventory / "group_vars" / "all" / "fleet.yml"
    fleet_file.write_text(fleet_file.read_text() + f"\nfleet_placement_policy: {policy}\n")
    assert load_inventory(inventory).placement_policy.value == policy


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
    servers = {s["server"]: s for s in json.loads(result.stdout)["servers"]}
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
    reasons = {c["server"]: c["excluded_because"] for c in json.loads(detail.stdout)["candidates"]}
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
    # over the window is still the highest. Judged by the load of the moment, eu-2 would
    # be the emptier (0 against about 100) and eu-1 the fuller; by the peaks it is the
    # converse. Most spare (the default) takes eu-1, the emptier by its peak.
    prometheus_stack.end_meetings(EU2, [f"housing-federation-{i}" for i in range(4)])
    deadline = time.monotonic() + 20
    while read_prometheus(prometheus_stack.prometheus_url, WINDOW).servers[EU2].load_now > 0:
        assert time.monotonic() < deadline, "the exporter never saw the meetings end"
        time.sleep(0.5)
    inventory = prometheus_stack.copy_inventory(tmp_path / "inv")
    result = run("place", "--plan", "small", "--region", "eu", "--inventory", str(inventory),
                 "--prometheus", prometheus_stack.prometheus_url, "--window", f"{WINDOW}s", "--json")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["chosen"] == EU1
    eu1, eu2 = (next(c for c in decision["candidates"] if c["server"] == s) for s in (EU1, EU2))
    assert eu2["load_now"] == 0
    assert eu2["observed_peak"] == pytest.approx(229.6, abs=0.1)
    assert eu1["recent_tenants"] == {} and eu2["recent_tenants"] == {}  # history covers them
    assert eu1["spare"] == pytest.approx(900 - eu1["observed_peak"], abs=0.1)
    # Packing (fleet_placement_policy: pack): both can take a small tenant even at its cap,
    # so the fuller one by its peak wins: eu-2.
    packing = tmp_path / "packing"
    shutil.copytree(inventory, packing)
    _set_policy(packing, "pack")
    result = run("place", "--plan", "small", "--region", "eu", "--inventory", str(packing),
                 "--prometheus", prometheus_stack.prometheus_url, "--window", f"{WINDOW}s", "--json")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["chosen"] == EU2
    assert all(c["safe_to_pack"] for c in decision["candidates"] if c["region"] == "eu")

    # A tenant recorded on eu-1 a moment ago has no series yet: its plan's expected peak
    # (large: 932.4) is added on top of eu-1's peak, which no longer fits; eu-2 wins.
    set_tenant(inventory, "newcomer", {"plan": "large", "region": "eu", "bbb_server": EU1}, create=True)
    result = run("place", "--plan", "small", "--region", "eu", "--inventory", str(inventory),
                 "--prometheus", prometheus_stack.prometheus_url, "--window", f"{WINDOW}s", "--json")
    decision = json.loads(result.stdout)
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


# --- through Prometheus with weeks of history: peaks per hour of the week ------------

DAY = 86400
FOUR_WEEKS = 28 * DAY


def _busy_in_european_mornings(t: float) -> float:
    """800 load units from 07:00 to 15:00 UTC on weekdays, 100 otherwise."""
    hour = hour_of_week(t)
    return 800.0 if hour // 24 < 5 and 7 <= hour % 24 < 15 else 100.0


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[lab.BackfilledPrometheus, Path, float]]:
    if not lab.PROMETHEUS.exists() or not (lab.PROMETHEUS.parent / "promtool").exists():
        pytest.skip("Debian's prometheus (with promtool) is not installed (apt-get install prometheus)")
    root = tmp_path_factory.mktemp("backfilled")
    inventory = root / "inventory"
    shutil.copytree(EXAMPLE_INVENTORY, inventory)
    for host in (EU1, EU2):
        host_file = inventory / "host_vars" / f"{host}.yml"
        host_file.write_text(host_file.read_text().replace("fleet_bbb_capacity: 400", "fleet_bbb_capacity: 1000"))
    set_tenant(inventory, "night-owls", {"plan": "small", "region": "eu", "bbb_server": EU2}, create=True)
    end = time.time() - 60
    start = end - FOUR_WEEKS - DAY
    owls_since = end - 2 * DAY
    fleet = load_inventory(inventory)
    series = {
        "meetfleet_server_up": {(("region", h.region), ("server", h.name)): (lambda t: 1)
                                for h in fleet.bbb_servers.values()},
        "meetfleet_server_load_units": {
            (("server", EU1),): _busy_in_european_mornings,
            (("server", EU2),): lambda t: 450.0,
            (("server", CA1),): lambda t: 100.0,
        },
        "meetfleet_tenant_load_units": {
            **{(("server", t.bbb_server), ("tenant", t.name)): (lambda t: 1.0)
               for t in fleet.tenants.values() if t.name != "night-owls"},
            # Placed two days ago; meets at 02:00-05:00 UTC.
            (("server", EU2), ("tenant", "night-owls")): lambda t: None if t < owls_since else (
                200.0 if 2 <= hour_of_week(t) % 24 < 5 else 0.0),
        },
    }
    prometheus = lab.start_backfilled(root, series, start, end)
    yield prometheus, inventory, end
    prometheus.stop()


def test_prometheus_gives_each_servers_peak_per_hour_of_the_week(backfilled) -> None:
    prometheus, _, _ = backfilled
    observed = read_prometheus(prometheus.url, FOUR_WEEKS)
    eu1 = observed.servers[EU1].profile
    assert eu1 is not None and len(eu1) == HOURS_PER_WEEK
    assert [eu1[h] for h in (3, 7, 14, 15, 2 * 24 + 10, 5 * 24 + 10)] == [100, 800, 800, 100, 800, 100]
    assert set(observed.servers[EU2].profile) == {450}
    assert observed.servers[EU1].peak_load == 800
    # Only the tenant whose series started within the window gets its own week.
    owls = observed.tenants["night-owls"]
    assert owls.profile is not None and owls.history_seconds == pytest.approx(2 * DAY, abs=3 * 3600)
    busy = {h for h, load in enumerate(owls.profile) if load > 0}
    assert set(owls.profile) == {0, 200} and len(busy) >= 6  # 02:00-05:00 UTC on the two days seen
    assert {h % 24 for h in busy} == {2, 3, 4}
    assert observed.tenants["bakery-collective"].profile is None
    assert observed.tenants["bakery-collective"].history_seconds_on[EU1] == pytest.approx(FOUR_WEEKS, rel=0.01)
    # A window under a week has no hour detail: the flat peak.
    assert read_prometheus(prometheus.url, 3 * DAY).servers[EU1].profile is None


def test_placement_compares_hours_of_the_week(backfilled, tmp_path: Path) -> None:
    prometheus, inventory, _ = backfilled
    common = ["--inventory", str(inventory), "--prometheus", prometheus.url, "--window", "28d", "--json"]
    berlin = json.loads(run("place", "--plan", "medium", "--region", "eu", *common).stdout)
    assert berlin["chosen"] == EU2
    eu1, eu2 = (next(c for c in berlin["candidates"] if c["server"] == s) for s in (EU1, EU2))
    # eu-1 is full in European mornings, exactly when a Berlin tenant would meet.
    assert re.fullmatch(r"would pass its capacity at (Mon|Tue|Wed|Thu|Fri) \d\d:00 Europe/Berlin "
                        r"\(spare 100 < expected 311\)", eu1["excluded_because"][0])
    # night-owls, placed two days ago, counts on eu-2: its plan's week, raised to its nights.
    assert eu2["recent_tenants"] == {"night-owls": pytest.approx(200)}
    assert eu2["spare"] == pytest.approx(900 - 450 - 200)
    # A Vancouver tenant meets during Europe's night: eu-1 has room, and keeps the most
    # spare once placed (100 at its own tightest hour, Europe's mornings; eu-2 62).
    vancouver = ["place", "--plan", "medium", "--region", "eu", "--timezone", "America/Vancouver", "--explain",
                 "--prometheus", prometheus.url, "--window", "28d"]
    result = run(*vancouver, "--inventory", str(inventory))
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert f"chosen: {EU1}" in text
    assert re.search(rf"{re.escape(EU1)}: chosen: the most spare capacity left once placed \(tightest hour: "
                     r"(Mon|Tue|Wed|Thu|Fri) \d\d:00 Europe/Berlin\)", text), text
    # Packing chooses it too, as the fuller server that stays safe even at the plan's cap
    # (eu-2's 250 cannot take 518).
    packing = tmp_path / "packing"
    shutil.copytree(inventory, packing)
    _set_policy(packing, "pack")
    result = run(*vancouver, "--inventory", str(packing))
    assert result.exit_code == 0, result.output
    assert re.search(rf"{re.escape(EU1)}: chosen: the fullest server safe to pack \(tightest hour: "
                     r"(Mon|Tue|Wed|Thu|Fri) \d\d:00 Europe/Berlin\)", flat(result.output)), result.output
    capacity = json.loads(run("capacity", "--inventory", str(inventory), "--prometheus", prometheus.url,
                              "--window", "28d", "--json").stdout)
    eu1_capacity = next(s for s in capacity["servers"] if s["server"] == EU1)
    assert eu1_capacity["spare"] == pytest.approx(100)
    assert eu1_capacity["tightest_hour"].endswith("Europe/Berlin")


def test_tenant_add_places_by_the_tenants_own_time_zone(backfilled, tmp_path: Path) -> None:
    prometheus, inventory, _ = backfilled
    copy = tmp_path / "inventory"
    shutil.copytree(inventory, copy)
    common = ["--inventory", str(copy), "--prometheus", prometheus.url, "--window", "28d"]
    result = run("tenant", "add", "pacific-choir", "--plan", "medium", "--region", "eu",
                 "--timezone", "America/Vancouver", *common)
    assert result.exit_code == 0, result.output
    recorded = load_inventory(copy).tenants["pacific-choir"]
    # Placed as `place --timezone America/Vancouver` places it (Europe's night is eu-1's free
    # time), not as a Berlin tenant (eu-2), and its time zone is recorded for later decisions.
    assert (recorded.bbb_server, recorded.timezone) == (EU1, "America/Vancouver")


# --- sources serving NaN, infinities, negative numbers; auth and TLS ------------------

BAD_VALUES = ("NaN", "+Inf", "-Inf", "-1", "-5000")
# "small-box" is full (800 of 900 usable) and cannot take a medium tenant (310.8); "big"
# can (1800 - 1400 = 400). Read as 0 (or as -1, -5000), small-box would have the most
# spare and win: the tests check that a bad value makes it unknown instead.
HEALTHY = {"up": {"small-box": "1", "big": "1"}, "load_now": {"small-box": "800", "big": "1400"},
           "peak": {"small-box": "800", "big": "1400"}, "server_hours": {"small-box": "800", "big": "1400"},
           # fresh: on small-box for two days, so it is asked for its own week.
           "tenant_first": {"fresh": None}, "tenant_now": {"fresh": "5"}, "tenant_peak": {"fresh": "20"},
           "tenant_hours": {"fresh": "20"}}
FLEET = fleet([server("small-box", capacity=1000), server("big", capacity=2000)],
              [tenant("fresh", "small-box", plan="small")])


def _prometheus_answer(values: dict[str, dict[str, str | None]]) -> lab.Answer:
    """Prometheus's query API answering the reader's queries from `values` (as it serialises them)."""
    def answer(path: str, params: dict[str, str]) -> tuple[int, str, str]:
        query, at = params["query"], float(params.get("time", time.time()))
        if path.endswith("/query_range"):
            key, label = ("server_hours", "server") if query == hourly_server_query() else ("tenant_hours", "tenant")
            start, end = float(params["start"]), float(params["end"])
            points = [[start + i * 3600, None] for i in range(int((end - start) // 3600) + 1)]
            result = [{"metric": {label: name}, "values": [[t, raw] for t, _ in points]}
                      for name, raw in values[key].items()]
            return 200, "application/json", json.dumps({"status": "success", "data": {"resultType": "matrix",
                                                                                      "result": result}})
        if "meetfleet_server_up" in query:
            key = "up"
        elif query == "max by (server) (meetfleet_server_load_units)":
            key = "load_now"
        elif query.startswith("max by (server) (max_over_time(meetfleet_server_load_units["):
            key = "peak" if query.endswith(f"[{FOUR_WEEKS}s]))") else "peak_this_hour"
        elif "timestamp(" in query:
            key = "tenant_first"
        elif query.startswith("max by (tenant, server)"):
            key = "tenant_now"
        else:
            key = "tenant_peak"
        result = []
        for name, raw in values.get(key, {}).items():
            labels = {"server": name} if key in ("up", "load_now", "peak", "peak_this_hour") else {"tenant": name}
            if key in ("tenant_first", "tenant_now"):
                labels["server"] = "small-box"
            if key == "tenant_first" and raw is None:
                raw = str(at - 2 * DAY)  # placed two days ago
            result.append({"metric": labels, "value": [at, raw]})
        if key == "peak_this_hour":
            result = [{"metric": {"server": n}, "value": [at, v]} for n, v in values["load_now"].items()]
        return 200, "application/json", json.dumps({"status": "success", "data": {"resultType": "vector",
                                                                                  "result": result}})
    return answer


@pytest.fixture(scope="module")
def canned() -> Iterator[lab.CannedServer]:
    source = lab.CannedServer(_prometheus_answer(HEALTHY))
    yield source
    source.stop()


def test_canned_prometheus_healthy_values_are_read_as_sent(canned: lab.CannedServer) -> None:
    canned.answer = _prometheus_answer(HEALTHY)
    observed = read_prometheus(canned.url, FOUR_WEEKS)
    assert observed.refused == {}
    assert observed.servers["small-box"].profile == (800.0,) * HOURS_PER_WEEK
    assert observed.tenants["fresh"].history_seconds == pytest.approx(2 * DAY, abs=5)
    decision = place(FLEET, observed, "medium", "eu")
    assert decision.chosen == "big"
    assert next(c for c in decision.candidates if c.server == "small-box").reasons[0].startswith(
        "would pass its capacity")


@pytest.mark.parametrize("raw", BAD_VALUES)
@pytest.mark.parametrize(("key", "meaning"), [
    ("up", "as its meetfleet_server_up"), ("load_now", "as its current load"), ("peak", "as its peak over the window"),
    ("server_hours", "as its peak in an hour of the week"), ("tenant_first", "as tenant fresh's first sample time"),
    ("tenant_now", "as tenant fresh's current load"), ("tenant_peak", "as tenant fresh's peak over the window"),
    ("tenant_hours", "as tenant fresh's peak in an hour of the week")])
def test_prometheus_value_that_is_no_measurement_makes_the_server_unknown(
        canned: lab.CannedServer, key: str, meaning: str, raw: str) -> None:
    values = {k: dict(v) for k, v in HEALTHY.items()}
    values[key][next(iter(values[key]))] = raw  # small-box's series, or fresh's (on small-box)
    canned.answer = _prometheus_answer(values)
    observed = read_prometheus(canned.url, FOUR_WEEKS)
    assert observed.refused == {"small-box": f"{raw} {meaning}"}
    assert "small-box" not in observed.servers
    # A bad tenant value drops the tenant too (it then counts at its plan); a bad server value does not.
    assert ("fresh" in observed.tenants) == (not key.startswith("tenant"))
    assert observed.servers["big"].peak_load == 1400
    for policy in ("most_spare", "pack"):
        decision = place(FLEET, observed, "medium", "eu", policy=policy)
        assert decision.chosen == "big"
        small_box = next(c for c in decision.candidates if c.server == "small-box")
        assert small_box.reasons[0] == f"unknown load (the capacity source served {raw} {meaning})"
        assert small_box.spare.up is None


EXPORTER_TEXT = """# TYPE meetfleet_server_up gauge
meetfleet_server_up{{server="small-box"}} {up}
meetfleet_server_up{{server="big"}} 1
# TYPE meetfleet_server_load_units gauge
meetfleet_server_load_units{{server="small-box"}} {load}
meetfleet_server_load_units{{server="big"}} 1400
# TYPE meetfleet_tenant_load_units gauge
meetfleet_tenant_load_units{{server="small-box",tenant="fresh"}} {tenant}
"""


def _exporter_answer(**values: str) -> lab.Answer:
    text = EXPORTER_TEXT.format(**{"up": "1", "load": "800", "tenant": "5", **values})
    return lambda path, params: (200, "text/plain; version=0.0.4", text)


@pytest.mark.parametrize("raw", BAD_VALUES)
@pytest.mark.parametrize(("field", "meaning"), [("up", "as its meetfleet_server_up"),
                                                ("load", "as its meetfleet_server_load_units"),
                                                ("tenant", "as tenant fresh's current load")])
def test_exporter_value_that_is_no_measurement_makes_the_server_unknown(field: str, meaning: str, raw: str) -> None:
    source = lab.CannedServer(_exporter_answer(**{field: raw}))
    try:
        observed = read_exporter(source.url)
    finally:
        source.stop()
    assert observed.refused == {"small-box": f"{raw} {meaning}"}  # written back as the exporter wrote it
    assert set(observed.servers) == {"big"}
    assert ("fresh" in observed.tenants) == (field != "tenant")
    decision = place(FLEET, observed, "medium", "eu")
    assert decision.chosen == "big"
    small_box = next(c for c in decision.candidates if c.server == "small-box")
    assert small_box.reasons[0] == f"unknown load (the capacity source served {raw} {meaning})"


def test_exporter_healthy_values_are_read_as_sent() -> None:
    source = lab.CannedServer(_exporter_answer())
    try:
        observed = read_exporter(source.url)
    finally:
        source.stop()
    assert observed.refused == {}
    assert observed.servers["small-box"].load_now == 800
    assert observed.tenants["fresh"].load_now_on == {"small-box": 5}


def test_readers_send_basic_auth_and_verify_tls_against_a_ca_file(tmp_path: Path) -> None:
    ca, cert, key = lab.test_ca(tmp_path)
    credentials = ("monitor", "s3cret")
    prometheus = lab.CannedServer(_prometheus_answer(HEALTHY), credentials=credentials, tls=(cert, key))
    exporter = lab.CannedServer(_exporter_answer(), credentials=credentials, tls=(cert, key))
    try:
        assert prometheus.url.startswith("https://")
        observed = read_prometheus(prometheus.url, FOUR_WEEKS, timeout=5, auth=credentials, verify=str(ca))
        assert observed.servers["big"].peak_load == 1400
        assert read_exporter(exporter.url, 5, credentials, verify=str(ca)).servers["big"].load_now == 1400
        # verify=False skips the check; the default checks against the system's CAs, which
        # do not know this one.
        assert read_prometheus(prometheus.url, FOUR_WEEKS, auth=credentials, verify=False).refused == {}
        assert read_exporter(exporter.url, auth=credentials, verify=False).refused == {}
        with pytest.raises(SourceError, match=r"cannot reach Prometheus.*CERTIFICATE_VERIFY_FAILED"):
            read_prometheus(prometheus.url, FOUR_WEEKS, auth=credentials)
        with pytest.raises(SourceError, match=r"cannot reach the exporter.*CERTIFICATE_VERIFY_FAILED"):
            read_exporter(exporter.url, auth=credentials)
        # Without the credentials, or with wrong ones: refused, and said so.
        with pytest.raises(SourceError, match="HTTP 401: missing or wrong credentials"):
            read_prometheus(prometheus.url, FOUR_WEEKS, verify=str(ca))
        with pytest.raises(SourceError, match="HTTP 401"):
            read_prometheus(prometheus.url, FOUR_WEEKS, auth=("monitor", "wrong"), verify=str(ca))
        with pytest.raises(SourceError, match="HTTP 401"):
            read_exporter(exporter.url, verify=str(ca))
        with pytest.raises(SourceError, match="cannot use the CA file"):
            read_prometheus(prometheus.url, FOUR_WEEKS, verify=str(tmp_path / "missing.pem"))
    finally:
        prometheus.stop()
        exporter.stop()
