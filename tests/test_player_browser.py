"""The player in a real browser: Debian's Chromium (headless, started by the test through Playwright,
never a downloaded browser) loads the app inside a minimal host page that speaks the MCP Apps bridge
(postMessage JSON-RPC) and proxies `resources/read` and `tools/call` to the real server through
`mcp.Client`. The backend is the emulator in sandbox mode (what `--sandbox` runs): a real clip made
with PyAV is uploaded, edited and exported, and the render is a real video of it. The host hands
the app the real tool result; the test asserts the video plays (its time advances), the timeline
and the last edit are shown, and a next step reaches the chat; it saves screenshots under the
test's tmp dir and prints their paths.

The app is served from another origin than the host page (as hosts do), with the Content Security
Policy the spec tells a host to build from the resource's `_meta.ui.csp`: the restrictive default
plus the declared resource domains. So a video plays only from an origin the server declared; and
that policy has no `blob:` for media, so a video read through the host plays from a data: URL
(the player's fallback), which is asserted too.

Codecs: Debian's Chromium decodes H.264 (and AAC) as well as VP9 and Opus, so an MP4 (H.264) and a
WebM (VP9) export are both played. Chromium missing: skipped with the reason, except in CI
(CI=true), where it fails (.ci/run installs it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from media_support import make_clip
from nemo_video_mcp.emulator import Emulator, EmulatorConfig
from player_support import INSTRUCTION, PLAYER_URI, connect_apps, edit_and_export, player_data
from support_common import serve_in_thread, settings_for, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # one Chromium per test

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers have a small /dev/shm
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(
            "Chromium is missing in CI: .ci/run installs Debian's `chromium` package before the tests"
        )
    pytest.skip("Chromium is not installed (apt-get install -y chromium); the player's browser test needs it")


def spec_csp(csp: dict[str, Any]) -> str:
    """The policy the MCP Apps spec tells a host to build: its restrictive default, plus the
    declared domains (resourceDomains -> script, style, img, font, media; connectDomains -> connect)."""
    res = " ".join(csp.get("resourceDomains") or [])
    connect = " ".join(csp.get("connectDomains") or []) or "'none'"
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' 'unsafe-inline' {res}".strip(),
            f"style-src 'self' 'unsafe-inline' {res}".strip(),
            f"img-src 'self' data: {res}".strip(),
            f"font-src 'self' {res}".strip(),
            f"media-src 'self' data: {res}".strip(),
            f"connect-src {connect}",
            "frame-src 'none'",
            "object-src 'none'",
            "base-uri 'self'",
        ]
    )


HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>test host</title>
<style>
  body { margin: 0; padding: 24px; font: 14px system-ui, sans-serif; background: BG; color: FG; }
  .turn { max-width: 760px; margin: 0 auto; }
  .say { margin: 0 0 12px; opacity: .85; }
  iframe { display: block; width: 100%; height: 480px; border: 0; border-radius: 14px; }
  iframe.bordered { border: 1px solid LINE; background: PANEL; }
</style></head>
<body><div class="turn">
  <p class="say">Here is your edited video.</p>
  <iframe id="app" sandbox="allow-scripts allow-same-origin" title="NemoVideo player"></iframe>
</div>
<script>
(async () => {
  const setup = await (await fetch("/setup.json")).json();
  const frame = document.getElementById("app");
  if (setup.prefersBorder) frame.classList.add("bordered");
  window.hostLog = []; window.messages = []; window.links = [];
  const send = (msg) => frame.contentWindow.postMessage({ jsonrpc: "2.0", ...msg }, "*");
  window.addEventListener("message", async (event) => {
    if (event.source !== frame.contentWindow) return;
    const msg = event.data;
    if (!msg || msg.jsonrpc !== "2.0") return;
    window.hostLog.push(msg.method || "answer");
    const answer = (result) => send({ id: msg.id, result });
    const fail = (message) => send({ id: msg.id, error: { code: -32000, message } });
    switch (msg.method) {
      case "ui/initialize":
        return answer({
          protocolVersion: "2026-01-26",
          hostInfo: { name: "test-host", version: "1" },
          hostCapabilities: { openLinks: {}, serverTools: {}, serverResources: {}, logging: {} },
          hostContext: { theme: setup.theme, displayMode: "inline", platform: "desktop",
                         containerDimensions: { width: 760, maxHeight: 4000 } },
        });
      case "ui/notifications/initialized":
        send({ method: "ui/notifications/tool-input", params: { arguments: setup.arguments } });
        send({ method: "ui/notifications/tool-result", params: setup.result });
        return;
      case "ui/notifications/size-changed":
        if (msg.params && msg.params.height) frame.style.height = `${msg.params.height}px`;
        return;
      case "ui/message":
        window.messages.push(msg.params);
        return answer({});
      case "ui/open-link":
        window.links.push(msg.params.url);
        return answer({});
      case "resources/read":
      case "tools/call":
        try { return answer(await window.mcpForward(msg.method, msg.params)); }
        catch (err) { return fail(String(err && err.message || err)); }
      default:
        if (msg.id !== undefined && msg.method) fail(`not supported by this host: ${msg.method}`);
    }
  });
  frame.src = setup.appUrl;
})();
</script></body></html>"""

THEMES = {
    "dark": {"BG": "#1a1a19", "FG": "#e8e6e3", "LINE": "#3a3936", "PANEL": "#262624"},
    "light": {"BG": "#f5f4ef", "FG": "#1f1e1d", "LINE": "#dedcd5", "PANEL": "#ffffff"},
}


class HostSite:
    """The host page (on 127.0.0.1) and the app (served on `localhost`: another origin) with its CSP."""

    def __init__(self) -> None:
        self.app_html = ""
        self.csp = ""
        self.setup: dict[str, Any] = {}
        self.theme = "dark"

    def asgi(self) -> Starlette:
        async def host(_: Request) -> Response:
            page = HOST_PAGE
            for key, value in THEMES[self.theme].items():
                page = page.replace(key, value)
            return HTMLResponse(page)

        async def setup(_: Request) -> Response:
            return JSONResponse(self.setup)

        async def app(_: Request) -> Response:
            return HTMLResponse(self.app_html, headers={"content-security-policy": self.csp})

        return Starlette(
            routes=[Route("/host.html", host), Route("/setup.json", setup), Route("/app.html", app)]
        )


def _wire(result: Any) -> dict[str, Any]:
    """A result as it travels (camelCase keys, `_meta`), as a host forwards it to the app."""
    wire: dict[str, Any] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return wire


class Session:
    """One browser session: Chromium on the host page, the app in its frame, the host's bridge
    forwarding `resources/read` and `tools/call` to the real server through `client`."""

    def __init__(self, client: Any, page: Any, frame: Any, forwarded: list[str], console: list[str]) -> None:
        self.client, self.page, self.frame, self.forwarded, self.console = (
            client,
            page,
            frame,
            forwarded,
            console,
        )
        self.app = page.frame_locator("#app")

    async def video(self) -> dict[str, Any]:
        facts: dict[str, Any] = await self.frame.evaluate(
            """() => { const v = document.getElementById('video');
            return { source: v.dataset.source, src: v.currentSrc.slice(0, 24), paused: v.paused,
                     time: v.currentTime, width: v.videoWidth, height: v.videoHeight,
                     error: v.error && v.error.message }; }"""
        )
        return facts

    async def text(self, element_id: str) -> str:
        text: str = await self.app.locator(f"#{element_id}").inner_text()
        return text

    async def play_until(self, seconds: float) -> dict[str, Any]:
        """Press the player's play button; wait until the video's time passed `seconds`; pause."""
        await self.app.locator("video[data-source]").wait_for(state="attached", timeout=60_000)
        await self.app.locator("#play").click()
        await self.frame.wait_for_function(
            f"() => document.getElementById('video').currentTime > {seconds}", timeout=30_000
        )
        facts = await self.video()
        await self.frame.evaluate("() => document.getElementById('video').pause()")
        return facts

    async def screenshot(self, path: Path) -> Path:
        await self.page.screenshot(path=str(path), full_page=True)
        print(f"\nplayer screenshot: {path}")
        return path


@asynccontextmanager
async def browse(
    client: Any, result: Any, *, chromium: str, tmp_path: Path, theme: str
) -> AsyncIterator[Session]:
    """Chromium showing the player for `result` (a tool result from `client`) in the test host."""
    from playwright.async_api import async_playwright

    page_resource = (await client.read_resource(PLAYER_URI)).contents[0]
    ui = (page_resource.meta or {})["ui"]
    forwarded: list[str] = []

    async def forward(method: str, params: dict[str, Any]) -> dict[str, Any]:
        forwarded.append(method)
        if method == "resources/read":
            return _wire(await client.read_resource(params["uri"]))
        return _wire(await client.call_tool(params["name"], params.get("arguments") or {}))

    site = HostSite()
    site.theme = theme
    with serve_in_thread(lambda _port: site.asgi()) as port:
        site.app_html = page_resource.text
        site.csp = spec_csp(ui.get("csp") or {})
        site.setup = {
            "appUrl": f"http://localhost:{port}/app.html",
            "theme": theme,
            "prefersBorder": ui.get("prefersBorder", False),
            "arguments": {},
            "result": _wire(result),
        }
        async with async_playwright() as pw:
            browser = await pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),
                executable_path=chromium,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 820, "height": 900},
                color_scheme=theme,
            )
            try:
                page = browser.pages[0] if browser.pages else await browser.new_page()
                console: list[str] = []
                page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
                await page.expose_function("mcpForward", forward)
                await page.goto(f"http://127.0.0.1:{port}/host.html")
                await page.wait_for_function("() => window.hostLog && window.hostLog.length > 1")
                frame = next(f for f in page.frames if f.url.endswith("/app.html"))
                yield Session(client, page, frame, forwarded, console)
            finally:
                await browser.close()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Emulator]:
    """The emulator as `--sandbox` runs it: uploads are kept and probed, renders are real videos."""
    config = EmulatorConfig(
        real_media=True, data_dir=tmp_path / "sandbox", edit_seconds=0.05, heartbeat_seconds=0.02
    )
    with Emulator(config) as emu:
        yield emu


async def _saved(client: Any, result: Any) -> Any:
    """Keep asking get_export_status until the render is done and saved; that result."""
    with anyio.fail_after(120):
        while result.structured_content["status"] != "completed" or not result.structured_content.get("path"):
            assert not result.is_error, text_of(result)
            rid = result.structured_content["render_id"]
            result = await client.call_tool("get_export_status", {"render_id": rid, "wait_seconds": 20})
    return result


@pytest.mark.parametrize(
    ("fmt", "theme", "link"),
    [("mp4", "dark", "alive"), ("webm", "light", "expired")],
    ids=["mp4-h264-from-its-link", "webm-vp9-saved-file-after-the-link-died"],
)
async def test_player_plays_the_export_in_chromium(  # noqa: PLR0917 - fixtures and parameters
    sandbox: Emulator, tmp_path: Path, chromium: str, fmt: str, theme: str, link: str
) -> None:
    artifacts = tmp_path / "player-artifacts"
    artifacts.mkdir()
    clip = make_clip(tmp_path / "media" / "street.mp4", seconds=3.0)
    async with connect_apps(settings_for(sandbox, tmp_path), "legacy") as client:
        edit, export = await edit_and_export(client, tmp_path / "media", clip, format=fmt, quality="low")
        result = await _saved(client, export)
        data = player_data(result)
        assert data is not None
        if link == "expired":
            sandbox.stop()  # the render's link no longer answers: only the saved file is left
        async with browse(client, result, chromium=chromium, tmp_path=tmp_path, theme=theme) as s:
            video = await s.play_until(1.0)
            shown = {
                name: await s.text(name) for name in ("summary", "lanes", "instruction", "changes", "status")
            }
            facts = await s.text("facts")
            await anyio.sleep(0.5)  # a dead link is dropped from the next steps 0.3 s after it failed
            actions = await s.text("actions")
            await s.app.locator("#compose-text").fill("make the title bigger")
            await s.app.locator("#compose-send").click()
            await s.page.wait_for_function("() => window.messages.length > 0", timeout=10_000)
            messages = await s.page.evaluate("() => window.messages")
            host_log = await s.page.evaluate("() => window.hostLog")
            notice = await s.text("notice")
            shot = await s.screenshot(artifacts / f"player-{fmt}-{theme}.png")
            forwarded, console = s.forwarded, s.console

    # the video plays: time advanced, frames decoded (the sandbox's "low" quality is 360 lines)
    assert video["error"] is None, (video, console)
    assert video["time"] > 1.0
    assert (video["width"], video["height"]) == (640, 360)
    if link == "alive":  # straight from the render's link, an origin the page's CSP declares
        assert video["source"] == "url", (video, console)
        assert video["src"].startswith(sandbox.url)
        assert forwarded == []
        assert "from the download link" in facts
        assert "Open the download link" in actions
    else:  # the link failed; the saved file, read through the host, plays from a data: URL
        assert video["source"] == "resource", (video, console)
        assert video["src"].startswith(f"data:video/{fmt};base64,")
        assert forwarded == ["resources/read"]
        assert "saved on this computer" in facts
        assert "Open the download link" not in actions  # it does not answer any more
    # the summary, the timeline lanes, the last edit
    assert shown["summary"] == data["timeline"]
    assert "Urban Dreams" in data["timeline"]
    for track in data["tracks"]:
        assert track["kind"] in shown["lanes"]
    assert shown["instruction"] == f"“{INSTRUCTION}”"
    assert shown["changes"].splitlines() == edit.structured_content["changes"]
    assert shown["status"] == "Ready"
    assert fmt.upper() in facts
    # a next step: the user's request reaches the chat as their message
    assert messages == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Please change the video: make the title bigger"}],
        }
    ]
    assert notice == "Sent to the chat."
    assert host_log[:2] == ["ui/initialize", "ui/notifications/initialized"]
    assert "ui/notifications/size-changed" in host_log
    assert shot.stat().st_size > 10_000


async def test_player_follows_a_running_export_until_it_plays(
    sandbox: Emulator, tmp_path: Path, chromium: str
) -> None:
    """export_video returned while rendering: the player shows the progress, asks the host to call
    get_export_status (a tools/call the host forwards to the server) until the render is done and
    saved, then plays it."""
    artifacts = tmp_path / "player-artifacts"
    artifacts.mkdir()
    clip = make_clip(tmp_path / "media" / "street.mp4", seconds=3.0)
    async with connect_apps(settings_for(sandbox, tmp_path), "legacy") as client:
        _, export = await edit_and_export(client, tmp_path / "media", clip, quality="low", wait_seconds=0)
        assert export.structured_content["status"] in ("pending", "processing"), export.structured_content
        async with browse(client, export, chromium=chromium, tmp_path=tmp_path, theme="dark") as s:
            rendering = await s.text("overlay-title")
            status_then = await s.text("status")
            first = await s.screenshot(artifacts / "player-rendering.png")
            video = await s.play_until(0.5)
            status_now = await s.text("status")
            await anyio.sleep(0.5)  # past the moment a dead link would be dropped
            actions = await s.text("actions")
            forwarded = s.forwarded

    assert rendering == "Rendering your video…"
    assert status_then.startswith("Rendering")
    # get_export_status through the host until the render was done and saved, then the file
    assert forwarded[0] == "tools/call"
    assert forwarded[-1] == "resources/read"
    assert set(forwarded) == {"tools/call", "resources/read"}
    assert video["error"] is None
    assert video["time"] > 0.5
    # The page (and so its CSP) was read before the render had a link: its origin was not declared
    # yet, so the link was refused and the saved file, read through the host, played instead.
    assert video["source"] == "resource"
    assert "Open the download link" in actions  # refused by the policy, not dead: still offered
    assert status_now == "Ready"
    assert first.stat().st_size > 5_000
