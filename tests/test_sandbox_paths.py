"""backend/sandbox.py and state_items.py: drafts naming media by `/mnt/userdata/...` paths are
rewritten to the CDN URL of the same file; `generated_media` / `video_analyses` read in any shape."""

from __future__ import annotations

import copy
from typing import Any

from nemo_video_mcp.backend import (
    SessionState,
    UploadedFile,
    is_sandbox_path,
    known_media,
    rewrite_sandbox_paths,
    state_items,
)

CDN = "https://cdn.nemovideo.ai/u/anon_1/s/123"

# A realistic draft as NemoVideo's agent writes it in its sandbox: its own short keys, unknown
# keys, and media named by sandbox path, by CDN URL, or (once) by a file nobody uploaded.
DRAFT: dict[str, Any] = {
    "t": [
        {
            "tt": 0,
            "m": {"name": "Video"},
            "sg": [
                {"s": 0, "d": 8000, "m": {"name": "beach", "src": "/mnt/userdata/uploads/Beach%20Day.mp4"}},
                {"s": 8000, "d": 5000, "m": {"name": "sunset", "src": f"{CDN}/sunset.mov", "fx": ["blur"]}},
                {"s": 13000, "d": 5000, "m": {"src": "file:///mnt/userdata/generated/generated_image_1.png"}},
            ],
        },
        {
            "tt": 1,
            "sg": [
                {
                    "s": 0,
                    "d": 18000,
                    "m": {"name": "Lo-fi", "src": "/mnt/userdata/music/lofi.mp3", "volume": 0.35},
                }
            ],
        },
        {"tt": 7, "sg": [{"s": 0, "d": 3000, "m": {"text": "/mnt/userdata is a folder", "font": "Inter"}}]},
    ],
    "d": 18000,
    "v": 7,
    "cv": "nemo-3.2",
    "assets": {"thumb": "/mnt/userdata/uploads/beach day.mp4"},
}


def uploads() -> list[UploadedFile]:
    return [
        UploadedFile(filename="Beach Day.mp4", cdn_url=f"{CDN}/Beach%20Day.mp4", file_type="video"),
        UploadedFile(filename="sunset.mov", cdn_url=f"{CDN}/sunset.mov", file_type="video"),
    ]


def test_paths_are_rewritten_to_the_cdn_url_of_the_same_file() -> None:
    state = SessionState.model_validate(
        {
            "draft": DRAFT,
            "video_infos": [{"filename": "sunset.mov", "cdn_url": f"{CDN}/sunset.mov"}],
            "generated_media": [
                {"type": "image", "name": "generated_image_1.png", "url": f"{CDN}/gen/generated_image_1.png"}
            ],
        }
    )
    before = copy.deepcopy(DRAFT)
    out = rewrite_sandbox_paths(DRAFT, known_media(uploads(), state))
    assert before == DRAFT  # the input is never changed
    video = out.draft["t"][0]["sg"]
    assert video[0]["m"]["src"] == f"{CDN}/Beach%20Day.mp4"  # percent-encoded path, matched by name
    assert video[1]["m"] == {"name": "sunset", "src": f"{CDN}/sunset.mov", "fx": ["blur"]}
    assert video[2]["m"]["src"] == f"{CDN}/gen/generated_image_1.png"  # from generated_media
    assert out.draft["assets"]["thumb"] == f"{CDN}/Beach%20Day.mp4"  # case-insensitive name
    assert out.draft["t"][2]["sg"][0]["m"]["text"] == "/mnt/userdata is a folder"  # not a path
    assert out.draft["cv"] == "nemo-3.2"
    assert out.draft["v"] == 7
    # the one nobody uploaded stays, and is named
    assert out.draft["t"][1]["sg"][0]["m"]["src"] == "/mnt/userdata/music/lofi.mp3"
    assert out.unmatched == ["lofi.mp3"]
    assert set(out.rewritten) == {
        "/mnt/userdata/uploads/Beach%20Day.mp4",
        "file:///mnt/userdata/generated/generated_image_1.png",
        "/mnt/userdata/uploads/beach day.mp4",
    }
    assert out.changed


def test_nothing_to_rewrite() -> None:
    plain = {"t": [{"tt": 0, "sg": [{"d": 1000, "m": {"src": f"{CDN}/a.mp4"}}]}]}
    out = rewrite_sandbox_paths(plain, known_media(uploads()))
    assert out.draft == plain
    assert not out.changed
    assert out.unmatched == []
    assert rewrite_sandbox_paths({}, {}).draft == {}


def test_known_media_from_every_source_shape() -> None:
    names = known_media(
        {"video_infos": {"clip.mp4": {"cdn_url": f"{CDN}/clip.mp4"}}, "generated_media": None},
        [{"name": "song", "url": f"{CDN}/music/song.mp3"}],  # a name without extension: the URL's
        {"name": "local.png", "path": "/mnt/userdata/local.png"},  # no http URL: not a source
        None,
        "garbage",
    )
    assert names["clip.mp4"] == f"{CDN}/clip.mp4"
    assert names["song.mp3"] == f"{CDN}/music/song.mp3"
    assert "local.png" not in names
    assert is_sandbox_path("/mnt/userdata/x.mp4")
    assert not is_sandbox_path("/mnt/other/x.mp4")


def test_state_items_read_lists_objects_urls_and_inline_data() -> None:
    listed = state_items(
        [
            {"type": "json", "name": "video_data_1.json", "data": {"scenes": [1, 2]}},
            {
                "type": "image",
                "name": "img.png",
                "url": f"{CDN}/img.png",
                "size": 2048,
                "created_at": "2025-01-01T00:00:00Z",
            },
            {"id": "analysis_1", "data": {"objects": ["car"]}, "url": f"{CDN}/analysis_1.json"},
            {"weird": True},
            "https://cdn/x.mp4",
            42,
        ]
    )
    assert [i.recognised for i in listed] == [True, True, True, False, True, False]
    assert listed[0].data == {"scenes": [1, 2]}
    assert listed[0].url is None
    assert (listed[1].url, listed[1].size, listed[1].kind) == (f"{CDN}/img.png", 2048, "image")
    assert listed[1].created_at == "2025-01-01T00:00:00Z"
    assert listed[2].url
    assert listed[2].data == {"objects": ["car"]}
    assert listed[2].name == "analysis_1"
    assert listed[3].keys == ["weird"]
    assert listed[4].url == "https://cdn/x.mp4"
    keyed = state_items({"analysis_1": {"data": {"a": 1}}, "clip.mp4": f"{CDN}/clip.mp4"})
    assert [(i.key, i.name) for i in keyed] == [("analysis_1", "analysis_1"), ("clip.mp4", "clip.mp4")]
    assert keyed[1].file_name == "clip.mp4"
    assert state_items({"name": "one.json", "data": []})[0].name == "one.json"  # one entry alone
    assert state_items(None) == state_items([]) == state_items({}) == []
    assert state_items("inline text")[0].data == "inline text"
