"""`meetfleet-gateway`: the BBB API gateway as a service (see docs/gateway.md).

Exit codes as every meetfleet program: 0 stopped cleanly, 1 could not run (Redis or the
address unreachable), 2 bad input (inventory, secrets file, option).

SIGHUP re-reads the inventory and the secrets file: new tenants, plans, overrides and
servers apply without a restart (the role's `systemctl reload`); a file that does not load
is logged, named, and the running configuration kept. Ready (listening, state rebuilt
from the servers) is told to systemd (`Type=notify`), so nothing reloads it too early.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from meetfleet.fleet import InventoryError
from meetfleet.fleet.loader import load_inventory
from meetfleet.gateway.config import ConfigError, GatewayConfig, Secrets, build_config, load_secrets, parse_listen
from meetfleet.gateway.server import POLL_INTERVAL, UPSTREAM_TIMEOUT, Gateway
from meetfleet.gateway.store import MemoryStore, RedisStore

log = logging.getLogger("meetfleet.gateway")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with the message, as argparse does, without usage noise
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0 < number <= 3600:
        raise argparse.ArgumentTypeError(f"{value!r} is not between 0 and 3600 seconds")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="meetfleet-gateway", description=(
        "BBB API gateway: each tenant calls https://HOST/t/TENANT/bigbluebutton/api with its own secret; "
        "calls are routed to the fleet's BBB servers and held to the tenant's plan caps."))
    parser.add_argument("--inventory", "-i", required=True, type=Path, help="inventory directory")
    parser.add_argument("--secrets", required=True, type=Path,
                        help="YAML file (mode 0600): tenant_secrets {TENANT: SECRET}, bbb_secrets {HOST: SECRET}, "
                             "optionally redis_password (for --redis's user; never in the URL, which ps shows)")
    parser.add_argument("--listen", required=True, help="HOST:PORT for the API (behind nginx: 127.0.0.1:PORT)")
    parser.add_argument("--metrics-listen", help="HOST:PORT for /metrics (default: none)")
    parser.add_argument("--redis", metavar="URL", help="redis://[USER@]HOST:PORT/DB shared by the gateway instances, "
                                                       "without a password (default: counters in this process only)")
    parser.add_argument("--poll-interval", type=_positive, default=POLL_INTERVAL,
                        help=f"seconds between polls of the servers (default {POLL_INTERVAL:g})")
    parser.add_argument("--timeout", type=_positive, default=UPSTREAM_TIMEOUT,
                        help=f"seconds an upstream call may take (default {UPSTREAM_TIMEOUT:g})")
    return parser


def read_config(inventory: Path, secrets_file: Path) -> tuple[GatewayConfig, Secrets]:
    """The gateway's configuration from its two files; InventoryError or ConfigError if they do not load."""
    secrets = load_secrets(secrets_file)
    return build_config(load_inventory(inventory), secrets.tenants, secrets.servers, secrets_file), secrets


def config_problems(exc: InventoryError | ConfigError) -> list[str]:
    return [str(problem) for problem in exc.problems] if isinstance(exc, InventoryError) else [str(exc)]


def notify_systemd(state: str) -> None:
    """sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET, when systemd gave one."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(state.encode(), address)


async def reload(gateway: Gateway, inventory: Path, secrets_file: Path) -> bool:
    """SIGHUP: the files again; the running configuration kept when they do not load."""
    try:
        config, _secrets = await asyncio.to_thread(read_config, inventory, secrets_file)
    except (InventoryError, ConfigError) as exc:
        for problem in config_problems(exc):
            log.error("reload refused, the running configuration kept: %s", problem)
        return False
    gateway.reconfigure(config)  # the Redis password is read at start only
    log.info("reloaded: %d tenants, %d servers", len(config.tenants), len(config.servers))
    return True


async def _serve(gateway: Gateway, listen: tuple[str, int], metrics: tuple[str, int] | None,
                 on_hangup=None) -> None:
    runners = [web.AppRunner(gateway.app(), access_log=None)]
    if metrics:
        runners.append(web.AppRunner(gateway.metrics_app(), access_log=None))
    for runner in runners:
        await runner.setup()  # the API runner's start-up polls every server: state rebuilt first
    await web.TCPSite(runners[0], *listen).start()
    if metrics:
        await web.TCPSite(runners[1], *metrics).start()
    log.info("listening on %s:%d with %d tenants, %d servers", *listen, len(gateway.config.tenants),
             len(gateway.config.servers))
    print(f"meetfleet-gateway: listening on http://{listen[0]}:{listen[1]}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task] = set()
    if on_hangup is not None:
        def hangup() -> None:
            task = loop.create_task(on_hangup())
            reloads.add(task)
            task.add_done_callback(reloads.discard)
        loop.add_signal_handler(signal.SIGHUP, hangup)
    notify_systemd("READY=1")
    try:
        await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    # Until the reload handler is in place a SIGHUP would end the process (its default action).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        listen = parse_listen(args.listen)
        metrics = parse_listen(args.metrics_listen, "--metrics-listen") if args.metrics_listen else None
        config, secrets = read_config(args.inventory, args.secrets)
    except (InventoryError, ConfigError) as exc:
        for problem in config_problems(exc):
            print(f"meetfleet-gateway: {problem}", file=sys.stderr)
        return 2
    if args.redis and not args.redis.startswith(("redis://", "rediss://", "unix://")):
        print("meetfleet-gateway: --redis: must be a redis://, rediss:// or unix:// URL", file=sys.stderr)
        return 2
    if args.redis and urlsplit(args.redis).password is not None:
        # Not echoed: it is a password. The command line is world-readable in ps and /proc.
        print("meetfleet-gateway: --redis: the URL holds a password, which ps would show to every user of the "
              f"host; remove it and put it in {args.secrets} as redis_password", file=sys.stderr)
        return 2

    async def run() -> int:
        store = MemoryStore()
        if args.redis:
            store = RedisStore(args.redis, password=secrets.redis_password)
            try:
                await store.ping()
            except Exception as exc:  # redis-py's errors: only the kind is shown
                print(f"meetfleet-gateway: --redis: cannot reach Redis or sign in ({type(exc).__name__})",
                      file=sys.stderr)
                await store.close()
                return 1
        gateway = Gateway(config, store, timeout=args.timeout, poll_interval=args.poll_interval)
        try:
            await _serve(gateway, listen, metrics, lambda: reload(gateway, args.inventory, args.secrets))
        except OSError as exc:
            print(f"meetfleet-gateway: cannot listen: {exc.strerror or exc}", file=sys.stderr)
            return 1
        return 0

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
