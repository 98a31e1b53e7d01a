"""Spawn to `tools/list` answered, over stdio, as a host does it (spawn, initialize, initialized,
tools/list). Subject: `nemo-video-mcp` with the emulator URL in its environment (and, reported
too, `nemo-video-mcp --sandbox`, which starts its own emulator). Baseline: bench/minimal_server.py,
the smallest `MCPServer` with one tool, spawned the same way with the same Python."""

from __future__ import annotations

from pathlib import Path

from .common import PY, ROOT, Figure, Results, base_env, median, now, quartiles
from .mcp_stdio import StdioMCP
from .procs import EmulatorProcess
from .server_proc import SERVER

TARGET = 1.3
MINIMAL = str(ROOT / "bench" / "minimal_server.py")


def spawn_to_tools(args: list[str], env: dict[str, str], stderr: Path) -> tuple[float, float, float]:
    """(seconds to tools/list answered, CPU seconds of the process from spawn to exit, tools)."""
    server = StdioMCP(args, env, stderr=stderr)
    try:
        server.initialize()
        tools = server.tools()
        wall = now() - server.t0
    finally:
        server.close()
    return wall, server.cpu_seconds or float("nan"), len(tools)


def _ms(values: list[float]) -> str:
    lo, hi = quartiles(values)
    return f"{median(values) * 1000:.0f} ms (IQR {lo * 1000:.0f}-{hi * 1000:.0f})"


def run(results: Results, work: Path, reps: int = 15) -> None:
    log = work / "startup-stderr.log"
    with EmulatorProcess() as emu:
        env = base_env(work, emu.url)
        sandbox_env = {k: v for k, v in env.items() if k not in ("NEMO_API_URL", "NEMO_TOKEN")}
        kinds = {
            "baseline": ([PY, MINIMAL], env),
            "subject": ([SERVER], env),
            "sandbox": ([SERVER, "--sandbox"], sandbox_env),
        }
        for args, e in kinds.values():  # warm the OS file cache and the bytecode
            spawn_to_tools(args, e, log)
        times: dict[str, list[float]] = {k: [] for k in kinds}
        cpus: dict[str, list[float]] = {k: [] for k in kinds}
        order = list(kinds)
        for i in range(reps):
            for kind in order[i % 3 :] + order[: i % 3]:  # rotate who goes first
                args, e = kinds[kind]
                wall, cpu, n = spawn_to_tools(args, e, log)
                times[kind].append(wall)
                cpus[kind].append(cpu)
                if kind != "baseline" and n < 2:
                    raise RuntimeError(f"{kind}: tools/list gave {n} tools")
    for kind in kinds:
        print(f"  {kind}: tools/list answered {_ms(times[kind])}; CPU spawn to exit {_ms(cpus[kind])}")
    base, base_cpu = median(times["baseline"]), median(cpus["baseline"])
    ratio = median(times["subject"]) / base
    results.add(
        Figure(
            "spawn to tools/list answered, stdio (emulator URL in env)",
            _ms(times["baseline"]),
            _ms(times["subject"]),
            f"{ratio:.2f}x",
            f"<= {TARGET}x",
            ratio <= TARGET,
        )
    )
    ratio = median(cpus["subject"]) / base_cpu
    results.add(
        Figure(
            "same, CPU time of the process spawn to exit (less noisy)",
            _ms(cpus["baseline"]),
            _ms(cpus["subject"]),
            f"{ratio:.2f}x",
            f"<= {TARGET}x",
            ratio <= TARGET,
        )
    )
    ratio = median(times["sandbox"]) / base
    results.add(
        Figure(
            "spawn to tools/list answered, stdio, --sandbox",
            _ms(times["baseline"]),
            _ms(times["sandbox"]),
            f"{ratio:.2f}x",
            "(informative)",
            None,
            "also starts its own emulator",
        )
    )
