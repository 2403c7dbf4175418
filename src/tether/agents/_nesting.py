"""Nested handoff history: the conversation before a handoff, given to the next agent as
a transcript in one assistant message rather than item by item (the reference SDK's
``nest_handoff_history``).

    RunConfig(nest_handoff_history=True)                 # every handoff of the run
    handoff(billing, nest_handoff_history=True)          # this one (overrides the run's)
    handoff(billing, input_filter=nest_handoff_history)  # the same, as a filter

What goes into the transcript: the conversation before the run, the tool calls, their
outputs, reasoning, and the assistant messages of the turns before the handoff. Messages
of other roles in those turns, and the messages of the handoff's own turn, stay items of
their own, in their places; a transcript message stands before each of them that has
unsummarised items before it. A transcript from an earlier handoff is read back into its
lines, so the next transcript lists them again rather than quoting the old one.

The wording is tether's own (``TRANSCRIPT_INTRO``, ``TRANSCRIPT_START``,
``TRANSCRIPT_END``); the reference SDK's says the same in other words, so a model prompt
that quotes the reference's markers needs them changed (or set with
``set_conversation_history_wrappers``). Like any input filter it changes
only what the next agent's model is sent; tether's journal keeps every item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from ..errors import UserError
from ..handoffs import HandoffInputData as _CoreData
from ..items import Item
from ._handoff_input import (
    HandoffInputData,
    HandoffInputFilter,
    as_item,
    core_data,
    name_of,
    reference_data,
)
from ._items import ToolApprovalItem

__all__ = [
    "TRANSCRIPT_END",
    "TRANSCRIPT_INTRO",
    "TRANSCRIPT_START",
    "RunFilter",
    "default_handoff_history_mapper",
    "get_conversation_history_wrappers",
    "nest_handoff_history",
    "reset_conversation_history_wrappers",
    "set_conversation_history_wrappers",
]

TRANSCRIPT_INTRO = "You are taking over this conversation. What happened before you:"
TRANSCRIPT_START = "<earlier_conversation>"
TRANSCRIPT_END = "</earlier_conversation>"
_markers = [TRANSCRIPT_START, TRANSCRIPT_END]
"""The lines that open and close a transcript now (``set_conversation_history_wrappers``)."""


def set_conversation_history_wrappers(*, start: str | None = None, end: str | None = None) -> None:
    """Open and close the transcripts made from now on (and read back) with ``start`` and
    ``end`` instead of ``TRANSCRIPT_START`` / ``TRANSCRIPT_END`` (``None``: keep that one).
    Process-wide, as in the reference SDK."""
    for index, marker in enumerate((start, end)):
        if marker is not None:
            if not isinstance(marker, str) or not marker or "\n" in marker:
                raise UserError(f"A transcript marker is one line of text, got {marker!r}.")
            _markers[index] = marker


def reset_conversation_history_wrappers() -> None:
    """Back to ``TRANSCRIPT_START`` and ``TRANSCRIPT_END``."""
    _markers[:] = [TRANSCRIPT_START, TRANSCRIPT_END]


def get_conversation_history_wrappers() -> tuple[str, str]:
    """The lines that open and close a transcript now."""
    return _markers[0], _markers[1]


_NUMBERED = re.compile(r"^\d+\) ")
_SUMMARY_ONLY = frozenset({"function_call", "function_call_output", "reasoning"})

HistoryMapper = Callable[[list[Item]], list[Item]]


def default_handoff_history_mapper(transcript: list[Item]) -> list[Item]:
    """``transcript`` as one assistant message listing each item on a numbered line."""
    lines: list[str] = []
    for item in transcript:
        lines.extend(_earlier_lines(item) or [_line(item)])
    numbered = [f"{n}) {line}" for n, line in enumerate(lines, 1)] or ["(nothing yet)"]
    start, end = _markers
    text = "\n".join([TRANSCRIPT_INTRO, start, *numbered, end])
    return [{"role": "assistant", "content": text}]


def nest_handoff_history(
    handoff_input_data: HandoffInputData, *, history_mapper: HistoryMapper | None = None
) -> HandoffInputData:
    """``handoff_input_data`` with the conversation so far as transcript messages (see the
    module's docstring), sent as its ``input_history``; ``history_mapper`` (given every
    item, in order) replaces how the transcript is made, and its items are sent instead.
    ``new_items`` stays as given; ``input_items`` becomes empty. Nothing is redacted: tool
    arguments and outputs are in the transcript."""
    data = handoff_input_data
    history = data.input_history
    if isinstance(history, str):
        history = ({"content": history, "role": "user"},)
    pending = [dict(item) for item in history]
    chosen: list[tuple[Item, bool]] = []
    for items, kept in ((data.pre_handoff_items, _kept_before), (data.new_items, _kept_now)):
        for run_item in items:
            if isinstance(run_item, ToolApprovalItem):
                continue
            item = as_item(run_item)
            chosen.append((item, kept(item)))
    if history_mapper is not None:
        mapped = history_mapper([*pending, *(item for item, _ in chosen)])
    else:
        mapped = _ordered(pending, chosen)
    return data.clone(
        input_history=tuple(json.loads(json.dumps(mapped))), pre_handoff_items=(), input_items=()
    )


def _ordered(pending: list[Item], chosen: list[tuple[Item, bool]]) -> list[Item]:
    out: list[Item] = []
    for item, kept in chosen:
        if not kept:
            pending.append(item)
            continue
        if pending or not out:
            out.extend(default_handoff_history_mapper(pending))
            pending = []
        out.append(item)
    if pending or not out:
        out.extend(default_handoff_history_mapper(pending))
    return out


def _kept_before(item: Item) -> bool:
    """Whether an item of an earlier turn stays an item (not in the transcript)."""
    return item.get("role") != "assistant" and item.get("type") not in _SUMMARY_ONLY


def _kept_now(item: Item) -> bool:
    """Whether an item of the handoff's turn stays an item (not in the transcript)."""
    if isinstance(item.get("role"), str) and item.get("role"):
        return True
    return item.get("type") not in _SUMMARY_ONLY


def _line(item: Item) -> str:
    role, content = item.get("role"), item.get("content")
    if isinstance(role, str) and (content is None or isinstance(content, str)):
        text = content or ""
        if "\n" not in text:
            name = item.get("name")
            return f"{role}{f' ({name})' if name else ''}: {text}"
    rest = {k: v for k, v in item.items() if k != "provider_data"}
    return json.dumps(rest, ensure_ascii=False, default=str)


def _earlier_lines(item: Item) -> list[str] | None:
    """The lines of a transcript message made at an earlier handoff, if ``item`` is one."""
    content = item.get("content")
    if item.get("role") != "assistant" or not isinstance(content, str):
        return None
    lines = content.split("\n")
    start, end = _markers
    if lines[:2] != [TRANSCRIPT_INTRO, start] or lines[-1] != end:
        return None
    return [_NUMBERED.sub("", line, count=1) for line in lines[2:-1] if line != "(nothing yet)"]


class RunFilter:
    """The run's handoff input filter when a program uses the reference's options: its
    ``RunConfig.handoff_input_filter`` (reference-style), else nested history where the
    handoff or the run asks for it (``nest_handoff_history``), else everything as it is.
    tether calls it for a handoff without a filter of its own."""

    def __init__(
        self,
        function: HandoffInputFilter | None,
        nest: bool,
        mapper: Callable[[list[Item]], list[Item]] | None,
    ) -> None:
        self.function, self.nest, self.mapper = function, nest, mapper

    def __call__(self, data: _CoreData) -> _CoreData:
        given, originals = reference_data(data, None)
        if self.function is not None:
            result = originals.call(self.function, given)
            return core_data(result, originals, name_of(self.function))
        if not self._nests(given):
            return data
        nested = originals.call(
            lambda d: nest_handoff_history(d, history_mapper=self.mapper), given
        )
        return core_data(nested, originals, "nest_handoff_history")

    def _nests(self, given: HandoffInputData) -> bool:
        """The handoff's own ``nest_handoff_history``, else the run's."""
        for item in given.new_items:
            raw = item.raw_item
            name = raw.get("name") if item.type == "handoff_call_item" else None
            if name is not None:
                entry = item.agent.handoff_entries.get(str(name))
                setting = getattr(entry, "nest_handoff_history", None)
                return self.nest if setting is None else bool(setting)
        return self.nest
