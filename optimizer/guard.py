"""The resource guard: how much memory one run may use, how many units the paths that
tabulate units (the MILP backends, the threshold search's sorted table) may build under it,
and the run's deadline for the paths without a solver's own time limit.

Every other path costs memory in proportion to the recipients, not the units. The two
that tabulate units are estimated before anything is built, from per-unit costs measured
on this project's models; beyond the budget the run ends ``error`` with a sentence
("too large: ...") instead of building. A run that still exhausts memory ends the same way
(:func:`optimizer.solve.solve` catches ``MemoryError``).
"""

from __future__ import annotations

import os
import time

from optimizer.errors import InputError, Problem

DEFAULT_RUN_MEMORY_MB = 1024
"""Memory one run may use unless ``ALLOT_RUN_MEMORY_MB`` or ``--max-memory-mb`` says
otherwise."""
MILP_BYTES_PER_UNIT = 3_000
"""Peak memory of a MILP backend per unit between the bounds (HiGHS on the 14-region
instance with every rule: 2.6-3.8 KB a unit at 12,000-117,000 units)."""
SORT_BYTES_PER_UNIT = 160
"""Peak memory of the threshold search's sorted unit table per unit (six 8-byte columns,
the sort's index and the group order)."""
ENVIRONMENT = "ALLOT_RUN_MEMORY_MB"


def run_memory_mb(value: float | None = None) -> float:
    """The memory budget of a run in MB: ``value`` when given, else ``ALLOT_RUN_MEMORY_MB``,
    else :data:`DEFAULT_RUN_MEMORY_MB`."""
    if value is None:
        text = os.environ.get(ENVIRONMENT, "").strip()
        if not text:
            return float(DEFAULT_RUN_MEMORY_MB)
        try:
            value = float(text)
        except ValueError:
            raise InputError([Problem(ENVIRONMENT, f"not a number of MB: {text!r}")]) from None
    if not value > 0 or value != value or value == float("inf"):
        raise InputError([Problem(ENVIRONMENT, f"must be a positive number of MB (got {value})")])
    return float(value)


def units_allowed(memory_mb: float, bytes_per_unit: int) -> int:
    """How many units a table of ``bytes_per_unit`` may hold within ``memory_mb``."""
    return int(memory_mb * 1024 * 1024 // bytes_per_unit)


def too_large(what: str, units: int, bytes_per_unit: int, memory_mb: float) -> str:
    """The sentence of a run refused before building: what, how big, against what."""
    need = units * bytes_per_unit / (1024 * 1024)
    return (
        f"too large: {what} would encode {units:,} units between floors and caps, about "
        f"{need:,.0f} MB (the run may use {memory_mb:,.0f} MB: {ENVIRONMENT} or "
        "--max-memory-mb); give the recipients caps, or drop the rules that need the MILP "
        "(grade_order where it binds, group rules over more than one tag)"
    )


def seconds_left(deadline: float) -> float:
    """The time a solver may still take before ``deadline`` (:func:`time.monotonic`): at
    least 10 ms, so a solver asked late still answers (with ``time_limit``)."""
    return max(deadline - time.monotonic(), 0.01)


class TimeLimitReached(Exception):
    """A path without a solver's own time limit (the threshold search, maxmin's floor
    raising) reached the run's deadline: the run ends ``time_limit`` without an allocation;
    the message says what had been done."""
