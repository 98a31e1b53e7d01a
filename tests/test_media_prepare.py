"""`prepare`: real media in, a checked H.264/AAC MP4 out (decodes, codecs, pixel format, size,
height, trim within one frame, the right first frame, upright, faststart), refusals that leave
nothing behind, no overwriting, cancelling."""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from pathlib import Path
from typing import Any

import av
import pytest

from media_factory import (
    MadeVideo,
    audio_level_at,
    decode_frames,
    is_upright,
    make_audio,
    make_image,
    make_video,
    read_frame_number,
)
from nemo_video_mcp.service._media_base import (
    MediaBadRequest,
    MediaCancelled,
    MediaOutputError,
    MediaUnreadable,
    MediaUnsuitable,
)
from nemo_video_mcp.service._media_prepare import prepare

LIMIT = 500 * 2**20


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MadeVideo]:
    d = tmp_path_factory.mktemp("sources")
    return {
        "cfr": make_video(d / "cfr.mp4", seconds=2.0, gop=30),
        "vfr": make_video(d / "vfr.mov", vfr=True, seconds=2.0, gop=12),
        "hevc90": make_video(
            d / "phone.mov", codec="libx265", seconds=1.5, rotation=90, width=192, height=108
        ),
        "silent": make_video(d / "silent.mp4", audio=False, rotation=270),
        "rot180": make_video(d / "r180.mov", rotation=180, seconds=1.0),
    }


def top_level_boxes(path: Path) -> list[str]:
    kinds = []
    with path.open("rb") as f:
        while head := f.read(8):
            size, kind = struct.unpack(">I4s", head)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0] - 8
            kinds.append(kind.decode("latin-1"))
            f.seek(size - 8, os.SEEK_CUR)
    return kinds


def output_facts(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        return {
            "video": v.codec_context.name,
            "pix_fmt": v.codec_context.pix_fmt,
            "size": (v.codec_context.width, v.codec_context.height),
            "audio": a.codec_context.name if a else None,
            "duration": (c.duration or 0) / 1e6,
            "audio_duration": float(a.duration * a.time_base) if a and a.duration and a.time_base else None,
        }


def assert_is_clean_mp4(path: Path, max_height: int | None = None, max_size: int = LIMIT) -> dict[str, Any]:
    facts = output_facts(path)
    assert facts["video"] == "h264"
    assert facts["pix_fmt"] == "yuv420p"
    w, h = facts["size"]
    assert w % 2 == 0
    assert h % 2 == 0
    if max_height is not None:
        assert h <= max_height
    assert path.stat().st_size <= max_size
    boxes = top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat"), boxes  # +faststart
    with av.open(str(path)) as c:  # it decodes, every frame
        assert sum(1 for _ in c.decode(video=0)) > 0
    return facts


def no_leftovers(folder: Path, *expected: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)


def test_4k_hevc_phone_video_rotated(tmp_path: Path) -> None:
    """The issue's case: a 4K HEVC .mov with a display rotation, trimmed and scaled to 720p."""
    src = make_video(tmp_path / "IMG_0001.MOV", codec="libx265", width=3840, height=2160, fps=15, rotation=90)
    out = tmp_path / "out" / "IMG_0001.mp4"
    out.parent.mkdir()
    info = prepare(src.path, out, start=0.4, max_height=720)
    facts = assert_is_clean_mp4(out, max_height=720)
    assert facts["size"] == (1280, 720)  # upright landscape: the stored picture was 2160x3840
    assert facts["audio"] == "aac"
    assert (info.width, info.height, info.rotation_applied) == (1280, 720, 90)
    frames = decode_frames(out)
    assert read_frame_number(frames[0][1]) == src.frame_at(0.4) == 6
    assert all(is_upright(img) for _t, img in frames)
    assert facts["duration"] == pytest.approx(1.0 - 0.4, abs=1 / 15)
    with av.open(str(out)) as c:  # no display matrix left: players show it as stored
        assert next(c.decode(video=0)).rotation == 0


@pytest.mark.parametrize(
    ("key", "start", "end"),
    [
        ("cfr", None, None),
        ("cfr", 0.5, 1.5),  # on frame boundaries
        ("cfr", 0.51, 1.23),  # between frames
        ("cfr", 1.99, None),  # the last frame alone
        ("vfr", 0.31, 1.77),
        ("vfr", 1.0, None),
        ("hevc90", 0.7, 1.1),
        ("rot180", 0.25, 0.75),
    ],
)
def test_trim_is_frame_accurate_with_sound_in_step(
    tmp_path: Path, clips: dict[str, MadeVideo], key: str, start: float | None, end: float | None
) -> None:
    made = clips[key]
    out = tmp_path / "cut.mp4"
    info = prepare(made.path, out, start=start, end=end)
    facts = assert_is_clean_mp4(out)
    first = made.frame_at(start or 0.0)
    frames = decode_frames(out)
    # The first frame is the one shown at `start`; then every source frame up to `end`, at the
    # source's own spacing (a variable rate stays variable).
    want = [i for i, t in enumerate(made.times) if t < (end or made.duration) - 1e-9 and i >= first]
    assert [read_frame_number(img) for _t, img in frames] == want
    shift = made.times[first]
    assert [t for t, _img in frames] == pytest.approx([made.times[i] - shift for i in want], abs=1e-3)
    assert all(is_upright(img) for _t, img in frames)
    # Length: within one frame of what was asked.
    asked = (end or made.duration) - (start or 0.0)
    one_frame = max(b - a for a, b in zip(made.times, [*made.times[1:], made.duration], strict=True))
    assert facts["duration"] == pytest.approx(asked, abs=one_frame)
    assert info.duration_seconds == pytest.approx(facts["duration"], abs=0.002)
    assert info.frames == len(want)
    assert info.start_seconds == pytest.approx(shift, abs=1e-6)
    # The sound starts where the first frame does: its loudness there is the source's at that time.
    assert facts["audio"] == "aac"
    assert facts["audio_duration"] == pytest.approx(facts["duration"], abs=0.05)
    window = min(0.05, asked / 2)
    assert audio_level_at(out, 0.0, window) == pytest.approx(
        audio_level_at(made.path, shift, window), abs=0.02
    )


def test_sound_that_starts_late_stays_in_step(tmp_path: Path) -> None:
    made = make_video(tmp_path / "late.mov", seconds=1.5, audio_delay=0.4)
    out = tmp_path / "out.mp4"
    prepare(made.path, out, start=0.1)  # the output starts 0.3 s before the sound
    facts = assert_is_clean_mp4(out)
    assert facts["audio_duration"] == pytest.approx(facts["duration"], abs=0.05)
    assert audio_level_at(out, 0.05, 0.2) < 0.01  # silence where the source has none
    assert audio_level_at(out, 0.6, 0.05) == pytest.approx(audio_level_at(made.path, 0.7, 0.05), abs=0.02)


def test_10_bit_hevc_becomes_8_bit(tmp_path: Path) -> None:
    made = make_video(tmp_path / "hdr.mov", codec="libx265", pix_fmt="yuv420p10le", rotation=90)
    info = prepare(made.path, tmp_path / "out.mp4", start=0.5)
    assert_is_clean_mp4(tmp_path / "out.mp4")  # yuv420p: 8-bit, as players and NemoVideo expect
    frames = decode_frames(tmp_path / "out.mp4")
    assert [read_frame_number(img) for _t, img in frames] == list(range(15, 30))
    assert info.frames == 15


def test_a_video_without_sound(tmp_path: Path, clips: dict[str, MadeVideo]) -> None:
    made = clips["silent"]
    info = prepare(made.path, tmp_path / "quiet.mp4", start=0.2)
    facts = assert_is_clean_mp4(tmp_path / "quiet.mp4")
    assert facts["audio"] is None
    assert info.audio_codec is None
    assert facts["size"] == (made.width, made.height)  # turned upright (rotation 270)
    frames = decode_frames(tmp_path / "quiet.mp4")
    assert read_frame_number(frames[0][1]) == made.frame_at(0.2)
    assert is_upright(frames[0][1])


@pytest.mark.parametrize(("max_height", "size"), [(1000, (160, 96)), (48, (80, 48)), (45, (74, 44))])
def test_scaled_down_never_up_to_even_sizes(tmp_path: Path, max_height: int, size: tuple[int, int]) -> None:
    made = make_video(tmp_path / "small.mp4", seconds=0.5)
    prepare(made.path, tmp_path / "out.mp4", max_height=max_height)
    assert assert_is_clean_mp4(tmp_path / "out.mp4", max_height=max_height)["size"] == size


def test_the_size_limit_is_met(tmp_path: Path) -> None:
    made = make_video(tmp_path / "noisy.mp4", width=640, height=360, seconds=3.0, noise=True)
    limit = made.path.stat().st_size // 4
    info = prepare(made.path, tmp_path / "small.mp4", max_size_bytes=limit)
    assert info.size_bytes <= limit
    assert_is_clean_mp4(tmp_path / "small.mp4", max_size=limit)
    frames = decode_frames(tmp_path / "small.mp4")
    assert [read_frame_number(img) for _t, img in frames] == list(range(90))  # every frame, still readable


def test_a_limit_too_small_is_refused_with_what_would_work(tmp_path: Path) -> None:
    made = make_video(tmp_path / "clip.mp4", width=1280, height=720, seconds=2.0)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(MediaBadRequest) as err:
        prepare(made.path, out / "x.mp4", max_size_bytes=120_000)
    assert err.value.code == "too_small_budget"
    assert "1280x720 needs at least" in str(err.value)
    assert "pixels high" in err.value.hint or "shorter range" in err.value.hint
    no_leftovers(out)


@pytest.mark.parametrize(
    ("make", "code", "text"),
    [
        (
            lambda d: make_image(d / "still.png"),
            "still_image",
            "'still.png' is a still image; only videos can be prepared.",
        ),
        (lambda d: make_image(d / "still.jpg"), "still_image", "Upload the image as it is"),
        (
            lambda d: make_audio(d / "voice.m4a"),
            "audio_only",
            "'voice.m4a' is sound only; only videos can be prepared.",
        ),
    ],
)
def test_stills_and_sound_are_refused(tmp_path: Path, make: Any, code: str, text: str) -> None:
    src = make(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(MediaUnsuitable) as err:
        prepare(src, out / "x.mp4")
    assert err.value.code == code
    assert text in str(err.value)
    no_leftovers(out)


def test_bad_ranges_are_refused(tmp_path: Path, clips: dict[str, MadeVideo]) -> None:
    src = clips["cfr"].path
    for start, end, text in [
        (2.5, None, "'cfr.mp4' lasts 2.00 s; a start at 2.5 s is not before its end."),
        (1.0, 0.5, "The end (0.5 s) is not after the start (1 s)."),
        (-1.0, None, "Times must be seconds from the start of the video"),
    ]:
        with pytest.raises(MediaBadRequest) as err:
            prepare(src, tmp_path / "x.mp4", start=start, end=end)
        assert text in str(err.value)
    no_leftovers(tmp_path)


def test_unreadable_source_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "movie.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 5000)
    with pytest.raises(
        MediaUnreadable, match=r"'movie\.mp4' is not a video, image or audio file FFmpeg can read"
    ):
        prepare(junk, tmp_path / "out.mp4")
    no_leftovers(tmp_path, "movie.mp4")


def test_never_overwrites(tmp_path: Path, clips: dict[str, MadeVideo]) -> None:
    dest = tmp_path / "taken.mp4"
    dest.write_bytes(b"someone else's file")
    with pytest.raises(MediaOutputError) as err:
        prepare(clips["cfr"].path, dest)
    assert err.value.code == "output_exists"
    assert dest.read_bytes() == b"someone else's file"

    # The name is taken while the transcode runs: the other file stays, ours is not kept.
    late = tmp_path / "late.mp4"

    def take_the_name(done: int, expected: int) -> None:
        if not late.exists():
            late.write_bytes(b"arrived meanwhile")

    with pytest.raises(MediaOutputError, match="already exists"):
        prepare(clips["cfr"].path, late, progress=take_the_name)
    assert late.read_bytes() == b"arrived meanwhile"
    no_leftovers(tmp_path, "taken.mp4", "late.mp4")


def test_cancelling_removes_the_partial_output(tmp_path: Path, clips: dict[str, MadeVideo]) -> None:
    stop = threading.Event()
    seen: list[tuple[int, int]] = []

    def progress(done: int, expected: int) -> None:
        seen.append((done, expected))
        stop.set()

    with pytest.raises(MediaCancelled):
        prepare(clips["cfr"].path, tmp_path / "never.mp4", progress=progress, cancelled=stop)
    assert seen  # it had started
    no_leftovers(tmp_path)
    with pytest.raises(MediaCancelled):
        prepare(clips["cfr"].path, tmp_path / "never.mp4", cancelled=lambda: True)
    no_leftovers(tmp_path)


def test_progress_counts_frames_and_ends_complete(tmp_path: Path, clips: dict[str, MadeVideo]) -> None:
    seen: list[tuple[int, int]] = []
    info = prepare(
        clips["cfr"].path, tmp_path / "p.mp4", start=0.5, progress=lambda d, e: seen.append((d, e))
    )
    assert seen[-1] == (info.frames, info.frames) == (45, 45)
    assert all(d <= e for d, e in seen)
    assert [d for d, _e in seen] == sorted(d for d, _e in seen)
    assert seen[0][1] == 45  # expected from the duration and frame rate before any frame


def test_the_original_is_only_read_and_any_source_kind_works(
    tmp_path: Path, clips: dict[str, MadeVideo]
) -> None:
    src = clips["hevc90"].path
    before = (hashlib.sha256(src.read_bytes()).hexdigest(), src.stat().st_mtime_ns)
    by_path = prepare(src, tmp_path / "a.mp4", start=0.3)
    fd = os.open(src, os.O_RDONLY)
    try:
        by_fd = prepare(fd, tmp_path / "b.mp4", start=0.3, name="phone.mov")
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0
    finally:
        os.close(fd)
    with src.open("rb") as f:
        by_file = prepare(f, tmp_path / "c.mp4", start=0.3)
    assert (hashlib.sha256(src.read_bytes()).hexdigest(), src.stat().st_mtime_ns) == before
    numbers = {
        name: [read_frame_number(img) for _t, img in decode_frames(tmp_path / name)]
        for name in ("a.mp4", "b.mp4", "c.mp4")
    }
    assert numbers["a.mp4"] == numbers["b.mp4"] == numbers["c.mp4"]
    assert by_path.frames == by_fd.frames == by_file.frames
