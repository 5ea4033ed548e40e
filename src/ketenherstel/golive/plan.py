"""Go-live plan files: the YAML format, loading and checking against the chain model.

A plan file::

    name: om-2025                       # required
    description: >-                     # optional
      Phased go-live after the OM's isolation in July 2025.
    isolation:                          # optional
      partners: [om]                    # partner keys of the chain
      at: 2025-07-17T21:00:00+02:00     # ISO 8601 date-time with a UTC offset
      note: …                           # optional
    priorities:                         # optional: agreed decisions, highest priority first
      - process: registratie-justitiele-gegevens      # a process key of the chain
        agreed_by: [ministerie JenV, OM, Justid]      # the roles that agreed
        at: 2025-08-12                                # a date (or a date-time with offset)
        why: The memo names the OM → JDS flow a go-live priority.
    waves:                              # required, in date order, names unique
      - name: wave-1
        at: 2025-08-18T08:00:00+02:00
        note: …                         # optional
        open:                           # channels this wave opens
          - receiver: justid            # partner key or "*"
            sender: om                  # partner key or "*"
            scope: process:registratie-justitiele-gegevens   # "*" (default), a type, process:<key>
            rate: 300/h                 # optional: a number (per second) or N/s, N/min, N/h, N/d
            note: …                     # optional
        release_quarantine: [om]        # optional: release these partners' quarantined traffic
        online: [om]                    # optional: end these partners' isolation

What the plan means for the exchange is in :mod:`ketenherstel.golive.model`. A plan is refused,
with every problem at ``file:line:column`` and named by wave and channel, when it has:

- unknown partners, message types or processes (with the closest known name suggested);
- a channel that carries no message type of the chain (nothing goes from that sender to that
  receiver in that scope), or that names neither a receiver nor a sender;
- a rate that is not more than zero;
- waves out of date order, before the isolation, or with a name used twice;
- ``online`` or ``release_quarantine`` for a partner the plan does not isolate, ``online`` twice;
- a channel that opens traffic from an isolated partner whose quarantine is not yet released,
  or that opens nothing because a rule at least as specific still holds all it carries;
- a channel that releases a message type before a type it depends on
  (``Chain.dependencies_of``): that type's channel is still held at the wave.

The last three are checked once the plan has no other problems.
"""

from __future__ import annotations

from pathlib import Path

from ketenherstel.chain import Chain
from ketenherstel.golive._reader import read_plan
from ketenherstel.golive.errors import PlanFileError, PlanProblem
from ketenherstel.golive.model import Plan

__all__ = ["BUILTIN_PLANS", "builtin_plan_path", "check_plan_file", "load_plan"]

BUILTIN_PLANS = Path(__file__).with_name("plans")
"""The directory of the plans shipped with the package (``om-2025.yaml``)."""


def builtin_plan_path(name: str = "om-2025") -> Path:
    """The path of a built-in plan; raises ``KeyError`` naming the built-in plans otherwise."""
    path = BUILTIN_PLANS / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BUILTIN_PLANS.glob("*.yaml")))
        raise KeyError(f"there is no built-in plan {name!r}; the built-in plans are: {known}")
    return path


def load_plan(path: Path | str, chain: Chain) -> Plan:
    """Load and validate a plan file against ``chain``.

    Raises :class:`~ketenherstel.golive.errors.PlanFileError` (a ``PlanError``) listing every
    problem, each with ``file:line:column``, its path and the wave and channel it concerns.
    """
    plan, problems = read_plan(Path(path), chain)
    if problems or plan is None:
        raise PlanFileError(problems)
    return plan


def check_plan_file(path: Path | str, chain: Chain) -> list[PlanProblem]:
    """Every problem of a plan file against ``chain``; empty when it would load."""
    return read_plan(Path(path), chain)[1]
