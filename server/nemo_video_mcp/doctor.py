"""`nemo-video-mcp doctor`: check the setup and say, in plain words, how to fix what is wrong.

Checks: Python and package versions, where the token comes from (never the token itself), the
state folder and its permissions, the media folders and the output folder, the three skills, the
detected platform, and whether the backend answers a credits call within a few seconds.
Exit code 0 when nothing is wrong (warnings allowed), 1 otherwise.
"""

# Imports inside functions are deliberate (the backend client (httpx2) is loaded only for the last check).
# ruff: noqa: PLC0415

from __future__ import annotations

import os
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

if TYPE_CHECKING:
    from .settings import Settings
    from .skills import SkillRegistry

Status = Literal["ok", "warn", "fail"]
PACKAGES = ("nemo-video-mcp", "mcp", "httpx2", "pydantic", "anyio", "starlette", "uvicorn")
BACKEND_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    status: Status
    text: str
    fix: str | None = None


def check_python() -> list[Check]:
    version = ".".join(map(str, sys.version_info[:3]))
    return [Check("ok", f"Python {version} ({sys.executable})")]


def check_packages() -> list[Check]:
    found, missing = [], []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    checks = [Check("ok", "packages: " + ", ".join(found))]
    if missing:
        fix = "Install the project's dependencies: run `uv sync` in the project folder."
        checks.append(Check("fail", "missing packages: " + ", ".join(missing), fix))
    return checks


def _cached_token(settings: Settings) -> str | None:
    """The cached anonymous token (compared, never shown), or None."""
    from .backend import StateFiles  # the cache the client itself reads

    cached = StateFiles(settings.state_dir).load_token(settings.api_url)
    return None if cached is None else cached.token


def check_token(settings: Settings, *, fetched_now: bool = False) -> list[Check]:
    """Where the token comes from. Never prints the token.

    `fetched_now`: the backend check itself fetched the cached token (so the report says so, rather
    than that one "will be fetched on first use").
    """
    if settings.token is not None:
        return [Check("ok", "token: NEMO_TOKEN is set")]
    from .backend import StateFiles  # the cache the client itself reads

    cached = StateFiles(settings.state_dir).load_token(settings.api_url)
    if cached is None:
        return [Check("ok", "token: none cached yet; an anonymous token will be fetched on first use")]
    how = "fetched just now by the backend check and cached" if fetched_now else "cached"
    if cached.expires_at is None:
        return [Check("ok", f"token: anonymous token {how} (no expiry date known)")]
    shown = datetime.fromtimestamp(cached.expires_at, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    if cached.expired(time.time()):
        return [Check("ok", f"token: cached anonymous token expired {shown}; a new one comes on first use")]
    return [Check("ok", f"token: anonymous token {how} until {shown}")]


def _loose_mode(path: Path, allowed: int) -> int | None:
    mode = stat.S_IMODE(path.stat().st_mode)
    return mode if mode & ~allowed & 0o777 else None


def check_state_dir(settings: Settings) -> list[Check]:
    folder = settings.state_dir
    if not folder.exists():
        return [_creatable(folder, "state folder", "it is created (mode 0700) on first use")]
    if not folder.is_dir():
        return [Check("fail", f"state folder {folder} is not a folder", "Remove it or set NEMO_STATE_DIR.")]
    checks: list[Check] = []
    if os.name != "nt":  # Windows has no POSIX modes; the folder is under the user's profile
        mode = _loose_mode(folder, 0o700)
        if mode is not None:
            fix = f"Run `chmod 700 {folder}` (it holds your token)."
            checks.append(Check("fail", f"state folder {folder} has mode {mode:04o}, not 0700", fix))
        for root, _dirs, files in os.walk(folder):
            for name in files:
                path = Path(root) / name
                mode = _loose_mode(path, 0o600)
                if mode is not None:
                    fix = f"Run `chmod 600 {path}`."
                    checks.append(Check("fail", f"{path} has mode {mode:04o}, not 0600", fix))
    if not _writable(folder):
        fix = f"Make {folder} writable by you, or set NEMO_STATE_DIR to a folder that is."
        checks.append(Check("fail", f"state folder {folder} is not writable", fix))
    return checks or [Check("ok", f"state folder {folder} (0700, files 0600)")]


def check_state_store(settings: Settings) -> list[Check]:
    """The state database: usable, or what is wrong with it and the fix, in the words the tools
    use. Creates and changes nothing (a damaged file is never deleted)."""
    from .service import Store
    from .tools import store_fix, store_problem

    problem = Store.probe(settings.state_dir)
    if problem is not None:
        return [Check("fail", store_problem(problem), store_fix(problem))]
    path = Store.file_in(settings.state_dir)
    if not path.exists():
        return [Check("ok", f"state database {path} is created on first use")]
    return [Check("ok", f"state database {path} (readable, intact)")]


def _writable(folder: Path) -> bool:
    """Try it: os.access says yes to root even on a read-only mount."""
    try:
        fd, name = tempfile.mkstemp(prefix=".nemo-doctor-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def _creatable(folder: Path, label: str, note: str) -> Check:
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.is_dir() and _writable(parent):
        return Check("ok", f"{label} {folder} does not exist yet; {note}")
    fix = f"Create {folder} yourself, or point the setting at a folder you can write to."
    return Check("fail", f"{label} {folder} cannot be created ({parent} is not a writable folder)", fix)


def check_media_roots(settings: Settings) -> list[Check]:
    if not settings.media_roots:
        fix = f"Set NEMO_MEDIA_ROOTS to the folders holding your videos (separated by '{os.pathsep}')."
        return [Check("warn", "no media folders: local files cannot be uploaded (URLs still work)", fix)]
    checks = []
    for root in settings.media_roots:
        if not root.is_dir():
            fix = f"Create {root}, or remove it from NEMO_MEDIA_ROOTS."
            checks.append(Check("fail", f"media folder {root} does not exist", fix))
        elif not os.access(root, os.R_OK | os.X_OK):
            fix = f"Give yourself read access to {root}, or remove it from NEMO_MEDIA_ROOTS."
            checks.append(Check("fail", f"media folder {root} is not readable", fix))
        else:
            checks.append(Check("ok", f"media folder {root} (uploads may come from here)"))
    return checks


def check_output_dir(settings: Settings) -> list[Check]:
    out = settings.output_dir
    if not out.exists():
        return [_creatable(out, "output folder", "it is created when the first video is downloaded")]
    if not out.is_dir():
        fix = f"Set NEMO_OUTPUT_DIR to a folder (now it names a file: {out})."
        return [Check("fail", f"output folder {out} is not a folder", fix)]
    if not _writable(out):
        fix = (
            f"Make {out} writable by you (e.g. `chmod u+w {out}`), or set NEMO_OUTPUT_DIR to another folder."
        )
        return [Check("fail", f"output folder {out} is not writable", fix)]
    return [Check("ok", f"output folder {out} (exported videos are saved here)")]


def check_skills(settings: Settings) -> tuple[list[Check], SkillRegistry | None]:
    from .skills import SkillError, SkillRegistry

    try:
        registry = SkillRegistry.load(platform_override=settings.skill_platform)
    except SkillError as exc:
        fix = "Reinstall the project (`uv sync`); the skills/ folder must sit beside server/."
        return [Check("fail", f"skills: {exc}", fix)], None
    checks = [Check("ok", f"skill {s.slug} version {s.version}") for s in registry]
    where = registry["objectremover-video"].path.parent.parent
    how = "set by NEMO_SKILL_PLATFORM" if settings.skill_platform else f"from where the skills are: {where}"
    checks.append(Check("ok", f"platform: {registry.platform} ({how}); default skill: {settings.skill}"))
    return checks, registry


def check_backend(
    settings: Settings, registry: SkillRegistry, timeout: float = BACKEND_TIMEOUT
) -> list[Check]:
    """A credits call with a short timeout."""
    import anyio

    from .backend import NemoClient

    quick = settings.with_overrides(connect_timeout=timeout, read_timeout=timeout, max_retries=0)

    async def credits() -> Check:
        with anyio.fail_after(timeout * 2):  # an anonymous token may be fetched first
            async with NemoClient(quick, registry) as client:
                got = await client.get_credits(skill=settings.skill)
        held = f", {got.frozen:g} held by running work" if got.frozen else ""
        return Check("ok", f"backend {settings.api_url} answers: {got.available:g} credits available{held}")

    try:
        return [anyio.run(credits)]
    except Exception as exc:  # every failure becomes a line of the report, with its fix
        return [_backend_failure(_leaf(exc), settings, timeout * 2)]


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _backend_failure(exc: BaseException, settings: Settings, waited: float) -> Check:  # noqa: PLR0911 - one return per kind of failure reads best
    from . import backend as errors

    url = settings.api_url
    network_fix = (
        "Check your internet connection, proxy or firewall; if you set NEMO_API_URL, check it "
        "(unset it to use NemoVideo). `nemo-video-mcp --sandbox` works offline."
    )
    if isinstance(exc, TimeoutError):
        return Check("fail", f"backend {url} did not answer within {waited:g} s", network_fix)
    if isinstance(exc, errors.TransportError):
        return Check("fail", f"cannot reach the backend {url}: {exc}", network_fix)
    if isinstance(exc, errors.AuthError):
        if settings.token is not None:
            fix = "Check NEMO_TOKEN (copy it again from your NemoVideo account), or unset it to go anonymous."
        else:
            fix = f"Delete {settings.state_dir / 'token.json'} and run doctor again."
        return Check("fail", f"backend {url} refused the token: {exc}", fix)
    if isinstance(exc, errors.NoCredits):
        fix = f"Register to get credits: {exc.bind_url}" if exc.bind_url else "Top up your credits."
        return Check("warn", f"backend {url} answers, but there are no credits left", fix)
    if isinstance(exc, errors.RateLimited):
        wait = f"{exc.retry_after:g} s" if exc.retry_after else "a minute"
        return Check("warn", f"backend {url} answers but is rate limiting", f"Try again in {wait}.")
    if isinstance(exc, errors.NemoError):
        fix = "NemoVideo may be having trouble: try again in a few minutes."
        return Check("fail", f"backend {url} answered with an error: {exc}", fix)
    fix = "Run with -v for details and report it if it persists."
    return Check("fail", f"backend check failed unexpectedly: {type(exc).__name__}: {exc}", fix)


def run(settings: Settings, *, sandbox: bool = False, out: TextIO | None = None) -> int:
    """Run every check, print a report on `out` (stdout), return 0 (healthy) or 1."""
    out = out or sys.stdout
    before = None if settings.token is not None else _cached_token(settings)
    skill_checks, registry = check_skills(settings)
    backend = [] if registry is None else check_backend(settings, registry)
    # The token and the state folder are read after the backend check, which may have fetched and
    # cached a token (creating the folder): the report describes what is there now.
    after = None if settings.token is not None else _cached_token(settings)
    fetched_now = after is not None and after != before
    checks = [*check_python(), *check_packages(), *check_token(settings, fetched_now=fetched_now)]
    checks += [*check_state_dir(settings), *check_state_store(settings)]
    checks += [*check_media_roots(settings), *check_output_dir(settings)]
    checks += [*skill_checks, *backend]
    print(
        "nemo-video-mcp doctor" + (" (sandbox: the backend is the local emulator)" if sandbox else ""),
        file=out,
    )
    for check in checks:
        print(f"  {check.status.upper():<5} {check.text}", file=out)
        if check.fix and check.status != "ok":
            print(f"        fix: {check.fix}", file=out)
    failures = sum(c.status == "fail" for c in checks)
    if failures:
        print(f"{failures} problem{'s' if failures > 1 else ''} found; see the fixes above.", file=out)
        return 1
    print("Everything needed is in place.", file=out)
    return 0
