"""Ketenherstel: keep the criminal justice chain whole when one partner goes dark."""

__version__ = "0.1.0"
