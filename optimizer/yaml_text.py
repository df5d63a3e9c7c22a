"""YAML as Allot reads scenario files: a :class:`yaml.SafeLoader` subclass that resolves
plain scalars by the YAML 1.2 core schema, so ``no``/``yes``/``on``/``off`` stay text (ids
and tags), ``011`` is eleven rather than octal nine, dates stay text and ``1e6`` is a
number; duplicate keys are errors, and alias expansion is bounded.

Its own module so that PyYAML loads only when a YAML text is read: importing it takes
0.011 s, which JSON and Parquet runs no longer pay.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError

MAX_YAML_NODES = 2_000_000
"""Largest YAML document after expanding aliases, in nodes (guards against alias bombs)."""


class YamlProblem(Exception):
    """What is wrong with a YAML text, in the words the loader reports after its name."""


_YAML_TAG = "tag:yaml.org,2002:"
_CORE_REPLACED = {_YAML_TAG + t for t in ("bool", "int", "float", "timestamp", "value")}


class _DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping names the same key twice (PyYAML would silently keep the last)."""


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader with YAML 1.2 core-schema scalars and duplicate-key errors; parsed by
    libyaml where PyYAML has it (about ten times faster than the pure-Python parser)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == _YAML_TAG + "merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node)
            if key in seen:
                raise _DuplicateKeyError(
                    f"first at line {seen[key].line + 1}",
                    seen[key],
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    base = 10
    if digits[:2].lower() == "0o":
        base, digits = 8, digits[2:]
    elif digits[:2].lower() == "0x":
        base, digits = 16, digits[2:]
    try:
        return sign * int(digits, base)
    except ValueError:
        raise ConstructorError(
            None, None, f"not a valid integer: {_short(text)}", node.start_mark
        ) from None


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    try:
        return loader.construct_yaml_float(node)
    except ValueError:
        raise ConstructorError(
            None,
            None,
            f"not a valid number: {_short(loader.construct_scalar(node))}",
            node.start_mark,
        ) from None


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _CORE_REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _YAML_TAG + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    _YAML_TAG + "int",
    re.compile(r"^(?:[-+]?[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    _YAML_TAG + "float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
_Loader.add_constructor(_YAML_TAG + "int", _construct_int)
_Loader.add_constructor(_YAML_TAG + "float", _construct_float)


def _short(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


class _AliasBomb(Exception):
    def __init__(self, reason: str, node: yaml.Node) -> None:
        super().__init__(reason)
        self.reason = reason
        self.node = node


def _check_expansion(root: yaml.Node) -> None:
    """Reject recursive aliases and documents that expand to more than MAX_YAML_NODES."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _AliasBomb("an alias refers to a node that contains it", node)
        active.add(key)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        total = 1 + sum(size(child) for child in children)
        if total > MAX_YAML_NODES:
            raise _AliasBomb(
                f"the document expands to more than {MAX_YAML_NODES} values (aliases)", node
            )
        active.discard(key)
        sizes[key] = total
        return total

    size(root)


def read_yaml(text: str) -> Any:
    """The one document in ``text``, or :class:`YamlProblem` with what is wrong (as the
    loader words it, after the file's name). Aliases are expanded but still shared."""
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            raise YamlProblem("file is empty")
        _check_expansion(node)
        return loader.construct_document(node)
    except YamlProblem:
        raise
    except _DuplicateKeyError as exc:
        mark = exc.problem_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise YamlProblem(f"{exc.problem}{at} ({exc.context})") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"malformed YAML{_yaml_reason(exc)}") from None
    except _AliasBomb as exc:
        mark = exc.node.start_mark
        raise YamlProblem(f"{exc.reason} (line {mark.line + 1})") from None
    except RecursionError:
        raise YamlProblem("nested too deeply") from None
    except Exception as exc:  # PyYAML's constructors raise plain errors on some explicit tags
        raise YamlProblem(f"malformed YAML: a tagged value cannot be read ({exc})") from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_reason(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or "cannot be read"
        if problem.startswith("but found another document"):
            return f" at line {mark.line + 1}: a second document (one scenario per file)"
        reason = f" at line {mark.line + 1}, column {mark.column + 1}: {problem}"
        if exc.context:
            reason += f" ({exc.context}"
            if exc.context_mark is not None:
                start = exc.context_mark
                reason += f" started at line {start.line + 1}, column {start.column + 1}"
            reason += ")"
        if "'\\t'" in str(exc.problem) or "tab character" in str(exc.problem):
            reason += "; YAML does not allow tabs for indentation, use spaces"
        return reason
    if isinstance(exc, yaml.reader.ReaderError):
        return f": character #x{exc.character:04x} is not allowed (at offset {exc.position})"
    return ": " + " ".join(str(exc).split())
