"""The user's code named as ``module:attribute``: one loader for every command (``tether
state``, ``replay``, ``crashtest``, ``serve``, ``inbox`` and the DBOS worker), one error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tether import Agent
from tether._import_target import import_target
from tether.cli import main
from tether.errors import TargetError, UserError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder of the user's code, not yet importable."""
    (tmp_path / "shopcode_t1.py").write_text(
        "from tether import Agent\n"
        "agent = Agent(name='Shop')\n"
        "def build():\n    return Agent(name='Built')\n"
        "def build_for(name):\n    return Agent(name=name)\n"
        "class Nested:\n    agent = Agent(name='Inner')\n"
        "number = 7\n"
    )
    return tmp_path


def load(spec: str, folder: Path, factory: bool = True) -> Agent[None]:
    return import_target(spec, Agent, "an Agent", factory=factory, folder=str(folder))


def test_an_agent_a_factory_and_a_dotted_attribute_are_found(folder: Path) -> None:
    assert load("shopcode_t1:agent", folder).name == "Shop"
    assert load("shopcode_t1:build", folder).name == "Built"
    assert load("shopcode_t1:Nested.agent", folder).name == "Inner"


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("shopcode_t1", "Name the agent as module:attribute (like myapp:agent), not 'shopcode_t1'"),
        ("no_such_module_t1:agent", "Cannot import 'no_such_module_t1'"),
        ("shopcode_t1:nothing", "'shopcode_t1' has no attribute 'nothing'"),
        ("shopcode_t1:build_for", "takes arguments; name an Agent, or a function that builds"),
        ("shopcode_t1:number", "shopcode_t1:number is not an Agent (it is int)"),
    ],
)
def test_every_bad_name_is_one_typed_error_saying_what_is_wrong(
    folder: Path, spec: str, says: str
) -> None:
    with pytest.raises(TargetError, match=re.escape(says)) as caught:
        load(spec, folder)
    assert isinstance(caught.value, UserError)


def test_without_factory_a_function_is_not_called(folder: Path) -> None:
    with pytest.raises(TargetError, match=re.escape("is not an Agent (it is function)")):
        load("shopcode_t1:build", folder, factory=False)


def test_each_command_says_which_option_named_it(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(folder)
    (folder / "runs.db").touch()  # the agent is named wrongly before the store is opened
    assert main(["replay", str(folder / "runs.db"), "r1", "--agent", "shopcode_t1:nope"]) == 1
    assert "--agent: 'shopcode_t1' has no attribute 'nope'" in capsys.readouterr().err
    assert main(["crashtest", "shopcode_t1"]) == 1
    assert "Name the agent as module:attribute" in capsys.readouterr().err
