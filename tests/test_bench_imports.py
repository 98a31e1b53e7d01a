"""The bench imports some of the server's modules lazily (inside the function it times): a module
renamed or moved would only show when someone runs `python -m bench`. Every module the bench names
must exist, with every name it imports from it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _imports() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(BENCH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nemo_video_mcp"):
                found += [(path.name, node.module or "", alias.name) for alias in node.names]
    return found


def test_every_server_module_the_bench_imports_exists() -> None:
    imports = _imports()
    assert any(where == "gui_talk.py" for where, _, _ in imports)  # the lazy ones are seen too
    missing = []
    for where, module, name in imports:
        try:
            loaded = importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"{where}: {module} ({exc})")
            continue
        if not hasattr(loaded, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{where}: {module}.{name}")
    assert not missing, missing
