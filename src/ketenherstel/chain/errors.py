"""Errors raised by the chain model. The hierarchy is drawn in the package docstring."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ChainError", "ChainFileError", "ChainLookupError", "ChainProblem"]


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One thing wrong with a chain file.

    ``location`` is ``file:line:column`` (both 1-based), followed by a space and the dotted
    path of the offending element when there is one, for example
    ``chain.yaml:42:5 message_types[3].receivers[1]``.
    """

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ChainError(Exception):
    """Root of every error the chain package raises."""


class ChainFileError(ChainError):
    """A chain file (or one of its schema files) has problems; it was not loaded.

    ``problems`` lists every problem found, not just the first.
    """

    def __init__(self, problems: Iterable[ChainProblem]) -> None:
        self.problems: tuple[ChainProblem, ...] = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"the chain file has {count} {noun}; fix them and load it again:\n{lines}")


class ChainLookupError(ChainError, LookupError):
    """A partner, process, message type or system that the chain does not define."""
