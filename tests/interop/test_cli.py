"""``tether state convert`` as a user runs it: files in, files out, errors on stderr."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tether import Runner, RunState
from tether.cli.state import add_state_commands

from .node import interrupt_in_js, resume_in_js
from .weather_policy import QUESTION, Graph

AGENT = "tests.interop.weather_policy:weather_agent"


def convert(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="tether")
    add_state_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["state", "convert", *argv])
    code: int = args.func(args)
    return code


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # where the user's code would be


def test_a_typescript_state_becomes_a_tether_state_and_goes_back(tmp_path: Path) -> None:
    ts, ours, back = tmp_path / "ts.json", tmp_path / "tether.json", tmp_path / "back.json"
    ts.write_text(interrupt_in_js("one"))

    assert (
        convert("--from", "openai-js", "--to", "tether", "--agent", AGENT, str(ts), str(ours)) == 0
    )
    state = RunState.from_string(Graph("one").root, ours.read_text())
    assert [i.call_id for i in state.interruptions] == ["call_oak"]

    assert (
        convert("--from", "tether", "--to", "openai-js", "--agent", AGENT, str(ours), str(back))
        == 0
    )
    js = resume_in_js("one", back.read_text(), tmp_path, {"call_oak": {"approve": True}})
    assert js["finalOutput"] == "Done: call_oak=The temperature in Oakland is 20C"


def test_an_openai_agents_state_becomes_a_tether_state(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[1] / "fixtures" / "openai_agents_python"
    out = tmp_path / "tether.json"
    args = ["--from", "openai-agents", "--to", "tether", "--agent", AGENT]
    assert convert(*args, str(source / "interrupted.json"), str(out)) == 0
    assert json.loads(out.read_text())["format"] == "tether.run_state"


async def test_errors_are_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = Graph("one")
    result = await Runner.run(graph.root, QUESTION)
    path = tmp_path / "tether.json"
    path.write_text(result.to_state().to_string())

    args = ["--from", "openai-js", "--to", "tether", str(path), str(tmp_path / "x.json")]
    assert convert(*args[:4], "--agent", AGENT, *args[4:]) == 1
    assert "no $schemaVersion" in capsys.readouterr().err
    assert (
        convert("--from", "tether", "--to", "openai-js", "--agent", "nope:x", str(path), "-") == 1
    )
    assert "cannot import 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_the_state_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        convert("--help")
    out = capsys.readouterr().out
    assert "--from {openai-agents,openai-js,tether}" in out and "--to {openai-js,tether}" in out
