"""The player (MCP Apps) through `mcp.Client` against the emulator, in both protocol modes: the tools
link the `ui://` page, an Apps client gets the player's data in the result's `_meta` (a client
without Apps gets exactly today's result), the page's CSP names exactly the video's origins, and a
saved video is served through the server (a resource, and the HTTP route) and nothing else is.
The page itself is driven in a real browser by tests/test_player_browser.py."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from nemo_video_mcp.emulator import Emulator
from nemo_video_mcp.http_transport import build_app
from nemo_video_mcp.service import SavedFileRefused, read_saved_file, saved_file
from player_support import (
    INSTRUCTION,
    PLAYER_URI,
    apps_extension,
    connect_apps,
    edit_and_export,
    player_data,
)
from support_common import serve_in_thread, server_for, settings_for, text_of
from tools_support import MODES, file_bytes


def modes(test: Any) -> Any:
    """An async test run in both protocol modes."""
    return pytest.mark.anyio(pytest.mark.parametrize("mode", MODES)(test))


def swap_for_symlink(path: str | Path, target: Path) -> None:
    saved = Path(path)
    saved.unlink()
    saved.symlink_to(target)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@modes
async def test_export_tools_link_the_player_page(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect_apps(settings_for(emulator, tmp_path), mode) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        page = (await c.read_resource(PLAYER_URI)).contents[0]
        listed = {str(r.uri) for r in (await c.list_resources()).resources}
        templates = {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
        advertised = c.server_capabilities.extensions or {}
    for name in ("export_video", "get_export_status"):
        assert (tools[name].meta or {}).get("ui") == {"resourceUri": PLAYER_URI}
    for name in set(tools) - {"export_video", "get_export_status"}:
        assert "ui" not in (tools[name].meta or {})
    if mode == "auto":  # the 2025-11-25 handshake has no server `extensions` capability to fill
        assert EXTENSION_ID in advertised
    assert PLAYER_URI in listed
    assert {f"nemo://renders/{{render_id}}/video.{ext}" for ext in ("mp4", "webm", "mov")} <= templates
    assert page.mime_type == APP_MIME_TYPE
    html = page.text
    assert html.startswith("<!doctype html>")
    assert "ui/initialize" in html
    assert "ui/notifications/tool-result" in html
    # self-contained: no script, style sheet, font or image loaded from anywhere
    for needle in ("<script src", "<link", "@import", "url(http", 'src="http'):
        assert needle not in html
    # before any video was handed out, the page asks for no origin at all
    assert page.meta == {"ui": {"csp": {}, "prefersBorder": True}}


@modes
async def test_apps_client_gets_the_player_data_and_others_todays_result(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect_apps(settings, mode) as c:
        edit, export = await edit_and_export(c, tmp_path / "media")
        state = await c.call_tool("get_state", {})
        page = (await c.read_resource(PLAYER_URI)).contents[0]
    async with connect_apps(settings, mode, apps=False) as plain:
        rid = export.structured_content["render_id"]
        again = await plain.call_tool("get_export_status", {"render_id": rid})
    async with connect_apps(settings, mode) as c:
        again_apps = await c.call_tool("get_export_status", {"render_id": rid})

    ex = export.structured_content
    data = player_data(export)
    assert data is not None, export.meta
    assert data["render_id"] == ex["render_id"]
    assert data["status"] == "completed"
    assert data["format"] == "mp4"
    url_source, resource_source = data["sources"]
    assert url_source == {"kind": "url", "src": ex["url"], "type": "video/mp4"}
    assert resource_source["kind"] == "resource"
    assert resource_source["uri"] == f"nemo://renders/{ex['render_id']}/video.mp4"
    assert resource_source["bytes"] == len(file_bytes(ex["path"]) or b"")
    assert data["file"] == {"name": Path(ex["path"]).name, "bytes": resource_source["bytes"]}
    # the timeline and the last edit, as get_state and send_edit told them
    assert data["timeline"] == state.structured_content["timeline"]
    assert [t["label"] for t in data["tracks"]] == [t["label"] for t in state.structured_content["tracks"]]
    assert data["last_edit"] == {"instruction": INSTRUCTION, "changes": edit.structured_content["changes"]}
    assert data["last_edit"]["changes"]
    steps = {s["id"]: s for s in data["next_steps"]}
    assert steps["edit"]["kind"] == "compose"
    assert steps["open"] == {
        "kind": "link",
        "id": "open",
        "label": "Open the download link",
        "url": ex["url"],
    }
    assert "save" not in steps  # the file is saved already

    # the page's CSP: exactly the origin the video came from (the render URL's), nothing else
    assert page.meta == {"ui": {"csp": {"resourceDomains": [_origin(ex["url"])]}, "prefersBorder": True}}

    # a client without Apps: the same text and structured result, and no player data
    assert player_data(again) is None
    assert text_of(again) == text_of(again_apps)
    assert again.structured_content == again_apps.structured_content
    assert player_data(again_apps) is not None


@modes
async def test_saved_video_is_read_through_the_server(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect_apps(settings_for(emulator, tmp_path), mode) as c:
        _, export = await edit_and_export(c, tmp_path / "media")
        saved = Path(export.structured_content["path"])
        uri = player_data(export)["sources"][1]["uri"]
        content = (await c.read_resource(uri)).contents[0]
        rid = export.structured_content["render_id"]
        with pytest.raises(Exception, match=r"is a mp4 file: read its video\.mp4"):
            await c.read_resource(f"nemo://renders/{rid}/video.webm")
        with pytest.raises(Exception, match="No render 'render_nope' is known"):
            await c.read_resource("nemo://renders/render_nope/video.mp4")
    assert content.mime_type == "video/mp4"
    assert base64.b64decode(content.blob) == file_bytes(saved)


@modes
async def test_unsaved_export_offers_to_save_and_plays_from_its_url(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    async with connect_apps(settings_for(emulator, tmp_path), mode) as c:
        _, export = await edit_and_export(c, tmp_path / "media", download=False)
        rid = export.structured_content["render_id"]
        with pytest.raises(Exception, match="has no saved file on this computer"):
            await c.read_resource(f"nemo://renders/{rid}/video.mp4")
        saved = await c.call_tool("get_export_status", {"render_id": rid, "download": True})
    data = player_data(export)
    assert [s["kind"] for s in data["sources"]] == ["url"]
    assert data["file"] is None
    steps = {s["id"]: s for s in data["next_steps"]}
    assert steps["save"]["tool"] == "get_export_status"
    assert steps["save"]["arguments"] == {"render_id": rid, "download": True}
    # the step does what it says: the same call saves it, and the player then has the file
    assert [s["kind"] for s in player_data(saved)["sources"]] == ["url", "resource"]


@modes
async def test_a_file_swapped_for_a_symlink_is_never_served(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    secret = tmp_path / "private" / "secret.mp4"
    secret.parent.mkdir()
    secret.write_bytes(b"not yours")
    async with connect_apps(settings_for(emulator, tmp_path), mode) as c:
        _, export = await edit_and_export(c, tmp_path / "media")
        swap_for_symlink(export.structured_content["path"], secret)
        rid = export.structured_content["render_id"]
        with pytest.raises(Exception, match="has no saved file on this computer"):
            await c.read_resource(f"nemo://renders/{rid}/video.mp4")
        status = await c.call_tool("get_export_status", {"render_id": rid})
    assert [s["kind"] for s in player_data(status)["sources"]] == ["url"]


def test_saved_file_rules(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    video = out / "a.mp4"
    video.write_bytes(b"x" * 100)
    (out / "notes.txt").write_text("hi")
    outside = tmp_path / "b.mp4"
    outside.write_bytes(b"y")
    (out / "link.mp4").symlink_to(outside)
    (out / "inner").mkdir()
    (out / "inner" / "c.webm").write_bytes(b"z")
    found = saved_file(video, out)
    assert found is not None
    assert found.size == 100
    assert found.path == video.resolve()
    assert saved_file(out / "inner" / "c.webm", out) is not None
    for refused in (outside, out / "link.mp4", out / "notes.txt", out / "missing.mp4", out, None):
        assert saved_file(refused, out) is None, refused
    assert saved_file(out / "inner" / ".." / ".." / "b.mp4", out) is None
    assert read_saved_file(found, 100) == b"x" * 100
    with pytest.raises(SavedFileRefused) as too_large:
        read_saved_file(found, 99)
    assert (too_large.value.problem, too_large.value.size, too_large.value.limit) == ("too_large", 100, 99)
    swapped = out / "swapped.mp4"
    swapped.write_bytes(b"new")
    swapped.replace(video)  # replaced after the check: another file (inode) under the same name
    with pytest.raises(SavedFileRefused) as replaced:
        read_saved_file(found, 100)
    assert replaced.value.problem == "replaced"
    video.unlink()
    with pytest.raises(SavedFileRefused) as gone:
        read_saved_file(found, 100)
    assert gone.value.problem == "gone"


@pytest.mark.anyio
async def test_size_cap_of_the_resource(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nemo_video_mcp.tools import _player

    async with connect_apps(settings_for(emulator, tmp_path), "legacy") as c:
        _, export = await edit_and_export(c, tmp_path / "media")
        rid = export.structured_content["render_id"]
        monkeypatch.setattr(_player, "MAX_RESOURCE_BYTES", 1000)
        status = await c.call_tool("get_export_status", {"render_id": rid})
        with pytest.raises(Exception, match=r"over the 0 MB a player may read through the host"):
            await c.read_resource(f"nemo://renders/{rid}/video.mp4")
    assert "resource" in [s["kind"] for s in player_data(export)["sources"]]
    assert [s["kind"] for s in player_data(status)["sources"]] == ["url"]  # over the cap: not offered


# ---- the HTTP route (Streamable HTTP transport) -------------------------------------------------

TOKEN = "s3cret-token-for-tests-0123456789"


async def _export_over_http(url: str, media: Path, token: str | None) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), extensions=[apps_extension()]) as client,
    ):
        _, export = await edit_and_export(client, media)
        page = (await client.read_resource(PLAYER_URI)).contents[0]
    return export, page


@pytest.mark.parametrize("bearer", [None, TOKEN])
def test_saved_video_is_served_on_the_http_route(
    emulator: Emulator, tmp_path: Path, bearer: str | None
) -> None:
    env = {"NEMO_HTTP_TOKEN": bearer} if bearer else {}
    settings = settings_for(emulator, tmp_path, env)
    server = server_for(settings)
    with serve_in_thread(lambda port: build_app(server, settings, host="127.0.0.1", port=port)) as port:
        export, page = anyio.run(
            _export_over_http, f"http://127.0.0.1:{port}/mcp", tmp_path / "media", bearer
        )
        data = player_data(export)
        http_source = data["sources"][0]
        saved = Path(export.structured_content["path"])
        video = saved.read_bytes()
        whole = httpx2.get(http_source["src"], timeout=10)  # no bearer: the path's token is the credential
        part = httpx2.get(http_source["src"], headers={"range": "bytes=0-99"}, timeout=10)
        token = http_source["src"].rsplit("/", 1)[1]
        other = ("A" if token[0] != "A" else "B") + token[1:]  # one character off
        wrong = httpx2.get(http_source["src"].replace(token, other), timeout=10)
        mcp_without_bearer = httpx2.post(f"http://127.0.0.1:{port}/mcp", json={}, timeout=10)
        saved.unlink()
        gone = httpx2.get(http_source["src"], timeout=10)
    assert http_source["kind"] == "http"
    assert http_source["src"].startswith(f"http://127.0.0.1:{port}/media/")
    assert len(token) >= 40  # 32 random bytes
    assert [s["kind"] for s in data["sources"]] == ["http", "url", "resource"]
    assert whole.status_code == 200
    assert whole.content == video
    assert whole.headers["content-type"] == "video/mp4"
    assert part.status_code == 206
    assert len(part.content) == 100
    assert wrong.status_code == 404
    assert gone.status_code == 404
    if bearer:
        assert mcp_without_bearer.status_code == 401  # only the media route is open
    # the page's CSP names this server's own origin and the render URL's, and nothing else
    csp = page.meta["ui"]["csp"]
    assert csp == {"resourceDomains": [f"http://127.0.0.1:{port}", _origin(export.structured_content["url"])]}


def test_media_route_serves_nothing_it_did_not_hand_out(emulator: Emulator, tmp_path: Path) -> None:
    settings = settings_for(emulator, tmp_path)
    settings.output_dir.mkdir(parents=True)
    (settings.output_dir / "x.mp4").write_bytes(b"x")
    server = server_for(settings)
    with serve_in_thread(lambda port: build_app(server, settings, host="127.0.0.1", port=port)) as port:
        base = f"http://127.0.0.1:{port}/media/"
        answers = [
            httpx2.get(base + name, timeout=10).status_code for name in ("x.mp4", "..%2Fx.mp4", "", "a" * 43)
        ]
        post = httpx2.post(base + "a" * 43, timeout=10).status_code
    assert answers == [404, 404, 404, 404]
    assert post == 405
    assert os.environ.get("NEMO_HTTP_TOKEN") is None
