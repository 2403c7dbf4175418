"""Who may see an agent's runs (and start them): the inbox's read permissions.

``App(readers={"Payments": {"finance"}, "*": {"staff"}})``: an approver sees the runs of an
agent if they hold one of the roles named for it, else one of those named for ``"*"``; an
agent named by neither is seen by everyone signed in (as is every agent when ``readers`` is
empty, the default). Deciding is a separate question: an approver who sees a run still
needs its call's policy to decide it.

A pending call names the agent of its graph that asked (a handoff's agent, perhaps): it is
seen only if every application agent whose graph holds that agent is seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._agent import Agent
from .._governance import Approver
from ..errors import UserError

__all__ = ["Readers"]

EVERY_AGENT = "*"


class Readers:
    """The roles that may see each agent's runs; ``sees`` answers for one approver."""

    def __init__(
        self, readers: Mapping[str, Iterable[str]] | None, agents: Sequence[Agent[Any]]
    ) -> None:
        names = {agent.name for agent in agents}
        self.roles: dict[str, frozenset[str]] = {}
        for name, roles in (readers or {}).items():
            if name != EVERY_AGENT and name not in names:
                raise UserError(
                    f"App(readers=...) names {name!r}, not an agent of this application "
                    f"({', '.join(sorted(names))}, or '*' for every agent)."
                )
            chosen = frozenset({roles} if isinstance(roles, str) else roles)
            if not chosen or not all(isinstance(role, str) and role for role in chosen):
                raise UserError(
                    f"App(readers={{{name!r}: ...}}) is a set of role names (at least one), "
                    f"not {roles!r}."
                )
            self.roles[name] = chosen
        self.holders: dict[str, tuple[str, ...]] = {}
        """An agent of any graph -> the application agents whose graph holds it."""
        for agent in agents:
            for member in agent.graph():
                self.holders[member] = (*self.holders.get(member, ()), agent.name)
            self.holders[agent.name] = (*self.holders.get(agent.name, ()), agent.name)

    @property
    def restricted(self) -> bool:
        """Whether any agent is hidden from anyone (else every check is ``True``)."""
        return bool(self.roles)

    def sees(self, viewer: Approver | None, root_agent: str) -> bool:
        """Whether ``viewer`` may see (and start) runs of application agent ``root_agent``;
        ``None``: no one in particular (the store's owner: workers, the local CLI)."""
        if viewer is None or not self.roles:
            return True
        roles = self.roles.get(root_agent, self.roles.get(EVERY_AGENT))
        return roles is None or bool(roles & viewer.roles)

    def sees_member(self, viewer: Approver | None, agent: str) -> bool:
        """Whether ``viewer`` may see calls of ``agent``, an agent of some application graph."""
        if viewer is None or not self.roles:
            return True
        holders = self.holders.get(agent, (agent,))
        return all(self.sees(viewer, holder) for holder in holders)
