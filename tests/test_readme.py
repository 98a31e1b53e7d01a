"""The README stays true: first commands, tools table, configuration table, CI's test command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import pytest

from nemo_video_mcp.settings import ENV_VARS, Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _table(heading: str) -> list[list[str]]:
    """Rows (cells) of the first table under `## heading`."""
    section = README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert len(rows) > 2, f"no table under {heading}"
    return [[c.strip() for c in row.strip("|").split("|")] for row in rows[2:]]


def _first_block() -> list[str]:
    lines = README.splitlines()
    start = lines.index("```sh")
    assert start <= 3, "the README must open with the commands"
    end = lines.index("```", start + 1)
    return [line.split("#", 1)[0].strip() for line in lines[start + 1 : end]]


def test_opens_with_start_and_test_commands() -> None:
    start, test = _first_block()
    assert start == "pip install uv && uv run nemo-video-mcp --sandbox"
    assert test == "uv run pytest"
    assert "sandbox edits are simulated" in README


def test_first_lines_say_what_to_run_where_pip_is_refused() -> None:
    """`pip install uv` fails on PEP 668 system Pythons (Debian, Ubuntu, Homebrew): right after the
    commands the README names the error and the ways around it, ending with the same start command."""
    start = _first_block()[0]
    pip, _, rest = start.partition(" && ")
    assert pip == "pip install uv"
    lines = README.splitlines()
    after = lines.index("```", lines.index("```sh") + 1) + 1
    paragraph = " ".join(lines[after + 1 : lines.index("", after + 1)])
    assert after + 1 < 10, "the way around a refused pip belongs in the first lines"
    assert "externally-managed-environment" in paragraph
    for way in ("curl -LsSf https://astral.sh/uv/install.sh | sh", "pipx install uv", "brew install uv"):
        assert f"`{way}`" in paragraph
    assert "install.ps1" in paragraph  # Windows, where curl | sh is not the way
    assert paragraph.endswith(f"`{rest}`.")


def test_ci_runs_the_readme_test_command() -> None:
    test = _first_block()[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test in [line.strip() for line in ci]
    assert (ROOT / "uv.lock").is_file()


def test_configuration_table_lists_exactly_env_vars() -> None:
    rows = _table("Configuration")
    names = [row[0].strip("`") for row in rows]
    assert sorted(names) == sorted(ENV_VARS)
    assert len(names) == len(set(names))
    for row in rows:
        assert len(row) == 3
        assert row[1]
        assert row[2], row


def test_error_table_covers_every_case() -> None:
    first = {row[0] for row in _table("Errors and what to do")}
    expected = {"1001", "1002", "2001", "4001", "4002", "400", "402", "429"}
    expected |= {"5xx, connection errors", "TLS certificate not trusted", "Render failure", "Stream errors"}
    assert expected <= first


@pytest.fixture(scope="module")
def server_tools(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bool]]:
    from nemo_video_mcp.app import create_server

    tmp = tmp_path_factory.mktemp("readme")
    server = create_server(Settings.from_env({"NEMO_STATE_DIR": str(tmp / "s"), "NEMO_OUTPUT_DIR": str(tmp)}))

    async def listed() -> dict[str, dict[str, bool]]:
        tools = {}
        for tool in await server.list_tools():
            required = set(tool.input_schema.get("required", []))
            tools[tool.name] = {arg: arg in required for arg in tool.input_schema.get("properties", {})}
        return tools

    return anyio.run(listed)


def test_tools_table_matches_the_server(server_tools: dict[str, dict[str, bool]]) -> None:
    documented: dict[str, dict[str, bool]] = {}
    for name_cell, args_cell, what in _table("Tools"):
        name = name_cell.strip("`")
        args = re.findall(r"`([a-z_]+)(\??)`", args_cell)
        documented[name] = {arg: not optional for arg, optional in args}
        assert what, name
    assert documented == server_tools, json.dumps({"readme": documented, "server": server_tools}, indent=1)


def test_manifest_version_explained() -> None:
    manifest = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
    assert f"`manifest_version` {manifest['manifest_version']}" in README
