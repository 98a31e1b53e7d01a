"""Similar file names for a mistyped path, with bounded work.

A call may name many paths that do not exist, against media folders of thousands of files.
`Nearby` is the search for one call: folders are read only up to `SCAN_LIMIT` entries each, the
roots are scanned at most once per call (two levels deep, hidden names and symlinked folders
skipped) and the result reused, and only the first `SUGGESTED_PATHS` missing paths of the call
get suggestions (the rest are just "not found"), each at most `MAX_SUGGESTIONS` names. Only names
from the allowed folders are ever suggested. Runs in a worker thread (it reads the disk).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

SCAN_LIMIT = 5000  # entries read from the folders for one call
SUGGESTED_PATHS = 5  # missing paths per call that get suggestions
MAX_SUGGESTIONS = 5  # names suggested per path
NAME_LIMIT = 255  # longer than any file name: nothing can be similar, and difflib would be slow


def listdir(folder: Path, limit: int = SCAN_LIMIT) -> list[str]:
    """Up to `limit` visible names in `folder`, sorted; [] when it cannot be listed."""
    names: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if len(names) >= limit:
                    break
                if not entry.name.startswith("."):
                    names.append(entry.name)
    except OSError:
        return []
    return sorted(names)


class Nearby:
    """The similar-names search of one call; `allowed(folder)` says whether a folder may be listed."""

    def __init__(
        self,
        roots: Sequence[Path],
        allowed: Callable[[Path], bool],
        *,
        paths: int = SUGGESTED_PATHS,
        scan_limit: int = SCAN_LIMIT,
    ) -> None:
        self._roots = tuple(roots)
        self._allowed = allowed
        self._left = paths
        self._scan_limit = scan_limit
        self._in_roots: dict[str, Path] | None = None

    def _take(self, name: str) -> bool:
        if self._left <= 0 or not name or len(name) > NAME_LIMIT:
            return False
        self._left -= 1
        return True

    def around(self, path: Path) -> list[Path]:
        """Names close to `path`'s: from its folder if that one is allowed, else from the roots."""
        if not self._take(path.name):
            return []
        parent = Path(os.path.normpath(path.parent))
        if self._allowed(parent):
            names = listdir(parent, self._scan_limit)
            close = difflib.get_close_matches(path.name, names, n=MAX_SUGGESTIONS, cutoff=0.5)
            if close:
                return [parent / n for n in close]
        return self._match_roots(path.name)

    def in_roots(self, name: str) -> list[Path]:
        """Files in the roots with names close to `name` (for a relative path)."""
        return self._match_roots(name) if self._take(name) else []

    def _match_roots(self, name: str) -> list[Path]:
        candidates = self._scan()
        close = difflib.get_close_matches(name, list(candidates), n=MAX_SUGGESTIONS, cutoff=0.6)
        return [candidates[c] for c in close]

    def _scan(self) -> dict[str, Path]:
        """Files in the roots (two levels deep), read once per call, at most `scan_limit` entries."""
        if self._in_roots is not None:
            return self._in_roots
        candidates: dict[str, Path] = {}
        budget = self._scan_limit
        queue = [(root, 2) for root in self._roots]
        while queue and budget > 0:
            folder, depth = queue.pop(0)
            for n in listdir(folder, budget):
                budget -= 1
                entry = folder / n
                if entry.is_file():
                    candidates.setdefault(n, entry)
                elif depth > 1 and entry.is_dir() and not entry.is_symlink():  # never list outside
                    queue.append((entry, depth - 1))
        self._in_roots = candidates
        return candidates
