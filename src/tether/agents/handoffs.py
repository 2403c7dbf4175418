"""``agents.handoffs``: handoffs, their input data and filters, under the reference SDK's
module path."""

from __future__ import annotations

from ._handoff_input import HandoffInputData, HandoffInputFilter
from ._handoffs import Handoff, handoff
from ._nesting import (
    default_handoff_history_mapper,
    get_conversation_history_wrappers,
    nest_handoff_history,
    reset_conversation_history_wrappers,
    set_conversation_history_wrappers,
)

__all__ = [
    "Handoff",
    "HandoffInputData",
    "HandoffInputFilter",
    "default_handoff_history_mapper",
    "get_conversation_history_wrappers",
    "handoff",
    "nest_handoff_history",
    "reset_conversation_history_wrappers",
    "set_conversation_history_wrappers",
]
