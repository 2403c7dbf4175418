"""The gateway's configuration file: what it reads, and a one-line error naming the key for
everything it cannot use (nothing is started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tether.errors import GatewayConfigError, UserError
from tether.gateway import main, parse_config

GOOD = """
store = "runs.db"
approval_timeout = 3600
approvers = ["ops"]
lease_ttl = 12
input_required = true

[servers.notes]
command = "python"
args = ["notes.py"]
hidden = ["delete_note"]

[servers.notes.tools.write_note]
needs_approval = "always"
approvers = ["finance"]
required_approvals = 2
approval_timeout = 600
editable = true
review_output = true

[servers.remote]
url = "https://tools.example.com/mcp"
headers = { Authorization = "Bearer ${GATEWAY_TEST_TOKEN}" }

[servers.remote.defaults]
needs_approval = { match = { env = "prod" } }
decided_by = "client_or_inbox"
"""


def test_a_whole_configuration_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GATEWAY_TEST_TOKEN", "t0k")
    config = parse_config(GOOD, base=tmp_path)
    assert config.store == str(tmp_path / "runs.db")
    assert config.approvers == frozenset({"ops"})
    assert (config.lease_ttl, config.input_required) == (12.0, True)
    assert config.store_inline  # SQLite commits on the loop's thread unless told otherwise
    assert parse_config("store_inline = false\n" + GOOD, base=tmp_path).store_inline is False
    notes, remote = config.servers["notes"], config.servers["remote"]
    assert notes.hidden == frozenset({"delete_note"})
    write = notes.policy("write_note")
    assert (write.needs_approval, write.approvers, write.required_approvals) == (
        "always",
        frozenset({"finance"}),
        2,
    )
    assert (write.approval_timeout, write.editable, write.review_output) == (600.0, True, True)
    assert notes.policy("read_note").needs_approval == "never"
    assert remote.headers == {"Authorization": "Bearer t0k"}
    assert remote.policy("anything").needs_approval == {"match": {"env": "prod"}}
    assert (remote.policy("anything").decided_by, write.decided_by) == ("client_or_inbox", "inbox")


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('store = "runs.db"', 'stor = "runs.db"'), "stor"),
        (("approval_timeout = 3600", "approval_timeout = -1"), "approval_timeout"),
        (("lease_ttl = 12", 'lease_ttl = "soon"'), "lease_ttl"),
        (("input_required = true", 'input_required = "yes"'), "input_required"),
        (("lease_ttl = 12", "lease_ttl = 12\nstore_inline = 1"), "store_inline"),
        (
            ("lease_ttl = 12", 'lease_ttl = 12\nrequest_state_key_env = "GATEWAY_TEST_SHORT"'),
            "request_state_key_env",
        ),
        (('command = "python"', 'command = "python"\nurl = "http://x"'), "servers.notes"),
        (("required_approvals = 2", "required_approvals = 0"), "required_approvals"),
        (('needs_approval = "always"', 'needs_approval = "sometimes"'), "needs_approval"),
        (('approvers = ["finance"]', 'approvers = "finance"'), "write_note.approvers"),
        (("editable = true", "editable = 1"), "write_note.editable"),
        (('hidden = ["delete_note"]', "hidden = 3"), "servers.notes.hidden"),
        (("review_output = true", "reveiw_output = true"), "write_note.reveiw_output"),
        (("${GATEWAY_TEST_TOKEN}", "${GATEWAY_UNSET_VARIABLE}"), "headers.Authorization"),
        (("[servers.notes]", "[servers.notes]\nunknown = 1"), "servers.notes.unknown"),
        (("args = [", "args = [ 1,"), "servers.notes.args"),
        (("review_output = true", 'review_output = true\ndecided_by = "user"'), "decided_by"),
        # The client's user is one approver: four-eyes (required_approvals = 2) needs the inbox.
        (("review_output = true", 'review_output = true\ndecided_by = "client"'), "decided_by"),
        # journal = false leaves unjournaled only calls that need nobody: none of this tool's.
        (("editable = true", "journal = false"), "write_note.journal"),
        (('needs_approval = "always"\n', "journal = false\n"), "write_note.journal"),  # reviewed
        (("editable = true", 'journal = "no"'), "write_note.journal"),
        (("editable = true", "idempotent = 1"), "write_note.idempotent"),
        (('decided_by = "client_or_inbox"', "trust_idempotent_hint = 1"), "trust_idempotent_hint"),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(
    change: tuple[str, str], key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_TEST_TOKEN", "t0k")
    monkeypatch.delenv("GATEWAY_UNSET_VARIABLE", raising=False)
    monkeypatch.setenv("GATEWAY_TEST_SHORT", "too short a key")
    old, new = change
    assert old in GOOD
    with pytest.raises(GatewayConfigError) as raised:
        parse_config(GOOD.replace(old, new, 1))
    assert isinstance(raised.value, UserError)
    assert raised.value.key is not None and raised.value.key.endswith(key)
    message = str(raised.value)
    assert "\n" not in message and key in message


def test_journal_and_idempotent_are_per_server_and_per_tool() -> None:
    config = parse_config(
        """
store = "runs.db"
[servers.notes]
command = "python"
[servers.notes.defaults]
journal = false
trust_idempotent_hint = true
[servers.notes.tools.write_note]
needs_approval = "always"
[servers.notes.tools.search]
needs_approval = { match = { scope = "all" } }
journal = false
[servers.notes.tools.audit_log]
journal = true
idempotent = true
"""
    )
    notes = config.servers["notes"]
    read, write = notes.policy("read_note"), notes.policy("write_note")
    assert (read.journal, read.idempotent, read.trust_idempotent_hint) == (False, False, True)
    # A tool whose every call waits inherits journal = false harmlessly: its calls are
    # journaled, as every call that waits is.
    assert (write.needs_approval, write.journal) == ("always", False)
    # A match rule with journal = false: the calls it lets through go unjournaled.
    assert notes.policy("search").journal is False
    audit = notes.policy("audit_log")  # the tool's table overrides the server's
    assert (audit.journal, audit.idempotent, audit.trust_idempotent_hint) == (True, True, True)
    default = parse_config('store = "x.db"\n[servers.a]\ncommand = "a"\n').servers["a"]
    fresh = default.policy("t")
    assert (fresh.journal, fresh.idempotent, fresh.trust_idempotent_hint) == (True, False, False)


def test_not_toml_is_refused() -> None:
    with pytest.raises(GatewayConfigError, match="not valid TOML"):
        parse_config("store = ")


def test_the_entry_point_prints_one_line_and_starts_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('store = "runs.db"\n[servers.x]\ncommand = "python"\nargs = "x.py"\n')
    assert main([str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "servers.x.args: must be a list of strings" in err
    assert not (tmp_path / "runs.db").exists()


def test_tether_gateway_is_the_same_entry_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tether.cli import main as tether

    config = tmp_path / "gateway.toml"
    config.write_text('store = "runs.db"\n[servers.x]\ncommand = "python"\nargs = "x.py"\n')
    assert tether(["gateway", str(config), "--transport", "http"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "servers.x.args: must be a list of strings" in err


def test_a_named_client_is_a_stdio_client_with_a_valid_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tether.cli import main as tether

    config = tmp_path / "gateway.toml"
    config.write_text('store = "runs.db"\n[servers.x]\ncommand = "python"\n')
    assert main([str(config), "--client", "ana lee"]) == 2
    assert "--client: 'ana lee' is not a client name" in capsys.readouterr().err
    assert tether(["gateway", str(config), "--transport", "http", "--client", "ana"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "over HTTP each client is named by its bearer token" in err
    assert not (tmp_path / "runs.db").exists()
