"""Hosted tools under the reference SDK's names, options and defaults: tether's (the
Responses API runs them), sent as the reference sends them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import AgentDefinitionError
from ..hosted import CodeInterpreterTool as _CodeInterpreterTool
from ..hosted import WebSearchTool as _WebSearchTool
from ..models import ToolSpec

__all__ = ["CodeInterpreterTool", "WebSearchTool"]


@dataclass(frozen=True, slots=True)
class WebSearchTool(_WebSearchTool):
    """tether's ``WebSearchTool`` with the reference's options: ``filters`` (a dict, or the
    ``openai`` package's filters object), ``external_web_access``, ``search_content_types``
    and ``image_settings``; ``search_context_size`` is ``"medium"`` unless given."""

    search_context_size: Literal["low", "medium", "high"] | None = "medium"
    filters: Any = None
    external_web_access: bool | None = None
    search_content_types: list[Literal["text", "image"]] | None = None
    image_settings: Mapping[str, Any] | None = None

    @property
    def spec(self) -> ToolSpec:
        """The ``web_search`` tool object: ``filters``, ``user_location`` and
        ``search_context_size`` always (``None`` where not set), the others when set."""
        filters = self.filters
        if hasattr(filters, "model_dump"):
            filters = filters.model_dump()
        param: dict[str, Any] = {
            "type": "web_search",
            "filters": None if filters is None else dict(filters),
            "user_location": None if self.user_location is None else dict(self.user_location),
            "search_context_size": self.search_context_size,
        }
        optional = {
            "external_web_access": self.external_web_access,
            "search_content_types": self.search_content_types,
            "image_settings": None if self.image_settings is None else dict(self.image_settings),
        }
        param.update({key: value for key, value in optional.items() if value is not None})
        return ToolSpec(self.name, "", {}, strict=False, hosted=param)


@dataclass(frozen=True, slots=True, init=False)
class CodeInterpreterTool(_CodeInterpreterTool):
    """tether's ``CodeInterpreterTool`` built from the reference's ``tool_config`` (the
    Responses API's ``code_interpreter`` tool object), sent as given."""

    tool_config: Mapping[str, Any] = field(default_factory=dict)
    """The ``code_interpreter`` tool object, as given."""

    def __init__(self, tool_config: Mapping[str, Any]) -> None:
        config = dict(tool_config)
        if config.get("type") != "code_interpreter" or "container" not in config:
            raise AgentDefinitionError(
                "CodeInterpreterTool(tool_config=) takes a 'code_interpreter' tool object "
                f"with a container, got {config!r}."
            )
        object.__setattr__(self, "container", config["container"])
        object.__setattr__(self, "tool_config", config)

    @property
    def spec(self) -> ToolSpec:
        """The tool object, as given."""
        return ToolSpec(self.name, "", {}, strict=False, hosted=dict(self.tool_config))
