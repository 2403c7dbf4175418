"""Saved run states: format, bad input, signatures, context, and resume in another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from tether import Agent, NotPendingError, Runner, RunState
from tether.errors import (
    DecisionMismatchError,
    SchemaVersionError,
    StateFormatError,
    StateSignatureError,
    UnknownAgentError,
    UnknownToolError,
)
from tether.journal._document import load_document
from tether.journal._event_json import events_data, events_json
from tether.journal._events import events_adapter
from tether.testing import ScriptedModel, message, tool_call
from weather_app import RUNS, save, weather_agent

OAKLAND = tool_call("get_temperature", {"city": "Oakland"}, call_id="call_oak")
TESTS = Path(__file__).resolve().parent


async def interrupted() -> tuple[Agent[Any], ScriptedModel, RunState]:
    model = ScriptedModel([OAKLAND, message("done")])
    agent = weather_agent(model)
    result = await Runner.run(agent, "Oakland?")
    return agent, model, result.to_state()


def edit(text: str, change: Any) -> str:
    data = json.loads(text)
    change(data)
    return json.dumps(data)


def test_the_checked_in_schema_is_current() -> None:
    sys.path.insert(0, str(TESTS.parent / "scripts"))
    try:
        from generate_schema import TARGET, render
    finally:
        sys.path.pop(0)
    assert TARGET.read_text(encoding="utf-8") == render(), (
        "docs/run-state.schema.json is stale: run `uv run python scripts/generate_schema.py`"
    )


async def test_a_saved_state_is_versioned_json() -> None:
    _, _, state = await interrupted()
    data = json.loads(save(state))
    assert (data["format"], data["version"], data["root_agent"]) == (
        "tether.run_state",
        2,
        "Weather Assistant",
    )
    assert [event["kind"] for event in data["journal"]] == [
        "run_started",
        "model_responded",
        "approval_requested",
    ]


def _delete_agent_of_response(data: dict[str, Any]) -> None:
    del data["journal"][1]["agent"]


def _set_version(data: dict[str, Any]) -> None:
    data["version"] = 99


def _rename_root(data: dict[str, Any]) -> None:
    data["root_agent"] = "Ghost"
    data["journal"][0]["agent"] = "Ghost"


def _edit_arguments(data: dict[str, Any]) -> None:
    data["journal"][1]["output"][0]["arguments"] = '{"city": "Pyongyang"}'


def _unknown_kind(data: dict[str, Any]) -> None:
    data["journal"][2]["kind"] = "tool_teleported"


@pytest.mark.parametrize(
    ("mangle", "error", "words"),
    [
        (lambda text: text[:-20], StateFormatError, "not valid JSON"),
        (lambda text: "[1, 2]", StateFormatError, "must be a JSON object"),
        (lambda text: edit(text, lambda d: d.update(format="other")), StateFormatError, "format"),
        (lambda text: edit(text, _set_version), SchemaVersionError, "Upgrade tether"),
        (lambda text: edit(text, _delete_agent_of_response), StateFormatError, "journal[1].agent"),
        (lambda text: edit(text, _unknown_kind), StateFormatError, "journal[2]"),
        (lambda text: edit(text, _rename_root), UnknownAgentError, "Ghost"),
        (lambda text: edit(text, _edit_arguments), DecisionMismatchError, "call_oak"),
    ],
    ids=[
        "truncated",
        "not-an-object",
        "other-format",
        "future-version",
        "missing-field",
        "unknown-event",
        "unknown-agent",
        "edited-arguments",
    ],
)
async def test_bad_state_gets_a_typed_error_and_nothing_runs(
    mangle: Any, error: type[Exception], words: str
) -> None:
    agent, model, state = await interrupted()
    # Unsigned, as an older tether or the TypeScript SDK wrote it: the fold's own checks.
    text = mangle(save(state, signing_key=False))

    with pytest.raises(error, match=None) as caught:
        RunState.from_string(agent, text)

    assert words in str(caught.value)
    assert RUNS["get_temperature"] == 0
    assert len(model.requests) == 1


async def test_a_state_naming_a_tool_the_agent_lacks_is_refused() -> None:
    agent, _, state = await interrupted()
    without_tool = agent.clone(tools=[])

    with pytest.raises(UnknownToolError, match="get_temperature"):
        RunState.from_string(without_tool, save(state))
    assert RUNS["get_temperature"] == 0


async def test_an_edited_decision_is_refused() -> None:
    agent, _, state = await interrupted()
    state.approve(state.interruptions[0])

    def change_arguments_after_approval(data: dict[str, Any]) -> None:
        data["journal"][1]["output"][0]["arguments"] = '{"city": "Pyongyang"}'
        data["journal"][2]["fingerprint"] = "sha256:forged"

    with pytest.raises(DecisionMismatchError):
        unsigned = save(state, signing_key=False)
        RunState.from_string(agent, edit(unsigned, change_arguments_after_approval))
    assert RUNS["get_temperature"] == 0


async def test_signed_states_refuse_tampering_and_unsigned_text() -> None:
    agent, _, state = await interrupted()
    signed = save(state, signing_key="secret")

    loaded = RunState.from_string(agent, signed, signing_key="secret")
    assert [i.call_id for i in loaded.interruptions] == ["call_oak"]

    tampered = edit(signed, _edit_arguments)
    with pytest.raises(StateSignatureError, match="altered"):
        RunState.from_string(agent, tampered, signing_key="secret")
    with pytest.raises(StateSignatureError, match="altered"):
        RunState.from_string(agent, signed, signing_key="another key")
    with pytest.raises(StateSignatureError, match="not signed"):
        RunState.from_string(agent, save(state, signing_key=False), signing_key="secret")


async def test_a_state_is_signed_by_default_and_checked_when_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent, _, state = await interrupted()
    signed = save(state)
    assert json.loads(signed)["signature"]["alg"] == "HMAC-SHA256/text"
    loaded = RunState.from_string(agent, signed, require_signature=True)
    assert [i.call_id for i in loaded.interruptions] == ["call_oak"]
    # The text's JSON data verifies too (its compact encoding is the signed text).
    from_data = RunState.from_json(agent, json.loads(signed), require_signature=True)
    assert [i.call_id for i in from_data.interruptions] == ["call_oak"]
    # A state signed over its canonical JSON (HMAC-SHA256, as tether signed text before)
    # still loads, as text or as data, its keys in any order.
    from tether.journal._document import sign

    canonical = sign(state.to_json(), os.environ["TETHER_STORE_KEY"].encode())
    reordered = dict(reversed(list(canonical.items())))
    assert RunState.from_json(agent, reordered, require_signature=True).interruptions
    old_text = json.dumps(reordered)
    assert RunState.from_string(agent, old_text, require_signature=True).interruptions
    # Edited after it was saved: refused, with no key given.
    with pytest.raises(StateSignatureError, match="altered"):
        RunState.from_string(agent, edit(signed, _edit_arguments))
    with pytest.raises(StateSignatureError, match="altered"):
        RunState.from_json(agent, json.loads(edit(signed, _edit_arguments)))
    suite_key = os.environ["TETHER_STORE_KEY"]
    # Another machine's key does not verify it.
    monkeypatch.setenv("TETHER_STORE_KEY", "another-machines-key")
    with pytest.raises(StateSignatureError, match="another key"):
        RunState.from_string(agent, signed)
    # A rotation: the new key signs, the old one still verifies until it is dropped.
    monkeypatch.setenv("TETHER_STORE_KEY", f"new-key {suite_key}")
    resigned = save(RunState.from_string(agent, signed))
    monkeypatch.setenv("TETHER_STORE_KEY", "new-key")
    assert RunState.from_string(agent, resigned).interruptions
    with pytest.raises(StateSignatureError, match="another key"):
        RunState.from_string(agent, signed)


async def test_text_signed_as_written_is_checked_over_its_bytes() -> None:
    agent, _, state = await interrupted()
    signed = state.to_string()
    assert signed.endswith('"}}') and signed.rindex('"signature":') > signed.rindex('"context":')
    assert RunState.from_string(agent, signed.encode(), require_signature=True).interruptions
    assert RunState.from_string(agent, signed + "\n", require_signature=True).interruptions
    # Re-encoded but unchanged (pretty-printed): checked as data, it still verifies.
    pretty = json.dumps(json.loads(signed), indent=2)
    assert RunState.from_string(agent, pretty, require_signature=True).interruptions
    head, tail = signed[: signed.rindex(',"signature":')], signed[signed.rindex(',"signature":') :]
    one_char = signed.replace("Oakland", "Oaklanc", 1)
    assert one_char != signed
    forged = [
        one_char,  # a byte of the signed part
        head + ',"extra":1' + tail,  # a key added before the signature
        signed[:-1] + ',"extra":1}',  # a key added after it
        signed.replace('"value":"', '"value":"0', 1)[:-3] + '"}}',  # another MAC
        head.replace('"version":2', '"version": 2', 1) + tail,  # re-spaced signed bytes
    ]
    for text in forged:
        with pytest.raises((StateSignatureError, StateFormatError)):
            RunState.from_string(agent, text)
    with pytest.raises(StateSignatureError, match="altered"):
        RunState.from_string(agent, one_char)


async def test_an_unsigned_state_loads_unless_a_signature_is_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent, _, state = await interrupted()
    unsigned = save(state, signing_key=False)
    assert "signature" not in json.loads(unsigned)
    # Loading it needs no key: none is looked for, and no key file is made.
    monkeypatch.delenv("TETHER_STORE_KEY")
    monkeypatch.setenv("TETHER_KEY_FILE", str(tmp_path / "store.key"))
    loaded = RunState.from_string(agent, unsigned)
    assert [i.call_id for i in loaded.interruptions] == ["call_oak"]
    assert not (tmp_path / "store.key").exists()
    monkeypatch.undo()
    with pytest.raises(StateSignatureError, match="require_signature"):
        RunState.from_string(agent, unsigned, require_signature=True)
    with pytest.raises(StateSignatureError, match="require_signature"):
        RunState.from_json(agent, json.loads(unsigned), require_signature=True)
    # signing_key=False checks nothing, even an edited signature.
    forged = edit(save(state), lambda data: data["signature"].update(value="0" * 64))
    assert RunState.from_string(agent, forged, signing_key=False).interruptions


async def test_deciding_twice_or_on_something_not_pending_is_refused() -> None:
    agent, _, state = await interrupted()
    [item] = state.interruptions
    state.approve(item)

    with pytest.raises(NotPendingError, match="already decided"):
        state.reject(item)
    with pytest.raises(NotPendingError, match="not waiting"):
        state.approve("call_that_does_not_exist")

    result = await Runner.run(agent, state)
    finished = result.to_state()
    with pytest.raises(NotPendingError):
        finished.approve(item)


async def test_an_approval_item_with_other_arguments_is_refused() -> None:
    _, _, state = await interrupted()
    [item] = state.interruptions
    from dataclasses import replace

    forged = replace(item, arguments='{"city": "Elsewhere"}', fingerprint="sha256:x")
    with pytest.raises(DecisionMismatchError):
        state.approve(forged)


class Account(BaseModel):
    user: str
    limit: int


@dataclass
class Session:
    user: str


@pytest.mark.parametrize(
    ("context", "options"),
    [
        ({"user": "user-42", "tags": ["a"]}, {}),
        (Account(user="user-42", limit=3), {"context_type": Account}),
        (Session(user="user-42"), {"context_type": Session}),
    ],
    ids=["dict", "pydantic", "dataclass"],
)
async def test_context_round_trips(context: Any, options: dict[str, Any]) -> None:
    model = ScriptedModel([OAKLAND])
    agent = weather_agent(model)
    result = await Runner.run(agent, "Oakland?", context=context)

    loaded = RunState.from_string(agent, save(result.to_state()), **options)

    assert loaded.context == context


async def test_context_with_a_custom_serializer() -> None:
    class Opaque:
        def __init__(self, value: str) -> None:
            self.value = value

    model = ScriptedModel([OAKLAND])
    agent = weather_agent(model)
    result = await Runner.run(agent, "Oakland?", context=Opaque("x"))
    text = result.to_state().to_string(context_serializer=lambda c: {"v": c.value})

    loaded = RunState.from_string(agent, text, context_deserializer=lambda d: Opaque(d["v"]))

    assert loaded.context.value == "x"


def test_resume_in_a_fresh_process(tmp_path: Path) -> None:
    state_file = tmp_path / "result.json"
    script = TESTS / "resume_in_process.py"
    first = subprocess.run(
        [sys.executable, str(script), "interrupt", str(state_file)],
        capture_output=True,
        text=True,
        check=True,
        cwd=TESTS,
    )
    assert json.loads(first.stdout) == {"interruptions": ["call_oak"], "tool_runs": 0}

    second = subprocess.run(
        [sys.executable, str(script), "resume", str(state_file)],
        capture_output=True,
        text=True,
        check=True,
        cwd=TESTS,
    )
    report = json.loads(second.stdout)
    assert report["final_output"] == "It is 20°C in Oakland."
    assert report["tool_runs"] == 1
    assert report["model_calls"] == 1
    assert report["model_input"] == [
        {"role": "user", "content": "What's the temperature in Oakland?"},
        {
            "type": "function_call",
            "call_id": "call_oak",
            "name": "get_temperature",
            "arguments": '{"city": "Oakland"}',
        },
        {
            "type": "function_call_output",
            "call_id": "call_oak",
            "output": "The temperature in Oakland is 20°C",
        },
    ]


async def test_a_context_that_is_not_json_is_a_clear_error() -> None:
    import datetime

    from tether import UserError

    model = ScriptedModel([OAKLAND])
    agent = weather_agent(model)
    result = await Runner.run(agent, "Oakland?", context={"when": datetime.date(2026, 1, 1)})

    with pytest.raises(UserError, match="context_serializer"):
        result.to_state().to_string()
    with pytest.raises(UserError, match="context_serializer"):
        result.to_state().to_string(signing_key="k")


@pytest.mark.parametrize("name", sorted(p.name for p in (TESTS / "golden").glob("*.json")))
def test_a_journal_is_saved_as_the_journal_type_writes_it(name: str) -> None:
    # Saving writes each event with its own class's serializer (faster than the union of
    # every event class): the text and data must be what the union writes, kind by kind.
    data = json.loads((TESTS / "golden" / name).read_text(encoding="utf-8"))
    _, journal, _ = load_document(data)
    assert events_json(journal) == events_adapter().dump_json(journal)
    assert events_data(journal) == events_adapter().dump_python(journal, mode="json")


async def test_lone_surrogates_save_as_escapes_and_load_back() -> None:
    model = ScriptedModel([tool_call("get_temperature", {"city": "Oak\ud800"}, "call_s")])
    agent = weather_agent(model)
    result = await Runner.run(agent, "Oakland\udfff?", context={"who": "\ud83d"})
    for key in (None, False):
        text = result.to_state().to_string(signing_key=key)
        text.encode("utf-8")  # writable as it is: every surrogate is an escape
        assert "\\ud800" in text and "\\udfff" in text and "\\ud83d" in text
        loaded = RunState.from_string(agent, text)
        assert loaded.context == {"who": "\ud83d"}
        assert loaded.journal == result.to_state().journal
        assert json.loads(loaded.interruptions[0].arguments) == {"city": "Oak\ud800"}


async def test_a_states_view_says_what_it_waits_on_as_its_decisions_land() -> None:
    agent, _model, state = await interrupted()
    loaded = RunState.from_string(agent, state.to_string())
    waiting = loaded.view.waiting()
    assert [(w.kind, w.call.call_id) for w in waiting] == [("approval", "call_oak")]
    assert loaded.view.status == loaded.status == "waiting"
    loaded.approve(loaded.interruptions[0])
    assert loaded.view.waiting() == []
    assert loaded.view.status == "running"
