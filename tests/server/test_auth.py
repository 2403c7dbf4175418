"""The built-in authenticators: API tokens (from configuration or the environment) and a
trusted proxy's header."""

from __future__ import annotations

import pytest

from tether import UserError
from tether.server import ProxyHeaderAuth, TokenAuth, any_of


def test_tokens_map_bearer_credentials_to_approvers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETHER_API_TOKENS", " t1=ana , t2=ben ")
    auth = TokenAuth.from_env()
    assert auth({"authorization": "Bearer t1"}) == "ana"
    assert auth({"authorization": "bearer t2"}) == "ben"
    assert auth({"authorization": "Bearer t3"}) is None
    assert auth({"authorization": "Basic t1"}) is None
    assert auth({}) is None


def test_a_malformed_token_list_says_how_to_write_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETHER_API_TOKENS", "t1=ana,justatoken")
    with pytest.raises(UserError, match="holds 'justatoken'; write comma-separated token=approver"):
        TokenAuth.from_env()
    with pytest.raises(UserError, match="must be non-empty"):
        TokenAuth({"": "ana"})


def test_a_proxy_header_names_the_approver_and_any_of_tries_in_turn() -> None:
    proxy = ProxyHeaderAuth("X-Remote-User")
    assert proxy({"x-remote-user": "carla"}) == "carla"
    assert proxy({"x-remote-user": "  "}) is None
    both = any_of(TokenAuth({"t1": "ana"}), proxy)
    assert both({"authorization": "Bearer t1", "x-remote-user": "carla"}) == "ana"
    assert both({"x-remote-user": "carla"}) == "carla"
    assert both({}) is None
