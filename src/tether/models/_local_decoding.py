"""Reading a local model's constrained JSON reply, as it grows, into deltas and items.

The reply is ``{"tool": NAME, "arguments": {...}}`` or ``{"answer": "..."}`` (see
``local.py``), or plain text / JSON without tools.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Literal

from ..errors import ModelBehaviorError
from ..items import Item, assistant_message, function_call
from ._protocol import TextDelta, ToolCallDelta, ToolSpec

__all__ = ["Decoder", "Mode"]

Mode = Literal["text", "json", "tools"]


_TOOL_PREFIX = re.compile(r'\{"tool":"((?:[^"\\]|\\.)*)","arguments":')
_ANSWER_PREFIX = '{"answer":'


class Decoder:
    """Turns the reply text, as it grows, into deltas; at the end into output items.

    Streamed and whole replies go through the same decoder, so the deltas of a
    stream add up to the items of its ``ResponseDone``.
    """

    def __init__(self, mode: Mode, call_id: str) -> None:
        self.mode = mode
        self.call_id = call_id
        self._text = ""
        self._tool: str | None = None
        self._start: int | None = None
        """Where the streamed value (answer or arguments) starts in ``_text``."""
        self._value = _ValueScanner()
        self._sent = 0
        """How much of the value has gone out: decoded characters of a string answer,
        raw characters otherwise."""

    def feed(self, piece: str) -> list[TextDelta | ToolCallDelta]:
        self._text += piece
        if self.mode != "tools":
            return [TextDelta(piece)]
        if self._start is None and not self._find_start():
            return []
        assert self._start is not None
        if self._tool is None and self._text[self._start : self._start + 1] == '"':
            return self._answer_string_deltas()
        end = self._value.scan(self._text, self._start)
        raw = self._text[self._start + self._sent : end]
        self._sent += len(raw)
        if not raw:
            return []
        if self._tool is None:
            return [TextDelta(raw)]
        return [ToolCallDelta(self.call_id, self._tool, raw)]

    def finish(self, text: str, tools: list[ToolSpec]) -> list[Item]:
        """The output items of the whole reply ``text``."""
        if self.mode != "tools":
            return [assistant_message(text, id=f"msg_{uuid.uuid4().hex}")]
        try:
            reply = json.loads(text)
        except ValueError:
            reply = None
        start = self._start
        if isinstance(reply, dict) and start is not None:
            # The raw text of the value, exactly as streamed: compact JSON.
            raw = text[start : _ValueScanner().scan(text, start)]
            if set(reply) == {"answer"}:
                answer = reply["answer"]
                out = answer if isinstance(answer, str) else raw
                return [assistant_message(out, id=f"msg_{uuid.uuid4().hex}")]
            if set(reply) == {"tool", "arguments"} and reply["tool"] in {t.name for t in tools}:
                return [function_call(reply["tool"], raw, self.call_id)]
        raise ModelBehaviorError(
            f"The local model's reply is not the JSON it was constrained to: {text[:200]!r}. "
            "llama.cpp may have rejected the schema of one of the tools; "
            "LocalModel(..., verbose=True) shows its log."
        )

    def partial_answer(self) -> str | None:
        """The text of a string answer so far, or ``None`` if the reply is something else."""
        if self._tool is not None or self._start is None:
            return None
        if self._text[self._start : self._start + 1] != '"':
            return None
        decoded: str = json.loads(f'"{_complete_string_prefix(self._text, self._start + 1)}"')
        return decoded

    def _find_start(self) -> bool:
        if self._text.startswith(_ANSWER_PREFIX):
            self._start = len(_ANSWER_PREFIX)
        elif match := _TOOL_PREFIX.match(self._text):
            self._tool = json.loads(f'"{match.group(1)}"')
            self._start = match.end()
        return self._start is not None

    def _answer_string_deltas(self) -> list[TextDelta | ToolCallDelta]:
        decoded = self.partial_answer() or ""
        delta = decoded[self._sent :]
        self._sent = len(decoded)
        return [TextDelta(delta)] if delta else []


def _complete_string_prefix(text: str, start: int) -> str:
    """The raw inside of the JSON string starting at ``start``, cut before its closing
    quote or before an escape that has not fully arrived."""
    i = start
    while i < len(text):
        char = text[i]
        if char == '"':
            break
        if char == "\\":
            size = 6 if text[i + 1 : i + 2] == "u" else 2
            if i + size > len(text):
                break
            if size == 6 and 0xD800 <= int(text[i + 2 : i + 6], 16) < 0xDC00:
                # A high surrogate decodes only with the low one after it.
                if i + 12 > len(text):
                    break
                size = 12
            i += size
            continue
        i += 1
    return text[start:i]


class _ValueScanner:
    """Finds where one JSON value ends in compact JSON text that keeps growing."""

    def __init__(self) -> None:
        self._pos: int | None = None
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self._end: int | None = None

    def scan(self, text: str, start: int) -> int:
        """The end of the value seen so far: its end once complete, else ``len(text)``."""
        if self._end is not None:
            return self._end
        pos = start if self._pos is None else self._pos
        while pos < len(text):
            char = text[pos]
            pos += 1
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif char == "\\":
                    self._escaped = True
                elif char == '"':
                    self._in_string = False
                    if self._depth == 0:
                        self._end = pos
                        return pos
            elif char == '"':
                self._in_string = True
            elif char in "{[":
                self._depth += 1
            elif char in "}]":
                if self._depth == 0:  # the envelope's closing brace after a number or literal
                    self._end = pos - 1
                    return pos - 1
                self._depth -= 1
                if self._depth == 0:
                    self._end = pos
                    return pos
        self._pos = pos
        # A number or literal may still be growing; hold nothing back for containers.
        return pos
