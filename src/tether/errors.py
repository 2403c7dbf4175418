"""Every error tether raises, in one tree.

    TetherError                      root: catch this to catch everything tether raises
    ├── UserError                    the code using tether did something wrong
    │   ├── AgentDefinitionError     an agent, tool or handoff is declared wrongly
    │   ├── ToolOutputError          a tool returned content (an image, a file) that is not valid
    │   ├── ModelNotAllowedError     a real model call while requests are switched off
    │   ├── MissingExtraError        a feature needs an optional extra (also an ImportError)
    │   ├── ServerDependencyError    the inbox needs the 'server' extra (also an ImportError)
    │   ├── RequestError             a request the inbox cannot take as sent (HTTP 4xx)
    │   │   ├── BadRequestError          unreadable body or form (400)
    │   │   ├── NotAuthenticatedError    no credentials, or unknown ones (401)
    │   │   ├── NotFoundError            no endpoint or page at that path (404)
    │   │   ├── MethodNotAllowedError    the path exists, not with that method (405)
    │   │   ├── RequestTooLargeError     a body over the app's max_body_bytes (413)
    │   │   ├── InvalidRequestError      a field or parameter that does not fit (422)
    │   │   └── TooManyRequestsError     too many failed sign-ins from one client (429)
    │   ├── ReadOnlyItemError        an edit of an item that belongs to a run's journal
    │   ├── UnknownRulePredicateError  a standing approval names a predicate nobody registered
    │   ├── RuleNotFoundError        no standing approval with that id
    │   ├── GatewayConfigError       a tether gateway's configuration file is wrong (names the key)
    │   ├── ChannelConfigError       an approval channel (Slack, e-mail) is configured wrongly
    │   ├── TargetError              a module:attribute name imports nothing, or not what it must
    │   └── SigningKeyError          a signing key file open to others, misplaced or unreadable
    ├── RunError                     a run could not go on
    │   ├── MaxTurnsExceeded         the turn budget is spent
    │   ├── ModelBehaviorError       the model answered something tether cannot use
    │   ├── ModelProviderError       the model's API failed (HTTP error, cut-off stream)
    │   ├── ToolCallInDoubtError     a tool started but its completion was never recorded
    │   ├── CallInDoubt              raised by a tool: its call may have taken effect
    │   ├── ToolError                a tool with error_formatter=None raised
    │   │   └── ToolTimeoutError     a tool ran past its timeout (when told to raise)
    │   ├── RunStalledError          a step recorded nothing (it would repeat forever)
    │   ├── ReplayDivergedError      a replayed run asked its model what the recorded run did not
    │   ├── HookError                a lifecycle hook (tether.lifecycle) raised
    │   ├── MCPServerError           an MCP server cannot be reached, or its connection broke
    │   └── GuardrailTripwireTriggered          a guardrail stopped the run (tether.guardrails)
    │       ├── InputGuardrailTripwireTriggered       on the run's input, before any model call
    │       ├── OutputGuardrailTripwireTriggered      on the final output, before it is recorded
    │       ├── ToolInputGuardrailTripwireTriggered   on a call's arguments, before approval
    │       └── ToolOutputGuardrailTripwireTriggered  on a call's output
    ├── SessionError                 a session store failed (tether.sessions; nothing was lost)
    │   └── MissingDependencyError   the backend's driver is not installed (also an ImportError)
    ├── StoreError                   a run store failed or refused a write (tether.store)
    │   ├── RunConflictError         another writer appended first; nothing of this write was kept
    │   ├── RunBusyError             another process holds the run's lease
    │   ├── RunNotFoundError         no run with that id in the store
    │   ├── StoreUnavailableError    the database is unreachable for now; retry (retryable)
    │   ├── StoreFormatError         the database is not a tether run store
    │   ├── StoreVersionError        the store's schema is newer than this tether reads, or
    │   │                            older and not migrated yet (tether store migrate)
    │   └── StoreIntegrityError      stored events were edited, removed or reordered
    ├── EngineError                  a durable engine (tether.dbos) is not set up or pointed wrongly
    └── StateError                   a saved run state cannot be used as given
        ├── StateFormatError         not JSON, or a field is missing or of the wrong type
        ├── SchemaVersionError       written by a newer (or unknown) tether
        ├── StateSignatureError      unsigned, or altered since it was signed
        ├── InteropError             holds what the other SDK cannot represent (tether.interop)
        ├── UnknownAgentError        names an agent the given agent graph does not have
        ├── UnknownToolError         names a tool the agent does not have
        ├── DecisionMismatchError    a decision no longer matches the call it was made on
        │   └── StaleDecisionError   a decision names a call (fingerprint) no longer waiting
        ├── NotPendingError          a decision on a call that is not waiting for one
        │   └── NotRevocableError    a decision withdrawn once its call started, or none to withdraw
        ├── NotAuthorizedError       the approver may not decide this call (nothing recorded)
        ├── ApprovalExpiredError     the call's approval passed its deadline (rejected)
        ├── ReceiptError             a decision's receipt does not verify
        ├── EditNotAllowedError      an approval with edited arguments on a tool that allows none
        └── InvalidEditError         edited arguments that do not fit the tool's schema

The errors people catch first are also exported from ``tether``; the whole tree is here.
Every message says what went wrong and what to do about it. Errors that carry
data define ``__reduce__`` so they survive pickling across process boundaries.
"""

from __future__ import annotations

from typing import Any


class TetherError(Exception):
    """The root of every error tether raises."""


class UserError(TetherError):
    """The code using tether did something wrong; the message says what to change."""


class AgentDefinitionError(UserError):
    """An agent, tool or handoff is declared in a way tether cannot use."""


class ToolOutputError(UserError):
    """A tool returned content (``ToolOutputImage`` and the like) the model cannot be sent."""


class ModelNotAllowedError(UserError):
    """A real model request was made while ``tether.models.ALLOW_MODEL_REQUESTS`` is off."""


class MissingExtraError(UserError, ImportError):
    """A feature needs a package of an optional extra (``pip install 'tether[extra]'``); also
    an ``ImportError``, so code that guards optional imports the usual way keeps working."""


class ReadOnlyItemError(UserError, TypeError):
    """An item (or a part of one) that a run recorded was edited; edit a copy instead. Also
    a ``TypeError``, as editing any other immutable value would be."""


class ChannelConfigError(UserError):
    """An approval channel of ``App(channels=[...])`` is configured wrongly; nothing started."""


class UnknownRulePredicateError(UserError):
    """A standing approval names a predicate ``Governance(rule_predicates=...)`` lacks:
    refused when granting; a stored rule naming one approves nothing."""


class RuleNotFoundError(UserError):
    """No standing approval with that id in the rule book (or run store)."""


class GatewayConfigError(UserError):
    """A ``tether gateway`` configuration file cannot be used: not TOML, a missing or unknown
    key, or a value of the wrong kind. The message is one line naming the key
    (``servers.notes.tools.write_note.approvers``) and what it should be; nothing was started."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        """The dotted key at fault, or ``None`` for the file as a whole."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.key))


class TargetError(UserError):
    """A ``module:attribute`` name of the user's code imports nothing, or not what it must."""


class SigningKeyError(UserError):
    """A signing key cannot be used (``tether.store``): the message names the file and the fix."""


class RunError(TetherError):
    """A run could not go on. The state up to the failure is still resumable: ``Runner.run``
    (and a streamed run's ``stream_events``) sets ``run_state`` to the run's ``RunState`` as
    it was when the error happened (for example, resume it with a larger ``max_turns``)."""

    run_state: Any = None


class MaxTurnsExceeded(RunError):
    """The run used its whole ``max_turns`` budget without reaching a final output."""

    def __init__(self, max_turns: int) -> None:
        self.max_turns = max_turns
        super().__init__(
            f"The run reached max_turns={max_turns} without a final output. "
            "Raise max_turns, or resume the saved state with a larger max_turns."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.max_turns,))


class ModelBehaviorError(RunError):
    """The model produced output tether cannot act on (for example invalid structured output)."""


class ModelProviderError(RunError):
    """The model's API failed: an HTTP error, a refused connection or a stream cut short."""


class ToolCallInDoubtError(RunError):
    """A tool call was started, its completion never recorded, and the tool declares no way
    to settle it by itself (``idempotent``, ``idempotent_for``, ``reconcile``)."""

    def __init__(self, tool_name: str, call_id: str) -> None:
        self.tool_name = tool_name
        self.call_id = call_id
        super().__init__(
            f"Tool call {call_id!r} of {tool_name!r} started but never completed; "
            "it may or may not have taken effect. tether will not run it again. "
            "Declare the tool with idempotent=True if a second run is harmless."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.tool_name, self.call_id))


class CallInDoubt(RunError):
    """Raise it from a tool whose call may have taken effect: it stays in doubt, settled as its
    tool declares (``idempotent_for``, ``reconcile``) or by a person; the model is not told."""


class ReplayDivergedError(RunError):
    """A replayed run (``ReplayModel``, ``tether replay``) asked its model for more turns than
    were recorded, or sent it tool outputs the recorded run's model never read."""


class MCPServerError(RunError):
    """An MCP server could not be started or reached, or its connection broke. A call whose
    connection broke is left in doubt (it may have reached the server) unless its tool is
    idempotent or read-only; an error the server answered with is the model's to read."""


class ToolError(RunError):
    """A tool whose ``error_formatter`` is ``None`` raised (the original is ``__cause__``): the
    call is in doubt (it may have had part of its effects), run again on resume only if the
    tool is ``idempotent=True``, else resuming raises ``ToolCallInDoubtError``."""

    def __init__(self, tool_name: str, call_id: str, error: str = "an error") -> None:
        self.tool_name = tool_name
        self.call_id = call_id
        self.error = error
        super().__init__(
            f"Tool {tool_name!r} (call {call_id!r}) raised {error}, and it has "
            "error_formatter=None, so the run stopped (the original error is the __cause__). "
            "The call is in doubt in error.run_state: resuming runs it again only if the "
            "tool is idempotent=True. Give the tool an error_formatter to let the model "
            "read its errors instead."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.tool_name, self.call_id, self.error))


class ToolTimeoutError(ToolError):
    """A tool ran past its timeout and the tool (or the run) says a timeout ends the run. The
    call was cancelled and is recorded as timed out (``ToolTimedOut``), so the saved state
    resumes: the model then reads that the call did not finish."""

    def __init__(self, tool_name: str, call_id: str, timeout: float) -> None:
        self.tool_name = tool_name
        self.call_id = call_id
        self.error = f"no output within {timeout:g} s"
        self.timeout = timeout
        RunError.__init__(  # its own message, not ToolError's
            self,
            f"Tool {tool_name!r} (call {call_id!r}) did not finish within {timeout:g} s and "
            "was cancelled; it may have had part of its effects. The run stopped because "
            "the tool's on_timeout (or the run's on_tool_timeout) is 'raise'. Resuming "
            "error.run_state lets the model read that the call timed out; raise the "
            "timeout if the tool needs longer.",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.tool_name, self.call_id, self.timeout))


class RunStalledError(RunError):
    """The run's next step recorded nothing, so taking it again would loop forever: tether
    stops the run instead. This points at a state that does not fit the agents it is resumed
    with, or at a bug in tether; please report it."""

    def __init__(self, step: str) -> None:
        self.step = step
        super().__init__(
            f"The run's step {step} recorded nothing and would repeat forever, so the run "
            "stopped. Check that the agents given to resume are the ones the run was saved "
            "with; if they are, this is a bug in tether: please report it with the state."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.step,))


class StateError(TetherError):
    """A saved run state cannot be used as given. Nothing was run."""


class StateFormatError(StateError):
    """The state is not valid JSON, or a field is missing or has the wrong type."""


class SchemaVersionError(StateError):
    """The state was written in a schema version this tether cannot read."""


class StateSignatureError(StateError):
    """The state is unsigned, or was altered after it was signed."""


class UnknownAgentError(StateError):
    """The state names an agent that the agent graph given to load it does not contain."""


class UnknownToolError(StateError):
    """The state names a tool that its agent does not have."""


class DecisionMismatchError(StateError):
    """A decision does not match the call it names (changed arguments, reused call id)."""


class NotPendingError(StateError):
    """A decision was made on a call that is not waiting for one."""


class NotRevocableError(NotPendingError):
    """Nothing to withdraw: the call started (or has its output), or the approver has no
    decision on it that can be withdrawn. Nothing was recorded."""


class StaleDecisionError(DecisionMismatchError):
    """A decision names another call than the one waiting under its call id: the call's
    arguments changed, or the model reused the call id for another call, since the approver
    saw it. Nothing was recorded; read the run again and decide on what it shows."""


class GuardrailTripwireTriggered(RunError):
    """A guardrail's tripwire stopped the run (``tether.guardrails``). The check is journaled:
    ``run_state`` resumes to this same error without running the guardrail again."""

    stage = ""
    _before = ""

    def __init__(
        self, guardrail: str, output_info: Any = None, tool_name: str = "", call_id: str = ""
    ) -> None:
        self.guardrail = guardrail
        self.output_info = output_info
        self.tool_name = tool_name
        self.call_id = call_id
        where = f" on call {call_id!r} of tool {tool_name!r}" if call_id else ""
        super().__init__(
            f"The {self.stage} guardrail {guardrail!r} tripped{where}, so the run stopped"
            f"{self._before}. error.output_info has what the guardrail reported; the run "
            "stays stopped here (resuming error.run_state raises this error again)."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.guardrail, self.output_info, self.tool_name, self.call_id))


class InputGuardrailTripwireTriggered(GuardrailTripwireTriggered):
    """An input guardrail tripped: the run stopped before any model call."""

    stage = "input"
    _before = " before any model call"


class OutputGuardrailTripwireTriggered(GuardrailTripwireTriggered):
    """An output guardrail tripped: the final output was not recorded as the run's output."""

    stage = "output"
    _before = " before recording the final output"


class ToolInputGuardrailTripwireTriggered(GuardrailTripwireTriggered):
    """A tool input guardrail tripped: the call did not run, and nobody was asked to."""

    stage = "tool input"
    _before = " before the call ran or was put to anyone for approval"


class ToolOutputGuardrailTripwireTriggered(GuardrailTripwireTriggered):
    """A tool output guardrail tripped on what a call returned; the model did not read it."""

    stage = "tool output"
    _before = " before the model read the output"


class HookError(RunError):
    """A lifecycle hook raised; the run stopped where the hook was called. Hooks are not
    journaled: resuming ``run_state`` goes on from the last journaled step (a hook that
    failed before a tool ran does not stop it running on resume, and is called again)."""

    def __init__(self, hooks: str, method: str, error: BaseException) -> None:
        self.hooks = hooks
        self.method = method
        self.error = f"{type(error).__name__}: {error}"
        super().__init__(
            f"The hook {hooks}.{method} raised {self.error}. The run stopped; fix the hook "
            "and resume error.run_state."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_hook_error, (self.hooks, self.method, self.error))


def _hook_error(hooks: str, method: str, error: str) -> HookError:
    return HookError(hooks, method, RuntimeError(error))


class NotAuthorizedError(StateError):
    """The approver may not decide this call (policy, or four-eyes); nothing was recorded."""


class ApprovalExpiredError(StateError):
    """Not decided by its deadline: the system rejected the call, which never runs."""


class ReceiptError(StateError):
    """A decision's receipt does not verify (changed, moved, another key, or none)."""


class EditNotAllowedError(StateError):
    """An approval with edited arguments on a call whose tool does not allow edits
    (``function_tool(editable=...)``), or whose ``editable`` predicate refused this approver.
    Nothing was recorded; approve the call as it is, or reject it."""


class InvalidEditError(StateError):
    """Edited arguments that do not fit the tool's parameters; ``field`` names the first one
    at fault (``None`` when the whole value is wrong). Nothing was recorded: the call still
    waits for a decision."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        """The dotted path of the first argument at fault, or ``None``."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.field))


class EngineError(TetherError):
    """A durable engine that runs agents on workers (``tether.dbos``) is not set up, or a
    worker was pointed at something that is not an app; the message says what to do."""


class StoreError(TetherError):
    """A run store (``tether.store``) failed or refused a write (a refused write wrote
    nothing: every append is one transaction)."""


class RunConflictError(StoreError):
    """Another writer appended to the run first (or created a run with this id); nothing of
    the refused append was written. Load the run again and decide from what it now says."""

    def __init__(self, run_id: str, expected_seq: int, actual_seq: int | None) -> None:
        self.run_id = run_id
        self.expected_seq = expected_seq
        self.actual_seq = actual_seq
        why = f", not {expected_seq}: another writer appended first"
        if actual_seq == expected_seq:  # deleted and started again, or rewritten
            why = " but ends with another event than the state was loaded at,"
        text = f"Run {run_id!r} is at event {actual_seq}{why} and nothing of this append was "
        text += "written. Load the run again."
        if expected_seq == 0:
            text = f"Run {run_id!r} already exists; a new run needs a new id."
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.run_id, self.expected_seq, self.actual_seq))


class RunBusyError(StoreError):
    """Another process holds the run's lease; try again after it stops or its lease expires."""

    def __init__(self, run_id: str, owner: str | None, until: str | None) -> None:
        self.run_id = run_id
        self.owner = owner
        self.until = until
        super().__init__(
            f"Run {run_id!r} is being advanced by {owner!r} (lease until {until}). Wait for it "
            "to stop, or for its lease to expire if that process died, then try again."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.run_id, self.owner, self.until))


class RunNotFoundError(StoreError):
    """The store has no run with this id (never created, deleted, or pruned)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"The store has no run {run_id!r}. Check the id (it is result.run_id); "
            "the run may have been deleted or pruned."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.run_id,))


class StoreUnavailableError(StoreError):
    """The store's database could not be reached or failed for a moment (connection refused
    or reset, server restarting, serialization failure, SQLite lock held too long) and the
    store's bounded retries ran out. ``retryable``: make the same call again once the
    database is back. Nothing was written unless the message says the outcome of a write is
    unknown (the connection broke during the commit): then load the run before deciding
    again (an append is compare-and-append, never applied twice). ``backend`` names the
    store, ``cause`` the driver's error."""

    retryable = True

    def __init__(self, backend: str, cause: str, *, unknown_outcome: bool = False) -> None:
        self.backend = backend
        self.cause = cause
        self.unknown_outcome = unknown_outcome
        what = (
            "the connection broke while the write committed, so whether it was written is "
            "unknown; load the run and retry"
            if unknown_outcome
            else "nothing of the failed call was written; retry once the database is back"
        )
        super().__init__(f"The {backend} run store's database is unreachable ({cause}); {what}.")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_store_unavailable, (self.backend, self.cause, self.unknown_outcome))


def _store_unavailable(backend: str, cause: str, unknown_outcome: bool) -> StoreUnavailableError:
    return StoreUnavailableError(backend, cause, unknown_outcome=unknown_outcome)


class StoreFormatError(StoreError):
    """The database is not a tether run store (or not a database at all). Nothing was written."""


class StoreVersionError(StoreError):
    """The store's schema is newer than this tether reads, or older and not migrated yet
    (run ``tether store migrate STORE``, or ``await store.migrate()``). Nothing was written."""


class StoreIntegrityError(StoreError):
    """A run's stored events were edited, removed or reordered since they were appended."""


class SessionError(TetherError):
    """A session store is unreachable, refused the credentials, or holds corrupt data.
    Nothing stored was lost, and a failed ``add_items`` stored none of its items: retry
    once the cause the message names is fixed."""


class MissingDependencyError(SessionError, ImportError):
    """A session backend needs a package that is not installed (also an ``ImportError``)."""

    def __init__(self, backend: str, package: str, extra: str) -> None:
        self.backend = backend
        self.package = package
        self.extra = extra
        super().__init__(
            f"{backend} needs the {package!r} package, which is not installed. "
            f"Install it with: pip install 'tether[{extra}]'"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.backend, self.package, self.extra))


class InteropError(StateError):
    """A run state holds what the other side cannot represent (named); nothing converted."""


class ServerDependencyError(UserError, ImportError):
    """The approval inbox needs ``pip install 'tether[server]'``."""


class RequestError(UserError):
    """A request the inbox cannot take as sent (an HTTP 4xx); nothing was recorded."""

    status = 400

    def __init_subclass__(cls, status: int = 400, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = status  # the HTTP status, given as ``class X(RequestError, status=...)``


class BadRequestError(RequestError):
    """The request could not be read (a broken form or body encoding): 400."""


class NotAuthenticatedError(RequestError, status=401):
    """No credentials, or unknown ones: 401 (send ``Authorization: Bearer <token>``)."""


class NotFoundError(RequestError, status=404):
    """Nothing at that path (no endpoint, page or live sign-in): 404 (``/api/openapi.json``)."""


class MethodNotAllowedError(RequestError, status=405):
    """The path exists, but not with that method: 405."""


class RequestTooLargeError(RequestError, status=413):
    """The body is larger than the app's ``max_body_bytes``: 413, refused before it is read."""


class InvalidRequestError(RequestError, status=422):
    """A field, query parameter or body that does not fit the endpoint (validation): 422."""


class TooManyRequestsError(RequestError, status=429):
    """Too many failed sign-ins from this client: 429; try again after ``retry_after`` s."""

    retry_after = 1


__all__ = sorted(  # every error class above: the tree in the docstring, checked by a test
    name
    for name, value in list(globals().items())
    if isinstance(value, type) and issubclass(value, TetherError)
)
