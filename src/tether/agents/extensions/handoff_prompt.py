"""``agents.extensions.handoff_prompt``: a system-prompt preamble for agents that take part
in handoffs.

    instructions = f"{RECOMMENDED_PROMPT_PREFIX}\\nYou answer billing questions."

The preamble is tether's own wording; what it tells the model is the same idea as the
reference SDK's: the agent is one of several, and hands the conversation over by calling
a transfer tool rather than saying so.
"""

from __future__ import annotations

__all__ = ["RECOMMENDED_PROMPT_PREFIX", "prompt_with_handoff_instructions"]

RECOMMENDED_PROMPT_PREFIX = (
    "# Working with other agents\n"
    "You are one agent in a team of agents. Each agent has its own instructions and "
    "tools. When a request belongs to another agent, hand it over by calling the "
    "matching transfer tool (its name begins with transfer_to_). The hand-over happens "
    "quietly: do not tell the user about it or mention other agents; just carry on the "
    "conversation.\n"
)
"""The preamble to put before an agent's own instructions."""


def prompt_with_handoff_instructions(prompt: str) -> str:
    """``prompt`` after ``RECOMMENDED_PROMPT_PREFIX``, on a line of its own."""
    return f"{RECOMMENDED_PROMPT_PREFIX}\n\n{prompt}"
