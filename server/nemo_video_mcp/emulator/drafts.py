"""The draft (timeline) the emulator keeps per session, and the deterministic edit rules.

Draft shape (see docs/ARCHITECTURE.md): `t` tracks (`tt` 0 video, 1 audio, 7 text), `sg` segments
with `s` start ms, `d` duration ms, `m` metadata; `d` draft duration; `v` version; plus keys the
client does not know (`cv`, `canvas`, `id`...) that it must keep.

Edit rules, applied to the lower-cased message (several may apply to one message):
- remove/erase/delete X: if X names music/bgm/audio, drop the audio tracks; if it names a
  title/text/caption, drop the text tracks; else every video segment gets `m.fx += ["object_removed:X"]`.
  A removal is exclusive: no other rule applies to that message.
- title/text/caption/subtitle/heading: with a "quoted" text (else "Title"): the first text
  segment's `m.text` changes, or a text track is added with one segment 0-3 s.
- music/bgm/soundtrack or "volume N%": no audio track yet: add "Lo-fi" at N% (default 35%) over
  the video's length (10 s without video); else "N%" sets the audio volume.
- trim/cut/shorten ... N s: the first video segment gets `d = N*1000` (only ever shorter).
- remaster/upscale/enhance/restore: every video segment gets `m.fx += ["upscale_4k"]`.
- extract/json: appends a json entry to the state's `generated_media` (the draft is unchanged).
- generate an image/picture/photo/clip/video: appends it to `generated_media` (with a URL) and a
  5 s segment showing it to the video track; analyse/analyze: appends an entry to the state's
  `video_analyses` (the draft is unchanged). See `generation.py`.
- nothing else changed the draft: the unknown key `x_rev` is incremented, so the draft changes
  without a recognisable difference.
Any change bumps `v` and recomputes `d`.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .generation import ANALYSE, GENERATE, analysis_entry, generated_entry

VIDEO_EXT = frozenset({"mp4", "mov", "avi", "webm", "mkv"})
IMAGE_EXT = frozenset({"jpg", "jpeg", "png", "gif", "webp"})
AUDIO_EXT = frozenset({"mp3", "wav", "m4a", "aac"})
SUPPORTED = sorted(VIDEO_EXT | IMAGE_EXT | AUDIO_EXT)
VIDEO, AUDIO, TEXT = 0, 1, 7
_DURATION_MS = {"video": 10_000, "image": 5_000, "audio": 30_000}

Draft = dict[str, Any]


def media_kind(filename: str) -> str | None:
    """'video' | 'image' | 'audio' for a supported extension, else None."""
    ext = PurePosixPath(filename).suffix.lower().lstrip(".")
    if ext in VIDEO_EXT:
        return "video"
    if ext in IMAGE_EXT:
        return "image"
    if ext in AUDIO_EXT:
        return "audio"
    return None


def media_info(filename: str, kind: str, cdn_url: str, digest: str) -> dict[str, Any]:
    """The `data.files[]` entry of an upload; images have no duration/fps, audio no size/fps."""
    info: dict[str, Any] = {"filename": filename, "file_type": kind, "cdn_url": cdn_url}
    if kind != "image":
        info["duration"] = _DURATION_MS[kind] / 1000
    if kind != "audio":
        info["width"], info["height"] = 1920, 1080
    if kind == "video":
        info["fps"] = 30
    info["hash"] = digest
    return info


def new_draft() -> Draft:
    return {"t": [], "d": 0, "v": 1, "cv": "nemo-3.2", "canvas": {"w": 1920, "h": 1080, "fps": 30}}


def add_media(draft: Draft, info: dict[str, Any]) -> Draft:
    """A copy of the draft with the uploaded file appended to the video (or audio) track."""
    new = copy.deepcopy(draft)
    kind = info["file_type"]
    track = _track(new, AUDIO if kind == "audio" else VIDEO, create=True)
    assert track is not None
    meta = {"name": PurePosixPath(info["filename"]).stem, "src": info["cdn_url"], "kind": kind}
    if kind == "audio":
        meta["volume"] = 1.0
    seconds = info.get("duration")  # the sandbox reads it from the file
    length = round(seconds * 1000) if isinstance(seconds, int | float) and seconds > 0 else _DURATION_MS[kind]
    track["sg"].append({"id": f"seg_{len(track['sg']) + 1}", "s": _end(track), "d": length, "m": meta})
    new["v"] = int(new.get("v", 0)) + 1
    _finish(new)
    return new


@dataclass
class Outcome:
    """What one edit did: the reply text (without GUI talk), a GUI sentence, the changes."""

    reply: str
    gui: str | None = None
    tool: str = "edit_timeline"
    changes: list[str] = field(default_factory=list)
    generated: dict[str, Any] | None = None
    analysis: dict[str, Any] | None = None  # a new `video_analyses` entry
    version: int = 0  # the draft's `v` after the edit


_QUOTED = re.compile(r"[\"“”]([^\"“”]+)[\"“”]")
_REMOVE = re.compile(
    r"\b(?:remove|erase|delete)\s+(?:all\s+)?(?:the\s+|a\s+|an\s+)?"
    r"(?P<what>[^.,;!?\"]+?)(?:\s+(?:from|in|on|at)\b[^.,;!?]*)?(?:[.,;!?]|$)"
)
_TITLE = re.compile(r"\b(?:title|text|caption|subtitle|heading)s?\b")
_MUSIC = re.compile(r"\b(?:music|bgm|soundtrack)\b")
_PERCENT = re.compile(r"(\d{1,3})\s*%")
_TRIM = re.compile(r"\b(?:trim|cut|shorten)\w*\b.*?(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)\b")
_REMASTER = re.compile(r"\b(?:remaster|upscal|enhanc|restor)\w*")
_EXTRACT = re.compile(r"\b(?:extract\w*|json)\b")


def apply_instruction(
    draft: Draft,
    message: str,
    media_count: int,
    *,
    analysis_count: int = 0,
    media_base: str = "/cdn/generated",
    analyses_base: str = "/analyses",
) -> tuple[Draft, Outcome]:
    """Apply one user message to a copy of the draft (rules in the module docstring); generated
    media get URLs under `media_base`, analyses under `analyses_base`."""
    new = copy.deepcopy(draft)
    low = message.lower()
    out = Outcome(reply="")
    sentences: list[str] = []
    removal = _REMOVE.search(low)
    if removal:
        sentences.append(_remove(new, removal.group("what").strip(), out))
    else:
        if _TITLE.search(low):
            quoted = _QUOTED.search(message)
            sentences.append(_title(new, quoted.group(1).strip() if quoted else "Title", out))
        percent = _PERCENT.search(low)
        if _MUSIC.search(low) or ("volume" in low and percent):
            sentences.append(_music(new, int(percent.group(1)) if percent else None, out))
        if trim := _TRIM.search(low):
            sentences.append(_trim(new, float(trim.group(1)), out))
        if _REMASTER.search(low):
            sentences.append(
                _fx(new, "upscale_4k", "Remastered the video: upscaled to 4K, colours restored.", out)
            )
        if generate := GENERATE.search(low):
            entry = generated_entry(generate["what"], media_count + 1, media_base)
            sentences.append(_generate(new, entry, out))
        if ANALYSE.search(low):
            out.analysis = analysis_entry(draft, analysis_count + 1, analyses_base)
            out.tool = "analyze_video"
            sentences.append("Analysed the video: 2 scenes, 2 objects, 1 caption (saved as JSON).")
        if _EXTRACT.search(low):
            out.tool = "extract_video_data"
            out.generated = _extracted(draft, media_count + 1)
            sentences.append("Extracted the video data as JSON (scenes, objects, captions).")
    sentences = [s for s in sentences if s]
    if not out.changes and out.generated is None and out.analysis is None:
        new["x_rev"] = int(new.get("x_rev", 0)) + 1
        out.changes.append("x_rev")
        sentences = ["Done: I applied your request to the timeline."]
    if _canonical(new) != _canonical(draft):
        new["v"] = int(new.get("v", 0)) + 1
        _finish(new)
    out.reply = " ".join(sentences)
    out.version = int(new.get("v", 0))
    return new, out


def _generate(draft: Draft, entry: dict[str, Any], out: Outcome) -> str:
    track = _track(draft, VIDEO, create=True)
    assert track is not None
    meta = {"name": entry["name"].rsplit(".", 1)[0], "src": entry["url"], "kind": entry["type"]}
    track["sg"].append({"id": f"seg_gen_{len(track['sg']) + 1}", "s": _end(track), "d": 5000, "m": meta})
    out.generated, out.tool = entry, "generate_media"
    out.changes.append(f"generated {entry['type']}")
    return f"Generated {entry['name']} and added it to the video track (5s)."


def _remove(draft: Draft, what: str, out: Outcome) -> str:
    if re.search(r"\b(?:music|bgm|audio|soundtrack)\b", what):
        return _drop_tracks(draft, AUDIO, "audio track", "Removed the background music.", out)
    if _TITLE.search(what):
        return _drop_tracks(draft, TEXT, "text track", "Removed the title.", out)
    what = what[:40]
    said = _fx(draft, f"object_removed:{what}", f"Removed the {what} from the video.", out)
    if said:
        out.gui = "Click the Export button to download the result."
    return said


def _drop_tracks(draft: Draft, kind: int, change: str, said: str, out: Outcome) -> str:
    kept = [t for t in draft["t"] if t.get("tt") != kind]
    if len(kept) == len(draft["t"]):
        return ""
    draft["t"] = kept
    out.changes.append(f"removed {change}")
    return said


def _title(draft: Draft, text: str, out: Outcome) -> str:
    track = _track(draft, TEXT, create=False)
    if track is not None and track["sg"]:
        seg = track["sg"][0]
        if seg.setdefault("m", {}).get("text") == text:
            return ""
        seg["m"]["text"] = text
        out.changes.append("title text changed")
        return f'Changed the title to "{text}".'
    track = _track(draft, TEXT, create=True)
    assert track is not None
    track["sg"].append({"id": "seg_title", "s": 0, "d": 3000, "m": {"text": text, "font": "Inter"}})
    out.changes.append("text track added")
    out.gui = out.gui or "Open the Text panel to change its font."
    return f'Added the title "{text}" (0-3s).'


def _music(draft: Draft, percent: int | None, out: Outcome) -> str:
    track = _track(draft, AUDIO, create=False)
    if track is None:
        video = _track(draft, VIDEO, create=False)
        length = _end(video) if video is not None and video["sg"] else 10_000
        volume = (percent if percent is not None else 35) / 100
        track = _track(draft, AUDIO, create=True)
        assert track is not None
        track["sg"].append({"id": "seg_bgm", "s": 0, "d": length, "m": {"name": "Lo-fi", "volume": volume}})
        out.changes.append("audio track added")
        out.gui = out.gui or "Drag the clip in the Timeline panel to move it."
        return f'Added background music "Lo-fi" at {round(volume * 100)}% volume.'
    if percent is None:
        return ""
    for seg in track["sg"]:
        seg.setdefault("m", {})["volume"] = percent / 100
    out.changes.append("volume changed")
    return f"Set the music volume to {percent}%."


def _trim(draft: Draft, seconds: float, out: Outcome) -> str:
    track = _track(draft, VIDEO, create=False)
    target = round(seconds * 1000)
    if track is None or not track["sg"] or track["sg"][0].get("d", 0) <= target or target <= 0:
        return ""
    track["sg"][0]["d"] = target
    start = 0
    for seg in track["sg"]:  # later segments follow the trimmed one
        seg["s"] = start
        start += int(seg.get("d", 0))
    out.changes.append("video trimmed")
    return f"Trimmed the video to {seconds:g}s."


def _fx(draft: Draft, effect: str, said: str, out: Outcome) -> str:
    segments = [seg for t in draft["t"] if t.get("tt") == VIDEO for seg in t["sg"]]
    for seg in segments:
        seg.setdefault("m", {}).setdefault("fx", []).append(effect)
    if not segments:
        return ""
    out.changes.append(effect)
    if effect == "upscale_4k":
        out.gui = out.gui or "Click the Export button to download."
    return said


def _extracted(draft: Draft, n: int) -> dict[str, Any]:
    length = int(draft.get("d") or 10_000)
    scenes = [{"start_ms": 0, "end_ms": length // 2, "label": "opening"}]
    scenes.append({"start_ms": length // 2, "end_ms": length, "label": "closing"})
    data = {"scenes": scenes, "objects": ["person", "car"], "captions": ["a city street at dusk"]}
    return {"type": "json", "name": f"video_data_{n}.json", "data": data}


def _track(draft: Draft, kind: int, *, create: bool) -> dict[str, Any] | None:
    for track in draft["t"]:
        if track.get("tt") == kind and isinstance(track.get("sg"), list):
            return track  # type: ignore[no-any-return]
    if not create:
        return None
    names = {VIDEO: "Video", AUDIO: "BGM", TEXT: "Title"}
    track = {"id": f"trk_{len(draft['t']) + 1}", "tt": kind, "m": {"name": names[kind]}, "sg": []}
    draft["t"].append(track)
    return track


def _end(track: dict[str, Any]) -> int:
    return max((int(s.get("s", 0)) + int(s.get("d", 0)) for s in track["sg"]), default=0)


def _finish(draft: Draft) -> None:
    draft["d"] = max((_end(t) for t in draft["t"]), default=0)


def _canonical(draft: Draft) -> str:
    return json.dumps(draft, sort_keys=True)
