"""A tool's output between tether and the TypeScript SDK: text, or content parts.

tether journals content parts in the Responses shapes (``input_image`` with ``image_url``
or ``file_id``; ``input_file`` with ``file_data``, ``file_url`` or ``file_id``); the
TypeScript SDK's function result holds the same parts in its protocol shapes (``image``: a
URL or ``{id}``; ``file``: data, ``{url}`` or ``{id}``). A part that one side cannot hold
as the other wrote it raises ``InteropError``.
"""

from __future__ import annotations

from typing import Any

from .._tool_output import ToolOutput, output_problem
from ._errors import InteropError

__all__ = ["output_to_js", "result_output"]

_URL_PREFIXES = ("http://", "https://")


def result_output(output: Any, where: str) -> ToolOutput:
    """A TypeScript function result's output as tether journals it."""
    if isinstance(output, str):
        return output
    if (
        isinstance(output, dict)
        and output.get("type") == "text"
        and set(output) <= {"type", "text"}
    ):
        return str(output["text"]) if isinstance(output.get("text"), str) else _bad(output, where)
    if isinstance(output, list) and output:
        parts = [_from_js(part, f"{where}.output[{i}]") for i, part in enumerate(output)]
        problem = output_problem(parts)
        if problem is None:
            return parts
        raise InteropError(f"{where}.output: {problem}.")
    return _bad(output, where)


def _bad(output: Any, where: str) -> ToolOutput:
    kind = output.get("type") if isinstance(output, dict) else type(output).__name__
    raise InteropError(
        f"{where}.output: tool outputs of type {kind!r} are not supported; tether reads text "
        "or a list of input_text, input_image and input_file parts."
    )


def _from_js(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    known = {"input_text": {"text"}, "input_image": {"image", "detail"}}
    known["input_file"] = {"file", "filename"}
    if kind not in known or not set(part) - {"type"} <= known[kind]:
        raise InteropError(
            f"{where}: only input_text, input_image and input_file parts with their content "
            "fields are supported."
        )
    out = {k: v for k, v in part.items() if k not in ("image", "file")}
    source = part.get("image", part.get("file"))
    if isinstance(source, str) and kind == "input_image":
        out["image_url"] = source
    elif isinstance(source, str):
        out["file_url" if source.startswith(_URL_PREFIXES) else "file_data"] = source
    elif isinstance(source, dict) and set(source) in ({"id"}, {"url"}):
        field = "file_id" if "id" in source else "file_url"
        out[field] = source.get("id", source.get("url"))
    elif source is not None:
        raise InteropError(f"{where}: an image or file of {source!r} is not supported.")
    return out


def output_to_js(output: ToolOutput, where: str) -> Any:
    """tether's journaled output as a TypeScript function result's output."""
    if isinstance(output, str):
        return {"type": "text", "text": output}
    return [_to_js(part, f"{where}.output[{i}]") for i, part in enumerate(output)]


def _to_js(part: dict[str, Any], where: str) -> dict[str, Any]:
    kind = part["type"]
    if kind == "input_text":
        return {"type": "input_text", "text": part["text"]}
    image = kind == "input_image"
    names = ("image_url", "file_id") if image else ("file_data", "file_url", "file_id")
    given = [name for name in names if name in part]
    if len(given) != 1:
        raise InteropError(f"{where}: the TypeScript SDK holds one of {list(names)}, not {given}.")
    value = part[given[0]]
    source = {"file_id": {"id": value}, "file_url": {"url": value}}.get(given[0], value)
    out = {"type": kind, "image" if image else "file": source}
    return out | {k: part[k] for k in ("detail", "filename") if k in part}
