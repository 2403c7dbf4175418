"""Every duration tether takes is seconds or a ``timedelta``, the same everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tether import Agent, Governance, RetryPolicy, StandingApproval, grant_standing_approval
from tether.approvals import MemoryRuleBook, RuleScope
from tether.errors import AgentDefinitionError, UserError
from tether.tools import function_tool

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@function_tool(needs_approval=True)
def wire(amount: int) -> str:
    """Send money."""
    return "sent"


@pytest.mark.parametrize("value", [3600, 3600.0, timedelta(hours=1)])
def test_an_approval_timeout_is_seconds_or_a_timedelta(value: float | timedelta) -> None:
    assert Governance(approval_timeout=value).approval_timeout == timedelta(hours=1)


@pytest.mark.parametrize("value", [0, -5, float("nan"), float("inf"), True, "1h"])
def test_a_duration_that_is_not_one_is_refused_with_what_to_give(value: object) -> None:
    with pytest.raises(UserError, match="approval_timeout must be"):
        Governance(approval_timeout=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [90, timedelta(seconds=90)])
async def test_a_standing_approval_ends_after_seconds_or_a_timedelta(
    value: float | timedelta,
) -> None:
    agent = Agent(name="Bank", tools=[wire])
    rule: StandingApproval = await grant_standing_approval(
        MemoryRuleBook(),
        agent,
        "wire",
        by="ana",
        scope=RuleScope.agent(),
        match={},
        expires_at=value,
        governance=Governance(clock=lambda: NOW),
    )
    assert rule.expires_at == NOW + timedelta(seconds=90)


@pytest.mark.parametrize("value", [90, timedelta(seconds=90)])
def test_a_tools_approval_timeout_is_seconds_or_a_timedelta(value: float | timedelta) -> None:
    @function_tool(needs_approval=True, approval_timeout=value)
    def refund(order: str) -> str:
        """Refund an order."""
        return "refunded"

    assert refund.approval_timeout == timedelta(seconds=90)
    with pytest.raises(AgentDefinitionError, match="approval_timeout must be"):
        function_tool(needs_approval=True, approval_timeout=timedelta(0))(wire.function)


def test_a_durable_apps_approval_timeout_is_seconds_or_a_timedelta() -> None:
    from tether.dbos import DBOSApp

    agent = Agent(name="Bank", tools=[wire])
    for value in (3600, timedelta(hours=1)):
        app = DBOSApp(
            [agent],
            store=lambda: None,
            system_database_url="sqlite:///unused.sqlite",
            approval_timeout=value,
        )
        assert app.approval_timeout == 3600.0
    with pytest.raises(UserError, match="approval_timeout must be"):
        DBOSApp(
            [agent],
            store=lambda: None,
            system_database_url="sqlite:///unused.sqlite",
            approval_timeout="1d",
        )


def test_a_retry_backoff_is_seconds_or_a_timedelta() -> None:
    assert RetryPolicy(backoff=timedelta(seconds=5)).backoff == timedelta(seconds=5)
    with pytest.raises(UserError):
        RetryPolicy(backoff=timedelta(seconds=-1))


def test_journaled_times_are_fixed_width_utc_so_text_order_is_time_order() -> None:
    from tether._duration import iso_utc

    east = timezone(timedelta(hours=5, minutes=30))
    moments = [
        datetime(2026, 12, 6, 21, 45, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 12, 6, 21, 45, 0, 1, tzinfo=UTC),
        datetime(2026, 12, 7, 3, 15, 0, 2, tzinfo=east),  # 21:45:00.000002 UTC
        datetime(2026, 12, 6, 21, 45, 1, tzinfo=UTC),
    ]
    texts = [iso_utc(moment) for moment in moments]
    assert texts[0] == "2026-12-06T21:45:00.000000+00:00"
    assert texts[2] == "2026-12-06T21:45:00.000002+00:00"
    assert len(set(map(len, texts))) == 1 and texts == sorted(texts)
    assert [datetime.fromisoformat(text) for text in texts] == moments
