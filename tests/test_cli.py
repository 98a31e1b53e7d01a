"""The command line: parsing, fast paths that import nothing heavy, settings errors, HTTP bind rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_video_mcp import cli

HEAVY = ("mcp", "httpx2", "uvicorn", "starlette")


def _modules_after(code: str) -> set[str]:
    probe = (
        "import sys, contextlib, io\n"
        "from nemo_video_mcp.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    try:\n"
        f"        {code}\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "code",
    [
        "main(['--help'])",
        "main(['config', 'claude-desktop'])",
        "main(['config', '--help'])",
        "cli.build_parser()",
    ],
)
def test_fast_paths_import_neither_mcp_nor_httpx2(code: str) -> None:
    loaded = _modules_after(
        code.replace("cli.build_parser", "__import__('nemo_video_mcp.cli').cli.build_parser")
    )
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_defaults() -> None:
    args = cli.build_parser().parse_args([])
    assert args.transport == "stdio"
    assert args.host == "127.0.0.1"
    assert args.port == 8765
    assert args.command is None
    assert not getattr(args, "sandbox", False)


@pytest.mark.parametrize(
    "argv",
    [["--sandbox", "doctor"], ["doctor", "--sandbox"], ["config", "cursor", "--sandbox"], ["--sandbox"]],
)
def test_sandbox_flag_anywhere(argv: list[str]) -> None:
    assert cli.build_parser().parse_args(argv).sandbox is True


@pytest.mark.parametrize(
    ("argv", "roots", "command"),
    [
        (["--media-roots", "", "doctor"], [""], "doctor"),
        (["--media-roots", "/a", "/b", "doctor", "--sandbox"], ["/a", "/b"], "doctor"),
        (["--media-roots", "/a", "config", "cursor"], ["/a"], "config"),
        (["--media", "/a", "doctor"], ["/a"], "doctor"),  # argparse's abbreviation too
        (["--media-roots", "/a", "--output-dir", "/o", "doctor"], ["/a"], "doctor"),
        (["--media-roots", "./doctor"], ["./doctor"], None),
        (["--media-roots", "--sandbox"], [], None),
    ],
)
def test_a_command_after_the_folder_list_is_a_command(
    argv: list[str], roots: list[str], command: str | None
) -> None:
    args = cli.build_parser().parse_args(cli.split_folder_lists(argv))
    assert args.media_roots == roots
    assert args.command == command


def test_doctor_after_an_empty_folder_list_runs_doctor(tmp_path: Path) -> None:
    """`--media-roots "" doctor` once took `doctor` for a folder and started the server."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "NEMO_STATE_DIR": str(tmp_path / "state"),
        "NEMO_OUTPUT_DIR": str(tmp_path / "out"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "nemo_video_mcp", "--media-roots", "", "doctor", "--sandbox"],
        env=env,
        stdin=subprocess.DEVNULL,  # a server would read this, find its end and exit 0 without a report
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert proc.stdout.startswith("nemo-video-mcp doctor (sandbox"), (proc.stdout, proc.stderr[-2000:])
    assert "credits available" in proc.stdout
    assert "workspace open" not in proc.stderr  # no server was started


def test_http_options() -> None:
    args = cli.build_parser().parse_args(["--transport", "http", "--port", "9999", "--host", "::1", "-v"])
    assert (args.transport, args.port, args.host, args.verbose) == ("http", 9999, "::1", True)


def test_bad_setting_exits_2_naming_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"NEMO_WAIT_SECONDS": "120", "PATH": os.environ.get("PATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "nemo_video_mcp"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "NEMO_WAIT_SECONDS" in proc.stderr
    assert proc.stdout == ""


def test_non_loopback_http_without_token_refused(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "NEMO_STATE_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "nemo_video_mcp", "--transport", "http", "--host", "0.0.0.0"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "NEMO_HTTP_TOKEN" in proc.stderr
    assert proc.stdout == ""


def test_environment_drops_unfilled_bundle_placeholders() -> None:
    env = {"NEMO_TOKEN": "${user_config.nemo_token}", "NEMO_SKILL": "video-json-ai", "HOME": "/h"}
    got = cli.environment(env, ["${user_config.media_roots}"], "${user_config.output_dir}")
    assert got == {"NEMO_SKILL": "video-json-ai", "HOME": "/h"}


def test_environment_applies_folder_options(tmp_path: Path) -> None:
    got = cli.environment(
        {"NEMO_MEDIA_ROOTS": "/old"}, [str(tmp_path), "", str(tmp_path / "b")], str(tmp_path)
    )
    assert got["NEMO_MEDIA_ROOTS"] == os.pathsep.join([str(tmp_path), str(tmp_path / "b")])
    assert got["NEMO_OUTPUT_DIR"] == str(tmp_path)
    assert cli.environment({"NEMO_OUTPUT_DIR": "/keep"}, [], "")["NEMO_OUTPUT_DIR"] == "/keep"


def test_bundle_arguments_parse() -> None:
    """The argument list manifest.json gives the bundle host parses (after variable expansion)."""
    manifest = json.loads((Path(__file__).resolve().parents[1] / "manifest.json").read_text())
    args = manifest["server"]["mcp_config"]["args"]
    tail = args[args.index("${__dirname}/server/main.py") + 1 :]
    expanded: list[str] = []
    for item in tail:
        if item == "${user_config.media_roots}":
            expanded += ["/a", "/b"]
        else:
            expanded.append(item.replace("${user_config.output_dir}", "/out"))
    parsed = cli.build_parser().parse_args(cli.split_folder_lists(expanded))
    assert parsed.media_roots == ["/a", "/b"]
    assert parsed.output_dir == "/out"
    assert parsed.command is None


def test_the_collector_pauses_for_start_up_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cyclic garbage collector is paused while the server is built (a faster start-up) and
    running again, with start-up's objects frozen out of its passes, before the server serves and
    after every other way out of main."""
    import gc

    from nemo_video_mcp import shutdown

    for name in ("NEMO_STATE_DIR", "NEMO_OUTPUT_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("HOME", str(tmp_path))
    serving: list[tuple[bool, int]] = []
    during_start: list[bool] = []
    real_create = __import__("nemo_video_mcp.app", fromlist=["create_server"]).create_server

    def create(settings: object) -> object:
        during_start.append(gc.isenabled())
        return real_create(settings)

    monkeypatch.setattr("nemo_video_mcp.app.create_server", create)
    monkeypatch.setattr(
        shutdown, "run", lambda work: serving.append((gc.isenabled(), gc.get_freeze_count())) or 0
    )
    try:
        assert cli.main([]) == 0
        assert during_start == [False]
        [(enabled, frozen)] = serving
        assert enabled
        assert frozen > 10_000  # the modules, models and schemas of start-up
        assert gc.isenabled()
        monkeypatch.setenv("NEMO_WAIT_SECONDS", "120")  # a way out before any server
        assert cli.main([]) == 2
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()
