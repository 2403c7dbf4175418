"""``agents.items``: run items, ``ItemHelpers``, ``ModelResponse`` and the item type
aliases, under the reference SDK's module path."""

from __future__ import annotations

from typing import Any

from ..models import ModelResponse
from ._items import (
    HandoffCallItem,
    HandoffOutputItem,
    ItemHelpers,
    MessageOutputItem,
    ReasoningItem,
    RunItem,
    ToolApprovalItem,
    ToolCallItem,
    ToolCallOutputItem,
)

__all__ = [
    "HandoffCallItem",
    "HandoffOutputItem",
    "ItemHelpers",
    "MessageOutputItem",
    "ModelResponse",
    "ReasoningItem",
    "RunItem",
    "TResponseInputItem",
    "TResponseOutputItem",
    "ToolApprovalItem",
    "ToolCallItem",
    "ToolCallOutputItem",
]

TResponseInputItem = dict[str, Any]
"""An input item: a Responses API item dict (tether's ``Item``)."""
TResponseOutputItem = Any
"""An output item of a model response."""
