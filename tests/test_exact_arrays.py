"""The array paths of :mod:`optimizer.exact` give what one fraction (or one Python integer)
per recipient gives: ``scaled_bound`` (change limits) and ``exact_rank`` (the tie-break
order), on values where floating point alone lands on the wrong integer or the wrong order.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.exact import decimal, exact_entitlements, exact_rank, scaled_bound
from tests.hypothesis_profile import examples

EXAMPLES = settings(
    max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
RATES = ["0.1", "0.3", "0.05", "0.333", "0.0001", "0.123456789012345", "1.5", "2"]

# previous allocations: whole units (often round, so that the product is whole), up to
# 10^15, and some decimals
PREVIOUS = (
    st.integers(0, 10**15)
    | st.integers(0, 10**5).map(lambda v: v * 1000)
    | st.integers(0, 10**12).map(lambda v: v * 10)
    | st.sampled_from([10**15, 358_645_178_867_021, 2**53 - 1])
    | st.decimals(0, 10**6, places=2, allow_nan=False).map(float)
)


def _one_by_one(values: list[float], factor: Fraction, upward: bool) -> list[int]:
    """The reference: each value as the decimal it is written as, times the factor."""
    out = []
    for v in values:
        product = decimal(v) * factor
        out.append(math.ceil(product) if upward else math.floor(product))
    return out


@EXAMPLES
@given(st.lists(PREVIOUS, min_size=1, max_size=30), st.sampled_from(RATES), st.booleans())
def test_scaled_bound_is_the_exact_decimal_product(
    values: list[float], rate: str, upward: bool
) -> None:
    factor = 1 - Fraction(rate) if upward else 1 + Fraction(rate)
    got = scaled_bound(np.array(values, dtype=np.float64), factor, upward=upward)
    assert got.dtype == np.int64
    assert got.tolist() == _one_by_one(values, factor, upward)


def test_scaled_bound_where_the_products_leave_int64() -> None:
    """10^15 times a 15-digit factor is past int64: Python integers decide."""
    values = [10**15, 10**15 - 10, 999_999_999_999_990.0, 123_456_789_012_340]
    factor = 1 - Fraction("0.123456789012345")
    for upward in (True, False):
        got = scaled_bound(np.array(values, dtype=np.float64), factor, upward=upward)
        assert got.tolist() == _one_by_one(values, factor, upward)


ENTITLEMENTS = st.integers(0, 10**6) | st.sampled_from([10**6, 10**6 + 1, 3 * 10**12])


@EXAMPLES
@given(st.lists(ENTITLEMENTS, min_size=1, max_size=40), st.booleans())
def test_exact_rank_orders_by_the_exact_entitlement_then_position(
    exact: list[int], huge: bool
) -> None:
    """Floats that cannot tell two entitlements apart (or that misorder them): the rank
    is larger exact entitlement first, then position, with int64 and with integers past
    it alike."""
    if huge:  # past int64: the Python-integer path
        exact = [e * 10**20 + 1 for e in exact]
    approx = np.array([float(e) for e in exact]) * (1 + 1e-15)  # as a float product would
    rank = exact_rank(approx, exact)
    order = sorted(range(len(exact)), key=lambda j: (-exact[j], j))
    expected = np.empty(len(exact), dtype=np.int64)
    expected[order] = np.arange(len(exact))
    assert rank.tolist() == expected.tolist()


FACTORS = st.decimals(0, 1000, places=2, allow_nan=False).map(float) | st.sampled_from(
    [1.15, 0.85, 1.3, 87.5, 1e15, 123456789.012345, 0.1 + 0.2]
)


@EXAMPLES
@given(st.lists(st.tuples(FACTORS, FACTORS, FACTORS), min_size=1, max_size=20))
def test_exact_entitlements_are_the_products_of_the_decimals(
    rows: list[tuple[float, float, float]],
) -> None:
    """In int64 while the products fit, in Python integers past it (10^15 * 10^15 ...)."""
    weight, score, multiplier = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    got, exponent = exact_entitlements(weight, score, multiplier)
    expected = [decimal(w) * decimal(s) * decimal(m) for w, s, m in rows]
    assert [Fraction(v, 10**exponent) for v in got] == expected
    assert all(type(v) is int for v in got)
