"""Download names: a render's file never lands outside the output folder, never overwrites one,
and never hides its real extension."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_video_mcp.service._paths import safe_filename, unique_path


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("holiday.mp4", "holiday.mp4"),
        ("../../.ssh/authorized_keys", "_.._.ssh_authorized_keys"),
        ("..\\..\\evil.mp4", "_.._evil.mp4"),
        (".bashrc", "bashrc"),
        ("...mp4", "mp4"),
        ("a\x00b\nc\td.mp4", "a_b_c_d.mp4"),
        ("clip\u202e4pm.exe", "clip4pm.exe"),  # a bidi override would show it as clipexe.mp4
        ("clip\x85name.mp4", "clipname.mp4"),  # C1 control
        ('what?<>:"|*.mov', "what_.mov"),
        ("  spaced  .mp4", "spaced.mp4"),
        ("Café ☕ edit.mp4", "Café ☕ edit.mp4"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name, "export.mp4") == expected


@pytest.mark.parametrize("name", ["", "...", "/", "\u202e", "  "])
def test_nothing_usable_gives_the_default(name: str) -> None:
    assert safe_filename(name, "nemovideo-export.mp4") == "nemovideo-export.mp4"


def test_long_names_are_cut_to_120_characters_keeping_the_extension() -> None:
    cut = safe_filename("x" * 300 + ".webm", "d.mp4")
    assert len(cut) == 120
    assert cut.endswith(".webm")
    assert safe_filename("剪" * 200 + ".mp4", "d.mp4").endswith(".mp4")


def test_unique_path_never_reuses_a_taken_name(tmp_path: Path) -> None:
    first = unique_path(tmp_path, "render.mp4")
    assert first == tmp_path / "render.mp4"
    first.write_bytes(b"one")
    second = unique_path(tmp_path, "render.mp4")
    assert second == tmp_path / "render (1).mp4"
    second.write_bytes(b"two")
    (tmp_path / "render (2).mp4.part").write_bytes(b"")  # a download in progress holds its name
    assert unique_path(tmp_path, "render.mp4") == tmp_path / "render (3).mp4"
    assert first.read_bytes() == b"one"


def test_unique_path_sanitises_and_accepts_a_full_path(tmp_path: Path) -> None:
    assert unique_path(tmp_path, "../escape.mp4").parent == tmp_path
    (tmp_path / "x.mp4").write_bytes(b"")
    assert unique_path(tmp_path / "x.mp4") == tmp_path / "x (1).mp4"
