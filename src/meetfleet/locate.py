"""Where the installed meetfleet's parts are, for the roles that ship them to hosts.

Roles ask the controller's Python (`python -m meetfleet.locate standin|project`) instead
of assuming the repository's layout around the role (`role_path/../..`): the answer is
whatever meetfleet the controller runs, from a checkout or an installed wheel.
Exit 1 with a one-line reason when there is no such part (a wheel has no project tree).
"""

from __future__ import annotations

import sys
from pathlib import Path


def standin_file() -> Path:
    """The BBB API stand-in, a standard-library-only script the lab copies to its hosts."""
    from meetfleet.testing import bbb_standin

    return Path(bbb_standin.__file__).resolve()


def project_dir() -> Path | None:
    """The source tree the running meetfleet comes from (a checkout, `pip install -e`), if any:
    the package sits at src/meetfleet/ beside the project's pyproject.toml. None for a wheel."""
    import meetfleet

    root = Path(meetfleet.__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "meetfleet").is_dir() else None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["standin"]:
        print(standin_file())
        return 0
    if args == ["project"]:
        found = project_dir()
        if found is None:
            print("meetfleet was not installed from a source tree: set the role's package source "
                  "(e.g. capacity_exporter_package_source) to a wheel or an index", file=sys.stderr)
            return 1
        print(found)
        return 0
    print("usage: python -m meetfleet.locate standin|project", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
