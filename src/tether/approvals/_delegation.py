"""Delegation: an approver hands their approvals to another person for a period.

A ``Delegation`` is kept in a ``DelegationBook`` (``MemoryDelegationBook`` in a process);
``delegate`` makes one, authorized (an approver delegates their own authority only).
While it runs, ``acting_for`` turns its delegate into an ``Approver`` that decides *on
behalf of* the delegator: policies check the delegator, and the decision records both
(``ApprovalDecided.by`` and ``on_behalf_of``, in the audit trail). Outside its period,
``acting_for`` refuses with ``NotAuthorizedError``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from .._governance import Approver, Governance, as_approver
from ..errors import NotAuthorizedError, UserError

__all__ = ["Delegation", "DelegationBook", "MemoryDelegationBook", "acting_for", "delegate"]


@dataclass(frozen=True, slots=True)
class Delegation:
    """``from_id`` hands their approvals to ``to`` from ``starts`` until ``ends``."""

    id: str
    from_id: str
    from_roles: frozenset[str]
    """The delegator's roles when they delegated: what the delegate decides with."""
    to: str
    """The delegate's approver id."""
    starts: datetime
    ends: datetime
    by: str
    """Who made the delegation (the delegator)."""
    at: datetime
    reason: str | None = None

    def live(self, moment: datetime) -> bool:
        """Whether the delegation runs at ``moment`` (from ``starts``, until ``ends``)."""
        return self.starts <= moment < self.ends


@runtime_checkable
class DelegationBook(Protocol):
    """Where delegations are kept."""

    async def save_delegation(self, delegation: Delegation) -> None:
        """Keep a new delegation."""
        ...

    async def delegations(
        self, *, to: str | None = None, from_id: str | None = None
    ) -> list[Delegation]:
        """The delegations to ``to`` and from ``from_id`` (``None``: any), oldest first."""
        ...


class MemoryDelegationBook:
    """Delegations kept in this process (a run store's process, a test)."""

    def __init__(self) -> None:
        import asyncio  # here, not at ``import tether`` (tests/test_import_cost.py)

        self._kept: list[Delegation] = []
        self._lock = asyncio.Lock()

    async def save_delegation(self, delegation: Delegation) -> None:
        async with self._lock:
            self._kept.append(delegation)

    async def delegations(
        self, *, to: str | None = None, from_id: str | None = None
    ) -> list[Delegation]:
        return [
            d
            for d in self._kept
            if (to is None or d.to == to) and (from_id is None or d.from_id == from_id)
        ]

    async def aclose(self) -> None:
        """Nothing to close (a book beside a store closes its connection)."""


async def delegate(
    book: DelegationBook,
    *,
    from_: Approver,
    to: Approver | str,
    ends: datetime,
    by: Approver | str,
    starts: datetime | None = None,
    reason: str | None = None,
    governance: Governance | None = None,
) -> Delegation:
    """Hand ``from_``'s approvals to ``to`` from ``starts`` (default: now, by the governance
    clock) until ``ends``, and keep it in ``book``; return the delegation.

        await delegate(book, from_=ana, to="zoe", ends=monday, by=ana, reason="on leave")

    ``by`` must be ``from_`` (an approver delegates their own authority); else
    ``NotAuthorizedError`` and nothing is kept. ``from_``'s roles are recorded as they are
    now. Times are aware datetimes, ``starts`` before ``ends``."""
    now = (governance or Governance()).now()
    maker, delegate_to = as_approver(by), as_approver(to)
    if not isinstance(from_, Approver) or maker is None or delegate_to is None:
        raise UserError("delegate takes from_=Approver(...), to= and by= (an approver or id).")
    if maker.id != from_.id or from_.on_behalf_of is not None:
        raise NotAuthorizedError(
            f"{maker.id!r} may not delegate the approvals of {from_.id!r}: an approver "
            "delegates only their own. Nothing was recorded."
        )
    begins = now if starts is None else starts
    for moment in (begins, ends):
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise UserError(f"A delegation's times are aware datetimes, not {moment!r}.")
    if not begins < ends or delegate_to.id == from_.id:
        raise UserError("A delegation ends after it starts, and goes to another approver.")
    delegation = Delegation(
        f"del_{uuid.uuid4().hex}", from_.id, from_.roles, delegate_to.id, begins, ends,
        maker.id, now, reason,
    )  # fmt: skip
    await book.save_delegation(delegation)
    return delegation


async def acting_for(
    book: DelegationBook, approver: Approver | str | None, on_behalf_of: str, *, at: datetime
) -> Approver:
    """``approver`` deciding for ``on_behalf_of`` under a delegation running ``at``;
    ``NotAuthorizedError`` (nothing recorded) if none runs then."""
    acting = as_approver(approver)
    if acting is None:
        raise NotAuthorizedError("A decision on behalf of another needs its delegate (by=).")
    found = [d for d in await book.delegations(to=acting.id, from_id=on_behalf_of) if d.live(at)]
    if not found:
        raise NotAuthorizedError(
            f"{acting.id!r} holds no delegation from {on_behalf_of!r} at {at.isoformat()}: "
            "it never ran, or its period is over. Nothing was recorded."
        )
    delegator = Approver(on_behalf_of, roles=found[0].from_roles)
    return Approver(acting.id, acting.display_name, acting.roles, on_behalf_of=delegator)
