"""Sessions: which backend session a call works on, created on first use, one current per skill.

The current session of each skill lives in the Store, so it survives a restart. Skill resolution:
the explicit `skill` argument, else the named session's skill, else the skill of the session this
server worked on last, else `settings.skill`.

Sessions belong to a client (`owner`): '' when clients are not kept apart (stdio, or HTTP without
`--isolate-clients`), else the label of an HTTP client's bearer token. The current session, the
last used one and the sessions a client may name are then its own: another client's session id
is answered as unknown (`UnknownHandle("session")`), exactly like an id that does not exist.

When the backend has lost a session (code 1002), the session is marked lost, a new one is created
and made current, and the call fails with `SessionReplaced`, which carries the new session and
the last known timeline of the lost one: the user's timeline is never lost silently.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from ..backend import Draft, NemoClient, NemoError, SessionLost, SessionState
from ..logs import get_logger
from ..settings import SKILLS, Settings
from ._store import Store
from ._workspace_errors import (
    BadRequest,
    HandleKind,
    NoSession,
    ReplacementFailed,
    SessionGone,
    SessionReplaced,
    SessionUnusable,
    StoreUnavailable,
    UnknownHandle,
    UnknownSession,
    WorkspaceError,
)

log = get_logger(__name__)
T = TypeVar("T")

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class SessionRef:
    session_id: str
    skill: str
    owner: str = ""  # the client whose session it is


def check_skill(skill: str | None) -> str | None:
    if skill is not None and skill not in SKILLS:
        raise BadRequest("unknown_skill", value=skill, choices=SKILLS)
    return skill


class Sessions:
    def __init__(self, settings: Settings, client: NemoClient, store: Store) -> None:
        self._settings = settings
        self._client = client
        self._store = store
        self._lock = anyio.Lock()
        self._last: dict[str, SessionRef] = {}  # per client
        self._replaced: dict[str, SessionReplaced] = {}

    @property
    def default_skill(self) -> str:
        return self.default_skill_of("")

    def default_skill_of(self, owner: str) -> str:
        """The skill of the session `owner` worked on last, else the configured one."""
        last = self._last.get(owner)
        return last.skill if last is not None else self._settings.skill

    async def resolve(
        self, session_id: str | None, skill: str | None, owner: str = "", *, create: bool = True
    ) -> SessionRef:
        """The session a call works on; creates (and makes current) the skill's session if needed.
        `create=False` (read-only calls): a skill without a session raises `NoSession` instead."""
        check_skill(skill)
        if session_id is not None and session_id.strip():
            ref = await self._named(session_id.strip(), skill, owner)
        else:
            ref = await self._current(skill or self.default_skill_of(owner), owner, create=create)
        self._last[owner] = ref
        return ref

    def owns(self, session_id: str, owner: str) -> bool:
        """Whether the session belongs to `owner` (a session never recorded belongs to '')."""
        record = self._store.get_session(session_id)
        return (record.owner if record is not None else "") == owner

    def check_owner(self, kind: HandleKind, handle: str, session_id: str | None, owner: str) -> None:
        """A handle (`kind`) of another client's session is answered as unknown."""
        if session_id is not None and not self.owns(session_id, owner):
            raise UnknownHandle(kind, handle)

    async def _named(self, session_id: str, skill: str | None, owner: str) -> SessionRef:
        if not _SESSION_ID.match(session_id):
            raise BadRequest("not_a_session_id", value=session_id)
        record = self._store.get_session(session_id)
        if record is None:  # not seen here: adopt it only if NemoVideo knows it (another machine...)
            use = skill or self.default_skill_of(owner)
            try:
                await self._client.get_state(session_id, skill=use)
            except SessionLost:  # a typo, most likely: create nothing, change nothing
                raise UnknownSession(session_id=session_id, known=self._known(owner)) from None
            self._store.add_session(session_id, use, owner=owner)
            return SessionRef(session_id, use, owner)
        if record.owner != owner:  # another client's: as if it did not exist
            raise UnknownHandle("session", session_id)
        if record.lost:
            current = self._store.current(record.skill, owner=owner)
            raise SessionUnusable(
                session_id=session_id,
                skill=record.skill,
                current_session_id=current.session_id if current else None,
                last=_draft(record.last_draft),
            )
        return SessionRef(session_id, skill or record.skill, owner)

    def _known(self, owner: str) -> list[tuple[str, str, bool]]:
        """The client's sessions (id, skill, whether current), never another client's."""
        records = self._store.known_sessions(owner=owner)
        currents = (self._store.current(s, owner=owner) for s in SKILLS)
        current = {r.session_id for r in currents if r is not None}
        return [(r.session_id, r.skill, r.session_id in current) for r in records]

    async def _current(self, skill: str, owner: str, *, create: bool = True) -> SessionRef:
        async with self._lock:  # two first calls at once create one session, not two
            record = self._store.current(skill, owner=owner)
            if record is not None:
                return SessionRef(record.session_id, skill, owner)
            if not create:
                raise NoSession(skill)
            return await self._create(skill, owner)

    async def _create(self, skill: str, owner: str) -> SessionRef:
        info = await self._client.create_session(skill=skill)
        self._store.add_session(
            info.session_id, skill, task_id=info.task_id, user_id=info.user_id, owner=owner
        )
        self._store.set_current(skill, info.session_id, owner=owner)
        log.info("session created", session_id=info.session_id, skill=skill)
        return SessionRef(info.session_id, skill, owner)

    async def read(self, ref: SessionRef, *, replace: bool = True) -> tuple[SessionState, Draft]:
        """The session's state and draft now (a lost session becomes `SessionReplaced`, or with
        `replace=False`, for reads, `SessionGone`: nothing is created); the draft is remembered as
        the session's last known timeline."""
        if not replace:
            try:
                state = await self._client.get_state(ref.session_id, skill=ref.skill)
            except SessionLost:
                raise self.gone(ref) from None
        else:
            state = await self.guard(ref, lambda: self._client.get_state(ref.session_id, skill=ref.skill))
        draft = Draft.parse(state.draft)
        self.remember(ref, draft)
        return state, draft

    def remember(self, ref: SessionRef, draft: Draft) -> None:
        """Keep the last draft read, so a lost session's timeline can still be told. Best effort: a
        read must not fail because this could not be written (a full disk)."""
        try:
            self._store.save_draft(ref.session_id, draft.raw)
        except StoreUnavailable as exc:
            if not exc.write:
                raise
            log.warning("last draft not saved", session_id=ref.session_id, error=str(exc))

    def gone(self, ref: SessionRef) -> SessionGone:
        """A lost session as a read says it (nothing replaced), with the timeline last seen."""
        return SessionGone(session_id=ref.session_id, skill=ref.skill, last=self.last_draft(ref.session_id))

    def last_draft(self, session_id: str) -> Draft | None:
        record = self._store.get_session(session_id)
        if record is None or record.last_draft is None:
            return None
        return Draft.parse(record.last_draft)

    async def guard(self, ref: SessionRef, call: Callable[[], Awaitable[T]]) -> T:
        """Run a backend call on `ref`; a lost session becomes `SessionReplaced`."""
        try:
            return await call()
        except SessionLost:
            raise await self.replace_lost(ref) from None

    async def replace_lost(self, ref: SessionRef) -> WorkspaceError:
        """Mark `ref` lost, create its successor, make it current; the error that says so."""
        async with self._lock:
            if ref.session_id in self._replaced:  # a concurrent call already replaced it
                return self._replaced[ref.session_id]
            record = self._store.get_session(ref.session_id)
            last = _draft(record.last_draft if record else None)
            self._store.mark_lost(ref.session_id)
            log.warning("session lost", session_id=ref.session_id, skill=ref.skill)
            try:
                new = await self._create(ref.skill, ref.owner)
            except NemoError as exc:
                return ReplacementFailed(session_id=ref.session_id, cause=exc, last=last)
        self._last[ref.owner] = new
        error = SessionReplaced(
            old_session_id=ref.session_id, new_session_id=new.session_id, skill=ref.skill, last=last
        )
        self._replaced[ref.session_id] = error
        return error


def _draft(raw: object) -> Draft | None:
    """The draft a record kept, None when it was never read."""
    return None if raw is None else Draft.parse(raw)
