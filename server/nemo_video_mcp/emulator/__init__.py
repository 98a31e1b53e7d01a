"""A local stand-in for the NemoVideo backend: a real HTTP server for tests, benchmarks and `--sandbox`.

    from nemo_video_mcp.emulator import Emulator, EmulatorConfig, Fault

    with Emulator(EmulatorConfig(sse_shape="legacy")) as emu:
        emu.inject(Fault("http", path="/api/credits", status=503, retry_after=0.1))
        ...  # point the client at emu.url; assert on emu.requests, emu.sessions[sid].draft

It imports nothing from `nemo_video_mcp`: a fake sharing the client's code would prove nothing.
Modules: config (EmulatorConfig, Fault), state (the backend-side truth), state_views (the state as
the configured variant shows it), drafts + generation (timeline and edit rules), questions (the
agent asking, and the answer), streams + gateway (SSE), api / uploads / runs / renders /
render_download / analyses (endpoints), app (routing, recording, generic faults), server
(Emulator). `python -m nemo_video_mcp.emulator` runs it in the foreground.
The sandbox mode (`EmulatorConfig(data_dir=..., real_media=True)`, what `--sandbox` runs):
persistence (the state on disk), sandbox (kept uploads, real renders in a worker thread),
sandbox_media / sandbox_plan / sandbox_render / sandbox_draw (PyAV and Pillow, loaded lazily).
"""

from .config import EmulatorConfig, Fault
from .responses import file_content
from .server import Emulator
from .state import Recorded, Render, Session, User

__all__ = ["Emulator", "EmulatorConfig", "Fault", "Recorded", "Render", "Session", "User", "file_content"]
