"""Gateway benchmark: added latency per call against the stand-in called directly, and
creates/joins per second for 100 tenants.

    python benchmarks/gateway_bench.py [--calls 500] [--tenants 100]

Three processes, as deployed: one BBB API stand-in, the `meetfleet-gateway` command with
its shipped defaults (counters in memory, no --redis), and this one, the client (httpx over
keep-alive connections, sequential for latency, concurrent for throughput), so the client's
own cost is not counted as the gateway's. Figures are in docs/gateway.md.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from meetfleet.bbb import sign_query

SERVER_SECRET = "bench-server-secret-0123456789"


def _inventory(root: Path, api_url: str, tenants: int) -> Path:
    (root / "host_vars").mkdir(parents=True)
    (root / "group_vars" / "all").mkdir(parents=True)
    (root / "hosts.yml").write_text("all:\n  children:\n    bbb:\n      hosts:\n        bbb-1.bench:\n")
    (root / "host_vars" / "bbb-1.bench.yml").write_text(
        f"fleet_region: eu\nfleet_provider: static\nfleet_bbb_capacity: 100000\nfleet_bbb_api_url: {api_url}\n"
        "fleet_bbb_checksum_algorithm: sha1\n")
    body = "".join(f"  t{n:03d}: {{plan: big, region: eu, bbb_server: bbb-1.bench}}\n" for n in range(tenants))
    (root / "group_vars" / "all" / "fleet.yml").write_text(
        "fleet_regions:\n  eu: {timezone: UTC}\nfleet_plans:\n"
        "  big: {max_concurrent_users: 100000, max_rooms: 10000, max_meeting_minutes: 60}\n"
        f"fleet_tenants:\n{body}")
    return root


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


async def _latency(http: httpx.AsyncClient, url: str, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        answer = await http.get(url)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200 and b"SUCCESS" in answer.content, answer.content[:200]
    return times


async def main(calls: int, tenants: int) -> int:
    tmp_dir = tempfile.TemporaryDirectory()
    tmp = tmp_dir.name
    secret_file = Path(tmp) / "secret"
    secret_file.write_text(SERVER_SECRET)
    port = _free_port()
    standin = subprocess.Popen([sys.executable, "-m", "meetfleet.testing.bbb_standin", "--bind", "127.0.0.1",
                                "--port", str(port), "--secret-file", str(secret_file)],
                               stderr=subprocess.DEVNULL)
    api_url = f"http://127.0.0.1:{port}/bigbluebutton/api"
    for _ in range(100):
        try:
            httpx.get(api_url, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    inventory = _inventory(Path(tmp) / "inventory", api_url, tenants)
    secrets = {f"t{n:03d}": f"bench-secret-t{n:03d}-0123456789" for n in range(tenants)}
    secrets_file = Path(tmp) / "secrets.yml"
    secrets_file.write_text(yaml.safe_dump({"tenant_secrets": secrets, "bbb_secrets": {"bbb-1.bench": SERVER_SECRET}}))
    secrets_file.chmod(0o600)
    port = _free_port()
    gateway = subprocess.Popen([sys.executable, "-m", "meetfleet.gateway.main", "--inventory", str(inventory),
                                "--secrets", str(secrets_file), "--listen", f"127.0.0.1:{port}"],
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/t"
    for _ in range(100):
        try:
            httpx.get(f"{base}/t000/bigbluebutton/api", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)

    def via_gateway(tenant: str, call: str, params: dict) -> str:
        return f"{base}/{tenant}/bigbluebutton/api/{call}?{sign_query(call, params, secrets[tenant], 'sha1')}"

    def direct(call: str, params: dict) -> str:
        return f"{api_url}/{call}?{sign_query(call, params, SERVER_SECRET, 'sha1')}"

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64)) as http:
        await http.get(via_gateway("t000", "create", {"meetingID": "lat-room", "name": "Latency"}))
        print(f"{'call':18} {'direct p50':>10} {'p99':>7} {'gateway p50':>12} {'p99':>7} {'added p50':>10}"
              f" {'p99':>7}  (ms, {calls} sequential calls)")
        cases = [
            ("getMeetingInfo", {"meetingID": "t000~lat-room"}, {"meetingID": "lat-room"}),
            ("isMeetingRunning", {"meetingID": "t000~lat-room"}, {"meetingID": "lat-room"}),
            ("create (existing)", {"meetingID": "t000~lat-room", "name": "Latency", "meta_tenant": "t000"},
             {"meetingID": "lat-room", "name": "Latency"}),
            ("getMeetings", {}, {}),
        ]
        for label, direct_params, gateway_params in cases:
            call = label.split()[0]
            await _latency(http, direct(call, direct_params), 50)  # warm up
            d = await _latency(http, direct(call, direct_params), calls)
            g = await _latency(http, via_gateway("t000", call, gateway_params), calls)
            print(f"{label:18} {_pct(d, .5):10.2f} {_pct(d, .99):7.2f} {_pct(g, .5):12.2f} {_pct(g, .99):7.2f}"
                  f" {_pct(g, .5) - _pct(d, .5):10.2f} {_pct(g, .99) - _pct(d, .99):7.2f}")
        # the join the gateway answers itself (a redirect): its whole time is what it adds
        join = await _latency_join(http, via_gateway("t000", "join", {"meetingID": "lat-room", "fullName": "A"}),
                                   calls)
        print(f"{'join (redirect)':18} {'-':>10} {'-':>7} {_pct(join, .5):12.2f} {_pct(join, .99):7.2f}"
              f" {_pct(join, .5):10.2f} {_pct(join, .99):7.2f}")

        names = sorted(secrets)
        sem = asyncio.Semaphore(32)

        async def one(url: str) -> None:
            async with sem:
                answer = await http.get(url)
                assert answer.status_code in (200, 302), answer.status_code

        rooms = 5
        started = time.perf_counter()
        await asyncio.gather(*(one(via_gateway(t, "create", {"meetingID": f"room-{r}", "name": "Room"}))
                               for t in names for r in range(rooms)))
        elapsed = time.perf_counter() - started
        print(f"creates: {len(names) * rooms} new rooms for {len(names)} tenants in {elapsed:.2f} s: "
              f"{len(names) * rooms / elapsed:.0f}/s (32 in flight)")
        joins = 10
        started = time.perf_counter()
        await asyncio.gather(*(one(via_gateway(t, "join", {"meetingID": f"room-{n % rooms}", "fullName": f"U{n}"}))
                               for t in names for n in range(joins)))
        elapsed = time.perf_counter() - started
        print(f"joins: {len(names) * joins} joins (the gateway's redirect) for {len(names)} tenants in "
              f"{elapsed:.2f} s: {len(names) * joins / elapsed:.0f}/s (32 in flight)")
    for process in (gateway, standin):
        process.terminate()
        process.wait(10)
    tmp_dir.cleanup()
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _latency_join(http: httpx.AsyncClient, url: str, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        answer = await http.get(url)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 302
    return times


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--tenants", type=int, default=100)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.calls, args.tenants)))
