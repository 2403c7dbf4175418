"""Sign-ins as an admin sees them: listed, and ended one at a time or all of one approver's.

An admin is an approver holding one of ``App(admins=...)``'s roles (default ``admin``);
the CLI with ``--app`` acts as the store's owner. A sign-in is named by the key its
session book keeps (the SHA-256 of its cookie's id): the name ends it, but never signs
anyone in. A sign-in past its idle or absolute lifetime is ended when the list meets it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .._governance import Approver
from ..errors import NotAuthorizedError
from ._sessions import SessionBook, SignIn

__all__ = ["SessionAdmin", "SessionInfo"]


@dataclass(frozen=True)
class SessionInfo:
    """One live sign-in: its name (``session``), who, and when it began, was last used
    and will end unless used again."""

    session: str
    approver: Approver
    signed_in_at: datetime
    last_seen_at: datetime
    ends_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "approver": self.approver.id,
            "display_name": self.approver.display_name,
            "roles": sorted(self.approver.roles),
            "signed_in_at": self.signed_in_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
        }


class SessionAdmin:
    """Lists and ends the sign-ins of one session book, by its application's lifetimes."""

    def __init__(
        self,
        book: SessionBook,
        *,
        now: Callable[[], datetime],
        idle: float,
        lifetime: float,
        admins: Iterable[str] = ("admin",),
    ) -> None:
        self.book = book
        self.now = now
        self.idle = idle
        self.lifetime = lifetime
        self.admins = frozenset(admins)

    def check(self, who: Approver | None) -> None:
        """Refuse ``who`` unless an admin (``None``: the store's owner, always allowed)."""
        if who is None or who.roles & self.admins:
            return
        needed = ", ".join(sorted(self.admins)) or "(none: App(admins=()) allows no one)"
        raise NotAuthorizedError(
            f"Listing and ending sign-ins needs one of the roles {needed} "
            f"(App(admins=...)); {who.id} has {', '.join(sorted(who.roles)) or 'none'}."
        )

    async def live(self, approver: str | None = None) -> list[SessionInfo]:
        """Live sign-ins, oldest first (of ``approver`` only, if given)."""
        now = self.now().timestamp()
        found = []
        for key, sign_in in await self.book.all():
            ends = min(sign_in.created_at + self.lifetime, sign_in.seen_at + self.idle)
            if ends < now:
                await self.book.remove(key)  # over: the next request would end it anyway
            elif approver is None or sign_in.approver.id == approver:
                found.append(_info(key, sign_in, ends))
        return found

    async def end(self, session: str) -> bool:
        """End the sign-in named ``session``; whether there was a live one."""
        if not any(info.session == session for info in await self.live()):
            return False
        await self.book.remove(session)
        return True

    async def end_all_of(self, approver: str) -> int:
        """End every sign-in of ``approver``; how many there were."""
        ended = await self.live(approver)
        for info in ended:
            await self.book.remove(info.session)
        return len(ended)


def _info(key: str, sign_in: SignIn, ends: float) -> SessionInfo:
    return SessionInfo(
        key,
        sign_in.approver,
        _time(sign_in.created_at),
        _time(sign_in.seen_at),
        _time(ends),
    )


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
