"""The certificate a reader checks by hand, checked here the same way; and the guard's
answer when a run runs out of memory."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optimizer.solve as solve_module
from optimizer.loading import load_scenario
from optimizer.result import Result, Status
from optimizer.scenario import Scenario
from optimizer.solve import solve
from tests.hypothesis_profile import examples

METHODS = ("hamilton", "jefferson", "webster", "adams", "huntington-hill")

ROOT = Path(__file__).resolve().parents[1]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Bounds-only scenarios (the greedy path) at budgets from tens to 10^15 units."""
    n = draw(st.integers(2, 8))
    budget = draw(st.sampled_from([draw(st.integers(n, 200)), 10**9 + 7, 10**12, 10**15]))
    recipients = []
    for i in range(n):
        rec: dict[str, Any] = {
            "id": f"r{i}",
            "score": draw(st.integers(1, 9999)) / 100,
            "weight": draw(st.integers(1, 30)) / 10,
        }
        if draw(st.booleans()):
            rec["floor"] = draw(st.integers(0, budget // (3 * n)))
        if draw(st.booleans()):
            rec["cap"] = max(rec.get("floor", 0), draw(st.integers(budget // n, budget)))
        recipients.append(rec)
    if sum(r.get("cap", budget) for r in recipients) < budget:
        recipients[0].pop("cap", None)
    method = draw(st.sampled_from(METHODS))
    return {
        "name": "certificate",
        "budget": budget,
        "recipients": recipients,
        "objective": {"kind": "proportional", "method": method},
    }


def _units_by_divisor(method: str, e: Fraction, divisor: Fraction, lo: int, hi: int) -> int:
    """How many k >= 0 have d(k) < e / D (the units a divisor gives), within bounds; a
    reader's spreadsheet formula, independent of the engine."""
    y = e / divisor
    if method == "jefferson":
        k = max(math.ceil(y) - 1, 0)
    elif method == "webster":
        k = max(math.ceil(y - Fraction(1, 2)), 0)
    elif method == "adams":
        k = max(math.ceil(y), 0)
    else:  # k (k + 1) < y^2
        k = (math.isqrt(4 * y.numerator**2 // y.denominator**2 + 1) + 1) // 2
        while k > 0 and (k - 1) * k >= y * y:
            k -= 1
        while k * (k + 1) < y * y:
            k += 1
    return min(max(k, lo), hi)


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_the_certificate_reproduces_the_allocation(data: dict[str, Any]) -> None:
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL
    assert result.solver.path == "greedy"
    cert = result.certificate
    assert cert is not None
    recipients = {r["id"]: r for r in data["recipients"]}
    budget = data["budget"]
    if cert["kind"] == "divisor":
        exact = cert["exact"]
        low, high = Fraction(exact["low"]), exact["high"]
        assert high is None or low <= Fraction(high)
        if high is not None and low == Fraction(high):
            return  # a tie at the only divisor: rank decided, nothing to recompute
        if exact["squared"]:  # Huntington-Hill: a rational D with D^2 inside the bounds
            top = Fraction(high) if high is not None else 4 * low + 1
            d = Fraction(math.isqrt(int(((low + top) / 2) * 10**40)), 10**20)
            if not low < d * d < top:
                return  # the interval is too narrow for this grid: nothing to recompute
        else:
            d = low if high is None else (low + Fraction(high)) / 2
        for a in result.allocations:
            rec = recipients[a.id]
            e = Fraction(str(rec["score"])) * Fraction(str(rec["weight"]))
            lo, hi = rec.get("floor", 0), min(rec.get("cap", budget), budget)
            assert _units_by_divisor(cert["method"], e, d, lo, hi) == a.units, a.id
    else:
        t_low, t_high = cert["exact"]["low"], cert["exact"]["high"]
        if t_low is None or t_high is None:
            return
        threshold = (Fraction(t_low) + Fraction(t_high)) / 2
        assert Fraction(t_low) <= Fraction(t_high)
        units = {a.id: a.units for a in result.allocations}
        assert cert["remainder_order"] == [row["id"] for row in cert["quotas"]]
        for row in cert["quotas"]:
            rec = recipients[row["id"]]
            lo, hi = rec.get("floor", 0), min(rec.get("cap", budget), budget)
            quota = Fraction(row["quota_exact"])
            if Fraction(t_low) < threshold < Fraction(t_high):
                assert min(max(math.ceil(quota + threshold), lo), hi) == units[row["id"]]
        remainders = [Fraction(row["remainder"]) for row in cert["quotas"]]
        assert remainders == sorted(remainders, reverse=True)


def test_no_certificate_off_the_greedy_path() -> None:
    data = {
        "name": "weighted",
        "budget": 10,
        "recipients": [{"id": "a", "score": 1}, {"id": "b", "score": 2}],
        "objective": {"kind": "weighted"},
    }
    assert solve(Scenario.from_data(data)).certificate is None


def test_a_run_out_of_memory_ends_with_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(*args: Any, **kwargs: Any) -> Result:
        raise MemoryError

    monkeypatch.setattr(solve_module, "_solve", exhausted)
    data = {"name": "big", "budget": 10, "recipients": [{"id": "a", "score": 1}]}
    result = solve(Scenario.from_data(data))
    assert result.status == Status.ERROR
    assert result.message.startswith("too large:")
    assert result.to_dict()["allocations"] == []


@pytest.mark.parametrize("backend", ["highs", "cp-sat", "cbc"])
def test_a_milp_result_carries_the_solvers_proof_stage_by_stage(backend: str) -> None:
    scenario = load_scenario(ROOT / "scenarios" / "regions-2025-metro-cap.yaml")
    result = solve(scenario, backend=backend)
    assert result.solver.path == "milp" and result.status == "optimal"
    proof = result.certificate
    assert proof is not None and proof["kind"] == "milp" and proof["backend"] == backend
    stages = proof["stages"]
    assert [s["stage"] for s in stages[:3]] == ["primary cost", "least squares", "rank . x"]
    for stage in stages:
        if backend != "cbc":  # CBC (through PuLP) reports optimality without its bound
            assert abs(stage["objective"] - stage["bound"]) <= 0.5
