"""meetfleet: fleet automation for cooperatives that host BigBlueButton."""

__version__ = "0.1.0"
