"""`meetfleet-exporter`: poll every BBB server of the inventory, serve /metrics.

Exit codes: 0 ok (with --once: every polled server answered), 1 the work failed (with
--once: a server is down; or the listen address is taken), 2 bad input.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path
from typing import NoReturn

import click

from capacity_exporter.config import (
    ConfigError,
    build_targets,
    load_secrets,
    load_web_config,
    parse_listen,
    parse_shard,
    shard_fleet,
)
from capacity_exporter.metrics import render
from capacity_exporter.poller import ExporterState, poll_all, run
from capacity_exporter.report import SERVER_COLUMNS, TENANT_COLUMNS, server_rows, snapshot, tenant_rows
from capacity_exporter.web import MetricsServer, favour_scrapes
from capacity_exporter.workers import AnswerParser, default_workers
from meetfleet.bbb import BbbClient
from meetfleet.console import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, json_option, print_json, table
from meetfleet.fleet import InventoryError, load_inventory

log = logging.getLogger("meetfleet.exporter")


def _refuse(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    # Printed as is: the message holds paths and keys from the input, which must not be
    # read as rich markup (a path with "[/x]" in it would crash the printing).
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--inventory", required=True, type=click.Path(path_type=Path), help="inventory directory")
@click.option("--secrets", "secrets_file", required=True, type=click.Path(path_type=Path),
              help="YAML file 'bbb_secrets: {HOST: SECRET}', mode 0600")
@click.option("--listen", default="0.0.0.0:9840", show_default=True, help="HOST:PORT to serve /metrics on")
@click.option("--interval", default=15.0, show_default=True, type=click.FloatRange(min=1),
              help="seconds between polls of a server")
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="seconds a BBB server may take to connect and send its whole answer")
@click.option("--shard", default="0/1", show_default=True,
              help="I/N: poll and report only shard I (from 0) of N; the servers are split by a hash of their name")
@click.option("--workers", type=click.IntRange(min=0, max=256), default=None,
              help="processes that parse answers (default: one per core this process may use; 0: none)")
@click.option("--web-config", type=click.Path(path_type=Path), help="YAML: basic_auth and tls for /metrics")
@click.option("--once", is_flag=True, help="poll every server once, print the result and exit")
@json_option
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def main(inventory: Path, secrets_file: Path, listen: str, interval: float, timeout: float, shard: str,
         workers: int | None, web_config: Path | None, once: bool, as_json: bool, log_level: str) -> None:
    """Capacity exporter: per-server load, capacity and tenant usage of the BBB fleet for Prometheus."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO; the URLs carry checksums. Keep logs short and clean.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    if timeout >= interval:
        _refuse(f"--timeout ({timeout:g}) must be shorter than --interval ({interval:g})")
    try:
        shard_index, shard_count = parse_shard(shard)
        fleet = load_inventory(inventory)
        targets = build_targets(fleet, load_secrets(secrets_file), secrets_file)
        targets, tenants = shard_fleet(fleet, targets, shard_index, shard_count)
        web = load_web_config(web_config)
        address = parse_listen(listen)
    except InventoryError as exc:
        _refuse(exc.render())
    except ConfigError as exc:
        _refuse(str(exc))
    state = ExporterState(fleet, targets, render, tenants)
    workers = default_workers() if workers is None else workers
    if once:
        raise SystemExit(_once(state, timeout, workers, as_json))
    try:
        server = MetricsServer(address, lambda: state.payload, web)
    except ConfigError as exc:
        _refuse(str(exc))
    except socket.gaierror as exc:  # a host name that does not resolve: the argument is wrong
        _refuse(f"--listen {listen}: {exc.strerror}")
    except OSError as exc:  # taken, or not an address of this machine
        _refuse(f"--listen {listen}: {exc.strerror or exc}", EXIT_FAILURE)
    favour_scrapes()
    server.start()
    polled = sum(t.polled for t in targets)
    log.info("serving /metrics on %s:%d%s; polling %d BBB servers every %gs%s, parsing in %d processes", *address,
             " (TLS)" if web.tls else "", polled, interval,
             f" (shard {shard_index}/{shard_count})" if shard_count > 1 else "", workers)
    try:
        asyncio.run(_serve(state, interval, timeout, workers))
    finally:
        server.shutdown()
        server.server_close()
    log.info("stopped")


async def _serve(state: ExporterState, interval: float, timeout: float, workers: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parser = AnswerParser(state.directory, workers)
    try:
        async with BbbClient(timeout) as client:
            await run(client, state, interval, stop, parser)
    finally:
        await asyncio.to_thread(parser.close)


def _once(state: ExporterState, timeout: float, workers: int, as_json: bool) -> int:
    async def poll() -> None:
        parser = AnswerParser(state.directory, workers)
        try:
            async with BbbClient(timeout) as client:
                await poll_all(client, state, parser=parser)
        finally:
            parser.close()

    asyncio.run(poll())
    data = snapshot(state)
    if as_json:
        print_json(data)
    else:
        table("BBB servers", SERVER_COLUMNS, server_rows(data))
        table("Tenants", TENANT_COLUMNS, tenant_rows(data))
    down = [name for name, s in data["servers"].items() if s["up"] is False]
    return EXIT_FAILURE if down else EXIT_OK


if __name__ == "__main__":
    main()
