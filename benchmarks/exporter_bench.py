"""Benchmark of the capacity exporter: poll time and scrape time by fleet size.

Cases: one server with 10, 100 and 1000 meetings; 1, 10, 50, 200 and 1,000 servers of 100
meetings. The BBB servers are BBB API test servers (stand-ins, not BigBlueButton) on
127.0.0.1, all in one child process so they do not share the exporter's interpreter. Each
meeting has --participants attendees (a fifth listen-only, three fifths on voice, a fifth
with a camera), and their full attendee lists are in the answers, as BBB sends them.

The exporter runs as shipped: the client with its default timeout (5 s, --timeout as the
service's option) and pool (100 connections), the answer parser with the worker count
the service picks (one process per core this process may use), the service's GIL switch
interval. Nothing is sized to the fleet.

For each case: the wall time of a complete poll of every server (median and worst of
--polls; all servers start at once, as the service's first cycle does), the servers
reported down (must be 0: the run fails otherwise), the longest poll duration a server
was given (its latency: connecting to the last byte), the exporter's CPU per poll (main
process and parsing workers), the /metrics size, and scrape latency (--scrapes GETs over
keep-alive) both idle and while polls run back to back in another thread.

    .venv/bin/python benchmarks/exporter_bench.py [--json] [--markdown] [--only 1000x100]

Loops are bounded; only 127.0.0.1 is contacted. Figures and the machine's load go to docs/exporter.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from capacity_exporter.config import WebConfig, build_targets
from capacity_exporter.metrics import render
from capacity_exporter.poller import ExporterState, poll_all
from capacity_exporter.web import MetricsServer, favour_scrapes
from capacity_exporter.workers import AnswerParser, default_workers
from meetfleet.bbb import BbbClient
from meetfleet.bbb.client import DEFAULT_TIMEOUT
from meetfleet.fleet import load_inventory

# (servers, meetings per server)
CASES = [(1, 10), (1, 100), (1, 1000), (10, 100), (50, 100), (200, 100), (1000, 100)]
TENANTS = 20

# The child process: start N stand-ins with M meetings each, print their URLs, wait for stdin to close.
# Each answer is rendered once before the URLs are printed (the stand-in caches it). One
# thread accepts connections for all the stand-ins (socketserver's own per-request step;
# each connection then has its thread, as in TestServer): 1,000 serve_forever threads,
# each waking to check for shutdown, would take much of the machine from the exporter.
FARM = """
import json, selectors, sys, threading
from meetfleet.testing.bbb_standin import TestServer, uniform_scenario
servers, meetings, participants, tenants = map(int, sys.argv[1:5])
farm, selector = [], selectors.DefaultSelector()
for i in range(servers):
    server = TestServer("bench-secret-%d" % i)
    for t in range(tenants):
        share = meetings // tenants + (1 if t < meetings % tenants else 0)
        server.seed(uniform_scenario(share, participants, listen_only=participants // 5,
                                     voice=participants * 3 // 5, video=participants // 5,
                                     tenant="tenant-%d" % t, prefix="t%d" % t))
    server.state.get_meetings({})
    selector.register(server.httpd, selectors.EVENT_READ, server.httpd)
    farm.append(server.api_url)

def accept():
    while True:
        for key, _ in selector.select():
            key.data._handle_request_noblock()

threading.Thread(target=accept, daemon=True).start()
print(json.dumps(farm), flush=True)
sys.stdin.read()
"""


def write_inventory(root: Path, urls: list[str]) -> dict[str, str]:
    (root / "group_vars/all").mkdir(parents=True)
    (root / "host_vars").mkdir()
    names = [f"bbb-{i}.bench" for i in range(len(urls))]
    (root / "hosts.yml").write_text("all:\n  children:\n    bbb:\n      hosts:\n"
                                    + "".join(f"        {n}:\n" for n in names))
    tenants = "".join(f"  tenant-{t}: {{plan: p, region: eu, bbb_server: {names[t % len(names)]}}}\n"
                      for t in range(TENANTS))
    (root / "group_vars/all/fleet.yml").write_text(
        "fleet_regions: {eu: {}}\nfleet_plans:\n  p: {max_concurrent_users: 500, max_rooms: 50, "
        "max_meeting_minutes: 240}\nfleet_tenants:\n" + tenants)
    for name, url in zip(names, urls, strict=True):
        (root / f"host_vars/{name}.yml").write_text(
            f"fleet_region: eu\nfleet_provider: static\nfleet_bbb_capacity: 2000\nfleet_bbb_api_url: {url}\n")
    return {name: f"bench-secret-{i}" for i, name in enumerate(names)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def measure(servers: int, meetings: int, args: argparse.Namespace) -> dict:
    farm = subprocess.Popen([sys.executable, "-c", FARM, str(servers), str(meetings), str(args.participants),
                             str(TENANTS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        urls = json.loads(farm.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            secrets = write_inventory(Path(tmp), urls)
            fleet = load_inventory(tmp)
        state = ExporterState(fleet, build_targets(fleet, secrets, Path("bench")), render)
        http = MetricsServer(("127.0.0.1", 0), lambda: state.payload, WebConfig())
        http.start()
        url = f"http://127.0.0.1:{http.server_address[1]}/metrics"
        try:
            return run_case(state, url, servers, meetings, args)
        finally:
            http.shutdown()
            http.server_close()
    finally:
        farm.stdin.close()
        farm.wait(timeout=30)


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (Linux /proc), in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def run_case(state: ExporterState, url: str, servers: int, meetings: int, args: argparse.Namespace) -> dict:
    load_before = os.getloadavg()[0]
    polls: list[float] = []
    cpu: list[float] = []
    down: list[int] = []
    latency: list[float] = []

    async def polling(count: int, done: threading.Event | None = None) -> None:
        # As the service: BbbClient(--timeout) with its default pool, AnswerParser(--workers).
        parser = AnswerParser(state.directory, args.workers)
        try:
            async with BbbClient(args.timeout) as client:
                await poll_all(client, state, parser=parser)  # warm-up: worker processes, connections
                pool = getattr(parser, "_pool", None)
                pids = [os.getpid(), *(getattr(pool, "_processes", None) or {})]
                for _ in range(count):
                    started, started_cpu = time.perf_counter(), _cpu_seconds(pids)
                    await poll_all(client, state, parser=parser)
                    polls.append(time.perf_counter() - started)
                    cpu.append(_cpu_seconds(pids) - started_cpu)
                    results = [state.results[t.name] for t in state.targets]
                    down.append(sum(not r.up for r in results))
                    latency.append(max(r.duration_seconds for r in results))
        finally:
            parser.close()
        if done is not None:
            done.set()

    asyncio.run(polling(args.polls))
    failed = [t.name for t in state.targets if not state.results[t.name].up]
    if failed:
        first = state.results[failed[0]].error
        print(f"{servers} x {meetings}: {len(failed)} servers down, e.g. {failed[0]}: {first}", file=sys.stderr)

    with httpx.Client(timeout=5) as client:
        idle = [_timed_get(client, url) for _ in range(args.scrapes)]
        # scrapes while polls run back to back in another thread: the contended case
        done = threading.Event()
        poller = threading.Thread(target=lambda: asyncio.run(polling(args.polls, done)))
        busy: list[float] = []
        poller.start()
        while not done.is_set() and len(busy) < 10 * args.scrapes:
            busy.append(_timed_get(client, url))
        poller.join()
        size = len(client.get(url).content)
    timed = slice(0, args.polls)  # the first, uncontended polls
    return {
        "servers": servers, "meetings_per_server": meetings, "participants_per_meeting": args.participants,
        "timeout_s": args.timeout, "workers": args.workers,
        "poll_median_s": statistics.median(polls[timed]), "poll_max_s": max(polls[timed]),
        "down_max": max(down), "server_latency_max_s": max(latency[timed]),
        "poll_cpu_median_s": statistics.median(cpu[timed]),
        "scrape_idle_p50_ms": 1000 * statistics.median(idle), "scrape_idle_max_ms": 1000 * max(idle),
        "scrape_busy_p50_ms": 1000 * statistics.median(busy), "scrape_busy_p99_ms": 1000 * percentile(busy, 0.99),
        "scrape_busy_max_ms": 1000 * max(busy), "scrapes_busy": len(busy),
        "scrape_busy_under_50ms": sum(t < 0.05 for t in busy) / len(busy), "metrics_bytes": size,
        "load_before": load_before, "load_after": os.getloadavg()[0],
    }


def _timed_get(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


COLUMNS = [
    ("servers", "servers", "{}"), ("meetings_per_server", "meetings/server", "{}"),
    ("poll_median_s", "poll median s", "{:.3f}"), ("poll_max_s", "poll max s", "{:.3f}"),
    ("down_max", "down", "{}"), ("server_latency_max_s", "longest server latency s", "{:.3f}"),
    ("poll_cpu_median_s", "poll CPU s", "{:.3f}"),
    ("scrape_idle_p50_ms", "scrape idle p50 ms", "{:.2f}"), ("scrape_idle_max_ms", "scrape idle max ms", "{:.2f}"),
    ("scrape_busy_p50_ms", "scrape busy p50 ms", "{:.2f}"), ("scrape_busy_p99_ms", "scrape busy p99 ms", "{:.2f}"),
    ("scrape_busy_max_ms", "scrape busy max ms", "{:.2f}"), ("scrape_busy_under_50ms", "busy < 50 ms", "{:.2%}"),
    ("metrics_bytes", "/metrics bytes", "{}"), ("load_before", "load avg before", "{:.2f}"),
    ("load_after", "load avg after", "{:.2f}"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--polls", type=int, default=5, help="timed polls per case (default 5)")
    parser.add_argument("--scrapes", type=int, default=200, help="idle scrapes per case (default 200)")
    parser.add_argument("--participants", type=int, default=10, help="participants per meeting (default 10)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"the service's --timeout (default {DEFAULT_TIMEOUT:g}, as shipped)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="the service's --workers (default: what it picks here, one per usable core)")
    parser.add_argument("--default-switch-interval", action="store_true",
                        help="keep Python's 5 ms GIL switch interval instead of the exporter's 1 ms")
    parser.add_argument("--only", help="one case, SERVERSxMEETINGS, e.g. 50x100")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true")
    output.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if not args.default_switch_interval:
        favour_scrapes()  # as the exporter does
    cases = CASES
    if args.only:
        servers, meetings = (int(v) for v in args.only.lower().split("x"))
        cases = [(servers, meetings)]
    results = []
    for servers, meetings in cases:
        results.append(measure(servers, meetings, args))
        if not args.json:
            print(f"done: {servers} x {meetings}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=2))
    elif args.markdown:
        print("| " + " | ".join(title for _, title, _ in COLUMNS) + " |")
        print("|" + "---|" * len(COLUMNS))
        for r in results:
            print("| " + " | ".join(fmt.format(r[key]) for key, _, fmt in COLUMNS) + " |")
    else:
        for r in results:
            print("  ".join(f"{title}={fmt.format(r[key])}" for key, title, fmt in COLUMNS))
    # A server reported down is the exporter failing the fleet: the figures are not valid.
    return 1 if any(r["down_max"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
