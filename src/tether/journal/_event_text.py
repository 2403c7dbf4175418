"""Journal events read from JSON text in one pass, by validators tether builds for text.

A store's rows (``store._codec``) and a saved state (``_document.load_document_json``)
are JSON text. pydantic-core reads such text and validates it in one pass, so nothing is
parsed into plain data first and then frozen and validated again: each item's containers
are built frozen as they are read (``_frozen_fields.with_containers_built``).

The validators leave out the ``__post_init__`` calls that do nothing to an event read from
text (a call into Python for each of the two kinds most of a run's events are): from JSON,
a ``ModelResponded``'s output is frozen already, and so is a ``ToolCompleted``'s content
list, whose check (``output_problem``, what its ``__post_init__`` does besides) is made on
the field instead, for a list only. Every other event is validated as the journal's
adapter does; the events are equal to the adapter's (``tests/store/test_decode_events.py``,
``tests/test_state_fast_load.py``).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from pydantic_core import SchemaValidator, core_schema

from .._tool_output import output_problem
from ._events import ModelResponded, ToolCompleted, events_adapter
from ._frozen_fields import with_containers_built

__all__ = ["document_validator", "events_validator"]


@functools.cache
def events_validator() -> SchemaValidator:
    """Validates a JSON array of events (text only)."""
    return SchemaValidator(_events_schema())


@functools.cache
def document_validator() -> SchemaValidator:
    """Validates a saved state's document (text only): ``format``, ``version`` and
    ``root_agent`` of their types, the journal's events, and the ``context`` and
    ``signature`` as any JSON; other keys ignored. What the values must be besides (the
    format's name, a version this tether reads, no signature) is for the caller to check."""
    events = _events_schema()
    journal: core_schema.CoreSchema = events
    definitions: list[core_schema.CoreSchema] = []
    if events["type"] == "definitions":
        journal, definitions = events["schema"], events["definitions"]
    optional_any = core_schema.typed_dict_field(core_schema.any_schema(), required=False)
    document = core_schema.typed_dict_schema(
        {
            "format": core_schema.typed_dict_field(core_schema.str_schema(strict=True)),
            "version": core_schema.typed_dict_field(core_schema.int_schema(strict=True)),
            "root_agent": core_schema.typed_dict_field(core_schema.str_schema(strict=True)),
            "journal": core_schema.typed_dict_field(journal),
            "context": optional_any,
            "signature": optional_any,
        },
        extra_behavior="ignore",
    )
    return SchemaValidator(core_schema.definitions_schema(document, definitions))


def _events_schema() -> core_schema.CoreSchema:
    schema = copy.deepcopy(events_adapter().core_schema)
    _without_post_init(schema)
    return with_containers_built(schema)


def _without_post_init(node: Any) -> None:
    if isinstance(node, list):
        for each in node:
            _without_post_init(each)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "dataclass" and node.get("cls") in (ModelResponded, ToolCompleted):
        node["post_init"] = False
        if node["cls"] is ToolCompleted:
            for field in node["schema"]["fields"]:
                if field["name"] == "output":  # str | FrozenObjects: the list is checked
                    text, content = field["schema"]["choices"]
                    checked = core_schema.no_info_after_validator_function(_content, content)
                    field["schema"]["choices"] = [text, checked]
    for value in node.values():
        _without_post_init(value)


def _content(output: Any) -> Any:
    problem = output_problem(output)
    if problem is not None:
        raise ValueError(problem)
    return output
