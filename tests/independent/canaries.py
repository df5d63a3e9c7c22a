"""Mutation canaries: the engine changes the suite must notice, each applied to a scratch
copy of the project and run against the tests that should catch it.

The issue's "done when": reversing the tie order, tightening a rule by one unit, changing a
divisor method's rounding. ``python -m tests.independent.canaries`` (``make
mutation-canaries``, run by CI) exits 1 when a canary survives, or no longer applies
(the code it edits changed: update it here). ``make mutation`` is the broad search.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPTIMALITY = "tests/independent/test_optimality.py"
EXAMPLES = "tests/independent/test_examples.py"


@dataclass(frozen=True)
class Canary:
    """One edit of one engine file, and the tests that must fail with it."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


def _share(bound: str, rounding: str, change: str) -> Canary:
    """A group share bound (``min_share`` or ``max_share``) one unit tighter."""
    listed = "lowers" if bound == "min" else "uppers"
    old = f"{listed}.append(math.{rounding}(decimal(rule.{bound}_share) * scenario.budget))"
    return Canary(
        f"group {bound}_share {change}",
        "optimizer/rules/group.py",
        old,
        old[:-1] + f" {change})",
        (OPTIMALITY, EXAMPLES, "-k", "edges_by_hand or expected"),
    )


CANARIES = (
    Canary(
        "tie order reversed",
        "optimizer/solvers/base.py",
        "    return out\n\n\ndef linear_stage",
        "    return out[::-1].copy()\n\n\ndef linear_stage",
        (OPTIMALITY, "-k", "rank_order"),
    ),
    _share("max", "floor", "- 1"),
    _share("min", "ceil", "+ 1"),
    Canary(
        "group min_units + 1",
        "optimizer/rules/group.py",
        "lowers = [v for v in (rule.min_units,) if v is not None]",
        "lowers = [v + 1 for v in (rule.min_units,) if v is not None]",
        (OPTIMALITY, "-k", "edges_by_hand"),
    ),
    Canary(
        "group max_units - 1",
        "optimizer/rules/group.py",
        "uppers = [v for v in (rule.max_units,) if v is not None]",
        "uppers = [v - 1 for v in (rule.max_units,) if v is not None]",
        (OPTIMALITY, "-k", "edges_by_hand"),
    ),
    Canary(
        "change_limit decrease one unit tighter",
        "optimizer/rules/change_limit.py",
        "lo[given] = np.maximum(0, least)",
        "lo[given] = np.maximum(0, least + 1)",
        (OPTIMALITY, EXAMPLES, "-k", "edges_by_hand or expected"),
    ),
    Canary(
        "change_limit increase one unit tighter",
        "optimizer/rules/change_limit.py",
        "hi[given] = np.minimum(budget, most)",
        "hi[given] = np.minimum(budget, most - 1)",
        (OPTIMALITY, EXAMPLES, "-k", "edges_by_hand or expected"),
    ),
    Canary(
        "Webster rounds at 0.4 (exact keys)",
        "optimizer/exact.py",
        "        return 2 * k + 1, 2\n",
        "        return 5 * k + 2, 5\n",
        (OPTIMALITY, "-k", "house"),
    ),
    Canary(
        "Webster rounds at 0.4 (MILP costs)",
        "optimizer/objectives.py",
        "        return k + 0.5\n",
        "        return k + 0.4\n",
        (OPTIMALITY, "-k", "house"),
    ),
    Canary(
        "Jefferson rounds at 0.9",
        "optimizer/exact.py",
        "        return k + 1, 1\n",
        "        return 10 * k + 9, 10\n",
        (OPTIMALITY, "-k", "house"),
    ),
    Canary(
        "Huntington-Hill's geometric mean shifted",
        "optimizer/exact.py",
        "        return k * (k + 1), 1\n",
        "        return k * k + k + 1, 1\n",
        (OPTIMALITY, "-k", "house"),
    ),
    Canary(
        "Dean's harmonic mean shifted",
        "optimizer/exact.py",
        "        return 2 * k * (k + 1), 2 * k + 1\n",
        "        return 2 * k * (k + 1) + 1, 2 * k + 1\n",
        (OPTIMALITY, "-k", "house"),
    ),
)


def scratch_copy(into: Path) -> Path:
    """The project without its virtualenv, git data and caches."""
    skip = shutil.ignore_patterns(".venv", ".git", ".hypothesis", "mutants", "*.db", "__pycache__")
    target = into / "project"
    shutil.copytree(ROOT, target, ignore=skip)
    return target


def survives(canary: Canary) -> str | None:
    """None when the tests catch the canary, else why not."""
    with tempfile.TemporaryDirectory(prefix="allot-canary-") as tmp:
        project = scratch_copy(Path(tmp))
        target = project / canary.path
        text = target.read_text(encoding="utf-8")
        if text.count(canary.old) != 1:
            return f"no longer applies: {canary.path} does not hold {canary.old!r} once"
        target.write_text(text.replace(canary.old, canary.new), encoding="utf-8")
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
        run = subprocess.run(
            [*command, *canary.tests],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode == 1:  # tests ran and failed: caught
            return None
        tail = (run.stdout + run.stderr).strip().splitlines()[-3:]
        return f"pytest exit code {run.returncode}: " + " | ".join(tail)


def main() -> int:
    failed = 0
    for canary in CANARIES:
        started = time.perf_counter()
        why = survives(canary)
        seconds = time.perf_counter() - started
        verdict = "caught" if why is None else f"SURVIVED ({why})"
        print(f"{canary.name:45s} {verdict}  [{seconds:.0f} s]", flush=True)  # noqa: T201
        failed += why is not None
    print(f"{len(CANARIES) - failed} of {len(CANARIES)} canaries caught")  # noqa: T201
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
