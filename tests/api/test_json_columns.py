"""The service's JSON codec (:mod:`api.json_codec`): orjson where it is exact, the
standard library where it is not; either way a value reads back as the standard library
would read it back."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.json_codec import json_text, json_value

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(_VALUES)
def test_a_value_reads_back_as_the_standard_library_reads_it(value: Any) -> None:
    assert json_value(json_text(value)) == json.loads(json.dumps(value))


def test_integers_beyond_64_bits_stay_exact() -> None:
    amount = 8_347_135_467_300_000_000_000  # won: more than orjson's 64 bits
    back = json_value(json_text({"amount": amount, "units": [2**64, -(2**63) - 1]}))
    assert back == {"amount": amount, "units": [2**64, -(2**63) - 1]}
    assert type(back["amount"]) is int


def test_a_number_is_not_json_text() -> None:
    """SQLite returns a JSON column holding a bare number as that number; SQLAlchemy keeps
    it when the codec raises TypeError, as the standard library does."""
    with pytest.raises(TypeError):
        json_value(1100)  # type: ignore[arg-type]


def test_nan_is_stored_as_null_and_keys_as_text() -> None:
    assert json_value(json_text({"gini": math.nan, 1: "a"})) == {"gini": None, "1": "a"}
    assert json_value(json_text("부산")) == "부산"
