"""A small fleet for the gateway: BBB API stand-ins, an inventory pointing at them, a
secrets file, a real redis-server, and gateways served from background threads."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from meetfleet.gateway.main import read_config
from meetfleet.gateway.server import Gateway
from meetfleet.gateway.store import MemoryStore, RedisStore
from meetfleet.testing.bbb_standin import TestServer

SERVER_SECRETS = {"bbb-1.test": "server-one-secret-0123456789", "bbb-2.test": "server-two-secret-0123456789",
                  "bbb-3.test": "server-three-secret-012345678"}
TENANT_SECRETS = {"acme": "acme-tenant-secret-0123456789", "bakery": "bakery-tenant-secret-012345678",
                  "school": "school-tenant-secret-01234567"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_inventory(root: Path, standins: dict[str, TestServer], states: dict[str, str] | None = None) -> Path:
    inv = root / "inventory"
    (inv / "host_vars").mkdir(parents=True)
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "hosts.yml").write_text("all:\n  children:\n    bbb:\n      hosts:\n"
                                   + "".join(f"        {name}:\n" for name in standins))
    for number, (name, standin) in enumerate(standins.items()):
        state = (states or {}).get(name, "active")
        (inv / "host_vars" / f"{name}.yml").write_text(
            f"fleet_region: eu\nfleet_provider: static\nfleet_bbb_capacity: {800 + 100 * number}\n"
            f"fleet_bbb_state: {state}\nfleet_bbb_api_url: {standin.api_url}\n"
            f"fleet_bbb_checksum_algorithm: {('sha1', 'sha256', 'sha512')[number % 3]}\n")
    (inv / "group_vars" / "all" / "fleet.yml").write_text("""\
fleet_regions:
  eu: {description: Europe, timezone: Europe/Berlin}
fleet_plans:
  small: {max_concurrent_users: 4, max_rooms: 2, max_meeting_minutes: 60}
  medium: {max_concurrent_users: 20, max_rooms: 5, max_meeting_minutes: 240}
fleet_tenants:
  acme: {plan: small, region: eu, bbb_server: bbb-1.test}
  bakery: {plan: small, region: eu, bbb_server: bbb-1.test, limits: {max_rooms: 3, max_concurrent_users: 6}}
  school: {plan: medium, region: eu, bbb_server: bbb-2.test}
""")
    return inv


def write_secrets(root: Path) -> Path:
    path = root / "secrets.yml"
    lines = ["tenant_secrets:"] + [f"  {k}: {v}" for k, v in TENANT_SECRETS.items()]
    lines += ["bbb_secrets:"] + [f"  {k}: {v}" for k, v in SERVER_SECRETS.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


class Fleet:
    """The stand-ins and the files a gateway is started from."""

    def __init__(self, root: Path, states: dict[str, str] | None = None):
        self.root = root
        self.standins = {name: TestServer(secret).start() for name, secret in SERVER_SECRETS.items()}
        self.inventory = write_inventory(root, self.standins, states)
        self.secrets = write_secrets(root)

    def config(self):
        return read_config(self.inventory, self.secrets)[0]

    def stop(self) -> None:
        for standin in self.standins.values():
            standin.stop()


class RunningGateway:
    """A gateway served from its own thread and event loop (sync third-party clients call it)."""

    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        self._runner: web.AppRunner | None = None

        async def start() -> None:
            self._runner = web.AppRunner(gateway.app(), access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(start())
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        assert ready.wait(15), "gateway did not start"

    def url(self, tenant: str) -> str:
        return f"http://127.0.0.1:{self.port}/t/{tenant}/bigbluebutton/api"

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def stop(self) -> None:
        if self._runner is not None:
            self.run(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def fleet(tmp_path):
    f = Fleet(tmp_path)
    yield f
    f.stop()


@pytest.fixture
def start_gateway(fleet):
    started: list[RunningGateway] = []

    def start(store=None, *, poll_interval: float = 0, config=None) -> RunningGateway:
        gateway = Gateway(config or fleet.config(), store or MemoryStore(), poll_interval=poll_interval,
                          timeout=2.0)
        running = RunningGateway(gateway)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def gateway(start_gateway):
    return start_gateway()


def start_gateway_process(fleet, port: int, *extra: str) -> subprocess.Popen:
    """meetfleet-gateway as its own process on `port`, once its API answers (stderr piped)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "meetfleet.gateway.main", "--inventory", str(fleet.inventory),
         "--secrets", str(fleet.secrets), "--listen", f"127.0.0.1:{port}", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/t/acme/bigbluebutton/api", timeout=1).read()
            return process
        except OSError:
            if process.poll() is not None:
                raise AssertionError(f"gateway exited: {process.stderr.read()}") from None
            time.sleep(0.1)
    process.kill()
    raise AssertionError("gateway did not start")


def run_gateway(*args: str) -> subprocess.CompletedProcess:
    """meetfleet-gateway run to its exit (bad input, no Redis...): its code and output."""
    return subprocess.run([sys.executable, "-m", "meetfleet.gateway.main", *args], capture_output=True, text=True,
                          timeout=60)


@contextlib.contextmanager
def running_redis(work: Path, *config: str) -> Iterator[int]:
    """A real redis-server on 127.0.0.1 (`config`: more of its command-line directives); its port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (scripts/setup.sh installs it)")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(work), *config],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not start")
        yield port
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    with running_redis(tmp_path_factory.mktemp("redis")) as port:
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def redis_store_factory(redis_url):
    """RedisStores sharing one key prefix per test (a fresh namespace, nothing left from another test)."""
    prefix = f"test:{time.monotonic_ns()}:"

    def make() -> RedisStore:
        return RedisStore(redis_url, prefix=prefix)

    return make
