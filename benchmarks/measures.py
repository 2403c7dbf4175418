"""What the benchmarks measure and how results are reported: sizes, metrics, results.

Shared by the driver (``run.py``) and by both SDKs' workload scripts through
``workloads.py``. Standard library only: the reference SDK's virtual
environment imports it too.
"""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

WORKLOADS = ("per_turn", "hitl", "session", "memory", "import", "checkpoint")
"""Every workload, in the order a script runs them."""

# -- sizes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How big each workload is and how often it is repeated."""

    short_turns: int
    long_turns: int
    session_items: int
    paused_runs: int
    checkpoint_turns: int
    warmups: int
    turn_reps: int
    hitl_reps: int
    session_reps: int
    memory_reps: int
    import_reps: int
    checkpoint_reps: int


FULL = Sizes(
    short_turns=10,
    long_turns=50,
    session_items=1000,
    paused_runs=1000,
    checkpoint_turns=1000,
    warmups=3,
    turn_reps=20,
    hitl_reps=10,
    session_reps=3,
    memory_reps=3,
    import_reps=7,
    checkpoint_reps=1,
)

QUICK = Sizes(
    short_turns=3,
    long_turns=6,
    session_items=20,
    paused_runs=20,
    checkpoint_turns=20,
    warmups=1,
    turn_reps=3,
    hitl_reps=2,
    session_reps=1,
    memory_reps=1,
    import_reps=2,
    checkpoint_reps=1,
)


def choose_sizes(quick: bool, checkpoint_turns: int | None = None) -> Sizes:
    """The sizes of a run: ``QUICK`` or ``FULL``, with the checkpoint workload's turns changed."""
    chosen = QUICK if quick else FULL
    if checkpoint_turns is not None:
        chosen = replace(chosen, checkpoint_turns=checkpoint_turns)
    return chosen


HISTORIES = (0, 10, 100, 1000)
"""Items of prior history for the human-in-the-loop cycle (the same in every mode)."""

MEMORY_HISTORY = 10
"""Items of prior history of each paused run held in memory."""

TOOL_KINDS = ("sync", "async", "twenty")
"""One sync tool, one async tool, or twenty sync tools (called in turn)."""

HITL_STEPS = ("run_to_interruption", "serialise", "load", "approve", "resume")

# -- metrics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    """``us`` and ``ms`` are recorded from nanoseconds, ``KB`` from bytes."""
    tether_only: bool = False


_SCALE = {"us": 1e3, "ms": 1e6, "KB": 1e3}


def metrics(sizes: Sizes) -> list[Metric]:
    """Every metric a workload script reports, in table order; lower is better for all."""
    out: list[Metric] = []
    tool_label = {"sync": "1 sync tool", "async": "1 async tool", "twenty": "20 tools"}
    for length, turns in (("short", sizes.short_turns), ("long", sizes.long_turns)):
        for kind in TOOL_KINDS:
            out.append(
                Metric(
                    f"per_turn.{length}.{kind}",
                    f"per turn, {turns}-turn run, {tool_label[kind]}",
                    "us",
                )
            )
    out.append(
        Metric(
            "per_turn.short.sync.scripted_model",
            f"per turn, {sizes.short_turns}-turn run, 1 sync tool, tether.testing.ScriptedModel",
            "us",
            tether_only=True,
        )
    )
    for history in HISTORIES:
        for step in (*HITL_STEPS, "cycle"):
            out.append(Metric(f"hitl.{history}.{step}", f"HITL {history} items: {step}", "ms"))
        out.append(Metric(f"hitl.{history}.state_size", f"HITL {history} items: state", "KB"))
    n = sizes.session_items
    out.append(Metric("session.append", f"SQLite session: append 1 item (x{n})", "us"))
    out.append(Metric("session.read", f"SQLite session: read all {n} items", "ms"))
    out.append(
        Metric(
            "memory.paused_run",
            f"memory per paused run ({sizes.paused_runs} loaded, {MEMORY_HISTORY} items)",
            "KB",
        )
    )
    out.append(Metric("import", "import time (fresh process)", "ms"))
    n = sizes.checkpoint_turns
    early, late = windows(n)
    checkpoint = [
        ("full", "full save (to_string + write)", False),
        ("append", "append-only save (new events)", True),
    ]
    for name, what, tether_only in checkpoint:
        out += [
            Metric(f"checkpoint.{name}.total", f"{what}: all {n} saves", "ms", tether_only),
            Metric(
                f"checkpoint.{name}.early", f"{what}: turn {early[0]}-{early[1]}", "us", tether_only
            ),
            Metric(
                f"checkpoint.{name}.late", f"{what}: turn {late[0]}-{late[1]}", "us", tether_only
            ),
            Metric(
                f"checkpoint.{name}.bytes_late", f"{what}: bytes at turn {n}", "KB", tether_only
            ),
        ]
    out += [
        Metric("checkpoint.to_state.early", f"result.to_state(): turn {early[0]}-{early[1]}", "us"),
        Metric("checkpoint.to_state.late", f"result.to_state(): turn {late[0]}-{late[1]}", "us"),
    ]
    return out


def windows(turns: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The turns (1-based, inclusive) whose saves give the 'early' and 'late' medians."""
    early = (max(1, min(10, turns) - 4), min(turns, 15))
    late = (max(1, turns - 9), turns)
    return early, late


# -- measurement --------------------------------------------------------------------------


@dataclass
class Results:
    """Samples per metric, in the metric's unit, and metrics that could not run."""

    sdk: str
    version: str
    sizes: Sizes
    samples: dict[str, list[float]] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, raw: float) -> None:
        """Record one sample, given in nanoseconds (``us``/``ms``) or bytes (``KB``)."""
        unit = _units(self.sizes)[key]
        self.samples.setdefault(key, []).append(raw / _SCALE[unit])

    def to_json(self) -> dict[str, Any]:
        return {
            "sdk": self.sdk,
            "version": self.version,
            "python": platform.python_version(),
            "sizes": asdict(self.sizes),
            "metrics": {
                key: {"median": statistics.median(values), "samples": values}
                for key, values in self.samples.items()
            },
            "pending": self.pending,
        }


def _units(sizes: Sizes) -> dict[str, str]:
    return {m.key: m.unit for m in metrics(sizes)}


def machine() -> dict[str, Any]:
    """Facts about the machine a run was taken on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
