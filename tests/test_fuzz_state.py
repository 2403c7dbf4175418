"""Property-based fuzzing of saved run states.

Saved states of four shapes (a pending call, a rejected one, an approved one, and a
longer run mixing all three), signed and unsigned, are mutated at random: fields
deleted, retyped or replaced, lists shuffled and duplicated, values nested thousands
deep, huge strings, lone surrogates, truncated text and raw bytes. Every mutant is
loaded (with and without the key) and resumed with a scripted model, and:

- loading and resuming raise nothing but TetherError subclasses;
- the gated tool runs only for (tool, arguments) pairs a person approved in the
  original state: no mutation turns a rejection, a pending call or other arguments
  into a run. (An unsigned state guards against such edits made by accident or
  naively; a deliberate forger who recomputes fingerprints and seals is stopped
  only by a signature.)
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fuzz_app import FUZZ, RAN, approved_pairs, only_tether_errors, payments_agent
from tether import Agent, Runner, RunState
from tether.testing import tool_call

KEY = b"fuzz-key"


def _pay(to: str, amount: int, call_id: str) -> dict[str, Any]:
    return tool_call("pay", {"to": to, "amount": amount}, call_id)


async def _bases() -> dict[str, RunState]:
    pending = (await Runner.run(payments_agent(_pay("alice", 5, "c_a")), "pay")).to_state()

    rejected = (await Runner.run(payments_agent(_pay("bob", 7, "c_b")), "pay")).to_state()
    rejected.reject(rejected.interruptions[0], message="Not Bob.", by="ops")

    approved = (await Runner.run(payments_agent(_pay("carol", 9, "c_c")), "pay")).to_state()
    approved.approve(approved.interruptions[0], by="ops")

    mixed_agent = payments_agent(
        [tool_call("lookup", {"name": "dave"}, "c_l"), _pay("dave", 1, "c_d")],
        [_pay("erin", 2, "c_e"), _pay("frank", 3, "c_f")],
    )
    first = (await Runner.run(mixed_agent, "pay")).to_state()
    first.approve("c_d")
    mixed = (await Runner.run(mixed_agent, first)).to_state()
    mixed.approve("c_e", by="ops")
    mixed.reject("c_f", message="Not Frank.")
    return {"pending": pending, "rejected": rejected, "approved": approved, "mixed": mixed}


@functools.cache
def bases() -> dict[str, tuple[str, str, set[tuple[str, str]]]]:
    """Each base state's unsigned text, signed text, and the pairs a person approved."""
    states = asyncio.run(_bases())
    return {
        name: (state.to_string(), state.to_string(signing_key=KEY), approved_pairs(state))
        for name, state in states.items()
    }


# -- mutations ---------------------------------------------------------------------------

SURROGATES = st.sampled_from(
    ["\ud800", "\udfff", "a\udc00b", "\ud83d", "é", "😀", "\x00", "\u2028"]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=4),  # surrogates too
    SURROGATES,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


DEEP = re.compile(r'"\\u0001deep:(\d+)\\u0001"')


def nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def _containers(data: Any) -> list[Any]:
    found, stack = [], [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict | list):
            found.append(value)
            stack.extend(value.values() if isinstance(value, dict) else value)
    return found


@st.composite
def mutated(draw: st.DrawFn, data: Any) -> Any:
    """``data`` (a decoded state) with one structural mutation."""
    container = draw(st.sampled_from(_containers(data)))
    keys = list(container) if isinstance(container, dict) else list(range(len(container)))
    op = draw(
        st.sampled_from(
            ["delete", "replace", "retype", "duplicate", "swap", "deep", "huge", "text", "flip"]
        )
    )
    if not keys:
        if isinstance(container, list):
            container.append(draw(VALUES))
        else:
            container[draw(st.text(max_size=6))] = draw(VALUES)
        return data
    key = draw(st.sampled_from(keys))
    old = container[key]
    if op == "delete":
        del container[key]
    elif op == "replace":
        container[key] = draw(VALUES)
    elif op == "retype":
        container[key] = draw(st.sampled_from([str(old)[:40], [old], {"v": old}, None, 0, True]))
    elif op == "duplicate" and isinstance(container, list):
        container.insert(draw(st.integers(0, len(container))), old)  # shared: JSON copies it
    elif op == "swap" and isinstance(container, list):
        other = draw(st.sampled_from(keys))
        container[key], container[other] = container[other], old
    elif op == "deep":
        depth = draw(st.sampled_from([150, 199, 200, 201, 202, 250, 3000]))
        # Deeper than the json module could write here: spliced into the text afterwards.
        container[key] = nested(depth, old) if depth <= 202 else f"\x01deep:{depth}\x01"
    elif op == "huge":
        container[key] = draw(st.sampled_from(["x", "\ud800", "é"])) * 200_000
    elif op == "text" and isinstance(old, str):
        cut = draw(st.integers(0, len(old)))
        container[key] = old[:cut] + draw(SURROGATES | st.text(max_size=3)) + old[cut:]
    elif op == "flip" and isinstance(old, bool):
        container[key] = not old
    elif op == "flip" and isinstance(old, int):
        container[key] = old + draw(st.integers(-3, 3))
    else:
        container[key] = draw(VALUES)
    return data


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, str | bytes, bytes | None]:
    """(base name, mutated state text or bytes, key to load it with)."""
    name = draw(st.sampled_from(sorted(bases())))
    unsigned, signed, _ = bases()[name]
    was_signed = draw(st.booleans())
    data = json.loads(signed if was_signed else unsigned)
    for _ in range(draw(st.integers(1, 3))):
        data = draw(mutated(data))
    text: str | bytes = DEEP.sub(
        lambda match: "[" * int(match[1]) + "0" + "]" * int(match[1]),
        json.dumps(data, ensure_ascii=draw(st.booleans())),
    )
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "bytes", "garbage"]))
    if damage == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif damage == "bytes":
        raw = bytearray(text.encode("utf-8", "surrogatepass"))
        for _ in range(draw(st.integers(1, 3))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        text = bytes(raw)
    elif damage == "garbage":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=5) | SURROGATES) + text[at:]
    key = KEY if was_signed and draw(st.booleans()) else None
    return name, text, key


# -- the property --------------------------------------------------------------------------


async def _resume(agent: Agent[Any], state: RunState, streamed: bool) -> None:
    if streamed:
        result = Runner.run_streamed(agent, state)
        async for _ in result.stream_events():
            pass
    else:
        await Runner.run(agent, state)


def _load(agent: Agent[Any], text: str | bytes, key: bytes | None, as_data: bool) -> RunState:
    if as_data:  # from_json, with what json.loads makes of the text (if it can)
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            pass
        else:
            return RunState.from_json(agent, data, signing_key=key)
    return RunState.from_string(agent, text, signing_key=key)


@FUZZ
@given(mutants(), st.booleans(), st.booleans())
def test_a_mutated_state_loads_or_is_refused_and_runs_nothing_undecided(
    mutant: tuple[str, str | bytes, bytes | None], as_data: bool, streamed: bool
) -> None:
    name, text, key = mutant
    RAN.clear()
    agent = payments_agent()
    try:
        state = _load(agent, text, key, as_data)
        asyncio.run(asyncio.wait_for(_resume(agent, state, streamed), timeout=120))
    except TimeoutError:
        raise AssertionError("resuming a mutated state hung") from None
    except Exception as error:
        only_tether_errors(error)
    approved = bases()[name][2]
    assert set(RAN) <= approved, f"ran {RAN}, but a person approved only {approved}"


def test_the_unmutated_states_run_exactly_what_was_approved() -> None:
    # The property above is not vacuous: each base state, as saved, runs its approved calls.
    ran: dict[str, list[tuple[str, str]]] = {}
    for name, (unsigned, signed, _) in bases().items():
        for text, key in ((unsigned, None), (signed, KEY)):
            RAN.clear()
            agent = payments_agent()
            asyncio.run(Runner.run(agent, RunState.from_string(agent, text, signing_key=key)))
            ran[f"{name}{'-signed' if key else ''}"] = list(RAN)
    carol = [("pay", '{"amount": 9, "to": "carol"}')]
    erin = [("pay", '{"amount": 2, "to": "erin"}')]
    assert ran == {
        "pending": [],
        "pending-signed": [],
        "rejected": [],
        "rejected-signed": [],
        "approved": carol,
        "approved-signed": carol,
        "mixed": erin,
        "mixed-signed": erin,
    }
