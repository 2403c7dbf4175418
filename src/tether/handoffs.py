"""Handoff options: what the next agent sees, and when a handoff is offered."""

from __future__ import annotations

from dataclasses import dataclass

from .items import Item

__all__ = ["HandoffInputData"]


@dataclass(frozen=True, slots=True)
class HandoffInputData:
    """What an input filter receives at a handoff, and returns changed.

    ``input_history`` is the conversation before the run's own items (session
    history and the run's input); ``pre_handoff_items`` the items the run produced
    before the turn that handed off; ``new_items`` that turn's items (the handoff
    call and its output among them).
    """

    input_history: tuple[Item, ...]
    pre_handoff_items: tuple[Item, ...]
    new_items: tuple[Item, ...]
