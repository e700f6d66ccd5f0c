"""The `meetfleet` command: one subcommand module per concern."""
