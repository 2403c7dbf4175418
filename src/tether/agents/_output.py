"""An agent's structured output as the reference SDK reads its ``output_type``.

``AgentOutputSchemaBase`` is the interface a program may implement itself (its JSON schema,
whether it is strict, and how a reply becomes the output); ``AgentOutputSchema`` is the one
made for a Python type. As the reference, a type that is neither a pydantic model nor a
``dict`` (a dataclass, a list, a ``Literal``...) is asked for wrapped as
``{"response": ...}``, and a strict schema the model cannot be held to is refused with
``UserError`` when a run starts, not when the agent is made.

tether's run loop reads an output through ``.schema``, ``.parse``, ``.dump`` and ``.load``
(tether's own ``OutputType``); ``ReferenceOutput`` gives those over either kind.
"""

from __future__ import annotations

import abc
from functools import cached_property
from typing import Any, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python
from typing_extensions import TypedDict

from .._strict_schema import strict_json_schema
from ..errors import ModelBehaviorError, UserError
from ..models import OutputSchema
from ._schema import OpenObject, Unsupported, strict_copy

__all__ = ["AgentOutputSchema", "AgentOutputSchemaBase", "ReferenceOutput"]

_WRAPPER_KEY = "response"

_NOT_STRICT = (
    "This output type cannot be sent as a strict JSON schema: it has an object whose keys "
    "are not named in advance (such as a dict field). Give a type whose objects name their "
    "fields, or wrap it: AgentOutputSchema(YourType, strict_json_schema=False)."
)


class AgentOutputSchemaBase(abc.ABC):
    """What an agent's final output must be: implement it for an output no Python type
    describes (``Agent(output_type=MySchema())``)."""

    @abc.abstractmethod
    def is_plain_text(self) -> bool:
        """Whether the output is plain text (no JSON schema)."""

    @abc.abstractmethod
    def name(self) -> str:
        """A name for the output type."""

    @abc.abstractmethod
    def json_schema(self) -> dict[str, Any]:
        """The JSON schema the model is asked to follow."""

    @abc.abstractmethod
    def is_strict_json_schema(self) -> bool:
        """Whether the model is held to the schema strictly."""

    @abc.abstractmethod
    def validate_json(self, json_str: str) -> Any:
        """The final output read from the model's reply (raise ``ModelBehaviorError`` if it
        does not fit)."""


def _is_object_type(python_type: Any) -> bool:
    """A pydantic model or a ``dict`` (a ``TypedDict`` too): sent as itself, not wrapped."""
    origin = get_origin(python_type)
    candidate = origin if origin is not None else python_type
    return isinstance(candidate, type) and issubclass(candidate, BaseModel | dict)


class AgentOutputSchema(AgentOutputSchemaBase):
    """The output schema of ``output_type``; ``strict_json_schema=False`` for a type strict
    mode cannot express (a ``dict[int, str]``, say), which the model then may not follow."""

    def __init__(self, output_type: type[Any], strict_json_schema: bool = True) -> None:
        self.output_type = output_type
        self._strict = strict_json_schema
        self._plain = output_type is None or output_type is str
        self._wrapped = not self._plain and not _is_object_type(output_type)
        wrapper: Any = TypedDict  # made at run time, around the program's type
        shape: Any = wrapper("OutputType", {_WRAPPER_KEY: output_type}) if self._wrapped else None
        self._adapter: TypeAdapter[Any] = TypeAdapter(shape or output_type)
        self._schema = self._adapter.json_schema()
        if self._strict and not self._plain:
            self._schema = _strict_schema(self._schema)

    def is_plain_text(self) -> bool:
        return self._plain

    def name(self) -> str:
        return getattr(self.output_type, "__name__", None) or repr(self.output_type)

    def json_schema(self) -> dict[str, Any]:
        if self._plain:
            raise UserError("The output type is plain text: it has no JSON schema.")
        return self._schema

    def is_strict_json_schema(self) -> bool:
        return self._strict

    def validate_json(self, json_str: str) -> Any:
        try:
            value = self._adapter.validate_json(json_str, strict=True if self._strict else None)
        except ValidationError as exc:
            raise ModelBehaviorError(
                f"The model's final output does not fit {self.name()}: {exc}"
            ) from None
        return value[_WRAPPER_KEY] if self._wrapped else value

    def dump(self, value: Any) -> Any:
        """The output as JSON data, for the journal."""
        if self._wrapped:
            return self._adapter.dump_python({_WRAPPER_KEY: value}, mode="json")[_WRAPPER_KEY]
        return self._adapter.dump_python(value, mode="json")

    def load(self, data: Any) -> Any:
        """The output rebuilt from ``dump``'s data."""
        if self._wrapped:
            return self._adapter.validate_python({_WRAPPER_KEY: data})[_WRAPPER_KEY]
        return self._adapter.validate_python(data)


def _strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    try:
        return strict_copy(schema)
    except OpenObject:
        raise UserError(_NOT_STRICT) from None
    except Unsupported:  # a shape the facade does not rewrite: tether's strict form
        return strict_json_schema(schema)


class ReferenceOutput:
    """An agent's ``output_type`` (a type or an ``AgentOutputSchemaBase``) as tether's run
    loop reads an output; a type's schema is made on first use, when a run needs it."""

    def __init__(self, output_type: Any) -> None:
        self.output_type = output_type

    @cached_property
    def given(self) -> AgentOutputSchemaBase:
        if isinstance(self.output_type, AgentOutputSchemaBase):
            return self.output_type
        return AgentOutputSchema(self.output_type)

    @property
    def schema(self) -> OutputSchema:
        given = self.given
        return OutputSchema("final_output", given.json_schema(), given.is_strict_json_schema())

    def parse(self, text: str) -> Any:
        return self.given.validate_json(text)

    def dump(self, value: Any) -> Any:
        if isinstance(self.given, AgentOutputSchema):
            return self.given.dump(value)
        return to_jsonable_python(value)

    def load(self, data: Any) -> Any:
        if isinstance(self.given, AgentOutputSchema):
            return self.given.load(data)
        return data  # a program's own schema: its output as the journal holds it
