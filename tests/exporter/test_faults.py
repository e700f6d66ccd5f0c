"""A failing server is reported down with its error counted; the others are unaffected and
the exporter keeps serving."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from capacity_exporter.config import WebConfig
from capacity_exporter.poller import ExporterState, run
from capacity_exporter.web import MetricsServer
from meetfleet.bbb import BbbClient
from tests.exporter.conftest import FleetLab, parse_metrics, poll, scrape, value
from tests.exporter.test_metric_values import EXPECTED_SERVERS

A = {"server": "bbb-a.test", "region": "eu"}
B = {"server": "bbb-b.test", "region": "eu"}
FAULTS = ["timeout", "failed", "checksum", "malformed", "hostile"]


def _break(lab: FleetLab, server: str, kind: str) -> None:
    faults = lab.servers[server].faults
    if kind == "timeout":
        faults.delay = 3.0  # far beyond the polls' timeouts (0.4 s and 0.8 s below)
    else:
        faults.mode = {"failed": "fail", "checksum": "wrong-checksum", "malformed": "garbage",
                       "hostile": "hostile"}[kind]


@pytest.mark.parametrize("kind", FAULTS)
def test_failing_server_is_down_with_its_error_counted(lab: FleetLab, served: tuple[ExporterState, str],
                                                      kind: str) -> None:
    state, url = served
    poll(lab, state, timeout=0.4)
    healthy = scrape(url)
    _break(lab, "bbb-b.test", kind)
    lab.clock.now += 15
    started = time.perf_counter()
    poll(lab, state, timeout=0.4)
    assert time.perf_counter() - started < 2.0  # bounded by the 0.4 s timeout, not the 3 s server
    m = scrape(url)  # still serving

    assert value(m, "meetfleet_server_up", **B) == 0
    assert value(m, "meetfleet_exporter_errors_total", server="bbb-b.test", kind=kind) == 1
    assert sum(v for (name, labels), v in m.items()
               if name == "meetfleet_exporter_errors_total" and ("server", "bbb-b.test") in labels) == 1
    # down: no load figures at all (zeros would read as "empty"), last success stays the first poll's
    assert value(m, "meetfleet_server_meetings", **B) is None
    assert value(m, "meetfleet_server_spare_load_units", **B) is None
    assert value(m, "meetfleet_server_last_success_timestamp_seconds", **B) == lab.clock.now - 15
    assert value(m, "meetfleet_server_capacity_load_units", **B) == 400
    # the others: exactly as before, freshly polled
    for server, (region, *_rest) in EXPECTED_SERVERS.items():
        if server == "bbb-b.test":
            continue
        labels = {"server": server, "region": region}
        for name in ("meetfleet_server_up", "meetfleet_server_meetings", "meetfleet_server_participants",
                     "meetfleet_server_load_units", "meetfleet_server_spare_load_units"):
            assert value(m, name, **labels) == value(healthy, name, **labels), (server, name)
        assert value(m, "meetfleet_server_last_success_timestamp_seconds", **labels) == lab.clock.now
    assert value(m, "meetfleet_tenant_meetings", tenant="acme", plan="small", region="eu", server="bbb-a.test") == 2


def test_exporter_keeps_serving_and_others_keep_their_pace(lab: FleetLab) -> None:
    """The real background loop: a broken server neither stops the scrapes nor slows the others."""
    state: ExporterState = lab.state()
    _break(lab, "bbb-b.test", "timeout")
    http = MetricsServer(("127.0.0.1", 0), lambda: state.payload, WebConfig())
    http.start()
    url = f"http://127.0.0.1:{http.server_address[1]}/metrics"
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def background() -> None:
        async with BbbClient(0.8) as client:
            await run(client, state, 1.0, stop)

    thread = threading.Thread(target=loop.run_until_complete, args=(background(),), daemon=True)
    thread.start()
    try:
        scrape_times = []
        deadline = time.monotonic() + 2.8
        while time.monotonic() < deadline:
            started = time.perf_counter()
            m = scrape(url)
            scrape_times.append(time.perf_counter() - started)
            time.sleep(0.05)
        assert value(m, "meetfleet_server_up", **A) == 1
        assert value(m, "meetfleet_server_up", **B) == 0
        assert value(m, "meetfleet_exporter_polls_total", server="bbb-a.test") >= 3  # t=0, 1, 2 s
        assert value(m, "meetfleet_exporter_errors_total", server="bbb-b.test", kind="timeout") >= 2
        # scrapes never waited on the slow server's 0.8 s calls (the margin is for a loaded CI machine)
        assert max(scrape_times) < 0.5, scrape_times
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=5)
        http.shutdown()
        http.server_close()
    assert not thread.is_alive()


def test_server_coming_back_is_up_again(lab: FleetLab) -> None:
    state = lab.state()
    _break(lab, "bbb-b.test", "malformed")
    poll(lab, state, timeout=0.4)
    assert value(parse_metrics(state.payload.decode()), "meetfleet_server_up", **B) == 0
    lab.servers["bbb-b.test"].faults.mode = None
    poll(lab, state, timeout=0.4)
    m = parse_metrics(state.payload.decode())
    assert value(m, "meetfleet_server_up", **B) == 1
    assert value(m, "meetfleet_server_meetings", **B) == 1
    assert value(m, "meetfleet_exporter_errors_total", server="bbb-b.test", kind="malformed") == 1  # a counter


def test_dead_server_is_a_connect_error(lab: FleetLab) -> None:
    state = lab.state()
    lab.servers["bbb-c.test"].stop()
    poll(lab, state, timeout=0.4)
    m = parse_metrics(state.payload.decode())
    assert value(m, "meetfleet_server_up", server="bbb-c.test", region="ca") == 0
    assert value(m, "meetfleet_exporter_errors_total", server="bbb-c.test", kind="connect") == 1
    assert value(m, "meetfleet_server_up", **A) == 1
