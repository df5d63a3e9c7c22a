"""The benchmark registry: which instances run, with which solvers, and the quick suite's
ratio gate.

A :class:`BenchSpec` names one generated instance (size, objective, rule set, seed) and
the solvers to time on it. Every spec runs Allot's ``auto`` and the PuLP + CBC baseline;
``backends`` adds Allot's MILP backends by name. The quick suite (CI) carries, per
instance, ``max_ratio``: the largest acceptable Allot total / baseline total, measured in
the same run (see README "Performance" for how the thresholds were set).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.instances import OBJECTIVES, InstanceSpec

PROPORTIONAL = ("hamilton", "jefferson", "webster", "huntington-hill", "adams")


@dataclass(frozen=True)
class BenchSpec:
    """One instance and how to run it."""

    instance: InstanceSpec
    backends: tuple[str, ...] = ()  # Allot MILP backends to time besides ``auto``
    repeat: int = 1  # timings are the best of this many runs
    time_limit_s: float = 60.0  # for Allot's MILP backends and for CBC
    max_ratio: float | None = None  # quick suite: the gate on Allot / baseline

    @property
    def name(self) -> str:
        return self.instance.name


def _spec(
    size: int,
    objective: str,
    rules: str,
    *,
    backends: tuple[str, ...] = (),
    time_limit_s: float = 60.0,
    max_ratio: float | None = None,
) -> BenchSpec:
    repeat = 3 if size <= 1000 else 1
    return BenchSpec(
        InstanceSpec(size, objective, rules),
        backends=backends,
        repeat=repeat,
        time_limit_s=time_limit_s,
        max_ratio=max_ratio,
    )


ALL_RULES_AT_10K = ("hamilton", "weighted")
"""Objectives with every rule at 10,000 recipients: the threshold search at scale (the
baseline runs out of time on each, so two of them say enough)."""


def full_suite() -> list[BenchSpec]:
    """Every objective and rule set at 14 and 840 recipients; bounds and group rules at
    10,000 and 100,000, and every rule (``grade_order`` included) at 10,000 for
    :data:`ALL_RULES_AT_10K`."""
    specs = []
    milp = ("highs", "cbc", "cp-sat")
    for size, rule_sets in (
        (14, ("bounds", "groups", "all")),
        (840, ("bounds", "groups", "all")),
        (10_000, ("bounds", "groups", "all")),
        (100_000, ("bounds", "groups")),
    ):
        for rules in rule_sets:
            for objective in OBJECTIVES:
                if size == 10_000 and rules == "all" and objective not in ALL_RULES_AT_10K:
                    continue
                backends: tuple[str, ...] = ()
                if size == 14 and rules == "all":
                    backends = milp
                elif size == 840 and rules == "groups" and objective == "hamilton":
                    backends = ("highs",)
                specs.append(_spec(size, objective, rules, backends=backends, time_limit_s=60.0))
    return specs


# Each gate is about three times the largest ratio measured in two quick runs on the 2-core
# development machine (README "Performance" lists them), rounded up: loose enough for a
# shared, noisy machine, tight enough to catch a real regression (an instance falling back
# from the greedy or the partition path to the MILP, or the threshold search turning into
# a sort of every unit, costs 10x to 1000x).
QUICK_GATES: tuple[tuple[int, str, str, float], ...] = (
    (14, "hamilton", "bounds", 0.5),  # measured 0.10-0.14
    (14, "webster", "groups", 1.0),  # 0.17-0.22
    (14, "hamilton", "all", 10.0),  # 3.3-3.7 (the MILP: its cost stages and rank stages)
    (840, "hamilton", "groups", 0.2),  # 0.031-0.036
    (840, "hamilton", "all", 0.06),  # 0.015-0.019: the threshold search (the MILP: 5.4)
    (840, "adams", "all", 0.05),  # 0.010-0.013
    (840, "weighted", "bounds", 1.0),  # 0.094-0.15
    (2_000, "hamilton", "groups", 0.03),  # 0.0086
    (10_000, "weighted", "groups", 0.2),  # 0.027
)


def quick_suite() -> list[BenchSpec]:
    """The CI suite: a minute or so on two cores."""
    return [
        _spec(size, objective, rules, time_limit_s=20.0, max_ratio=gate)
        for size, objective, rules, gate in QUICK_GATES
    ]
