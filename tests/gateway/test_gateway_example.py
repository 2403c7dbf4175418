"""examples/gateway runs as its docs say: a client through the gateway, an approver between."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_the_gateway_example_runs_offline() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "gateway" / "try_it.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "Tools:          balance, pay"
    assert "balance:        acme: 1200 EUR" in lines
    assert any(line.startswith("Client waits:   waiting for approval by finance") for line in lines)
    assert lines[-1] == "pay:            Paid 250 EUR to acme; its balance is 1450 EUR."
