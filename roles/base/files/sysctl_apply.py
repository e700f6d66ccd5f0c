#!/usr/bin/python3
"""Apply kernel settings where this host may, and say for each what happened.

Argument: a JSON object {"wanted": {key: value}, "in_container": bool, "container_pattern": regex,
"check": bool}; with "check" true nothing is written (Ansible's check mode).
Prints one JSON object {key: status}; status is one of
  ok        already the wanted value
  changed   written now (in check mode: would be written)
  absent    this kernel has no such key (e.g. kernel.yama.* without Yama)
  host      in a container, a key of the machine running it: never written from inside
  readonly  the key exists but /proc/sys is read-only here (e.g. podman's default)
Exit status 1 when a write was attempted and failed.
"""

import json
import os
import re
import sys


def main() -> int:
    spec = json.loads(sys.argv[1])
    pattern = re.compile(spec["container_pattern"])
    status: dict[str, str] = {}
    failed = False
    # Forwarding first: switching it resets accept_redirects (the kernel's inet_forward_change).
    order = sorted(spec["wanted"].items(), key=lambda item: ("forward" not in item[0], item[0]))
    for key, value in order:
        path = "/proc/sys/" + key.replace(".", "/")
        wanted = " ".join(str(value).split())
        try:
            with open(path) as handle:
                current = " ".join(handle.read().split())
        except FileNotFoundError:
            status[key] = "absent"
            continue
        if current == wanted:
            status[key] = "ok"
        elif spec["in_container"] and not pattern.search(key):
            status[key] = "host"
        elif not os.access(path, os.W_OK):
            status[key] = "readonly"
        elif spec.get("check"):
            status[key] = "changed"
        else:
            try:
                with open(path, "w") as handle:
                    handle.write(wanted)
                status[key] = "changed"
            except OSError as error:
                status[key] = f"failed: {error.strerror}"
                failed = True
    print(json.dumps(status, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
