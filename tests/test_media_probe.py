"""The probe: exact facts of real media made by the tests, read without reading the media data;
readable refusals of what FFmpeg cannot read; the `prepare_media` arguments that fit a video."""

from __future__ import annotations

import io
import os
from pathlib import Path

import av
import pytest

from media_factory import MadeVideo, make_audio, make_image, make_video
from nemo_video_mcp.service._media_base import MediaUnreadable
from nemo_video_mcp.service._media_plan import propose_fit
from nemo_video_mcp.service._media_prepare import prepare
from nemo_video_mcp.service._media_probe import MediaProbe, probe
from nemo_video_mcp.tools._media_words import prepare_arguments, prepare_call


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MadeVideo | Path]:
    d = tmp_path_factory.mktemp("probe")
    return {
        "hevc_rot90": make_video(d / "phone.mov", codec="libx265", width=160, height=96, rotation=90),
        "rot180": make_video(d / "r180.mov", rotation=180),
        "rot270": make_video(d / "r270.mp4", rotation=270),
        "vfr": make_video(d / "vfr.mp4", vfr=True),
        "silent": make_video(d / "silent.mp4", audio=False, seconds=2.0, fps=25),
        "m4a": make_audio(d / "tone.m4a", seconds=1.5),
        "png": make_image(d / "still.png", width=320, height=200),
        "jpg": make_image(d / "still.jpg", width=200, height=320),
    }


def _video(media: dict[str, MadeVideo | Path], key: str) -> MadeVideo:
    made = media[key]
    assert isinstance(made, MadeVideo)
    return made


def test_rotated_hevc_mov_facts_are_exact(media: dict[str, MadeVideo | Path]) -> None:
    made = _video(media, "hevc_rot90")
    got = probe(made.path)
    assert got.kind == "video"
    assert got.container == "MP4/MOV"
    assert got.video_codec == "hevc"
    assert (got.width, got.height, got.rotation) == (160, 96, 90)  # as displayed: stored 96x160
    assert got.frame_rate == 30.0
    assert got.variable_frame_rate is False
    assert got.frame_count == 30
    assert got.duration_seconds == pytest.approx(1.0, abs=0.001)
    assert (got.audio_codec, got.audio_channels, got.audio_sample_rate) == ("aac", 1, 48000)
    assert got.size_bytes == made.path.stat().st_size
    assert got.pixel_format == "yuv420p"
    assert "HEVC 160x96 (rotated 90°)" in got.summary()


@pytest.mark.parametrize(("key", "rotation"), [("rot180", 180), ("rot270", 270)])
def test_rotation_is_read_from_the_display_matrix(
    media: dict[str, MadeVideo | Path], key: str, rotation: int
) -> None:
    got = probe(_video(media, key).path)
    assert got.rotation == rotation
    assert (got.width, got.height) == (160, 96)


def test_variable_frame_rate_is_detected(media: dict[str, MadeVideo | Path]) -> None:
    made = _video(media, "vfr")
    got = probe(made.path)
    assert got.variable_frame_rate is True
    assert got.frame_count == len(made.times)
    assert got.duration_seconds == pytest.approx(made.duration, abs=0.001)
    assert "(variable)" in got.summary()


def test_video_without_sound(media: dict[str, MadeVideo | Path]) -> None:
    got = probe(_video(media, "silent").path)
    assert got.kind == "video"
    assert got.audio_codec is None
    assert got.frame_rate == 25.0
    assert got.duration_seconds == pytest.approx(2.0, abs=0.001)
    assert "no sound" in got.summary()
    assert "audio_codec" not in got.facts()


def test_sound_only_and_still_images(media: dict[str, MadeVideo | Path]) -> None:
    m4a = probe(media["m4a"])  # type: ignore[arg-type]
    assert (m4a.kind, m4a.video_codec, m4a.audio_codec) == ("audio", None, "aac")
    assert m4a.duration_seconds == pytest.approx(1.5, abs=0.03)
    png = probe(media["png"])  # type: ignore[arg-type]
    assert (png.kind, png.container, png.width, png.height, png.duration_seconds) == (
        "image",
        "PNG image",
        320,
        200,
        None,
    )
    jpg = probe(media["jpg"])  # type: ignore[arg-type]
    assert (jpg.kind, jpg.container, jpg.width, jpg.height) == ("image", "JPEG image", 200, 320)


def test_path_file_object_and_descriptor_give_the_same_facts(media: dict[str, MadeVideo | Path]) -> None:
    path = _video(media, "hevc_rot90").path
    expected = probe(path)
    assert probe(str(path)) == expected
    with path.open("rb") as f:
        f.seek(123)  # wherever the caller left it
        assert probe(f, name="phone.mov") == expected
    fd = os.open(path, os.O_RDONLY)
    try:
        os.lseek(fd, 77, os.SEEK_SET)
        assert probe(fd, name="phone.mov") == expected
        assert os.lseek(fd, 0, os.SEEK_CUR) == 77  # the descriptor's offset did not move
        os.fstat(fd)  # and it is still open
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    ("name", "codec", "container", "audio"),
    [
        ("clip.webm", "libvpx-vp9", "Matroska/WebM", False),
        ("clip.mkv", "libx264", "Matroska/WebM", True),
        ("clip.avi", "mpeg4", "AVI", False),
    ],
)
def test_other_containers_nemovideo_accepts(
    tmp_path: Path, name: str, codec: str, container: str, audio: bool
) -> None:
    made = make_video(tmp_path / name, codec=codec, audio=audio)
    got = probe(made.path)
    assert (got.kind, got.container, got.width, got.height, got.frame_rate) == (
        "video",
        container,
        160,
        96,
        30.0,
    )
    assert got.duration_seconds == pytest.approx(1.0, abs=0.05)
    assert (got.audio_codec is not None) is audio


def test_sound_without_a_container_header(tmp_path: Path) -> None:
    got = probe(make_audio(tmp_path / "voice.aac", seconds=2.0))  # ADTS: AAC frames, no header
    assert (got.kind, got.container, got.audio_codec, got.audio_sample_rate) == (
        "audio",
        "AAC (ADTS)",
        "aac",
        44100,
    )
    assert got.duration_seconds == pytest.approx(2.0, abs=0.15)  # estimated from the bit rate


class CountingReader(io.RawIOBase):
    """A file object that counts the bytes read through it."""

    def __init__(self, path: Path) -> None:
        self.f = path.open("rb")
        self.read_bytes = 0

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        n = self.f.readinto(buffer)
        self.read_bytes += n or 0
        return n or 0

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.f.seek(offset, whence)

    def tell(self) -> int:
        return self.f.tell()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self.f.close()
        super().close()


def test_the_probe_reads_headers_not_the_media_data(tmp_path: Path) -> None:
    # Noise makes a big file from small pictures, and big frames: the first keyframe alone is over
    # 100 KB. The index (moov) is at the end, as phones write it.
    made = make_video(tmp_path / "big.mov", width=960, height=540, seconds=1.0, noise=True)
    size = made.path.stat().st_size
    assert size > 2_000_000
    with av.open(str(made.path)) as c:
        first_keyframe = next(p.size for p in c.demux(video=0) if p.is_keyframe)
    assert first_keyframe > 100_000
    reader = CountingReader(made.path)
    try:
        got = probe(reader, name="big.mov")  # type: ignore[arg-type]
    finally:
        reader.close()
    assert (got.frame_count, got.audio_codec, got.pixel_format, got.frame_rate) == (
        30,
        "aac",
        "yuv420p",
        30.0,
    )
    # The first 32 KB read (the file's header) and the index at the end: never the first frame.
    assert reader.read_bytes < min(first_keyframe, 100_000), f"read {reader.read_bytes} of {size} bytes"


def test_what_ffmpeg_cannot_read_is_refused_readably(
    tmp_path: Path, media: dict[str, MadeVideo | Path]
) -> None:
    garbage = tmp_path / "holiday.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(4000))
    with pytest.raises(MediaUnreadable) as err:
        probe(garbage)
    assert err.value.code == "undecodable"
    assert str(err.value).startswith("'holiday.mp4' is not a video, image or audio file FFmpeg can read (")
    assert "export it again" in str(err.value)

    # The first half of a real MP4 whose index is at its end: a copy that stopped midway.
    whole = _video(media, "silent").path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(MediaUnreadable) as err:
        probe(cut)
    assert err.value.code == "undecodable"

    empty = tmp_path / "empty.mov"
    empty.touch()
    with pytest.raises(MediaUnreadable, match=r"'empty.mov' is empty \(0 bytes\)"):
        probe(empty)

    with pytest.raises(MediaUnreadable) as err:
        probe(tmp_path / "gone.mp4")
    assert err.value.code == "not_readable"
    assert "'gone.mp4' cannot be opened (No such file or directory)" in str(err.value)


# ---- the proposal ---------------------------------------------------------------------------

MB = 2**20


def _fake(**changes: object) -> MediaProbe:
    base: dict[str, object] = {
        "kind": "video",
        "container": "MP4/MOV",
        "format_name": "mov,mp4,m4a,3gp,3g2,mj2",
        "size_bytes": 1500 * MB,
        "duration_seconds": 600.0,
        "video_codec": "hevc",
        "width": 3840,
        "height": 2160,
        "rotation": 0,
        "frame_rate": 30.0,
        "variable_frame_rate": False,
        "frame_count": 18000,
        "pixel_format": "yuv420p",
        "audio_codec": "aac",
        "audio_channels": 2,
        "audio_sample_rate": 48000,
        "bit_rate": None,
    }
    base.update(changes)
    return MediaProbe(**base)  # type: ignore[arg-type]


def test_no_proposal_for_what_fits_or_is_not_a_video() -> None:
    assert propose_fit(_fake(size_bytes=400 * MB)) is None
    assert propose_fit(_fake(kind="audio", video_codec=None, width=None, height=None)) is None
    assert propose_fit(_fake(kind="image", duration_seconds=None)) is None


def test_a_long_4k_video_is_proposed_at_1080p() -> None:
    got = propose_fit(_fake())
    assert got is not None
    assert prepare_arguments(got) == {"max_height": 1080, "max_size_mb": 500}
    assert (got.output_width, got.output_height) == (1920, 1080)
    assert 5_000_000 < got.video_bitrate < 8_000_000  # 500 MB over 10 minutes, sound kept
    assert prepare_call(got, "/m/a.mov") == "prepare_media(path='/m/a.mov', max_height=1080, max_size_mb=500)"


def test_a_1080p_video_a_little_too_big_keeps_its_size() -> None:
    got = propose_fit(_fake(width=1920, height=1080, size_bytes=800 * MB, duration_seconds=900.0))
    assert got is not None
    assert got.max_height is None
    assert prepare_arguments(got) == {"max_size_mb": 500}


def test_portrait_video_asks_for_the_height_of_its_class() -> None:
    got = propose_fit(_fake(width=2160, height=3840))
    assert got is not None
    assert (got.max_height, got.output_width, got.output_height) == (1920, 1080, 1920)


def test_very_long_videos_get_a_smaller_picture_then_a_trim() -> None:
    three_hours = propose_fit(
        _fake(width=1920, height=1080, duration_seconds=3 * 3600.0, size_bytes=4000 * MB)
    )
    assert three_hours is not None
    assert three_hours.max_height is not None
    assert three_hours.max_height < 720
    assert three_hours.end_seconds is None
    day = propose_fit(_fake(width=1920, height=1080, duration_seconds=24 * 3600.0, size_bytes=9000 * MB))
    assert day is not None
    assert day.start_seconds == 0.0
    assert day.end_seconds is not None
    assert 600 < day.end_seconds < 3 * 3600
    assert day.max_height == 720
    assert "too long" in day.reason


def test_the_proposal_really_fits(tmp_path: Path) -> None:
    """A real clip and a limit a third of its size: the proposed call makes a file under the limit."""
    made = make_video(tmp_path / "noisy.mp4", width=640, height=360, seconds=2.0, noise=True)
    size = made.path.stat().st_size
    limit = size // 3
    got = propose_fit(probe(made.path), max_bytes=limit)
    assert got is not None
    args = prepare_arguments(got)
    info = prepare(
        made.path,
        tmp_path / "fits.mp4",
        start=args.get("start_seconds"),
        end=args.get("end_seconds"),
        max_height=args.get("max_height"),  # type: ignore[arg-type]
        max_size_bytes=limit,
    )
    assert info.size_bytes <= limit
    assert (tmp_path / "fits.mp4").stat().st_size == info.size_bytes


def test_importing_the_media_modules_loads_neither_pyav_nor_pillow() -> None:
    """Server start-up must not move: FFmpeg and Pillow load when the first media call runs."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from nemo_video_mcp.service import _media_frames, _media_plan, _media_prepare, _media_probe\n"
        "from nemo_video_mcp.service import _media_sheet\n"
        "print(sorted(m for m in ('av', 'PIL') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
