"""What a report needs of each playbook (its promise and its steps' ids), read without the schema.

Validating a playbook (``engine.core.playbooks``) loads pydantic, several times
the start-up budget of a command that only reads. The outline reads the few
keys it needs from the YAML, loaded as every playbook is (``safe_yaml``), and
defines nothing: a file where those keys are not plainly there (a promise the
caller does not know, steps that are not a list of ids, an id that is not the
file's name, a duplicate step) is loaded by the full loader, which either
validates it or says what is wrong, as ``forvent lint`` does. A mistake
elsewhere in a playbook does not stop a read.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: A playbook id, which is also its file's stem; at most 100 characters, as the API's field.
PLAYBOOK_ID = re.compile(r"^[a-z][a-z0-9_]{0,99}$")


def playbook_ids(directory: Path) -> list[str]:
    """The ids of the directory's playbooks."""
    if not directory.is_dir():
        return []
    # A file whose stem cannot be an id is lint's to report; listing it would fail every caller.
    return sorted(p.stem for p in directory.glob("*.yaml") if PLAYBOOK_ID.fullmatch(p.stem))


@dataclass(frozen=True)
class Outline:
    promise: str
    step_ids: tuple[str, ...]


def _plain(data: Any, playbook_id: str, promises: Collection[str]) -> Outline | None:
    if not isinstance(data, dict) or data.get("playbook") != playbook_id:
        return None
    promise, steps = data.get("promise"), data.get("steps")
    if not isinstance(promise, str) or promise not in promises or not isinstance(steps, list):
        return None
    ids = [step.get("id") if isinstance(step, dict) else None for step in steps]
    plain = [i for i in ids if isinstance(i, str)]
    if len(plain) != len(ids) or len(set(plain)) != len(plain):
        return None
    return Outline(promise=promise, step_ids=tuple(plain))


def outline(path: Path, promises: Collection[str]) -> Outline:
    """The playbook's promise (one of ``promises``) and step ids; a playbook error if not plain."""
    import yaml

    from engine.core import safe_yaml

    try:
        _, data = safe_yaml.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    found = _plain(data, path.stem, promises)
    if found is not None:
        return found
    from engine.core.playbooks import load_playbook

    playbook = load_playbook(path).playbook
    return Outline(promise=playbook.promise, step_ids=tuple(step.id for step in playbook.steps))


def outlines(directory: Path, promises: Collection[str]) -> dict[str, Outline]:
    """Each playbook's outline, by id."""
    return {pid: outline(directory / f"{pid}.yaml", promises) for pid in playbook_ids(directory)}
