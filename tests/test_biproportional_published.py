"""Biproportional apportionment against two more published matrices, cell for cell.

Both are the worked examples of the encyclopaedia articles on the method (Sainte-Laguë /
Webster rounding in both the upper and the lower apportionment):

- English Wikipedia, "Biproportional apportionment" (example section): 3 parties x 3
  districts, 20 seats; district seats 7, 5, 8; votes per party in districts A, B, C
  123/45/815, 912/714/414, 312/255/215; party seats 5, 11, 4 (Webster on the party
  totals 983, 2,040, 782); seats 1/0/4, 4/4/3, 2/1/1.
- German Wikipedia, "Doppeltproportionales Zuteilungsverfahren" (Beispiel): 3 lists x 3
  districts, 15 seats; district seats 4, 5, 6; votes 51/98/45, 60/100/120, 63/102/144;
  list seats 4, 5, 6; seats 1/2/1, 1/2/2, 2/1/3.

The same numbers are the reference cases of the R package biproporz (its test file
``test-biproportional.R``), which reproduces both articles; Allot's Zurich 2018 check is
in ``tests/test_biproportional.py``.

And a real election: the Landrat of the canton of Uri, 2020, its four districts elected
biproportionally (Altdorf 15, Bürglen 7, Erstfeld 6, Schattdorf 9 seats; lists CVP, SPGB,
FDP, SVP), votes and seats from the canton's report "Landratswahlen 2020: Statistische
Auswertung" as transcribed in biproporz's ``uri2020`` data set and its test of the
published result. Uri's upper apportionment shares the 37 seats among the lists by their
votes divided by their district's seats ("Wählerzahlen"): 12, 9, 7, 9.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve

DISTRICTS = ("A", "B", "C", "D")

EXAMPLES: dict[str, dict[str, Any]] = {
    "uri-2020": {
        "district_seats": (15, 7, 6, 9),
        "votes": (
            (11471, 2822, 2309, 4794),
            (11908, 1606, 1705, 2600),
            (9213, 1567, 946, 2961),
            (7756, 2945, 1573, 3498),
        ),
        "party_seats": (12, 9, 7, 9),
        "seats": ((5, 2, 2, 3), (4, 1, 2, 2), (3, 1, 1, 2), (3, 3, 1, 2)),
        "weighted": True,
    },
    "en.wikipedia": {
        "district_seats": (7, 5, 8),
        "votes": ((123, 45, 815), (912, 714, 414), (312, 255, 215)),
        "party_seats": (5, 11, 4),
        "seats": ((1, 0, 4), (4, 4, 3), (2, 1, 1)),
    },
    "de.wikipedia": {
        "district_seats": (4, 5, 6),
        "votes": ((51, 98, 45), (60, 100, 120), (63, 102, 144)),
        "party_seats": (4, 5, 6),
        "seats": ((1, 2, 1), (1, 2, 2), (2, 1, 3)),
    },
}


def scenario(example: dict[str, Any], *, party_totals: bool = True) -> dict[str, Any]:
    """The lower apportionment as an Allot scenario: party x district cells scored by votes."""
    rule: dict[str, Any] = {
        "type": "biproportional",
        "rows": "party",
        "columns": "district",
        "column_totals": dict(zip(DISTRICTS, example["district_seats"], strict=False)),
    }
    if party_totals:
        rule["row_totals"] = {f"p{k + 1}": s for k, s in enumerate(example["party_seats"])}
    return {
        "name": "published biproportional example",
        "budget": sum(example["district_seats"]),
        "objective": {"kind": "proportional", "method": "webster"},
        "rules": [rule],
        "recipients": [
            {
                "id": f"p{k + 1}-{d}",
                "score": votes,
                "tags": {"party": f"p{k + 1}", "district": d},
            }
            for k, row in enumerate(example["votes"])
            for d, votes in zip(DISTRICTS, row, strict=False)
        ],
    }


def seats(result: Any) -> tuple[tuple[int, ...], ...]:
    units = {a.id: a.units for a in result.allocations}
    rows = len({i.split("-")[0] for i in units})
    columns = len({i.split("-")[1] for i in units})
    return tuple(tuple(units[f"p{k + 1}-{d}"] for d in DISTRICTS[:columns]) for k in range(rows))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_published_matrix_cell_for_cell(name: str) -> None:
    example = EXAMPLES[name]
    result = solve(Scenario.from_data(scenario(example)))
    assert result.status == Status.OPTIMAL, result.message
    assert seats(result) == example["seats"]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_published_party_seats_are_webster_on_the_party_totals(name: str) -> None:
    """The data was copied right: the upper apportionment the article states is Webster's
    (checked here by its own definition, a divisor whose rounded quotients add up)."""
    example = EXAMPLES[name]
    totals = [
        sum(Fraction(v, s) for v, s in zip(row, example["district_seats"], strict=True))
        if example.get("weighted")
        else Fraction(sum(row))
        for row in example["votes"]
    ]
    house = sum(example["district_seats"])
    assert sum(example["party_seats"]) == house
    # any divisor strictly between the largest "next seat" and the smallest "last seat"
    # signpost ratio works; Webster's signposts are k + 1/2
    low = max(
        Fraction(v) / (s + Fraction(1, 2))
        for v, s in zip(totals, example["party_seats"], strict=True)
    )
    high = min(
        Fraction(v) / (s - Fraction(1, 2))
        for v, s in zip(totals, example["party_seats"], strict=True)
        if s > 0
    )
    assert low < high


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_certificate_reproduces_the_published_seats(name: str) -> None:
    """Every published cell is its votes over its party's and district's divisors (from
    Allot's certificate), rounded at one half: checkable by hand."""
    example = EXAMPLES[name]
    proof = solve(Scenario.from_data(scenario(example))).certificate
    assert proof is not None and proof["kind"] == "biproportional"
    rows = dict(zip(proof["rows"]["names"], proof["exact"]["rows"], strict=True))
    columns = dict(zip(proof["columns"]["names"], proof["exact"]["columns"], strict=True))
    for k, row in enumerate(example["votes"]):
        for d, votes, published in zip(DISTRICTS, row, example["seats"][k], strict=False):
            quotient = Fraction(votes) / (Fraction(rows[f"p{k + 1}"]) * Fraction(columns[d]))
            whole = quotient.numerator // quotient.denominator
            assert quotient - whole != Fraction(1, 2)  # no tie in these examples
            assert whole + (quotient - whole > Fraction(1, 2)) == published
