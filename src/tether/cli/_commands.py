"""The ``tether`` commands: the module that adds each one, and its line in ``tether --help``.

A command's module imports what its command uses (the inbox the server and the stores,
the demo its model, ``state`` the converters), which no other command needs: ``tether``
imports only the module of the command it runs (``build_parser``'s ``lazy``) and lists
the others by their name and help alone, from here.
"""

from __future__ import annotations

__all__ = ["ADDERS", "COMMANDS", "HELP"]

COMMANDS: dict[str, str] = {
    # command: its module under ``tether.cli``; a module's commands stand together, in the
    # order its adder adds them (``tether --help`` lists them in this order).
    "demo": "demo",
    "state": "state",
    "serve": "serve",
    "worker": "serve",
    "inbox": "inbox",
    "audit": "audit",
    "store": "store",
    "gateway": "gateway",
    "crashtest": "crashtest",
    "replay": "replay",
}

ADDERS: dict[str, str] = {
    # module: the function that adds its commands to the ``tether`` parser's subparsers
    "demo": "add_demo_command",
    "state": "add_state_commands",
    "serve": "add_serve_commands",
    "inbox": "add_inbox_command",
    "audit": "add_audit_commands",
    "store": "add_store_commands",
    "gateway": "add_gateway_command",
    "crashtest": "add_crashtest_command",
    "replay": "add_replay_command",
}

HELP: dict[str, str] = {
    "demo": "the weather assistant that asks before it calls a tool",
    "state": "work with saved run states",
    "serve": "serve an App's inbox (JSON API and web page)",
    "worker": "resume an App's runs once they are decided",
    "inbox": "list and decide pending approvals",
    "audit": "audit trails and decision receipts of runs",
    "store": "run store maintenance",
    "gateway": "an MCP server that puts tether's approvals in front of other MCP servers",
    "crashtest": "kill an agent's run at every durable write; count what ran twice",
    "replay": "rerun a stored run with its recorded model responses; diff the outcome",
}
