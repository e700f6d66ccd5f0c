"""Lab hosts trust the TLS authorities this machine's pip trusts.

Where this machine reaches PyPI through a TLS-inspecting proxy, its pip is told which
CA bundle to trust (PIP_CERT or `cert` in /etc/pip.conf). Lab hosts go out the same way,
so they get the same bundle and a site-wide /etc/pip.conf naming it: roles that pip
install on a host (the capacity exporter's) then work in the lab as on a real host
with direct access. Where this machine names no bundle, nothing is done.
"""

from __future__ import annotations

import configparser
import hashlib
import os
from pathlib import Path

from meetfleet.lab.podman import podman

BUNDLE_IN_HOST = "/usr/local/share/meetfleet-lab/ca-bundle.crt"
PIP_CONF = f"[global]\ncert = {BUNDLE_IN_HOST}\n"

# Copies the bundle read on stdin and writes pip.conf unless both are already as given.
_INSTALL = (
    'want="$1"; f=' + BUNDLE_IN_HOST + '; mkdir -p "$(dirname "$f")"; '
    'have="$(sha256sum "$f" 2>/dev/null | cut -d" " -f1)"; '
    'if [ "$have" = "$want" ] && grep -qxF "cert = $f" /etc/pip.conf 2>/dev/null; then cat >/dev/null; echo present; '
    'else cat > "$f.tmp" && mv "$f.tmp" "$f" && printf "%s" "$2" > /etc/pip.conf && echo added; fi'
)


def machine_pip_bundle(environ: dict[str, str] | None = None, pip_conf: Path = Path("/etc/pip.conf")) -> Path | None:
    """The CA bundle this machine's pip is told to trust, if any."""
    env = os.environ if environ is None else environ
    named = env.get("PIP_CERT")
    if not named and pip_conf.is_file():
        parser = configparser.ConfigParser()
        try:
            parser.read(pip_conf)
        except configparser.Error:
            return None
        named = parser.get("global", "cert", fallback=None)
    if named and Path(named).is_file():
        return Path(named)
    return None


def install_trust(container: str, bundle: Path) -> str:
    """Give one lab host the bundle and a pip.conf naming it. Returns present or added."""
    data = bundle.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    result = podman("exec", "-i", container, "sh", "-c", _INSTALL, "trust", digest, PIP_CONF,
                    input_text=data.decode("utf-8", errors="replace"), timeout=60)
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "added"
