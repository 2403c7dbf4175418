"""What a function tool may return besides text: content the model reads as it is.

A tool returns a ``ToolOutputText``, ``ToolOutputImage`` or ``ToolOutputFileContent`` (or
a dict of the same shape: ``{"type": "image", "image_url": ...}``), or a list of them. The
call's output is then a list of input content parts (``input_text``, ``input_image``,
``input_file``), journaled as they are in the call's ``ToolCompleted`` and sent as the
``output`` of its ``function_call_output`` item. Anything else a tool returns is text.

    @function_tool
    def chart(series: str) -> ToolOutputImage:
        return ToolOutputImage(image_url=render(series), detail="high")
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NotRequired, TypeAlias

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from typing_extensions import TypedDict

from .errors import ToolOutputError

__all__ = [
    "ContentParts",
    "ToolOutput",
    "ToolOutputFileContent",
    "ToolOutputFileContentDict",
    "ToolOutputImage",
    "ToolOutputImageDict",
    "ToolOutputText",
    "ToolOutputTextDict",
    "content_parts",
    "output_problem",
    "output_text",
    "tool_output",
]

# Each model's validator is built when it is first used (``defer_build``), not at ``import
# tether``: the first validator a process builds also loads Pydantic's plugin lookup
# (``importlib.metadata``), which a program that never returns content need not load.
_CONFIG = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class ToolOutputText(BaseModel):
    """Text the model reads as one content part of a tool's output."""

    model_config = _CONFIG
    type: Literal["text"] = "text"
    text: str


class ToolOutputImage(BaseModel):
    """An image the model sees: an ``image_url`` (a URL or a ``data:`` URL) or the
    ``file_id`` of an uploaded file; ``detail`` sets how closely it looks."""

    model_config = _CONFIG
    type: Literal["image"] = "image"
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto"] | None = None

    @model_validator(mode="after")
    def _names_an_image(self) -> ToolOutputImage:
        if self.image_url is None and self.file_id is None:
            raise ValueError("an image needs an image_url or a file_id")
        return self


class ToolOutputFileContent(BaseModel):
    """A file the model reads: ``file_data`` (base64, with an optional ``filename``), a
    ``file_url`` or the ``file_id`` of an uploaded file."""

    model_config = _CONFIG
    type: Literal["file"] = "file"
    file_data: str | None = None
    file_url: str | None = None
    file_id: str | None = None
    filename: str | None = None

    @model_validator(mode="after")
    def _names_a_file(self) -> ToolOutputFileContent:
        if self.file_data is None and self.file_url is None and self.file_id is None:
            raise ValueError("a file needs file_data, a file_url or a file_id")
        return self


class ToolOutputTextDict(TypedDict):
    """``ToolOutputText`` as a dict."""

    type: Literal["text"]
    text: str


class ToolOutputImageDict(TypedDict):
    """``ToolOutputImage`` as a dict."""

    type: Literal["image"]
    image_url: NotRequired[str]
    file_id: NotRequired[str]
    detail: NotRequired[Literal["low", "high", "auto"]]


class ToolOutputFileContentDict(TypedDict):
    """``ToolOutputFileContent`` as a dict."""

    type: Literal["file"]
    file_data: NotRequired[str]
    file_url: NotRequired[str]
    file_id: NotRequired[str]
    filename: NotRequired[str]


ContentParts: TypeAlias = list[dict[str, Any]]
"""Input content parts: ``input_text``, ``input_image`` and ``input_file`` dicts."""

ToolOutput: TypeAlias = str | list[dict[str, Any]]
"""What the model reads of a call: text, or content parts."""

_MODELS: dict[str, type[BaseModel]] = {
    "text": ToolOutputText,
    "image": ToolOutputImage,
    "file": ToolOutputFileContent,
}
_PART_TYPES = {"text": "input_text", "image": "input_image", "file": "input_file"}
_PART_FIELDS = {
    "input_text": ({"text"}, {"text"}),
    "input_image": ({"image_url", "file_id"}, {"image_url", "file_id", "detail"}),
    "input_file": (
        {"file_data", "file_url", "file_id"},
        {"file_data", "file_url", "file_id", "filename"},
    ),
}
"""Each part type's sources (at least one is given) and all its fields (besides ``type``),
all strings."""


def content_parts(value: Any) -> ContentParts | None:
    """``value`` as content parts if it is content (one part or a non-empty list of them),
    else ``None`` (the tool's output is text). Raises ``ValueError`` for a dict or list
    that is meant as content (its ``type`` is ``text``, ``image`` or ``file``) but is not
    valid content, saying what is wrong."""
    items = value if isinstance(value, list | tuple) else [value]
    if not items or not all(_is_content(item) for item in items):
        return None
    return [_part(item) for item in items]


def _is_content(item: Any) -> bool:
    if isinstance(item, ToolOutputText | ToolOutputImage | ToolOutputFileContent):
        return True
    return isinstance(item, Mapping) and item.get("type") in _MODELS


def _part(item: Any) -> dict[str, Any]:
    if isinstance(item, Mapping):
        try:
            item = _MODELS[item["type"]].model_validate(dict(item))
        except ValidationError as exc:
            problems = "; ".join(error["msg"] for error in exc.errors())
            raise ValueError(f"a {item['type']!r} content part is not valid ({problems})") from None
    fields: dict[str, Any] = item.model_dump(exclude_none=True)
    fields["type"] = _PART_TYPES[fields["type"]]
    return fields


def output_problem(output: Any) -> str | None:
    """What makes ``output`` no journaled tool output (text or content parts), or ``None``."""
    if isinstance(output, str):
        return None
    if not isinstance(output, list) or not output:
        return "a tool output is text or a non-empty list of content parts"
    for index, part in enumerate(output):
        problem = _part_problem(part)
        if problem is not None:
            return f"content part {index}: {problem}"
    return None


def _part_problem(part: Any) -> str | None:
    if not isinstance(part, Mapping) or part.get("type") not in _PART_FIELDS:
        return "not an input_text, input_image or input_file part"
    sources, allowed = _PART_FIELDS[part["type"]]
    fields = set(part) - {"type"}
    if not fields & sources or not fields <= allowed:
        kind = part["type"]
        return f"an {kind} part has one of {sorted(sources)}, and no field but {sorted(allowed)}"
    if not all(isinstance(part[name], str) for name in fields):
        return f"the fields of an {part['type']} part are strings"
    return None


def output_text(output: str | Sequence[Mapping[str, Any]]) -> str:
    """The output as text: text as it is, content parts as their JSON."""
    if isinstance(output, str):
        return output
    return json.dumps([dict(part) for part in output], ensure_ascii=False)


def tool_output(tool_name: str, result: Any) -> ToolOutput:
    """What the model reads of what a tool returned: content parts for content, else text
    (a string as it is, a model or dataclass as its JSON, other data as JSON if it can be).
    Raises ``ToolOutputError`` for content that is not valid."""
    if type(result) is str:  # most tools return text: no content to look for
        return result
    try:
        parts = content_parts(result)
    except ValueError as exc:
        raise ToolOutputError(
            f"Tool {tool_name!r} returned content the model cannot be sent: {exc}. Return "
            "ToolOutputText, ToolOutputImage or ToolOutputFileContent (or a dict of the same "
            "shape) with their required fields, or text."
        ) from None
    if parts is not None:
        return parts
    if isinstance(result, str):
        return result
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        result = dataclasses.asdict(result)
    try:
        return json.dumps(result, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(result)
