"""The serialised form of a run state: versioned, validated, optionally signed.

    {
      "format": "tether.run_state",
      "version": 2,
      "root_agent": "Weather Assistant",
      "journal": [{"kind": "run_started", ...}, ...],
      "context": null,
      "signature": {"alg": "HMAC-SHA256", "value": "..."}     # only when signed
    }

``to_json`` signs the canonical JSON (``HMAC-SHA256``); ``to_string`` signs the text as
written, the signature its last key (``HMAC-SHA256/text``, ``_text_signature``).

Old versions stay readable; a newer version fails fast with
``SchemaVersionError``. New features add event kinds, not document fields, so
the version changes rarely. Each bump gets one line in ``SCHEMA_VERSIONS``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from typing import Any, Literal, NotRequired

from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError
from typing_extensions import TypedDict

from ..errors import SchemaVersionError, StateFormatError, StateSignatureError, UserError
from ._binding import seal_decisions
from ._event_json import events_data, events_json
from ._event_text import document_validator
from ._events import EVENT_KINDS, Event, events_adapter
from ._limits import MAX_STATE_DEPTH, data_problem, escape_surrogates
from ._text_signature import TEXT_ALG, text_mac_matches, unsigned_text_of

__all__ = [
    "CURRENT_VERSION",
    "FORMAT",
    "SCHEMA_VERSIONS",
    "StateDocument",
    "dump_document",
    "json_schema",
    "check_data",
    "load_document",
    "sign",
    "verify",
]

FORMAT = "tether.run_state"

SCHEMA_VERSIONS: dict[int, str] = {
    1: "The run journal, the root agent's name and the application context.",
    2: "Each approval_decided (and doubt_resolved) event carries a seal over its call, verdict,"
    " approver and time.",
}
"""Every version this tether reads, with what it introduced."""

CURRENT_VERSION = 2
assert max(SCHEMA_VERSIONS) == CURRENT_VERSION, "add a SCHEMA_VERSIONS line for the new version"


class Signature(TypedDict):
    """An HMAC-SHA256 over the document without its signature: over its canonical JSON
    (``HMAC-SHA256``, written by ``to_json``), or over its text exactly as written, the
    signature being its last key (``HMAC-SHA256/text``, written by ``to_string``)."""

    alg: Literal["HMAC-SHA256", "HMAC-SHA256/text"]
    value: str


class StateDocument(TypedDict):
    """A serialised run state."""

    format: Literal["tether.run_state"]
    version: int
    root_agent: str
    """The agent the run started with; load the state with this agent's graph."""
    journal: list[Event]
    """Every event of the run, in order."""
    context: Any
    """The application's context as JSON data (``null`` if none)."""
    signature: NotRequired[Signature]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a serialised run state (checked in as docs/run-state.schema.json)."""
    schema = TypeAdapter(StateDocument).json_schema(mode="serialization")
    schema["title"] = "tether run state, version " + str(CURRENT_VERSION)
    return schema


def dump_document(root_agent: str, journal: list[Event], context: Any) -> dict[str, Any]:
    """The JSON-compatible document for a state."""
    return {
        "format": FORMAT,
        "version": CURRENT_VERSION,
        "root_agent": root_agent,
        "journal": events_data(journal),
        "context": context,
    }


def check_data(data: Any) -> dict[str, Any]:
    """``data`` if it is a JSON object within tether's limits, else ``StateFormatError``."""
    if not isinstance(data, dict):
        raise StateFormatError(
            f"A run state must be a JSON object, got {type(data).__name__}. "
            "Pass what RunState.to_json() or to_string() produced."
        )
    problem = data_problem(data, MAX_STATE_DEPTH)
    if problem is not None:
        raise StateFormatError(
            f"The run state cannot be loaded: {problem}. tether writes no such state; "
            "load an unedited copy."
        )
    return data


def load_document(data: Any, *, checked: bool = False) -> tuple[str, list[Event], Any]:
    """Check a document's format, version and limits and validate its journal.

    ``checked``: ``verify`` has already checked the limits. A version 1 journal's decisions
    are sealed as they stand (version 1 had no seals).
    """
    data = data if checked else check_data(data)
    if data.get("format") != FORMAT:
        raise StateFormatError(
            f"format: expected {FORMAT!r}, got {data.get('format')!r}. This is not a tether "
            "run state; states of other SDKs are read with tether.interop."
        )
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise StateFormatError(f"version: expected an integer, got {version!r}.")
    if version not in SCHEMA_VERSIONS:
        newer = version > CURRENT_VERSION
        raise SchemaVersionError(
            f"version: this tether reads run states of versions {sorted(SCHEMA_VERSIONS)}, "
            f"not {version}. "
            + ("Upgrade tether to load it." if newer else "This version was never released.")
        )
    root_agent = data.get("root_agent")
    if not isinstance(root_agent, str):
        raise StateFormatError(f"root_agent: expected an agent name, got {root_agent!r}.")
    if "journal" not in data:
        raise StateFormatError("journal: field required.")
    try:
        journal = events_adapter().validate_python(data["journal"])
    except ValidationError as exc:
        raise StateFormatError(_describe(exc)) from None
    return root_agent, _upgrade(version, journal), data.get("context")


def _upgrade(version: int, journal: list[Event]) -> list[Event]:
    # Version 1 decisions carry no seal: seal them as they stand, which is all that version
    # vouched for. A decision that does carry a seal is checked as in version 2, so turning
    # a version 2 document into version 1 does not unseal its verdicts.
    return seal_decisions(journal) if version == 1 else journal


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, made once."""


def _compact(value: Any) -> bytes:
    return escape_surrogates(_COMPACT.encode(value)).encode()


@functools.lru_cache(maxsize=32)
def _head(root_agent: str) -> bytes:
    # The document's first keys, without the closing brace: the same for every save of a run.
    head = {"format": FORMAT, "version": CURRENT_VERSION, "root_agent": root_agent}
    return _compact(head)[:-1]


def dump_document_json(root_agent: str, journal: list[Event], context: Any) -> bytes:
    """``dump_document`` as compact JSON text, UTF-8, the journal encoded by pydantic-core
    (``events_json``) in one pass. ``TypeError`` or ``ValueError`` if the context is not
    JSON data."""
    try:
        events = events_json(journal)
    except PydanticSerializationError:
        # pydantic-core cannot write a lone surrogate; the json module can, escaped.
        events = _compact(events_data(journal))
    tail = b"null" if context is None else _compact(context)
    return b"".join((_head(root_agent), b',"journal":', events, b',"context":', tail, b"}"))


def load_document_json(text: str | bytes) -> tuple[str, list[Event], Any] | None:
    """Parse and validate a document in one pass; ``None`` if anything is off (the caller then
    takes the slow path, which says precisely what).

    pydantic-core reads the text straight into events (``_event_text.document_validator``):
    each item's containers built frozen as they are read, equal short strings shared.
    """
    try:
        data = document_validator().validate_json(text)
    except ValidationError:  # not JSON, a lone surrogate, not a document: the slow path says
        return None
    version = data["version"]
    if data["format"] != FORMAT or version not in SCHEMA_VERSIONS or "signature" in data:
        return None  # the slow path checks a signature
    return data["root_agent"], _upgrade(version, data["journal"]), data.get("context")


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors()[:5]:
        loc = list(error["loc"])
        where = "journal"
        if loc and isinstance(loc[0], int):
            where += f"[{loc.pop(0)}]"
            if loc and loc[0] in EVENT_KINDS:
                loc.pop(0)  # the union member's tag, which the event's kind already says
        if loc:
            where += "." + ".".join(str(part) for part in loc)
        lines.append(f"{where}: {error['msg']}")
    more = len(exc.errors()) - len(lines)
    suffix = f" (and {more} more)" if more > 0 else ""
    return "The run state's journal is invalid: " + "; ".join(lines) + suffix


def _canonical(document: dict[str, Any]) -> bytes:
    unsigned = {key: value for key, value in document.items() if key != "signature"}
    text = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return escape_surrogates(text).encode()


def sign(document: dict[str, Any], key: bytes | str) -> dict[str, Any]:
    """The document with an HMAC-SHA256 signature over its canonical JSON."""
    digest = hmac.new(_key(key), _canonical(document), hashlib.sha256).hexdigest()
    return {**document, "signature": {"alg": "HMAC-SHA256", "value": digest}}


def verify(document: dict[str, Any], key: bytes | str) -> None:
    """Raise ``StateSignatureError`` unless the document carries a valid signature."""
    document = check_data(document)
    signature = document.get("signature")
    if not isinstance(signature, dict) or "value" not in signature:
        raise StateSignatureError(
            "The run state is not signed, but a signing_key was given. Save it with "
            "to_string(signing_key=...) or load it without a key if it is trusted."
        )
    if signature.get("alg") == TEXT_ALG:
        _verify_as_text(document, key, signature["value"])
        return
    if signature.get("alg") != "HMAC-SHA256":
        raise StateSignatureError(f"Unknown signature algorithm {signature.get('alg')!r}.")
    try:
        canonical = _canonical(document)
    except (TypeError, ValueError):
        raise StateFormatError(_NOT_JSON) from None
    expected = hmac.new(_key(key), canonical, hashlib.sha256).hexdigest().encode()
    value = signature["value"]
    # Bytes, not str: compare_digest refuses non-ASCII text, and the value may be anything.
    given = escape_surrogates(value).encode() if isinstance(value, str) else b""
    if not hmac.compare_digest(expected, given):
        raise StateSignatureError(
            "The run state's signature does not match: it was altered after it was signed, "
            "or signed with another key. Nothing was loaded."
        )


_NOT_JSON = (
    "The run state holds values that are not JSON data (or keys that are not strings); pass "
    "what RunState.to_json() produced."
)


def _verify_as_text(document: dict[str, Any], key: bytes | str, value: Any) -> None:
    # to_string's signature, on the text's JSON data: checked against its compact encoding.
    try:
        unsigned = unsigned_text_of(document)
    except (TypeError, ValueError):
        raise StateFormatError(_NOT_JSON) from None
    if not isinstance(value, str) or not text_mac_matches(unsigned, value, (_key(key),)):
        raise StateSignatureError(
            "The run state's signature does not match: it was altered after it was signed, "
            "or signed with another key, or (signed as text by to_string) re-encoded since. "
            "Load the text itself with RunState.from_string. Nothing was loaded."
        )


def _key(key: bytes | str) -> bytes:
    if isinstance(key, str):
        return escape_surrogates(key).encode()
    if isinstance(key, bytes | bytearray):
        return bytes(key)
    raise UserError(f"signing_key must be bytes or str, got {type(key).__name__}.")
