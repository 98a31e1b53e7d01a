"""The MCP surface: tools, resources and prompts, and every sentence the assistant reads.

Import from here; the submodules (`_name.py`) are private to the package.
"""

from __future__ import annotations

from ._context import AppState
from ._player import MEDIA_PREFIX, PLAYER_URI
from ._server import build_server
from ._store_words import fix as store_fix
from ._store_words import problem as store_problem

__all__ = ["MEDIA_PREFIX", "PLAYER_URI", "AppState", "build_server", "store_fix", "store_problem"]
