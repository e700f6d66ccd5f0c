"""Load units: the one unit in which BBB servers' load and capacity are counted."""
