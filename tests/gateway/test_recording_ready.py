"""BBB's recording-ready callback through the gateway, re-signed for the tenant.

The BBB side is what BBB's own script does when a recording is published
(bigbluebutton/bigbluebutton record-and-playback/core/scripts/post_publish/
post_publish_recording_ready_callback.rb): read the meeting's `bbb-recording-ready-url`
metadata, POST one form field `signed_parameters`, a JWT (HS256, the server's secret) of
`{"meeting_id": <create's meetingID>, "record_id": <internal ID>}`. The metadata is the
stand-in's, as create left it. The front end is a real HTTP server here that checks the
JWT with PyJWT and the tenant's secret, as a front end checks it with its BBB secret.
"""

from __future__ import annotations

import dataclasses
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from bbbctl import BBBApiClient

from meetfleet.gateway import callbacks
from tests.fleet.checks import refused
from tests.gateway.conftest import SERVER_SECRETS, TENANT_SECRETS

RECORD_ID = "183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1700000000000"


class FrontEnd:
    """An HTTP server taking POSTs (what it answers: `status`), keeping each form it got."""

    def __init__(self, status: int = 200):
        self.status = status
        self.forms: list[dict[str, list[str]]] = []
        front = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                front.forms.append(urllib.parse.parse_qs(self.rfile.read(length).decode()))
                self.send_response(front.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/recording_ready?room=1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def front_end():
    front = FrontEnd()
    yield front
    front.stop()


@pytest.fixture
def public_gateway(start_gateway):
    """A gateway that knows its public URL (fleet_gateway.url): here, where it listens."""
    running = start_gateway()
    config = running.gateway.config
    # The front ends here listen on loopback: allowed as fleet_gateway.callback_networks allows a private network.
    running.gateway.reconfigure(dataclasses.replace(config, public_url=f"http://127.0.0.1:{running.port}",
                                                    callback_networks=("127.0.0.0/8",)))
    return running


def bbb_posts(url: str, meeting_id: str, secret: str, record_id: str = RECORD_ID) -> int:
    """What BBB's post_publish script sends; the HTTP status it gets back."""
    signed = jwt.encode({"meeting_id": meeting_id, "record_id": record_id}, secret, algorithm="HS256")
    request = urllib.request.Request(url, data=urllib.parse.urlencode({"signed_parameters": signed}).encode(),
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def create_with_callback(gateway, fleet, tenant: str, meeting_id: str, callback: str) -> str:
    """create through the gateway asking for the callback; the URL the server keeps for it."""
    BBBApiClient(gateway.url(tenant), TENANT_SECRETS[tenant]).createMeeting(
        meeting_id, meeting_id, **{"meta_bbb-recording-ready-url": callback, "record": "true"})
    meeting = fleet.standins["bbb-1.test"].state.meetings[f"{tenant}~{meeting_id}"]
    return meeting.metadata["bbb-recording-ready-url"]


def test_the_front_end_gets_the_callback_signed_with_the_tenants_secret_and_its_own_meeting_id(
        fleet, public_gateway, front_end):
    kept = create_with_callback(public_gateway, fleet, "acme", "lecture", front_end.url)
    assert kept.startswith(f"http://127.0.0.1:{public_gateway.port}/t/acme/callback/recording-ready/")
    assert front_end.url not in kept  # sealed, not readable as a URL to call
    assert bbb_posts(kept, "acme~lecture", SERVER_SECRETS["bbb-1.test"]) == 200
    [form] = front_end.forms
    claims = jwt.decode(form["signed_parameters"][0], TENANT_SECRETS["acme"], algorithms=["HS256"])
    assert claims == {"meeting_id": "lecture", "record_id": RECORD_ID}
    with pytest.raises(jwt.InvalidSignatureError):  # not the server's signature any more
        jwt.decode(form["signed_parameters"][0], SERVER_SECRETS["bbb-1.test"], algorithms=["HS256"])


def test_the_front_ends_answer_reaches_bbb_as_it_gave_it(fleet, public_gateway, front_end):
    kept = create_with_callback(public_gateway, fleet, "acme", "gone", front_end.url)
    front_end.status = 410  # BBB's script logs "Notified for deleted meeting"
    assert bbb_posts(kept, "acme~gone", SERVER_SECRETS["bbb-1.test"]) == 410


@pytest.mark.parametrize(("meeting_id", "secret", "why"), [
    ("acme~lecture", "not-a-server-secret-at-all-0000", "not signed by a server"),
    ("acme~lecture", TENANT_SECRETS["acme"], "signed with the tenant's own secret, not a server's"),
    ("bakery~lecture", SERVER_SECRETS["bbb-1.test"], "another tenant's meeting"),
    ("lecture", SERVER_SECRETS["bbb-1.test"], "a meeting outside every namespace"),
])
def test_a_callback_the_gateway_cannot_vouch_for_is_refused_and_reaches_nobody(
        fleet, public_gateway, front_end, meeting_id, secret, why):
    kept = create_with_callback(public_gateway, fleet, "acme", "lecture", front_end.url)
    assert bbb_posts(kept, meeting_id, secret) == 404, why
    assert front_end.forms == []


def test_a_forged_or_borrowed_callback_path_reaches_nobody(fleet, public_gateway, front_end):
    kept = create_with_callback(public_gateway, fleet, "acme", "lecture", front_end.url)
    token = kept.rsplit("/", 1)[1]
    base = f"http://127.0.0.1:{public_gateway.port}/t"
    elsewhere = callbacks.seal("a-secret-the-gateway-never-had", "http://127.0.0.1:1/steal")
    for url in (f"{base}/bakery/{callbacks.PATH}/{token}",  # acme's seal under another tenant
                f"{base}/acme/{callbacks.PATH}/{elsewhere}",  # a target the tenant never gave
                f"{base}/acme/{callbacks.PATH}/{token[:-2]}00",  # tampered
                f"{base}/nobody/{callbacks.PATH}/{token}"):
        assert bbb_posts(url, "acme~lecture", SERVER_SECRETS["bbb-1.test"]) == 404, url
    assert front_end.forms == []


def test_a_front_end_that_does_not_answer_is_a_502_for_bbb(fleet, public_gateway):
    kept = create_with_callback(public_gateway, fleet, "acme", "lecture", "http://127.0.0.1:9/closed")
    assert bbb_posts(kept, "acme~lecture", SERVER_SECRETS["bbb-1.test"]) == 502


def test_without_a_public_url_the_callback_is_left_to_go_straight(fleet, gateway, front_end):
    assert create_with_callback(gateway, fleet, "acme", "lecture", front_end.url) == front_end.url


def test_rewrite_takes_bbbs_first_key_any_case_and_drops_the_others():
    params = {"meta_canvas-recording-ready-url": "https://c.example/x", "META_BBB-Recording-Ready-URL":
              "https://b.example/y", "meetingID": "acme~m"}
    out = callbacks.rewrite_create(params, "https://gw.example", "acme", TENANT_SECRETS["acme"])
    assert set(out) == {"meetingID", "meta_bbb-recording-ready-url"}
    token = out["meta_bbb-recording-ready-url"].removeprefix(f"https://gw.example/t/acme/{callbacks.PATH}/")
    assert callbacks.unseal(TENANT_SECRETS["acme"], token) == "https://b.example/y"


def test_a_ready_url_that_is_not_http_is_dropped_so_no_server_signed_token_goes_there():
    out = callbacks.rewrite_create({"meta_bbb-recording-ready-url": "file:///etc/passwd", "name": "n"},
                                   "https://gw.example", "acme", TENANT_SECRETS["acme"])
    assert out == {"name": "n"}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_front_end_on_a_non_public_address_is_refused_unless_its_network_is_allowed(
        fleet, start_gateway, front_end, host):
    """A tenant must not aim the gateway at the gateway host's loopback or its private network."""
    running = start_gateway()
    running.gateway.reconfigure(dataclasses.replace(running.gateway.config,
                                                    public_url=f"http://127.0.0.1:{running.port}"))
    target = front_end.url.replace("127.0.0.1", host)
    kept = create_with_callback(running, fleet, "acme", "lecture", target)
    assert bbb_posts(kept, "acme~lecture", SERVER_SECRETS["bbb-1.test"]) == 403
    assert front_end.forms == []


@pytest.mark.parametrize(("addresses", "allowed", "refused"), [
    (["203.0.113.9"], [], True),  # documentation range: not global either
    (["8.8.8.8", "2001:4860:4860::8888"], [], False),
    (["10.1.2.3"], ["10.0.0.0/8"], False),
    (["10.1.2.3", "8.8.8.8"], [], True),  # one private address among them is enough
    (["169.254.169.254"], ["10.0.0.0/8"], True),  # a cloud's metadata service
    (["::1"], [], True),
    (["fe80::1%eth0"], [], True),
])
def test_target_refused_takes_public_addresses_and_the_allowed_networks_only(addresses, allowed, refused):
    assert (callbacks.target_refused(addresses, allowed) is not None) is refused


def test_a_name_that_resolves_to_nothing_is_refused():
    with pytest.raises(callbacks.CallbackRefused, match="does not resolve"):
        callbacks.target_refused([], [])


@pytest.mark.parametrize(("networks", "words"), [
    ("[10.0.0.1/8]", ("fleet_gateway.callback_networks", "host bits set")),
    ("[not-a-network]", ("fleet_gateway.callback_networks", "not an IP network")),
    ("10.0.0.0/8", ("fleet_gateway.callback_networks",)),  # a string, not a list
])
def test_inventory_check_refuses_a_bad_callback_network_naming_the_key(example_copy, networks, words):
    (example_copy / "group_vars/all/gateway.yml").write_text(
        f"fleet_gateway:\n  url: https://gateway.example.coop\n  callback_networks: {networks}\n")
    refused(example_copy, "gateway.yml", *words)


def test_the_gateway_takes_the_allowed_networks_from_the_inventory(fleet):
    (fleet.inventory / "group_vars/all/gateway.yml").write_text(
        "fleet_gateway:\n  url: https://gw.example.coop\n  callback_networks: [10.0.0.0/8, 'fd00::/8']\n")
    config = fleet.config()
    assert (config.public_url, config.callback_networks) == ("https://gw.example.coop", ("10.0.0.0/8", "fd00::/8"))
