"""A ``RunState`` as a saved document: its JSON, its text, and loading either back.

The document's format is the journal's (``journal._document``); what is added here is the
application's context (saved as JSON data, rebuilt by a type or a function) and the check
that a loaded journal names only agents and tools of the graph it is loaded with.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from .._agent import Agent
from .._signing import SigningKey, default_keys, resolve_keys
from ..errors import (
    StateFormatError,
    StateSignatureError,
    UnknownAgentError,
    UnknownToolError,
    UserError,
)
from ..journal import (
    CallStatus,
    Event,
    HandoffTaken,
    Journal,
    ModelResponded,
    RunStarted,
    RunView,
)
from ..journal._document import (
    dump_document,
    dump_document_json,
    load_document,
    load_document_json,
    verify,
)
from ..journal._limits import MAX_STATE_DEPTH
from ..journal._text_signature import sign_text, signed_part, text_mac_matches

__all__ = [
    "ContextDeserializer",
    "ContextSerializer",
    "check_names",
    "deserialize_context",
    "parse_json",
    "read_json",
    "read_state_text",
    "read_text",
    "state_json",
    "state_text",
]

ContextSerializer = Callable[[Any], Any]
ContextDeserializer = Callable[[Any], Any]


def state_json(
    root_agent: str, events: list[Event], context: Any, serializer: ContextSerializer | None
) -> dict[str, Any]:
    """The state as a JSON-compatible dict (``RunState.to_json``)."""
    return dump_document(root_agent, events, _serialize_context(context, serializer))


def state_text(
    root_agent: str,
    events: list[Event],
    context: Any,
    *,
    signing_key: SigningKey,
    serializer: ContextSerializer | None,
) -> str:
    """The state as JSON text (``RunState.to_string``), signed unless ``signing_key=False``:
    with the key given, else the environment's (``tether._signing``)."""
    keys = resolve_keys(signing_key)
    try:
        saved = _serialize_context(context, serializer)
        unsigned = dump_document_json(root_agent, events, saved)
    except (TypeError, ValueError, RecursionError) as exc:
        raise UserError(
            f"The run state cannot be saved as JSON ({exc}). The context must hold "
            "JSON data only; pass context_serializer= to convert it."
        ) from None
    return unsigned.decode() if keys is None else sign_text(unsigned, keys.signing)


def read_json(
    agent: Agent[Any], data: Any, signing_key: SigningKey, require_signature: bool = False
) -> tuple[list[Event], Any]:
    """The journal and the stored context of a state's JSON for ``agent``'s graph, its
    signature checked (see ``verifying_keys``)."""
    keys = verifying_keys(data, signing_key, require_signature)
    if keys:
        if not isinstance(data, dict):
            raise StateFormatError("A run state must be a JSON object.")
        _verify_any(data, keys)
    root_name, journal, stored_context = load_document(data, checked=bool(keys))
    if root_name not in agent.graph():
        raise UnknownAgentError(
            f"The state's run started with agent {root_name!r}, which is not in the graph "
            f"of {agent.name!r}. Load it with the agent the run started with."
        )
    return journal, stored_context


def verifying_keys(
    data: Any, signing_key: SigningKey, require_signature: bool
) -> tuple[bytes, ...]:
    """The keys a loaded state must be signed with (none: not checked).

    A key given: the state must be signed with it. ``None``: a signed state is checked
    with the environment's keys; an unsigned one (an older tether's, the TypeScript
    SDK's) loads as it is, unless ``require_signature``. ``False``: nothing is checked."""
    if signing_key is False:
        if require_signature:
            raise UserError("require_signature=True needs a key to check; not signing_key=False.")
        return ()
    if signing_key is not None:
        keys = resolve_keys(signing_key)
        return keys.all if keys is not None else ()
    if isinstance(data, dict) and "signature" in data:
        return default_keys().all
    if require_signature:
        raise StateSignatureError(
            "The run state is not signed, and require_signature=True. Save it with "
            "to_string() (signed by default), or load it without require_signature if trusted."
        )
    return ()


def _verify_any(data: dict[str, Any], keys: tuple[bytes, ...]) -> None:
    # The first key signs; older ones still verify (a rotation).
    for key in keys[:-1]:
        try:
            verify(data, key)
            return
        except StateSignatureError:
            continue
    verify(data, keys[-1])


def read_state_text(
    agent: Agent[Any], text: str | bytes, signing_key: SigningKey, require_signature: bool
) -> tuple[Journal, Any]:
    """The journal (folded) and the stored context of ``to_string`` text for ``agent``'s
    graph, its signature checked: text signed as written is checked over its bytes and read
    the fast way, its journal folded as verified (``Journal(verified=True)``: the MAC says
    it is what a journal held when it was saved); other text takes the full check
    (``parse_json``, then ``read_json``)."""
    loaded = _read_signed_text(agent, text, signing_key)
    if loaded is not None:
        return Journal(loaded[0], verified=True), loaded[1]
    if signing_key is False or (signing_key is None and not require_signature):
        loaded = read_text(agent, text)  # unsigned text, read the fast way when it can be
    events, stored_context = loaded or read_json(
        agent, parse_json(text), signing_key, require_signature
    )
    return Journal(events), stored_context


def _read_signed_text(
    agent: Agent[Any], text: str | bytes, signing_key: SigningKey
) -> tuple[list[Event], Any] | None:
    if signing_key is False:
        return None
    part = signed_part(text)
    if part is None:
        return None
    unsigned, value = part
    keys = resolve_keys(signing_key) if signing_key is not None else default_keys()
    if keys is None or not text_mac_matches(unsigned, value, keys.all):
        raise StateSignatureError(
            "The run state's signature does not match: it was altered after it was signed, "
            "or signed with another key. Nothing was loaded."
        )
    # Only the signed bytes are read: nothing after them, nothing unsigned.
    return read_text(agent, unsigned) or read_json(agent, parse_json(unsigned), False)


def read_text(agent: Agent[Any], text: str | bytes) -> tuple[list[Event], Any] | None:
    """The journal and the stored context of unsigned state text, read the fast way, or
    ``None`` where only the full check (``parse_json``, then ``read_json``) can say."""
    loaded = load_document_json(text)
    if loaded is None:
        return None
    root_name, journal, stored_context = loaded
    if root_name not in agent.graph():
        return None
    return journal, stored_context


def parse_json(text: str | bytes) -> Any:
    """State text as JSON data, or a ``StateFormatError`` saying why it is not."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StateFormatError(f"The run state is not valid JSON: {exc}.") from None
    except RecursionError:
        raise StateFormatError(
            f"The run state nests deeper than {MAX_STATE_DEPTH} levels, which tether "
            "never writes; load an unedited copy."
        ) from None


def check_names(agent: Agent[Any], journal: Iterable[Event], view: RunView) -> None:
    """Refuse a journal that names an agent ``agent``'s graph does not have, or leaves a
    call unresolved of a tool its agent does not have."""
    graph = agent.graph()
    # Each name once, in the order the journal first names it (a long run names a few
    # agents thousands of times); events are final classes, so ``type`` tells the kind.
    names: dict[str, None] = {}
    for event in journal:
        kind = type(event)
        if kind is ModelResponded or kind is RunStarted:
            names[event.agent] = None  # type: ignore[union-attr]
        elif kind is HandoffTaken:
            names[event.from_agent] = names[event.to_agent] = None  # type: ignore[union-attr]
    for name in names:
        if name not in graph:
            raise UnknownAgentError(
                f"The state names agent {name!r}, which the graph of "
                f"{agent.name!r} does not have ({sorted(graph)}). "
                "Load the state with the agent graph that produced it."
            )
    for call in view.calls.values():
        owner = graph[call.agent]
        unresolved = call.status is not CallStatus.DONE
        known = call.name in owner.function_tools or call.name in owner.handoff_tools
        if unresolved and not (known or call.hosted):
            raise UnknownToolError(
                f"Call {call.call_id!r} is of tool {call.name!r}, which agent "
                f"{owner.name!r} does not have. Give the agent that tool before resuming."
            )


def _serialize_context(context: Any, serializer: ContextSerializer | None) -> Any:
    if serializer is not None:
        return serializer(context)
    if context is None or isinstance(context, str | int | float | bool | list | dict):
        return context
    if isinstance(context, BaseModel):
        return context.model_dump(mode="json")
    if dataclasses.is_dataclass(context) and not isinstance(context, type):
        return TypeAdapter(type(context)).dump_python(context, mode="json")
    raise UserError(
        f"Cannot save a context of type {type(context).__name__}. Use a dict, a pydantic "
        "model or a dataclass, or pass context_serializer= to to_json/to_string."
    )


def deserialize_context(
    data: Any, context_type: Any, deserializer: ContextDeserializer | None
) -> Any:
    if deserializer is not None:
        return deserializer(data)
    if context_type is None:
        return data
    try:
        return TypeAdapter(context_type).validate_python(data)
    except ValidationError as exc:
        raise StateFormatError(f"context: does not validate as {context_type!r}: {exc}") from None
