"""The local lab: one systemd container under podman per inventory host, reached over SSH.

`meetfleet lab up|status|down` (src/meetfleet/cli/lab.py) drive it; see docs/lab.md.
"""
