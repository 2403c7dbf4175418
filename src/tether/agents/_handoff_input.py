"""Handoff input filters written for the reference SDK: ``HandoffInputData`` whose
``pre_handoff_items`` and ``new_items`` are run items (``MessageOutputItem``,
``ToolCallItem``, ``HandoffOutputItem``, ...), and the adapters that give tether's filters
(on plain item dicts) that shape and take it back.

tether runs an input filter once, when the handoff is taken, and journals the conversation
it returns with the handoff; a resumed run (in any process) reads it from the journal and
does not run the filter again. The adapters keep that: they translate on the way in and
out of the one call.
"""

from __future__ import annotations

import contextvars
import dataclasses
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from .._agent import Agent
from .._context import RunContext
from ..errors import UserError
from ..handoffs import HandoffInputData as _CoreData
from ..items import Item
from ._items import HandoffOutputItem, RunItem, reference_order, run_item

__all__ = [
    "HandoffInputData",
    "HandoffInputFilter",
    "ReferenceFilter",
    "as_item",
    "core_data",
    "name_of",
    "reference_data",
    "starting_agent",
]

starting_agent: contextvars.ContextVar[Agent[Any] | None] = contextvars.ContextVar(
    "tether_agents_starting_agent", default=None
)
"""The agent the run in progress started with (set by the facade's ``Runner``): the owner
of the run's first items, from which each later item's agent follows the handoffs."""


@dataclass(frozen=True)
class HandoffInputData:
    """What a handoff input filter receives and returns, as in the reference SDK.

    ``input_history`` is the conversation before the run's own items (item dicts, or a
    string); ``pre_handoff_items`` the run items of the turns before the one that handed
    off; ``new_items`` that turn's run items (the handoff call and its output among them).
    ``input_items``, when set, is sent to the next agent instead of ``new_items``. tether
    keeps the whole run in its journal either way: a filter changes only what the next
    agent's model is sent. ``run_context`` is ``None`` here.
    """

    input_history: str | tuple[Item, ...]
    pre_handoff_items: tuple[Any, ...]
    new_items: tuple[Any, ...]
    run_context: RunContext[Any] | None = None
    input_items: tuple[Any, ...] | None = None

    def clone(self, **changes: Any) -> HandoffInputData:
        """A copy with ``changes`` (field name to new value)."""
        return dataclasses.replace(self, **changes)


HandoffInputFilter = Callable[[HandoffInputData], HandoffInputData]
"""A function of the data given at a handoff, returning what the next agent sees."""


class _Originals:
    """The item dict each run item given to a filter was made from, so an item the filter
    keeps goes back exactly as the run recorded it."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[RunItem, Item]] = {}

    def add(self, made: RunItem, item: Item) -> RunItem:
        self._by_id[id(made)] = (made, item)
        return made

    def get(self, value: Any) -> Item | None:
        kept = self._by_id.get(id(value))
        return dict(kept[1]) if kept is not None and kept[0] is value else None

    def call(self, function: Callable[[Any], Any], given: Any) -> Any:
        """``function(given)``, during which ``as_item`` knows these items' dicts."""
        token = _originals.set(self)
        try:
            return function(given)
        finally:
            _originals.reset(token)


_originals: contextvars.ContextVar[_Originals | None] = contextvars.ContextVar(
    "tether_agents_handoff_items", default=None
)


def as_item(value: Any) -> Item:
    """A run item, an ``openai`` typed item or an item dict, as tether's item dict (for a
    run item given to the filter being called, the dict the run recorded)."""
    known = _originals.get()
    recorded = None if known is None else known.get(value)
    if recorded is not None:
        return recorded
    if isinstance(value, Mapping):
        return dict(value)
    raw = getattr(value, "raw_item", value)
    if isinstance(raw, BaseModel):
        item: Item = raw.model_dump(exclude_none=True)
        if item.get("id") == "":  # made for the typed object, not the model's
            del item["id"]
        return item
    if isinstance(raw, Mapping):
        return dict(raw)
    raise UserError(
        f"A handoff input filter returned {type(value).__name__}, which is not an item: "
        "return run items, or item dicts."
    )


def _run_items(
    items: tuple[Item, ...], agent: Agent[Any], originals: _Originals
) -> tuple[list[RunItem], Agent[Any]]:
    """``items`` as run items, each of the agent whose turn made it (starting with
    ``agent``, changing at each handoff taken); and the agent after them."""
    targets: dict[str, Agent[Any]] = {}  # handoff call id -> the agent it hands to
    made: list[RunItem] = []
    for item in items:
        kind, call_id = item.get("type"), str(item.get("call_id", ""))
        if kind == "function_call" and item.get("name") in agent.handoff_tools:
            targets[call_id] = agent.handoff_tools[str(item.get("name"))]
        target = targets.get(call_id) if kind == "function_call_output" else None
        if target is not None and item.get("output") == json.dumps({"assistant": target.name}):
            raw = reference_order(item)
            made.append(originals.add(HandoffOutputItem(agent, raw, agent, target), item))
            agent = target
            continue
        made.append(originals.add(run_item(item, agent), item))
    return made, agent


def reference_data(
    data: _CoreData, fallback: Agent[Any] | None
) -> tuple[HandoffInputData, _Originals]:
    """tether's handoff data as the reference SDK's, and the dicts its items came from."""
    originals = _Originals()
    first = starting_agent.get() or fallback
    if first is None:
        raise UserError("A reference-style handoff input filter needs the run's agents.")
    pre, agent = _run_items(data.pre_handoff_items, first, originals)
    new, _ = _run_items(data.new_items, agent, originals)
    given = HandoffInputData(tuple(dict(i) for i in data.input_history), tuple(pre), tuple(new))
    return given, originals


def core_data(result: Any, originals: _Originals, name: str) -> _CoreData:
    """What a reference-style filter returned, as tether's handoff data."""
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if close is not None:
            close()
        raise UserError(
            f"The handoff input filter {name} is async; tether runs input filters "
            "synchronously when the handoff is recorded: make it a plain function."
        )
    if isinstance(result, _CoreData):  # a filter written for tether's own items
        return result
    if not isinstance(result, HandoffInputData):
        raise UserError(
            f"The handoff input filter {name} returned {type(result).__name__}; it must "
            "return a HandoffInputData."
        )
    history = result.input_history
    if isinstance(history, str):
        history = ({"content": history, "role": "user"},)
    new = result.new_items if result.input_items is None else result.input_items
    return _CoreData(
        tuple(as_item(item) for item in history),
        tuple(originals.get(item) or as_item(item) for item in result.pre_handoff_items),
        tuple(originals.get(item) or as_item(item) for item in new),
    )


class ReferenceFilter:
    """A handoff's reference-style ``input_filter``, as tether calls filters."""

    def __init__(self, function: HandoffInputFilter, target: Agent[Any]) -> None:
        self.function = function
        self.target = target

    def __call__(self, data: _CoreData) -> _CoreData:
        given, originals = reference_data(data, self.target)
        return core_data(self.function(given), originals, name_of(self.function))


def name_of(function: Any) -> str:
    return repr(getattr(function, "__qualname__", None) or function)
