"""The local file policy: nothing outside the allowed folders, hidden, mislabelled or oversized
is ever accepted for upload, and every refusal tells the user what to do instead."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nemo_video_mcp.backend._errors import MAX_UPLOAD_BYTES, SUPPORTED_FORMATS
from nemo_video_mcp.service._formats import FORMATS, sniff
from nemo_video_mcp.service._media_policy import MediaPolicy, MediaRejected

HEADERS: dict[str, bytes] = {
    "mp4": b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2",
    "mov": b"\x00\x00\x00\x14ftypqt  \x20\x05\x03\x00qt  ",
    "avi": b"RIFF\x24\x00\x01\x00AVI LIST\x00\x00\x00\x00",
    "webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81",
    "mkv": b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81",
    "jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01",
    "jpeg": b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00II*\x00\x08",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "gif": b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00",
    "webp": b"RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00",
    "mp3": b"\xff\xfb\x90\x64\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    "wav": b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00",
    "m4a": b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A ",
    "aac": b"\xff\xf1\x50\x80\x02\x1f\xfc\x21\x00\x00\x00\x00\x00\x00\x00\x00",
}
KINDS = {"mp4": "video", "mov": "video", "avi": "video", "webm": "video", "mkv": "video", "jpg": "image",
         "jpeg": "image", "png": "image", "gif": "image", "webp": "image", "mp3": "audio", "wav": "audio",
         "m4a": "audio", "aac": "audio"}  # fmt: skip
PRIVATE_KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n"


def media(path: Path, ext: str = "mp4", size: int = 1024) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    head = HEADERS[ext]
    path.write_bytes(head + b"\x00" * max(0, size - len(head)))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake home: media folders, an SSH key, dotfiles. `~` expands to it."""
    home = tmp_path / "home" / "ana"
    for folder in ("Movies", "Desktop", "Documents", ".ssh", ".config"):
        (home / folder).mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_bytes(PRIVATE_KEY)
    (home / ".ssh" / "id_rsa").chmod(0o600)
    media(home / "Movies" / "holiday.mp4")
    media(home / "Movies" / "holiday_final.mp4")
    media(home / "Movies" / "trip" / "beach.mov", "mov")
    media(home / "Desktop" / "poster.png", "png")
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def policy(home: Path) -> MediaPolicy:
    return MediaPolicy([home / "Movies", home / "Desktop"])


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path the policy opens for reading (to prove a refused file was never read)."""
    seen: list[str] = []
    real_open = os.open

    def spy(path: str | os.PathLike[str], flags: int, *args: int, **kwargs: int) -> int:
        seen.append(os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    return seen


def rejected(policy: MediaPolicy, raw: str) -> MediaRejected:
    with pytest.raises(MediaRejected) as info:
        policy.check(raw)
    return info.value


def test_format_table_matches_the_backend_list() -> None:
    assert tuple(FORMATS) == SUPPORTED_FORMATS
    assert set(HEADERS) == set(SUPPORTED_FORMATS)


@pytest.mark.parametrize("ext", SUPPORTED_FORMATS)
def test_every_supported_format_with_real_leading_bytes_is_accepted(
    home: Path, policy: MediaPolicy, ext: str
) -> None:
    path = media(home / "Movies" / f"Clip One.{ext.upper()}", ext, size=4096)
    got = policy.check(str(path))
    assert got.path == path.resolve()
    assert (got.ext, got.kind, got.size) == (ext, KINDS[ext], 4096)


def test_tilde_quotes_and_file_urls_are_understood(home: Path, policy: MediaPolicy) -> None:
    expected = (home / "Movies" / "holiday.mp4").resolve()
    assert policy.check("~/Movies/holiday.mp4").path == expected
    assert policy.check('  "~/Movies/holiday.mp4"  ').path == expected
    media(home / "Movies" / "my clip.mp4")
    assert (
        policy.check(f"file://{home}/Movies/my%20clip.mp4").path
        == (home / "Movies" / "my clip.mp4").resolve()
    )


def test_the_ssh_key_is_refused_without_being_read(
    home: Path, policy: MediaPolicy, opened: list[str]
) -> None:
    for raw in ("~/.ssh/id_rsa", str(home / ".ssh" / "id_rsa"), "~/Movies/../.ssh/id_rsa"):
        exc = rejected(policy, raw)
        assert exc.code == "outside_roots"
        assert str(home / "Movies") in str(exc)
        assert str(home / "Desktop") in str(exc)
        assert "NEMO_MEDIA_ROOTS" in str(exc)
    assert not any("id_rsa" in p for p in opened)


def test_the_ssh_key_is_refused_even_when_the_whole_home_is_allowed(home: Path, opened: list[str]) -> None:
    policy = MediaPolicy([home])
    exc = rejected(policy, "~/.ssh/id_rsa")
    assert exc.code == "hidden"
    assert "'.ssh'" in str(exc)
    assert rejected(policy, "~/.config/../.ssh/id_rsa").code == "hidden"
    assert not any("id_rsa" in p for p in opened)
    assert policy.check("~/Movies/holiday.mp4").ext == "mp4"  # the visible part of home still works


def test_the_ssh_key_renamed_into_a_root_is_refused_by_its_content(home: Path, policy: MediaPolicy) -> None:
    disguised = home / "Movies" / "funny.mp4"
    disguised.write_bytes(PRIVATE_KEY)
    exc = rejected(policy, str(disguised))
    assert exc.code == "mismatch"
    assert "funny.mp4" in str(exc)
    assert "MP4" in str(exc)


def test_symlink_inside_a_root_pointing_outside_is_refused(
    home: Path, policy: MediaPolicy, opened: list[str]
) -> None:
    link = home / "Movies" / "clip.mp4"
    link.symlink_to(home / ".ssh" / "id_rsa")
    exc = rejected(policy, str(link))
    assert exc.code == "outside_roots"
    assert f"resolves to {home / '.ssh' / 'id_rsa'}" in str(exc)
    folder_link = home / "Desktop" / "keys"
    folder_link.symlink_to(home / ".ssh", target_is_directory=True)
    assert rejected(policy, str(folder_link / "id_rsa")).code == "outside_roots"
    assert not any("id_rsa" in p for p in opened)


def test_symlinks_that_stay_inside_the_roots_are_followed(home: Path, policy: MediaPolicy) -> None:
    link = home / "Desktop" / "shortcut.mp4"
    link.symlink_to(home / "Movies" / "holiday.mp4")
    assert policy.check(str(link)).path == (home / "Movies" / "holiday.mp4").resolve()


def test_a_root_that_is_itself_a_symlink_works(tmp_path: Path) -> None:
    real = tmp_path / "volume" / "media"
    clip = media(real / "a.mp4")
    alias = tmp_path / "alias"
    alias.symlink_to(real, target_is_directory=True)
    policy = MediaPolicy([alias])
    assert policy.check(str(alias / "a.mp4")).path == clip.resolve()
    assert policy.check(str(clip)).path == clip.resolve()


def test_hidden_files_and_folders_below_a_root_are_refused(home: Path, policy: MediaPolicy) -> None:
    hidden_dir = media(home / "Movies" / ".private" / "clip.mp4")
    hidden_file = media(home / "Movies" / ".clip.mp4")
    for path in (hidden_dir, hidden_file):
        exc = rejected(policy, str(path))
        assert exc.code == "hidden"
        assert "visible folder" in str(exc)


def test_relative_paths_are_refused_with_a_hint_and_a_guess(policy: MediaPolicy, home: Path) -> None:
    exc = rejected(policy, "holiday.mp4")
    assert exc.code == "relative"
    assert "full path" in str(exc)
    assert str(home / "Movies" / "holiday.mp4") in str(exc)
    assert rejected(policy, "../../etc/passwd").code == "relative"


def test_wrong_content_suggests_the_right_extension(home: Path, policy: MediaPolicy) -> None:
    png_named_mp4 = home / "Desktop" / "frame.mp4"
    png_named_mp4.write_bytes(HEADERS["png"] + b"\x00" * 100)
    exc = rejected(policy, str(png_named_mp4))
    assert exc.code == "mismatch"
    assert "looks like a PNG image" in str(exc)
    assert "rename it to .png" in str(exc)

    mkv_named_avi = media(home / "Movies" / "x.avi", "mkv")
    mkv_named_avi.rename(home / "Movies" / "y.avi")
    assert "rename it to .mkv" in str(rejected(policy, str(home / "Movies" / "y.avi")))

    text_mp3 = home / "Movies" / "song.mp3"
    text_mp3.write_text("I'm free, free as a bird\n")
    assert rejected(policy, str(text_mp3)).code == "mismatch"
    text_mov = home / "Movies" / "old.mov"
    text_mov.write_text("I'm free, free as a bird\n")  # 'free' at offset 4, but no box size
    assert rejected(policy, str(text_mov)).code == "mismatch"


def test_old_quicktime_without_ftyp_is_accepted(home: Path, policy: MediaPolicy) -> None:
    old = home / "Movies" / "1998.mov"
    old.write_bytes(b"\x00\x00\x00\x08wide\x01\x2a\x3b\x4cmdat" + b"\x00" * 64)
    assert policy.check(str(old)).ext == "mov"


def test_unsupported_extensions_list_the_formats(home: Path, policy: MediaPolicy) -> None:
    notes = home / "Desktop" / "notes.txt"
    notes.write_text("hello")
    exc = rejected(policy, str(notes))
    assert exc.code == "unsupported"
    assert all(ext in str(exc) for ext in SUPPORTED_FORMATS)

    photo = home / "Desktop" / "photo.jpe"
    photo.write_bytes(HEADERS["jpg"])
    assert "renamed to .jpg" in str(rejected(policy, str(photo)))
    bare = home / "Desktop" / "README"
    bare.write_text("x")
    assert "no file extension" in str(rejected(policy, str(bare)))


def test_size_limit_is_500_mb(home: Path, policy: MediaPolicy) -> None:
    exact = media(home / "Movies" / "exact.mp4")
    os.truncate(exact, MAX_UPLOAD_BYTES)  # sparse: costs no disk
    assert policy.check(str(exact)).size == MAX_UPLOAD_BYTES
    big = media(home / "Movies" / "big.mp4")
    os.truncate(big, MAX_UPLOAD_BYTES + 1)
    exc = rejected(policy, str(big))
    assert exc.code == "too_large"
    assert "500 MB" in str(exc)
    assert "Compress" in str(exc)
    assert "trim" in str(exc)

    empty = home / "Movies" / "empty.mp4"
    empty.touch()
    assert rejected(policy, str(empty)).code == "empty_file"


def test_folders_and_special_files_are_refused(home: Path, policy: MediaPolicy) -> None:
    exc = rejected(policy, str(home / "Movies"))
    assert exc.code == "not_a_file"
    assert "holiday.mp4" in str(exc)
    fifo = home / "Movies" / "pipe.mp4"
    os.mkfifo(fifo)
    assert rejected(policy, str(fifo)).code == "not_a_file"  # and the check did not hang on it
    if Path("/dev/null").exists():
        assert rejected(MediaPolicy([Path("/dev")]), "/dev/null").code == "not_a_file"


def test_missing_files_suggest_nearby_names(home: Path, policy: MediaPolicy) -> None:
    exc = rejected(policy, "~/Movies/holliday.mp4")
    assert exc.code == "not_found"
    assert str(home / "Movies" / "holiday.mp4") in str(exc)
    assert str(home / "Movies" / "holiday_final.mp4") in str(exc)

    # a wrong folder: found in the roots instead (even one level down)
    exc = rejected(policy, "~/Documents/beach.mov")
    assert str(home / "Movies" / "trip" / "beach.mov") in str(exc)


def test_missing_files_outside_the_roots_never_list_what_is_there(home: Path, policy: MediaPolicy) -> None:
    exc = rejected(policy, "~/.ssh/id_rsa2")
    assert exc.code == "not_found"
    assert "id_rsa" not in str(exc).replace("id_rsa2", "")
    for n in range(8):
        media(home / "Movies" / f"take{n}.mp4")
    exc = rejected(policy, "~/Movies/take.mp4")
    assert str(exc).count("take") <= 6  # the given name plus at most 5 suggestions


def test_suggestions_never_follow_a_linked_folder_out_of_the_roots(home: Path, policy: MediaPolicy) -> None:
    (home / "Movies" / "keys").symlink_to(home / ".ssh", target_is_directory=True)
    exc = rejected(policy, "~/Documents/id_rsa")
    assert exc.code == "not_found"
    assert ".ssh" not in str(exc)
    assert "keys" not in str(exc)


def test_no_roots_means_nothing_is_accepted(home: Path) -> None:
    exc = rejected(MediaPolicy([]), str(home / "Movies" / "holiday.mp4"))
    assert exc.code == "no_roots"
    assert "NEMO_MEDIA_ROOTS" in str(exc)


def test_empty_and_nul_paths(policy: MediaPolicy) -> None:
    assert rejected(policy, "   ").code == "empty"
    assert rejected(policy, "/tmp/a\x00b.mp4").code == "empty"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xfb\x90\x64", "mpeg-audio"),  # MPEG-1 layer III
        (b"\xff\xf3\x90\x64", "mpeg-audio"),  # MPEG-2 layer III
        (b"\xff\xe3\x90\x64", "mpeg-audio"),  # MPEG-2.5 layer III
        (b"\xff\xeb\x90\x64", None),  # reserved MPEG version
        (b"\xff\xf1\x50\x80", "adts"),
        (b"\xff\xf9\x50\x80", "adts"),
        (b"ADIF\x00\x00", "adif"),
        (b"ID3\x04\x00", "id3"),
        (b"RIFF\x00\x00\x00\x00XXXX", None),
        (b"", None),
        (b"\xff", None),
    ],
)
def test_sniff_audio_and_edge_cases(head: bytes, expected: str | None) -> None:
    assert sniff(head) == expected
