"""The one YAML loader for files users write: playbooks and ``business.yaml`` (pure).

``yaml.SafeLoader`` builds no arbitrary objects, but it still follows aliases:
nine anchors of nine aliases each (a "billion laughs") are a few hundred bytes
that every walk over the tree, the schema's included, sees as 10^9 values, and
a self-referencing alias never ends. Neither file needs them, so anchors and
aliases are refused where they are written, as is nesting deeper than any
playbook goes (the composer recurses per level). A duplicate key is refused
too: YAML lets the last one win, so a second ``steps:`` silently dropped the
first list.

Errors are ``yaml.MarkedYAMLError`` like PyYAML's own; :func:`describe` turns
any of them into the line and message of a ``file:line: message`` report.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 32
_MERGE_TAG = "tag:yaml.org,2002:merge"


class RefusedYAMLError(yaml.MarkedYAMLError):
    """Well-formed YAML this loader does not accept (aliases, duplicate keys, deep nesting)."""


def _refused(problem: str, where: Any) -> RefusedYAMLError:
    return RefusedYAMLError(problem=problem, problem_mark=where.start_mark)


class StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` without anchors, aliases or duplicate keys, and with bounded nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise _refused(f"aliases (*{event.anchor}) are not allowed: write the value out", event)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _refused(f"anchors (&{anchor}) are not allowed: write the value out", event)
        if self._depth >= MAX_DEPTH:
            raise _refused(f"nested deeper than {MAX_DEPTH} levels", event)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue  # SafeLoader itself refuses unhashable keys
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise _refused(f"duplicate key {key!r} (first on line {first_line[key]})", key_node)
            first_line[key] = line
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def load(text: str) -> tuple[yaml.Node | None, Any]:
    """The composed node tree (for line numbers) and the data, from one parse."""
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, data


def describe(exc: yaml.YAMLError) -> tuple[int, str]:
    """The 1-based line and the message of a loading error."""
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else 1
    problem = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, RefusedYAMLError):
        return line, problem
    return line, f"malformed YAML: {problem}"
