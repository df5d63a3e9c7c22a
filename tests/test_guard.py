"""The resource guard: runs that would tabulate more units than their memory allows end with
a sentence before building, at any budget; the budget comes from the flag, the
environment or the default."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from optimizer import cli
from optimizer.errors import InputError
from optimizer.guard import DEFAULT_RUN_MEMORY_MB, run_memory_mb
from optimizer.model import IntegerProgram
from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.solvers import Outcome
from optimizer.solvers.base import Backend
from tests.test_thresholds import graded


def overlapping(budget: int, method: str = "huntington-hill") -> dict[str, Any]:
    """Two group rules over overlapping members that both bind: under Huntington-Hill (whose
    costs no exact flow can sum) only the MILP solves it."""
    recipients = [
        {"id": f"r{i}", "score": 10 + i, "tags": {"a": i % 2, "b": i // 2}} for i in range(6)
    ]
    return {
        "name": "overlap",
        "budget": budget,
        "recipients": recipients,
        "rules": [
            {"type": "group", "tag": "a", "value": "0", "max_share": 0.3},
            {"type": "group", "tag": "b", "value": "1", "min_share": 0.5},
        ],
        "objective": {"kind": "proportional", "method": method},
    }


@pytest.mark.parametrize("method", ["hamilton", "webster"])
def test_crossing_groups_at_10_12_need_no_milp_and_no_memory(method: str) -> None:
    scenario = Scenario.from_data(overlapping(10**12, method))
    tracemalloc.start()
    result = solve(scenario, memory_mb=64)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.status == Status.OPTIMAL, result.message
    assert result.solver.path == "crossing"
    units = {a.id: a.units for a in result.allocations}
    assert sum(units.values()) == 10**12
    assert units["r0"] + units["r2"] + units["r4"] <= 3 * 10**11  # a = 0: at most 30%
    assert units["r2"] + units["r3"] >= 5 * 10**11  # b = 1: at least half
    assert peak < 50 * 2**20


def test_a_milp_too_large_for_the_run_memory_ends_with_a_sentence() -> None:
    scenario = Scenario.from_data(overlapping(10**12))
    tracemalloc.start()
    result = solve(scenario)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.status == Status.ERROR
    assert result.solver.path == "milp"
    assert result.message.startswith("too large: the MILP would encode")
    assert "1,024 MB" in result.message
    assert peak < 50 * 2**20  # refused before building: nothing in proportion to the units


def test_the_memory_budget_decides_what_is_built() -> None:
    scenario = Scenario.from_data(overlapping(3000))
    assert solve(scenario).status == Status.OPTIMAL
    refused = solve(scenario, memory_mb=1)
    assert refused.status == Status.ERROR
    assert "the run may use 1 MB" in refused.message


def test_the_budget_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALLOT_RUN_MEMORY_MB", raising=False)
    assert run_memory_mb() == DEFAULT_RUN_MEMORY_MB
    monkeypatch.setenv("ALLOT_RUN_MEMORY_MB", "2048")
    assert run_memory_mb() == 2048
    assert run_memory_mb(64) == 64  # the caller's value wins
    monkeypatch.setenv("ALLOT_RUN_MEMORY_MB", "lots")
    with pytest.raises(InputError) as bad:
        run_memory_mb()
    assert bad.value.problems[0].path == "ALLOT_RUN_MEMORY_MB"


def test_the_cli_flag_sets_the_budget_and_refuses_nonsense(tmp_path: Path) -> None:
    file = tmp_path / "overlap.json"
    file.write_text(json.dumps(overlapping(3000)))
    runner = CliRunner()
    small = runner.invoke(cli.app, ["solve", str(file), "--format", "json", "--max-memory-mb", "1"])
    assert small.exit_code == 3
    assert json.loads(small.stdout)["message"].startswith("too large:")
    bad = runner.invoke(cli.app, ["solve", str(file), "--max-memory-mb", "0"])
    assert bad.exit_code == 2
    assert "--max-memory-mb: must be a positive number of MB" in bad.stderr


def test_a_budget_beyond_the_exact_range_is_refused_with_its_field() -> None:
    data = overlapping(10**15 + 1)
    with pytest.raises(InputError) as bad:
        Scenario.from_data(data)
    assert [p.path for p in bad.value.problems] == ["budget"]


def test_a_search_past_the_runs_time_limit_ends_time_limit_without_an_allocation(
    tmp_path: Path,
) -> None:
    """The threshold search has no solver's clock: it checks the run's deadline before each
    node, and a run past it says so (exit code 3) rather than running on."""
    data = graded([{"type": "grade_order"}])
    assert solve(Scenario.from_data(data)).solver.path == "search"
    stopped = solve(Scenario.from_data(data), time_limit_s=1e-9)
    assert stopped.status == Status.TIME_LIMIT
    assert stopped.solver.path == "search"
    assert not stopped.allocations
    assert stopped.message.startswith("time limit: the threshold search opened 0 nodes")
    file = tmp_path / "graded.json"
    file.write_text(json.dumps(data))
    out = CliRunner().invoke(cli.app, ["solve", str(file), "-f", "json", "-t", "0.000000001"])
    assert out.exit_code == 3
    assert json.loads(out.stdout)["status"] == "time_limit"


def test_maxmins_milp_floor_tests_share_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A feasibility test of maxmin's floor raising that runs out of time ends the run
    ``time_limit``: it is not taken for "feasible" (that would raise floors nobody proved)."""
    solve_milp = Backend.solve

    def out_of_time(
        self: Backend, program: IntegerProgram, *, time_limit_s: float, stages: int = 3
    ) -> Outcome:
        if stages == 0:
            return Outcome(Status.TIME_LIMIT, None, None, "stopped")
        return solve_milp(self, program, time_limit_s=time_limit_s, stages=stages)

    data = {**overlapping(30), "objective": {"kind": "maxmin"}}
    assert solve(Scenario.from_data(data), backend="highs").status == Status.OPTIMAL
    monkeypatch.setattr(Backend, "solve", out_of_time)
    stopped = solve(Scenario.from_data(data), backend="highs")
    assert stopped.status == Status.TIME_LIMIT
    assert not stopped.allocations
    assert "ran out of time in feasibility test 1 of maxmin's floor raising" in stopped.message
