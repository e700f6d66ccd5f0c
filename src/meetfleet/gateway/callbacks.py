"""BBB's recording-ready callback, passed through the gateway and re-signed for the tenant.

A front end asks for it at create with `meta_bbb-recording-ready-url` (BBB also reads
`meta_bn-` and `meta_canvas-recording-ready-url`). When the recording is published, the
BBB server POSTs one form field, `signed_parameters`: a JWT (HS256) signed with the
*server's* secret, payload `{"meeting_id": <the meetingID create was given>, "record_id":
<the internal ID>}` (bigbluebutton/bigbluebutton record-and-playback/core/scripts/
post_publish/post_publish_recording_ready_callback.rb). Sent straight on, the front end
would see a JWT it cannot check (it knows only its gateway secret) and a namespaced
meetingID. So at create the gateway puts its own URL in the meta parameter, with the
front end's URL sealed in it; on the callback it checks the server's signature and the
tenant's namespace, and POSTs the same form, the payload's meeting_id as the tenant knows
it, signed with the tenant's secret, to the sealed URL.

The seal (HMAC-SHA256 with the tenant's secret) makes the gateway post only to URLs a
tenant gave it at create: nobody can use it to send requests elsewhere. Pure functions
here; the HTTP side is in server.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import warnings
from collections.abc import Iterable

import jwt
from jwt.warnings import InsecureKeyLengthWarning

# bbb-web keeps meta_ parameter names lowercased; BBB's script reads these, first found wins.
READY_URL_KEYS = ("meta_bbb-recording-ready-url", "meta_bn-recording-ready-url", "meta_canvas-recording-ready-url")
PATH = "callback/recording-ready"
MAX_TARGET_LENGTH = 2048
_PURPOSE = b"meetfleet-gateway recording-ready\0"
# The keys are BBB shared secrets, whose length BBB and the tenant chose (the gateway takes
# 16 characters and more, as BBB's clients do): PyJWT's advice on them would only be noise.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)


class CallbackRefused(ValueError):
    """Not a callback the gateway may pass on: the reason, for the log (never a secret)."""


def _mac(secret: str, target: str) -> str:
    return hmac.new(secret.encode(), _PURPOSE + target.encode(), hashlib.sha256).hexdigest()


def seal(secret: str, target: str) -> str:
    """The path segment that carries the front end's URL, sealed with the tenant's secret."""
    encoded = base64.urlsafe_b64encode(target.encode()).decode().rstrip("=")
    return f"{encoded}.{_mac(secret, target)}"


def unseal(secret: str, token: str) -> str:
    """The front end's URL from a sealed segment; CallbackRefused unless the tenant's secret sealed it."""
    encoded, _, mac = token.partition(".")
    try:
        target = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise CallbackRefused("the callback path is not one the gateway made") from None
    if not hmac.compare_digest(mac, _mac(secret, target)):
        raise CallbackRefused("the callback path is not sealed with the tenant's secret")
    return target


def target_refused(addresses: Iterable[str], allowed_networks: Iterable[str]) -> str | None:
    """Why the gateway must not post to a front end at these addresses (what its host name
    resolved to), or None: every one must be public, or in one of `allowed_networks`
    (fleet_gateway.callback_networks). A tenant could otherwise aim the gateway at its own
    host's loopback services, or at the private network it sits in."""
    networks = [ipaddress.ip_network(n) for n in allowed_networks]
    found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    if not found:
        raise CallbackRefused("the front end's host name does not resolve")
    for address in found:
        if not address.is_global and not any(address in network for network in networks):
            return f"the front end's address {address} is not public (fleet_gateway.callback_networks allows such)"
    return None


def rewrite_create(params: dict[str, str], public_url: str | None, tenant: str, secret: str) -> dict[str, str]:
    """create's parameters with the front end's ready-URL replaced by the gateway's own.

    Without a public URL (fleet_gateway.url) the parameters are left as they are: the
    callback then goes straight to the front end, signed with the server's secret."""
    found = [key for key in params if key.lower() in READY_URL_KEYS]
    if not found or not public_url:
        return params
    target = params[min(found, key=lambda key: READY_URL_KEYS.index(key.lower()))]
    out = {k: v for k, v in params.items() if k not in found}
    if not target.startswith(("https://", "http://")) or len(target) > MAX_TARGET_LENGTH:
        return out  # nothing to call back: BBB makes no call
    out[READY_URL_KEYS[0]] = f"{public_url.rstrip('/')}/t/{tenant}/{PATH}/{seal(secret, target)}"
    return out


def resign(signed_parameters: str, server_secrets: Iterable[str], prefix: str, tenant_secret: str) -> str:
    """The JWT a BBB server sent, checked against the servers' secrets and the tenant's
    namespace, signed again for the tenant with its own meetingID. CallbackRefused if not."""
    claims = None
    for secret in server_secrets:
        try:
            claims = jwt.decode(signed_parameters, secret, algorithms=["HS256"],
                                options={"require": ["meeting_id", "record_id"]})
            break
        except jwt.InvalidTokenError:
            continue
    if claims is None:
        raise CallbackRefused("signed_parameters is not signed by a server of the tenant's")
    meeting_id, record_id = claims["meeting_id"], claims["record_id"]
    if not isinstance(meeting_id, str) or not meeting_id.startswith(prefix) or not isinstance(record_id, str):
        raise CallbackRefused("the recording's meeting is not the tenant's")
    return jwt.encode({"meeting_id": meeting_id[len(prefix):], "record_id": record_id}, tenant_secret,
                      algorithm="HS256")
