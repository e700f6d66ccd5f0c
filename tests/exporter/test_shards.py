"""--shard I/N: N exporters split one fleet, every server (and tenant) reported by exactly one."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest
from click.testing import CliRunner

from capacity_exporter.config import ConfigError, build_targets, parse_shard, shard_fleet, shard_of
from capacity_exporter.main import main
from capacity_exporter.metrics import render
from capacity_exporter.poller import ExporterState
from meetfleet.fleet import load_inventory
from tests.exporter.conftest import SERVERS, FleetLab, parse_metrics, poll, secret_of


def test_shard_is_sha256_of_the_name_modulo_n() -> None:
    for name in ("bbb-a.test", "bbb-eu-1.example.coop", "été.example"):
        expected = int(hashlib.sha256(name.encode()).hexdigest()[:16], 16)
        assert [shard_of(name, n) for n in (1, 2, 3, 7)] == [expected % n for n in (1, 2, 3, 7)]


def _names(samples, metric: str) -> Counter[str]:
    return Counter(dict(labels)["server"] for (name, labels) in samples if name == metric)


def test_two_shards_report_every_server_and_tenant_exactly_once(lab: FleetLab) -> None:
    fleet = load_inventory(lab.inventory)
    targets = build_targets(fleet, {name: secret_of(name) for name in SERVERS}, lab.secrets_file)
    payloads = []
    for index in (0, 1):
        mine, tenants = shard_fleet(fleet, targets, index, 2)
        state = ExporterState(fleet, mine, render, tenants)
        poll(lab, state)
        payloads.append(parse_metrics(state.payload.decode()))
    everyone = {t.name for t in targets}
    polled = {t.name for t in targets if t.polled}
    capacity = sum((_names(p, "meetfleet_server_capacity_load_units") for p in payloads), Counter())
    up = sum((_names(p, "meetfleet_server_up") for p in payloads), Counter())
    assert capacity == Counter(everyone) and up == Counter(polled)  # each exactly once, retired included
    for name in polled:  # and by the shard its hash names
        shard = shard_of(name, 2)
        assert ("meetfleet_server_up", frozenset({"server": name, "region": "ca" if name == "bbb-c.test" else "eu"}
                                                   .items())) in payloads[shard]
    tenants = Counter(dict(labels)["tenant"] for p in payloads for (name, labels) in p
                      if name == "meetfleet_tenant_meetings")
    assert tenants == Counter(list(fleet.tenants))


def test_shards_partition_a_large_fleet_evenly() -> None:
    names = [f"bbb-{i}.example.coop" for i in range(3000)]
    counts = Counter(shard_of(name, 3) for name in names)
    assert sum(counts.values()) == 3000 and set(counts) == {0, 1, 2}
    assert all(900 < c < 1100 for c in counts.values()), counts


def test_once_json_of_two_shards_together_is_the_fleet(lab: FleetLab) -> None:
    seen: list[str] = []
    for shard in ("0/2", "1/2"):
        result = CliRunner().invoke(main, ["--inventory", str(lab.inventory), "--secrets", str(lab.secrets_file),
                                           "--once", "--json", "--shard", shard, "--workers", "1"],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        seen += list(data["servers"])
        assert all(s["up"] in (True, None) for s in data["servers"].values())
    assert sorted(seen) == sorted([*SERVERS, "bbb-old.test"])


@pytest.mark.parametrize("value", ["2/2", "1/0", "-1/2", "x", "1", "0/2/3", "0/1001", " 0/2"])
def test_bad_shard_is_refused_naming_the_option(lab: FleetLab, value: str) -> None:
    result = CliRunner().invoke(main, ["--inventory", str(lab.inventory), "--secrets", str(lab.secrets_file),
                                       "--once", "--shard", value], catch_exceptions=False)
    assert result.exit_code == 2
    assert "--shard" in result.stderr and "Traceback" not in result.output
    with pytest.raises(ConfigError):
        parse_shard(value)
