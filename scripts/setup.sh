#!/usr/bin/env bash
# Set up this machine for meetfleet, as root, on Debian 12 or 13 or Ubuntu: the Debian
# packages the lab and the tests need, .venv with this project and its pinned tools, the
# lab's podman settings and base image; then set-up proves itself (meetfleet.lab.doctor:
# every tool the lab and the tests call, and a container reaching another by name).
# Idempotent: run it again at any time; it skips what is already there.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "run as root: it installs Debian packages (sudo bash scripts/setup.sh)"
command -v apt-get >/dev/null || die "needs Debian or Ubuntu (apt-get not found)"

# --- Debian packages --------------------------------------------------------------------
# podman + runc (crun fails on hybrid cgroups) + iptables (netavark's firewall backend:
# without it every `podman run` on a network fails) + debootstrap (builds the lab image);
# prometheus for the placement tests (its service is kept off, see below). The same names
# exist on Debian 12 (podman 4.3) and 13 (podman 5.4).
# maven fetches the Keycloak distribution the keycloak scenario's mirror serves (below).
packages=(podman runc iptables debootstrap uidmap slirp4netns fuse-overlayfs prometheus redis-server
          openssh-client python3-venv python3-pip git tar ca-certificates maven)
optional=(netavark aardvark-dns)   # podman's network stack and its DNS (names between hosts)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for pkg in "${packages[@]}" "${optional[@]}"; do installed "$pkg" || missing+=("$pkg"); done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    say "apt-get update"
    timeout 600 apt-get update -q
    wanted=()
    for pkg in "${missing[@]}"; do
        if [[ " ${optional[*]} " == *" $pkg "* ]] && ! apt-cache show "$pkg" >/dev/null 2>&1; then
            say "$pkg is not in this release's archive; skipping it"
            continue
        fi
        wanted+=("$pkg")
    done
    # Nothing starts during the install (the packaged prometheus would take port 9090).
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
        trap '[ "$own_policy" -eq 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    say "apt-get install ${wanted[*]}"
    timeout 1800 apt-get install -y -q --no-install-recommends "${wanted[@]}"
    if [ "$own_policy" -eq 1 ]; then rm -f /usr/sbin/policy-rc.d; own_policy=0; fi
else
    say "Debian packages: all present"
fi

# The tests start their own Prometheus; the packaged service must not hold port 9090.
if [ -d /run/systemd/system ]; then
    if systemctl is-enabled --quiet prometheus.service 2>/dev/null \
       || systemctl is-active --quiet prometheus.service 2>/dev/null; then
        say "stopping and disabling the packaged prometheus service"
        systemctl disable --now prometheus.service
    fi
else
    # No systemd running (a container, a chroot): disable offline, stop a sysv-started one.
    systemctl disable prometheus.service >/dev/null 2>&1 || true
    if [ -x /etc/init.d/prometheus ]; then
        /etc/init.d/prometheus stop >/dev/null 2>&1 || true
        update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
fi

# --- Node.js: bigbluebutton-js, a third-party BBB client, drives the gateway in the tests --
# A machine that has node and npm keeps them (often newer than Debian's); one without gets Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    say "apt-get install nodejs npm (for the bigbluebutton-js test driver)"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -q
    timeout 1800 apt-get install -y -q --no-install-recommends nodejs npm
fi
if [ ! -d tests/gateway/js/node_modules ] || [ tests/gateway/js/package-lock.json -nt tests/gateway/js/node_modules ]; then
    say "npm ci --prefix tests/gateway/js (the locked bigbluebutton-js)"
    timeout 600 npm ci --no-audit --no-fund --prefix tests/gateway/js >/dev/null
    touch tests/gateway/js/node_modules
fi

# --- Python -------------------------------------------------------------------------------
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "needs Python 3.11 or newer (found $(python3 --version 2>&1)); on Ubuntu use 24.04 or later"
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    python3 -m venv .venv
fi
stamp=.venv/.meetfleet-pyproject.sha256
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! .venv/bin/python -c 'import meetfleet' 2>/dev/null; then
    say "pip install -e '.[dev]' (pyproject.toml changed or first run)"
    # The build backend's warnings are noise here; the log is shown when pip fails.
    log=.venv/pip-install.log
    if ! timeout 1800 .venv/bin/pip install --quiet --disable-pip-version-check --timeout 60 -e '.[dev]' \
            > "$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "pip install failed (full log: $log)"
    fi
    echo "$want" > "$stamp"
else
    say ".venv: up to date with pyproject.toml"
fi
# --- podman settings, lab image, and the proof that it all works --------------------------
say "meetfleet lab prepare (podman settings, the lab's base image: a minute or two the first time)"
.venv/bin/meetfleet lab prepare
# Debian 13, for the keycloak scenario (OpenJDK 21 is Debian 13's; Debian 12 has only 17).
say "meetfleet lab prepare --image-name localhost/meetfleet-lab:trixie (the Debian 13 image, once)"
.venv/bin/meetfleet lab prepare --image-name localhost/meetfleet-lab:trixie >/dev/null

# --- Keycloak's distribution, for the lab's mirror (molecule/keycloak serves it to its host) --
# The version roles/keycloak pins, from Maven Central (-C: a checksum mismatch fails), into
# .lab-artifacts/ (git-ignored) with its sha256 recorded at download, which get_url checks.
kc_version="$(sed -n 's/^keycloak_version: *"\{0,1\}\([0-9][0-9.]*\)"\{0,1\} *$/\1/p' roles/keycloak/defaults/main.yml)"
[ -n "$kc_version" ] || die "no keycloak_version in roles/keycloak/defaults/main.yml"
kc_dir=.lab-artifacts/keycloak
kc_zip="$kc_dir/keycloak-quarkus-dist-$kc_version.zip"
if [ -s "$kc_zip" ] && [ -s "$kc_zip.sha256" ] && (cd "$kc_dir" && sha256sum --quiet -c "$(basename "$kc_zip").sha256"); then
    say "Keycloak $kc_version distribution: present ($kc_zip)"
else
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    say "mvn dependency:copy org.keycloak:keycloak-quarkus-dist:$kc_version:zip into $kc_dir"
    mkdir -p "$kc_dir"
    rm -f "$kc_zip" "$kc_zip.sha256"
    log="$kc_dir/mvn.log"
    if ! timeout 900 mvn -B -q -C dependency:copy "-Dartifact=org.keycloak:keycloak-quarkus-dist:$kc_version:zip" \
            "-DoutputDirectory=$kc_dir" > "$log" 2>&1 || [ ! -s "$kc_zip" ]; then
        tail -n 20 "$log" >&2
        die "fetching Keycloak $kc_version from Maven Central failed (full log: $log)"
    fi
    (cd "$kc_dir" && sha256sum "$(basename "$kc_zip")" > "$(basename "$kc_zip").sha256")
fi

say "checking what the lab and the tests will call"
if ! .venv/bin/python -m meetfleet.lab.doctor; then
    die "set-up check failed (above: what is missing, and the package to install)"
fi
say "done. \`source .venv/bin/activate\` puts meetfleet, ansible and molecule on the PATH"
