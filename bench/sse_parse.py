"""SSE parsing throughput on one core: the recorded ADK streams (tests/fixtures/adk-sse/*/*.sse)
through the client's own path (`SSEDecoder` bytes -> events, then `RunAccumulator`), one decoder
and accumulator per recorded run, fed in network-sized chunks. Absolute figure: SSE events/s."""

from __future__ import annotations

import time

from .common import FIXTURES, Figure, Results, median

TARGET = 50_000
CHUNK = 4096  # a typical read from a socket; smaller than most streams, so lines do get split


def recorded_streams() -> list[bytes]:
    streams = []
    for path in sorted(FIXTURES.glob("*/*.sse")):
        hdr = path.with_suffix(".hdr")
        if hdr.exists() and "text/event-stream" not in hdr.read_text():
            continue  # a JSON answer recorded next to the streams (422, 404...)
        data = path.read_bytes()
        if b"data:" in data:
            streams.append(data)
    return streams


def count_events(stream: bytes) -> int:
    """SSE events in a stream: blocks of lines with at least one `data:` field."""
    text = stream.replace(b"\r\n", b"\n")
    return sum(
        1 for block in text.split(b"\n\n") if any(line.startswith(b"data:") for line in block.split(b"\n"))
    )


def parse_all(streams: list[bytes], rounds: int) -> tuple[int, int]:
    from nemo_video_mcp.backend._accumulator import RunAccumulator
    from nemo_video_mcp.backend._edit import SSEDecoder

    run_events = 0
    shown = 0
    for _ in range(rounds):
        for stream in streams:
            decoder = SSEDecoder()
            acc = RunAccumulator()
            for i in range(0, len(stream), CHUNK):
                for event in decoder.feed(stream[i : i + CHUNK]):
                    run_events += 1
                    if acc.feed(event):
                        shown += 1
            for event in decoder.close():
                run_events += 1
                acc.feed(event)
            acc.result()
    return run_events, shown


def run(results: Results, reps: int = 7) -> None:
    streams = recorded_streams()
    per_round = sum(count_events(s) for s in streams)
    size = sum(len(s) for s in streams)
    rounds = max(1, 200_000 // per_round)  # ~200k events per repetition
    parse_all(streams, 5)  # warm up (imports, caches)
    rates = []
    for _ in range(reps):
        t0 = time.process_time()  # CPU time of this (single-threaded) process: one core
        parse_all(streams, rounds)
        rates.append(per_round * rounds / (time.process_time() - t0))
    rate = median(rates)
    mb_s = rate / per_round * size / 1e6
    print(
        f"  {len(streams)} recorded streams, {per_round} SSE events and {size} bytes per round; "
        f"{rounds} rounds x {reps} reps; min {min(rates):,.0f} max {max(rates):,.0f} events/s"
    )
    results.add(
        Figure(
            "SSE parsing of the recorded ADK streams (decoder + accumulator)",
            "-",
            f"{rate:,.0f} events/s ({mb_s:.1f} MB/s)",
            f"{rate:,.0f} events/s",
            f">= {TARGET:,} events/s",
            rate >= TARGET,
        )
    )
