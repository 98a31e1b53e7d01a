"""GUI talk from the backend becomes pointers at this server's tools; the rest is untouched."""
# ruff: noqa: RUF001  (Chinese punctuation on purpose)

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nemo_video_mcp.tools._gui_talk import translate

GUI_WORDS = ("click", "Click", "Export", "button", "drag", "drop", "open", "panel", "timeline",
             "preview", "点击", "导出", "打开", "拖拽", "面板", "时间线", "预览", "here", "the", "on",
             "“", "”", "**", "in the top right corner", ".", ",", "\n", " ", "and", "to", "hit", "tap",
             "your video")  # fmt: skip


@pytest.mark.parametrize(
    ("backend_says", "expected"),
    [
        ("Click the Export button to download your video.", "Use export_video to download your video."),
        ("Click **Export** in the top right corner to get your MP4.", "Use export_video to get your MP4."),
        ("When you're ready, hit Export.", "When you're ready, use export_video."),
        ('You can export by clicking the "Export" button.', "You can export by using export_video."),
        ("Use the Export button in the top-right to save it.", "Use export_video to save it."),
        ("Click here to download the result.", "Use export_video to download the result."),
        ("已完成！点击右上角的导出按钮即可下载视频。", "已完成！使用 export_video 即可下载视频。"),
        ("请点击“导出”下载。", "请使用 export_video 下载。"),
        ("点击导出按钮。", "使用 export_video。"),
    ],
)
def test_export_buttons_point_at_export_video(backend_says: str, expected: str) -> None:
    assert translate(backend_says) == expected


@pytest.mark.parametrize(
    ("backend_says", "expected"),
    [
        ("Open the Layers panel to see your clips.", "Use get_state to see your clips."),
        ("You can open the timeline to check the result.", "You can use get_state to check the result."),
        ("Open the effects panel on the left.", "Use get_state."),
        (
            "Preview the result in the timeline before exporting.",
            "Use get_state to review the result before exporting.",
        ),
        ("You can preview it in the timeline.", "You can use get_state to review it."),
        ("打开时间线面板查看片段。", "使用 get_state 查看片段。"),
        ("在时间线上预览效果。", "使用 get_state 查看效果。"),
    ],
)
def test_panels_and_timeline_previews_point_at_get_state(backend_says: str, expected: str) -> None:
    assert translate(backend_says) == expected


@pytest.mark.parametrize(
    ("backend_says", "expected"),
    [
        (
            "Drag the clip to the start of the timeline, then click Export.",
            "Ask for the change with send_edit (move the clip to the start of the timeline), "
            "then use export_video.",
        ),
        (
            "You can also drag the title to 0:05 or 1.5s later.",
            "You can also ask for the change with send_edit (move the title to 0:05 or 1.5s later).",
        ),
        ("Just drag and drop.", "Just ask for the change with send_edit."),
        (
            "您可以将片段拖拽到时间线上，然后点击导出。",
            "您可以用 send_edit 说明要做的修改，然后使用 export_video。",
        ),
        (
            "Drag and drop your video here to get started!",
            "Upload your video with upload_media to get started!",
        ),
    ],
)
def test_dragging_becomes_a_request(backend_says: str, expected: str) -> None:
    assert translate(backend_says) == expected


@pytest.mark.parametrize(
    ("backend_says", "expected"),
    [
        ("Click Apply to confirm.", "Choose Apply to confirm."),
        ("Click the Apply button to confirm the change.", "Choose Apply to confirm the change."),
        ("Tap the + button to add music.", "Choose + to add music."),
        (
            "Click Export Settings to change the resolution.",
            "Choose Export Settings to change the resolution.",
        ),
        ("满意后点击“应用”按钮。", "满意后选择“应用”。"),
    ],
)
def test_other_buttons_get_neutral_wording(backend_says: str, expected: str) -> None:
    assert translate(backend_says) == expected


@pytest.mark.parametrize(
    "plain",
    [
        "I removed the car parked in the background. The video is now 8s long.",
        "Drop the music volume to 20% if it feels loud.",
        "Export as MP4 for the widest compatibility.",
        "The exported file keeps the original frame rate.",
        "导出的视频已准备好。",
        "选择导出格式为 MP4。",
        "Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%)",
        '{"scenes": [{"start": 0, "label": "open road"}]}',
        "",
    ],
)
def test_everything_else_is_kept_verbatim(plain: str) -> None:
    assert translate(plain) == plain


def test_a_whole_reply_keeps_its_shape() -> None:
    reply = (
        "Done! I removed the parked car from all 240 frames.\n\n"
        "- Preview the result in the timeline.\n"
        "- Then click the **Export** button in the top-right corner.\n"
    )
    assert translate(reply) == (
        "Done! I removed the parked car from all 240 frames.\n\n"
        "- Use get_state to review the result.\n"
        "- Then use export_video.\n"
    )


sentences = st.lists(st.sampled_from(GUI_WORDS) | st.text(max_size=8), max_size=25).map(" ".join)


@settings(max_examples=400, deadline=None, database=None)
@given(sentences)
def test_idempotent_on_gui_heavy_text(text: str) -> None:
    once = translate(text)
    assert translate(once) == once


@settings(max_examples=300, deadline=None, database=None)
@given(st.text())
def test_never_raises_and_is_idempotent_on_any_text(text: str) -> None:
    once = translate(text)
    assert isinstance(once, str)
    assert translate(once) == once


def test_never_raises_on_a_non_string() -> None:
    assert translate(None) is None  # type: ignore[arg-type]


def test_a_long_reply_is_translated_whole() -> None:
    """45,000 words of GUI talk, translated in one piece and idempotent. (Its speed, linear in the
    length, is a figure of bench/: "GUI-talk translation".)"""
    text = ("click drag " * 5000) + ("打开 拖拽 点击 " * 5000) + ("open the " * 5000)
    once = translate(text)
    assert once.startswith("choose ask for the change with send_edit (move choose choose")
    assert "拖拽" not in once
    assert "打开 用 send_edit" in once
    assert translate(once) == once
