"""meetfleet's Hetzner Cloud VMs (docs/cloud.md): planning (plan.py), the ports base
opens (ports.py), the calls (hetzner.py)."""
