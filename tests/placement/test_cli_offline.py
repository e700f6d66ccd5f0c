"""The placement commands' bad input, state changes and refused writes: no capacity source needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meetfleet.fleet import ServerState, load_inventory
from tests.helpers import flat, run, snapshot

EU2 = "bbb-eu-2.example.coop"




@pytest.mark.parametrize(("verb", "state"), [("cordon", "cordoned"), ("drain", "draining"), ("uncordon", "active")])
def test_server_state_commands_write_the_inventory(example_copy: Path, verb: str, state: str) -> None:
    if verb == "uncordon":
        run("server", "cordon", EU2, "--inventory", str(example_copy))
    result = run("server", verb, EU2, "--inventory", str(example_copy), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["state"], data["changed"], data["tenants"]) == (state, True, ["housing-federation"])
    assert load_inventory(example_copy).hosts[EU2].bbb.state == ServerState(state)


def test_drain_lists_the_tenants_to_move(example_copy: Path) -> None:
    result = run("server", "drain", EU2, "--inventory", str(example_copy))
    assert result.exit_code == 0, result.output
    assert f"{EU2}: active -> draining" in result.output
    assert "1 tenant(s) to move away: housing-federation" in result.output


def test_state_command_twice_changes_nothing_the_second_time(example_copy: Path) -> None:
    run("server", "cordon", EU2, "--inventory", str(example_copy))
    before = snapshot(example_copy)
    result = run("server", "cordon", EU2, "--inventory", str(example_copy))
    assert result.exit_code == 0
    assert "already cordoned" in result.output
    assert snapshot(example_copy) == before


def test_unknown_server_is_bad_input(example_copy: Path) -> None:
    before = snapshot(example_copy)
    result = run("server", "cordon", "bbb-eu-9.example.coop", "--inventory", str(example_copy))
    assert result.exit_code == 2
    assert "'bbb-eu-9.example.coop' is not a BBB server" in flat(result.output)
    assert snapshot(example_copy) == before


def test_state_change_on_an_invalid_inventory_is_refused(example_copy: Path) -> None:
    plans = example_copy / "group_vars/all/fleet.yml"
    plans.write_text(plans.read_text().replace("max_rooms: 20", "max_rooms: 0"))
    before = snapshot(example_copy)
    result = run("server", "cordon", EU2, "--inventory", str(example_copy))
    assert result.exit_code == 2
    assert "fleet_plans.medium.max_rooms" in result.output
    assert snapshot(example_copy) == before


def test_move_with_force_records_the_new_server(example_copy: Path) -> None:
    result = run("tenant", "move", "bakery-collective", "--to", EU2, "--force", "--inventory", str(example_copy))
    assert result.exit_code == 0, result.output
    assert "bbb-eu-1.example.coop -> bbb-eu-2.example.coop" in result.output
    assert load_inventory(example_copy).tenants["bakery-collective"].bbb_server == EU2


@pytest.mark.parametrize(("args", "words"), [
    (["tenant", "move", "nobody", "--to", EU2, "--force"], ["no tenant 'nobody'"]),
    (["tenant", "move", "bakery-collective", "--to", "bbb-eu-9.example.coop", "--force"],
     ["--to: 'bbb-eu-9.example.coop' is not a BBB server"]),
    (["tenant", "move", "bakery-collective", "--to", "bbb-ca-1.example.coop", "--force"],
     ["is in region 'ca', tenant bakery-collective in 'eu'"]),
    (["tenant", "add", "cafe-montreal", "--plan", "small", "--region", "ca"], ["'cafe-montreal' already exists"]),
    (["place", "--plan", "huge", "--region", "eu"], ["--plan: unknown plan 'huge'"]),
    (["place", "--plan", "small", "--region", "asia"], ["--region: unknown region 'asia'"]),
    (["place", "--plan", "small", "--region", "eu", "--timezone", "Mars/Olympus", "--exporter", "http://127.0.0.1:9"],
     ["--timezone: 'Mars/Olympus' is not a known time zone"]),
    (["tenant", "add", "mars-coop", "--plan", "small", "--region", "eu", "--timezone", "Mars/Olympus",
      "--exporter", "http://127.0.0.1:9"], ["--timezone: 'Mars/Olympus' is not a known time zone"]),
    (["place", "--plan", "small", "--region", "eu"], ["no capacity source", "--prometheus URL"]),
    (["place", "--plan", "small", "--region", "eu", "--window", "two weeks", "--exporter", "http://127.0.0.1:9"],
     ["--window", "is not a duration"]),
    (["capacity", "--headroom", "1.5"], ["--headroom"]),
])
def test_bad_input_exits_2_and_writes_nothing(example_copy: Path, args: list[str], words: list[str]) -> None:
    before = snapshot(example_copy)
    result = run(*args, "--inventory", str(example_copy))
    assert result.exit_code == 2, result.output
    for word in words:
        assert word in flat(result.output)
    assert snapshot(example_copy) == before


def test_forced_move_onto_a_retired_server_is_refused_by_validation(example_copy: Path) -> None:
    # The validator refuses tenants on retired servers; --force skips capacity, never that.
    host = example_copy / "host_vars/bbb-eu-1.example.coop.yml"
    tenants = example_copy / "group_vars/all/tenants.yml"
    tenants.write_text(tenants.read_text().replace("bbb_server: bbb-eu-1.example.coop", f"bbb_server: {EU2}"))
    host.write_text(host.read_text().replace("fleet_bbb_state: active", "fleet_bbb_state: retired"))
    before = snapshot(example_copy)
    result = run("tenant", "move", "bakery-collective", "--to", "bbb-eu-1.example.coop", "--force",
                 "--inventory", str(example_copy))
    assert result.exit_code == 2
    assert "refusing to write" in result.output
    assert "is retired and can hold no tenant" in result.output
    assert snapshot(example_copy) == before


@pytest.mark.parametrize("source", ["--prometheus", "--exporter"])
def test_unreachable_source_fails_clearly(example_copy: Path, source: str) -> None:
    result = run("place", "--plan", "small", "--region", "eu", source, "http://127.0.0.1:9", "--timeout", "2",
                 "--inventory", str(example_copy))
    assert result.exit_code == 1
    assert "cannot reach" in flat(result.output) and "127.0.0.1:9" in result.output


def test_source_from_the_environment(example_copy: Path) -> None:
    result = run("capacity", "--inventory", str(example_copy), "--timeout", "2",
                 env={"MEETFLEET_EXPORTER_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 1
    assert "cannot reach the exporter at http://127.0.0.1:9/metrics" in flat(result.output)
