"""One writer at a time per inventory.

Two sysadmins adding tenants at once would otherwise both read tenants.yml and the second
rename would drop the first's tenant; both could also place on the same spare capacity.
Writers hold an exclusive flock on the inventory directory itself (no lock file to leave
behind or commit) for the whole read-decide-write of one edit session (fleet/writer.py
`edit_inventory`, the only taker); readers never wait. A second take of a lock already held,
even by the same thread, waits like any other: one session per command, never nested.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

WAIT_SECONDS = 60.0
_POLL_SECONDS = 0.05


class InventoryBusyError(Exception):
    """Another command kept the inventory's lock longer than we wait."""


@contextmanager
def inventory_lock(directory: str | Path, wait_seconds: float | None = None) -> Iterator[None]:
    """Hold the inventory's write lock, waiting up to `wait_seconds` (default WAIT_SECONDS) for it."""
    path = Path(directory).resolve()
    fd = _acquire(path, WAIT_SECONDS if wait_seconds is None else wait_seconds)
    try:
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _acquire(path: Path, wait_seconds: float) -> int:
    # Each take opens its own descriptor: flock then excludes it from every other one,
    # in this process too.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise InventoryBusyError(
                    f"{path}: another meetfleet command has been writing this inventory for over "
                    f"{wait_seconds:g} s; nothing was changed, rerun once it has finished") from None
            time.sleep(_POLL_SECONDS)
