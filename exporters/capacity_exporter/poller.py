"""Polling: every BBB server on its own schedule, concurrently, results kept per server.

Each server has its own loop, so a slow or dead one (bounded by the call timeout) delays
nobody else. The event loop only receives answers: a server's clock runs from connecting
to its last byte (`meetfleet_server_poll_duration_seconds` is the server's latency, not
this process's work), and parsing is done by `AnswerParser`'s worker processes. A result
replaces the server's previous one only once complete; the /metrics payload is rendered
from a copy of the results in another thread and swapped whole, so a scrape never waits
on a BBB call, a parse or a render.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from capacity_exporter.config import Target
from capacity_exporter.usage import ServerUsage, TenantDirectory, Usage
from capacity_exporter.workers import AnswerParser
from meetfleet.bbb import BbbClient, BbbError, ErrorKind
from meetfleet.fleet import Fleet

log = logging.getLogger("meetfleet.exporter")

RENDER_EVERY = 0.25  # seconds: how late /metrics may be behind a completed poll, at best
# Rendering takes time in proportion to the fleet (about 0.1 s at 1,000 servers): it
# waits at least this many times its own duration before the next one (5 % of a core).
RENDER_GAP_FACTOR = 20


@dataclass(frozen=True)
class ServerResult:
    """The last complete poll of one server."""

    up: bool
    usage: ServerUsage | None
    error: BbbError | None
    duration_seconds: float  # the server's part: connecting to the last byte (or to the failure)
    finished_at: float
    last_success: float | None  # epoch seconds of the last successful poll, if any


def _tenant_usage(tenants: Iterable[str], results: Iterable[ServerResult]) -> dict[str, Usage]:
    totals = {name: Usage() for name in tenants}
    for result in results:
        if result.usage is not None:
            for tenant, usage in result.usage.tenants.items():
                if tenant in totals:
                    totals[tenant].add(usage)
    return totals


@dataclass(frozen=True)
class StateView:
    """A consistent copy of what the exporter knows, for rendering outside the state's lock."""

    fleet: Fleet
    targets: list[Target]
    tenants: list[str]
    results: dict[str, ServerResult]
    errors: Counter[tuple[str, str]]
    polls: Counter[str]

    def tenant_usage(self) -> dict[str, Usage]:
        return _tenant_usage(self.tenants, self.results.values())


class ExporterState:
    """What the exporter knows; `payload` is the /metrics body, swapped whole when re-rendered.

    Results are recorded as each server's poll completes (a dict update under a lock held
    for microseconds); rendering works on a copy, at most every RENDER_EVERY seconds.
    `tenants`: the tenants this exporter reports (with --shard, those of its shard).
    """

    def __init__(self, fleet: Fleet, targets: list[Target], render: Callable[[StateView], bytes],
                 tenants: Iterable[str] | None = None):
        self.fleet = fleet
        self.targets = targets
        self.tenants = sorted(fleet.tenants if tenants is None else tenants)
        self.directory = TenantDirectory.from_fleet(fleet)
        self.results: dict[str, ServerResult] = {}
        self.errors: Counter[tuple[str, str]] = Counter()
        self.polls: Counter[str] = Counter()
        self._render = render
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()  # one render at a time, so an older one never lands last
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

    def view(self) -> StateView:
        with self._lock:
            return StateView(self.fleet, self.targets, self.tenants, dict(self.results),
                             Counter(self.errors), Counter(self.polls))

    def tenant_usage(self) -> dict[str, Usage]:
        """Every reported tenant's usage summed over the servers whose last poll succeeded."""
        return self.view().tenant_usage()

    def refresh(self) -> float:
        """Render the payload if anything changed since the last render; the seconds it took."""
        with self._render_lock:
            with self._lock:
                if not self._dirty:
                    return 0.0
                self._dirty = False
            started = time.perf_counter()
            self.payload = self._render(self.view())  # one reference swap: a scrape sees old or new
            return time.perf_counter() - started


async def poll_server(client: BbbClient, state: ExporterState, target: Target,
                      clock: Callable[[], float] = time.time, parser: AnswerParser | None = None) -> ServerResult:
    """Poll one server and record the result (never raises for a BBB failure)."""
    assert target.endpoint is not None
    parser = parser or AnswerParser(state.directory, workers=0)
    previous = state.results.get(target.name)
    last_success = previous.last_success if previous else None
    answer = None
    async with parser.turns:  # bounds the answers held at once; waiting here is off the server's clock
        try:
            answer = await client.fetch(target.endpoint, "getMeetings")
            now = clock()
            # inside the try: whatever a server answers must not end this server's polling
            usage = await parser.usage(answer.body, int(now * 1000))
        except BbbError as exc:
            seconds = answer.seconds if answer is not None else exc.seconds or 0.0
            result = ServerResult(False, None, exc, seconds, clock(), last_success)
            # Warn when a server goes down or fails differently; every 15 s for hours would bury the logs.
            known = previous is not None and previous.error is not None and previous.error.kind == exc.kind
            log.log(logging.DEBUG if known else logging.WARNING, "%s: poll failed: %s", target.name, exc)
        except Exception as exc:  # a bug must not stop the other servers' polling
            error = BbbError(ErrorKind.MALFORMED, f"unexpected {type(exc).__name__}")
            seconds = answer.seconds if answer is not None else 0.0
            result = ServerResult(False, None, error, seconds, clock(), last_success)
            log.error("%s: poll failed unexpectedly: %s", target.name, error,
                      exc_info=log.isEnabledFor(logging.DEBUG))
        else:
            result = ServerResult(True, usage, None, answer.seconds, now, now)
            if previous is not None and not previous.up:
                log.info("%s: up again", target.name)
    state.record(target.name, result)
    return result


async def poll_all(client: BbbClient, state: ExporterState, clock: Callable[[], float] = time.time,
                   parser: AnswerParser | None = None) -> None:
    """One poll of every polled server, concurrently; the payload is rendered once at the end."""
    parser = parser or AnswerParser(state.directory, workers=0)
    await asyncio.gather(*(poll_server(client, state, t, clock, parser) for t in state.targets if t.polled))
    await asyncio.to_thread(state.refresh)


async def run(client: BbbClient, state: ExporterState, interval: float, stop: asyncio.Event,
              parser: AnswerParser | None = None) -> None:
    """Poll every server every `interval` seconds until `stop` is set."""
    parser = parser or AnswerParser(state.directory, workers=0)

    async def loop(target: Target) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            await poll_server(client, state, target, parser=parser)
            next_at += interval
            if next_at < time.monotonic():  # a poll longer than the interval: no catch-up burst
                next_at = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(next_at - time.monotonic(), 0))

    async def render() -> None:
        while not stop.is_set():
            # In a thread: the event loop keeps receiving (and timing) answers meanwhile.
            took = await asyncio.to_thread(state.refresh)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(RENDER_EVERY, RENDER_GAP_FACTOR * took))
        await asyncio.to_thread(state.refresh)

    await asyncio.gather(render(), *(loop(t) for t in state.targets if t.polled))
