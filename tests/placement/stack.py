"""The real chain placement reads from, on 127.0.0.1: BBB API test servers -> the capacity
exporter -> Debian's Prometheus. Each is a real process; nothing is mocked.

Fleet: inventories/example with three BBB servers pointed at test servers seeded with
meetings tagged by tenant. eu-1 (capacity 1000) carries bakery-collective and
free-school-leipzig (about 100 load units), eu-2 (capacity 1000) housing-federation
(about 250), ca-1 (capacity 800) cafe-montreal.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from meetfleet.bbb import BbbClient
from meetfleet.bbb.client import BbbEndpoint
from tests.conftest import EXAMPLE_INVENTORY

PROMETHEUS = Path("/usr/bin/prometheus")
SERVERS = {
    "bbb-eu-1.example.coop": (1000, [("bakery-collective", 2, 10), ("free-school-leipzig", 1, 20)]),
    "bbb-eu-2.example.coop": (1000, [("housing-federation", 4, 25)]),
    "bbb-ca-1.example.coop": (800, [("cafe-montreal", 1, 5)]),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, seconds: float = 20,
              ok=lambda r: r.status_code == 200) -> httpx.Response:
    deadline = time.monotonic() + seconds
    last: object = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} (see its log)")
        try:
            response = httpx.get(url, timeout=2)
            if ok(response):
                return response
            last = response.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {seconds}s: {last}")


@dataclass
class Stack:
    root: Path
    inventory: Path  # the exporter's inventory: copy it before editing
    exporter_url: str
    prometheus_url: str | None
    processes: list[subprocess.Popen]
    endpoints: dict[str, BbbEndpoint]

    def end_meetings(self, host: str, meeting_ids: list[str]) -> None:
        """End meetings through the BBB API, as a moderator would."""

        async def end_all() -> None:
            async with BbbClient() as client:
                for meeting_id in meeting_ids:
                    await client.end(self.endpoints[host], meeting_id)

        asyncio.run(end_all())

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def copy_inventory(self, target: Path) -> Path:
        shutil.copytree(self.inventory, target)
        return target


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def start(root: Path, with_prometheus: bool, scrape_seconds: float = 1.0) -> Stack:
    inventory = root / "inventory"
    shutil.copytree(EXAMPLE_INVENTORY, inventory)
    secrets: dict[str, str] = {}
    processes: list[subprocess.Popen] = []
    stack = Stack(root, inventory, "", None, processes, {})
    try:
        for host, (capacity, meetings) in SERVERS.items():
            port = free_port()
            secret = f"test-secret-{host}-{os.getpid()}"
            secrets[host] = secret
            (root / f"{host}.secret").write_text(secret)
            scenario = {"meetings": [
                {"id": f"{tenant}-{i}", "participants": n, "video": 1, "metadata": {"tenant": tenant}}
                for tenant, count, n in meetings for i in range(count)]}
            (root / f"{host}.json").write_text(json.dumps(scenario))
            processes.append(_spawn([sys.executable, "-m", "meetfleet.testing.bbb_standin", "--port", str(port),
                                     "--secret-file", str(root / f"{host}.secret"),
                                     "--scenario", str(root / f"{host}.json")], root / f"{host}.log"))
            stack.endpoints[host] = BbbEndpoint(api_url=f"http://127.0.0.1:{port}/bigbluebutton/api",
                                                secret=secret, algorithm="sha256")
            host_file = inventory / "host_vars" / f"{host}.yml"
            text = host_file.read_text().replace("fleet_bbb_cpus: 16\n", "")
            text = "\n".join(line for line in text.splitlines() if not line.startswith("fleet_bbb_capacity"))
            host_file.write_text(text + f"\nfleet_bbb_capacity: {capacity}\n"
                                 f"fleet_bbb_api_url: http://127.0.0.1:{port}/bigbluebutton/api\n")
        secrets_file = root / "secrets.yml"
        secrets_file.write_text(json.dumps({"bbb_secrets": secrets}))
        secrets_file.chmod(0o600)
        exporter_port = free_port()
        processes.append(_spawn([sys.executable, "-m", "capacity_exporter.main", "--inventory", str(inventory),
                                 "--secrets", str(secrets_file), "--listen", f"127.0.0.1:{exporter_port}",
                                 "--interval", "1", "--timeout", "0.8"], root / "exporter.log"))
        stack.exporter_url = f"http://127.0.0.1:{exporter_port}"
        wait_http(f"{stack.exporter_url}/metrics", processes[-1], ok=lambda r: r.status_code == 200
                  and 'meetfleet_server_up{region="eu",server="bbb-eu-2.example.coop"} 1.0' in r.text)
        if with_prometheus:
            prom_port = free_port()
            config = root / "prometheus.yml"
            config.write_text(json.dumps({
                "global": {"scrape_interval": f"{round(scrape_seconds * 1000)}ms",
                           "evaluation_interval": f"{round(scrape_seconds * 1000)}ms"},
                "scrape_configs": [{"job_name": "meetfleet", "static_configs": [
                    {"targets": [f"127.0.0.1:{exporter_port}"]}]}]}))
            processes.append(_spawn([str(PROMETHEUS), f"--config.file={config}",
                                     f"--storage.tsdb.path={root / 'tsdb'}",
                                     f"--web.listen-address=127.0.0.1:{prom_port}"], root / "prometheus.log"))
            stack.prometheus_url = f"http://127.0.0.1:{prom_port}"
            wait_http(f"{stack.prometheus_url}/-/ready", processes[-1], seconds=30)
            # Prometheus applies new targets after a few seconds; wait for the first scrape.
            wait_http(f"{stack.prometheus_url}/api/v1/query?query=meetfleet_server_up", processes[-1], seconds=30,
                      ok=lambda r: r.status_code == 200 and len(r.json()["data"]["result"]) == 3)
    except BaseException:
        stack.stop()
        raise
    return stack


def prometheus_has(stack: Stack, expr: str) -> bool:
    response = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": expr}, timeout=5)
    return bool(response.json()["data"]["result"])


@dataclass
class BackfilledPrometheus:
    """Debian's Prometheus serving weeks of history written with promtool (no scraping)."""

    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_backfilled(root: Path, series: dict[str, dict[tuple[tuple[str, str], ...], object]], start: float,
                     end: float, step: float = 300.0) -> BackfilledPrometheus:
    """Write `series` ({metric: {labels: value_at(t) or None}}) from start to end into a TSDB
    with `promtool tsdb create-blocks-from openmetrics`, and start Prometheus on it."""
    source = root / "history.om"
    times = [start + i * step for i in range(int((end - start) // step) + 1)]
    with source.open("w") as out:
        for metric, by_labels in series.items():
            out.write(f"# TYPE {metric} gauge\n")
            for labels, value_at in by_labels.items():
                text = ",".join(f'{k}="{v}"' for k, v in labels)
                for t in times:
                    value = value_at(t)  # type: ignore[operator]
                    if value is not None:
                        out.write(f"{metric}{{{text}}} {value} {t:.0f}\n")
        out.write("# EOF\n")
    tsdb = root / "tsdb"
    subprocess.run([str(PROMETHEUS.parent / "promtool"), "tsdb", "create-blocks-from", "openmetrics",
                    "--max-block-duration=24h", str(source), str(tsdb)], check=True, capture_output=True,
                   timeout=300)
    port = free_port()
    config = root / "prometheus.yml"
    config.write_text(json.dumps({"global": {"scrape_interval": "1m"}, "scrape_configs": []}))
    process = _spawn([str(PROMETHEUS), f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
                      "--storage.tsdb.retention.time=90d", f"--web.listen-address=127.0.0.1:{port}"],
                     root / "prometheus.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/-/ready", process, seconds=60)
    except BaseException:
        process.terminate()
        raise
    return BackfilledPrometheus(url, process)


# --- canned HTTP(S) answers: a source serving exactly the values a test needs ----------

Answer = Callable[[str, dict[str, str]], tuple[int, str, str]]


class CannedServer:
    """An HTTP server on 127.0.0.1 answering each GET or POST with `answer(path, params)`:
    (status, content type, body). Real sockets, so the readers' httpx calls run as in
    production. `credentials`: basic auth required; `tls`: (certificate, key) files."""

    def __init__(self, answer: Answer, credentials: tuple[str, str] | None = None,
                 tls: tuple[Path, Path] | None = None) -> None:
        self.answer = answer
        expected = None
        if credentials:
            expected = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
        canned = self

        class Handler(BaseHTTPRequestHandler):
            # A client that stays silent (a kept-alive or half-done TLS connection) must not
            # hold stop() forever: its thread gives up after this, then stop() joins it.
            timeout = 10

            def _reply(self, params: dict[str, str]) -> None:
                if expected and self.headers.get("Authorization") != expected:
                    status, kind, body = 401, "text/plain", "Unauthorized"
                else:
                    status, kind, body = canned.answer(urlsplit(self.path).path, params)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._reply({k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                self._reply({k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()})

            def log_message(self, format: str, *args: object) -> None:  # quiet: no request log on stderr
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            # The handshake in each connection's own thread, not in accept(): one slow or
            # refusing client must not hold up the others.
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True,
                                                    do_handshake_on_connect=False)
            scheme = "https"
        # A client refusing the certificate is what some tests want: no traceback on stderr.
        self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        # Each request's thread is joined on stop (server_close), so none is left to write
        # into the next test's output.
        self.httpd.daemon_threads = False
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and wait for the serving thread and every request's thread."""
        self.httpd.shutdown()
        self.thread.join(10)
        assert not self.thread.is_alive(), "the canned server's thread did not stop"
        self.httpd.server_close()


def test_ca(root: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for 127.0.0.1 signed by it: (ca, cert, key) files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meetfleet test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = root / "ca.pem", root / "cert.pem", root / "key.pem"
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return files
