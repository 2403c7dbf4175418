"""The fold's handlers for the events of the run as a whole: its start and resumptions, the
model's responses (each one a new turn of calls), handoffs, guardrails, the session, and
the run's end.

Each handler checks its event before it changes anything (a refused event leaves the view
as it was). ``RunView.apply`` picks the handler (``_fold._APPLY``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import StateFormatError
from ._call import HOSTED_APPROVAL_REQUEST, Call, function_call_problem
from ._events import (
    GuardrailChecked,
    HandoffTaken,
    ModelResponded,
    RunCompleted,
    RunFailed,
    RunResumed,
    RunRetried,
    RunStarted,
    SessionSynced,
)
from ._fold_calls import call_of

if TYPE_CHECKING:
    from ._fold import RunView


def run_started(view: RunView, event: RunStarted) -> None:
    view.run_id = event.run_id
    view.root_agent = view.agent = event.agent
    view.max_turns = event.max_turns
    view.previous_response_id = event.previous_response_id
    view.conversation_id = event.conversation_id
    view.auto_previous_response_id = event.auto_previous_response_id
    view.server_managed = bool(
        event.previous_response_id or event.conversation_id or event.auto_previous_response_id
    )
    view.session_id = event.session_id
    view.requested_by = event.requested_by
    view.items = [*event.history, *event.input]
    view.input_start = view.session_upto = view.server_upto = len(event.history)
    view.generated_start = len(view.items)
    view.rejection_message = event.rejection_message
    view.trace_parent = event.trace_parent
    view.run_config = dict(event.run_config or {})


def run_resumed(view: RunView, event: RunResumed) -> None:
    view.failed = None  # resuming a failed run is trying it again
    if event.max_turns is not None:
        view.max_turns = event.max_turns
    if event.rejection_message is not None:
        view.rejection_message = event.rejection_message
    if event.run_config is not None:
        view.run_config = dict(event.run_config)


def model_responded(view: RunView, event: ModelResponded) -> None:
    calls: dict[str, Call] = {}
    for position, item in enumerate(event.output):
        kind = item.get("type")
        if kind == "function_call":
            problem = function_call_problem(item)
            if problem is not None:
                raise StateFormatError(f"journal[{view.events}]: a function call {problem}.")
            call_id: str = item["call_id"]
        elif kind == HOSTED_APPROVAL_REQUEST:
            request_id = item.get("id")
            if not (
                request_id and isinstance(request_id, str) and isinstance(item.get("name"), str)
            ):
                raise StateFormatError(
                    f"journal[{view.events}]: an mcp_approval_request without an id "
                    "and a tool name."
                )
            call_id = request_id
        else:
            continue
        if call_id in calls:
            raise StateFormatError(
                f"journal[{view.events}]: the response has two calls with id {call_id!r}."
            )
        calls[call_id] = Call(item, event.agent, len(view.items) + position)
    # Every call of the turn before has its output (status DONE); the list that names those
    # without one is made only then (a long run's fold makes this check once a turn).
    for call in view.calls.values():
        if not call.done:
            unfinished = [c.call_id for c in view.calls.values() if not c.done]
            raise StateFormatError(
                f"journal[{view.events}]: a model response while calls {unfinished[:5]} of "
                "the turn before have no output (every call's output goes to the model first)."
            )
    usage = event.usage
    view._requests += usage.requests
    view._input_tokens += usage.input_tokens
    view._output_tokens += usage.output_tokens
    view._total_tokens += usage.total_tokens
    view.turns += 1
    view.responses.append(event)
    view.calls = calls
    view.items.extend(event.output)
    if view.server_managed:
        view.server_upto = len(view.items)


def handoff_taken(view: RunView, event: HandoffTaken) -> None:
    view.agent = event.to_agent
    if event.conversation is not None:
        view.handoff_view = (list(event.conversation), len(view.items))


def session_synced(view: RunView, event: SessionSynced) -> None:
    view.session_upto = event.upto


def run_completed(view: RunView, event: RunCompleted) -> None:
    view.completed = event


def run_failed(view: RunView, event: RunFailed) -> None:
    view.failed = event
    view.failures += 1


def run_retried(view: RunView, event: RunRetried) -> None:
    if view.failed is None:
        raise StateFormatError(f"journal[{view.events}]: a retry of a run that has not failed.")
    view.failed = None
    view.failures = 0


def guardrail_checked(view: RunView, event: GuardrailChecked) -> None:
    if event.stage in ("tool_input", "tool_output"):
        call_of(view, event.call_id or "", event.kind)
    key = (event.stage, event.guardrail, event.call_id or "", view.turns)
    if key in view.guardrails:
        raise StateFormatError(
            f"journal[{view.events}]: guardrail {event.guardrail!r} checked twice."
        )
    view.guardrails[key] = event
    if event.outcome == "tripwire":
        view.tripwire = event
