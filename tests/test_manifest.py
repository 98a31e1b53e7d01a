"""manifest.json (MCPB bundle for Claude Desktop) stays in step with the server and the project."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import anyio
import pytest

from nemo_video_mcp.settings import SKILLS, Settings

ROOT = Path(__file__).resolve().parents[1]
MANIFEST: dict[str, Any] = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], set[str]]:
    from nemo_video_mcp.app import create_server

    tmp = tmp_path_factory.mktemp("manifest")
    settings = Settings.from_env({"NEMO_STATE_DIR": str(tmp / "state"), "NEMO_OUTPUT_DIR": str(tmp / "out")})
    server = create_server(settings)

    async def names() -> tuple[set[str], set[str]]:
        tools = {t.name for t in await server.list_tools()}
        prompts = {p.name for p in await server.list_prompts()}
        return tools, prompts

    return anyio.run(names)


def test_tools_match_the_server(registered: tuple[set[str], set[str]]) -> None:
    assert {t["name"] for t in MANIFEST["tools"]} == registered[0]


def test_prompts_match_the_server(registered: tuple[set[str], set[str]]) -> None:
    assert {p["name"] for p in MANIFEST["prompts"]} == registered[1]
    assert len(MANIFEST["prompts"]) == len(SKILLS)


def test_version_and_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert MANIFEST["version"] == project["version"]
    assert MANIFEST["manifest_version"] == "0.2"
    server = MANIFEST["server"]
    assert server["type"] == "python"
    assert (ROOT / server["entry_point"]).is_file()
    assert "${__dirname}/" + server["entry_point"] in server["mcp_config"]["args"]


def test_user_config() -> None:
    config = MANIFEST["user_config"]
    assert config["nemo_token"]["sensitive"] is True
    assert config["nemo_token"]["required"] is False
    assert config["media_roots"]["type"] == "directory"
    assert config["output_dir"]["type"] == "directory"
    for slug in SKILLS:
        assert slug in config["default_skill"]["description"]
    assert config["default_skill"]["default"] in SKILLS
    # every user_config value reaches the server, and every reference is declared
    text = json.dumps(MANIFEST["server"]["mcp_config"])
    for key in config:
        assert "${user_config." + key + "}" in text
    env = MANIFEST["server"]["mcp_config"]["env"]
    assert env == {"NEMO_TOKEN": "${user_config.nemo_token}", "NEMO_SKILL": "${user_config.default_skill}"}


def test_bundle_ignores_dev_files() -> None:
    ignored = (ROOT / ".mcpbignore").read_text(encoding="utf-8").split()
    for entry in (".venv/", "tests/", "bench/", ".git/", "__pycache__/", ".pytest_cache/", ".hypothesis/"):
        assert entry in ignored


def test_main_py_runs_the_cli(tmp_path: Path) -> None:
    """server/main.py (the bundle's entry point) answers like the console script."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, str(ROOT / "server" / "main.py"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    assert proc.stdout.startswith("nemo-video-mcp ")
