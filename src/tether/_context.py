"""The run context handed to tools and dynamic instructions, and token usage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["RunContext", "Usage"]

TContext = TypeVar("TContext")


@dataclass(frozen=True, slots=True)
class Usage:
    """Requests and tokens used by model calls. Usages add up with ``+``."""

    requests: int = 0
    """Number of model responses."""
    input_tokens: int = 0
    """Tokens the model read."""
    output_tokens: int = 0
    """Tokens the model wrote."""
    total_tokens: int = 0
    """Input and output tokens together, as the provider reported them."""

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            requests=self.requests + other.requests,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


@dataclass(slots=True)
class RunContext(Generic[TContext]):
    """What a tool or a dynamic instruction can see of the run.

    Declare a first parameter typed ``RunContext[MyContext]`` on a tool to receive it.
    """

    context: TContext
    """The object passed as ``context=`` to ``Runner.run``."""
    usage: Usage = field(default_factory=Usage)
    """Usage of the run so far, resumes included."""
    agent_name: str = ""
    """The agent that is running."""
    turn: int = 0
    """Model responses so far in this run, resumes included."""
