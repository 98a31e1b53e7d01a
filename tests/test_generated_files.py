"""The JSON files `save_generated` writes (`service._generated.write_json`): pretty UTF-8, never
over another file, nothing left behind, and written on file systems without hard links too (FAT,
exFAT and some network shares, where an output folder on a USB drive may live)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from nemo_video_mcp.service._generated import write_json


def test_pretty_utf8_json_never_over_another_file(tmp_path: Path) -> None:
    (tmp_path / "s_analysis.json").write_text("keep me")
    path = write_json(tmp_path, "s_analysis.json", '{"objects": ["café", "car"]}')
    assert path.name == "s_analysis (1).json"
    assert json.loads(path.read_text("utf-8")) == {"objects": ["café", "car"]}
    assert "café" in path.read_text("utf-8")  # not escaped
    assert (tmp_path / "s_analysis.json").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s_analysis (1).json", "s_analysis.json"]


def test_a_file_system_without_hard_links_still_gets_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(_src: object, _dst: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "s_data.json").write_text("keep me")
    path = write_json(tmp_path, "s_data.json", {"n": 1})
    assert json.loads(path.read_text("utf-8")) == {"n": 1}
    assert (tmp_path / "s_data.json").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s_data (1).json", "s_data.json"]
