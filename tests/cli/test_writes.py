"""Writes the commands make: --force never skips the server's state; bad names never reach placement."""

from __future__ import annotations

from pathlib import Path

import pytest

from meetfleet.fleet import load_inventory
from tests.cli.conftest import EU1, SERVERS, Standin
from tests.helpers import flat, run, snapshot

EU2 = "bbb-eu-2.example.coop"


@pytest.mark.parametrize("verb", ["cordon", "drain"])
def test_forced_move_to_a_server_taking_no_tenants_is_refused(example_copy: Path, verb: str) -> None:
    assert run("server", verb, EU2, "--inventory", str(example_copy)).exit_code == 0
    before = snapshot(example_copy)
    result = run("tenant", "move", "bakery-collective", "--to", EU2, "--force", "--inventory", str(example_copy))
    assert result.exit_code == 1, result.output
    state = {"cordon": "cordoned", "drain": "draining"}[verb]
    assert f"{EU2} is {state}: it takes no new tenants, even with --force" in flat(result.output)
    assert snapshot(example_copy) == before


def test_forced_move_to_a_down_server_is_refused(example_copy: Path, standin: Standin) -> None:
    region = SERVERS[EU2][0]
    standin.body = standin.body.replace(f'meetfleet_server_up{{region="{region}",server="{EU2}"}} 1',
                                        f'meetfleet_server_up{{region="{region}",server="{EU2}"}} 0')
    before = snapshot(example_copy)
    result = run("tenant", "move", "bakery-collective", "--to", EU2, "--force", "--inventory", str(example_copy),
                 "--exporter", standin.url)
    assert result.exit_code == 1, result.output
    assert f"{EU2} is down (meetfleet_server_up is 0)" in flat(result.output)
    assert snapshot(example_copy) == before


def test_forced_move_to_an_up_server_skips_the_capacity_check(example_copy: Path, standin: Standin) -> None:
    # eu-2 cannot take bakery-collective by capacity (test_json_errors: target_cannot_take); --force moves it.
    result = run("tenant", "move", "bakery-collective", "--to", EU2, "--force", "--inventory", str(example_copy),
                 "--exporter", standin.url)
    assert result.exit_code == 0, result.output
    assert f"moved tenant bakery-collective: {EU1} -> {EU2}" in result.output
    assert standin.requests == ["/metrics"]  # read once, for the server's up


def test_forced_move_without_a_source_says_up_was_not_checked(example_copy: Path) -> None:
    result = run("tenant", "move", "bakery-collective", "--to", EU2, "--force", "--inventory", str(example_copy))
    assert result.exit_code == 0, result.output
    assert f"no capacity source, so whether {EU2} is up was not checked" in flat(result.stderr)


@pytest.mark.parametrize("name", ["Bad_Name", "trailing-hyphen-", "trailing.", "x" * 300, "caf\u00e9"])
def test_bad_tenant_names_are_refused_before_placement(example_copy: Path, standin: Standin, name: str) -> None:
    before = snapshot(example_copy)
    result = run("tenant", "add", name, "--plan", "small", "--region", "ca", "--inventory", str(example_copy),
                 "--exporter", standin.url)
    assert result.exit_code == 2, result.output
    assert "is not a valid tenant name" in flat(result.output)
    assert standin.requests == []  # no capacity source was asked
    assert snapshot(example_copy) == before


def test_add_records_the_members_mail_domains(example_copy: Path, standin: Standin) -> None:
    result = run("tenant", "add", "print-coop", "--plan", "small", "--region", "ca",
                 "--sso-domain", "print.example.org", "--sso-domain", "druck.example.de",
                 "--inventory", str(example_copy), "--exporter", standin.url)
    assert result.exit_code == 0, result.output
    assert load_inventory(example_copy).tenants["print-coop"].sso_domains == ("print.example.org", "druck.example.de")
    taken = run("tenant", "add", "print-coop-2", "--plan", "small", "--region", "ca", "--sso-domain",
                "print.example.org", "--inventory", str(example_copy), "--exporter", standin.url)
    assert taken.exit_code == 2 and "print.example.org" in flat(taken.output)  # one member per domain
