"""`nemo-video-mcp config <host>`: parseable snippets with absolute paths, and the snippet really starts."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from nemo_video_mcp import host_config

ROOT = Path(__file__).resolve().parents[1]


def _config(target: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nemo_video_mcp", "config", target, *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


@pytest.mark.parametrize("target", ["claude-desktop", "cursor"])
def test_mcp_servers_json(target: str) -> None:
    proc = _config(target)
    doc = json.loads(proc.stdout)
    entry = doc["mcpServers"]["nemo-video"]
    assert Path(entry["command"]).is_absolute()
    assert Path(entry["command"]).name in ("uv", "uv.exe")
    directory = entry["args"][entry["args"].index("--directory") + 1]
    assert Path(directory).is_absolute()
    assert Path(directory) == ROOT
    assert entry["args"][-2:] == ["run", "nemo-video-mcp"]
    assert proc.stderr  # where to paste it, on stderr


def test_vscode_servers_shape() -> None:
    doc = json.loads(_config("vscode").stdout)
    entry = doc["servers"]["nemo-video"]
    assert entry["type"] == "stdio"
    assert Path(entry["command"]).is_absolute()
    assert str(ROOT) in entry["args"]


def test_claude_code_command_line() -> None:
    line = _config("claude-code").stdout.strip()
    argv = shlex.split(line)
    assert argv[:3] == ["claude", "mcp", "add"]
    command = argv[argv.index("--") + 1]
    assert Path(command).is_absolute()
    assert argv[-1] == "nemo-video-mcp"


def test_sandbox_and_name_options() -> None:
    doc = json.loads(_config("cursor", "--sandbox", "--name", "nv").stdout)
    assert doc["mcpServers"]["nv"]["args"][-1] == "--sandbox"


def test_uv_not_found_says_how_to_install(tmp_path: Path) -> None:
    assert host_config.find_uv(which=lambda _n: None, home=tmp_path, env={}) in (
        None,
        *[p.absolute() for p in host_config.uv_candidates(tmp_path) if p.is_file()],
    )
    with pytest.raises(LookupError, match="pip install uv"):
        host_config.server_command(None, ROOT)


def test_find_uv_prefers_running_uv_then_path(tmp_path: Path) -> None:
    uv = tmp_path / "uv"
    uv.write_text("")
    assert host_config.find_uv(which=lambda _n: "/x/uv", env={"UV": str(uv)}) == uv
    assert host_config.find_uv(which=lambda _n: "/usr/x/uv", home=tmp_path, env={}) == Path("/usr/x/uv")


def test_find_uv_usual_places(tmp_path: Path) -> None:
    if os.name == "nt":
        pytest.skip("POSIX install locations")
    uv = tmp_path / ".local" / "bin" / "uv"
    uv.parent.mkdir(parents=True)
    uv.write_text("#!/bin/sh\n")
    uv.chmod(0o755)
    assert uv in host_config.uv_candidates(tmp_path)
    found = host_config.find_uv(which=lambda _n: None, home=tmp_path, env={})
    assert found is not None
    assert found.is_absolute()


def test_snippet_starts_the_server_and_lists_tools(tmp_path: Path) -> None:
    """Run exactly the command of the Claude Desktop snippet (plus --sandbox) and list tools."""
    from mcp import StdioServerParameters

    from support_common import connect

    entry = json.loads(_config("claude-desktop", "--sandbox").stdout)["mcpServers"]["nemo-video"]
    env = {"NEMO_STATE_DIR": str(tmp_path / "state"), "NEMO_OUTPUT_DIR": str(tmp_path / "out")}
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=env, cwd=tmp_path)

    async def go() -> list[str]:
        with anyio.fail_after(90):
            async with connect(params, "auto") as client:
                return [t.name for t in (await client.list_tools()).tools]

    names = anyio.run(go)
    assert "check_credits" in names
    assert {p.name for p in tmp_path.iterdir()} <= {"state", "out"}  # nothing written into the cwd
