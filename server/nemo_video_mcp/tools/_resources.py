"""Resources: a session's timeline (text) and state (JSON), and each skill's SKILL.md."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from ..service import Workspace
from ..skills import Skill, SkillRegistry
from ._errors import describe
from ._timeline_words import summary

TIMELINE_URI = "nemo://sessions/{session_id}/timeline"
STATE_URI = "nemo://sessions/{session_id}/state"
SKILL_URI = "nemo://skills/{slug}"


def register_resources(
    srv: MCPServer[Any], skills: SkillRegistry, workspace_of: Callable[[Context[Any, Any]], Workspace]
) -> None:
    @srv.resource(
        TIMELINE_URI,
        name="timeline",
        title="Session timeline",
        description="One-line summary of a NemoVideo session's timeline, as it is now.",
        mime_type="text/plain",
    )
    async def timeline(session_id: str, ctx: Context[Any, Any]) -> str:
        try:
            return summary((await workspace_of(ctx).state(session_id)).timeline)
        except Exception as exc:
            raise ResourceError(describe(exc)) from None

    @srv.resource(
        STATE_URI,
        name="state",
        title="Session state",
        description="A NemoVideo session's state as JSON: summary, tracks, the raw draft, video infos.",
        mime_type="application/json",
    )
    async def state(session_id: str, ctx: Context[Any, Any]) -> str:
        try:
            view = await workspace_of(ctx).state(session_id)
        except Exception as exc:
            raise ResourceError(describe(exc)) from None
        data = {
            "session_id": view.session_id,
            "skill": view.skill,
            "timeline": summary(view.timeline),
            "export_ready": view.export_ready,
            "tracks": view.tracks,
            "draft": view.draft,
            "video_infos": view.video_infos,
            "generated_media": view.generated_media,
            "video_analyses": view.video_analyses,
        }
        return json.dumps(data, ensure_ascii=False, indent=1, default=str)

    for skill in skills:
        srv.resource(
            SKILL_URI.format(slug=skill.slug),
            name=f"skill-{skill.slug}",
            title=skill.name,
            description=skill.description,
            mime_type="text/markdown",
        )(_skill_text(skill))


def _skill_text(skill: Skill) -> Callable[[], str]:
    def read() -> str:
        return skill.text  # read when asked for, so building the server reads nothing more

    read.__name__ = f"skill_{skill.slug.replace('-', '_')}"
    return read
