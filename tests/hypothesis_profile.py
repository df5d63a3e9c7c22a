"""How hard the property tests look: random examples everywhere, replayable.

Every run draws fresh examples from a seed printed in pytest's header (``hypothesis seed:
N``); ``pytest --hypothesis-seed=N`` replays that run, and failing examples are kept in
``.hypothesis/examples`` and tried first next time. Hypothesis's own ``ci`` profile would
derandomize everything when a CI variable is set; this profile replaces it, so CI looks at
new examples on every run too. ``ALLOT_TEST_DEPTH=20`` (``make test-deep``) multiplies
every property test's number of examples.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

PROFILE = "allot"
DEPTH = max(1, int(os.environ.get("ALLOT_TEST_DEPTH", "1")))
"""The factor :func:`examples` applies (1 unless ``ALLOT_TEST_DEPTH`` says otherwise)."""


def examples(n: int) -> int:
    """``n`` examples, times :data:`DEPTH`."""
    return n * DEPTH


def register() -> None:
    """Register and load the profile (tests/conftest.py does, before any test runs)."""
    settings.register_profile(
        PROFILE,
        derandomize=False,
        database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
        print_blob=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile(PROFILE)
