"""pyinfra inventory: the fleet inventory read through meetfleet's loader.

    MEETFLEET_INVENTORY=inventories/lab pyinfra deploy/inventory.py deploy/bootstrap.py
    pyinfra deploy/inventory.py fact server.LinuxDistribution --limit region_ca
"""

import os

from fleet_deploys.inventory import pyinfra_groups

globals().update(pyinfra_groups(os.environ.get("MEETFLEET_INVENTORY", "inventories/lab")))
