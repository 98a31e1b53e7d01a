"""The `reply` of an edit turn (send_edit, get_edit_result), written from how it ended.

NemoVideo's own words come first, with its GUI talk turned into pointers at these tools
(`_gui_talk.translate`); what changed is always worded from the drafts before and after.
"""

from __future__ import annotations

from ..backend import AskQuestion
from ..service import TurnView
from ._gui_talk import translate
from ._progress_words import elapsed_text
from ._question_words import needs_answer_text, questions_out
from ._results import EditResult
from ._timeline_words import changes_text, diff, summary

DROPPED = "The connection to NemoVideo dropped before the edit finished (it was not sent again)"
RESTARTED = "The server restarted while this edit was running, so its reply was not received."
EMPTY_START = (
    "The timeline was empty when this edit started (nothing uploaded to this session), so NemoVideo "
    "worked from the words alone; upload media with upload_media to edit a video."
)


def reply(view: TurnView, *, declined: bool = False) -> str:
    text = _ending(view, declined)
    if view.sent and view.ending != "running":
        text = f"Sent as the answer to NemoVideo's question: {view.sent!r}.\n\n{text}"
    if started_empty(view):
        text = f"{text}\n\n{EMPTY_START}"
    return text


def started_empty(view: TurnView) -> bool:
    return view.status != "running" and view.ending not in ("not_run", "recorded") and not view.before.tracks


def _ending(view: TurnView, declined: bool) -> str:  # noqa: PLR0911 - one reply per way a turn ends
    said = translate(view.said).strip()
    lead = f"{said}\n\n" if said else ""
    seen = changes_text(view.before, view.after)
    match view.ending:
        case "running":
            return (
                f"Still editing ({elapsed_text(view.elapsed)} so far); the edit keeps running in the "
                f"background. Call get_edit_result(turn_id={view.turn_id!r}) to keep waiting; do not send "
                "the instruction again."
            )
        case "finished":
            return said or f"Done, without a written reply. What changed: {seen}."
        case "fault":
            reason = translate(view.fault or "").strip().rstrip(".")
            return f"{lead}The edit failed: {reason}. Changes seen: {seen}."
        case "dropped_applied":
            return f"{lead}{DROPPED}; the timeline shows: {seen}."
        case "dropped_unseen":
            return (
                f"{lead}{DROPPED}, and {seen} since. Check get_state before sending the instruction again: "
                "it may not have been applied."
            )
        case "restart_applied":
            return f"{RESTARTED} The timeline shows it was applied: {seen}."
        case "restart_unseen":
            return (
                f"{RESTARTED} The timeline shows no change from it, so it may not have been applied: check "
                "get_state, and send the instruction again only if it is still needed."
            )
        case "needs_answer":
            asked = needs_answer_text(view.asked or AskQuestion(), view.turn_id, declined=declined)
            return f"{lead}{asked}"
        case "not_run":
            return f"The edit was not run: {view.reason}"
        case "crashed":
            return f"The edit failed inside this server ({view.reason})."
        case "recorded":
            return view.reply or ""


def edit_result(view: TurnView, *, declined: bool = False) -> EditResult:
    if view.ending == "recorded":
        changes = view.changes or []
    else:
        changes = diff(view.before, view.after) if view.after is not None else []
    return EditResult(
        session_id=view.session_id,
        turn_id=view.turn_id,
        status=view.status,
        reply=reply(view, declined=declined),
        changes=changes,
        timeline=summary(view.timeline),
        questions=questions_out(view.asked) if view.ending == "needs_answer" else [],
        question_title=view.asked.title if view.asked is not None and view.ending == "needs_answer" else None,
        started_empty=started_empty(view),
    )
