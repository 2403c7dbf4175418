"""Every way the command line can fail ends in one line on stderr and a non-zero exit."""

from __future__ import annotations

import io
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

import tether
from tether import Runner, cli
from tether.items import Item
from tether.models import ModelRequest
from tether.testing import ScriptedModel, message, tool_call

from .weather_policy import QUESTION, Graph

ROOT = Path(__file__).resolve().parents[2]
AGENT = "tests.interop.weather_policy:weather_agent"


def tether_cli(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``tether ARGV`` as a user runs it, from the repository (where ``--agent`` imports)."""
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def assert_one_line_error(stderr: str, *fragments: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("tether: "), stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
async def saved_state(tmp_path: Path) -> Path:
    result = await Runner.run(Graph("one").root, QUESTION)
    path = tmp_path / "paused.json"
    path.write_text(result.to_state().to_string())
    return path


def test_version_names_the_package_version() -> None:
    done = tether_cli("--version")

    assert done.returncode == 0
    assert done.stdout == f"tether {tether.__version__}\n"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert tether.__version__ == project["version"] == version("tether")


def test_writing_into_a_missing_directory(saved_state: Path, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "dir" / "out.json"
    args = ["--from", "tether", "--to", "openai-js", "--agent", AGENT]
    done = tether_cli("state", "convert", *args, str(saved_state), str(out))

    assert done.returncode == 1
    assert_one_line_error(done.stderr, f"cannot write {out}", "Create its directory")
    assert not out.parent.exists()


def test_a_binary_input_file(tmp_path: Path) -> None:
    binary = tmp_path / "state.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    args = ["--from", "openai-js", "--to", "tether", "--agent", AGENT]
    done = tether_cli("state", "convert", *args, str(binary), "-")

    assert done.returncode == 1
    assert_one_line_error(done.stderr, f"{binary} is not UTF-8 text")


def test_a_missing_input_file(tmp_path: Path) -> None:
    args = ["--from", "openai-js", "--to", "tether", "--agent", AGENT]
    done = tether_cli("state", "convert", *args, str(tmp_path / "nope.json"), "-")

    assert done.returncode == 1
    assert_one_line_error(done.stderr, "cannot read", "No such file")


def test_a_state_that_does_not_load_is_one_line_too(saved_state: Path) -> None:
    args = ["--from", "openai-js", "--to", "tether", "--agent", AGENT]
    done = tether_cli("state", "convert", *args, str(saved_state), "-")

    assert done.returncode == 1
    assert_one_line_error(done.stderr, "no $schemaVersion")


# -- tether demo, in this process, on a scripted model ------------------------------------


def _demo_model() -> ScriptedModel:
    def answer_from_tool(request: ModelRequest) -> Item:
        outputs = [i["output"] for i in request.input if i.get("type") == "function_call_output"]
        return message(str(outputs[-1]))

    return ScriptedModel([tool_call("get_temperature", {"city": "Oakland"}), answer_from_tool])


@pytest.fixture
def scripted_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tether import _demo

    monkeypatch.setattr(_demo, "choose_model", lambda name: _demo_model())
    monkeypatch.chdir(tmp_path)


def run_demo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(["demo", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.usefixtures("scripted_demo")
def test_demo_answers_from_the_prompt(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tether import _demo

    _demo.TOOL_RUNS.clear()
    code, _, err = run_demo(capsys, monkeypatch, stdin="y\n")

    assert (code, err) == (0, "")
    assert _demo.TOOL_RUNS == ["Oakland"]


@pytest.mark.usefixtures("scripted_demo")
def test_demo_at_end_of_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tether import _demo

    _demo.TOOL_RUNS.clear()
    code, _, err = run_demo(capsys, monkeypatch, stdin="")

    assert code == 2
    assert_one_line_error(err, "input ended at the approval prompt", "--yes or --no")
    assert _demo.TOOL_RUNS == []
    assert (tmp_path / "result.json").exists()  # the paused run is where the line says


@pytest.mark.usefixtures("scripted_demo")
def test_demo_interrupted_at_the_prompt(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def ctrl_c(prompt: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("builtins.input", ctrl_c)
    code, _, err = run_demo(capsys, monkeypatch, stdin="")

    assert code == 130
    assert_one_line_error(err, "interrupted")


@pytest.mark.usefixtures("scripted_demo")
def test_demo_with_a_state_file_in_a_missing_directory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = Path("missing") / "dir" / "result.json"
    code, _, err = run_demo(capsys, monkeypatch, "--yes", "--state-file", str(target), stdin="")

    assert code == 2
    assert_one_line_error(err, f"cannot save the paused run to {target}", "--state-file")


def test_examples_end_of_input_is_one_line(tmp_path: Path) -> None:
    for example in ("human_in_the_loop.py", "human_in_the_loop_stream.py"):
        args = ["--scripted"] if example == "human_in_the_loop.py" else []
        done = subprocess.run(
            [sys.executable, str(ROOT / "examples" / example), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert done.returncode == 1, example
        assert "Traceback" not in done.stderr
        assert done.stderr.splitlines() == [done.stderr.strip()]
        assert "Input ended before an answer (y/n) was given" in done.stderr
