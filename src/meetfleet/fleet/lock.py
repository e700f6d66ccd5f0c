"""One writer at a time per inventory.

Two sysadmins adding tenants at once would otherwise both read tenants.yml and the second
rename would drop the first's tenant; both could also place on the same spare capacity.
Writers hold an exclusive flock on the inventory directory itself (no lock file to leave
behind or commit) for the whole read-decide-write; readers never wait. The lock is
re-entrant within a thread, so a command holding it can call the writer, which takes it too;
other threads and processes wait.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

WAIT_SECONDS = 60.0
_POLL_SECONDS = 0.05

_held: dict[tuple[Path, int], tuple[int, int]] = {}  # (directory, thread) -> (fd, depth)
_guard = threading.Lock()


class InventoryBusyError(Exception):
    """Another command kept the inventory's lock longer than we wait."""


@contextmanager
def inventory_lock(directory: str | Path, wait_seconds: float | None = None) -> Iterator[None]:
    """Hold the inventory's write lock, waiting up to `wait_seconds` (default WAIT_SECONDS) for it."""
    path = Path(directory).resolve()
    key = (path, threading.get_ident())
    with _guard:
        held = _held.get(key)
        if held:
            _held[key] = (held[0], held[1] + 1)
    if not held:
        fd = _acquire(path, WAIT_SECONDS if wait_seconds is None else wait_seconds)
        with _guard:
            _held[key] = (fd, 1)
    try:
        yield
    finally:
        with _guard:
            fd, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, depth - 1)
            else:
                del _held[key]
                os.close(fd)  # closing the descriptor releases the flock


def _acquire(path: Path, wait_seconds: float) -> int:
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
