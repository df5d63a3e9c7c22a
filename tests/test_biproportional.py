"""Biproportional apportionment: published results cell for cell, the certificate checked
by exact arithmetic, the margins, ties, and the diagnosis of impossible totals.

The published matrix is the City of Zurich's 2018 council election (Gemeinderatswahl
4 March 2018), lower apportionment ("Unterzuteilung"), as published by the city:
https://stadt-zuerich.ch/misc/de/archiv-wahlen/stadtrat-gemeinderat/180304/resultate_erneuerungswahlen.html?context=standalone&path=wp_herleitung_unterzuteilung
(party votes and seats per party x district in ``tests/data/zurich-2018-council.csv``; the
source and the published divisors are in ``tests/data/zurich-2018-council.txt``). Its upper
apportionment (party seats from the "Wählerzahlen") is on the same site
(``path=wp_herleitung_oberzuteilung``).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from optimizer import cli
from optimizer.biproportional import (
    DIVISOR_METHODS,
    Matrix,
    apportion_line,
    biproportional,
    signpost,
)
from optimizer.errors import InputError
from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve

DATA = Path(__file__).parent / "data"
PARTIES = {"SP": 43, "SVP": 17, "FDP": 21, "Grüne": 16, "glp": 14, "AL": 10, "EVP/BDP": 4}
DISTRICTS = {"1+2": 12, "3": 15, "4+5": 13, "6": 10, "7+8": 16, "9": 16, "10": 12, "11": 22}
DISTRICTS["12"] = 9
# published divisors: party ("Listengruppendivisor") and district ("Wahlkreisdivisor")
PARTY_DIVISORS = {"SP": "1", "SVP": "1.0708", "FDP": "0.973", "Grüne": "0.934"}
PARTY_DIVISORS |= {"glp": "1.02", "AL": "1", "EVP/BDP": "0.73"}
DISTRICT_DIVISORS = [9870, 12100, 10000, 9000, 15850, 10950, 11080, 12400, 5000]


def zurich_rows() -> list[dict[str, str]]:
    with (DATA / "zurich-2018-council.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def zurich_scenario(**rule: Any) -> dict[str, Any]:
    """The lower apportionment as an Allot scenario: party x district cells scored by votes."""
    return {
        "name": "Zurich council 2018, lower apportionment",
        "budget": 125,
        "objective": {"kind": "proportional", "method": "webster"},
        "rules": [
            {
                "type": "biproportional",
                "rows": "party",
                "columns": "district",
                "row_totals": dict(PARTIES),
                "column_totals": dict(DISTRICTS),
                **rule,
            }
        ],
        "recipients": [
            {
                "id": f"{r['party']} {r['district']}",
                "score": int(r["votes"]),
                "tags": {"party": r["party"], "district": r["district"]},
            }
            for r in zurich_rows()
        ],
    }


def published_round(quotient: Fraction) -> int:
    """Standard rounding, as the published table rounds (no quotient there is a tie)."""
    whole = quotient.numerator // quotient.denominator
    return whole + (1 if quotient - whole > Fraction(1, 2) else 0)


def test_the_published_divisors_reproduce_the_published_seats() -> None:
    """The data was copied right: the city's own divisors give its own seats."""
    for r in zurich_rows():
        column = list(DISTRICTS).index(r["district"])
        divisor = Fraction(PARTY_DIVISORS[r["party"]]) * DISTRICT_DIVISORS[column]
        assert published_round(Fraction(int(r["votes"])) / divisor) == int(r["seats"])


def test_zurich_2018_cell_for_cell_with_a_certificate() -> None:
    result = solve(Scenario.from_data(zurich_scenario()))
    assert result.status == Status.OPTIMAL
    assert result.solver.path == "biproportional"
    seats = {f"{r['party']} {r['district']}": int(r["seats"]) for r in zurich_rows()}
    assert {a.id: a.units for a in result.allocations} == seats
    cert = result.certificate
    assert cert is not None and cert["kind"] == "biproportional" and cert["ties"] == []
    assert cert["rows"]["names"] == list(PARTIES)
    assert cert["rows"]["totals"] == list(PARTIES.values())
    assert cert["columns"]["totals"] == list(DISTRICTS.values())
    rows = [Fraction(v) for v in cert["exact"]["rows"]]
    columns = [Fraction(v) for v in cert["exact"]["columns"]]
    for r in zurich_rows():
        i, j = list(PARTIES).index(r["party"]), list(DISTRICTS).index(r["district"])
        quotient = Fraction(int(r["votes"])) / (rows[i] * columns[j])
        assert published_round(quotient) == int(r["seats"])
        # the decimals printed are the exact divisors written out
        assert abs(Fraction(cert["rows"]["divisors"][i]) - rows[i]) < Fraction(1, 10**20)


def test_zurich_2018_upper_apportionment_from_the_voter_numbers() -> None:
    """The party seats (the rows' totals) are Sainte-Laguë of the published "Wählerzahlen"
    (party votes over district seats, summed): 125 seats at the published key 770."""
    voters = [32892, 12999, 16312, 12064, 10580, 7892, 2810]
    assert apportion_line(voters, 125, "webster") == list(PARTIES.values())


def test_omitted_totals_are_apportioned_from_the_budget() -> None:
    """With no party totals given, the rows share the budget by their cells' votes (Webster),
    and the matrix still meets the district totals."""
    data = zurich_scenario(row_totals={})
    result = solve(Scenario.from_data(data))
    cert = result.certificate
    assert result.status == Status.OPTIMAL and cert is not None
    votes = Counter[str]()
    for r in zurich_rows():
        votes[r["party"]] += int(r["votes"])
    expected = apportion_line([votes[p] for p in PARTIES], 125, "webster")
    assert cert["rows"]["totals"] == expected
    assert cert["rows"]["given"] == [False] * len(PARTIES)
    by_party = Counter[str]()
    for a in result.allocations:
        by_party[a.id.rsplit(" ", 1)[0]] += a.units
    assert [by_party[p] for p in PARTIES] == expected


def random_matrix(draw: st.DrawFn, method: str) -> Matrix:
    rows = draw(st.integers(1, 5))
    columns = draw(st.integers(1, 5))
    cells = [(i, j) for i in range(rows) for j in range(columns)]
    keep = [c for c in cells if draw(st.booleans()) or draw(st.booleans())] or cells[:1]
    weight = tuple(draw(st.integers(0, 60)) for _ in keep)
    lo = [draw(st.integers(0, 1)) if draw(st.booleans()) else 0 for _ in keep]
    hi = [draw(st.integers(lo[k], 12)) if draw(st.booleans()) else 10**6 for k in range(len(keep))]
    house = draw(st.integers(0, 30))
    row_totals = _split(draw, house, rows)
    column_totals = _split(draw, house, columns)
    return Matrix(
        row=np.array([c[0] for c in keep], dtype=np.int64),
        column=np.array([c[1] for c in keep], dtype=np.int64),
        weight=weight,
        lo=np.array(lo, dtype=np.int64),
        hi=np.array(hi, dtype=np.int64),
        row_totals=row_totals,
        column_totals=column_totals,
    )


def _split(draw: st.DrawFn, total: int, parts: int) -> tuple[int, ...]:
    cuts = sorted(draw(st.integers(0, total)) for _ in range(parts - 1))
    edges = [0, *cuts, total]
    return tuple(edges[k + 1] - edges[k] for k in range(parts))


@st.composite
def problems(draw: st.DrawFn) -> tuple[Matrix, str]:
    method = draw(st.sampled_from(DIVISOR_METHODS))
    return random_matrix(draw, method), method


def feasible(m: Matrix, lo: list[int], hi: list[int]) -> bool:
    """An independent check: a flow with cell bounds meeting both margins exists (lower
    bounds moved to the totals, then augmenting paths on the bipartite network)."""
    rows, columns = m.rows, m.columns
    need_r = list(m.row_totals)
    need_c = list(m.column_totals)
    cap: dict[tuple[int, int], int] = {}
    for k in range(len(m.weight)):
        i, j = int(m.row[k]), int(m.column[k])
        if lo[k] > hi[k]:
            return False
        need_r[i] -= lo[k]
        need_c[j] -= lo[k]
        cap[i, j] = cap.get((i, j), 0) + hi[k] - lo[k]
    if min(need_r + need_c, default=0) < 0 or sum(need_r) != sum(need_c):
        return False
    source, sink = rows + columns, rows + columns + 1
    residual: dict[int, dict[int, int]] = {v: {} for v in range(rows + columns + 2)}

    def add(a: int, b: int, c: int) -> None:
        residual[a][b] = residual[a].get(b, 0) + c
        residual[b].setdefault(a, 0)

    for i in range(rows):
        add(source, i, need_r[i])
    for j in range(columns):
        add(rows + j, sink, need_c[j])
    for (i, j), c in cap.items():
        add(i, rows + j, c)
    flow = 0
    while True:
        parent = {source: source}
        queue = [source]
        for v in queue:
            for w, c in residual[v].items():
                if c > 0 and w not in parent:
                    parent[w] = v
                    queue.append(w)
        if sink not in parent:
            break
        path, v = [], sink
        while v != source:
            path.append((parent[v], v))
            v = parent[v]
        push = min(residual[a][b] for a, b in path)
        for a, b in path:
            residual[a][b] -= push
            residual[b][a] += push
        flow += push
    return flow == sum(need_r)


@settings(max_examples=250, deadline=None)
@given(problems())
def test_margins_met_and_cells_round_from_the_divisors(problem: tuple[Matrix, str]) -> None:
    """Feasible exactly when a flow exists; then every row and column hits its total and
    every cell is its entitlement over its divisors rounded by the method (held within its
    bounds), checked on exact fractions; ties name cells that could each move one unit."""
    m, method = problem
    answer = biproportional(m, method)
    power = 2 if method == "huntington-hill" else 1
    positive = [w > 0 for w in m.weight]
    lo = [
        max(int(m.lo[k]), 1) if positive[k] and signpost(method, 0) == 0 else int(m.lo[k])
        for k in range(len(m.weight))
    ]
    hi = [int(m.hi[k]) if positive[k] else 0 for k in range(len(m.weight))]
    assert (answer.x is not None) == feasible(m, lo, hi), answer.shortfall
    if answer.x is None:
        assert answer.shortfall is not None and answer.shortfall.amount > 0
        return
    x = answer.x.tolist()
    assert np.bincount(m.row, weights=x, minlength=m.rows).tolist() == list(m.row_totals)
    assert np.bincount(m.column, weights=x, minlength=m.columns).tolist() == list(m.column_totals)
    for k, units in enumerate(x):
        assert lo[k] <= units <= hi[k]
        product = answer.row_divisors[m.row[k]] * answer.column_divisors[m.column[k]]
        e = m.weight[k] ** power
        cap = min(hi[k], m.row_totals[m.row[k]], m.column_totals[m.column[k]])
        if units > lo[k]:  # it may hold this many: e / product >= s(units - 1)
            assert e >= product * signpost(method, units - 1)
        if units < cap:  # and no more: e / product <= s(units)
            assert e <= product * signpost(method, units)
    for tie in answer.ties:
        assert tie.up and tie.down
        assert all(x[c] < hi[c] for c in tie.up) and all(x[c] > lo[c] for c in tie.down)


def test_a_tie_is_named_not_broken_silently() -> None:
    """Two rows, two columns, equal votes, one unit per row and column: the diagonal and
    the anti-diagonal are equally good; the result names the four cells."""
    data = {
        "name": "tie",
        "budget": 2,
        "objective": {"kind": "proportional", "method": "webster"},
        "rules": [{"type": "biproportional", "rows": "region", "columns": "kind"}],
        "recipients": [
            {"id": f"{r}-{k}", "score": 10, "tags": {"region": r, "kind": k}}
            for r in ("busan", "daegu")
            for k in ("main", "future")
        ],
    }
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL
    assert result.certificate is not None
    (tie,) = result.certificate["ties"]
    assert sorted(tie["up"] + tie["down"]) == sorted(a.id for a in result.allocations)
    assert {a.id for a in result.allocations if a.units == 1} == set(tie["down"])
    assert "tie" in result.message


def regions_kinds(**rule: Any) -> dict[str, Any]:
    """Three regions x two kinds of programme, illustrative scores."""
    scores = {"busan": (80, 40), "daegu": (60, 30), "gwangju": (50, 70)}
    return {
        "name": "regions x kinds",
        "budget": 100,
        "objective": {"kind": "proportional", "method": "webster"},
        "rules": [{"type": "biproportional", "rows": "region", "columns": "kind", **rule}],
        "recipients": [
            {"id": f"{r}-{k}", "score": s, "tags": {"region": r, "kind": k}}
            for r, pair in scores.items()
            for k, s in zip(("main", "future"), pair, strict=True)
        ],
    }


def test_a_row_total_its_cells_cannot_hold_is_diagnosed_with_amounts() -> None:
    data = regions_kinds(row_totals={"busan": 50})
    data["recipients"][0]["cap"] = 20
    data["recipients"][1]["cap"] = 25
    result = solve(Scenario.from_data(data))
    assert result.status == Status.INFEASIBLE and result.diagnosis is not None
    (relax,) = result.diagnosis.relax
    assert relax.amount == 5 and relax.kind == "biproportional_row"
    assert "row busan needs 50 units; its cells can hold at most 45" in relax.message


def test_totals_that_disagree_with_the_budget_are_diagnosed() -> None:
    data = regions_kinds(column_totals={"main": 70, "future": 40})
    result = solve(Scenario.from_data(data))
    assert result.status == Status.INFEASIBLE and result.diagnosis is not None
    (relax,) = result.diagnosis.relax
    assert relax.amount == 10
    assert "column totals given sum to 110 units but the budget is 100" in relax.message


def test_columns_only_some_rows_can_take_are_diagnosed_as_a_cut() -> None:
    """Every row and column fits alone, but ``main`` (60) can only go to busan and daegu
    (gwangju's main cell is capped at 0): daegu can take 30, so busan would need 30 there
    and 5 for its future cell's floor, 35 against its total of 30."""
    data = regions_kinds(
        row_totals={"busan": 30, "daegu": 30, "gwangju": 40},
        column_totals={"main": 60, "future": 40},
    )
    data["recipients"][1]["floor"] = 5  # busan-future
    data["recipients"][4]["cap"] = 0  # gwangju-main
    result = solve(Scenario.from_data(data))
    assert result.status == Status.INFEASIBLE and result.diagnosis is not None
    (relax,) = result.diagnosis.relax
    assert relax.kind == "biproportional_cut"
    assert relax.amount == 5
    assert relax.message.endswith(
        "column main needs 60 units; rows daegu, gwangju can hold at most 30 of them (caps and "
        "totals), so row busan would need at least 35 units with 5 more for floors elsewhere, "
        "more than its total of 30 (5 units short)"
    )


def test_zero_entitlement_cells_take_nothing() -> None:
    data = regions_kinds()
    data["recipients"][2]["weight"] = 0  # daegu-main: no entitlement
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL
    units = {a.id: a.units for a in result.allocations}
    assert units["daegu-main"] == 0 and sum(units.values()) == 100


def test_cell_floors_and_caps_hold() -> None:
    data = regions_kinds()
    data["recipients"][1]["floor"] = 16  # busan-future: 12 without it
    data["recipients"][4]["cap"] = 13  # gwangju-main: 15 without it
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL
    by_id = {a.id: a for a in result.allocations}
    assert by_id["busan-future"].units == 16 and by_id["busan-future"].binding == ("floor",)
    assert by_id["gwangju-main"].units == 13 and by_id["gwangju-main"].binding == ("cap",)
    assert sum(a.units for a in result.allocations) == 100


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda d: d["recipients"][0]["tags"].pop("kind"), "recipients[0].tags.kind", "required"),
        (
            lambda d: d["rules"][0].update(row_totals={"seoul": 5}),
            "rules[0].row_totals.seoul",
            "no recipient has tags.region == 'seoul'",
        ),
        (
            lambda d: d["rules"].append({"type": "grade_order"}),
            "rules[1].type",
            "cannot be combined with the biproportional rule",
        ),
        (
            lambda d: d["objective"].update(method="hamilton"),
            "objective.method",
            "hamilton has no divisors",
        ),
        (
            lambda d: d["rules"][0].update(columns="region"),
            "rules[0].columns",
            "another tag",
        ),
    ],
)
def test_bad_rules_are_input_errors_with_paths(change: Any, path: str, words: str) -> None:
    data = regions_kinds()
    change(data)
    with pytest.raises(InputError) as caught:
        Scenario.from_data(data)
    assert any(p.path == path and words in p.message for p in caught.value.problems), (
        caught.value.problems
    )


def test_dean_rounds_one_margin_too() -> None:
    """Dean is a divisor method of the engine as well (tests/test_dean.py): the same
    recipients without the matrix solve by it, every unit handed out."""
    data = regions_kinds()
    data["rules"] = []
    data["objective"]["method"] = "dean"
    result = solve(Scenario.from_data(data))
    assert result.status == "optimal"
    assert sum(a.units for a in result.allocations) == data["budget"]
    assert result.certificate is not None and result.certificate["method"] == "dean"


@pytest.mark.parametrize("method", DIVISOR_METHODS)
def test_every_method_solves_through_the_cli(method: str, tmp_path: Path) -> None:
    path = tmp_path / "matrix.json"
    data = regions_kinds()
    data["objective"]["method"] = method
    path.write_text(json.dumps(data), encoding="utf-8")
    outcome = CliRunner().invoke(cli.app, ["solve", str(path), "--format", "json"])
    assert outcome.exit_code == 0, outcome.output
    result = json.loads(outcome.stdout)
    assert result["objective"]["method"] == method
    assert result["certificate"]["method"] == method
    assert sum(a["units"] for a in result["allocations"]) == 100


def test_an_infeasible_matrix_exits_1_with_the_sentence(tmp_path: Path) -> None:
    path = tmp_path / "matrix.json"
    data = regions_kinds(row_totals={"busan": 50})
    data["recipients"][0]["cap"] = 20
    data["recipients"][1]["cap"] = 25
    path.write_text(json.dumps(data), encoding="utf-8")
    outcome = CliRunner().invoke(cli.app, ["solve", str(path)])
    assert outcome.exit_code == 1
    assert "row busan needs 50 units" in outcome.output


def test_recipients_sharing_a_cell_each_round_from_the_same_divisors() -> None:
    """Programmes of one region and kind share the cell's divisors: each gets its own
    entitlement over them, rounded; the region and kind totals hold over all of them."""
    data = regions_kinds(row_totals={"busan": 45}, column_totals={"main": 55, "future": 45})
    data["recipients"].append(
        {"id": "busan-main-2", "score": 35, "tags": {"region": "busan", "kind": "main"}}
    )
    result = solve(Scenario.from_data(data))
    cert = result.certificate
    assert result.status == Status.OPTIMAL and cert is not None
    rows = dict(zip(cert["rows"]["names"], map(Fraction, cert["exact"]["rows"]), strict=True))
    columns = dict(
        zip(cert["columns"]["names"], map(Fraction, cert["exact"]["columns"]), strict=True)
    )
    by_region = Counter[str]()
    for rec, a in zip(data["recipients"], result.allocations, strict=True):
        region, kind = rec["tags"]["region"], rec["tags"]["kind"]
        by_region[region] += a.units
        quotient = Fraction(rec["score"]) / (rows[region] * columns[kind])
        assert abs(quotient - a.units) <= Fraction(1, 2)  # Webster: the nearest whole number
    assert by_region["busan"] == 45
    assert sum(a.units for a in result.allocations if "main" in a.id) == 55


def test_a_budget_in_won_is_apportioned_exactly() -> None:
    """10^12 units over a 14 x 60 matrix: the margins hold and every cell is its entitlement
    over its divisors, rounded (exact fractions), as at 2,864 units."""
    from benchmarks.matrix import MatrixSpec, problem, scenario_data, verify

    data = scenario_data(MatrixSpec(14, 60, 10**12))
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL and result.certificate is not None
    units = [a.units for a in result.allocations]
    assert sum(units) == 10**12
    matrix = problem(data, result.certificate)
    assert verify(matrix, "webster", units, result.certificate) == "ok"
