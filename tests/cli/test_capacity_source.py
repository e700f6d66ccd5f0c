"""fleet_capacity_source: capacity with no flags, its precedence, its password and CA file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meetfleet.capacity_sources.resolve import Source, resolve_source
from meetfleet.fleet import load_inventory
from tests.cli.conftest import CA1, Standin
from tests.helpers import flat, run, snapshot

DEAD = "http://127.0.0.1:9"
PASSWORD = "s3cret-for-tests"


def configure(inventory: Path, url: str, **extra: str) -> None:
    lines = ["fleet_capacity_source:", "  kind: exporter", f"  url: {url}"]
    lines += [f"  {key}: {value}" for key, value in extra.items()]
    (inventory / "group_vars/all/capacity.yml").write_text("\n".join(lines) + "\n")


def test_capacity_place_and_add_need_no_flags(example_copy: Path, standin: Standin) -> None:
    configure(example_copy, f"{standin.url}/metrics")
    capacity = run("capacity", "--inventory", str(example_copy), "--json")
    assert capacity.exit_code == 0, capacity.output
    assert json.loads(capacity.stdout)["source"] == f"exporter {standin.url}/metrics"
    place = run("place", "--plan", "small", "--region", "ca", "--inventory", str(example_copy))
    assert place.exit_code == 0, place.output
    assert f"chosen: {CA1}" in place.output
    added = run("tenant", "add", "choir-montreal", "--plan", "small", "--region", "ca", "--inventory",
                str(example_copy))
    assert added.exit_code == 0, added.output
    assert load_inventory(example_copy).tenants["choir-montreal"].bbb_server == CA1


def test_flags_then_environment_then_inventory(example_copy: Path, standin: Standin) -> None:
    configure(example_copy, DEAD)
    common = ["capacity", "--inventory", str(example_copy), "--timeout", "1"]
    assert "cannot reach the exporter at http://127.0.0.1:9/metrics" in flat(run(*common).output)
    from_env = run(*common, env={"MEETFLEET_EXPORTER_URL": standin.url})
    assert from_env.exit_code == 0, from_env.output  # the environment beats the inventory
    configure(example_copy, standin.url)
    env_dead = {"MEETFLEET_EXPORTER_URL": DEAD}
    assert run(*common, env=env_dead).exit_code == 1  # ... and is used instead of it
    from_flag = run(*common, "--exporter", standin.url, "--json", env=env_dead)
    assert from_flag.exit_code == 0, from_flag.output  # a flag beats the environment
    assert json.loads(from_flag.stdout)["source"] == f"exporter {standin.url}/metrics"


def test_password_from_the_inventory_vault_variable(example_copy: Path, standin: Standin) -> None:
    standin.credentials = ("prometheus", PASSWORD)
    (example_copy / "group_vars/all/vault.yml").write_text(f"vault_capacity_password: {PASSWORD}\n")
    configure(example_copy, standin.url, username="prometheus", password_variable="vault_capacity_password")
    result = run("capacity", "--inventory", str(example_copy), "--json")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output


@pytest.mark.parametrize("variable", ["MEETFLEET_CAPACITY_PASSWORD", "MEETFLEET_EXPORTER_PASSWORD"])
def test_password_from_the_environment(example_copy: Path, standin: Standin, variable: str) -> None:
    standin.credentials = ("prometheus", PASSWORD)
    configure(example_copy, standin.url, username="prometheus")
    assert run("capacity", "--inventory", str(example_copy), env={variable: PASSWORD}).exit_code == 0
    wrong = run("capacity", "--inventory", str(example_copy), env={variable: "wrong"})
    assert wrong.exit_code == 1 and "HTTP 401" in wrong.output


def test_environment_credentials_serve_a_source_from_the_environment(standin: Standin, example_copy: Path) -> None:
    standin.credentials = ("ops", PASSWORD)
    env = {"MEETFLEET_EXPORTER_URL": standin.url, "MEETFLEET_CAPACITY_USERNAME": "ops",
           "MEETFLEET_CAPACITY_PASSWORD": PASSWORD}
    assert run("capacity", "--inventory", str(example_copy), env=env).exit_code == 0


def test_a_username_without_a_password_is_bad_input(example_copy: Path, standin: Standin) -> None:
    configure(example_copy, standin.url, username="prometheus")
    result = run("capacity", "--inventory", str(example_copy), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["kind"] == "bad_capacity_source"
    assert "MEETFLEET_CAPACITY_PASSWORD" in result.stderr
    assert standin.requests == []


def test_an_undefined_password_variable_is_bad_input_naming_it(example_copy: Path, standin: Standin) -> None:
    configure(example_copy, standin.url, username="prometheus", password_variable="vault_nowhere")
    result = run("capacity", "--inventory", str(example_copy), "--json")
    assert result.exit_code == 2, result.output
    problems = json.loads(result.stdout)["error"]["problems"]
    assert [p["key"] for p in problems] == ["vault_nowhere"]
    assert standin.requests == []


def test_ca_file_is_relative_to_the_inventory(example_copy: Path, tmp_path: Path, monkeypatch) -> None:
    (example_copy / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    configure(example_copy, "https://monitor.example.coop:9840/metrics", ca_file="ca.pem")
    monkeypatch.chdir(tmp_path)  # not the inventory's directory
    fleet = load_inventory(example_copy)
    source = resolve_source(None, None, fleet.capacity_source, example_copy, environ={})
    assert source == Source("exporter", "https://monitor.example.coop:9840/metrics",
                            f"fleet_capacity_source of {example_copy}", None, str(example_copy / "ca.pem"))
    # A flag's URL does not inherit the inventory's CA or credentials.
    assert resolve_source(None, "https://other.example/metrics", fleet.capacity_source, example_copy,
                          environ={}).verify is True


def test_a_missing_ca_file_is_bad_input(example_copy: Path) -> None:
    configure(example_copy, "https://monitor.example.coop:9840/metrics", ca_file="certs/none.pem")
    before = snapshot(example_copy)
    result = run("capacity", "--inventory", str(example_copy))
    assert result.exit_code == 2
    assert f"fleet_capacity_source.ca_file: {example_copy / 'certs/none.pem'} is not a file" in flat(result.output)
    assert snapshot(example_copy) == before


def test_no_source_names_all_three_ways(example_copy: Path) -> None:
    result = run("capacity", "--inventory", str(example_copy))
    assert result.exit_code == 2
    assert ("no capacity source: give --prometheus URL or --exporter URL, or set MEETFLEET_PROMETHEUS_URL or "
            "MEETFLEET_EXPORTER_URL, or set fleet_capacity_source (kind, url) in the inventory's group_vars/all"
            ) in flat(result.output)
