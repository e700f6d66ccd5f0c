"""Polling: every BBB server on its own schedule, concurrently, results kept per server.

Each server has its own loop, so a slow or dead one (bounded by the call timeout) delays
nobody else. A result replaces the server's previous one only once complete; the
/metrics payload is rendered then, so a scrape never waits on a BBB call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from capacity_exporter.config import Target
from capacity_exporter.usage import ServerUsage, TenantDirectory, Usage, summarise
from meetfleet.bbb import BbbClient, BbbError, ErrorKind
from meetfleet.fleet import Fleet

log = logging.getLogger("meetfleet.exporter")

RENDER_EVERY = 0.25  # seconds: how late /metrics may be behind a completed poll


@dataclass(frozen=True)
class ServerResult:
    """The last complete poll of one server."""

    up: bool
    usage: ServerUsage | None
    error: BbbError | None
    duration_seconds: float
    finished_at: float
    last_success: float | None  # epoch seconds of the last successful poll, if any


class ExporterState:
    """What the exporter knows; `payload` is the /metrics body, swapped whole when re-rendered.

    Results are recorded as each server's poll completes; rendering (tens of ms at 50
    servers) is done at most every RENDER_EVERY seconds while polling, not per server.
    """

    def __init__(self, fleet: Fleet, targets: list[Target], render: Callable[[ExporterState], bytes]):
        self.fleet = fleet
        self.targets = targets
        self.directory = TenantDirectory.from_fleet(fleet)
        self.results: dict[str, ServerResult] = {}
        self.errors: Counter[tuple[str, str]] = Counter()
        self.polls: Counter[str] = Counter()
        self._render = render
        self._lock = threading.Lock()
        self.payload: bytes = b""
        self._dirty = True
        self.refresh()

    def record(self, name: str, result: ServerResult) -> None:
        with self._lock:
            self.polls[name] += 1
            if result.error is not None:
                self.errors[(name, result.error.kind.value)] += 1
            self.results[name] = result
            self._dirty = True

    def tenant_usage(self) -> dict[str, Usage]:
        """Every inventory tenant's usage summed over the servers whose last poll succeeded."""
        totals = {name: Usage() for name in self.fleet.tenants}
        for result in list(self.results.values()):
            if result.usage is not None:
                for tenant, usage in result.usage.tenants.items():
                    totals[tenant].add(usage)
        return totals

    def refresh(self) -> None:
        """Render the payload if anything changed since the last render."""
        with self._lock:
            if self._dirty:
                self.payload = self._render(self)
                self._dirty = False


async def poll_server(client: BbbClient, state: ExporterState, target: Target,
                      clock: Callable[[], float] = time.time) -> ServerResult:
    """Poll one server and record the result (never raises for a BBB failure)."""
    assert target.endpoint is not None
    started = time.perf_counter()
    previous = state.results.get(target.name)
    last_success = previous.last_success if previous else None
    try:
        meetings = await client.get_meetings(target.endpoint)
        now = clock()
        # inside the try: whatever a server answers must not end this server's polling
        usage = summarise(meetings, state.directory, int(now * 1000))
    except BbbError as exc:
        result = ServerResult(False, None, exc, time.perf_counter() - started, clock(), last_success)
        # Warn when a server goes down or fails differently; every 15 s for hours would bury the logs.
        known = previous is not None and previous.error is not None and previous.error.kind == exc.kind
        log.log(logging.DEBUG if known else logging.WARNING, "%s: poll failed: %s", target.name, exc)
    except Exception as exc:  # a bug must not stop the other servers' polling
        error = BbbError(ErrorKind.MALFORMED, f"unexpected {type(exc).__name__}")
        result = ServerResult(False, None, error, time.perf_counter() - started, clock(), last_success)
        log.exception("%s: poll failed unexpectedly", target.name)
    else:
        result = ServerResult(True, usage, None, time.perf_counter() - started, now, now)
        if previous is not None and not previous.up:
            log.info("%s: up again", target.name)
    state.record(target.name, result)
    return result


async def poll_all(client: BbbClient, state: ExporterState, clock: Callable[[], float] = time.time) -> None:
    """One poll of every polled server, concurrently; the payload is rendered once at the end."""
    await asyncio.gather(*(poll_server(client, state, t, clock) for t in state.targets if t.polled))
    state.refresh()


async def run(client: BbbClient, state: ExporterState, interval: float, stop: asyncio.Event) -> None:
    """Poll every server every `interval` seconds until `stop` is set."""

    async def loop(target: Target) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            await poll_server(client, state, target)
            next_at += interval
            if next_at < time.monotonic():  # a poll longer than the interval: no catch-up burst
                next_at = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(next_at - time.monotonic(), 0))

    async def render() -> None:
        while not stop.is_set():
            state.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RENDER_EVERY)
        state.refresh()

    await asyncio.gather(render(), *(loop(t) for t in state.targets if t.polled))
