"""The facade the tools call: sessions, uploads, edit turns, renders, credits and state views.

    async with Workspace(settings, client, store) as ws:   # opens the task group for background work
        await ws.send_edit("remove the car", session_id=None, skill=None, wait=None, progress=cb)

Background work (uploads, edits, render polling, downloads) runs in the workspace's task group, so
a tool call only ever waits up to its budget (`wait`, never above `settings.wait_seconds`)
and cancelling it stops the wait, not the work. Progress reaches the caller through a plain async
callback `(progress, total, message)`. Knows nothing of MCP or httpx2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

from ..backend import state_items
from . import _generated
from ._generated import SavedView
from ._saved_files import saved_file
from ._workspace_core import WorkspaceCore
from ._workspace_errors import BadRequest, UnknownHandle
from ._workspace_views import (
    CancelOutcome,
    CancelView,
    CreditsView,
    ExportFormat,
    ExportQuality,
    PrepareView,
    ProgressFn,
    RenderFacts,
    RenderView,
    StateView,
    TurnView,
    UploadView,
)
from ._workspace_wait import within_budget

EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)
EXPORT_QUALITIES: tuple[str, ...] = get_args(ExportQuality)


class Workspace(WorkspaceCore):
    """The calls the tools make (its parts and their life: `_workspace_core.py`)."""

    # uploads -------------------------------------------------------------------------------

    @within_budget
    async def upload(
        self,
        paths: Sequence[str],
        urls: Sequence[str],
        *,
        session_id: str | None,
        skill: str | None,
        progress: ProgressFn | None = None,
    ) -> UploadView:
        """Every input is checked before any byte leaves; one refusal means nothing is uploaded. The
        upload runs in the background: the view says `running` when the budget ran out first."""
        return await self.uploads.upload(paths, urls, session_id, skill, progress, owner=self.client)

    # local preparations ---------------------------------------------------------------------

    async def prepare(
        self,
        path: str,
        *,
        start: float | None = None,
        end: float | None = None,
        max_height: int | None = None,
        max_size_mb: float | None = None,
        cancel: bool = False,
        progress: ProgressFn | None = None,
    ) -> PrepareView:
        """A video transcoded to fit an upload into the prepared folder of the output directory,
        in the background (see `_prepares.py`); `cancel`: stop the one these arguments started."""
        return await self.prepares.prepare(
            path,
            start=start,
            end=end,
            max_height=max_height,
            max_size_mb=max_size_mb,
            cancel=cancel,
            progress=progress,
        )

    async def cancel_prepare(self, prepare_id: str) -> PrepareView:
        """Stop a running preparation (its partial output is removed); a finished one is left as it is."""
        return await self.prepares.cancel(prepare_id.strip())

    # edits ---------------------------------------------------------------------------------

    @within_budget
    async def send_edit(
        self,
        instruction: str,
        *,
        session_id: str | None,
        skill: str | None,
        wait: float | None,
        progress: ProgressFn | None = None,
        resumed: bool = False,
    ) -> TurnView:
        """`resumed`: the same call again, after the host answered a form (never sent twice)."""
        return await self.turns.send(
            instruction, session_id, skill, wait, progress, owner=self.client, resumed=resumed
        )

    @within_budget
    async def edit_result(
        self, turn_id: str, *, wait: float | None, progress: ProgressFn | None = None
    ) -> TurnView:
        return await self.turns.result(turn_id.strip(), wait, progress, owner=self.client)

    @within_budget
    async def answer(
        self,
        turn_id: str,
        answers: Sequence[str | Sequence[str] | None],
        *,
        wait: float | None,
        progress: ProgressFn | None = None,
    ) -> TurnView:
        """Send the answer to the question turn `turn_id` ended in (one entry per question)."""
        return await self.turns.answer(turn_id.strip(), answers, wait, progress, owner=self.client)

    # state and credits ---------------------------------------------------------------------

    @within_budget
    async def state(self, session_id: str | None, *, skill: str | None = None) -> StateView:
        """A read: it never creates, replaces or switches a session (`NoSession`, `SessionGone`)."""
        ref = await self.sessions.resolve(session_id, skill, self.client, create=False)
        state, draft = await self.sessions.read(ref, replace=False)
        return StateView(
            session_id=ref.session_id,
            skill=ref.skill,
            timeline=draft,
            tracks=draft.tracks_view(),
            export_ready=draft.export_ready(),
            video_infos=state.video_infos,
            generated_media=state.generated_media,
            draft=draft.raw,
            video_analyses=state.video_analyses,
            generated=state_items(state.generated_media),
            analyses=state_items(state.video_analyses),
        )

    @within_budget
    async def save_generated(self, session_id: str | None, items: Sequence[str] | None) -> SavedView:
        """Save the session's generated media and analyses (all, or `items`) into the output folder.
        A read of the session: it never creates, replaces or switches one."""
        ref = await self.sessions.resolve(session_id, None, self.client, create=False)
        state, _ = await self.sessions.read(ref, replace=False)
        return await _generated.save(
            self._client,
            folder=self.settings.output_dir,
            session_id=ref.session_id,
            skill=ref.skill,
            state=state,
            wanted=items,
        )

    @within_budget
    async def cancel(self, handle: str) -> CancelView:
        """Stop the work a handle names: a render (NemoVideo's cancel), an upload of this server or a
        local preparation (`cancel_prepare`). An edit already sent cannot be stopped
        (`not_cancellable`); finished work is left as it is."""
        handle = handle.strip()
        if handle.startswith("render_"):
            return await self.renders.cancel(handle, owner=self.client)
        if handle.startswith("upload_"):
            return await self.uploads.cancel(handle, owner=self.client)
        if handle.startswith("prepare_"):
            was_over = self.prepares.finished(handle)
            prepared = await self.cancel_prepare(handle)
            over = was_over or prepared.status != "cancelled"  # it finished before the stop took
            ended: CancelOutcome = "already_finished" if over else "cancelled"
            return CancelView(handle, "prepare", ended, prepared.status, None)
        if handle.startswith("turn_"):
            view = await self.turns.result(handle, 0, None, owner=self.client)
            outcome: CancelOutcome = "not_cancellable" if view.status == "running" else "already_finished"
            return CancelView(handle, "turn", outcome, view.status, view.session_id)
        raise UnknownHandle("handle", handle)

    @within_budget
    async def credits(self) -> CreditsView:
        c = await self._client.get_credits(skill=self.sessions.default_skill_of(self.client))
        return CreditsView(c.available, c.frozen, c.total)

    # renders -------------------------------------------------------------------------------

    @within_budget
    async def export(
        self,
        *,
        session_id: str | None,
        format: str = "mp4",
        quality: str = "high",
        download: bool = True,
        wait: float | None,
        progress: ProgressFn | None = None,
    ) -> RenderView:
        if format not in EXPORT_FORMATS:
            raise BadRequest("unknown_format", value=format, choices=EXPORT_FORMATS)
        if quality not in EXPORT_QUALITIES:
            raise BadRequest("unknown_quality", value=quality, choices=EXPORT_QUALITIES)
        ref = await self.sessions.resolve(session_id, None, self.client)
        return await self.renders.export(
            ref,
            format=format,
            quality=quality,
            download=download,
            wait_seconds=wait,
            progress=progress,
        )

    @within_budget
    async def export_status(
        self,
        render_id: str,
        *,
        download: bool | None = None,
        wait: float | None,
        progress: ProgressFn | None = None,
    ) -> RenderView:
        return await self.renders.status(
            render_id.strip(),
            download=download,
            wait_seconds=wait,
            progress=progress,
            owner=self.client,
        )

    # the player (MCP Apps) -------------------------------------------------------------------

    def render_facts(self, render_id: str) -> RenderFacts | None:
        """What a player shows beside render `render_id`, read from the store only (None when the
        render is unknown): the session's last read timeline and last completed edit, and the file
        this server saved for it when that is still a regular video file in the output folder."""
        record = self._store.get_render(render_id.strip())
        if record is None:
            return None
        turn = self._store.last_turn(record.session_id)
        saved = saved_file(record.path, self.settings.output_dir)
        return RenderFacts(
            render_id=record.render_id,
            session_id=record.session_id,
            format=record.format,
            url=record.url,
            timeline=self.sessions.last_draft(record.session_id),
            last_turn=self.turns.view_of(turn) if turn else None,
            last_instruction=turn.instruction if turn else None,
            file=saved.path if saved else None,
            file_bytes=saved.size if saved else None,
        )
