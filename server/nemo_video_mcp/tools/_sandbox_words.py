"""What a server started with --sandbox says about itself: every tool result is labelled simulated
(`_simulated.py` puts these words in), so no assistant can present a sandbox result as NemoVideo's."""

from __future__ import annotations

SIMULATED = (
    "Simulated by the sandbox: nothing was sent to NemoVideo, no credits spent. (This server runs "
    "against a local emulator of NemoVideo: replies, timeline changes and credits are made up on this "
    "machine, and an exported video is made here from the uploaded files with the simulated edits drawn "
    "on it.) Tell the user that this result is simulated."
)

# prepare_media's work is real even in the sandbox: its file is made here, by FFmpeg, not simulated
LOCAL_WORK = (
    "Real, not simulated: this is local work on this machine (NemoVideo is not involved), done the same "
    "with or without the sandbox."
)

INSTRUCTIONS = (
    "\nSANDBOX: this server was started with --sandbox. NemoVideo is simulated by a local emulator: "
    "every result of NemoVideo's work says so (the field simulated: true and a sentence in its text; \
prepare_media's local work, and cancelling it, is real and says simulated: false). Whenever you report a "
    "result, say that it is simulated; never present it as NemoVideo's work.\n"
)
