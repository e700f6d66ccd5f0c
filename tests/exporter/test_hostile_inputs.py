"""Hostile and broken inputs to `meetfleet-exporter`: a clear refusal naming the file and key
(exit 2) at start-up, and at most one log line per misbehaving client while serving, never
a traceback, the exporter still answering scrapes afterwards."""

from __future__ import annotations

import datetime
import hashlib
import http.client
import ipaddress
import logging
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from capacity_exporter import web as web_module
from capacity_exporter.config import MAX_FILE_BYTES, Tls, WebConfig
from capacity_exporter.main import main
from capacity_exporter.web import MetricsServer
from tests.exporter.conftest import FleetLab, parse_metrics, secret_of, value

# --- helpers ---------------------------------------------------------------------------


def run_cli(*args: str) -> tuple[int, str]:
    """The exporter in-process; returns (exit code, stderr with whitespace collapsed)."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)  # a traceback fails the test
    return result.exit_code, " ".join(result.stderr.split())


def run_cli_process(*args: str, timeout: float = 30) -> tuple[int, str]:
    """The exporter as a process: for inputs that could hang it (a FIFO, a passphrase prompt)."""
    proc = subprocess.run([sys.executable, "-m", "capacity_exporter.main", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, start_new_session=True)
    return proc.returncode, proc.stderr


def secrets_file(path: Path, content: str | bytes, mode: int = 0o600) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    os.chmod(path, mode)
    return path


def good_secrets() -> str:
    return "bbb_secrets:\n" + "".join(f"  {s}: {secret_of(s)}\n" for s in ("bbb-a.test", "bbb-b.test", "bbb-c.test"))


def make_cert(directory: Path, name: str = "server") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def web_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def tls_yaml(cert: Path, key: Path) -> str:
    return f"tls:\n  cert_file: {cert}\n  key_file: {key}\n"


# --- the secrets file ------------------------------------------------------------------


def refused(lab: FleetLab, secrets: Path) -> str:
    code, stderr = run_cli("--inventory", str(lab.inventory), "--secrets", str(secrets), "--once")
    assert code == 2, stderr
    assert str(secrets) in stderr
    return stderr


def test_secrets_not_utf8_is_refused_by_line_without_echo(lab: FleetLab, tmp_path: Path) -> None:
    bad = secrets_file(tmp_path / "s.yml", b"bbb_secrets:\n  bbb-a.test: hunter2\xff\xfe\n")
    stderr = refused(lab, bad)
    assert "is not UTF-8 text (line 2)" in stderr and "hunter2" not in stderr


def test_secrets_duplicate_key_is_refused_naming_key_and_lines(lab: FleetLab, tmp_path: Path) -> None:
    # YAML would keep the last bbb-a.test silently: the first one may be the right secret.
    dup = secrets_file(tmp_path / "s.yml", good_secrets() + "  bbb-a.test: hunter2\n")
    stderr = refused(lab, dup)
    assert "bbb-a.test: duplicate key at line 5 (first at line 2)" in stderr and "hunter2" not in stderr


def test_secrets_duplicate_top_level_key_is_refused(lab: FleetLab, tmp_path: Path) -> None:
    dup = secrets_file(tmp_path / "s.yml", good_secrets() + "bbb_secrets: {}\n")
    assert "bbb_secrets: duplicate key at line 5 (first at line 1)" in refused(lab, dup)


def test_yaml_merge_keys_are_not_duplicates(lab: FleetLab, tmp_path: Path) -> None:
    # `<<` merges exist to be overridden: not a duplicate. The file is otherwise valid.
    merged = secrets_file(tmp_path / "s.yml", "base: &b {bbb-a.test: x, bbb-b.test: y, bbb-c.test: z}\n"
                                              "bbb_secrets:\n  <<: *b\n  bbb-a.test: override\n")
    code, stderr = run_cli("--inventory", str(lab.inventory), "--secrets", str(merged), "--interval", "1",
                           "--timeout", "5")
    assert code == 2 and "--timeout (5) must be shorter" in stderr  # got past the secrets: only this refusal
    from capacity_exporter.config import load_secrets
    assert load_secrets(merged)["bbb-a.test"] == "override"


@pytest.mark.parametrize(("content", "message"), [
    ("- bbb-a.test\n- hunter2\n", "bbb_secrets: must be a mapping of BBB host names to their secrets"),
    ("bbb_secrets: [bbb-a.test, hunter2]\n", "bbb_secrets: must be a mapping of BBB host names"),
    ("bbb_secrets:\n  bbb-a.test: [hunter2]\n", "bbb_secrets.bbb-a.test: must be a non-empty string (quote it)"),
    ("bbb_secrets:\n  bbb-a.test: 12345\n", "bbb_secrets.bbb-a.test: must be a non-empty string (quote it)"),
    ("bbb_secrets:\n  bbb-a.test: {x: hunter2}\n", "bbb_secrets.bbb-a.test: must be a non-empty string"),
    ("bbb_secrets:\n  1234: hunter2\n", "bbb_secrets.1234: the key must be a host name"),
    ("", "bbb_secrets: must be a mapping"),
    ("bbb_secrets:\n  bbb-a.test: !!python/object:os.system hunter2\n", "is not valid YAML (line 2)"),
    ("bbb_secrets:\n  bbb-a.test: hunter2\x00\n", "is not valid YAML (line 2)"),
    ("a: 1\n---\nb: 2\n", "is not valid YAML (line 2)"),
    ("[" * 50_000, "nests too deeply to be read"),
], ids=["list", "secrets-list", "value-list", "value-int", "value-map", "key-int", "empty", "python-tag", "nul",
        "two-documents", "deep"])
def test_secrets_of_the_wrong_shape_are_refused(lab: FleetLab, tmp_path: Path, content: str, message: str) -> None:
    stderr = refused(lab, secrets_file(tmp_path / "s.yml", content))
    assert message in stderr and "hunter2" not in stderr


def test_world_readable_secrets_are_refused(lab: FleetLab, tmp_path: Path) -> None:
    stderr = refused(lab, secrets_file(tmp_path / "s.yml", good_secrets(), mode=0o604))
    assert "readable by group or others (mode 0604); chmod 600 it" in stderr


def test_secrets_fifo_is_refused_without_waiting_for_a_writer(lab: FleetLab, tmp_path: Path) -> None:
    fifo = tmp_path / "s.yml"
    os.mkfifo(fifo, 0o600)
    code, stderr = run_cli_process("--inventory", str(lab.inventory), "--secrets", str(fifo), "--once")
    assert code == 2 and f"{fifo}: is a FIFO, not a regular file" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.symlink_to("/dev/zero"), "is a character device, not a regular file"),
    (lambda p: p.mkdir(mode=0o700), "is a directory, not a regular file"),
    (lambda p: (p.symlink_to(p.with_name("loop2")), p.with_name("loop2").symlink_to(p)),
     "cannot open: Too many levels of symbolic links"),
    (lambda p: p.symlink_to(p.with_name("nowhere")), "cannot open: No such file or directory"),
], ids=["device", "directory", "symlink-loop", "dangling-symlink"])
def test_secrets_that_are_not_a_regular_file_are_refused(lab: FleetLab, tmp_path: Path,
                                                         make: Callable[[Path], object], message: str) -> None:
    path = tmp_path / "s.yml"
    make(path)
    assert f"{path}: {message}" in refused(lab, path)


def test_symlink_to_a_private_secrets_file_is_followed(lab: FleetLab, tmp_path: Path) -> None:
    # Secrets are often mounted as links (systemd credentials, Kubernetes): the target is checked.
    link = tmp_path / "link.yml"
    link.symlink_to(lab.secrets_file)
    code, stderr = run_cli("--inventory", str(lab.inventory), "--secrets", str(link), "--once", "--json")
    assert code == 0, stderr


def test_huge_secrets_file_is_refused_by_size(lab: FleetLab, tmp_path: Path) -> None:
    huge = secrets_file(tmp_path / "s.yml", good_secrets())
    os.truncate(huge, 2 * MAX_FILE_BYTES)  # sparse: no disk used
    assert f"is {2 * MAX_FILE_BYTES} bytes, more than the {MAX_FILE_BYTES} allowed" in refused(lab, huge)


def test_path_with_markup_characters_is_printed_as_is(lab: FleetLab, tmp_path: Path) -> None:
    # rich would read "[/x]" in the message as a closing tag and raise MarkupError.
    (tmp_path / "odd[").mkdir()
    path = tmp_path / "odd[" / "x]"
    stderr = refused(lab, path)
    assert f"{path}: cannot open: No such file or directory" in stderr


# --- the web config: TLS files ---------------------------------------------------------


def web_refused(lab: FleetLab, config: Path, process: bool = False) -> str:
    # --once: the web config is checked all the same, and an exporter that wrongly accepts
    # it exits after one poll instead of serving for ever (the test fails, it does not hang).
    args = ("--inventory", str(lab.inventory), "--secrets", str(lab.secrets_file), "--web-config", str(config),
            "--once")
    code, stderr = run_cli_process(*args) if process else run_cli(*args)
    assert code == 2, stderr
    assert f"{config}: " in " ".join(stderr.split()) and "Traceback" not in stderr
    return " ".join(stderr.split())


@pytest.fixture
def certs(tmp_path: Path) -> tuple[Path, Path]:
    return make_cert(tmp_path)


def test_certificate_not_pem_is_refused(lab: FleetLab, tmp_path: Path, certs: tuple[Path, Path]) -> None:
    cert, key = certs
    der = tmp_path / "server.der"
    der.write_bytes(x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(serialization.Encoding.DER))
    stderr = web_refused(lab, web_config(tmp_path / "w.yml", tls_yaml(der, key)))
    assert f"tls.cert_file: {der} holds no PEM certificate" in stderr


def test_certificate_with_a_corrupt_body_is_refused(lab: FleetLab, tmp_path: Path, certs: tuple[Path, Path]) -> None:
    _, key = certs
    bad = tmp_path / "bad.crt"
    bad.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    stderr = web_refused(lab, web_config(tmp_path / "w.yml", tls_yaml(bad, key)))
    assert f"tls.cert_file: {bad} is not a valid certificate" in stderr


def test_key_not_matching_the_certificate_is_refused(lab: FleetLab, tmp_path: Path,
                                                     certs: tuple[Path, Path]) -> None:
    cert, _ = certs
    _, other_key = make_cert(tmp_path, "other")
    stderr = web_refused(lab, web_config(tmp_path / "w.yml", tls_yaml(cert, other_key)))
    assert f"tls.key_file: {other_key} is not the key of the certificate in tls.cert_file ({cert})" in stderr


def test_encrypted_key_is_refused_without_prompting(lab: FleetLab, tmp_path: Path, certs: tuple[Path, Path]) -> None:
    cert, key = certs
    encrypted = tmp_path / "enc.key"
    private = serialization.load_pem_private_key(key.read_bytes(), None)
    encrypted.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.BestAvailableEncryption(b"pass")))
    stderr = web_refused(lab, web_config(tmp_path / "w.yml", tls_yaml(cert, encrypted)), process=True)
    assert f"tls.key_file: {encrypted} is encrypted; the exporter cannot ask for a passphrase" in stderr


@pytest.mark.parametrize(("which", "message"), [
    ("cert-is-key", "tls.cert_file: {key} holds no PEM certificate"),
    ("key-is-cert", "tls.key_file: {cert} holds no PEM private key"),
    ("key-missing", "tls.key_file: {missing} does not exist"),
    ("cert-is-dir", "tls.cert_file: {dir}: is a directory, not a regular file"),
    ("key-is-fifo", "tls.key_file: {fifo}: is a FIFO, not a regular file"),
])
def test_tls_file_problems_are_refused_by_key(lab: FleetLab, tmp_path: Path, certs: tuple[Path, Path],
                                              which: str, message: str) -> None:
    cert, key = certs
    names = {"cert": cert, "key": key, "missing": tmp_path / "missing.key", "dir": tmp_path, "fifo": tmp_path / "k"}
    os.mkfifo(names["fifo"], 0o600)
    pair = {"cert-is-key": (key, key), "key-is-cert": (cert, cert), "key-missing": (cert, names["missing"]),
            "cert-is-dir": (tmp_path, key), "key-is-fifo": (cert, names["fifo"])}[which]
    stderr = web_refused(lab, web_config(tmp_path / "w.yml", tls_yaml(*pair)), process=which == "key-is-fifo")
    assert message.format(**names) in stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_unreadable_key_is_refused(lab: FleetLab, tmp_path: Path, certs: tuple[Path, Path]) -> None:
    cert, key = certs
    key.chmod(0)
    stderr = web_refused(lab, web_config(tmp_path / "w.yml", tls_yaml(cert, key)))
    assert f"tls.key_file: {key}: cannot open: Permission denied" in stderr


def test_combined_certificate_and_key_file_is_accepted(lab: FleetLab, tmp_path: Path,
                                                       certs: tuple[Path, Path]) -> None:
    cert, key = certs
    both = tmp_path / "both.pem"
    both.write_bytes(key.read_bytes() + cert.read_bytes())
    config = web_config(tmp_path / "w.yml", tls_yaml(both, both))
    from capacity_exporter.config import load_web_config
    assert load_web_config(config).server_context() is not None


# --- the web config: basic auth and shape ----------------------------------------------

GOOD_HASH = hashlib.sha256(b"scrape-pw").hexdigest()


@pytest.mark.parametrize(("content", "message"), [
    (f"basic_auth: {{username: 'pro:metheus', password_sha256: {GOOD_HASH}}}\n",
     "basic_auth.username: must not contain ':'"),
    (f"basic_auth: {{username: '', password_sha256: {GOOD_HASH}}}\n", "basic_auth.username: String should have"),
    (f"basic_auth: {{username: 123, password_sha256: {GOOD_HASH}}}\n", "basic_auth.username: Input should be"),
    ("basic_auth: {username: p, password_sha256: hunter2}\n",
     "basic_auth.password_sha256: must be the hex sha256 of the password, 64 hex digits"),
    (f"basic_auth: {{username: p, password_sha256: {hashlib.sha256(b'').hexdigest()}}}\n",
     "basic_auth.password_sha256: is the sha256 of an empty password"),
    (f"basic_auth: {{username: p, password_sha256: {GOOD_HASH}, password: hunter2}}\n",
     "basic_auth.password: is not a known key; give password_sha256"),
    (f"basic_auth: {{username: p}}\nbasic_auth: {{username: q, password_sha256: {GOOD_HASH}}}\n",
     "basic_auth: duplicate key at line 2 (first at line 1)"),
    ("basic_auth: [prometheus, hunter2]\n", "basic_auth: Input should be a valid dictionary"),
    ("- basic_auth\n", "must be a mapping with basic_auth and/or tls"),
    ("basic_auth: {username: p, password_sha256: \xe9}\n".encode("latin-1"), "is not UTF-8 text (line 1)"),
], ids=["colon", "empty-user", "int-user", "not-hex", "empty-password", "plain-password", "duplicate",
        "list", "file-list", "latin-1"])
def test_bad_basic_auth_is_refused_by_key(lab: FleetLab, tmp_path: Path, content: str | bytes, message: str) -> None:
    config = tmp_path / "w.yml"
    config.write_bytes(content.encode() if isinstance(content, str) else content)
    stderr = web_refused(lab, config)
    assert message in stderr and "hunter2" not in stderr


# --- serving: misbehaving clients, in-process ------------------------------------------


class Served:
    def __init__(self, server: MetricsServer, caplog: pytest.LogCaptureFixture, tls_ca: Path | None):
        self.server, self.caplog, self.ca = server, caplog, tls_ca
        self.port = server.server_address[1]
        self.url = f"{'https' if tls_ca else 'http'}://127.0.0.1:{self.port}/metrics"

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def tls_connect(self) -> ssl.SSLSocket:
        context = ssl.create_default_context(cafile=self.ca)
        return context.wrap_socket(self.connect(), server_hostname="127.0.0.1")

    def lines_for(self, sock_port: int) -> list[str]:
        return [r.getMessage() for r in self.caplog.records if f"127.0.0.1:{sock_port}:" in r.getMessage()]

    def wait_lines(self, sock_port: int, expected: int, within: float = 5.0) -> list[str]:
        """The log lines about one client: waits for `expected`, then a moment for any extra one."""
        deadline = time.monotonic() + within
        while len(self.lines_for(sock_port)) < expected and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        return self.lines_for(sock_port)

    def scrape_ok(self) -> None:
        response = httpx.get(self.url, verify=ssl.create_default_context(cafile=self.ca) if self.ca else True,
                             timeout=5)
        assert response.status_code == 200 and response.content == PAYLOAD


PAYLOAD = b"meetfleet_test 1\n"


def read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def rst_close(sock: socket.socket) -> None:
    # SO_LINGER 0: close sends a TCP reset, as a crashed or killed client's kernel does.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.fixture
def serve(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
          tmp_path: Path) -> Iterator[Callable[..., Served]]:
    servers: list[MetricsServer] = []
    caplog.set_level(logging.INFO, logger="meetfleet.exporter.web")

    def start(tls: bool = False, payload: bytes = PAYLOAD) -> Served:
        ca = None
        config = WebConfig()
        if tls:
            ca, key = make_cert(tmp_path)
            config = WebConfig(tls=Tls(cert_file=ca, key_file=key))
        server = MetricsServer(("127.0.0.1", 0), lambda: payload, config)
        server.start()
        servers.append(server)
        return Served(server, caplog, ca)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    # socketserver's default handle_error prints a traceback on stderr; none may appear.
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err
    assert not [r for r in caplog.records if r.exc_info], "a log record carries a traceback"


def test_plain_client_resetting_mid_request_costs_one_line(serve: Callable[..., Served]) -> None:
    served = serve()
    sock = served.connect()
    port = sock.getsockname()[1]
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # headers not finished
    time.sleep(0.1)
    rst_close(sock)
    lines = served.wait_lines(port, 1)
    assert len(lines) == 1 and "disconnected mid-request" in lines[0], lines
    served.scrape_ok()


def test_client_resetting_mid_response_costs_one_line(serve: Callable[..., Served]) -> None:
    served = serve(payload=b"x" * 20_000_000)  # more than the socket buffers: the write must fail
    sock = served.connect()
    port = sock.getsockname()[1]
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(1024).startswith(b"HTTP/1.1 200")
    rst_close(sock)
    lines = served.wait_lines(port, 1)
    assert len(lines) == 1 and "disconnected mid-request" in lines[0], lines
    response = httpx.get(served.url, timeout=10)
    assert response.status_code == 200 and len(response.content) == 20_000_000


@pytest.mark.parametrize(("request_bytes", "status", "logged"), [
    (b"\x00\x01\x02\xffgarbage\r\n\r\n", 400, "code 400, message Bad request"),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "code 414"),
    (b"GET /metrics HTTP/1.1\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n", 431, "code 431, message Line too long"),
    (b"GET /metrics HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 150 + b"\r\n", 431, "code 431, message Too many headers"),
    (b"BREW /metrics HTTP/1.1\r\n\r\n", 501, "code 501, message Unsupported method ('BREW')"),
], ids=["garbage", "huge-request-line", "huge-header", "too-many-headers", "unknown-method"])
def test_bad_requests_get_an_error_status_and_one_line(serve: Callable[..., Served], request_bytes: bytes,
                                                       status: int, logged: str) -> None:
    served = serve()
    with served.connect() as sock:
        port = sock.getsockname()[1]
        sock.sendall(request_bytes)
        answer = read_until_closed(sock)  # the server closes after an error
    # A request line without a version is answered HTTP/0.9 style: the body only.
    assert f"Error code: {status}".encode() in answer, answer[:200]
    lines = served.wait_lines(port, 1)
    assert len(lines) == 1 and logged in lines[0], lines
    assert len(lines[0]) < 300  # client bytes are clipped in the log
    served.scrape_ok()


def test_silent_client_is_timed_out_in_one_line_and_blocks_no_one(serve: Callable[..., Served],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_module._Handler, "timeout", 0.5)
    served = serve()
    silent = served.connect()
    port = silent.getsockname()[1]
    served.scrape_ok()  # while the silent client holds its connection
    lines = served.wait_lines(port, 1)
    assert len(lines) == 1 and "Request timed out" in lines[0], lines
    silent.close()


def test_idle_keep_alive_connection_and_port_probe_log_nothing(serve: Callable[..., Served],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Prometheus keeps its connection between scrapes (15 s, more than the handler's
    # timeout): that close is normal, as is a probe that connects and leaves.
    monkeypatch.setattr(web_module._Handler, "timeout", 0.3)
    served = serve()
    kept = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
    kept.request("GET", "/metrics")
    assert kept.getresponse().read() == PAYLOAD
    port = kept.sock.getsockname()[1]
    time.sleep(0.8)  # the server times the idle connection out
    assert kept.sock.recv(1) == b""
    kept.close()
    probe = served.connect()
    probe_port = probe.getsockname()[1]
    probe.close()
    time.sleep(0.3)
    assert served.lines_for(port) == [] and served.lines_for(probe_port) == []
    served.scrape_ok()


def test_tls_port_plain_http_garbage_and_silence_cost_one_line_each(serve: Callable[..., Served],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_module, "HANDSHAKE_TIMEOUT", 0.5)
    served = serve(tls=True)
    silent = served.connect()  # holds a connection through the whole test
    silent_port = silent.getsockname()[1]

    with served.connect() as plain:
        plain_port = plain.getsockname()[1]
        plain.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert plain.recv(100) == b""  # closed, no answer in clear text
    with served.connect() as fake:  # a handshake record header, then junk
        fake_port = fake.getsockname()[1]
        fake.sendall(b"\x16\x03\x01\x00\x20" + b"\x00" * 32)
        fake.recv(100)
    untrusting = served.connect()
    untrusting_port = untrusting.getsockname()[1]
    with pytest.raises(ssl.SSLCertVerificationError):  # a client that does not trust the certificate
        ssl.create_default_context().wrap_socket(untrusting, server_hostname="127.0.0.1")
    served.scrape_ok()

    assert [len(served.wait_lines(p, 1)) for p in (plain_port, fake_port, untrusting_port, silent_port)] == [1] * 4
    assert "not a TLS handshake (plain HTTP to the HTTPS port?)" in served.lines_for(plain_port)[0]
    assert "TLS handshake failed: " in served.lines_for(fake_port)[0]
    assert "TLS handshake failed: TLSV1_ALERT_UNKNOWN_CA" in served.lines_for(untrusting_port)[0]
    assert "sent nothing to start TLS: timed out" in served.lines_for(silent_port)[0]
    silent.close()
    served.scrape_ok()


def test_tls_client_resetting_mid_request_costs_one_line(serve: Callable[..., Served]) -> None:
    served = serve(tls=True)
    tls = served.tls_connect()
    port = tls.getsockname()[1]
    tls.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    time.sleep(0.1)
    raw = socket.socket(fileno=tls.detach())
    rst_close(raw)
    lines = served.wait_lines(port, 1)
    assert len(lines) == 1 and "disconnected mid-request" in lines[0], lines
    served.scrape_ok()


def test_many_hostile_clients_at_once_do_not_stop_scrapes(serve: Callable[..., Served],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # A timeout far above what a scrape takes even on a loaded machine: a scrape queued
    # behind the silent clients would take at least this long, one answered beside them
    # takes a fraction of it (the old 1 s bound against 1 s of load was a coin toss).
    monkeypatch.setattr(web_module, "HANDSHAKE_TIMEOUT", 10.0)
    served = serve(tls=True)
    silent = [served.connect() for _ in range(20)]  # each holds a thread until its timeout

    def garbage() -> None:
        for _ in range(10):
            with served.connect() as sock:
                sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
                sock.recv(10)

    threads = [threading.Thread(target=garbage) for _ in range(3)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    served.scrape_ok()
    assert time.monotonic() - started < 5.0  # not behind the silent ones' 10 s timeout
    for thread in threads:
        thread.join()
    for sock in silent:
        sock.close()


# --- serving: the real exporter, as a process ------------------------------------------


def test_daemon_survives_hostile_clients_with_one_line_each(lab: FleetLab, tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    config = web_config(tmp_path / "w.yml", tls_yaml(cert, key)
                        + f"basic_auth:\n  username: prometheus\n  password_sha256: {GOOD_HASH}\n")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "capacity_exporter.main", "--inventory", str(lab.inventory), "--secrets",
         str(lab.secrets_file), "--listen", f"127.0.0.1:{port}", "--interval", "5", "--timeout", "4",
         "--web-config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"https://127.0.0.1:{port}/metrics"
    trusted = ssl.create_default_context(cafile=cert)

    def scrape() -> httpx.Response:
        return httpx.get(url, auth=("prometheus", "scrape-pw"), verify=trusted, timeout=5)

    ports: dict[str, int] = {}
    try:
        # A bound on failure, not a pace: on a loaded machine start-up alone takes seconds.
        deadline = time.monotonic() + 60
        while True:
            try:
                if value(parse_metrics(scrape().text), "meetfleet_server_up", server="bbb-c.test",
                         region="ca") is not None:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "exporter did not come up"
            time.sleep(0.1)

        with socket.create_connection(("127.0.0.1", port)) as plain:
            ports["plain-http"] = plain.getsockname()[1]
            plain.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            plain.recv(100)
        # openssl s_client without the CA: it refuses the certificate and sends an alert.
        s_client = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-verify_return_error",
                                     "-servername", "localhost"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        _, s_err = s_client.communicate("", timeout=15)
        assert s_client.returncode != 0 and "verify error" in s_err, s_err
        with trusted.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1") as tls:
            ports["huge-header"] = tls.getsockname()[1]
            tls.sendall(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n")
            assert tls.recv(100).startswith(b"HTTP/1.1 431")
        tls = trusted.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
        ports["reset"] = tls.getsockname()[1]
        tls.sendall(b"GET /metrics HTTP/1.1\r\n")
        time.sleep(0.1)
        rst_close(socket.socket(fileno=tls.detach()))
        time.sleep(0.5)
        response = scrape()
        assert response.status_code == 200
        assert value(parse_metrics(response.text), "meetfleet_server_meetings", server="bbb-a.test", region="eu") == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Exception occurred" not in err, err
    for case, client_port in ports.items():
        lines = [line for line in err.splitlines() if f"client 127.0.0.1:{client_port}:" in line]
        assert len(lines) == 1, (case, err)
    client_lines = [line for line in err.splitlines() if "meetfleet.exporter.web: client" in line]
    assert len(client_lines) == len(ports) + 1, err  # + the s_client handshake failure
    assert any("TLS handshake failed" in line for line in client_lines), err
    assert secret_of("bbb-a.test") not in out + err and "scrape-pw" not in err
