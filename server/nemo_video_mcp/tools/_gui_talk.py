"""The backend talks as if the user sat in front of its web editor ("click Export", "open the
panel", "drag the clip"). `translate(text)` rewrites that talk, in English and Chinese, into
pointers at this server's tools, and keeps everything else verbatim:

    click the Export button / 点击导出       -> use export_video
    open the ... panel / 打开…面板 / preview in the timeline -> use get_state
    drag (and drop) ... / 拖拽…              -> ask for the change with send_edit
    drag and drop your video here            -> upload your video with upload_media
    click <anything else> / 点击“…”          -> choose <it> / 选择“…”

No replacement contains a phrase a rule matches, so `translate` is idempotent; it never raises.
"""

# ruff: noqa: RUF001  (Chinese punctuation and curly quotes are matched on purpose)
from __future__ import annotations

import re
from collections.abc import Callable

_FLAGS = re.IGNORECASE
_OPEN_Q = r"[\"'“‘「『【\[*]*"  # quotes, brackets or markdown bold around a button's name
_CLOSE_Q = r"[\"'”’」』】\]*]*"
_SIDE = r"(?:top|bottom|upper|lower|left|right)"
_PLACE = (  # "in the top-right corner", "on the left", "at the bottom of the screen"
    rf"(?:\s+(?:in|at|on)\s+the\s+{_SIDE}(?:[\s-]+{_SIDE})?(?:\s+(?:corner|side|bar|toolbar|menu))?"
    r"(?:\s+of\s+the\s+(?:screen|page|editor|window|panel))?)?"
)
_GUI_NOUN = r"(?:panel|tab|sidebar|side\s+bar|menu|window|inspector|timeline|layers?|properties|effects)"
_ZH_STOP = r"[^，。；！？、\n]"  # anything up to the end of a Chinese clause
_EN_CLAUSE = r"[^,;\n。，；！？]*?(?=[.!?](?:\s|$)|[,;\n。，；！？]|$)"
_DRAG_WORD = re.compile(r"\bdrag\w*(?:\s*(?:and|&|/|-)\s*drop\w*)?\s*", re.IGNORECASE)
_IDEOGRAPH = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _case(m: re.Match[str], text: str) -> str:
    """`text` capitalised like the start of the match (a sentence start stays one)."""
    return text[:1].upper() + text[1:] if m.group(0)[:1].isupper() else text


def _ing(m: re.Match[str], base: str, ing: str) -> str:
    verb = (m.groupdict().get("verb") or "").lower()
    return _case(m, ing if verb.endswith("ing") else base)


def _pad(m: re.Match[str], text: str) -> str:
    """Spaces between a Latin tool name and Chinese text around it."""
    s, start, end = m.string, m.start(), m.end()
    left = " " if start > 0 and _IDEOGRAPH.match(s[start - 1]) and text[:1].isascii() else ""
    right = " " if end < len(s) and _IDEOGRAPH.match(s[end]) and text[-1:].isascii() else ""
    return f"{left}{text}{right}"


def _edit_request(m: re.Match[str]) -> str:
    rest = _DRAG_WORD.sub("", m.group("rest")).strip()
    said = _ing(m, "ask for the change with send_edit", "asking for the change with send_edit")
    return f"{said} (move {rest})" if rest else said


def _review(m: re.Match[str]) -> str:
    obj = (m.group("obj") or "").strip()
    return _case(m, f"use get_state to review {obj}" if obj else "use get_state")


_RULES: list[Rule] = [
    # export: "click (on) the Export button (in the top right)", "hit Download", "click here to export"
    (
        re.compile(
            r"\b(?P<verb>click(?:ing)?|press(?:ing)?|tap(?:ping)?|hit(?:ting)?|select(?:ing)?)\s+(?:on\s+)?"
            rf"(?:the\s+)?{_OPEN_Q}(?:export|download|render)(?:\s+video)?{_CLOSE_Q}"
            r"(?!\s+(?:settings|options?|presets?|formats?|panel|menu|dialog)\b)"
            rf"(?:\s+(?:button|icon|option))?{_PLACE}",
            _FLAGS,
        ),
        lambda m: _ing(m, "use export_video", "using export_video"),
    ),
    (
        re.compile(
            r"\b(?P<verb>click(?:ing)?|tap(?:ping)?)\s+here\s+to\s+(?P<what>download|export)\b", _FLAGS
        ),
        lambda m: _ing(m, "use export_video to ", "using export_video to ") + m.group("what"),
    ),
    (
        re.compile(rf"\b(?:the\s+)?{_OPEN_Q}(?:export|download){_CLOSE_Q}\s+button{_PLACE}", _FLAGS),
        lambda m: "export_video",
    ),
    (
        re.compile(
            rf"(?:点击|单击|按下?)\s*(?:{_ZH_STOP}{{0,8}}?的)?\s*[“\"「『【\[]?\s*导出(?:视频)?\s*"
            r"[”\"」』】\]]?\s*(?:按钮|键)?(?!设置|格式|选项)"
        ),
        lambda m: _pad(m, "使用 export_video"),
    ),
    (
        re.compile(r"[“\"「『【\[]\s*导出\s*[”\"」』】\]]\s*(?:按钮)?|导出按钮"),
        lambda m: _pad(m, "export_video"),
    ),
    # uploads: "drag and drop your video here"
    (
        re.compile(
            r"\b(?P<verb>drag(?:ging)?\s*(?:and|&|/|-)\s*drop(?:ping)?|drop(?:ping)?)\s+"
            r"(?P<obj>(?:your|the|a|some|any)\s+)?(?P<noun>(?:video|clip|file|image|photo|picture|footage|media)s?)"
            r"\s+(?:here|in(?:to)?\s+(?:the\s+)?(?:chat|window|box|area|upload\s+(?:area|box|zone)))\b",
            _FLAGS,
        ),
        lambda m: (
            _ing(m, "upload ", "uploading ") + f"{m.group('obj') or ''}{m.group('noun')} with upload_media"
        ),
    ),
    # timeline edits by hand: the whole clause becomes a request to send_edit
    (
        re.compile(
            r"\b(?:click\s+and\s+)?(?P<verb>drag(?:s|ged|ging)?)\b(?:\s*(?:and|&|/|-)\s*drop(?:ping)?)?"
            rf"(?P<rest>{_EN_CLAUSE})",
            _FLAGS,
        ),
        _edit_request,
    ),
    (
        re.compile(rf"(?:(?:将|把){_ZH_STOP}{{0,20}}?)?(?:拖拽|拖动|拖放|拖曳){_ZH_STOP}*"),
        lambda m: _pad(m, "用 send_edit 说明要做的修改"),
    ),
    # looking at things: panels, the timeline
    (
        re.compile(
            r"\b(?P<verb>open(?:ing)?)\s+(?:up\s+)?(?:the\s+|your\s+)?(?:[\w'-]+\s+){0,3}?"
            rf"{_GUI_NOUN}(?:\s+{_GUI_NOUN})?\b{_PLACE}",
            _FLAGS,
        ),
        lambda m: _ing(m, "use get_state", "using get_state"),
    ),
    (
        re.compile(
            rf"打开{_ZH_STOP}{{0,12}}?(?:面板|窗口|菜单|标签页?|侧边栏|时间线|时间轴|预览|图层|属性)(?:面板|窗口|视图)?"
        ),
        lambda m: _pad(m, "使用 get_state"),
    ),
    (
        re.compile(
            r"\bpreview\s+(?P<obj>(?:it|them|this|that|(?:the|your)\s+[\w'-]+(?:\s+[\w'-]+)?)\s+)?"
            r"(?:in|on)\s+(?:the\s+)?timeline\b",
            _FLAGS,
        ),
        _review,
    ),
    (re.compile(r"在(?:时间线|时间轴)(?:上|中|里)?预览"), lambda m: _pad(m, "使用 get_state 查看")),
    # any other button: neutral wording
    (
        re.compile(
            r"\b(?P<verb>(?:double-|right-)?click(?:ing)?|tap(?:ping)?|press(?:ing)?)\s+(?:on\s+)?(?:the\s+)?"
            rf"(?P<name>{_OPEN_Q}[^\s\"'”’」』】*\]][^\n.,;:!?]{{0,30}}?{_CLOSE_Q})\s+(?:button|icon|tab|link)\b{_PLACE}",
            _FLAGS,
        ),
        lambda m: _ing(m, "choose ", "choosing ") + m.group("name"),
    ),
    (
        re.compile(r"\b(?P<verb>click(?:ing)?|tap(?:ping)?)\s+here\b", _FLAGS),
        lambda m: _ing(m, "ask", "asking"),
    ),
    (
        re.compile(r"\b(?P<verb>(?:double-|right-)?click(?:ing)?)(?:\s+on)?\b", _FLAGS),
        lambda m: _ing(m, "choose", "choosing"),
    ),
    (
        re.compile(r"(?:点击|单击)\s*(?P<name>[“\"「『【][^”\"」』】\n]{1,20}[”\"」』】])\s*(?:按钮)?"),
        lambda m: "选择" + m.group("name"),
    ),
    (re.compile(r"(?:点击|单击)\s*(?:这里|此处)?"), lambda m: "选择"),
]


def translate(text: str) -> str:
    """`text` with GUI talk replaced by pointers at this server's tools; never raises."""
    try:
        out = text
        for pattern, replace in _RULES:
            out = pattern.sub(replace, out)
    except Exception:  # a reply is worth more untranslated than lost
        return text
    return out
