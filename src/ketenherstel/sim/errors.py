"""Errors raised by the simulator.

Exceptions::

    SimError                   root of everything this package raises
    ├── SimConfigError         a profile or argument is out of range (also a ValueError)
    └── SimChainError          the chain lacks a partner, type or route the simulator needs
"""

from __future__ import annotations

__all__ = ["SimChainError", "SimConfigError", "SimError"]


class SimError(Exception):
    """Root of every error the simulator raises."""


class SimConfigError(SimError, ValueError):
    """A simulation profile or argument is out of range."""


class SimChainError(SimError):
    """The chain does not define a partner, message type or route the simulator uses."""
