"""GUI-talk translation (`translate` of service/_gui.py: "click Export" -> "use export_video") on
long replies: CPU time of one process for a reply 4 times as long as the baseline reply, divided by
4. A rule that backtracks shows as a ratio far above 1 (the suite's test of a 45,000-word reply
only checks what comes out)."""

from __future__ import annotations

import time

from .common import Figure, Results, median, quartiles, rotate

TARGET = 1.5  # <= 1.5x: linear in the length, with room for noise
UNIT = ("click drag " * 500) + ("打开 拖拽 点击 " * 500) + ("open the " * 500)  # 4,500 words


def _cpu_ms(text: str) -> float:
    from nemo_video_mcp.service._gui import translate

    t0 = time.process_time()
    translate(text)
    return (time.process_time() - t0) * 1000


def run(results: Results, reps: int = 9) -> None:
    short, long = UNIT * 10, UNIT * 40  # 45,000 and 180,000 words
    _cpu_ms(short)  # warm up (imports, compiled patterns)
    times = rotate(reps, {"short": lambda: _cpu_ms(short), "long": lambda: _cpu_ms(long) / 4})
    base, subject = median(times["short"]), median(times["long"])
    (b1, b3), (s1, s3) = quartiles(times["short"]), quartiles(times["long"])
    results.add(
        Figure(
            "GUI-talk translation of a long reply, per 45,000 words: 180,000-word reply vs 45,000-word reply",
            f"{base:.0f} ms (IQR {b1:.0f}-{b3:.0f})",
            f"{subject:.0f} ms (IQR {s1:.0f}-{s3:.0f})",
            f"{subject / base:.2f}x",
            f"<= {TARGET}x",
            subject / base <= TARGET,
        )
    )
