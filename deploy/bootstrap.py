"""pyinfra deploy: make fresh hosts ready for Ansible (see fleet_deploys/bootstrap.py)."""

from fleet_deploys.bootstrap import bootstrap_for_ansible

bootstrap_for_ansible()
