"""``quick_init``: frozen dataclasses made without a slow call a field stay what they were."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import FrozenInstanceError, dataclass, field

import pytest

from tether import Agent, Runner, Usage, function_tool
from tether._quick_init import quick_init
from tether.journal import ModelResponded, ToolCompleted, ToolStarted
from tether.journal._events import events_adapter
from tether.models import ModelRequest, ModelResponse
from tether.testing import ScriptedModel, message, tool_call


@dataclass(frozen=True, slots=True)
class Plain:
    name: str
    tags: tuple[str, ...] = field(default_factory=tuple)
    count: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "count", self.count * 10)


@quick_init
@dataclass(frozen=True, slots=True)
class Quick:
    name: str
    tags: tuple[str, ...] = field(default_factory=tuple)
    count: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "count", self.count * 10)


def test_an_object_made_quickly_is_the_frozen_dataclass_it_was() -> None:
    quick, plain = Quick("a", ("x",), 2), Plain("a", ("x",), 2)
    assert type(quick) is Quick
    assert dataclasses.astuple(quick) == dataclasses.astuple(plain) == ("a", ("x",), 20)
    assert quick == Quick("a", ("x",), 2) and hash(quick) == hash(Quick("a", ("x",), 2))
    assert repr(quick) == "Quick(name='a', tags=('x',), count=20)"
    assert Quick("b") == Quick(name="b", tags=(), count=1)  # defaults, the factory's too
    assert str(inspect.signature(Quick)) == str(inspect.signature(Plain))
    with pytest.raises(FrozenInstanceError):
        quick.name = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Quick()  # type: ignore[call-arg]
    for other in (copy.copy(quick), copy.deepcopy(quick), pickle.loads(pickle.dumps(quick))):
        assert other == quick and type(other) is Quick
    assert dataclasses.replace(quick, name="c") == Quick("c", ("x",), 20)


def test_a_subclass_is_made_by_its_own_init() -> None:
    @dataclass(frozen=True, slots=True)
    class Sub(Quick):
        extra: int = 0

    made = Sub("a", extra=3)
    assert type(made) is Sub and (made.name, made.count, made.extra) == ("a", 10, 3)


def test_what_quick_init_cannot_serve_is_refused() -> None:
    @dataclass(slots=True)
    class Mutable:
        name: str

    @dataclass(frozen=True)
    class NoSlots:
        name: str

    @dataclass(frozen=True, slots=True, kw_only=True)
    class KeywordsOnly:
        name: str

    for cls in (Mutable, NoSlots, KeywordsOnly):
        with pytest.raises(TypeError, match="quick_init"):
            quick_init(cls)


async def test_a_runs_events_requests_and_usage_are_their_classes_frozen() -> None:
    requests: list[ModelRequest] = []

    class Recording(ScriptedModel):
        async def get_response(self, request: ModelRequest) -> ModelResponse:
            requests.append(request)
            return await super().get_response(request)

    @function_tool
    def lookup(city: str) -> str:
        """Look a city up."""
        return f"sunny in {city}"

    model = Recording([tool_call("lookup", {"city": "Oslo"}), message("Sunny.")])
    agent: Agent[None] = Agent(name="A", model=model, tools=[lookup])
    result = await Runner.run(agent, "Weather?")
    journal = result.to_state().journal
    made = [e for e in journal if isinstance(e, ModelResponded | ToolStarted | ToolCompleted)]
    kinds = [type(e) for e in made]
    assert kinds == [ModelResponded, ToolStarted, ToolCompleted, ModelResponded]
    assert [type(r) for r in requests] == [ModelRequest, ModelRequest]
    assert type(result.usage) is Usage and result.usage.requests == 2
    for each in (*made, *requests, result.usage):
        with pytest.raises(FrozenInstanceError):
            setattr(each, dataclasses.fields(each)[0].name, "edited")
    # What a store writes and reads back: the same events.
    assert events_adapter().validate_json(events_adapter().dump_json(list(journal))) == list(
        journal
    )
