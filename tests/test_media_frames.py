"""Frames the assistant can look at: the picture shown at each time asked for, upright; a contact
sheet that is one small JPEG with the right tiles; readable refusals."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from PIL import Image

from media_factory import MadeVideo, is_upright, make_audio, make_image, make_video, read_frame_number
from nemo_video_mcp.service._media_base import (
    MediaBadRequest,
    MediaCancelled,
    MediaUnreadable,
    MediaUnsuitable,
)
from nemo_video_mcp.service._media_frames import grab_frames
from nemo_video_mcp.service._media_sheet import contact_sheet, sheet_times

TIMES = [0.0, 0.95, 0.5, 0.51, 0.2, 0.5, 0.999, 0.034]  # any order, repeats, between frames


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MadeVideo]:
    d = tmp_path_factory.mktemp("frames")
    return {
        "hevc90": make_video(d / "phone.mov", codec="libx265", rotation=90),
        "rot180": make_video(d / "r180.mov", rotation=180),
        "rot270": make_video(d / "r270.mp4", rotation=270),
        "vfr": make_video(d / "vfr.mp4", vfr=True),
        "long_gop": make_video(d / "gop.mp4", seconds=3.0, gop=90),
        "short_gop": make_video(d / "gop5.mp4", seconds=3.0, gop=5),
    }


@pytest.mark.parametrize("key", ["hevc90", "rot180", "rot270", "vfr"])
def test_each_time_gets_the_frame_shown_then_upright(clips: dict[str, MadeVideo], key: str) -> None:
    made = clips[key]
    frames = grab_frames(made.path, TIMES)
    assert [f.requested for f in frames] == TIMES
    for f in frames:
        assert read_frame_number(f.image) == made.frame_at(f.requested), f
        assert f.seconds == pytest.approx(made.times[made.frame_at(f.requested)], abs=1e-4)
        assert is_upright(f.image)
        assert f.image.size == (made.width, made.height)


@pytest.mark.parametrize("key", ["long_gop", "short_gop"])
def test_seeking_back_and_forth_across_keyframes(clips: dict[str, MadeVideo], key: str) -> None:
    made = clips[key]
    times = [2.9, 0.1, 1.5, 1.49, 2.0, 0.0, 2.95, 1.0]
    got = [read_frame_number(f.image) for f in grab_frames(made.path, times)]
    assert got == [made.frame_at(t) for t in times]


def test_pictures_are_scaled_to_fit_the_box(tmp_path: Path) -> None:
    made = make_video(tmp_path / "wide.mp4", width=640, height=360, rotation=90, audio=False)
    (frame,) = grab_frames(made.path, [0.5], box=(320, 320))
    assert frame.image.size == (320, 180)
    assert is_upright(frame.image)
    assert read_frame_number(frame.image) == made.frame_at(0.5)
    (full,) = grab_frames(made.path, [0.5], box=None)
    assert full.image.size == (640, 360)


def test_a_descriptor_or_file_object_works_too(clips: dict[str, MadeVideo]) -> None:
    import os

    made = clips["rot180"]
    fd = os.open(made.path, os.O_RDONLY)
    try:
        assert [read_frame_number(f.image) for f in grab_frames(fd, [0.3, 0.7])] == [9, 21]
    finally:
        os.close(fd)
    with made.path.open("rb") as f:
        assert [read_frame_number(g.image) for g in grab_frames(f, [0.7])] == [21]


def test_refusals_are_readable(tmp_path: Path, clips: dict[str, MadeVideo]) -> None:
    with pytest.raises(MediaBadRequest) as err:
        grab_frames(clips["vfr"].path, [0.5, 4.0])
    assert str(err.value) == "'vfr.mp4' lasts 1.00 s; 4 s is outside it. Ask for times from 0 to 1.00."
    sound = make_audio(tmp_path / "voice.m4a")
    with pytest.raises(MediaUnsuitable, match=r"'voice.m4a' is sound only: it has no pictures to show"):
        grab_frames(sound, [0.5])
    with pytest.raises(MediaUnsuitable):
        contact_sheet(sound)
    junk = tmp_path / "clip.mov"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(
        MediaUnreadable, match=r"'clip.mov' is not a video, image or audio file FFmpeg can read"
    ):
        contact_sheet(junk)


def test_cancelling_stops_between_frames(clips: dict[str, MadeVideo]) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(MediaCancelled):
        grab_frames(clips["vfr"].path, [0.1, 0.2], cancelled=stop)
    with pytest.raises(MediaCancelled):
        contact_sheet(clips["vfr"].path, cancelled=lambda: True)


def _tiles(sheet: Image.Image, columns: int, rows: int) -> list[Image.Image]:
    tw, th = sheet.width // columns, sheet.height // rows
    return [
        sheet.crop((c * tw, r * th, (c + 1) * tw, (r + 1) * th)) for r in range(rows) for c in range(columns)
    ]


@pytest.mark.parametrize("count", [6, 4, 9])
def test_contact_sheet_has_count_tiles_of_evenly_spaced_frames(
    clips: dict[str, MadeVideo], count: int
) -> None:
    made = clips["hevc90"]
    sheet = contact_sheet(made.path, count=count)
    assert sheet.kind == "video"
    assert len(sheet.times) == count
    assert sheet.columns * sheet.rows >= count > (sheet.columns - 1) * sheet.rows
    image = Image.open(io.BytesIO(sheet.jpeg))
    assert image.format == "JPEG"
    assert image.size == (sheet.width, sheet.height)
    tiles = _tiles(image, sheet.columns, sheet.rows)
    wanted = [made.frame_at(t) for t in sheet_times(made.duration, count)]
    assert [read_frame_number(t) for t in tiles[:count]] == wanted
    assert all(is_upright(t) for t in tiles[:count])
    assert list(sheet.times) == pytest.approx([made.times[n] for n in wanted], abs=1e-4)


def test_contact_sheet_of_a_4k_hevc_video_is_small(tmp_path: Path) -> None:
    made = make_video(
        tmp_path / "4k.mov", codec="libx265", width=3840, height=2160, fps=10, seconds=1.0, noise=True
    )
    sheet = contact_sheet(made.path)
    assert len(sheet.jpeg) < 200_000
    image = Image.open(io.BytesIO(sheet.jpeg))
    tiles = _tiles(image, sheet.columns, sheet.rows)
    assert [read_frame_number(t) for t in tiles[:6]] == [made.frame_at(t) for t in sheet_times(1.0, 6)]


def test_contact_sheet_shrinks_until_it_fits(tmp_path: Path) -> None:
    made = make_video(tmp_path / "noisy.mp4", width=1280, height=720, seconds=0.5, noise=True, audio=False)
    roomy = contact_sheet(made.path)
    tight = contact_sheet(made.path, max_bytes=25_000)
    assert len(roomy.jpeg) > 25_000  # noise does not compress: the small one had to shrink
    assert len(tight.jpeg) <= 25_000
    assert tight.width < roomy.width
    Image.open(io.BytesIO(tight.jpeg)).verify()


def test_contact_sheet_of_a_still_image_is_the_image(tmp_path: Path) -> None:
    big = make_image(tmp_path / "poster.png", width=2400, height=1600, number=77)
    sheet = contact_sheet(big)
    assert (sheet.kind, sheet.times, sheet.columns, sheet.rows) == ("image", (), 1, 1)
    image = Image.open(io.BytesIO(sheet.jpeg))
    assert image.format == "JPEG"
    assert max(image.size) <= 960
    assert image.size[0] / image.size[1] == pytest.approx(1.5, abs=0.01)
    assert read_frame_number(image) == 77
    small = make_image(tmp_path / "icon.jpg", width=200, height=120, number=3)
    assert Image.open(io.BytesIO(contact_sheet(small).jpeg)).size == (200, 120)
    assert [read_frame_number(f.image) for f in grab_frames(small, [0.0, 5.0])] == [3, 3]
