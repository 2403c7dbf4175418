"""Agents for ``tether replay`` (tests/test_replay.py): ``shop``, the agent a run was
recorded with; ``shop_repriced``, the same agent after its ``price`` tool changed;
``lead``, which asks ``clerk`` (an agent used as a tool, whose order needs approval) and
whose clerk's real model counts its calls in ``REAL_MODEL_CALLS``; and ``ORDERS``, what
``place_order`` did in this process (a tool that really runs)."""

from __future__ import annotations

from tether import Agent, function_tool
from tether.items import Item
from tether.models import ModelRequest
from tether.testing import FunctionModel, message, tool_call

ORDERS: list[tuple[str, int]] = []


@function_tool
def price(item: str) -> str:
    """The price of one item, in euros."""
    return f"{item}: 12"


@function_tool(name="price")
def price_raised(item: str) -> str:
    """The price of one item, in euros (after the price rise)."""
    return f"{item}: 15"


@function_tool(needs_approval=True, editable=True)
def place_order(item: str, quantity: int) -> str:
    """Order ``quantity`` of ``item`` (a person approves, and may change the quantity)."""
    ORDERS.append((item, quantity))
    return f"ordered {quantity} {item}"


shop = Agent(name="Shop", tools=[price, place_order])
shop_repriced = Agent(name="Shop", tools=[price_raised, place_order])

SCRIPT = [
    tool_call("price", {"item": "tea"}, "c_price"),
    tool_call("place_order", {"item": "tea", "quantity": 2}, "c_order"),
    message("Ordered the tea."),
]
"""A price look-up, an order a person approves (with another quantity), a message."""


@function_tool(name="price", review_output=True)
def price_reviewed(item: str) -> str:
    """The price of one item, which a person reviews before the model reads it."""
    return f"{item}: 12 (cost 7)"


reviewed_shop = Agent(name="Shop", tools=[price_reviewed])
REVIEWED_SCRIPT = [tool_call("price", {"item": "tea"}, "c_price"), message("Tea is 12.")]
"""A look-up whose output a person replaces (the cost is redacted), then a message."""


REAL_MODEL_CALLS: list[int] = []


def _real_model(request: ModelRequest) -> list[Item]:
    """Stands for the clerk's real model: a rerun must never call it."""
    REAL_MODEL_CALLS.append(len(request.input))
    return [message("(the real model answered)")]


CLERK_SCRIPT = [
    tool_call("place_order", {"item": "tea", "quantity": 1}, "n_order"),
    message("1 tea."),
]
LEAD_SCRIPT = [
    tool_call("ask_clerk", {"input": "Order one tea."}, "c_ask"),
    message("The clerk ordered."),
]
"""The lead asks the clerk, whose nested run orders (a person approves), then answers."""


def lead_with(clerk_model: object) -> Agent[None]:
    clerk = Agent(name="Clerk", model=clerk_model, tools=[place_order])  # type: ignore[arg-type]
    return Agent(name="Lead", tools=[clerk.as_tool("ask_clerk", "Ask the clerk.")])


lead = lead_with(FunctionModel(_real_model, name="the clerk's real model"))
