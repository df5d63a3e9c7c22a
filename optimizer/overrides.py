"""``path=value`` overrides of scenario data, applied before validation.

The CLI's ``--set`` and the service's ``overrides`` use the same syntax:

* a path is field names joined by dots, with ``[n]`` for the n-th item of a list (from 0)
  and ``[some-id]`` for the list item whose ``id`` is ``some-id`` (recipients); an id that
  looks like a number is written ``[id=2024]`` (``[011]``, with a leading zero, is an id);
* ``[n]`` one past the end of a list appends an item;
* the value is read as YAML (``1000``, ``0.3``, ``hamilton``, ``{type: grade_order}``), with
  the same rules as scenario files; an empty value is ``null`` (e.g. ``cap=`` removes a cap);
* missing mappings on the way are created (``solver.backend=cbc`` works without a solver
  block).

>>> data = {"budget": 100, "recipients": [{"id": "a", "score": 1}], "rules": []}
>>> out = apply_overrides(data, ["budget=1200", "recipients[a].floor=5", "rules[0]={type: x}"])
>>> out["budget"], out["recipients"][0]["floor"], out["rules"]
(1200, 5, [{'type': 'x'}])
>>> data["budget"]  # the input is never changed
100

A bad path raises :class:`~optimizer.errors.InputError` at that path; the result is not
validated here (call :func:`optimizer.loading.validate_data` afterwards).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optimizer.errors import InputError, Problem
from optimizer.loading import parse_value

__all__ = ["FIXED_FIELDS", "Selector", "apply_overrides", "parse_assignment", "parse_path"]

FIXED_FIELDS = {
    "extends": "cannot be overridden: a scenario's parent is read before overrides apply "
    "(edit the scenario, or store a variant that extends another)",
}
"""Fields an override may not set, and why."""

_KEY = re.compile(r"[^.\[\]=\s][^.\[\]=]*")
_INDEX = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True)
class Selector:
    """``[some-id]`` or ``[id=some-id]``: the item of a list whose ``id`` equals ``value``."""

    value: str


Token = str | int | Selector


def parse_path(path: str) -> tuple[Token, ...]:
    """``rules[0].min_share`` -> ``('rules', 0, 'min_share')``; ``recipients[busan]`` ->
    ``('recipients', Selector('busan'))``. Raises ``ValueError`` on a malformed path."""
    text = path.strip()
    tokens: list[Token] = []
    pos = 0
    expect_key = True
    while pos < len(text):
        if expect_key:
            match = _KEY.match(text, pos)
            if match is None:
                raise ValueError("expected a field name")
            tokens.append(match.group().strip())
            pos = match.end()
            expect_key = False
            continue
        if text[pos] == ".":
            pos += 1
            expect_key = True
            continue
        match = _INDEX.match(text, pos)
        if match is None:
            raise ValueError(f"unexpected {text[pos]!r} at position {pos + 1}")
        inner = match.group(1).strip()
        if not inner:
            raise ValueError("empty [] (use [0], [1], ... or [an-id])")
        if inner.startswith("id="):
            tokens.append(Selector(inner[3:].strip()))
        elif inner.isdigit() and (inner == "0" or not inner.startswith("0")):
            tokens.append(int(inner))
        else:
            tokens.append(Selector(inner))
        pos = match.end()
    if expect_key:
        raise ValueError("expected a field name" if tokens else "empty path")
    return tuple(tokens)


def parse_assignment(assignment: str) -> tuple[str, tuple[Token, ...], str]:
    """``'a.b[2]=value'`` -> ``('a.b[2]', tokens, 'value')``; ``ValueError`` when malformed."""
    path, sep, value = assignment.partition("=")
    if not sep:
        raise ValueError("expected path=value (e.g. budget=1000 or rules[0].min_share=0.3)")
    return path.strip(), parse_path(path), value.strip()


def apply_overrides(
    data: Mapping[str, Any], assignments: Sequence[str], *, label: str = "overrides"
) -> dict[str, Any]:
    """A copy of ``data`` with every ``path=value`` assignment applied, in order.

    All problems are reported at once: a malformed assignment at ``label[i]``, a path that
    does not lead anywhere at that path."""
    out: dict[str, Any] = copy.deepcopy(dict(data))
    problems: list[Problem] = []
    for index, assignment in enumerate(assignments):
        try:
            shown, tokens, text = parse_assignment(assignment)
        except ValueError as exc:
            problems.append(Problem(f"{label}[{index}]", f"{assignment!r}: {exc}"))
            continue
        if tokens[0] in FIXED_FIELDS:
            problems.append(Problem(shown, FIXED_FIELDS[str(tokens[0])]))
            continue
        try:
            value = parse_value(text, where=shown)
            _assign(out, tokens, value)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return out


def _shown(tokens: Sequence[Token]) -> str:
    out = ""
    for token in tokens:
        if isinstance(token, int):
            out += f"[{token}]"
        elif isinstance(token, Selector):
            out += f"[{token.value}]"
        else:
            out += f".{token}" if out else token
    return out


def _kind(node: Any) -> str:
    if node is None:
        return "null"
    if isinstance(node, bool):
        return "a boolean"
    if isinstance(node, int | float):
        return "a number"
    if isinstance(node, str):
        return "text"
    return type(node).__name__


def _position(node: list[Any], token: int | Selector, where: str, *, final: bool) -> int:
    if isinstance(token, Selector):
        for i, item in enumerate(node):
            if isinstance(item, Mapping) and str(item.get("id")) == token.value:
                return i
        raise InputError([Problem(where, f"no item with id {token.value!r}")])
    limit = len(node) if final else len(node) - 1
    if token > limit:
        span = f"0 to {len(node) - 1}" if node else "none yet"
        hint = f"; [{len(node)}] appends" if final else ""
        raise InputError([Problem(where, f"index out of range (items: {span}{hint})")])
    return token


def _assign(root: dict[str, Any], tokens: tuple[Token, ...], value: Any) -> None:
    node: Any = root
    for depth, token in enumerate(tokens):
        where = _shown(tokens[: depth + 1])
        final = depth == len(tokens) - 1
        following = None if final else tokens[depth + 1]
        if isinstance(token, str):
            if not isinstance(node, dict):
                raise InputError(
                    [Problem(_shown(tokens[:depth]), f"is {_kind(node)}, not a mapping of fields")]
                )
            if final:
                node[token] = value
                return
            if token not in node or node[token] is None:
                node[token] = {} if isinstance(following, str) else []
            node = node[token]
            continue
        if not isinstance(node, list):
            raise InputError([Problem(_shown(tokens[:depth]), f"is {_kind(node)}, not a list")])
        position = _position(node, token, where, final=final)
        if final:
            if position == len(node):
                node.append(value)
            else:
                node[position] = value
            return
        node = node[position]
