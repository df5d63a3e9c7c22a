"""The exception tree. Outcomes such as infeasibility are *results*, never exceptions.

AllotError
├── InputError          bad scenario input: carries every problem with its field path
└── SolverUnavailable   a backend was asked for but its package is not installed
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input: where (a field path, ``recipients[3].cap``) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class AllotError(Exception):
    """Base class of every error Allot raises on purpose."""


class InputError(AllotError):
    """The scenario (or an override) is invalid; ``problems`` lists all that is wrong at once."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SolverUnavailable(AllotError):
    """The requested backend cannot run here (its package is missing)."""
