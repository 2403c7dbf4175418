"""Function tools: plain Python functions the model can call.

    @function_tool(needs_approval=True)
    async def get_temperature(city: str) -> str:
        '''Get the temperature for a city.

        Args:
            city: The city to look up.
        '''
        return f"The temperature in {city} is 20°C"

The arguments' JSON schema comes from the signature and the docstring. A first
parameter typed ``RunContext[...]`` receives the run context and is not shown
to the model.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import CoroutineType
from typing import Any, Literal, TypeAlias, overload

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ._context import RunContext
from ._duration import Duration, to_seconds, to_timedelta
from ._governance import ApprovalPolicy, Approver, PolicyLike, approval_policy
from ._side_effects import NO_DECLARATIONS, Reconcile, SideEffects, side_effects
from ._signature import args_model as args_model_of
from ._signature import description as described_by
from ._signature import docstring
from ._strict_schema import strict_json_schema
from ._tool_output import ToolOutput, tool_output
from .errors import AgentDefinitionError, ToolOutputError
from .guardrails import ToolInputGuardrail, ToolOutputGuardrail
from .models import ToolSpec

__all__ = [
    "FunctionTool",
    "IsEnabled",
    "NeedsApproval",
    "OnTimeout",
    "ToolErrorFormatter",
    "Editable",
    "default_tool_error_formatter",
    "function_tool",
    "schema_tool",
]

NeedsApproval: TypeAlias = (
    "bool | Callable[[RunContext[Any], dict[str, Any], str], bool | Awaitable[bool]]"
)
"""``True``/``False``, or a function ``(ctx, args, call_id)`` deciding per call (sync or async)."""

Editable: TypeAlias = "bool | Callable[[Approver | None, Any, Any], bool]"
"""Whether an approver may approve a call with edited arguments (``state.approve(item,
arguments={...})``): ``True``/``False``, or a function ``(approver, item, ctx) -> bool``
taking the ``Approver`` deciding (``None`` if anonymous), the ``ToolApprovalItem`` as it
waits, and the run's context object; like an ``approvers`` predicate, it is called where the
decision is taken, synchronously."""

ToolErrorFormatter: TypeAlias = Callable[[RunContext[Any], Exception], str]
"""Turns an exception raised by a tool into the output the model reads."""

IsEnabled: TypeAlias = "bool | Callable[[RunContext[Any], Any], bool | Awaitable[bool]]"
"""Whether the model is offered a tool (or a handoff): a bool, or ``(ctx, agent) -> bool``,
sync or async, asked before each model call."""

OnTimeout: TypeAlias = Literal["error_output", "raise"]
"""What a call that runs past its timeout does to the run.

``"error_output"``: the model reads that the call did not finish (and may have
had effects) and the run goes on. ``"raise"``: the run stops with
``ToolTimeoutError``, whose ``run_state`` resumes with that same output.
"""

_ON_TIMEOUT = ("error_output", "raise")


def check_on_timeout(value: Any, what: str) -> None:
    """``ValueError`` unless ``value`` is an ``OnTimeout``."""
    if value not in _ON_TIMEOUT:
        raise ValueError(f"{what} must be 'error_output' or 'raise', got {value!r}.")


def default_tool_error_formatter(ctx: RunContext[Any], error: Exception) -> str:
    """The output the model reads when a tool raises."""
    return f"An error occurred while running the tool. Please try again. Error: {error}"


class ToolArgumentsError(Exception):
    """The model's arguments are not a JSON object matching the tool's schema."""


@dataclass(frozen=True, slots=True)
class FunctionTool:
    """A tool backed by a Python function. Build one with ``function_tool``."""

    name: str
    """The name the model calls the tool by."""
    description: str
    """What the model is told the tool does."""
    params_json_schema: dict[str, Any]
    """JSON schema of the arguments object."""
    function: Callable[..., Any]
    """The wrapped function."""
    args_model: type[BaseModel]
    """Validates the model's arguments."""
    takes_context: bool = False
    """Whether the function's first parameter receives the ``RunContext``."""
    needs_approval: NeedsApproval = False
    """Whether a call waits for a human decision; see ``NeedsApproval``."""
    strict: bool = True
    """Whether the schema is sent in strict mode."""
    idempotent: bool = False
    """Whether running a call twice is harmless (lets a call left in doubt by a crash run again)."""
    error_formatter: ToolErrorFormatter | None = default_tool_error_formatter
    """Formats exceptions for the model; ``None`` makes them end the run with ``ToolError``."""
    timeout: float | None = None
    """Seconds a call may run before it is cancelled (async tools only); ``None``: the run's
    ``tool_timeout``, if any."""
    on_timeout: OnTimeout | None = None
    """What a timeout does to the run; ``None``: the run's ``on_tool_timeout``."""
    tool_input_guardrails: tuple[ToolInputGuardrail, ...] = ()
    """Checks of each call's arguments, before it runs or is put to anyone for approval."""
    tool_output_guardrails: tuple[ToolOutputGuardrail, ...] = ()
    """Checks of each call's output, before the model reads it."""
    approvers: ApprovalPolicy | None = None
    """Who may decide a call and how many must approve; ``None``: the agent's policy, else
    the run's (``Governance.approvers``)."""
    approval_timeout: Duration | None = None
    """How long a call may wait for its decision before the system rejects it; ``None``:
    the run's ``Governance.approval_timeout``, if any."""
    editable: Editable = False
    """Whether an approval may change the call's arguments; see ``Editable``."""
    review_output: bool = False
    """Whether each call's output waits for a person's review before the model reads it
    (``RunState.release`` / ``replace_output`` / ``withhold``)."""
    edits_checked_by_schema: bool = False
    """Whether edited arguments are checked against ``params_json_schema`` (tools built with
    ``schema_tool``, whose ``args_model`` accepts any object) rather than ``args_model``."""
    side_effects: SideEffects = NO_DECLARATIONS
    """Which errors are retried or leave a call in doubt, and how a doubt settles without a
    person (``retry_on``, ``doubt_on``, ``idempotent_for``...; see ``tether._side_effects``)."""
    is_enabled: IsEnabled = True
    """Whether the model is offered the tool (see ``IsEnabled``)."""

    async def enabled(self, ctx: RunContext[Any], agent: Any) -> bool:
        """Whether the tool is offered on this model call."""
        return await ask_enabled(self.is_enabled, ctx, agent)

    undo: Callable[..., Any] | None = None
    """The compensation that reverses a completed call, ``(ctx, arguments, output)`` (sync or
    async; what it returns is recorded): ``tether.store.undo`` runs it once."""

    @property
    def spec(self) -> ToolSpec:
        """The tool as the model is told about it."""
        return ToolSpec(self.name, self.description, self.params_json_schema, self.strict)

    def parse_arguments(self, arguments: str) -> dict[str, Any]:
        """The validated arguments of a call, or ``ToolArgumentsError`` saying what is wrong."""
        try:
            text = arguments if arguments.strip() else "{}"
            validated = self.args_model.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            if first["type"] == "json_invalid":
                raise ToolArgumentsError(
                    f"the arguments are not valid JSON ({first['msg']})"
                ) from None
            if first["type"] == "model_type":
                raise ToolArgumentsError("the arguments must be a JSON object") from None
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            raise ToolArgumentsError(
                f"the arguments do not match the schema ({problems})"
            ) from None
        # A model's fields are its __dict__, in their order (extra fields are kept apart).
        args = dict(validated.__dict__)
        extra = validated.__pydantic_extra__
        if extra:  # a permissive schema (``schema_tool``) keeps every field
            args.update(extra)
        return args

    def start(self, ctx: RunContext[Any], arguments: str) -> ToolOutput | Awaitable[ToolOutput]:
        """Run the tool on the model's JSON arguments: a sync function's output (text or
        content parts) at once, an async function's as an awaitable. Raises only if
        ``error_formatter`` is ``None``."""
        try:
            kwargs = self.parse_arguments(arguments)
        except ToolArgumentsError as exc:
            return f"Invalid arguments for tool {self.name!r}: {exc}. Please call it again."
        try:
            result = self.function(ctx, **kwargs) if self.takes_context else self.function(**kwargs)
        except Exception as exc:
            return self._failed(ctx, exc)
        if type(result) is str:  # text, what most tools return: the model reads it as it is
            return result
        if type(result) is CoroutineType or inspect.isawaitable(result):  # (an async def's first)
            return self._finish(ctx, result)
        return self._output(ctx, result)

    async def invoke(self, ctx: RunContext[Any], arguments: str) -> ToolOutput:
        """Run the tool once on the model's JSON arguments; what the model reads."""
        try:
            output = self.start(ctx, arguments)
            return output if isinstance(output, str | list) else await output
        except Exception as exc:  # a retry_on error: one attempt here
            return self.told(ctx, exc)

    async def _finish(self, ctx: RunContext[Any], pending: Awaitable[Any]) -> ToolOutput:
        try:
            result = await pending
        except Exception as exc:
            return self._failed(ctx, exc)
        if type(result) is str:  # text, as ``start`` takes a sync function's
            return result
        return self._output(ctx, result)

    def _output(self, ctx: RunContext[Any], result: Any) -> ToolOutput:
        """What the model reads of what the tool returned; bad content is the tool's error."""
        try:
            return tool_output(self.name, result)
        except ToolOutputError as exc:
            return self._failed(ctx, exc)

    def _failed(self, ctx: RunContext[Any], error: Exception) -> str:
        effects = self.side_effects
        if effects.leaves_doubt(error) or effects.may_retry(error, 0):
            raise error  # the tool step keeps the call in doubt, or tries it again
        return self.told(ctx, error)

    def told(self, ctx: RunContext[Any], error: Exception) -> str:
        """What the model reads of ``error``; raised if not formatted, or if in doubt."""
        if self.error_formatter is None or self.side_effects.leaves_doubt(error):
            raise error
        return self.error_formatter(ctx, error)


def check_is_enabled(is_enabled: Any, what: str) -> None:
    """Refuse an ``is_enabled`` that is neither a bool nor a function."""
    if not (isinstance(is_enabled, bool) or callable(is_enabled)):
        raise AgentDefinitionError(
            f"{what}: is_enabled is a bool or a function (ctx, agent) -> bool, not {is_enabled!r}."
        )


async def ask_enabled(is_enabled: IsEnabled, ctx: RunContext[Any], agent: Any) -> bool:
    """``is_enabled``'s answer for ``agent`` now."""
    if isinstance(is_enabled, bool):
        return is_enabled
    answer = is_enabled(ctx, agent)
    return bool(await answer if inspect.isawaitable(answer) else answer)


@overload
def function_tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    is_enabled: IsEnabled = True,
    needs_approval: NeedsApproval = False,
    strict: bool = True,
    idempotent: bool = False,
    error_formatter: ToolErrorFormatter | None = default_tool_error_formatter,
    timeout: float | timedelta | None = None,
    on_timeout: OnTimeout | None = None,
    tool_input_guardrails: Sequence[ToolInputGuardrail] = (),
    tool_output_guardrails: Sequence[ToolOutputGuardrail] = (),
    approvers: PolicyLike = None,
    required_approvals: int | None = None,
    approval_timeout: Duration | None = None,
    editable: Editable = False,
    review_output: bool = False,
    doubt_on: type[BaseException] | tuple[type[BaseException], ...] = (),
    idempotent_for: Duration | None = None,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = (),
    retries: int | None = None,
    retry_delay: Duration | None = None,
    reconcile: Reconcile | None = None,
    undo: Callable[..., Any] | None = None,
) -> FunctionTool: ...


@overload
def function_tool(
    fn: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    is_enabled: IsEnabled = True,
    needs_approval: NeedsApproval = False,
    strict: bool = True,
    idempotent: bool = False,
    error_formatter: ToolErrorFormatter | None = default_tool_error_formatter,
    timeout: float | timedelta | None = None,
    on_timeout: OnTimeout | None = None,
    tool_input_guardrails: Sequence[ToolInputGuardrail] = (),
    tool_output_guardrails: Sequence[ToolOutputGuardrail] = (),
    approvers: PolicyLike = None,
    required_approvals: int | None = None,
    approval_timeout: Duration | None = None,
    editable: Editable = False,
    review_output: bool = False,
    doubt_on: type[BaseException] | tuple[type[BaseException], ...] = (),
    idempotent_for: Duration | None = None,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = (),
    retries: int | None = None,
    retry_delay: Duration | None = None,
    reconcile: Reconcile | None = None,
    undo: Callable[..., Any] | None = None,
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def function_tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    is_enabled: IsEnabled = True,
    needs_approval: NeedsApproval = False,
    strict: bool = True,
    idempotent: bool = False,
    error_formatter: ToolErrorFormatter | None = default_tool_error_formatter,
    timeout: float | timedelta | None = None,
    on_timeout: OnTimeout | None = None,
    tool_input_guardrails: Sequence[ToolInputGuardrail] = (),
    tool_output_guardrails: Sequence[ToolOutputGuardrail] = (),
    approvers: PolicyLike = None,
    required_approvals: int | None = None,
    approval_timeout: Duration | None = None,
    editable: Editable = False,
    review_output: bool = False,
    doubt_on: type[BaseException] | tuple[type[BaseException], ...] = (),
    idempotent_for: Duration | None = None,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = (),
    retries: int | None = None,
    retry_delay: Duration | None = None,
    reconcile: Reconcile | None = None,
    undo: Callable[..., Any] | None = None,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a tool of a function: ``@function_tool``, ``@function_tool(...)``, ``function_tool(f)``.

    ``name`` and ``description`` override the function's name and docstring.
    ``is_enabled`` says whether the model is offered the tool: a bool, or a function
    ``(ctx, agent) -> bool`` (sync or async) asked before each model call.
    ``needs_approval`` is ``True``, ``False`` or a function ``(ctx, args, call_id)``
    returning a bool (sync or async) that decides per call.

    ``timeout`` (seconds, or a ``timedelta``) cancels a call that runs longer;
    it overrides the run's ``tool_timeout``. Only an async function can be
    cancelled, so a timeout on a sync function is refused: make it async (for
    blocking code, ``await asyncio.to_thread(...)``, knowing that the thread
    itself runs on after a timeout). ``on_timeout`` overrides the run's
    ``on_tool_timeout`` (see ``OnTimeout``).

        @function_tool(timeout=30, on_timeout="raise")
        async def transfer(account: str, amount: int) -> str: ...

    ``tool_input_guardrails`` check each call's arguments before it runs or is put
    to anyone for approval; ``tool_output_guardrails`` check its output before the
    model reads it (see ``tether.guardrails``).
    ``approvers`` says who may decide a call: role names, a function
    ``(approver, item, ctx) -> bool``, or an ``ApprovalPolicy``;
    ``required_approvals=2`` needs two distinct approvers (four-eyes).
    ``approval_timeout`` (seconds or a ``timedelta``) rejects a call nobody decided in time.

        @function_tool(needs_approval=True, approvers={"finance"}, required_approvals=2,
                       approval_timeout=timedelta(hours=4))
        async def pay(invoice: str) -> str: ...

    ``editable=True`` lets an approver approve a call with other arguments
    (``state.approve(item, arguments={...})``), checked against the tool's parameters;
    a function ``(approver, item, ctx) -> bool`` allows it per approver and call (see
    ``Editable``). The tool runs with the edit and the model's next request shows the call
    with the arguments that ran; the journal keeps both.

        @function_tool(needs_approval=True, editable=lambda who, item, ctx: "ops" in who.roles)
        async def restart(service: str, region: str) -> str: ...

    ``review_output=True`` pauses the run after each call (which runs once, and is recorded)
    until a person releases its output, replaces it or withholds it; only then does the
    model read it. The approval policy (``approvers``) says who may review.

        @function_tool(review_output=True, approvers={"privacy"})
        async def lookup_customer(email: str) -> str: ...

    A tool's errors tell the model that nothing happened, except those of a ``doubt_on``
    type and ``tether.errors.CallInDoubt``: they leave the call in doubt. One of a ``retry_on``
    type (a refused connection) is first retried with the same key ``retries`` times (3),
    ``retry_delay`` apart (1 s); one of both types leaves the call in doubt. A call in doubt
    runs again with the same ``ctx.idempotency_key`` while the outside world keeps the key
    (``idempotent_for``, from the call's first start), else ``reconcile(ctx, arguments)``
    says what became of it (``None``: unknown), else a person settles it.

        @function_tool(needs_approval=True, doubt_on=TimeoutError,
                       idempotent_for=timedelta(hours=24), reconcile=find_charge)
        async def charge(ctx: RunContext[Any], amount: int) -> str: ...

    ``undo`` is the tool's compensation, ``(ctx, arguments, output)`` (sync or async), which
    ``tether.store.undo`` runs once when a person asks to undo a completed call.
    """

    # Long for its signature and docstring only: the work is _function_tool's.
    def build(f: Callable[..., Any]) -> FunctionTool:
        retry = (retry_on, retries, retry_delay)
        return _function_tool(
            f,
            name=name,
            description=description,
            is_enabled=is_enabled,
            needs_approval=needs_approval,
            strict=strict,
            idempotent=idempotent,
            error_formatter=error_formatter,
            timeout=timeout,
            on_timeout=on_timeout,
            tool_input_guardrails=tool_input_guardrails,
            tool_output_guardrails=tool_output_guardrails,
            approvers=approvers,
            required_approvals=required_approvals,
            approval_timeout=approval_timeout,
            editable=editable,
            review_output=review_output,
            effects=side_effects(
                str(name or getattr(f, "__name__", "?")), doubt_on, idempotent_for, reconcile, retry
            ),
            undo=undo,
        )

    return build if fn is None else build(fn)


def _function_tool(
    f: Callable[..., Any],
    *,
    name: str | None,
    description: str | None,
    is_enabled: IsEnabled,
    needs_approval: NeedsApproval,
    strict: bool,
    idempotent: bool,
    error_formatter: ToolErrorFormatter | None,
    timeout: float | timedelta | None,
    on_timeout: OnTimeout | None,
    tool_input_guardrails: Sequence[ToolInputGuardrail],
    tool_output_guardrails: Sequence[ToolOutputGuardrail],
    approvers: PolicyLike,
    required_approvals: int | None,
    approval_timeout: Duration | None,
    editable: Editable,
    review_output: bool,
    effects: SideEffects,
    undo: Callable[..., Any] | None = None,
) -> FunctionTool:
    """The tool ``function_tool`` makes of ``f``, its options checked."""
    if not callable(f) or (undo is not None and not callable(undo)):
        raise AgentDefinitionError(f"function_tool needs functions (and undo=), got {f!r}.")
    tool_name = name or f.__name__
    _check_decision_options(tool_name, needs_approval, review_output, editable)
    check_is_enabled(is_enabled, f"Tool {tool_name!r}")
    seconds = _checked_timeout(tool_name, f, timeout, on_timeout)
    try:
        policy = approval_policy(approvers, required_approvals=required_approvals)
    except AgentDefinitionError as exc:
        raise AgentDefinitionError(f"Tool {tool_name!r}: {exc}") from None
    try:
        approval_timeout = to_timedelta(approval_timeout, "approval_timeout")
    except ValueError as exc:
        raise AgentDefinitionError(f"Tool {tool_name!r}: {exc}") from None
    doc = docstring(f)
    takes_context, args_model = args_model_of(f, doc)
    schema = args_model.model_json_schema()
    return FunctionTool(
        name=tool_name,
        description=description or described_by(doc),
        params_json_schema=strict_json_schema(schema) if strict else schema,
        function=f,
        args_model=args_model,
        is_enabled=is_enabled,
        takes_context=takes_context,
        needs_approval=needs_approval,
        strict=strict,
        idempotent=idempotent,
        error_formatter=error_formatter,
        timeout=seconds,
        on_timeout=on_timeout,
        tool_input_guardrails=tuple(tool_input_guardrails),
        tool_output_guardrails=tuple(tool_output_guardrails),
        approvers=policy,
        approval_timeout=approval_timeout,
        editable=editable,
        review_output=review_output,
        side_effects=effects,
        undo=undo,
    )


def _check_decision_options(
    tool_name: str, needs_approval: Any, review_output: Any, editable: Any
) -> None:
    """Refuse options of the decisions on a tool's calls that are not what they must be."""
    if not (isinstance(needs_approval, bool) or callable(needs_approval)):
        raise AgentDefinitionError(
            f"needs_approval must be a bool or a function (ctx, args, call_id) -> bool, "
            f"got {needs_approval!r}."
        )
    if not isinstance(review_output, bool):
        raise AgentDefinitionError(
            f"Tool {tool_name!r}: review_output must be True or False, got {review_output!r}."
        )
    if not (isinstance(editable, bool) or callable(editable)):
        raise AgentDefinitionError(
            f"Tool {tool_name!r}: editable must be a bool or a function "
            f"(approver, item, ctx) -> bool, got {editable!r}."
        )


def _checked_timeout(
    tool_name: str, f: Callable[..., Any], timeout: Any, on_timeout: Any
) -> float | None:
    """A tool's ``timeout`` in seconds, checked with ``on_timeout`` (only an async function
    can be interrupted)."""
    try:
        seconds = to_seconds(timeout, "timeout")
        if on_timeout is not None:
            check_on_timeout(on_timeout, "on_timeout")
    except ValueError as exc:
        raise AgentDefinitionError(f"Tool {tool_name!r}: {exc}") from None
    if seconds is not None and not _is_async(f):
        raise AgentDefinitionError(
            f"Tool {tool_name!r} has a timeout but is a sync function, which "
            "cannot be interrupted. Make it async (for blocking code, await "
            "asyncio.to_thread(...)) to give it a timeout."
        )
    return seconds


def schema_tool(
    name: str,
    description: str,
    params_json_schema: dict[str, Any],
    function: Callable[[RunContext[Any], dict[str, Any]], Any],
    *,
    needs_approval: NeedsApproval = False,
    strict: bool = False,
    idempotent: bool = False,
    error_formatter: ToolErrorFormatter | None = default_tool_error_formatter,
    editable: Editable = False,
    review_output: bool = False,
) -> FunctionTool:
    """A tool from a JSON schema and a function ``(ctx, args)`` of the arguments as a dict.

    For tools whose schema comes from elsewhere (an MCP server, a shell): the
    arguments must be a JSON object and are passed on whole; checking the model's
    arguments against the schema is left to ``function`` (an MCP server checks its own).

    ``editable`` and ``review_output`` are ``function_tool``'s. An edit is checked
    against ``params_json_schema`` before it is recorded (``InvalidEditError``): fully
    with the ``jsonschema`` package installed (the ``mcp`` extra brings it), else a
    minimal check of the top level (an object, ``required``, ``additionalProperties:
    false``, each property's ``type`` and ``enum``); see docs/decision-shapes.md.
    """
    if not callable(function):
        raise AgentDefinitionError(f"schema_tool {name!r} needs a function, got {function!r}.")
    _check_decision_options(name, needs_approval, review_output, editable)

    # ``ctx`` is positional-only so that an argument named "ctx" still reaches ``function``.
    def call(ctx: RunContext[Any], /, **args: Any) -> Any:
        return function(ctx, args)

    call.__wrapped__ = function  # type: ignore[attr-defined]  # who looks finds the real function
    return FunctionTool(
        name=name,
        description=description,
        params_json_schema=params_json_schema,
        function=call,
        args_model=create_model(f"{name}_args", __config__=ConfigDict(extra="allow")),
        takes_context=True,
        needs_approval=needs_approval,
        strict=strict,
        idempotent=idempotent,
        error_formatter=error_formatter,
        editable=editable,
        review_output=review_output,
        edits_checked_by_schema=True,
    )


def _is_async(f: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(f) or inspect.iscoroutinefunction(
        getattr(f, "__call__", None)  # noqa: B004 - an object with an async __call__
    )
