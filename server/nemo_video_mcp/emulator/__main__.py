"""`python -m nemo_video_mcp.emulator [--host 127.0.0.1] [--port 0] [--set field=value ...]`

Runs the emulator in the foreground; the first stdout line is its URL. Stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import fields
from types import FrameType
from typing import Any

from .config import EmulatorConfig
from .server import Emulator


def _config(settings: Sequence[str]) -> EmulatorConfig:
    defaults = {f.name: getattr(EmulatorConfig(), f.name) for f in fields(EmulatorConfig)}
    values: dict[str, Any] = {}
    for setting in settings:
        name, sep, raw = setting.partition("=")
        if not sep or name not in defaults:
            raise SystemExit(f"--set wants field=value with field in {sorted(defaults)}, not {setting!r}")
        default = defaults[name]
        if isinstance(default, bool):
            values[name] = raw.lower() in ("1", "true", "yes", "on")
        elif isinstance(default, int | float):
            values[name] = type(default)(float(raw)) if isinstance(default, int) else float(raw)
        elif isinstance(default, dict):
            values[name] = json.loads(raw)
        else:
            values[name] = raw
    return EmulatorConfig(**values)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nemo_video_mcp.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="an EmulatorConfig field"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with Emulator(_config(args.set), host=args.host, port=args.port) as emulator:
        print(emulator.url, flush=True)
        while not done.wait(3600):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
