"""Structured final output: the schema the model must follow and its validation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ._strict_schema import strict_json_schema
from .errors import AgentDefinitionError, ModelBehaviorError
from .models import OutputSchema

__all__ = ["OutputType"]

_WRAPPER_KEY = "response"


@dataclass(frozen=True, slots=True)
class OutputType:
    """An agent's ``output_type`` with its adapter and the schema sent to the model."""

    python_type: Any
    adapter: TypeAdapter[Any]
    schema: OutputSchema
    wrapped: bool
    """Whether a non-object type is wrapped as ``{"response": ...}`` for the model."""

    @classmethod
    def of(cls, python_type: Any) -> OutputType:
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(python_type)
            schema = adapter.json_schema()
        except Exception as exc:
            raise AgentDefinitionError(
                f"output_type {python_type!r} has no JSON schema ({exc}). Use a pydantic "
                "model, a dataclass, a TypedDict or another type pydantic can describe."
            ) from exc
        wrapped = schema.get("type") != "object"
        if wrapped:
            schema = {"type": "object", "properties": {_WRAPPER_KEY: schema}}
        name = getattr(python_type, "__name__", "final_output")
        return cls(python_type, adapter, OutputSchema(name, strict_json_schema(schema)), wrapped)

    def parse(self, text: str) -> Any:
        """Validate the model's final message; ``ModelBehaviorError`` if it does not fit."""
        try:
            data = json.loads(text)
            if self.wrapped:
                data = data[_WRAPPER_KEY]
            return self.adapter.validate_python(data)
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise ModelBehaviorError(
                f"The model's final output does not match output_type {self.schema.name}: {exc}"
            ) from None

    def dump(self, value: Any) -> Any:
        """The output as JSON-compatible data, for the journal."""
        return self.adapter.dump_python(value, mode="json")

    def load(self, data: Any) -> Any:
        """The output rebuilt from ``dump``'s data."""
        return self.adapter.validate_python(data)
