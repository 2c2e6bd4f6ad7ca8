"""The pure core stays pure: importing it loads no database, web, CLI or channel code."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import engine.core

REPO = Path(__file__).resolve().parents[2]
# What the core must never pull in, directly or through another module.
FORBIDDEN = ("sqlalchemy", "fastapi", "starlette", "click", "engine.store", "engine.channels", "engine.web")


def test_the_core_imports_no_database_web_cli_or_channel() -> None:
    modules = sorted(f"engine.core.{m.name}" for m in pkgutil.iter_modules(engine.core.__path__))
    assert "engine.core.planner" in modules and "engine.core.timing" in modules
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r} "
        f"or any(m == f or m.startswith(f + '.') for f in {FORBIDDEN!r}))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == []


def test_every_module_sits_in_a_package_that_names_its_layer() -> None:
    top = sorted(p.stem for p in (REPO / "engine").glob("*.py"))
    # The composition root and what every layer shares; everything else lives in a layer.
    assert top == ["__init__", "__main__", "environment", "exceptions", "logs", "runtime", "settings"]
