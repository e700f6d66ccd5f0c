"""At fleet scale, with the service's defaults: a server is down only when it is slow or
broken, and its poll duration is its own latency, however busy parsing the rest keeps the
exporter."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from capacity_exporter.config import build_targets
from capacity_exporter.metrics import render
from capacity_exporter.poller import ExporterState, poll_server
from capacity_exporter.workers import AnswerParser
from meetfleet.bbb import BbbClient
from meetfleet.fleet import load_inventory
from meetfleet.testing.bbb_standin import TestServer, uniform_scenario

FLEET = 200  # the size at which half the fleet used to be reported down with --timeout 5
SLOW = "bbb-slow.test"
DELAY = 2.0  # the slow server's latency: within the 5 s timeout (and long enough that 20 % is not scheduling noise)

# The fleet's stand-ins in a child process (they must not share this interpreter), each
# with 100 meetings of 10 users and their attendee lists: about 356 KB per answer.
FARM = """
import json, selectors, sys, threading
from meetfleet.testing.bbb_standin import TestServer, uniform_scenario
urls, selector = [], selectors.DefaultSelector()
for i in range(int(sys.argv[1])):
    server = TestServer("secret-%d" % i)
    server.seed(uniform_scenario(100, 10, listen_only=2, voice=6, video=2, tenant="acme", prefix="m%d" % i))
    server.state.get_meetings({})
    selector.register(server.httpd, selectors.EVENT_READ, server.httpd)
    urls.append(server.api_url)

def accept():
    while True:
        for key, _ in selector.select():
            key.data._handle_request_noblock()

threading.Thread(target=accept, daemon=True).start()
print(json.dumps(urls), flush=True)
sys.stdin.read()
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[ExporterState, TestServer]]:
    farm = subprocess.Popen([sys.executable, "-c", FARM, str(FLEET)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    slow = TestServer("secret-slow").start()
    try:
        urls = json.loads(farm.stdout.readline())
        slow.seed(uniform_scenario(3, 4, tenant="acme"))
        slow.faults.delay = DELAY
        servers = {f"bbb-{i}.test": (url, f"secret-{i}") for i, url in enumerate(urls)}
        servers[SLOW] = (slow.api_url, "secret-slow")
        inventory = tmp_path / "inventory"
        (inventory / "group_vars/all").mkdir(parents=True)
        (inventory / "host_vars").mkdir()
        (inventory / "hosts.yml").write_text("all:\n  children:\n    bbb:\n      hosts:\n"
                                             + "".join(f"        {name}:\n" for name in servers))
        (inventory / "group_vars/all/fleet.yml").write_text(
            "fleet_regions: {eu: {}}\nfleet_plans:\n  p: {max_concurrent_users: 500, max_rooms: 50, "
            "max_meeting_minutes: 240}\nfleet_tenants:\n  acme: {plan: p, region: eu, bbb_server: bbb-0.test}\n")
        for name, (url, _secret) in servers.items():
            (inventory / f"host_vars/{name}.yml").write_text(
                f"fleet_region: eu\nfleet_provider: static\nfleet_bbb_capacity: 2000\nfleet_bbb_api_url: {url}\n")
        loaded = load_inventory(inventory)
        secrets = {name: secret for name, (_url, secret) in servers.items()}
        yield ExporterState(loaded, build_targets(loaded, secrets, tmp_path / "secrets.yml"), render), slow
    finally:
        slow.stop()
        farm.stdin.close()
        farm.wait(timeout=30)


def test_slow_server_among_a_large_fleet_is_up_with_its_own_latency(fleet: tuple[ExporterState, TestServer]) -> None:
    state, _slow = fleet
    slow_target = next(t for t in state.targets if t.name == SLOW)
    others = [t for t in state.targets if t.name != SLOW]
    window: dict[str, int] = {}

    async def scenario() -> None:
        # the service's defaults: timeout 5 s, the client's pool, one parsing worker per core
        parser = AnswerParser(state.directory)
        done, busy = asyncio.Event(), asyncio.Event()

        async def fleet_cycles() -> None:  # the rest of the fleet, polled back to back until the slow one is in
            while not done.is_set():
                polls = [asyncio.ensure_future(poll_server(client, state, t, parser=parser)) for t in others]
                for finished in asyncio.as_completed(polls):
                    await finished
                    busy.set()  # answers are being parsed from now on
                await asyncio.gather(*polls)

        async def slow_poll() -> None:
            await busy.wait()
            window["before"] = sum(state.polls.values())
            await poll_server(client, state, slow_target, parser=parser)
            window["after"] = sum(state.polls.values()) - 1
            done.set()

        try:
            async with BbbClient() as client:
                await asyncio.gather(fleet_cycles(), slow_poll())
        finally:
            parser.close()

    asyncio.run(scenario())
    down = {name: str(r.error) for name, r in state.results.items() if not r.up}
    assert down == {}
    assert all(state.polls[t.name] >= 1 for t in others)
    slow = state.results[SLOW]
    # the server's latency (its delay, then a small answer), not the time the fleet took to parse
    assert DELAY <= slow.duration_seconds <= 1.2 * DELAY, slow.duration_seconds
    # while it was on the clock, the rest of the fleet was being received and parsed
    assert window["after"] - window["before"] >= 50, window
    assert slow.usage is not None and slow.usage.total.meetings == 3
    assert state.results["bbb-0.test"].usage.total.meetings == 100
