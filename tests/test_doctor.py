"""`nemo-video-mcp doctor`: healthy against the emulator, and each broken setup names its fix."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_video_mcp import doctor
from nemo_video_mcp.emulator import Emulator
from nemo_video_mcp.settings import Settings
from support_common import refused_port


def _env(tmp_path: Path, api_url: str, **extra: str) -> dict[str, str]:
    (tmp_path / "media").mkdir(exist_ok=True)
    (tmp_path / "out").mkdir(exist_ok=True)
    return {
        "NEMO_API_URL": api_url,
        "NEMO_STATE_DIR": str(tmp_path / "state"),
        "NEMO_OUTPUT_DIR": str(tmp_path / "out"),
        "NEMO_MEDIA_ROOTS": str(tmp_path / "media"),
        **extra,
    }


def _run(env: dict[str, str]) -> tuple[int, str]:
    out = io.StringIO()
    code = doctor.run(Settings.from_env(env), out=out)
    return code, out.getvalue()


def test_healthy_against_the_emulator(tmp_path: Path, emulator: Emulator) -> None:
    code, text = _run(_env(tmp_path, emulator.url))
    assert code == 0, text
    assert "credits available" in text
    # the backend check fetched a token: the report says so, not that one "will be fetched"
    assert "token: anonymous token fetched just now by the backend check and cached until" in text
    assert "will be fetched" not in text
    assert "does not exist yet" not in text.split("media folder")[0]  # the state folder exists now
    for slug in ("objectremover-video", "video-json-ai", "editor-remastered"):
        assert f"skill {slug} version" in text
    assert "platform:" in text
    assert "mcp " in text
    assert "httpx2 " in text
    assert "FAIL" not in text

    # the credits call cached an anonymous token: doctor says until when, and never shows it
    token = json.loads((tmp_path / "state" / "token.json").read_text())["token"]
    code, text = _run(_env(tmp_path, emulator.url))
    assert code == 0, text
    assert "token: anonymous token cached until" in text
    assert "fetched just now" not in text
    assert token not in text


def test_token_not_fetched_when_the_backend_is_unreachable(tmp_path: Path) -> None:
    with refused_port() as port:
        code, text = _run(_env(tmp_path, f"http://127.0.0.1:{port}"))
    assert code == 1
    assert "token: none cached yet; an anonymous token will be fetched on first use" in text


def test_nemo_token_is_named_never_shown(tmp_path: Path) -> None:
    secret = "nmv_usr_do-not-print-me-123456"
    settings = Settings.from_env(_env(tmp_path, "http://127.0.0.1:1", NEMO_TOKEN=secret))
    checks = doctor.check_token(settings)
    assert [c.text for c in checks] == ["token: NEMO_TOKEN is set"]


def test_output_dir_that_is_a_file(tmp_path: Path, emulator: Emulator) -> None:
    target = tmp_path / "not-a-folder"
    target.write_text("x")
    code, text = _run(_env(tmp_path, emulator.url, NEMO_OUTPUT_DIR=str(target)))
    assert code == 1
    assert f"output folder {target} is not a folder" in text
    assert "fix: Set NEMO_OUTPUT_DIR to a folder" in text


def test_output_dir_that_cannot_be_created(tmp_path: Path, emulator: Emulator) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, text = _run(_env(tmp_path, emulator.url, NEMO_OUTPUT_DIR=str(blocker / "out")))
    assert code == 1
    assert "cannot be created" in text
    assert "fix: Create" in text


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root writes anywhere; POSIX modes")
def test_output_dir_not_writable(tmp_path: Path, emulator: Emulator) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        code, text = _run(_env(tmp_path, emulator.url, NEMO_OUTPUT_DIR=str(out)))
    finally:
        out.chmod(0o700)
    assert code == 1
    assert "is not writable" in text
    assert "set NEMO_OUTPUT_DIR to another folder" in text


def test_missing_media_root(tmp_path: Path, emulator: Emulator) -> None:
    gone = tmp_path / "no-such-folder"
    roots = os.pathsep.join([str(tmp_path / "media"), str(gone)])
    code, text = _run(_env(tmp_path, emulator.url, NEMO_MEDIA_ROOTS=roots))
    assert code == 1
    assert f"media folder {gone} does not exist" in text
    assert f"fix: Create {gone}, or remove it from NEMO_MEDIA_ROOTS." in text


def test_unreachable_backend(tmp_path: Path) -> None:
    with refused_port() as port:
        url = f"http://127.0.0.1:{port}"
        code, text = _run(_env(tmp_path, url))
    assert code == 1
    assert f"cannot reach the backend {url}" in text or f"backend {url} did not answer" in text
    assert "fix: Check your internet connection" in text
    assert "NEMO_API_URL" in text


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_loose_state_permissions(tmp_path: Path, emulator: Emulator) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    (state / "client_id").write_text("x")
    (state / "client_id").chmod(0o644)
    checks = doctor.check_state_dir(Settings.from_env(_env(tmp_path, emulator.url)))
    fixes = [c.fix for c in checks if c.status == "fail"]
    assert f"Run `chmod 700 {state}` (it holds your token)." in fixes
    assert f"Run `chmod 600 {state / 'client_id'}`." in fixes


def test_backend_error_is_reported_with_a_fix(tmp_path: Path, emulator: Emulator) -> None:
    from nemo_video_mcp.emulator import Fault

    emulator.inject(Fault("http", path="/api/credits", status=503, times=10))
    code, text = _run(_env(tmp_path, emulator.url))
    assert code == 1
    assert "fix: NemoVideo may be having trouble" in text


def test_cli_doctor_sandbox_is_healthy(tmp_path: Path) -> None:
    env = {**os.environ, **_env(tmp_path, "http://127.0.0.1:1")}
    proc = subprocess.run(
        [sys.executable, "-m", "nemo_video_mcp", "--sandbox", "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "sandbox" in proc.stdout
    assert "credits available" in proc.stdout
    assert "SANDBOX" in proc.stderr  # the notice is a log line, on stderr


def test_cli_doctor_broken_exits_nonzero(tmp_path: Path) -> None:
    with refused_port() as port:
        env = {**os.environ, **_env(tmp_path, f"http://127.0.0.1:{port}")}
        proc = subprocess.run(
            [sys.executable, "-m", "nemo_video_mcp", "doctor"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 1
    assert "problem" in proc.stdout
