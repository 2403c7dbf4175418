"""``tether`` imports only the module of the command it runs.

Each command's module imports what its command uses (the inbox the server and the stores,
``store`` the stores, ``demo`` its model, ``state`` the converters); the others are listed
by their name and help alone (``tether.cli._commands``). What a person sees is the same:
the lazy parser's help is the full parser's, and each command's own parser is the one the
full parser has.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys

import pytest

from tether.cli import build_parser
from tether.cli._commands import COMMANDS

HEAVY = ("tether.server", "tether.store", "tether._demo", "tether.interop", "tether.crashtest")
"""Packages one command or another uses, and ``tether --help`` does not."""


def _loaded_by(argv: list[str]) -> set[str]:
    """Which of ``HEAVY`` a fresh interpreter has loaded after ``tether ARGV``."""
    probe = (
        "import contextlib, io, sys\n"
        "from tether.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})\n"
        f"print(*(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def _printed(parser: argparse.ArgumentParser, argv: list[str]) -> str:
    """What ``parser`` prints for ``argv`` (a ``--help``) before it exits."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        parser.parse_args(argv)
    return out.getvalue()


def test_help_and_an_unknown_command_import_no_command_module() -> None:
    assert _loaded_by(["--help"]) == set()
    assert _loaded_by(["no-such-command"]) == set()
    assert _loaded_by([]) == set()


def test_a_command_imports_what_it_uses_and_not_what_the_others_use() -> None:
    assert _loaded_by(["store", "--help"]) == {"tether.store"}
    assert _loaded_by(["state", "--help"]) == {"tether.interop"}
    assert _loaded_by(["inbox", "--help"]) == {"tether.server", "tether.store"}


def test_the_lazy_help_is_the_full_parsers() -> None:
    assert build_parser(lazy=True).format_help() == build_parser().format_help()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_commands_help_and_arguments_are_the_full_parsers(command: str) -> None:
    lazy, full = build_parser(command, lazy=True), build_parser()
    assert _printed(lazy, [command, "--help"]) == _printed(full, [command, "--help"])
    argv = [command, *_minimal(command)]
    assert lazy.parse_args(argv) == full.parse_args(argv)  # the same values and command


def _minimal(command: str) -> list[str]:
    """The fewest arguments after ``command`` that parse."""
    return {
        "state": ["convert", "--from", "openai-js", "--to", "tether", "--agent", "a:b", "i", "o"],
        "serve": ["app:app"],
        "worker": ["app:app"],
        "inbox": ["--store", "runs.db", "list"],
        "audit": ["export", "state.json"],
        "store": ["migrate", "runs.db"],
        "gateway": ["gateway.toml"],
        "crashtest": ["module:agent"],
        "replay": ["runs.db", "RUN", "--agent", "module:agent"],
    }.get(command, [])
