"""A member organisation's export archive, to move it to another fleet's inventory:
the format (`archive.py`, pure: build and parse bytes) and the files around it (`files.py`:
bounded reading, atomic writing). docs/tenants.md describes the format."""

from meetfleet.membership.archive import (
    FORMAT,
    VERSION,
    ArchiveError,
    Export,
    build_archive,
    export_of,
    parse_archive,
)
from meetfleet.membership.files import read_archive, write_archive

__all__ = ["FORMAT", "VERSION", "ArchiveError", "Export", "build_archive", "export_of", "parse_archive",
           "read_archive", "write_archive"]
