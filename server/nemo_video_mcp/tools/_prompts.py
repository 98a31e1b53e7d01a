"""One prompt per skill: walks the assistant through upload, edit, check and export, with the
skill's own example requests (the `## Example requests` section of its SKILL.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from ..skills import Skill, SkillRegistry

_HEADING = re.compile(r"^#{1,6}\s")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*\S)\s*$")


def example_requests(body: str) -> list[str]:
    """The bullet items under the `## Example requests` heading (quotes stripped)."""
    found: list[str] = []
    inside = False
    for line in body.splitlines():
        if _HEADING.match(line):
            inside = line.lstrip("#").strip().lower().startswith("example requests")
            continue
        bullet = _BULLET.match(line) if inside else None
        if bullet:
            found.append(bullet.group(1).strip().strip("\"'“”"))
    return found


def prompt_text(skill: Skill, request: str | None, file: str | None) -> str:
    examples = example_requests(skill.body)
    listed = "\n".join(f"- {e}" for e in examples) or "- (none listed)"
    want = (
        f"The user's request: {request.strip()}"
        if request and request.strip()
        else "Ask the user what they want done, e.g. one of the example requests below."
    )
    media = (
        f"The media: {file.strip()} (a local path goes in `paths`, an http(s) link in `urls`)."
        if file and file.strip()
        else "Ask the user for the video: a local file in their allowed folders, or an http(s) link."
    )
    return f"""Use NemoVideo's {skill.slug} skill: {skill.description}

{want}
{media}

Steps:
1. upload_media(paths=[...] or urls=[...], skill="{skill.slug}"). Note the session_id. If status is
   "running" (a big file), call upload_media again with the same arguments until "completed".
2. send_edit(instruction=<the request in the user's words>, skill="{skill.slug}"). If status is
   "running", call get_edit_result(turn_id) until it is "completed" or "failed"; never send the
   same instruction again. Show the user the reply and the changes.
3. get_state to check the timeline (export_ready should be true).
4. export_video(); while its status is not "completed", call get_export_status(render_id). Tell the
   user where the file was saved (`path`).
If a tool fails, follow what its message says and tell the user in plain words.

Example requests for this skill:
{listed}
"""


def _prompt_for(skill: Skill) -> Callable[..., str]:
    def prompt(
        request: Annotated[str | None, Field(description="what the user wants done")] = None,
        file: Annotated[str | None, Field(description="the video: a local path or an http(s) link")] = None,
    ) -> str:
        return prompt_text(skill, request, file)

    prompt.__name__ = skill.slug.replace("-", "_")
    return prompt


def register_prompts(srv: MCPServer[Any], skills: SkillRegistry) -> None:
    for skill in skills:
        srv.prompt(
            name=skill.slug,
            title=f"{skill.name}: upload, edit, export",
            description=f"Guided workflow for {skill.slug}: {skill.description}",
        )(_prompt_for(skill))
