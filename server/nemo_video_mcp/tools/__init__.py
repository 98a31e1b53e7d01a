"""The MCP surface: tools, resources and prompts, and every sentence the assistant reads.

Import from here; the submodules (`_name.py`) are private to the package.
"""

from __future__ import annotations

from ._context import AppState
from ._server import build_server

__all__ = ["AppState", "build_server"]
