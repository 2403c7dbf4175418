"""A function tool's arguments from its signature: a Pydantic model of the parameters the
model fills in (described by the docstring), and whether the first takes the run context."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from ._context import RunContext
from .errors import AgentDefinitionError

if TYPE_CHECKING:
    import docstring_parser

__all__ = ["args_model", "description", "docstring"]


def docstring(f: Callable[..., Any]) -> docstring_parser.Docstring:
    """The function's docstring, parsed for its description and its parameters' own."""
    # Imported when the first tool is made from a function, not at ``import tether``:
    # the parser's three docstring styles cost more than a program that has no
    # function tool should pay.
    import docstring_parser

    return docstring_parser.parse(inspect.getdoc(f) or "")


def description(doc: docstring_parser.Docstring) -> str:
    parts = [doc.short_description or "", doc.long_description or ""]
    return "\n\n".join(part for part in parts if part)


def args_model(
    f: Callable[..., Any], doc: docstring_parser.Docstring
) -> tuple[bool, type[BaseModel]]:
    hints = _type_hints(f)
    params = list(inspect.signature(f).parameters.values())
    takes_context = bool(params) and _is_run_context(hints.get(params[0].name))
    if takes_context:
        params = params[1:]
    described = {p.arg_name: p.description for p in doc.params}
    fields: dict[str, Any] = {}
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise AgentDefinitionError(
                f"Tool {f.__name__!r} takes *{param.name}; tools need named parameters only."
            )
        if isinstance(hints.get(param.name), str):
            raise AgentDefinitionError(
                f"Cannot resolve the annotation {hints[param.name]!r} of parameter "
                f"{param.name!r} of tool {f.__name__!r}. Define the type at module level."
            )
        annotation = hints.get(param.name, Any)
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, Field(default, description=described.get(param.name)))
    model = create_model(f"{f.__name__}_args", __config__=ConfigDict(extra="forbid"), **fields)
    return takes_context, model


def _type_hints(f: Callable[..., Any]) -> dict[str, Any]:
    """The function's resolved annotations; one that cannot be resolved stays a string.

    A ``RunContext[SomeLocalClass]`` annotation need not resolve: only the
    parameters shown to the model need real types.
    """
    try:
        return get_type_hints(f, include_extras=True)
    except Exception:
        pass
    hints: dict[str, Any] = {}
    for name, annotation in inspect.get_annotations(f).items():
        try:
            hints[name] = (
                eval(annotation, getattr(f, "__globals__", {}))
                if isinstance(annotation, str)
                else annotation
            )
        except Exception:
            hints[name] = annotation
    return hints


def _is_run_context(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation == "RunContext" or annotation.startswith("RunContext[")
    return annotation is RunContext or get_origin(annotation) is RunContext
