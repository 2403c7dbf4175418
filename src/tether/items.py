"""Conversation items: plain dicts in the shapes of the OpenAI Responses API.

tether keeps every item of a conversation (user input, assistant messages,
tool calls, tool outputs, reasoning) as the JSON object the Responses API
uses for it. They serialise as they are, need no conversion to be sent, and
are what sessions store. The ``TypedDict`` classes below document the shapes
tether itself builds and reads; items of other types pass through untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "Item",
    "MessageItem",
    "assistant_message",
    "function_call",
    "function_call_output",
    "message_text",
    "to_input_items",
    "user_message",
]

Item = dict[str, Any]
"""One conversation item, as a JSON object in the Responses API's shape."""


class MessageItem(TypedDict):
    """A message. ``content`` is a string, or a list of content parts for output messages."""

    type: NotRequired[Literal["message"]]
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[dict[str, Any]]
    id: NotRequired[str]
    status: NotRequired[str]


class FunctionCallItem(TypedDict):
    """The model asking for a tool to be called. ``arguments`` is a JSON string."""

    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str
    id: NotRequired[str]
    status: NotRequired[str]


class FunctionCallOutputItem(TypedDict):
    """A tool's result, as the model will read it."""

    type: Literal["function_call_output"]
    call_id: str
    output: str | list[dict[str, Any]]
    """Text, or input content parts (``input_text``, ``input_image``, ``input_file``)."""


def user_message(text: str) -> Item:
    """A user message item."""
    return {"role": "user", "content": text}


def assistant_message(text: str, *, id: str | None = None) -> Item:
    """An assistant output message item with a single ``output_text`` part."""
    item: Item = {
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    if id is not None:
        item["id"] = id
    return item


def function_call(name: str, arguments: str, call_id: str) -> Item:
    """A function call item, as a model produces it."""
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def function_call_output(call_id: str, output: str | list[dict[str, Any]]) -> Item:
    """The output item for a function call."""
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def to_input_items(input: str | Sequence[Item]) -> list[Item]:
    """Normalise a run's input (a string or a list of items) to a new list of items."""
    if isinstance(input, str):
        return [user_message(input)]
    return [dict(item) for item in input]


def message_text(item: Item) -> str:
    """The text of a message item: its string content, or its text parts joined."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        part["text"]
        for part in content
        if isinstance(part, dict)
        and part.get("type") in ("output_text", "input_text", "text")
        and isinstance(part.get("text"), str)  # a model's odd part is skipped, not a crash
    )


def is_function_call(item: Item) -> bool:
    return item.get("type") == "function_call"


def is_assistant_message(item: Item) -> bool:
    return item.get("role") == "assistant" and item.get("type", "message") == "message"
