"""``ShellTool``: the model runs commands, a person approves each exact command line.

    shell = ShellTool(allowed_commands=["ls", "cat", "git"], cwd="/srv/repo", timeout=30)
    agent = Agent(name="Ops", tools=[shell])

The model calls the tool with one argument, ``command``: a command line. The
approval item's arguments show that exact string, and exactly that string is
what runs: it is split with ``shlex.split`` and started with
``asyncio.create_subprocess_exec`` (no shell), unless the tool was made with
``shell=True``, in which case ``/bin/sh -c`` runs it as written.

Each command runs in a process group of its own. When it outlives ``timeout``
(or the run is cancelled) the whole group is killed with ``SIGKILL``, children
included. The model reads the exit code and the combined standard output and
error, cut to ``max_output_chars`` characters (``DEFAULT_MAX_OUTPUT_CHARS``,
20,000, by default) with a note saying how much was left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._context import RunContext
from .errors import AgentDefinitionError
from .tools import Editable, FunctionTool, NeedsApproval, schema_tool

__all__ = ["DEFAULT_MAX_OUTPUT_CHARS", "ShellTool"]

DEFAULT_MAX_OUTPUT_CHARS = 20_000
"""How much of a command's output the model reads by default (the head; a note gives the rest's
size)."""

_DESCRIPTION = (
    "Run a command line and read its exit code and output (stdout and stderr together). "
    "The command is run without a shell: no pipes, redirections or variables."
)
_SHELL_DESCRIPTION = "Run a command line with /bin/sh and read its exit code and output."


@dataclass(frozen=True, slots=True)
class _Shell:
    """What a ``ShellTool`` runs commands with."""

    allowed_commands: frozenset[str] | None
    cwd: str | None
    env: dict[str, str] | None
    timeout: float | None
    shell: bool
    max_output_chars: int

    async def __call__(self, ctx: RunContext[Any], args: dict[str, Any]) -> str:
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            return "The shell tool needs one argument, command: a non-empty command line."
        if self.shell:
            argv = ["/bin/sh", "-c", command]
        else:
            try:
                argv = shlex.split(command)
            except ValueError as exc:
                return f"The command line cannot be read ({exc}); nothing was run."
            if not argv:
                return "The command line is empty; nothing was run."
            if self.allowed_commands is not None and argv[0] not in self.allowed_commands:
                allowed = ", ".join(sorted(self.allowed_commands)) or "none"
                return (
                    f"The command {argv[0]!r} is not allowed; nothing was run. Allowed: {allowed}."
                )
        return await self._run(argv)

    async def _run(self, argv: list[str]) -> str:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,  # its own process group, so a timeout kills its children
            )
        except FileNotFoundError:
            return f"The command {argv[0]!r} was not found; nothing was run."
        except PermissionError:
            return f"The command {argv[0]!r} cannot be executed (permission denied)."
        output = _Output(self.max_output_chars)
        assert process.stdout is not None
        timed_out = False
        try:
            # The output is read to its end too: a child can hold the pipe open after its
            # parent. (``asyncio.timeout``: ``wait_for`` can lose a cancellation on 3.11.)
            async with asyncio.timeout(self.timeout):
                await asyncio.gather(process.wait(), output.read(process.stdout))
        except TimeoutError:
            timed_out = True
        finally:
            # On a timeout, or if the run is cancelled, nothing the command started may live on.
            _kill_group(process.pid)
            await process.wait()
        text = output.text()
        if timed_out:
            return (
                f"The command timed out after {self.timeout:g} seconds and was killed "
                f"(with every process it started).\n{text}"
            )
        return f"exit code: {process.returncode}\n{text}"


class _Output:
    """The head of a stream, up to a limit, and how much more there was."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.total = 0

    async def read(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.total += len(chunk)
            room = 4 * self.limit - len(self.kept)  # enough bytes for ``limit`` characters
            if room > 0:
                self.kept += chunk[:room]

    def text(self) -> str:
        decoded = self.kept.decode("utf-8", errors="replace")
        if len(decoded) <= self.limit and self.total == len(self.kept):
            return decoded
        return (
            decoded[: self.limit] + f"\n[output truncated: the first {self.limit} characters of "
            f"{self.total} bytes are shown]"
        )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class ShellTool(FunctionTool):
    """A tool that runs the model's command lines; every call needs approval by default.

    Args:
        needs_approval: ``True`` (default), ``False`` or a function
            ``(ctx, args, call_id)``; ``args["command"]`` is the command line.
        allowed_commands: Program names (the first word of the command line, as
            written) that may run; any other is refused without running. ``None``
            allows every program. Not available with ``shell=True``, where the
            first word says nothing about what runs.
        cwd: The working directory of every command (default: the process's).
        env: The whole environment of every command (default: the process's).
        timeout: Seconds after which a command and its children are killed;
            ``None`` waits for ever.
        shell: Run command lines with ``/bin/sh -c`` (pipes, redirections).
        max_output_chars: How much of the output the model reads.
        name: The name the model calls the tool by.
        description: What the model is told the tool does.
        editable: Whether an approver may approve a call with another command line
            (``state.approve(item, arguments={"command": "..."})``): ``True``, ``False``
            (default) or a function ``(approver, item, ctx) -> bool``. The edited line is
            checked against the tool's schema, and ``allowed_commands`` still applies when
            it runs.
        review_output: Whether each command's output waits for a person's review before the
            model reads it (``state.release`` / ``replace_output`` / ``withhold``).
    """

    __slots__ = ()

    def __init__(
        self,
        *,
        needs_approval: NeedsApproval = True,
        allowed_commands: Iterable[str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = 60.0,
        shell: bool = False,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
        name: str = "shell",
        description: str | None = None,
        editable: Editable = False,
        review_output: bool = False,
    ) -> None:
        if isinstance(allowed_commands, str):
            raise AgentDefinitionError(
                "ShellTool allowed_commands is a list of program names, not one string."
            )
        if shell and allowed_commands is not None:
            raise AgentDefinitionError(
                "ShellTool cannot enforce allowed_commands with shell=True (a shell line can "
                "run anything); use shell=False, or rely on needs_approval."
            )
        if timeout is not None and timeout <= 0:
            raise AgentDefinitionError(f"ShellTool timeout must be positive, got {timeout}.")
        if max_output_chars < 1:
            raise AgentDefinitionError(
                f"ShellTool max_output_chars must be at least 1, got {max_output_chars}."
            )
        runner = _Shell(
            allowed_commands=None if allowed_commands is None else frozenset(allowed_commands),
            cwd=None if cwd is None else os.fspath(cwd),
            env=None if env is None else dict(env),
            timeout=timeout,
            shell=shell,
            max_output_chars=max_output_chars,
        )
        if description is None:
            description = _SHELL_DESCRIPTION if shell else _DESCRIPTION
            if runner.allowed_commands is not None:
                description += " Allowed programs: " + ", ".join(sorted(runner.allowed_commands))
        built = schema_tool(
            name,
            description,
            {
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The command line to run."}
                },
                "required": ["command"],
                "additionalProperties": False,
            },
            runner,
            needs_approval=needs_approval,
            strict=True,
            editable=editable,
            review_output=review_output,
        )
        # Every field of a ``FunctionTool``, so the run loop treats this tool like any other.
        FunctionTool.__init__(
            self,
            **{field: getattr(built, field) for field in FunctionTool.__dataclass_fields__},
        )

    @staticmethod
    def command_line(arguments: str | dict[str, Any]) -> str | None:
        """The command line a call (an approval item's ``arguments``) would run, if readable."""
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                return None
        command = arguments.get("command") if isinstance(arguments, dict) else None
        return command if isinstance(command, str) else None
