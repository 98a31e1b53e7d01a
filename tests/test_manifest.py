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
    # MCPB's uv server type (0.4): the host brings uv and Python, and installs from uv.lock
    assert MANIFEST["manifest_version"] == "0.4"
    server = MANIFEST["server"]
    assert server["type"] == "uv"
    assert (ROOT / server["entry_point"]).is_file()
    config = server["mcp_config"]  # required by mcpb 2.1.2 for every type; a uv host keeps its args
    assert config["command"] == "uv"
    args = config["args"]
    assert args[0] == "run"  # valid for a host's own uv: `uv run ...`
    assert args[args.index("--directory") + 1] == "${__dirname}"
    assert {"--frozen", "--no-dev"} <= set(args)  # exactly the locked packages, no dev tools
    assert "${__dirname}/" + server["entry_point"] in args
    assert MANIFEST["compatibility"]["runtimes"]["python"] == project["requires-python"]
    assert "Requires uv" not in MANIFEST["long_description"]


def _fallback_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("mcpb_fallback", ROOT / ".ci" / "mcpb_fallback.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fallback_bundle_is_the_same_bundle_as_manifest_0_2(tmp_path: Path) -> None:
    """For hosts that refuse a 0.4 manifest: the same files, command and settings, `python` type."""
    dest = tmp_path / "fallback"
    _fallback_module().lay_out(dest)
    derived = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    assert derived["manifest_version"] == "0.2"
    assert derived["server"]["type"] == "python"
    assert "Requires uv" in derived["long_description"]
    same = {k: v for k, v in MANIFEST.items() if k not in ("manifest_version", "long_description")}
    assert {k: v for k, v in derived.items() if k in same} == {
        **same,
        "server": {**MANIFEST["server"], "type": "python"},
    }
    copied = ("pyproject.toml", "uv.lock", ".mcpbignore", "server/main.py", "skills/video-json-ai/SKILL.md")
    for name in copied:
        assert (dest / name).read_bytes() == (ROOT / name).read_bytes(), name
    assert not list(dest.rglob("__pycache__"))
    # the README says how to build it
    assert "python3 .ci/mcpb_fallback.py" in (ROOT / "README.md").read_text(encoding="utf-8")


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
    for entry in (".ci/", ".import_linter_cache/", ".mypy_cache/", ".ruff_cache/"):
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
