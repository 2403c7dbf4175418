"""MCP servers as tools: approval per tool, fresh-process resume, errors, listing.

Against real servers (examples/mcp_notes_server.py, written with the mcp package) on
stdio and on loopback HTTP, started here; the server logs each call it receives.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tether import Agent, Runner, ToolOutputReviewItem
from tether.errors import (
    AgentDefinitionError,
    EditNotAllowedError,
    InvalidEditError,
    MCPServerError,
)
from tether.mcp import MCPServerStdio, MCPServerStreamableHttp
from tether.testing import ScriptedModel, message, tool_call

TESTS = Path(__file__).resolve().parent
SERVER = TESTS.parent / "examples" / "mcp_notes_server.py"


def text(said: str) -> list[dict[str, str]]:
    """An MCP tool's text result as the model reads it: one input_text part."""
    return [{"type": "input_text", "text": said}]


def calls_seen(folder: Path) -> list[dict[str, str]]:
    log = folder / "calls.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_http_server(folder: Path, transport: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVER), str(folder), transport, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"the MCP test server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError("the MCP test server did not start listening")
    path = "/mcp" if transport == "http" else "/sse"
    return process, f"http://127.0.0.1:{port}{path}"


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    process, url = start_http_server(tmp_path, "http")
    yield url
    process.terminate()
    process.wait()


def in_fresh_process(stage: str, transport: str, folder: Path, url: str, mode: str) -> Any:
    done = subprocess.run(
        [sys.executable, str(TESTS / "mcp_process.py"), stage, transport, str(folder), url, mode],
        capture_output=True,
        text=True,
        cwd=TESTS,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def check_approve_reject_always(transport: str, folder: Path, url: str, mode: str) -> None:
    first = in_fresh_process("interrupt", transport, folder, url, mode)
    assert first == [["notes", "write_note", "call_write"], ["notes", "delete_note", "call_delete"]]
    # The reading tool needs no approval and ran; nothing that writes reached the server.
    assert calls_seen(folder) == [{"tool": "read_note", "name": "plan"}]

    second = in_fresh_process("resume", transport, folder, url, mode)
    assert second == {
        "final_output": "Done.",
        "interruptions": 0,
        "model_calls": 2,
        "outputs": {
            "call_write": text("Wrote note 'plan'."),
            "call_delete": "Keep the old note.",
            "call_read": text("There is no note 'plan'."),
        },
    }
    # The approved call reached the server once, the later one under "always" once, and the
    # rejected one never; resuming the finished run again sends nothing.
    in_fresh_process("resume", transport, folder, url, mode)
    assert calls_seen(folder) == [
        {"tool": "read_note", "name": "plan"},
        {"tool": "write_note", "name": "plan", "text": "v1"},
        {"tool": "write_note", "name": "plan", "text": "v2"},
    ]
    assert (folder / "plan.txt").read_text() == "v2"


@pytest.mark.parametrize("mode", ["plain", "streamed"])
def test_stdio_server_approve_reject_always_across_processes(tmp_path: Path, mode: str) -> None:
    check_approve_reject_always("stdio", tmp_path, "", mode)


@pytest.mark.parametrize("mode", ["plain", "streamed"])
def test_streamable_http_server_approve_reject_always_across_processes(
    tmp_path: Path, http_server: str, mode: str
) -> None:
    check_approve_reject_always("http", tmp_path, http_server, mode)


def test_sse_server_approve_reject_always_across_processes(tmp_path: Path) -> None:
    process, url = start_http_server(tmp_path, "sse")
    try:
        check_approve_reject_always("sse", tmp_path, url, "plain")
    finally:
        process.terminate()
        process.wait()


def stdio(folder: Path, **options: Any) -> MCPServerStdio:
    return MCPServerStdio(
        "notes", command=sys.executable, args=[str(SERVER), str(folder)], **options
    )


async def test_server_errors_are_outputs_the_model_reads(tmp_path: Path) -> None:
    async with stdio(tmp_path) as server:
        model = ScriptedModel(
            [
                [
                    tool_call("delete_note", {"name": "missing"}, "call_tool_error"),
                    tool_call("read_note", {"title": "no such argument"}, "call_bad_args"),
                ],
                message("ok"),
            ]
        )
        agent = Agent(name="Notes", model=model, tools=await server.list_tools())
        result = await Runner.run(agent, "go")
    assert result.final_output == "ok"
    outputs = {i["call_id"]: i["output"] for i in model.requests[1].input if "output" in i}
    # A result marked as an error is sent as its content, as the reference sends it.
    assert outputs["call_tool_error"] == text(
        "Error executing tool delete_note: There is no note 'missing'."
    )
    [bad_args] = outputs["call_bad_args"]
    assert bad_args["type"] == "input_text" and "name" in bad_args["text"]


async def test_a_call_without_a_connection_is_a_typed_error(tmp_path: Path) -> None:
    server = stdio(tmp_path, require_approval="never")
    async with server:
        tools = await server.list_tools()
    model = ScriptedModel([tool_call("read_note", {"name": "a"}, "call_1"), message("ok")])
    with pytest.raises(MCPServerError, match="MCP server 'notes' is not connected") as caught:
        await Runner.run(Agent(name="Notes", model=model, tools=tools), "go")
    assert caught.value.run_state is not None  # the run stops with a state to resume
    assert calls_seen(tmp_path) == []


async def test_an_unreachable_server_is_a_typed_error() -> None:
    server = MCPServerStreamableHttp("remote", url=f"http://127.0.0.1:{_free_port()}/mcp")
    with pytest.raises(MCPServerError, match="Cannot connect to MCP server 'remote'"):
        async with server:
            pass


async def test_the_tool_list_is_cached_until_refreshed(tmp_path: Path) -> None:
    async with stdio(tmp_path, require_approval={"always": {"tool_names": ["delete_note"]}}) as s:
        first = await s.list_tools()
        assert [t.name for t in first] == ["read_note", "write_note", "delete_note"]
        assert [t.needs_approval for t in first] == [False, False, True]
        assert await s.list_tools() == first
        refreshed = await s.list_tools(refresh=True)
        assert [t.name for t in refreshed] == [t.name for t in first]
        assert refreshed[0] is not first[0]


async def test_a_function_decides_approval_per_call(tmp_path: Path) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def only_drafts_pass(ctx: Any, tool_name: str, args: dict[str, Any]) -> bool:
        seen.append((tool_name, args))
        return not str(args.get("name", "")).startswith("draft")

    async with stdio(tmp_path, require_approval=only_drafts_pass) as server:
        model = ScriptedModel(
            [
                [
                    tool_call("write_note", {"name": "draft1", "text": "x"}, "call_draft"),
                    tool_call("write_note", {"name": "final", "text": "y"}, "call_final"),
                ]
            ]
        )
        agent = Agent(name="Notes", model=model, tools=await server.list_tools())
        result = await Runner.run(agent, "go")
    assert [(i.server_name, i.call_id) for i in result.interruptions] == [("notes", "call_final")]
    assert seen == [
        ("write_note", {"name": "draft1", "text": "x"}),
        ("write_note", {"name": "final", "text": "y"}),
    ]
    assert calls_seen(tmp_path) == [{"tool": "write_note", "name": "draft1", "text": "x"}]


def test_a_bad_require_approval_is_a_definition_error() -> None:
    with pytest.raises(AgentDefinitionError, match="require_approval must be 'always', 'never'"):
        MCPServerStdio("notes", command="x", require_approval="sometimes")  # type: ignore[arg-type]
    with pytest.raises(AgentDefinitionError, match=r"require_approval\['write_note'\]"):
        MCPServerStdio("notes", command="x", require_approval={"write_note": "maybe"})


async def test_an_editable_server_tool_runs_with_the_edit_checked_against_its_schema(
    tmp_path: Path,
) -> None:
    async with stdio(tmp_path, require_approval="always", editable={"write_note"}) as server:
        model = ScriptedModel(
            [
                [
                    tool_call("write_note", {"name": "draft", "text": "hello"}, "call_write"),
                    tool_call("delete_note", {"name": "old"}, "call_delete"),
                ],
                message("Done."),
            ]
        )
        agent = Agent(name="Notes", model=model, tools=await server.list_tools())
        first = await Runner.run(agent, "go")
        state = first.to_state()
        with pytest.raises(EditNotAllowedError, match="does not allow edited arguments"):
            state.approve("call_delete", arguments={"name": "other"})
        with pytest.raises(InvalidEditError) as missing:
            state.approve("call_write", arguments={"name": "final"})
        assert missing.value.field == "text"
        assert "'text' is a required property" in str(missing.value)
        with pytest.raises(InvalidEditError) as wrong_type:
            state.approve("call_write", arguments={"name": "final", "text": 7})
        assert wrong_type.value.field == "text"
        assert sorted(i.call_id for i in state.interruptions) == ["call_delete", "call_write"]

        state.approve("call_write", arguments={"name": "final", "text": "hello"}, by="ana")
        state.reject("call_delete")
        result = await Runner.run(agent, state)
    assert result.final_output == "Done."
    # The server received the edited call, once; the model read its output after the call
    # as it ran.
    assert calls_seen(tmp_path) == [{"tool": "write_note", "name": "final", "text": "hello"}]
    assert (tmp_path / "final.txt").read_text() == "hello"
    sent = [i for i in model.requests[1].input if i.get("call_id") == "call_write"]
    assert json.loads(sent[0]["arguments"]) == {"name": "final", "text": "hello"}
    assert sent[1]["output"] == text("Wrote note 'final'.")


async def test_a_server_tools_output_waits_for_review(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("the vault code is 1234")
    async with stdio(tmp_path, review_output={"read_note"}) as server:
        model = ScriptedModel(
            [tool_call("read_note", {"name": "secret"}, "call_read"), message("Noted.")]
        )
        agent = Agent(name="Notes", model=model, tools=await server.list_tools())
        first = await Runner.run(agent, "Read the secret note.")
        [item] = first.interruptions
        assert (item.kind, item.server_name) == ("output_review", "notes")
        assert isinstance(item, ToolOutputReviewItem)
        assert item.output == text("the vault code is 1234")
        state = first.to_state()
        state.replace_output(item, "the vault code is ****")
        result = await Runner.run(agent, state)
    assert result.final_output == "Noted."
    assert calls_seen(tmp_path) == [{"tool": "read_note", "name": "secret"}]  # once
    assert model.requests[1].input[-1]["output"] == "the vault code is ****"
    assert "1234" not in json.dumps(model.requests[1].input)


def test_bad_editable_or_review_output_settings_are_definition_errors() -> None:
    with pytest.raises(AgentDefinitionError, match="editable is True, False or a collection"):
        MCPServerStdio("notes", command="x", editable="write_note")  # type: ignore[arg-type]
    with pytest.raises(AgentDefinitionError, match="review_output names tools by str"):
        MCPServerStdio("notes", command="x", review_output=[1])  # type: ignore[list-item]


async def test_a_server_that_dies_during_a_call_leaves_the_call_in_doubt(tmp_path: Path) -> None:
    # The call may have had its effect before the connection closed: not an answer.
    upstream = TESTS / "gateway" / "upstream_server.py"
    server = MCPServerStdio(
        "bank",
        command=sys.executable,
        args=[str(upstream), str(tmp_path)],
        require_approval="never",
    )
    async with server:
        model = ScriptedModel([tool_call("crash", {"reason": "test"}, "call_1"), message("ok")])
        agent = Agent(name="Bank", model=model, tools=await server.list_tools())
        with pytest.raises(MCPServerError, match="failed") as caught:
            await Runner.run(agent, "go")
    state = caught.value.run_state
    assert state is not None
    assert [call.call_id for call in state.in_doubt] == ["call_1"]
    assert len(model.requests) == 1  # the model never read a made-up answer
