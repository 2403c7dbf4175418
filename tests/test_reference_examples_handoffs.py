"""The reference SDK's example programs, continued: handoff input filters, plain and
streamed. How they run: ``reference_examples``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from openai_server import FakeOpenAIServer
from reference_env import reference_python as reference_python  # a fixture
from reference_examples import Servers, both
from reference_examples import examples_root as examples_root  # a fixture
from reference_examples import servers as servers  # a fixture
from test_porting_reference import Run
from test_porting_reference import server as server  # a fixture, one server per module
from tether.agents.extensions.handoff_prompt import RECOMMENDED_PROMPT_PREFIX

FILTERS = ["handoffs/message_filter.py", "handoffs/message_filter_streaming.py"]
FINAL = "\n===Final messages===\n\n"


def _message_ids(out: str) -> str:  # the server makes a new id for every item
    return re.sub(r'"(msg|fc)_[0-9a-f]+"', r'"\1_<id>"', out)


def _filter_script(fake: FakeOpenAIServer) -> None:
    fake.responses.add("Hi Sora.")
    # A max of 0 makes the example's random number 0 on both sides.
    fake.responses.add(tool_calls=[("random_number_tool", '{"max":0}', "c_rand")])
    fake.responses.add("Your number is 0.")
    fake.responses.add("About 8.5 million people.")
    fake.responses.add(tool_calls=[("transfer_to_spanish_assistant", "{}", "c_hand")])
    fake.responses.add("Te llamas Sora y vives en Nueva York.")


def _final_messages(run: Run) -> list[dict[str, Any]]:
    text = run.out.split(FINAL)[1]
    return [json.loads(part) for part in re.split(r"(?m)^(?=\{$)", text) if part.strip()]


@pytest.mark.parametrize("example", FILTERS)
def test_handoff_message_filter_on_the_default_model(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path, example: str
) -> None:
    # The default model is a GPT-5 one (``is_gpt_5_default()``): the example's filter
    # keeps everything, and says so.
    run = both(
        reference_python,
        examples_root,
        example,
        servers,
        _filter_script,
        tmp_path,
        normalize=_message_ids,
    )
    assert run.out.splitlines()[3].startswith("gpt-5 is enabled")  # the filter keeps all
    assert run.tool_runs == {'random_number_tool {"max":0}': 1}
    messages = _final_messages(run)
    assert len(messages) == 12 and messages[-1]["content"][0]["text"].startswith("Te llamas")


def _filtered_view(reference: Run, tether: Run) -> tuple[Run, Run]:
    """The reference's result holds what the filter chose (its run record is rewritten);
    tether's keeps the whole run, the filter changing only what the next agent's model is
    sent (docs/run-config.md). The filter's choice applied to tether's record is exactly
    what the reference prints; both are then compared without the final messages."""
    kept = [m for m in _final_messages(tether) if m.get("type") in (None, "message")]
    assert _final_messages(reference) == kept[2:]
    assert len(_final_messages(tether)) == 12
    before = dataclasses.replace(reference, out=reference.out.split(FINAL)[0])
    return before, dataclasses.replace(tether, out=tether.out.split(FINAL)[0])


@pytest.mark.parametrize("example", FILTERS)
def test_handoff_message_filter_removes_tools_and_the_first_two_items(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path, example: str
) -> None:
    # On a model that is not GPT-5 the filter runs: ``handoff_filters.remove_all_tools``,
    # then the first two items of the history go. The Spanish agent's request (compared
    # whole) is the filtered view on both SDKs.
    run = both(
        reference_python,
        examples_root,
        example,
        servers,
        _filter_script,
        tmp_path,
        env={"OPENAI_DEFAULT_MODEL": "gpt-4.1"},
        normalize=_message_ids,
        differ=_filtered_view,
    )
    spanish = run.requests[-1]
    assert [item[0] for item in spanish["input"]] == ["message"] * 5
    assert spanish["input"][0] == (
        "message",
        "user",
        "Can you generate a random number between 0 and 100?",
    )


def _own_prefix(reference: Run, tether: Run) -> tuple[Run, Run]:
    """Each SDK's ``RECOMMENDED_PROMPT_PREFIX`` is its own wording (tether does not copy
    the reference's prose): every agent's instructions are that prefix followed by the
    example's own text, the same on both sides, which is all that is compared."""
    assert len(reference.requests) == len(tether.requests)
    for ours, theirs in zip(tether.requests, reference.requests, strict=True):
        assert ours["instructions"].startswith(RECOMMENDED_PROMPT_PREFIX)
        rest = ours["instructions"].removeprefix(RECOMMENDED_PROMPT_PREFIX)
        assert theirs["instructions"].endswith(rest) and rest.strip()
        ours["instructions"] = theirs["instructions"] = "<prefix>" + rest
    return reference, tether


def test_customer_service(
    reference_python: Path, examples_root: Path, servers: Servers, tmp_path: Path
) -> None:
    # Auto mode asks one question: the triage agent hands off to the FAQ agent, which
    # looks it up; every new item is printed by its class.
    question = '{"question":"What are your store hours?"}'

    def script(fake: FakeOpenAIServer) -> None:
        fake.responses.add(tool_calls=[("transfer_to_faq_agent", "{}", "c_hand")])
        fake.responses.add(tool_calls=[("faq_lookup_tool", question, "c_faq")])
        fake.responses.add("Sorry, I do not know our store hours.")

    run = both(
        reference_python,
        examples_root,
        "customer_service/main.py",
        servers,
        script,
        tmp_path,
        env={"EXAMPLES_INTERACTIVE_MODE": "auto"},
        differ=_own_prefix,
    )
    lines = run.out.splitlines()
    assert lines[1:4] == [
        "Triage Agent: Skipping item: HandoffCallItem",  # the example prints no call of one
        "Handed off from Triage Agent to FAQ Agent",
        "FAQ Agent: Calling a tool",
    ]
    assert lines[4].startswith("FAQ Agent: Tool call output: I'm sorry")
    assert lines[5:] == ["FAQ Agent: Sorry, I do not know our store hours."]
    assert run.tool_runs == {f"faq_lookup_tool {question}": 1}
    assert [r["instructions"][8:30] for r in run.requests] == [
        " You are a helpful tri",
        *["\n    You are an FAQ ag"] * 2,
    ]
