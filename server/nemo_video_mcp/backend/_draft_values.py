"""Tolerant readers of draft values (wrong types read as missing), shared by `_draft.py` (the
model) and `_draft_diff.py` (the changes). Pure; the wording of times, spans, volumes and quoted
labels is in `tools/_timeline_words.py`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

MAX_MS = 2**53


def number(v: Any) -> int | float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return None
    return v if isinstance(v, float) and math.isfinite(v) else None


def ms(v: Any) -> int | None:
    n = number(v)
    return None if n is None else min(max(0, round(n)), MAX_MS)


def as_dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def text_of(v: Any) -> str | None:
    if isinstance(v, str):
        return v.strip() or None
    n = number(v)
    return None if n is None else str(v)


def first(d: dict[str, Any], keys: Sequence[str], conv: Callable[[Any], Any]) -> Any:
    for key in keys:
        value = conv(d.get(key))
        if value is not None:
            return value
    return None


def volume(v: Any) -> float | None:
    n = number(v)
    if n is None or n < 0:
        return None
    return float(min(n, 10_000) / 100 if n > 1 else n)


def same(a: Any, b: Any) -> bool:
    """`a == b`, False when the comparison cannot finish (a value nested too deep)."""
    try:
        return bool(a == b)
    except RecursionError:
        return False
