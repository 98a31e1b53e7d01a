"""The three layers import one way only (docs/ARCHITECTURE.md). Checked on the source text, so
a lazy import inside a function counts as much as one at the top of a module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "server" / "nemo_video_mcp"

# package folder -> module name prefixes it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "backend": ("mcp", "nemo_video_mcp.service", "nemo_video_mcp.tools", "nemo_video_mcp.app"),
    "service": ("mcp", "httpx", "httpx2", "nemo_video_mcp.tools", "nemo_video_mcp.app"),
    "tools": ("httpx", "httpx2", "nemo_video_mcp.app"),
    "emulator": ("nemo_video_mcp",),
}
# the MCP layer may use the backend's public surface only, never its private modules
TOOLS_BACKEND_PRIVATE = "nemo_video_mcp.backend."


def _imports(path: Path) -> list[str]:
    """Absolute names imported by a module (relative imports resolved against its package)."""
    package = ".".join(path.relative_to(PKG.parent).with_suffix("").parts[:-1])
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.append(module)
    return names


def _modules(folder: str) -> list[Path]:
    return sorted((PKG / folder).rglob("*.py"))


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_layer_never_imports_what_it_must_not(folder: str) -> None:
    modules = _modules(folder)
    assert modules, f"no modules found in {folder}/"
    offenders = [
        f"{path.relative_to(PKG)} imports {name}"
        for path in modules
        for name in _imports(path)
        for banned in FORBIDDEN[folder]
        if (name == banned or name.startswith(banned + "."))
        and not name.startswith(f"nemo_video_mcp.{folder}")  # a layer may import itself
    ]
    assert offenders == []


def test_tools_use_only_the_public_backend_surface() -> None:
    offenders = [
        f"{path.relative_to(PKG)} imports {name}"
        for path in _modules("tools")
        for name in _imports(path)
        if name.startswith(TOOLS_BACKEND_PRIVATE)
    ]
    assert offenders == []


def test_relative_imports_are_resolved() -> None:
    # guards the checker itself: a relative import in backend/ resolves into the package
    names = _imports(PKG / "backend" / "errors.py")
    assert "__future__" in names
