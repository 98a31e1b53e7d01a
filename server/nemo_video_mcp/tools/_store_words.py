"""The sentences for a state database that cannot be used (`StoreUnavailable`): what is wrong with
which file, what that means for the call, and the fix. `doctor` prints the same `problem` and `fix`.

The file is never deleted by the server, so every fix that starts afresh says to move it aside
(it holds the record of the sessions, edits and exports), never to delete it.
"""

from __future__ import annotations

from ..service import StoreUnavailable


def problem(exc: StoreUnavailable) -> str:  # noqa: PLR0911 - one per problem
    """What is wrong, naming the file."""
    db = f"the state database {exc.path}"
    match exc.problem:
        case "corrupt":
            return f"{_cap(db)} is damaged and cannot be read ({exc.reason})."
        case "newer_schema":
            return (
                f"{_cap(db)} was written by a newer version of nemo-video-mcp (schema {exc.found}; this "
                f"version knows schema {exc.known})."
            )
        case "not_writable":
            return f"{_cap(db)} cannot be written ({exc.reason})."
        case "not_a_file":
            return f"{exc.path}, where the state database should be, is a folder, not a file."
        case "folder_unusable":
            return f"The state folder {exc.path.parent} cannot be used ({exc.reason})."
        case "disk_full":
            return f"The disk holding {db} is full: it cannot be written."
        case "locked":
            return f"{_cap(db)} is locked by another process ({exc.reason})."
        case "unusable":
            return f"{_cap(db)} cannot be used ({exc.reason})."


def fix(exc: StoreUnavailable) -> str:  # noqa: PLR0911 - one per problem
    """What to do about it (the user does it; the server never deletes the file)."""
    aside = (
        f"stop the server, move {exc.path.name} aside (rename it, e.g. to {exc.path.name}.broken; keep it, "
        "it holds the record of your sessions, edits and exports), then start the server again: it "
        "creates a new, empty one"
    )
    match exc.problem:
        case "corrupt":
            return f"To start afresh, {aside}."
        case "newer_schema":
            return f"Update nemo-video-mcp to the newer version; or, to go on with this one, {aside}."
        case "not_writable":
            return (
                f"Make {exc.path} and its folder writable by the user running the server (e.g. "
                f"`chmod u+rw {exc.path}` and `chmod 700 {exc.path.parent}`), or set NEMO_STATE_DIR to a "
                "writable folder, then restart the server."
            )
        case "not_a_file":
            return (
                "Move that folder aside (rename it), or set NEMO_STATE_DIR to another folder, then restart "
                "the server."
            )
        case "folder_unusable":
            return (
                f"Make {exc.path.parent} a folder you can write to (move aside a file of that name), or set "
                "NEMO_STATE_DIR to another folder, then restart the server."
            )
        case "disk_full":
            return "Free some space on that disk, then try again."
        case "locked":
            return (
                "Close the other nemo-video-mcp using the same state folder, or give each server its own "
                "NEMO_STATE_DIR, then try again."
            )
        case "unusable":
            return f"Check the file and its folder (permissions, free space); to start afresh, {aside}."


def store_unavailable(exc: StoreUnavailable) -> str:
    """The tool error: the problem, what it meant for this call, the fix."""
    if exc.write:
        effect = (
            "This call could not record its work, so it stopped there (reading what is already recorded "
            "still works: get_state, get_edit_result and get_export_status answer)."
        )
    else:
        effect = (
            "This call needs it, so nothing was done (tools that only ask NemoVideo, like check_credits, "
            "still work)."
        )
    return f"{problem(exc)} {effect} {fix(exc)}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
