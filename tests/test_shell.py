"""ShellTool: approval of exact command lines, fresh-process resume, timeouts, limits."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tether import Agent, Runner, RunState
from tether.errors import AgentDefinitionError, EditNotAllowedError, InvalidEditError
from tether.shell import ShellTool
from tether.testing import ScriptedModel, message, tool_call

TESTS = Path(__file__).resolve().parent


def in_fresh_process(stage: str, workdir: Path, command: str = "") -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(TESTS / "shell_process.py"), stage, str(workdir), command],
        capture_output=True,
        text=True,
        check=True,
        cwd=TESTS,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_rejected_command_never_runs(tmp_path: Path) -> None:
    command = "touch created-by-the-model"
    first = in_fresh_process("interrupt", tmp_path, command)
    assert first == {"interruptions": [["shell", json.dumps({"command": command})]]}

    second = in_fresh_process("reject", tmp_path)
    assert second == {
        "final_output": "Done.",
        "model_calls": 1,
        "tool_output": "Not on this machine.",
    }
    assert not (tmp_path / "created-by-the-model").exists()


def test_an_approved_command_runs_once_across_a_fresh_process(tmp_path: Path) -> None:
    command = "sh -c 'echo ran >> runs.log'"
    first = in_fresh_process("interrupt", tmp_path, command)
    assert first["interruptions"] == [["shell", json.dumps({"command": command})]]
    assert not (tmp_path / "runs.log").exists()

    second = in_fresh_process("approve", tmp_path)
    assert second == {"final_output": "Done.", "model_calls": 1, "tool_output": "exit code: 0\n"}
    # Resuming the finished state again runs nothing more.
    third = in_fresh_process("approve", tmp_path)
    assert third["model_calls"] == 0
    assert (tmp_path / "runs.log").read_text() == "ran\n"


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs; a SIGKILL is delivered asynchronously, so allow it a moment."""
    for _ in range(100):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return False
        if stat.rsplit(")", 1)[1].split()[0] == "Z":  # a zombie has ended; only its entry is left
            return False
        time.sleep(0.05)
    return True


async def test_a_hung_command_is_killed_at_its_timeout_with_its_children(tmp_path: Path) -> None:
    script = "sleep 600 & echo $! > child.pid; echo started; sleep 600"
    model = ScriptedModel(
        [tool_call("shell", {"command": f"sh -c {shlex.quote(script)}"}), message("ok")]
    )
    shell = ShellTool(needs_approval=False, cwd=tmp_path, timeout=2)

    result = await Runner.run(Agent(name="Ops", model=model, tools=[shell]), "go")
    assert result.final_output == "ok"
    output = model.requests[1].input[-1]["output"]
    assert output.startswith("The command timed out after 2 seconds and was killed")
    assert "started" in output
    child = int((tmp_path / "child.pid").read_text())
    assert not _alive(child)


async def run_once(command: str, **options: object) -> str:

    model = ScriptedModel([tool_call("shell", {"command": command}), message("ok")])
    shell = ShellTool(needs_approval=False, **options)  # type: ignore[arg-type]
    await Runner.run(Agent(name="Ops", model=model, tools=[shell]), "go")
    return str(model.requests[1].input[-1]["output"])


async def test_the_exit_code_and_output_are_reported(tmp_path: Path) -> None:
    output = await run_once("sh -c 'echo out; echo err >&2; exit 3'")
    assert output == "exit code: 3\nout\nerr\n"


async def test_cwd_and_env_are_used(tmp_path: Path) -> None:
    output = await run_once(
        "sh -c 'pwd; echo $GREETING'",
        cwd=tmp_path,
        env={"GREETING": "hello", "PATH": "/usr/bin:/bin"},
    )
    assert output == f"exit code: 0\n{os.path.realpath(tmp_path)}\nhello\n"


async def test_a_command_outside_allowed_commands_is_refused_without_running(
    tmp_path: Path,
) -> None:
    output = await run_once("touch made", cwd=tmp_path, allowed_commands=["ls", "cat"])
    assert output == "The command 'touch' is not allowed; nothing was run. Allowed: cat, ls."
    assert not (tmp_path / "made").exists()
    assert await run_once("ls", cwd=tmp_path, allowed_commands=["ls"]) == "exit code: 0\n"


async def test_no_shell_unless_asked(tmp_path: Path) -> None:
    assert await run_once("echo a && echo b") == "exit code: 0\na && echo b\n"
    assert await run_once("echo a && echo b", shell=True) == "exit code: 0\na\nb\n"


async def test_long_output_is_truncated_at_the_limit() -> None:
    output = await run_once("seq 1 100000", max_output_chars=50)
    lines = output.split("\n")
    assert output.startswith("exit code: 0\n1\n2\n3\n")
    assert lines[-1] == "[output truncated: the first 50 characters of 588895 bytes are shown]"


async def test_unreadable_and_missing_commands_are_outputs_the_model_reads() -> None:
    assert await run_once("echo 'unclosed") == (
        "The command line cannot be read (No closing quotation); nothing was run."
    )
    assert await run_once("no-such-program-here") == (
        "The command 'no-such-program-here' was not found; nothing was run."
    )


def test_the_approval_shows_the_exact_command_line(tmp_path: Path) -> None:
    in_fresh_process("interrupt", tmp_path, "git log -1 --format='%H %s'")

    agent = Agent(name="Ops", tools=[ShellTool()])
    state = RunState.from_string(agent, (tmp_path / "state.json").read_text())
    [item] = state.interruptions
    assert ShellTool.command_line(item.arguments) == "git log -1 --format='%H %s'"


def test_bad_settings_are_definition_errors() -> None:
    with pytest.raises(AgentDefinitionError, match="allowed_commands with shell=True"):
        ShellTool(shell=True, allowed_commands=["ls"])
    with pytest.raises(AgentDefinitionError, match="not one string"):
        ShellTool(allowed_commands="ls")
    with pytest.raises(AgentDefinitionError, match="timeout must be positive"):
        ShellTool(timeout=0)


async def test_an_editable_shell_runs_the_command_line_the_approver_wrote(tmp_path: Path) -> None:
    shell = ShellTool(allowed_commands=["echo"], cwd=tmp_path, editable=True)
    model = ScriptedModel(
        [tool_call("shell", {"command": "echo hello wrold"}, "call_1"), message("Done.")]
    )
    agent = Agent(name="Ops", model=model, tools=[shell])
    first = await Runner.run(agent, "Say hello.")
    state = RunState.from_string(agent, first.to_state().to_string())
    with pytest.raises(InvalidEditError) as extra:
        state.approve("call_1", arguments={"command": "echo hi", "sudo": True})
    assert extra.value.field == "sudo"
    with pytest.raises(InvalidEditError) as wrong:
        state.approve("call_1", arguments={"command": ["echo", "hi"]})
    assert wrong.value.field == "command"
    state.approve("call_1", arguments={"command": "echo hello world"}, by="ana")
    result = await Runner.run(agent, state)
    assert result.final_output == "Done."
    assert model.requests[1].input[-1]["output"] == "exit code: 0\nhello world\n"
    assert json.loads(model.requests[1].input[-2]["arguments"]) == {"command": "echo hello world"}


async def test_an_edit_cannot_get_past_allowed_commands(tmp_path: Path) -> None:
    shell = ShellTool(allowed_commands=["echo"], cwd=tmp_path, editable=True)
    model = ScriptedModel([tool_call("shell", {"command": "echo hi"}, "call_1"), message("ok")])
    agent = Agent(name="Ops", model=model, tools=[shell])
    state = (await Runner.run(agent, "go")).to_state()
    state.approve("call_1", arguments={"command": "touch edited-in"})
    await Runner.run(agent, state)
    assert model.requests[1].input[-1]["output"].startswith("The command 'touch' is not allowed")
    assert not (tmp_path / "edited-in").exists()


def test_a_shell_that_is_not_editable_refuses_an_edit(tmp_path: Path) -> None:
    shell = ShellTool()
    model = ScriptedModel([tool_call("shell", {"command": "ls"}, "call_1")])
    agent = Agent(name="Ops", model=model, tools=[shell])
    state = Runner.run_sync(agent, "go").to_state()
    with pytest.raises(EditNotAllowedError, match="ShellTool\\(editable=True\\)"):
        state.approve("call_1", arguments={"command": "ls -l"})


async def test_a_commands_output_waits_for_review(tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text("s3cret\n")
    shell = ShellTool(needs_approval=False, cwd=tmp_path, review_output=True)
    model = ScriptedModel(
        [tool_call("shell", {"command": "cat token.txt"}, "call_1"), message("Hidden.")]
    )
    agent = Agent(name="Ops", model=model, tools=[shell])
    first = await Runner.run(agent, "Show the token.")
    [item] = first.interruptions
    assert item.kind == "output_review" and "s3cret" in getattr(item, "output", "")
    state = first.to_state()
    state.withhold(item, message="Secrets are not shown.")
    result = await Runner.run(agent, state)
    assert result.final_output == "Hidden."
    assert model.requests[1].input[-1]["output"] == "Secrets are not shown."
    assert "s3cret" not in json.dumps(model.requests[1].input)


def test_without_jsonschema_a_shell_edit_is_checked_all_the_same(tmp_path: Path) -> None:
    # A user's install without the mcp extra has no jsonschema: the minimal check covers
    # ShellTool's schema.
    script = """
import sys
sys.modules["jsonschema"] = None  # as if not installed
from tether import Agent, Runner
from tether.errors import InvalidEditError
from tether.shell import ShellTool
from tether.testing import ScriptedModel, tool_call
agent = Agent(name="Ops", model=ScriptedModel([tool_call("shell", {"command": "ls"}, "c1")]),
              tools=[ShellTool(editable=True)])
state = Runner.run_sync(agent, "go").to_state()
for edit in ({"command": "ls", "sudo": True}, {"command": 3}, {}):
    try:
        state.approve("c1", arguments=edit)
    except InvalidEditError as exc:
        print(exc.field)
state.approve("c1", arguments={"command": "ls -l"})
print([item.call_id for item in state.interruptions])
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["sudo", "command", "command", "[]"]
