"""Shared names and helpers of the go-live tests."""

from __future__ import annotations

from pathlib import Path

from ketenherstel.golive import PlanProblem

NS = "nl.strafrechtketen"
ARREST = f"{NS}.opsporing.aanhouding-geregistreerd.v1"
CUSTODY = f"{NS}.opsporing.inverzekeringstelling-gemeld.v1"
REPORT = f"{NS}.opsporing.proces-verbaal-ingezonden.v1"
DISPOSAL_REG = f"{NS}.registratie.om-afdoening-geregistreerd.v1"
JUDGMENT_REG = f"{NS}.registratie.uitspraak-geregistreerd.v1"

ISOLATED_OM = """\
name: test
isolation:
  partners: [om]
  at: 2025-07-17T21:00:00+02:00
"""


def line_of(path: Path, snippet: str, nth: int = 1) -> int:
    """The 1-based line of the ``nth`` occurrence of ``snippet`` in ``path``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if snippet in line]
    return hits[nth - 1]


def only(problems: list[PlanProblem]) -> PlanProblem:
    assert len(problems) == 1, "\n".join(str(p) for p in problems)
    return problems[0]
