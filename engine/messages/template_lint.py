"""What ``forvent lint`` finds in one template's source, before any render (pure).

Syntax errors and unknown filters, the blocks an email or invite template
must have, variables and attributes no booking provides, facts the playbook
does not declare, and constructs the sandbox would refuse at run time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Final

from jinja2 import TemplateSyntaxError, meta, nodes

from engine.core.sandbox import BoundedEnvironment
from engine.messages.renderer import LAYOUT_BLOCKS, OPTIONAL_BLOCKS, REQUIRED_BLOCKS, template_environment


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


#: What templates can read (docs/templates.md, built by engine/core/context.py). ``now``
#: is a datetime and ``event.data`` depends on the event, so neither is listed.
CONTEXT_ATTRIBUTES: Final[Mapping[str, frozenset[str]]] = {
    "customer": _names("name first_name phone email locale marketing_ok"),
    "booking": _names(
        "ref playbook title start end promised_start promised_end timezone location status"
        " confirmed delay_minutes delay_reason facts findings final_price pickup_at choices"
        " score eta"
    ),
    "business": _names(
        "name phone email address website review_url currency sms_sender sms_two_way"
        " timezone country prices_include_vat logo_url"
    ),
    "links": _names("page invite review unsubscribe reschedule book_next"),
    "step": _names("id channel"),
    "event": _names("name at data"),
}
CONTEXT_NAMES: Final = frozenset({*CONTEXT_ATTRIBUTES, "now"})
# ``booking.facts`` is a dict: these read it without naming a fact.
_DICT_READERS: Final = frozenset({"get", "items", "keys", "values"})
# Filters whose argument names an attribute to read from each item.
_ATTRIBUTE_FILTERS: Final = frozenset({"selectattr", "rejectattr", "groupby"})


@cache
def _lint_environment() -> BoundedEnvironment:
    return template_environment(None)


def check_template_source(
    path: Path, source: str, *, declared_facts: set[str], kind: str
) -> list[tuple[int, str]]:
    """Problems of one template as ``(line, message)``, sorted by line.

    Reports syntax errors and unknown filters (alone: nothing else can be
    checked then), missing or unknown blocks of an email or invite template,
    variables no booking provides, facts the playbook does not declare,
    unknown attributes of the context, and unsafe constructs: any name or
    attribute starting with ``_`` and the ``attr`` filter.
    """
    env = _lint_environment()
    try:
        tree = env.parse(source, filename=str(path))
        # From the source: compiling rewrites the tree it is given, and the checks
        # below read the template as written.
        env.compile(source, filename=str(path))  # unknown filters and tests fail here
    except TemplateSyntaxError as exc:
        return [(exc.lineno, f"template syntax error: {exc.message}")]
    problems = [
        *_block_problems(tree, kind),
        *_name_problems(tree),
        *_attribute_problems(tree, declared_facts),
        *_unsafe_problems(tree),
    ]
    return sorted(dict.fromkeys(problems), key=lambda problem: problem[0])


def _block_problems(tree: nodes.Template, kind: str) -> Iterator[tuple[int, str]]:
    required = REQUIRED_BLOCKS.get(kind)
    if required is None:
        return
    found = {block.name: block.lineno for block in tree.find_all(nodes.Block)}
    needed = " and ".join(required)
    for block in required:
        if block not in found:
            yield 1, f"missing {{% block {block} %}} ({kind} templates need {needed})"
    known = sorted({*required, *OPTIONAL_BLOCKS[kind]})
    # A template that extends the email layout may also fill the layout's blocks.
    filled = LAYOUT_BLOCKS if kind == "email" and tree.find(nodes.Extends) is not None else ()
    for block, line in found.items():
        if block not in known and block not in filled:
            yield line, f"unknown block {block!r} ({kind} templates have {', '.join(known)})"


def _name_problems(tree: nodes.Template) -> Iterator[tuple[int, str]]:
    unknown = meta.find_undeclared_variables(tree) - CONTEXT_NAMES
    for node in tree.find_all(nodes.Name):
        if node.name in unknown and not node.name.startswith("_"):
            unknown.discard(node.name)  # once, at its first use
            names = ", ".join(sorted(CONTEXT_NAMES))
            yield node.lineno, f"unknown variable {node.name!r} (templates get {names})"


def _path(node: nodes.Node) -> tuple[str, ...] | None:
    """``("booking", "facts", "x")`` for ``booking.facts.x`` or ``booking["facts"]["x"]``."""
    parts: list[str] = []
    while not isinstance(node, nodes.Name):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node, nodes.Getitem) and _text(node.arg) is not None:
            parts.append(str(_text(node.arg)))
        else:
            return None
        node = node.node
    return (node.name, *reversed(parts))


def _text(node: nodes.Node) -> str | None:
    return node.value if isinstance(node, nodes.Const) and isinstance(node.value, str) else None


def _attribute_problems(tree: nodes.Template, facts: set[str]) -> Iterator[tuple[int, str]]:
    known_facts = facts | _DICT_READERS
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        path = _path(node)
        if path is None or any(part.startswith("_") for part in path):
            continue  # unsafe names are reported once, by _unsafe_problems
        if len(path) == 2 and path[0] in CONTEXT_ATTRIBUTES:
            root, attr = path
            if attr not in CONTEXT_ATTRIBUTES[root]:
                known = ", ".join(sorted(CONTEXT_ATTRIBUTES[root]))
                yield node.lineno, f"unknown attribute {root}.{attr} ({root} has {known})"
        elif path[:2] == ("booking", "facts") and len(path) == 3 and path[2] not in known_facts:
            declared = ", ".join(sorted(facts)) or "none"
            message = f"booking.facts.{path[2]} is not declared in the playbook's facts"
            yield node.lineno, f"{message} (declared: {declared})"


def _unsafe_problems(tree: nodes.Template) -> Iterator[tuple[int, str]]:
    rule = "names starting with '_' are not allowed"
    for node in tree.find_all((nodes.Name, nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Name) and node.name.startswith("_"):
            yield node.lineno, f"unsafe template construct: variable {node.name!r} ({rule})"
        elif isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            yield node.lineno, f"unsafe template construct: attribute {node.attr!r} ({rule})"
        elif isinstance(node, nodes.Getitem) and (_text(node.arg) or "x").startswith("_"):
            yield node.lineno, f"unsafe template construct: item {_text(node.arg)!r} ({rule})"
        elif isinstance(node, nodes.Filter):
            yield from _unsafe_filter(node, rule)


def _unsafe_filter(node: nodes.Filter, rule: str) -> Iterator[tuple[int, str]]:
    if node.name == "attr":
        yield node.lineno, "unsafe template construct: the attr filter"
        return
    named = [kw.value for kw in node.kwargs if kw.key == "attribute"]
    positional = node.args[:1] if node.name in _ATTRIBUTE_FILTERS else []
    for arg in (*named, *positional):
        if (_text(arg) or "x").startswith("_"):
            yield node.lineno, f"unsafe template construct: attribute {_text(arg)!r} in {node.name} ({rule})"
