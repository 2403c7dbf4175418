"""``RunState`` with the reference SDK's method names: ``get_interruptions()``,
``approve(always_approve=)``, ``reject(always_reject=, rejection_message=)`` and awaitable
``from_string`` / ``from_json``.

It is a tether ``RunState`` (a subclass): the same journal, the same document, the same
checks; a state saved by either loads in the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._agent import Agent
from .._governance import Approver
from ..errors import UserError
from ..journal import ToolApprovalItem as _ApprovalItem
from ..run import RunState as _RunState
from ._items import ToolApprovalItem, approval_item

__all__ = ["RunState", "compat_state"]


class RunState(_RunState):
    """A paused run to save, decide on and resume, named as in ``openai-agents``.

    state = result.to_state()
    text = state.to_string()
    state = await RunState.from_string(agent, text)
    for interruption in state.get_interruptions():
        state.approve(interruption)          # or state.reject(interruption, ...)
    result = await Runner.run(agent, state)
    """

    __slots__ = ()

    @property
    def interruptions(self) -> list[_ApprovalItem]:
        """Calls waiting for a decision, each with its ``agent``."""
        return list(self.get_interruptions())

    def get_interruptions(self) -> list[ToolApprovalItem]:
        """Calls waiting for a decision, each with its ``agent`` (the reference SDK's name)."""
        graph = self._graph
        return [approval_item(item, graph) for item in super().interruptions]

    def approve(
        self,
        approval_item: _ApprovalItem | str,
        always_approve: bool = False,
        *,
        by: Approver | str | None = None,
        reason: str | None = None,
        arguments: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Approve a pending call; ``always_approve=True`` also approves later calls of the
        tool in this run (``by``, ``reason`` and ``arguments`` as tether's ``approve``).

        On an output review (``ToolOutputReviewItem``, ``kind == "output_review"``) it
        releases the output to the model, as ``release`` does; ``always_approve`` and
        ``arguments`` do not apply there (``UserError``, nothing recorded)."""
        if self._is_review(approval_item):
            if always_approve or arguments is not None:
                raise UserError(
                    "This interruption is an output review (the call already ran): approving "
                    "it releases this one output. always_approve and arguments do not apply; "
                    "approve it without them."
                )
            self.release(approval_item, by=by, reason=reason, fingerprint=fingerprint)
            return
        super().approve(
            approval_item,
            always=always_approve,
            by=by,
            reason=reason,
            arguments=arguments,
            fingerprint=fingerprint,
        )

    def reject(  # type: ignore[override]
        self,
        approval_item: _ApprovalItem | str,
        always_reject: bool = False,
        *,
        rejection_message: str | None = None,
        by: Approver | str | None = None,
        reason: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Reject a pending call; the model reads ``rejection_message`` (or the run's
        default); ``always_reject=True`` also rejects later calls of the tool.

        On an output review it withholds the output, as ``withhold`` does: the model reads
        ``rejection_message``, or that the output was withheld (``always_reject`` does not
        apply there: ``UserError``, nothing recorded)."""
        if self._is_review(approval_item):
            if always_reject:
                raise UserError(
                    "This interruption is an output review (the call already ran): rejecting "
                    "it withholds this one output. always_reject does not apply; reject it "
                    "without it."
                )
            self.withhold(
                approval_item,
                message=rejection_message,
                by=by,
                reason=reason,
                fingerprint=fingerprint,
            )
            return
        super().reject(
            approval_item,
            always=always_reject,
            message=rejection_message,
            by=by,
            reason=reason,
            fingerprint=fingerprint,
        )

    def _is_review(self, item: _ApprovalItem | str) -> bool:
        """Whether ``item`` (or the pending call with that id) is an output review."""
        if isinstance(item, _ApprovalItem):
            return item.kind == "output_review"
        return any(
            pending.call_id == item and pending.kind == "output_review"
            for pending in super().interruptions
        )

    @classmethod
    async def from_string(  # type: ignore[override]
        cls, initial_agent: Agent[Any], state_string: str | bytes, **options: Any
    ) -> RunState:
        """Rebuild a state from ``to_string`` text (awaitable, as in the reference SDK).

        ``context_override=`` is accepted as tether's ``context=``; the other options
        are tether's (``signing_key``, ``context_type``, ``context_deserializer``).
        """
        _rename(options)
        state = _RunState.from_string.__func__(cls, initial_agent, state_string, **options)  # type: ignore[attr-defined]
        assert isinstance(state, RunState)
        return state

    @classmethod
    async def from_json(  # type: ignore[override]
        cls, initial_agent: Agent[Any], state_json: Any, **options: Any
    ) -> RunState:
        """Rebuild a state from ``to_json`` data (awaitable); see ``from_string``."""
        _rename(options)
        state = _RunState.from_json.__func__(cls, initial_agent, state_json, **options)  # type: ignore[attr-defined]
        assert isinstance(state, RunState)
        return state


def _rename(options: dict[str, Any]) -> None:
    if "context_override" in options:
        options["context"] = options.pop("context_override")


def compat_state(state: _RunState) -> RunState:
    """The same state (sharing its journal) as this module's ``RunState``."""
    if isinstance(state, RunState):
        return state
    compat = RunState._of_run(state._agent, state._journal, state.context)
    compat.governance = state.governance  # the run's rules for decisions go with it
    return compat  # type: ignore[return-value]
