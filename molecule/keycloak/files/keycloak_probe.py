#!/usr/bin/env python3
"""TEST ONLY probe, run inside the molecule container: reads the admin API and signs a user in.

  keycloak_probe.py get PATH            admin API GET /admin/realms/PATH (e.g. meetfleet/clients)
  keycloak_probe.py ensure-user         the test user alice (e-mail verified), password from a file
  keycloak_probe.py signin CLIENT URI   authorization code flow (with PKCE) through nginx at the
                                        public URL, as a browser would: login form, code, token
                                        exchange with the client's secret; prints the tokens' claims
  keycloak_probe.py tenant-admin TENANT   the user admin-of-TENANT, in group TENANT-admins
  keycloak_probe.py member TENANT USER    the user USER, in group TENANT-members (as the realm's admin)
  keycloak_probe.py drop USER             USER deleted if it exists
  keycloak_probe.py as-tenant-admin TENANT METHOD PATH [JSON]
                                        admin API call /admin/realms/PATH signed in as admin-of-TENANT
                                        (the realm's admin-cli); prints {"status", "body"}

Secrets are read from the files prepare.yml made, never taken from the command line or printed.
Standard library only (the container's python3).
"""

from __future__ import annotations

import base64
import hashlib
import html.parser
import http.cookiejar
import json
import secrets
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ADMIN_URL = "http://127.0.0.1:8080"
PUBLIC_URL = "https://sso.test"
REALM = "meetfleet"
CA_FILE = "/etc/ssl/certs/molecule-sso.pem"
USER = "alice"


def secret(name: str) -> str:
    return Path(f"/root/molecule-{name}").read_text().strip()


def admin_token() -> str:
    body = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli", "username": "meetfleet-admin",
                                   "password": secret("keycloak-admin-password")}).encode()
    token_url = f"{ADMIN_URL}/realms/master/protocol/openid-connect/token"
    with urllib.request.urlopen(token_url, body, timeout=30) as r:  # noqa: S310 - a fixed http URL
        return json.load(r)["access_token"]


def admin(method: str, path: str, payload: object = None) -> object:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"{ADMIN_URL}/admin/realms/{path}", data=data, method=method,  # noqa: S310
                                     headers={"Authorization": f"Bearer {admin_token()}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310 - a fixed http URL
        text = r.read().decode()
    return json.loads(text) if text else None


def ensure_user() -> None:
    if not admin("GET", f"{REALM}/users?exact=true&username={USER}"):
        admin("POST", f"{REALM}/users", {
            "username": USER, "enabled": True, "email": f"{USER}@bakery.test", "emailVerified": True,
            "firstName": "Alice", "lastName": "Baker",
            "credentials": [{"type": "password", "value": secret("user-password"), "temporary": False}]})
    print(json.dumps({"user": USER}))


def user_id(username: str) -> str | None:
    found = admin("GET", f"{REALM}/users?exact=true&username={urllib.parse.quote(username)}")
    return found[0]["id"] if found else None


def ensure_in_group(username: str, group: str) -> None:
    if user_id(username) is None:
        admin("POST", f"{REALM}/users", {
            "username": username, "enabled": True, "email": f"{username}@example.test", "emailVerified": True,
            # the user profile's required names: without them Keycloak asks for them first
            "firstName": "Test", "lastName": username,
            "credentials": [{"type": "password", "value": secret("user-password"), "temporary": False}]})
    group_id = next(g["id"] for g in admin("GET", f"{REALM}/groups?exact=true&search={group}") if g["name"] == group)
    admin("PUT", f"{REALM}/users/{user_id(username)}/groups/{group_id}")
    print(json.dumps({"user": username, "group": group}))


def drop(username: str) -> None:
    found = user_id(username)
    if found:
        admin("DELETE", f"{REALM}/users/{found}")
    print(json.dumps({"dropped": bool(found)}))


def as_tenant_admin(tenant: str, method: str, path: str, payload: str | None) -> None:
    body = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli",
                                   "username": f"admin-of-{tenant}", "password": secret("user-password")}).encode()
    with urllib.request.urlopen(f"{ADMIN_URL}/realms/{REALM}/protocol/openid-connect/token", body,  # noqa: S310
                                timeout=30) as r:
        token = json.load(r)["access_token"]
    request = urllib.request.Request(f"{ADMIN_URL}/admin/realms/{path}", method=method,  # noqa: S310
                                     data=payload.encode() if payload else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310 - a fixed http URL
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as refused:
        status, text = refused.code, refused.read().decode()
    try:
        answer = json.loads(text) if text else None
    except ValueError:
        answer = text
    print(json.dumps({"status": status, "body": answer}))


class LoginForm(html.parser.HTMLParser):
    """The page's login form: its action and the names of its inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.inputs: set[str] = set()
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and self.action is None and (values.get("method") or "").lower() == "post":
            self.action, self._inside = values.get("action"), True
        elif tag == "input" and self._inside and values.get("name"):
            self.inputs.add(values["name"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def signin(client_id: str, redirect_uri: str) -> None:
    context = ssl.create_default_context(cafile=CA_FILE)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context),
                                         urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    oidc = f"{PUBLIC_URL}/realms/{REALM}/protocol/openid-connect"
    query = urllib.parse.urlencode({"client_id": client_id, "response_type": "code", "scope": "openid email",
                                    "redirect_uri": redirect_uri, "state": state, "nonce": secrets.token_urlsafe(16),
                                    "code_challenge": challenge, "code_challenge_method": "S256"})
    with opener.open(f"{oidc}/auth?{query}", timeout=30) as r:
        page = r.read().decode()
    # With organizations on, Keycloak asks for the user name first, then the password.
    location = None
    for _ in range(4):
        form = LoginForm()
        form.feed(page)
        if not form.action:
            sys.exit("no login form on the page")
        fields = {"username": USER}
        if "password" in form.inputs:
            fields.update(password=secret("user-password"), credentialId="")
        try:
            with opener.open(form.action, urllib.parse.urlencode(fields).encode(), timeout=30) as r:
                page = r.read().decode()
        except urllib.error.HTTPError as redirect:
            if redirect.code not in (302, 303):
                sys.exit(f"login answered {redirect.code}")
            location = redirect.headers["Location"]
            break
    if location is None:
        sys.exit("the login forms never redirected back (wrong password, or a required action?)")
    back = urllib.parse.urlsplit(location)
    params = urllib.parse.parse_qs(back.query)
    if params.get("state") != [state] or "code" not in params:
        sys.exit(f"redirected without a code for this state: {back.scheme}://{back.netloc}{back.path}")
    exchange = urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": redirect_uri,
        "client_id": client_id, "client_secret": secret(f"client-secret-{client_id}"), "code_verifier": verifier,
    }).encode()
    with opener.open(f"{oidc}/token", exchange, timeout=30) as r:
        tokens = json.load(r)
    print(json.dumps({"redirected_to": f"{back.scheme}://{back.netloc}{back.path}",
                      "id_token": claims(tokens["id_token"]), "access_token": claims(tokens["access_token"])}))


def main() -> None:
    command = sys.argv[1]
    if command == "get":
        print(json.dumps(admin("GET", sys.argv[2])))
    elif command == "ensure-user":
        ensure_user()
    elif command == "signin":
        signin(sys.argv[2], sys.argv[3])
    elif command == "tenant-admin":
        ensure_in_group(f"admin-of-{sys.argv[2]}", f"{sys.argv[2]}-admins")
    elif command == "member":
        ensure_in_group(sys.argv[3], f"{sys.argv[2]}-members")
    elif command == "drop":
        drop(sys.argv[2])
    elif command == "as-tenant-admin":
        as_tenant_admin(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None)
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
