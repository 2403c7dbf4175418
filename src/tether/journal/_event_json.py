"""A journal as JSON text, each event written by its own class's serializer.

The journal's ``TypeAdapter(list[Event])`` writes each event through the union of every
event class, which costs pydantic-core about three times the writing itself (a run
started with 1,000 items: ~850 µs against ~270). An event's class is known exactly (they
are final classes, told apart by ``type``), so each is written by its own class's
serializer: the same text, without the union.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import SchemaSerializer

from ._events import Event

__all__ = ["events_json"]


_SERIALIZERS: dict[type[Any], SchemaSerializer] = {}
"""Each event class's serializer, built when first needed (as ``events_adapter``)."""


def events_json(journal: Sequence[Event]) -> bytes:
    """``events_adapter().dump_json(journal)``: the same text, written faster.

    Raises ``PydanticSerializationError`` where that does (a lone surrogate)."""
    serializers = _SERIALIZERS
    parts = []
    for event in journal:
        serializer = serializers.get(type(event))
        if serializer is None:
            serializer = serializers[type(event)] = TypeAdapter(type(event)).serializer
        parts.append(serializer.to_json(event))
    return b"[" + b",".join(parts) + b"]"
