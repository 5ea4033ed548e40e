"""Errors raised by the go-live package. The hierarchy is drawn in the package docstring."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ForecastInputError", "PlanError", "PlanFileError", "PlanProblem"]


@dataclass(frozen=True, slots=True)
class PlanProblem:
    """One thing wrong with a plan file or a forecast input.

    ``location`` is ``file:line:column`` followed by the dotted path of the element when there is
    one (``om-2025.yaml:41:9 waves[0].open[1].rate``), or ``file row N column 'x'`` for CSV input.
    ``message`` starts with the wave and channel it concerns (``wave 'wave-1' channel om->justid:
    …``) when there is one.
    """

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class PlanError(Exception):
    """Root of every error the go-live package raises."""


class _ProblemsError(PlanError):
    what = "input"

    def __init__(self, problems: Iterable[PlanProblem]) -> None:
        self.problems: tuple[PlanProblem, ...] = tuple(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"the {self.what} has {count} {noun}; fix them and try again:\n{lines}")


class PlanFileError(_ProblemsError):
    """A plan file has problems (``.problems`` lists every one); it was not loaded."""

    what = "plan file"


class ForecastInputError(_ProblemsError):
    """Forecast input (backlog, inflow, rates, actual figures) is wrong; ``.problems`` lists it."""

    what = "forecast input"
