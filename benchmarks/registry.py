"""The benchmark registry: which instances run, with which solvers, and the quick suite's
ratio gate.

A :class:`BenchSpec` names one generated instance (size, objective, rule set, seed) and
the solvers to time on it. Every spec runs Allot's ``auto`` and the PuLP + CBC baseline;
``backends`` adds Allot's MILP backends by name. The quick suite (CI) carries, per
instance, ``max_ratio``: the largest acceptable Allot total / baseline total, measured in
the same run (see README "Performance" for how the thresholds were set).

Budget rows (:data:`~benchmarks.instances.BUDGETS`) are the same instances at 10^3 to
10^12 units. In the quick suite some are measured at a small budget and at 10^12 in the
same run, and ``max_budget_ratio`` gates Allot's time and peak memory at 10^12 against the
small budget's (:mod:`benchmarks.scaling`).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.instances import BUDGETS, OBJECTIVES, InstanceSpec, structure_holds

PROPORTIONAL = ("hamilton", "jefferson", "webster", "huntington-hill", "adams")


@dataclass(frozen=True)
class BenchSpec:
    """One instance and how to run it."""

    instance: InstanceSpec
    backends: tuple[str, ...] = ()  # Allot MILP backends to time besides ``auto``
    repeat: int = 1  # timings are the best of this many runs
    time_limit_s: float = 60.0  # for Allot's MILP backends and for CBC
    max_ratio: float | None = None  # quick suite: the gate on Allot / baseline
    baseline: bool = True  # False: the baseline is not run ("not run" in the table)
    max_budget_ratio: float | None = None  # quick suite: Allot here / at the smallest budget

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
    budget: int | None = None,
    baseline: bool = True,
    repeat: int | None = None,
    max_budget_ratio: float | None = None,
) -> BenchSpec:
    return BenchSpec(
        InstanceSpec(size, objective, rules, budget=budget),
        backends=backends,
        repeat=repeat if repeat is not None else 3 if size <= 1000 else 1,
        time_limit_s=time_limit_s,
        max_ratio=max_ratio,
        baseline=baseline,
        max_budget_ratio=max_budget_ratio,
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
    return specs + budget_rows()


BUDGET_ROW_SIZES = (14, 840, 10_000)
BASELINE_UP_TO = 840
"""Budget rows run the baseline up to this many recipients: at 10,000 the unscaled rows
already show it killed or minutes long, and the budget rows would only repeat that."""


def budget_rows() -> list[BenchSpec]:
    """Every objective and rule set at 14, 840 and 10,000 recipients, at each budget of
    :data:`BUDGETS` that keeps the instance's structure (10^3 only for the 14 regions)."""
    return [
        _spec(size, objective, rules, budget=budget, baseline=size <= BASELINE_UP_TO)
        for size in BUDGET_ROW_SIZES
        for rules in ("bounds", "groups", "all")
        for objective in OBJECTIVES
        for budget in BUDGETS
        if structure_holds(size, budget)
    ]


# Each gate is about three times the largest ratio measured in two quick runs on the 2-core
# development machine (README "Performance" lists them), rounded up: loose enough for a
# shared, noisy machine, tight enough to catch a real regression (an instance falling back
# from the greedy or the partition path to the MILP, or the threshold search turning into
# a sort of every unit, costs 10x to 1000x).
QUICK_GATES: tuple[tuple[int, str, str, float], ...] = (
    (14, "hamilton", "bounds", 0.5),  # measured 0.10-0.14
    (14, "webster", "groups", 1.0),  # 0.17-0.22
    (14, "hamilton", "all", 10.0),  # the partition path now; 3.3-3.7 as a MILP (rank stages)
    (840, "hamilton", "groups", 0.2),  # 0.031-0.036
    (840, "hamilton", "all", 0.06),  # 0.015-0.019: the threshold search (the MILP: 5.4)
    (840, "adams", "all", 0.05),  # 0.010-0.013
    (840, "weighted", "bounds", 1.0),  # 0.094-0.15
    (2_000, "hamilton", "groups", 0.03),  # 0.0086
    (10_000, "weighted", "groups", 0.2),  # 0.027
)


MAX_BUDGET_RATIO = 1.5
"""Allot's time and peak memory at 10^12 units over those at the small budget, at most."""
QUICK_BUDGET_GATES: tuple[tuple[int, str, str, int], ...] = (
    # instances measured at a small budget (the last field) and at 10^12 units in one run
    (14, "hamilton", "bounds", 10**3),  # the greedy
    (14, "webster", "bounds", 10**3),  # the greedy, a divisor method
    (840, "hamilton", "groups", 10**6),  # the nested greedy (10^3 units are too few for 840)
    (14, "maxmin", "bounds", 10**3),  # exact floor raising, then the greedy
    (840, "weighted", "groups", 10**6),  # the nested greedy, weighted
    (14, "maxmin", "all", 10**3),  # bands folded into bounds, a metro cap: the partition
)
"""(The MILP path has no pair: beyond the run's memory it refuses with "too large", see
README "Budgets in won".)"""
BUDGET_GATE_REPEAT = 5


def quick_suite() -> list[BenchSpec]:
    """The CI suite: a minute or two on two cores (the budget pairs included)."""
    specs = [
        _spec(size, objective, rules, time_limit_s=20.0, max_ratio=gate)
        for size, objective, rules, gate in QUICK_GATES
    ]
    for size, objective, rules, small in QUICK_BUDGET_GATES:
        for budget, gate in ((small, None), (10**12, MAX_BUDGET_RATIO)):
            specs.append(
                _spec(
                    size,
                    objective,
                    rules,
                    time_limit_s=20.0,
                    budget=budget,
                    repeat=BUDGET_GATE_REPEAT,
                    max_budget_ratio=gate,
                )
            )
    return specs
