"""Suite-wide setup: the Hypothesis profile and its seed (tests/hypothesis_profile.py)."""

from __future__ import annotations

import random

import pytest
from hypothesis import core

from tests.hypothesis_profile import DEPTH, register

register()
_SEED = pytest.StashKey[int]()


def pytest_configure(config: pytest.Config) -> None:
    """A fresh seed per run unless ``--hypothesis-seed`` gave one (then that one)."""
    given = config.getoption("hypothesis_seed", default=None)
    seed = int(given) if given is not None else random.SystemRandom().randrange(2**32)
    core.global_force_seed = seed  # type: ignore[assignment]  # as --hypothesis-seed sets it
    config.stash[_SEED] = seed


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.stash[_SEED]
    return f"hypothesis seed: {seed} (replay: pytest --hypothesis-seed={seed}); depth x{DEPTH}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The seed again at the end (``-q`` hides the header)."""
    seed = terminalreporter.config.stash[_SEED]
    terminalreporter.write_line(f"hypothesis seed: {seed} (replay: --hypothesis-seed={seed})")
