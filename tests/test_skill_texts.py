"""The skill texts (skills/<slug>/SKILL.md, served to hosts as resources and prompts) name the
server's tools: every tool they call exists, and their compatibility line lists every tool the
server has, so a renamed or added tool cannot leave a skill telling the assistant something false."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from support_common import connect, settings_for

pytestmark = pytest.mark.anyio

SKILLS = sorted((Path(__file__).resolve().parent.parent / "skills").glob("*/SKILL.md"))


async def test_skills_name_only_tools_that_exist_and_list_them_all(tmp_path: Path) -> None:
    async with connect(settings_for("http://127.0.0.1:1", tmp_path)) as c:
        served = {t.name for t in (await c.list_tools()).tools}
    assert len(SKILLS) == 3
    for path in SKILLS:
        text = path.read_text(encoding="utf-8")
        front = yaml.safe_load(text.split("---")[1])
        listed = set(re.search(r"\(tools ([^)]*)\)", front["compatibility"]).group(1).split(", "))
        assert listed == served, (path.parent.name, listed ^ served)
        called = set(re.findall(r"`([a-z_]+)\(", text))
        assert called, path
        assert called <= served, (path.parent.name, called - served)
        assert "prepare_media" in text  # the way past the 500 MB limit
        assert "needs_answer" in text  # NemoVideo's questions go to the user
