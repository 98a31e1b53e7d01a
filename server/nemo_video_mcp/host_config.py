"""`nemo-video-mcp config <host>`: a ready-to-paste snippet for Claude Desktop, Claude Code, Cursor
or VS Code, with ABSOLUTE paths (GUI hosts do not see the shell's PATH: a bare `uv` or `uvx` fails
there with `spawn uv ENOENT`).

From a checkout the snippet runs `<abs uv> --directory <abs checkout> run nemo-video-mcp`; from an
installed package, the absolute path of the installed `nemo-video-mcp` script. Only the standard
library is imported here (this command must stay instant).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Mapping
from pathlib import Path

PROJECT_NAME = "nemo-video-mcp"

# Where each host reads the snippet (shown on stderr, so stdout is only the snippet).
WHERE = {
    "claude-desktop": (
        "Paste into Claude Desktop's config (Settings > Developer > Edit Config), merging with any "
        'existing "mcpServers":\n'
        "  macOS:   ~/Library/Application Support/Claude/claude_desktop_config.json\n"
        "  Windows: %APPDATA%\\Claude\\claude_desktop_config.json\n"
        "then quit and reopen Claude Desktop."
    ),
    "cursor": "Paste into ~/.cursor/mcp.json (all projects) or .cursor/mcp.json (one project).",
    "vscode": "Paste into .vscode/mcp.json in your workspace (or run 'MCP: Open User Configuration').",
    "claude-code": "Run this in a terminal (without `--scope user` it is added to the current project only).",
}


def uv_candidates(home: Path | None = None) -> list[Path]:
    """The usual places uv is installed, in the order they are tried after PATH."""
    home = home or Path.home()
    exe = "uv.exe" if os.name == "nt" else "uv"
    bin_dir = "Scripts" if os.name == "nt" else "bin"
    places = [
        Path(sysconfig.get_path("scripts")) / exe,  # `pip install uv` into this Python
        Path(sys.base_prefix) / bin_dir / exe,  # ... or into the Python behind this virtualenv
        home / ".local" / "bin" / exe,  # the official installer
        home / ".cargo" / "bin" / exe,  # older installers
    ]
    user_scheme = f"{os.name}_user" if os.name == "nt" else "posix_user"
    with contextlib.suppress(KeyError):  # a Python without a user scheme
        places.append(Path(sysconfig.get_path("scripts", user_scheme)) / exe)  # pip install --user uv
    if os.name == "nt":
        local = Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local"))
        places += [local / "Programs" / "uv" / exe, local / "Microsoft" / "WinGet" / "Links" / exe]
    else:
        places += [Path("/opt/homebrew/bin/uv"), Path("/usr/local/bin/uv"), Path("/usr/bin/uv")]
        places.append(Path("/home/linuxbrew/.linuxbrew/bin/uv"))
    return places


def find_uv(
    which: Callable[[str], str | None] = shutil.which,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Path | None:
    """Absolute path of uv: the one running us (`uv run` sets $UV), on PATH, else the usual places.

    A pyenv shim on PATH is replaced by the real binary when one is found, since a shim depends
    on the shell's pyenv setup that a GUI host does not have.
    """
    env = os.environ if env is None else env
    running = env.get("UV", "")
    if running and Path(running).is_absolute() and Path(running).is_file():
        return Path(running)
    found = which("uv")
    installed = [p.absolute() for p in uv_candidates(home) if p.is_file() and os.access(p, os.X_OK)]
    if found and not (Path(found).parent.name == "shims" and installed):
        return Path(found).absolute()
    return installed[0] if installed else None


def project_dir() -> Path | None:
    """The checkout this package runs from (it has a pyproject.toml for nemo-video-mcp), else None."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return None
    return root if f'name = "{PROJECT_NAME}"' in text else None


def installed_script() -> Path | None:
    """Absolute path of an installed `nemo-video-mcp` script beside this Python, if any."""
    exe = f"{PROJECT_NAME}.exe" if os.name == "nt" else PROJECT_NAME
    for place in (Path(sys.executable).parent / exe, Path(sysconfig.get_path("scripts")) / exe):
        if place.is_file():
            return place.absolute()
    return None


def server_command(uv: Path | None, project: Path | None, *, sandbox: bool = False) -> tuple[str, list[str]]:
    """(command, args) that start the server over stdio, all paths absolute.

    Raises `LookupError` with the fix when neither a checkout with uv nor an installed script is found.
    """
    extra = ["--sandbox"] if sandbox else []
    if project is not None:
        if uv is None:
            raise LookupError(
                "uv was not found on PATH nor in the usual places (~/.local/bin, ~/.cargo/bin, "
                "/opt/homebrew/bin, /usr/local/bin). Install it with `pip install uv` (or see "
                "https://docs.astral.sh/uv/getting-started/installation/), then run this again, "
                "or pass its absolute path with --uv /path/to/uv."
            )
        return str(uv), ["--directory", str(project), "run", PROJECT_NAME, *extra]
    script = installed_script()
    if script is None:
        raise LookupError(
            f"cannot find the {PROJECT_NAME} checkout nor an installed {PROJECT_NAME} script; "
            "run this command from the project with `uv run nemo-video-mcp config <host>`."
        )
    return str(script), extra


def snippet(target: str, command: str, args: list[str], *, name: str = "nemo-video") -> str:
    """What to paste for `target`: JSON for Claude Desktop and the editors, a command line for Claude Code."""
    if target == "claude-code":
        argv = ["claude", "mcp", "add", "--scope", "user", name, "--", command, *args]
        return subprocess.list2cmdline(argv) if os.name == "nt" else shlex.join(argv)
    if target == "vscode":
        doc: dict[str, object] = {"servers": {name: {"type": "stdio", "command": command, "args": args}}}
    elif target in ("claude-desktop", "cursor"):
        doc = {"mcpServers": {name: {"command": command, "args": args}}}
    else:
        raise ValueError(f"unknown host {target!r}")
    return json.dumps(doc, indent=2)


def run(target: str, *, name: str = "nemo-video", uv: str | None = None, sandbox: bool = False) -> int:
    """Print the snippet for `target` on stdout (hints on stderr). 0 on success, 1 when uv is missing."""
    uv_path = Path(uv).expanduser().absolute() if uv else find_uv()
    try:
        command, args = server_command(uv_path, project_dir(), sandbox=sandbox)
    except LookupError as exc:
        print(f"nemo-video-mcp config: {exc}", file=sys.stderr)
        return 1
    print(snippet(target, command, args, name=name))
    print(WHERE[target], file=sys.stderr)
    if sandbox:
        print("This starts the SANDBOX: edits are simulated, nothing reaches NemoVideo.", file=sys.stderr)
    return 0
