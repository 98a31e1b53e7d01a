"""The `reply` of an edit turn (send_edit, get_edit_result), written from how it ended.

NemoVideo's own words come first, quoted and attributed (`_nemo_words`: `NemoVideo replied: «…»`,
also whole in the `nemovideo_reply` / `nemovideo_error` fields), with its GUI talk turned into
pointers at these tools (`_gui_talk.translate`); what changed is always worded from the drafts
before and after.
"""

from __future__ import annotations

from ..backend import AskQuestion
from ..service import TurnView
from ._gui_talk import translate
from ._nemo_words import replied, reported
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
DO_NOT_RESEND = "do not send the instruction again: it would run, and be charged, twice"
AGAIN_IF_NEEDED = "Check get_state, and send the instruction again only if it is still needed."


def _limit(view: TurnView) -> str:
    return f"NemoVideo's limit on one edit ({elapsed_text(view.ceiling)})"


def _watching(view: TurnView) -> str:
    """A run this server lost, which NemoVideo may still be running: watched, never resent."""
    left = elapsed_text(max(0.0, view.ceiling - view.elapsed))
    return (
        f"NemoVideo may still be working on it, so the timeline is being watched for its result "
        f"({elapsed_text(view.elapsed)} since it started; the outcome is known as soon as the timeline "
        f"changes, or in {left} at the latest, when {_limit(view)} has passed). Call "
        f"get_edit_result(turn_id={view.turn_id!r}) to keep waiting; {DO_NOT_RESEND}."
    )


def _dropped_unseen(view: TurnView) -> str:
    if view.after is None:  # the state could not be read back: nothing is known
        return (
            f"{DROPPED}, and the timeline could not be read back, so whether it applied is not known. "
            f"Check get_state; until {_limit(view)} has passed since it started, NemoVideo may still "
            f"apply it: {DO_NOT_RESEND}."
        )
    return (
        f"{DROPPED}, and the timeline showed no change from it until {_limit(view)} had passed, so it "
        f"did not apply. {AGAIN_IF_NEEDED}"
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


def _ending(view: TurnView, declined: bool) -> str:  # noqa: PLR0911, PLR0912 - one reply per way a turn ends
    said = _said(view)
    lead = f"{replied(said)}\n\n" if said else ""
    seen = changes_text(view.before, view.after)
    match view.ending:
        case "running":
            return (
                f"Still editing ({elapsed_text(view.elapsed)} so far); the edit keeps running in the "
                f"background. Call get_edit_result(turn_id={view.turn_id!r}) to keep waiting; do not send "
                "the instruction again."
            )
        case "dropped_watching":
            return f"{lead}{DROPPED}. {_watching(view)}"
        case "restart_watching":
            return f"{RESTARTED} {_watching(view)}"
        case "finished":
            return replied(said) if said else f"Done, without a written reply. What changed: {seen}."
        case "fault":
            return f"{lead}The edit failed; {reported(_fault(view) or 'an error')}. Changes seen: {seen}."
        case "dropped_applied":
            return f"{lead}{DROPPED}; the timeline shows: {seen}."
        case "dropped_unseen":
            return lead + _dropped_unseen(view)
        case "restart_applied":
            return f"{RESTARTED} The timeline shows it was applied: {seen}."
        case "restart_unseen":
            return (
                f"{RESTARTED} The timeline showed no change from it until {_limit(view)} had passed, so it "
                f"did not apply. {AGAIN_IF_NEEDED}"
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


def _said(view: TurnView) -> str:
    return translate(view.said).strip()


def _fault(view: TurnView) -> str:
    return translate(view.fault or "").strip()


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
        nemovideo_reply=_said(view) or None,
        nemovideo_error=_fault(view) or None,
        changes=changes,
        timeline=summary(view.timeline),
        questions=questions_out(view.asked) if view.ending == "needs_answer" else [],
        question_title=view.asked.title if view.asked is not None and view.ending == "needs_answer" else None,
        started_empty=started_empty(view),
    )
