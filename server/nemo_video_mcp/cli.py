"""The `nemo-video-mcp` command: serve (stdio or Streamable HTTP), `doctor`, `config <host>`.

Start-up must stay fast and stdout must carry nothing but the MCP protocol, so this module
imports only the standard library at the top: parsing arguments, `--help` and `config` never
import `mcp` or `httpx2`. Settings are read once with `Settings.from_env`; logs go to stderr.
"""

# Imports inside functions are deliberate (start-up time: --help and config must not import mcp or httpx2).
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from . import __version__

if TYPE_CHECKING:
    from .settings import Settings

DEFAULT_PORT = 8765
HOSTS = ("claude-desktop", "claude-code", "cursor", "vscode")
COMMANDS = ("doctor", "config")
_MEDIA_ROOTS = "--media-roots"
# What a bundle host leaves behind when it has no value for `${user_config.x}`.
_PLACEHOLDER = re.compile(r"^\$\{[^}]*\}$")
SANDBOX_NOTICE = (
    "SANDBOX: NemoVideo is simulated by a local emulator at {url}. Edits, uploads and exports are "
    "not real (the exported video is made on this machine from the uploaded files, with the "
    "simulated edits drawn on it), nothing is sent to NemoVideo and no credits are spent. Its "
    "state is kept in {folder}. Run without --sandbox to edit for real."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nemo-video-mcp",
        description="MCP server for NemoVideo: edit video from Claude, Cursor, VS Code and other MCP hosts.",
        epilog="Configuration comes from NEMO_* environment variables (see the README).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--transport", choices=("stdio", "http"), default="stdio", help="stdio (default) or Streamable HTTP"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--isolate-clients",
        action="store_true",
        help="HTTP: keep each client's sessions apart, by bearer token (one per client in "
        "NEMO_HTTP_TOKEN, comma-separated); same as NEMO_HTTP_ISOLATE_CLIENTS=1",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="extra Host header value the HTTP transport accepts (repeatable)",
    )
    _add_sandbox(parser, argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs (on stderr)")
    # The MCPB bundle passes its folder choices as arguments (a host expands a list of folders
    # into separate arguments, which an environment variable cannot hold).
    parser.add_argument(
        _MEDIA_ROOTS,
        nargs="*",
        action="extend",
        metavar="DIR",
        help="same as NEMO_MEDIA_ROOTS; the list ends at the next option or command "
        "(write a folder named like a command as ./doctor)",
    )
    parser.add_argument("--output-dir", metavar="DIR", help="same as NEMO_OUTPUT_DIR")
    sub = parser.add_subparsers(dest="command", metavar="{doctor,config}")
    doctor = sub.add_parser("doctor", help="check the setup and say how to fix what is wrong")
    _add_sandbox(doctor, argparse.SUPPRESS)
    config = sub.add_parser("config", help="print a ready-to-paste config snippet for an MCP host")
    config.add_argument("target", choices=HOSTS, help="the MCP host")
    config.add_argument("--uv", metavar="PATH", help="absolute path to uv (default: found automatically)")
    config.add_argument("--name", default="nemo-video", help="server name in the host (default nemo-video)")
    _add_sandbox(config, argparse.SUPPRESS)
    return parser


def _add_sandbox(parser: argparse.ArgumentParser, default: object) -> None:
    # SUPPRESS everywhere: a subparser's default would otherwise overwrite `--sandbox doctor`.
    parser.add_argument(
        "--sandbox",
        action="store_true",
        default=default,
        help="use an embedded emulator instead of NemoVideo (simulated edits, no credits)",
    )


def split_folder_lists(argv: Sequence[str]) -> list[str]:
    """`--media-roots A B doctor` as `--media-roots=A --media-roots=B doctor`.

    `--media-roots` takes any number of folders (a bundle host expands a list of folders into
    separate arguments), and argparse would read a command after them as one more folder:
    `--media-roots "" doctor` started the server. Here the list ends at a command name or an option.
    """
    out: list[str] = []
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            return [*out, arg, *rest]
        if not (len(arg) > 2 and _MEDIA_ROOTS.startswith(arg)):  # argparse accepts `--media` too
            out.append(arg)
            continue
        folders: list[str] = []
        while rest and rest[0] not in COMMANDS and not (rest[0].startswith("-") and rest[0] != "-"):
            folders.append(rest.pop(0))
        out.extend([f"{_MEDIA_ROOTS}={folder}" for folder in folders] or [arg])
    return out


def pause_collection() -> Callable[[], None]:
    """Pause the cyclic garbage collector for the start-up; the function returned resumes it (once;
    later calls do nothing). Start-up makes tens of thousands of long-lived objects (the SDK's and
    pydantic's modules, the result models, every tool's schema) in which collections find nothing to
    free: without them the server answers its first tools/list ~50 ms sooner. On resuming, what
    start-up made is frozen out of later collections (`gc.freeze`)."""
    if not gc.isenabled():  # someone else's choice (an embedding process): left alone
        return lambda: None
    gc.disable()
    paused = [True]

    def resume() -> None:
        if paused:
            paused.clear()
            gc.freeze()
            gc.enable()

    return resume


def main(argv: Sequence[str] | None = None) -> int:
    resume = pause_collection()
    try:
        return _main(argv, resume)
    finally:
        resume()


def _main(argv: Sequence[str] | None, started: Callable[[], None]) -> int:
    args = build_parser().parse_args(split_folder_lists(sys.argv[1:] if argv is None else argv))
    sandbox = bool(getattr(args, "sandbox", False))
    if args.command == "config":
        from .host_config import run as run_config

        return run_config(args.target, name=args.name, uv=args.uv, sandbox=sandbox)

    from .settings import Settings, SettingsError

    try:
        settings = Settings.from_env(environment(os.environ, args.media_roots, args.output_dir))
        if args.verbose:
            settings = settings.with_overrides(log_level="DEBUG")
        if args.isolate_clients:
            settings = settings.with_overrides(http_isolate_clients=True)
    except SettingsError as exc:
        print(f"nemo-video-mcp: {exc}", file=sys.stderr)
        return 2

    from . import logs

    logs.configure(settings.log_level)
    _register_secrets(settings)

    if args.command == "doctor":
        from .doctor import run as run_doctor

        with sandboxed(settings, enabled=sandbox) as checked:
            return run_doctor(checked, sandbox=sandbox)

    if args.transport == "http":
        from .http_transport import bind_problem

        problem = bind_problem(args.host, settings.http_token, isolate=settings.http_isolate_clients)
        if problem:
            print(f"nemo-video-mcp: {problem}", file=sys.stderr)
            return 2
    return serve(args, settings, sandbox=sandbox, started=started)


def serve(
    args: argparse.Namespace,
    configured: Settings,
    *,
    sandbox: bool,
    started: Callable[[], None] = lambda: None,
) -> int:
    """Serve until the client goes (stdio) or SIGINT/SIGTERM arrives; the exit status (see shutdown.py).
    `started()` is called once the server is built, before it serves."""
    from . import shutdown

    try:
        with sandboxed(configured, enabled=sandbox) as settings:
            from .app import create_server

            server = create_server(settings)
            started()
            if args.transport == "stdio":
                from .stdio_transport import serve_stdio

                return shutdown.run(lambda stop: serve_stdio(server, stop))
            from .http_transport import serve as serve_http

            return shutdown.run(
                lambda stop: serve_http(
                    server, settings, stop, host=args.host, port=args.port, extra_hosts=args.allow_host
                )
            )
    except KeyboardInterrupt:  # before the event loop watched signals (start-up), or on Windows
        return shutdown.INTERRUPTED


def _register_secrets(settings: Settings) -> None:
    """Every secret the settings hold: no log line may carry one."""
    from . import logs

    logs.add_secret(settings.client_id)
    for secret in (settings.token, settings.http_token):
        if secret is not None:
            logs.add_secret(secret.get_secret_value())
    for http_token in settings.http_tokens:  # each client's own, when there are several
        logs.add_secret(http_token)


def environment(
    env: Mapping[str, str], media_roots: Sequence[str] | None, output_dir: str | None
) -> dict[str, str]:
    """`env` with the command-line folder options applied and unfilled bundle placeholders removed."""
    result = {k: v for k, v in env.items() if not (k.startswith("NEMO_") and _PLACEHOLDER.match(v.strip()))}
    roots = [r for r in (media_roots or []) if r.strip() and not _PLACEHOLDER.match(r.strip())]
    if roots:
        result["NEMO_MEDIA_ROOTS"] = os.pathsep.join(roots)
    if output_dir and output_dir.strip() and not _PLACEHOLDER.match(output_dir.strip()):
        result["NEMO_OUTPUT_DIR"] = output_dir
    return result


@contextmanager
def sandboxed(settings: Settings, *, enabled: bool) -> Iterator[Settings]:
    """With `enabled`, run the embedded emulator (a thread) and point the settings at it.

    The sandbox keeps its own state folder (`<state_dir>/sandbox`) and never uses NEMO_TOKEN, so
    emulator tokens and real ones never mix. The emulator keeps its side (sessions, uploads, drafts,
    renders, tokens) in `<state_dir>/sandbox/emulator`, and its renders are real videos of the
    uploads, so a restart goes on where it stopped. The output folder stays the user's.
    """
    if not enabled:
        yield settings
        return
    import tempfile
    from pathlib import Path

    from .emulator import Emulator, EmulatorConfig
    from .logs import get_logger

    if not settings.state_dir.exists():  # created private here, or `sandbox/` below would leave it 0755
        with contextlib.suppress(OSError):  # the store reports an unusable state folder itself
            settings.state_dir.mkdir(mode=0o700, parents=True)
            settings.state_dir.chmod(0o700)
    log = get_logger("nemo_video_mcp.cli")
    folder = settings.state_dir / "sandbox" / "emulator"
    with contextlib.ExitStack() as stack:
        try:
            emu = Emulator(EmulatorConfig(real_media=True, data_dir=folder))
        except OSError as exc:  # an unusable state folder: the sandbox still runs (doctor says why)
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nemo-sandbox-")))
            log.warning("SANDBOX: the state folder cannot be used (%s); nothing survives a restart", exc)
            emu = Emulator(EmulatorConfig(real_media=True, data_dir=folder))
        stack.enter_context(emu)
        log.warning(SANDBOX_NOTICE.format(url=emu.url, folder=folder))
        yield settings.with_overrides(
            api_url=emu.url, state_dir=settings.state_dir / "sandbox", token=None, sandbox=True
        )


if __name__ == "__main__":  # pragma: no cover - `python -m nemo_video_mcp` uses __main__.py
    sys.exit(main())
