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

__all__ = ["events_data", "events_json"]


_SERIALIZERS: dict[type[Any], SchemaSerializer] = {}
"""Each event class's serializer, built when first needed (as ``events_adapter``)."""


def _serializer(kind: type[Any]) -> SchemaSerializer:
    serializer = _SERIALIZERS.get(kind)
    if serializer is None:
        serializer = _SERIALIZERS[kind] = TypeAdapter(kind).serializer
    return serializer


def events_json(journal: Sequence[Event]) -> bytes:
    """``events_adapter().dump_json(journal)``: the same text, written faster.

    Raises ``PydanticSerializationError`` where that does (a lone surrogate)."""
    return b"[" + b",".join([_serializer(type(event)).to_json(event) for event in journal]) + b"]"


def events_data(journal: Sequence[Event]) -> list[Any]:
    """``events_adapter().dump_python(journal, mode="json")``: the same data, made faster."""
    return [_serializer(type(event)).to_python(event, mode="json") for event in journal]
