"""pyinfra deploys for fleet operations, reading the same inventory as Ansible."""
