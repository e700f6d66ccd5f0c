"""One inventory writer at a time: concurrent writers lose nothing, a busy inventory is a clear exit 1."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from meetfleet.cli.main import cli
from meetfleet.fleet import load_inventory
from meetfleet.fleet.lock import InventoryBusyError, inventory_lock
from meetfleet.fleet.writer import set_tenant
from tests.helpers import snapshot

WRITERS = 8


def _add_tenant(directory: str, index: int) -> None:
    set_tenant(directory, f"coop-{index}", {"plan": "small", "region": "eu", "bbb_server": "bbb-eu-2.example.coop"},
               create=True)


def test_concurrent_writers_lose_no_tenant(example_copy: Path) -> None:
    # Each process reads tenants.yml, adds one tenant and renames its version over the file:
    # without the lock, a later rename drops what an earlier one added.
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_tenant, args=(str(example_copy), i)) for i in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0] * WRITERS
    assert {f"coop-{i}" for i in range(WRITERS)} <= set(load_inventory(example_copy).tenants)


def test_the_lock_is_exclusive_across_threads_and_released_on_exit(example_copy: Path) -> None:
    with inventory_lock(example_copy):
        other: list[BaseException] = []
        thread = threading.Thread(target=lambda: _try_lock(example_copy, other))
        thread.start()
        thread.join()
        assert len(other) == 1 and isinstance(other[0], InventoryBusyError)
        # not re-entrant either: one session per command (test_edit_session.py)
        same_thread: list[BaseException] = []
        _try_lock(example_copy, same_thread)
        assert len(same_thread) == 1 and isinstance(same_thread[0], InventoryBusyError)
    with inventory_lock(example_copy, wait_seconds=0):  # released by the exit
        pass


def _try_lock(directory: Path, errors: list[BaseException]) -> None:
    try:
        with inventory_lock(directory, wait_seconds=0.2):
            pass
    except InventoryBusyError as exc:
        errors.append(exc)


@pytest.mark.parametrize("args", [
    ["server", "cordon", "bbb-eu-2.example.coop"],
    ["tenant", "move", "bakery-collective", "--to", "bbb-eu-2.example.coop", "--force"],
])
def test_a_busy_inventory_is_exit_1_and_nothing_written(example_copy: Path, monkeypatch, args: list[str]) -> None:
    monkeypatch.setattr("meetfleet.fleet.lock.WAIT_SECONDS", 0.3)
    before = snapshot(example_copy)
    # The holder says when it has the lock and keeps it until told: events, not a timed
    # poll that a slow start (a loaded machine) outlasts.
    context = multiprocessing.get_context("spawn")
    locked, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock, args=(str(example_copy), locked, release))
    holder.start()
    try:
        assert locked.wait(120), "the lock holder never took the lock"
        result = CliRunner().invoke(cli, [*args, "--inventory", str(example_copy)])
    finally:
        release.set()
        holder.join(60)
        if holder.is_alive():
            holder.terminate()
            holder.join(10)
    assert result.exit_code == 1, result.output
    assert "another meetfleet command has been writing this inventory" in result.output
    assert "nothing was changed" in result.output
    assert snapshot(example_copy) == before


def _hold_lock(directory: str, locked, release) -> None:
    with inventory_lock(directory):
        locked.set()
        release.wait(120)
