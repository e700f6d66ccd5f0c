"""A STAND-IN for the few Hetzner Cloud API endpoints meetfleet calls, for tests only: not
Hetzner's service, no VM is ever made. The tests drive it with the real hcloud-python
client (HCLOUD_ENDPOINT points the client here).

Built from Hetzner's published API reference (https://docs.hetzner.cloud/), sections:
- "Authentication": `Authorization: Bearer TOKEN`; 401 `unauthorized` without it.
- "Errors": `{"error": {"code", "message", "details"}}` with the documented codes
  (`not_found`, `invalid_input`, `uniqueness_error`, `resource_in_use`, `unauthorized`).
- "Pagination": `page`, `per_page` (default 25, at most 50) and
  `meta.pagination {page, per_page, previous_page, next_page, last_page, total_entries}`.
- "Label Selector": `k=v`, `k!=v`, `k`, `!k`, joined by commas (all must hold).
- "Servers": GET /servers (filters `name`, `label_selector`), GET /servers/{id},
  POST /servers (answers `server`, `action`, `next_actions`, `root_password`),
  DELETE /servers/{id} (answers `action`); the Server object's fields as hcloud-python's
  `BoundServer` reads them (public_net.ipv4/ipv6/firewalls, server_type, datacenter,
  location, image, labels, protection...).
- "SSH Keys": GET /ssh_keys (filters `name`, `fingerprint`, `label_selector`), POST /ssh_keys
  (the MD5 fingerprint computed, name and key unique: `uniqueness_error`).
- "Firewalls": GET /firewalls (`name`, `label_selector`), POST /firewalls (answers
  `firewall`, `actions`), DELETE /firewalls/{id} (204; `resource_in_use` while applied to a
  server), POST /firewalls/{id}/actions/set_rules, .../apply_to_resources, .../remove_from_resources (answer
  `actions`; `firewall_already_applied`); a rule's fields
  direction, protocol, port, source_ips, destination_ips, description.
- "Actions": GET /actions/{id}; an action here is `running` when made and `success` the
  first time it is read (the client's wait_until_finished then returns at once).

What it does not model (only the real API shows it): quotas and prices, real server types
and images per location, asynchronous progress, rate limits, deletion protection, the
exact wording of Hetzner's messages.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "standin-token"  # the stand-in's own
LOCATIONS = {"fsn1": ("Falkenstein DC Park 1", "DE", "Falkenstein", "eu-central"),
             "nbg1": ("Nuremberg DC Park 1", "DE", "Nuremberg", "eu-central"),
             "hel1": ("Helsinki DC Park 1", "FI", "Helsinki", "eu-central"),
             "ash": ("Ashburn, VA", "US", "Ashburn, VA", "us-east"),
             "hil": ("Hillsboro, OR", "US", "Hillsboro, OR", "us-west"),
             "sin": ("Singapore", "SG", "Singapore", "ap-southeast")}
SERVER_TYPES = {"cx22": 2, "cx32": 4, "cx42": 8, "cpx11": 2, "cpx21": 3, "cpx31": 4, "cpx41": 8, "cpx51": 16,
                "ccx13": 2, "ccx23": 4, "ccx33": 8, "ccx43": 16}
IMAGES = ("ubuntu-22.04", "ubuntu-24.04", "debian-12")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _fingerprint(public_key: str) -> str:
    parts = public_key.split()
    if len(parts) < 2:
        raise ApiError(422, "invalid_input", "invalid public key")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise ApiError(422, "invalid_input", "invalid public key") from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def matches(labels: dict[str, str], expression: str) -> bool:
    for term in filter(None, (t.strip() for t in expression.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.rstrip("=")) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


@dataclass
class Cloud:
    """The stand-in's project: what it holds, and every request it got (method, path)."""

    url: str = ""
    servers: dict[int, dict[str, Any]] = field(default_factory=dict)
    ssh_keys: dict[int, dict[str, Any]] = field(default_factory=dict)
    firewalls: dict[int, dict[str, Any]] = field(default_factory=dict)
    actions: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # commands (delete_server, create_server, ...) answered with Hetzner's `locked` error
    refuse: set[str] = field(default_factory=set)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, method: str, prefix: str) -> int:
        return sum(1 for m, p in self.requests if m == method and urlsplit(p).path.rstrip("/") == prefix)

    # --- objects ---------------------------------------------------------------------

    def _action(self, command: str, resources: list[tuple[int, str]]) -> dict[str, Any]:
        action = {"id": next(self.ids), "command": command, "status": "running", "progress": 0,
                  "started": _now(), "finished": None, "error": None,
                  "resources": [{"id": i, "type": t} for i, t in resources]}
        self.actions[action["id"]] = action
        return dict(action)

    def _server_json(self, server: dict[str, Any]) -> dict[str, Any]:
        firewalls = [{"id": f["id"], "status": "applied"} for f in self.firewalls.values()
                     if any(a["server"]["id"] == server["id"] for a in f["applied_to"])]
        return {**server, "public_net": {**server["public_net"], "firewalls": firewalls}}

    def create_server(self, body: dict[str, Any]) -> dict[str, Any]:
        name, type_name, image = body.get("name"), body.get("server_type"), body.get("image")
        if not isinstance(name, str) or not name:
            raise ApiError(422, "invalid_input", "invalid input in field 'name'")
        if any(s["name"] == name for s in self.servers.values()):
            raise ApiError(409, "uniqueness_error", "server name is already used")
        if type_name not in SERVER_TYPES:
            raise ApiError(422, "invalid_input", "server type not found")
        if image not in IMAGES:
            raise ApiError(422, "invalid_input", "image not found")
        location = body.get("location", "fsn1")
        if location not in LOCATIONS:
            raise ApiError(422, "invalid_input", "location not found")
        for key_ref in body.get("ssh_keys") or []:
            if not any(key_ref in (k["id"], k["name"]) for k in self.ssh_keys.values()):
                raise ApiError(422, "invalid_input", f"SSH key not found: {key_ref}")
        attach = [ref["firewall"] for ref in body.get("firewalls") or []]
        for fw in attach:
            if fw not in self.firewalls:
                raise ApiError(422, "invalid_input", f"firewall not found: {fw}")
        server_id = next(self.ids)
        description, country, city, zone = LOCATIONS[location]
        location_json = {"id": list(LOCATIONS).index(location) + 1, "name": location, "description": description,
                         "country": country, "city": city, "latitude": 0.0, "longitude": 0.0,
                         "network_zone": zone}
        n = server_id % 250
        server = {
            "id": server_id, "name": name, "status": "running", "created": _now(),
            "public_net": {"ipv4": {"id": next(self.ids), "ip": f"192.0.2.{n}", "blocked": False,
                                    "dns_ptr": f"static.{n}.2.0.192.clients.your-server.de"},
                           "ipv6": {"id": next(self.ids), "ip": f"2001:db8:{n:x}::/64", "blocked": False,
                                    "dns_ptr": []},
                           "floating_ips": [], "firewalls": []},
            "private_net": [],
            "server_type": {"id": list(SERVER_TYPES).index(type_name) + 1, "name": type_name,
                            "description": type_name.upper(), "cores": SERVER_TYPES[type_name],
                            "memory": 2.0 * SERVER_TYPES[type_name], "disk": 40, "deprecated": False,
                            "prices": [], "storage_type": "local", "cpu_type": "shared",
                            "architecture": "x86"},
            "datacenter": {"id": location_json["id"], "name": f"{location}-dc1", "description": description,
                           "location": location_json},
            "location": location_json,
            "image": {"id": IMAGES.index(image) + 1, "type": "system", "status": "available", "name": image,
                      "description": image, "os_flavor": image.split("-")[0], "os_version": image.split("-")[1],
                      "rapid_deploy": True, "deprecated": None, "labels": {}, "architecture": "x86"},
            "iso": None, "rescue_enabled": False, "locked": False, "backup_window": None,
            "outgoing_traffic": 0, "ingoing_traffic": 0, "included_traffic": 21990232555520,
            "protection": {"delete": False, "rebuild": False}, "labels": dict(body.get("labels") or {}),
            "volumes": [], "load_balancers": [], "primary_disk_size": 40, "placement_group": None,
        }
        self.servers[server_id] = server
        for fw in attach:
            self.firewalls[fw]["applied_to"].append({"type": "server", "server": {"id": server_id}})
        action = self._action("create_server", [(server_id, "server")])
        start = self._action("start_server", [(server_id, "server")])
        return {"server": self._server_json(server), "action": action, "next_actions": [start],
                "root_password": None if body.get("ssh_keys") else "not-a-real-password"}

    def delete_server(self, server_id: int) -> dict[str, Any]:
        if "delete_server" in self.refuse:
            raise ApiError(423, "locked", "the server is locked")
        if server_id not in self.servers:
            raise ApiError(404, "not_found", "server not found")
        del self.servers[server_id]
        for firewall in self.firewalls.values():
            firewall["applied_to"] = [a for a in firewall["applied_to"] if a["server"]["id"] != server_id]
        return {"action": self._action("delete_server", [(server_id, "server")])}

    def create_ssh_key(self, body: dict[str, Any]) -> dict[str, Any]:
        name, public_key = body.get("name"), body.get("public_key")
        if not isinstance(name, str) or not isinstance(public_key, str):
            raise ApiError(422, "invalid_input", "name and public_key are required")
        fp = _fingerprint(public_key)
        if any(k["name"] == name or k["fingerprint"] == fp for k in self.ssh_keys.values()):
            raise ApiError(409, "uniqueness_error", "SSH key with the same fingerprint or name already exists")
        key = {"id": next(self.ids), "name": name, "fingerprint": fp, "public_key": public_key,
               "labels": dict(body.get("labels") or {}), "created": _now()}
        self.ssh_keys[key["id"]] = key
        return {"ssh_key": key}

    @staticmethod
    def _rules(rules: Any) -> list[dict[str, Any]]:
        out = []
        for rule in rules or []:
            if rule.get("direction") not in ("in", "out") or rule.get("protocol") not in ("tcp", "udp", "icmp",
                                                                                          "esp", "gre"):
                raise ApiError(422, "invalid_input", "invalid firewall rule")
            if rule["protocol"] in ("tcp", "udp") and not rule.get("port"):
                raise ApiError(422, "invalid_input", "port is required for tcp and udp rules")
            if rule["direction"] == "in" and not rule.get("source_ips"):
                raise ApiError(422, "invalid_input", "source_ips is required for inbound rules")
            out.append({"direction": rule["direction"], "protocol": rule["protocol"], "port": rule.get("port"),
                        "source_ips": list(rule.get("source_ips") or []),
                        "destination_ips": list(rule.get("destination_ips") or []),
                        "description": rule.get("description")})
        return out

    def create_firewall(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(422, "invalid_input", "invalid input in field 'name'")
        if any(f["name"] == name for f in self.firewalls.values()):
            raise ApiError(409, "uniqueness_error", "firewall name is already used")
        firewall = {"id": next(self.ids), "name": name, "labels": dict(body.get("labels") or {}),
                    "created": _now(), "rules": self._rules(body.get("rules")), "applied_to": []}
        self.firewalls[firewall["id"]] = firewall
        return {"firewall": firewall, "actions": []}

    def set_rules(self, firewall_id: int, body: dict[str, Any]) -> dict[str, Any]:
        if firewall_id not in self.firewalls:
            raise ApiError(404, "not_found", "firewall not found")
        self.firewalls[firewall_id]["rules"] = self._rules(body.get("rules"))
        return {"actions": [self._action("set_firewall_rules", [(firewall_id, "firewall")])]}

    def apply_to_resources(self, firewall_id: int, body: dict[str, Any]) -> dict[str, Any]:
        firewall = self.firewalls.get(firewall_id)
        if firewall is None:
            raise ApiError(404, "not_found", "firewall not found")
        actions = []
        for resource in body.get("apply_to") or []:
            server_id = (resource.get("server") or {}).get("id")
            if resource.get("type") != "server" or server_id not in self.servers:
                raise ApiError(422, "invalid_input", "only servers that exist can be applied to here")
            if any(a["server"]["id"] == server_id for a in firewall["applied_to"]):
                raise ApiError(422, "firewall_already_applied", "firewall is already applied")
            firewall["applied_to"].append({"type": "server", "server": {"id": server_id}})
            actions.append(self._action("apply_firewall", [(firewall_id, "firewall"), (server_id, "server")]))
        return {"actions": actions}

    def remove_from_resources(self, firewall_id: int, body: dict[str, Any]) -> dict[str, Any]:
        firewall = self.firewalls.get(firewall_id)
        if firewall is None:
            raise ApiError(404, "not_found", "firewall not found")
        ids = {(r.get("server") or {}).get("id") for r in body.get("remove_from") or []}
        firewall["applied_to"] = [a for a in firewall["applied_to"] if a["server"]["id"] not in ids]
        return {"actions": [self._action("remove_firewall", [(firewall_id, "firewall")])]}

    def delete_firewall(self, firewall_id: int) -> None:
        firewall = self.firewalls.get(firewall_id)
        if firewall is None:
            raise ApiError(404, "not_found", "firewall not found")
        if firewall["applied_to"]:
            raise ApiError(422, "resource_in_use", "firewall is still applied to a resource")
        del self.firewalls[firewall_id]

    def read_action(self, action_id: int) -> dict[str, Any]:
        action = self.actions.get(action_id)
        if action is None:
            raise ApiError(404, "not_found", "action not found")
        action.update(status="success", progress=100, finished=action["finished"] or _now())
        return {"action": dict(action)}

    # --- lists -------------------------------------------------------------------------

    @staticmethod
    def page(key: str, items: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
        try:
            page = int(query.get("page", ["1"])[0])
            per_page = min(50, int(query.get("per_page", ["25"])[0]))
        except ValueError:
            raise ApiError(422, "invalid_input", "page and per_page must be numbers") from None
        if page < 1 or per_page < 1:
            raise ApiError(422, "invalid_input", "page and per_page must be positive")
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        return {key: chunk, "meta": {"pagination": {
            "page": page, "per_page": per_page, "previous_page": page - 1 if page > 1 else None,
            "next_page": page + 1 if page < last else None, "last_page": last, "total_entries": len(items)}}}

    def listing(self, key: str, objects: list[dict[str, Any]], query: dict[str, list[str]],
                filters: tuple[str, ...]) -> dict[str, Any]:
        chosen = sorted(objects, key=lambda o: o["id"])
        for name in filters:
            if name in query:
                chosen = [o for o in chosen if o.get(name) == query[name][0]]
        if "label_selector" in query:
            chosen = [o for o in chosen if matches(o["labels"], query["label_selector"][0])]
        return self.page(key, chosen, query)

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["v1"]:
            parts = parts[1:]

        def ident(text: str) -> int:
            if not text.isdigit():
                raise ApiError(404, "not_found", "not found")
            return int(text)

        match method, parts:
            case "GET", ["servers"]:
                return 200, self.listing("servers", [self._server_json(s) for s in self.servers.values()], query,
                                         ("name",))
            case "GET", ["servers", sid]:
                server = self.servers.get(ident(sid))
                if server is None:
                    raise ApiError(404, "not_found", "server not found")
                return 200, {"server": self._server_json(server)}
            case "POST", ["servers"]:
                return 201, self.create_server(body)
            case "DELETE", ["servers", sid]:
                return 200, self.delete_server(ident(sid))
            case "GET", ["ssh_keys"]:
                return 200, self.listing("ssh_keys", list(self.ssh_keys.values()), query, ("name", "fingerprint"))
            case "POST", ["ssh_keys"]:
                return 201, self.create_ssh_key(body)
            case "GET", ["firewalls"]:
                return 200, self.listing("firewalls", list(self.firewalls.values()), query, ("name",))
            case "POST", ["firewalls"]:
                return 201, self.create_firewall(body)
            case "DELETE", ["firewalls", fid]:
                self.delete_firewall(ident(fid))
                return 204, None
            case "POST", ["firewalls", fid, "actions", "set_rules"]:
                return 201, self.set_rules(ident(fid), body)
            case "POST", ["firewalls", fid, "actions", "apply_to_resources"]:
                return 201, self.apply_to_resources(ident(fid), body)
            case "POST", ["firewalls", fid, "actions", "remove_from_resources"]:
                return 201, self.remove_from_resources(ident(fid), body)
            case "GET", ["actions", aid]:
                return 200, self.read_action(ident(aid))
        raise ApiError(404, "not_found", f"the stand-in does not serve {method} /{'/'.join(parts)}")


@contextmanager
def serve() -> Iterator[Cloud]:
    """The stand-in on a free local port, for one test; `Cloud.url` is its API endpoint."""
    cloud = Cloud()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            cloud.requests.append((method, self.path))
            parts = urlsplit(self.path)
            try:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    raise ApiError(401, "unauthorized", "unable to authenticate")
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    raise ApiError(400, "json_error", "invalid JSON") from None
                with cloud.lock:
                    status, payload = cloud.handle(method, parts.path, parse_qs(parts.query), body)
            except ApiError as exc:
                status, payload = exc.status, {"error": {"code": exc.code, "message": exc.message, "details": {}}}
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def do_DELETE(self) -> None:
            self._answer("DELETE")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = False
    cloud.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield cloud
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
