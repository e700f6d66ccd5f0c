"""--json: every outcome, errors and refusals included, is one JSON document on stdout.

The human message stays on stderr; the exit codes are README's (1 the work failed, 2 bad input).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from meetfleet.fleet.lock import inventory_lock
from meetfleet.lab.podman import LabError
from tests.cli.conftest import CA1, Standin
from tests.helpers import edit, run, snapshot

EU2 = "bbb-eu-2.example.coop"
DEAD = "http://127.0.0.1:9"


def error_of(result: Result, code: int, kind: str) -> dict:
    assert result.exit_code == code, result.output
    document = json.loads(result.stdout)  # exactly one document: json.loads refuses trailing text
    error = document["error"]
    assert (error["kind"], error["exit_code"]) == (kind, code), document
    assert error["message"]
    assert result.stderr.strip(), "people get the message on stderr"
    assert "Traceback" not in result.output
    return document


# (args, exit code, kind); {inv} is the inventory, {src} a working capacity source.
CASES = {
    # place
    "place unknown plan": (["place", "--plan", "huge", "--region", "eu", "{src}"], 2, "unknown_plan"),
    "place unknown region": (["place", "--plan", "small", "--region", "asia", "{src}"], 2, "unknown_region"),
    "place unknown timezone": (["place", "--plan", "small", "--region", "eu", "--timezone", "Mars/Olympus", "{src}"],
                               2, "unknown_timezone"),
    "place no source": (["place", "--plan", "small", "--region", "eu"], 2, "no_capacity_source"),
    "place unreachable": (["place", "--plan", "small", "--region", "eu", "--exporter", DEAD, "--timeout", "1"], 1,
                          "capacity_source_failed"),
    "place unreachable prometheus": (["place", "--plan", "small", "--region", "eu", "--prometheus", DEAD,
                                      "--timeout", "1"], 1, "capacity_source_failed"),
    "place nothing fits": (["place", "--plan", "small", "--region", "eu", "{src}"], 1, "nothing_fits"),
    "place bad window": (["place", "--plan", "small", "--region", "eu", "--window", "soon", "{src}"], 2, "bad_input"),
    "place bad headroom": (["place", "--plan", "small", "--region", "eu", "--headroom", "1.5"], 2, "usage"),
    "place missing plan": (["place", "--region", "eu"], 2, "usage"),
    "place unknown option": (["place", "--plan", "small", "--region", "eu", "--nope"], 2, "usage"),
    "place bad inventory": (["place", "--plan", "small", "--region", "eu", "{src}", "{broken}"], 2,
                            "invalid_inventory"),
    # capacity
    "capacity no source": (["capacity"], 2, "no_capacity_source"),
    "capacity unreachable": (["capacity", "--exporter", DEAD, "--timeout", "1"], 1, "capacity_source_failed"),
    "capacity bad timeout": (["capacity", "--timeout", "0"], 2, "usage"),
    "capacity bad inventory": (["capacity", "{src}", "{broken}"], 2, "invalid_inventory"),
    # tenant add
    "add exists": (["tenant", "add", "cafe-montreal", "--plan", "small", "--region", "ca", "{src}"], 2,
                   "tenant_exists"),
    "add bad name": (["tenant", "add", "Bad_Name", "--plan", "small", "--region", "ca", "{src}"], 2,
                     "bad_tenant_name"),
    "add bad greenlight": (["tenant", "add", "choir", "--plan", "small", "--region", "ca", "--greenlight",
                            "nowhere.example.coop", "{src}"], 2, "write_refused"),
    "add unknown plan": (["tenant", "add", "choir", "--plan", "huge", "--region", "ca", "{src}"], 2, "unknown_plan"),
    "add nothing fits": (["tenant", "add", "choir", "--plan", "large", "--region", "eu", "{src}"], 1,
                         "nothing_fits"),
    "add no source": (["tenant", "add", "choir", "--plan", "small", "--region", "ca"], 2, "no_capacity_source"),
    "add unreachable": (["tenant", "add", "choir", "--plan", "small", "--region", "ca", "--exporter", DEAD,
                         "--timeout", "1"], 1, "capacity_source_failed"),
    "add missing region": (["tenant", "add", "choir", "--plan", "small"], 2, "usage"),
    "add bad inventory": (["tenant", "add", "choir", "--plan", "small", "--region", "ca", "{src}", "{broken}"], 2,
                          "invalid_inventory"),
    # tenant move
    "move unknown tenant": (["tenant", "move", "nobody", "--to", EU2, "--force"], 2, "unknown_tenant"),
    "move unknown server": (["tenant", "move", "bakery-collective", "--to", "bbb-eu-9.example.coop", "--force"], 2,
                            "unknown_server"),
    "move other region": (["tenant", "move", "bakery-collective", "--to", "bbb-ca-1.example.coop", "--force"], 2,
                          "other_region"),
    "move cannot take": (["tenant", "move", "bakery-collective", "--to", EU2, "{src}"], 1, "target_cannot_take"),
    "move no source": (["tenant", "move", "bakery-collective", "--to", EU2], 2, "no_capacity_source"),
    "move missing --to": (["tenant", "move", "bakery-collective"], 2, "usage"),
    # server
    "cordon unknown server": (["server", "cordon", "bbb-eu-9.example.coop"], 2, "unknown_server"),
    "drain bad inventory": (["server", "drain", EU2, "{broken}"], 2, "invalid_inventory"),
    "uncordon unknown option": (["server", "uncordon", EU2, "--nope"], 2, "usage"),
    # inventory (its module is another's; its errors go through the same place)
    "show bad inventory": (["inventory", "show", "{inv}", "{broken}"], 2, "invalid_inventory"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_error_is_one_json_document(example_copy: Path, standin: Standin, case: str) -> None:
    args, code, kind = CASES[case]
    if "{broken}" in args:
        edit(example_copy / "group_vars/all/fleet.yml", "max_rooms: 20", "max_rooms: 0")
    before = snapshot(example_copy)
    argv = []
    for arg in args:
        argv += {"{src}": ["--exporter", standin.url], "{broken}": [], "{inv}": []}.get(arg, [arg])
    argv += ["--inventory", str(example_copy)]
    document = error_of(run(*argv, "--json"), code, kind)
    assert snapshot(example_copy) == before
    if kind in ("invalid_inventory", "write_refused"):
        problems = document["error"]["problems"]
        assert problems and all(set(p) == {"file", "key", "message"} for p in problems)
    if kind == "invalid_inventory":
        assert any(p["key"].startswith("fleet_plans.medium.max_rooms") for p in document["error"]["problems"])
    if kind == "nothing_fits":
        assert document["chosen"] is None and document["candidates"]
        assert document["error"]["what_would_fit"]


def test_a_forced_move_to_a_cordoned_server_is_a_json_refusal(example_copy: Path) -> None:
    assert run("server", "cordon", EU2, "--inventory", str(example_copy)).exit_code == 0
    before = snapshot(example_copy)
    result = run("tenant", "move", "bakery-collective", "--to", EU2, "--force", "--inventory", str(example_copy),
                 "--json")
    assert error_of(result, 1, "target_refused")["error"]["state"] == "cordoned"
    assert snapshot(example_copy) == before


@pytest.fixture
def busy(example_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The inventory's lock held by another thread (the lock is exclusive across threads)."""
    monkeypatch.setattr("meetfleet.fleet.lock.WAIT_SECONDS", 0.2)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with inventory_lock(example_copy):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    yield example_copy
    release.set()
    thread.join(10)


@pytest.mark.parametrize("args", [
    ["server", "cordon", EU2],
    ["tenant", "move", "bakery-collective", "--to", EU2, "--force"],
    ["tenant", "add", "choir-montreal", "--plan", "small", "--region", "ca", "{src}"],
])
def test_a_busy_inventory_is_one_json_document(busy: Path, standin: Standin, args: list[str]) -> None:
    before = snapshot(busy)
    argv = [a for arg in args for a in (["--exporter", standin.url] if arg == "{src}" else [arg])]
    result = run(*argv, "--inventory", str(busy), "--json")
    assert "another meetfleet command has been writing this inventory" in error_of(
        result, 1, "inventory_busy")["error"]["message"]
    assert snapshot(busy) == before


def test_lab_errors_are_json_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error_of(run("lab", "status", "--inventory", str(tmp_path / "nowhere"), "--json"), 2, "invalid_inventory")
    error_of(run("lab", "up", "--wait", "0", "--json"), 2, "usage")

    def podman_fails(*args, **kwargs):
        raise LabError("podman: no such network")

    monkeypatch.setattr("meetfleet.cli.lab.lab_down", podman_fails)
    document = error_of(run("lab", "down", "--label", "never-made", "--json"), 1, "lab_failed")
    assert document["error"]["message"] == "podman: no such network"


def test_success_is_one_json_document_without_error(example_copy: Path, standin: Standin) -> None:
    result = run("tenant", "add", "choir-montreal", "--plan", "small", "--region", "ca", "--inventory",
                 str(example_copy), "--exporter", standin.url, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert "error" not in document and document["recorded"] is True
    assert document["bbb_server"] == CA1
