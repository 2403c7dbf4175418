"""Which session a run belongs to: the id it records at its start and checks on resume.

A run stores its items in one session. It records that session's id when it
starts, and a resume must bring the same session (opened afresh is fine), so
a paused run never writes into another conversation's store. Every backend
is held to this, the OpenAI Conversations one included: a session whose
conversation does not exist yet has no id to record, so it creates the
conversation when the run starts (its first sync, a moment later, would
create it anyway).
"""

from __future__ import annotations

import sys
from typing import Any

from ..errors import UserError
from ._protocol import Session

__all__ = ["check_new_session", "check_session", "session_identity"]


async def session_identity(session: Session) -> str:
    """The id a run records for ``session``, connecting a new Conversations session first."""
    if _unconnected_conversation(session):
        conversation_id: str = await session.get_conversation_id()  # type: ignore[attr-defined]
        return conversation_id
    return _named(session)


def check_new_session(session: Session) -> None:
    """Refuse, before a run starts, a session without an id (it could not be told apart)."""
    if not _unconnected_conversation(session):
        _named(session)


def check_session(recorded: str | None, session: Session | None) -> None:
    """Refuse to resume a run with a session other than the one it recorded."""
    if recorded is None:
        if session is not None:
            raise UserError(
                "This run was started without a session, so its items were never stored "
                "in one; resume it without session=..., or start a new run with the session."
            )
        return
    if session is None:
        raise UserError(
            f"This run stores its conversation in session {recorded!r}; pass that session "
            "again on resume (Runner.run(agent, state, session=...)) so that what the run "
            "adds is stored too."
        )
    if not recorded:
        raise UserError(
            "This state does not say which session the run belongs to (its session id is "
            "empty), so no session can be checked against it. Start a new run."
        )
    if session.session_id == recorded:
        return
    if _unconnected_conversation(session):
        raise UserError(
            f"This run belongs to OpenAI conversation {recorded!r}, and the session passed on "
            f"resume has no conversation yet. Resume with "
            f"OpenAIConversationsSession({recorded!r})."
        )
    raise UserError(
        f"This run belongs to session {recorded!r}, not {session.session_id!r}. "
        "Resume it with the session it started with."
    )


def _named(session: Session) -> str:
    session_id = session.session_id
    if not isinstance(session_id, str) or not session_id:
        raise UserError(
            f"The session {type(session).__name__} has session_id {session_id!r}; a run "
            "records its session's id to check it on resume, so it must be a non-empty "
            "string. Give the session a name, e.g. the user's or the chat's id."
        )
    return session_id


def _unconnected_conversation(session: Any) -> bool:
    # Only looked up if already imported: its module imports openai, and a session
    # of that class cannot exist before the module does.
    module = sys.modules.get(f"{__package__}._openai_conversations")
    return (
        module is not None
        and isinstance(session, module.OpenAIConversationsSession)
        and session.conversation_id is None
    )
