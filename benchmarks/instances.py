"""Seeded benchmark instances: from the 14 regions to 100,000 firms.

Recipients are the 14 non-metropolitan regions (``n == 14``), their region x key-industry
programmes (``n <= 840``: 14 regions x 60 industries, 41 main and 19 future), or firms
(``n > 840``) spread over regions, industries and four growth stages. Every recipient has
an evaluation score (hence a grade), a size weight, and most have a floor, a cap and last
year's allocation. The numbers are synthetic; only the region names are real.

Rule sets, each a superset of the one before:

- ``bounds``: floors, caps and ``change_limit`` (the exact greedy applies);
- ``groups``: plus a share band per region (14 ``group`` rules over one tag, a partition);
- ``all``: plus a minimum share for future industries (a second tag, overlapping the
  regions) and ``grade_order``.

The same ``(size, objective, rules, seed)`` always gives the same scenario, on any machine:
only NumPy's ``default_rng`` (PCG64) draws the numbers.

Budget rows: ``InstanceSpec(..., budget=10**12)`` is the same instance at another budget
(the money counted in won, say). The random draws do not depend on the budget: every
quota is the budget times the same share, and floors, caps, previous allocations and the
regional bands are the same multiples of the quotas, rounded to whole units, so only the
rounding differs between scales. That rounding is what breaks the structure when a recipient
gets only a few units (``change_limit`` then pins each one to last year's units, and those
no longer add up to the budget: 840 programmes at 1,000 units are infeasible), so the suite
only runs a budget that gives at least :data:`UNITS_PER_RECIPIENT` a recipient
(:func:`structure_holds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

REGIONS = (
    "busan",
    "daegu",
    "gwangju",
    "daejeon",
    "ulsan",
    "sejong",
    "gangwon",
    "chungbuk",
    "chungnam",
    "jeonbuk",
    "jeonnam",
    "gyeongbuk",
    "gyeongnam",
    "jeju",
)
METRO = frozenset({"busan", "daegu", "gwangju", "daejeon", "ulsan"})
INDUSTRIES = tuple(f"main{j:02d}" for j in range(1, 42)) + tuple(
    f"future{j:02d}" for j in range(1, 20)
)
STAGES = ("seed", "early", "growth", "mature")
OBJECTIVES = (
    "hamilton",
    "jefferson",
    "webster",
    "huntington-hill",
    "adams",
    "weighted",
    "maxmin",
)
RULE_SETS = ("bounds", "groups", "all")
GRADE_BANDS = (("S", 90.0, 1.3), ("A", 80.0, 1.15), ("B", 65.0, 1.0), ("C", 0.0, 0.85))
"""Grade, lowest score reaching it, entitlement multiplier; best first."""
UNITS_PER_RECIPIENT = 40
FUTURE_BAND = (0.25, 0.5)
METRO_SQUEEZE = 0.97
UNIT = {"label": "100M KRW", "value": 100_000_000}
BUDGET_ROW_UNIT = {"label": "KRW", "value": 1}
"""A budget row counts its money in won (the unit never affects the allocation)."""
MAX_BUDGET = 10**15
"""The largest budget the generator writes (the engine's own limit, ``Scenario.budget``)."""
BUDGETS = (10**3, 10**6, 10**9, 10**12)
"""The budget rows: from a thousand units to a trillion (won)."""


@dataclass(frozen=True)
class InstanceSpec:
    """What to generate: ``size`` recipients, an objective, a rule set, a seed and, for a
    budget row, the budget in units (``None``: :func:`budget_for` the size)."""

    size: int
    objective: str = "hamilton"
    rules: str = "groups"
    seed: int = 0
    budget: int | None = None

    @property
    def name(self) -> str:
        base = f"n{self.size}-{self.objective}-{self.rules}"
        return base if self.budget is None else f"{base}-b{budget_label(self.budget)}"

    @property
    def units(self) -> int:
        """The budget the scenario gets."""
        return budget_for(self.size) if self.budget is None else self.budget


def structure_holds(size: int, budget: int) -> bool:
    """Whether ``budget`` gives ``size`` recipients :data:`UNITS_PER_RECIPIENT` units each,
    enough for the rounding to keep the instance's structure (and its feasibility)."""
    return budget >= UNITS_PER_RECIPIENT * size


def budget_label(budget: int) -> str:
    """``1e12`` for a power of ten, the digits otherwise (the suffix of a budget row)."""
    text = str(budget)
    if budget >= 10 and text == "1" + "0" * (len(text) - 1):
        return f"1e{len(text) - 1}"
    return text


def parse_budget(text: str) -> int:
    """A budget written as ``1e12``, ``10**12``, ``1_000_000``, ``1,000`` or digits."""
    cleaned = text.strip().lower().replace("_", "").replace(",", "")
    base, sep, power = cleaned.partition("**") if "**" in cleaned else cleaned.partition("e")
    if not base.isdigit() or (sep and not power.isdigit()):
        raise ValueError(f"not a whole number of units: {text!r}")
    if sep and int(power) > 15:
        raise ValueError(f"a budget is 1 to {MAX_BUDGET:,} units, not {text}")
    exponent = int(power or 0)
    value = int(int(base) ** exponent if sep == "**" else int(base) * 10**exponent)
    if not 1 <= value <= MAX_BUDGET:
        raise ValueError(f"a budget is 1 to {MAX_BUDGET:,} units, not {value:,}")
    return value


def budget_for(size: int) -> int:
    """Whole units to allocate: 1,200 for the 14 regions, 40 per recipient beyond."""
    return max(1200, UNITS_PER_RECIPIENT * size)


def generate(spec: InstanceSpec) -> dict[str, Any]:
    """The scenario of ``spec`` as plain data (what a YAML file would hold)."""
    if spec.objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {spec.objective!r} (one of {OBJECTIVES})")
    if spec.rules not in RULE_SETS:
        raise ValueError(f"unknown rule set {spec.rules!r} (one of {RULE_SETS})")
    if spec.size < 2:
        raise ValueError("an instance needs at least 2 recipients")
    if not 1 <= spec.units <= MAX_BUDGET:
        raise ValueError(f"a budget is 1 to {MAX_BUDGET:,} units, not {spec.units:,}")
    rng = np.random.default_rng([spec.seed, spec.size])
    n = spec.size
    budget = spec.units
    region, industry, stage, ids = _structure(n, rng)
    score = np.round(np.clip(rng.normal(78.0, 9.0, n), 40.0, 100.0), 1)
    weight = np.round(np.clip(rng.lognormal(0.0, 0.45, n), 0.2, 6.0), 2)
    multiplier = np.select([score >= m for _, m, _ in GRADE_BANDS], [k for _, _, k in GRADE_BANDS])
    quota = budget * weight * score * multiplier / float((weight * score * multiplier).sum())
    # last year's allocation: near this year's quota; firms in their seed stage are new
    established = (stage != "seed") | (rng.random(n) < 0.2)
    previous = np.round(quota * rng.uniform(0.82, 1.18, n)).astype(np.int64)
    has_floor = rng.random(n) < 0.6
    floor = np.where(has_floor, np.floor(quota * rng.uniform(0.4, 0.7, n)), 0).astype(np.int64)
    has_cap = rng.random(n) < (0.85 if n > 14 else 1.0)
    cap = np.ceil(quota * rng.uniform(1.5, 2.5, n)).astype(np.int64) + 1
    recipients = []
    for i in range(n):
        rec: dict[str, Any] = {
            "id": ids[i],
            "score": float(score[i]),
            "weight": float(weight[i]),
            "tags": {
                "region": region[i],
                "kind": "metro" if region[i] in METRO else "province",
                "type": "future" if industry[i].startswith("future") else "main",
                "stage": stage[i],
            },
        }
        if has_floor[i]:
            rec["floor"] = int(floor[i])
        if has_cap[i]:
            rec["cap"] = int(cap[i])
        if established[i]:
            rec["previous"] = int(previous[i])
        recipients.append(rec)
    rules: list[dict[str, Any]] = [
        {"type": "change_limit", "max_decrease": 0.1, "max_increase": 0.3, "name": "stability"}
    ]
    if spec.rules in ("groups", "all"):
        lo = np.maximum(floor, np.where(established, np.ceil(previous * 0.9 - 1e-9), 0))
        hi = np.minimum(
            np.where(has_cap, cap, budget),
            np.where(established, np.floor(previous * 1.3 + 1e-9), budget),
        )
        bands = _region_bands(region, quota, lo, hi, budget, rng)
        rules.extend(bands)
    if spec.rules == "all":
        if n <= len(REGIONS):
            # the metropolitan cities get a little less than their quotas together
            metro = np.array([r in METRO for r in region])
            least = sum(b["min_units"] for b in bands if b["value"] in METRO)
            most = max(least, int(np.floor(METRO_SQUEEZE * float(quota[metro].sum()))))
            rules.append(
                {
                    "type": "group",
                    "tag": "kind",
                    "value": "metro",
                    "max_units": most,
                    "name": "metro cities",
                }
            )
        else:
            # the plan's band for future industries (the group rule example of docs/contract.md)
            rules.append(
                {
                    "type": "group",
                    "tag": "type",
                    "value": "future",
                    "min_share": FUTURE_BAND[0],
                    "max_share": FUTURE_BAND[1],
                    "name": "future industries",
                }
            )
        rules.append({"type": "grade_order"})
    objective: dict[str, Any] = {"kind": spec.objective}
    if spec.objective not in ("weighted", "maxmin"):
        objective = {"kind": "proportional", "method": spec.objective}
    return {
        "name": f"benchmark {spec.name} (synthetic, seed {spec.seed})",
        "budget": budget,
        "unit": dict(UNIT if spec.budget is None else BUDGET_ROW_UNIT),
        "recipients": recipients,
        "grades": [{"grade": g, "min_score": m, "multiplier": k} for g, m, k in GRADE_BANDS],
        "objective": objective,
        "rules": rules,
        "solver": {"backend": "auto", "time_limit_s": 60},
    }


def _structure(
    n: int, rng: np.random.Generator
) -> tuple[list[str], list[str], np.ndarray, list[str]]:
    """Region, industry, stage and id of each recipient."""
    if n <= len(REGIONS):
        regions = list(REGIONS[:n])
        industries = ["main01"] * n
        return regions, industries, np.array(["mature"] * n), regions
    if n <= len(REGIONS) * len(INDUSTRIES):
        cells = [(r, ind) for r in REGIONS for ind in INDUSTRIES]
        picked = sorted(rng.choice(len(cells), size=n, replace=False).tolist())
        regions = [cells[c][0] for c in picked]
        industries = [cells[c][1] for c in picked]
        ids = [f"{r}-{ind}" for r, ind in zip(regions, industries, strict=True)]
        return regions, industries, np.array(["mature"] * n), ids
    # firms: bigger regions hold more firms; a third of the firms are in future industries
    region_size = np.array([3.4, 2.4, 1.4, 1.5, 1.1, 0.4, 1.5, 1.6, 2.1, 1.7, 1.8, 2.6, 3.3, 0.7])
    r = rng.choice(len(REGIONS), size=n, p=region_size / region_size.sum())
    is_future = rng.random(n) < 1.0 / 3.0
    ind = np.where(is_future, 41 + rng.integers(0, 19, n), rng.integers(0, 41, n))
    st = rng.choice(len(STAGES), size=n, p=[0.2, 0.25, 0.3, 0.25])
    width = len(str(n - 1))
    return (
        [REGIONS[k] for k in r.tolist()],
        [INDUSTRIES[k] for k in ind.tolist()],
        np.array(STAGES)[st],
        [f"firm{k:0{width}d}" for k in range(n)],
    )


def _region_bands(
    region: list[str],
    quota: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    budget: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """A band of units per region around a target near its quota (some above, some below,
    so that some bands bind from below and some from above), always inside what its
    members' own bounds allow, and together admitting the budget."""
    names = np.array(region)
    present = [name for name in REGIONS if np.any(names == name)]
    q = np.array([float(quota[names == name].sum()) for name in present])
    low = np.array([int(lo[names == name].sum()) for name in present])
    high = np.array([int(hi[names == name].sum()) for name in present])
    target = q * rng.uniform(0.93, 1.07, len(present))
    target *= budget / target.sum()
    min_units = np.clip(np.floor(target * 0.985), low, high).astype(np.int64)
    max_units = np.clip(np.ceil(target * 1.015), min_units, high).astype(np.int64)
    if min_units.sum() > budget or max_units.sum() < budget:  # pragma: no cover - safety net
        min_units, max_units = low, high
    return [
        {
            "type": "group",
            "tag": "region",
            "value": name,
            "min_units": int(a),
            "max_units": int(b),
            "name": f"{name} band",
        }
        for name, a, b in zip(present, min_units.tolist(), max_units.tolist(), strict=True)
    ]
