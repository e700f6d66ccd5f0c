"""Reading and writing export archives: bounded, regular files only, written atomically."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from meetfleet.membership.archive import MAX_ARCHIVE_BYTES, ArchiveError, Export, parse_archive

# The archive names a member's organisation, SSO client and sites: the cooperative's to share.
ARCHIVE_MODE = 0o600


def read_archive(path: Path) -> Export:
    """Parse the archive at `path`: a regular file (a FIFO or device is refused unread) of at most
    MAX_ARCHIVE_BYTES. ArchiveError for a bad archive, OSError when it cannot be read."""
    # O_NONBLOCK: opening a FIFO must not hang; fstat then refuses anything but a regular file.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as file:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise ArchiveError(f"{path} is not a regular file")
        if status.st_size > MAX_ARCHIVE_BYTES:  # refused unread (the read below is bounded too)
            raise ArchiveError(f"{path} is bigger than {MAX_ARCHIVE_BYTES} bytes: not an export archive")
        data = file.read(MAX_ARCHIVE_BYTES + 1)
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ArchiveError(f"{path} is bigger than {MAX_ARCHIVE_BYTES} bytes: not an export archive")
    try:
        return parse_archive(data)
    except ArchiveError as exc:
        raise ArchiveError(f"{path}: {exc}") from None


def write_archive(path: Path, data: bytes) -> None:
    """Write `data` to `path`, which must not exist (FileExistsError): a temporary file beside
    it, fsynced, then linked into place, so a reader never sees half an archive and an
    existing file is never replaced."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, ARCHIVE_MODE)
        os.link(tmp, path)  # fails if path exists, unlike a rename
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
