"""`check_credits` through MCP over stdio against the backend client's own `get_credits`, both on
the same emulator (its own process). Subject: tools/call answered, timed by a bare stdio client.
Baseline: NemoClient.get_credits timed inside a process of its own (no MCP, no pipes)."""

from __future__ import annotations

from pathlib import Path

from .common import Figure, Results, base_env, median, now, quartiles
from .procs import EmulatorProcess, client_worker
from .server_proc import start_server

TARGET_MS = 2.0
BATCH = 25


def _ms(values: list[float]) -> str:
    lo, hi = quartiles(values)
    return f"{median(values) * 1000:.2f} ms (IQR {lo * 1000:.2f}-{hi * 1000:.2f})"


def run(results: Results, work: Path, rounds: int = 10) -> None:
    with EmulatorProcess() as emu:
        env = base_env(work, emu.url)
        server = start_server(env, work)
        try:
            with client_worker(env) as worker:
                for _ in range(BATCH):  # warm up both: connections, token, caches
                    server.call("check_credits")
                worker.request(op="credits", n=BATCH)
                base: list[float] = []
                subj: list[float] = []
                for i in range(rounds):
                    for turn in (0, 1) if i % 2 == 0 else (1, 0):
                        if turn == 0:
                            base += worker.request(op="credits", n=BATCH)["seconds"]
                        else:
                            for _ in range(BATCH):
                                t0 = now()
                                server.call("check_credits")
                                subj.append(now() - t0)
        finally:
            server.close()
    extra = (median(subj) - median(base)) * 1000
    results.add(
        Figure(
            "check_credits round trip over stdio vs NemoClient.get_credits",
            _ms(base),
            _ms(subj),
            f"+{extra:.2f} ms ({median(subj) / median(base):.2f}x)",
            f"<= +{TARGET_MS:g} ms",
            extra <= TARGET_MS,
            f"median of {len(subj)} calls each",
        )
    )
