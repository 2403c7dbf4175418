"""The built-in authenticators: API tokens (from configuration or the environment) and a
trusted proxy's headers, each giving an ``Approver`` with roles."""

from __future__ import annotations

import pytest

from tether import Approver, UserError
from tether.server import ProxyHeaderAuth, TokenAuth, any_of


def test_tokens_map_bearer_credentials_to_approvers_with_roles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TETHER_API_TOKENS", " t1=ana:finance+ops , t2=ben ")
    auth = TokenAuth.from_env()
    assert auth({"authorization": "Bearer t1"}) == Approver("ana", roles={"finance", "ops"})
    assert auth({"authorization": "bearer t2"}) == Approver("ben")
    assert auth({"authorization": "Bearer t3"}) is None
    assert auth({"authorization": "Basic t1"}) is None
    assert auth({}) is None
    configured = TokenAuth({"t4": Approver("carla", "Carla", roles={"finance"}), "t5": "dan"})
    assert configured({"authorization": "Bearer t4"}) == Approver(
        "carla", "Carla", roles={"finance"}
    )
    assert configured({"authorization": "Bearer t5"}) == Approver("dan")


def test_a_malformed_token_list_says_how_to_write_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETHER_API_TOKENS", "t1=ana,justatoken")
    with pytest.raises(UserError, match="holds 'justatoken'; write comma-separated token=approver"):
        TokenAuth.from_env()
    monkeypatch.setenv("TETHER_API_TOKENS", "t1=:finance")
    with pytest.raises(UserError, match=r"token=ana:finance\+ops"):
        TokenAuth.from_env()
    with pytest.raises(UserError, match="must be non-empty"):
        TokenAuth({"": "ana"})


def test_proxy_headers_name_the_approver_and_roles_and_any_of_tries_in_turn() -> None:
    proxy = ProxyHeaderAuth(
        "X-Remote-User", roles_header="X-Remote-Groups", name_header="X-Remote-Name"
    )
    assert proxy(
        {"x-remote-user": "carla", "x-remote-groups": "finance, ops,", "x-remote-name": "Carla"}
    ) == Approver("carla", "Carla", roles={"finance", "ops"})
    assert proxy({"x-remote-user": "carla"}) == Approver("carla")
    assert proxy({"x-remote-user": "  ", "x-remote-groups": "finance"}) is None
    assert ProxyHeaderAuth()({"x-forwarded-user": "dan", "x-remote-groups": "x"}) == Approver(
        "dan"
    )  # roles only from a roles header the application named
    both = any_of(TokenAuth({"t1": "ana"}), proxy)
    assert both({"authorization": "Bearer t1", "x-remote-user": "carla"}) == Approver("ana")
    assert both({"x-remote-user": "carla"}) == Approver("carla")
    assert both({}) is None
