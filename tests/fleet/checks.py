"""How the hostile-input tests run `meetfleet inventory check` and judge its answer."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from click.testing import Result

from tests.helpers import run, snapshot

# A hostile inventory must be answered within this, in this much memory.
SECONDS = 60
MEMORY_BYTES = 1536 * 1024 * 1024


def refused(inventory: Path, file: str, *words: str, line: int | None = None, args: tuple[str, ...] = ()) -> str:
    """`meetfleet inventory check` in-process: exit 2, no traceback, the file (and line)
    named, each of `words` in the output, nothing written. Returns the output."""
    before = snapshot(inventory)
    result = run("inventory", "check", *args, "--inventory", str(inventory))
    _judge(result.exit_code, result.output, file, words, line, exception=result)
    assert snapshot(inventory) == before
    return result.output


def refused_in_subprocess(inventory: Path, file: str, *words: str, line: int | None = None) -> str:
    """The same through the installed command in a child with a memory limit and a
    timeout: for inputs that used to hang or exhaust memory."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))

    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "meetfleet.cli.main", "inventory", "check",
                           "--inventory", str(inventory)],
                          capture_output=True, text=True, timeout=SECONDS, preexec_fn=limit, check=False)
    assert time.monotonic() - start < SECONDS
    _judge(done.returncode, done.stdout + done.stderr, file, words, line)
    assert done.stdout == ""
    return done.stderr


def _judge(code: int, output: str, file: str, words: tuple[str, ...], line: int | None,
           exception: Result | None = None) -> None:
    assert "Traceback" not in output, output
    if exception is not None and exception.exception is not None:
        assert isinstance(exception.exception, SystemExit), repr(exception.exception)
    assert code == 2, output
    problems = [ln for ln in output.splitlines() if ln.startswith("  - ")]
    assert problems, output
    mine = [ln for ln in problems if file in ln]
    assert mine, f"{file} not named in:\n{output}"
    if line is not None:
        assert any(re.search(rf"\(line {line}\)|line {line}\b", ln) for ln in mine), output
    for word in words:
        assert word in output, f"{word!r} not in:\n{output}"
    # never a whole value echoed: every problem line stays short
    assert all(len(ln) < 600 for ln in problems), max(problems, key=len)


def append(path: Path, text: str) -> int:
    """Append `text` to `path`; the 1-based line number of its first line."""
    old = path.read_text() if path.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    path.write_text(old + text)
    return old.count("\n") + 1
