"""What one scenario's log says: duplicates, unapproved runs, lost decisions, doubt."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Outcome", "judge"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to the outside world when the run was killed at ``point``."""

    point: str
    """Where the process was killed (``"clean run"`` for the run that was not)."""
    executions: int = 0
    """Tool bodies run beyond the first for one call (raw, whatever the key)."""
    distinct_keys: int = 0
    """Of those, runs with an idempotency key the call had not had before."""
    duplicates: int = 0
    """Runs beyond the first that the key does not make safe: the call had more than one
    key, or a run of its tool did not read ``ctx.idempotency_key``."""
    unapproved: int = 0
    """Tool bodies run for a call that a person was asked about and did not approve."""
    lost: int = 0
    """Decisions the approver was told were saved that the run does not hold."""
    in_doubt: tuple[str, ...] = ()
    """Calls (``tool:call_id``) no declaration of their tool could settle."""
    status: str = ""
    """How the stored run ended (``completed``, ``failed``...)."""
    problem: str | None = None
    """A process that did not end as it should, and why."""
    details: tuple[str, ...] = ()
    """One line per duplicate, unapproved run or lost decision."""

    @property
    def failed(self) -> bool:
        """Whether the outside world saw something it must not (or a process failed)."""
        return bool(self.duplicates or self.unapproved or self.lost or self.problem)

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return asdict(self) | {"failed": self.failed}


def judge(point: str, lines: list[dict[str, Any]], problem: str | None = None) -> Outcome:
    """The outcome of a scenario from its log's lines (the killed process's and the
    recovering process's)."""
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        if line["e"] == "exec":
            runs[line["call"]].append(line)
    end = next((line for line in reversed(lines) if line["e"] == "end"), None)
    if end is None:
        return Outcome(point, problem=problem or "the run was not brought to an end")
    details: list[str] = []
    extra = keys = duplicates = 0
    for call, done in runs.items():
        distinct = {line["key"] for line in done}
        extra += len(done) - 1
        keys += len(distinct) - 1
        if len(done) > 1 and (len(distinct) > 1 or not all(line["read_key"] for line in done)):
            duplicates += len(done) - 1
            details.append(f"{done[0]['tool']} ran {len(done)} times for call {call}")
    unapproved = _unapproved(runs, end, details)
    lost = _lost(lines, end, details)
    doubted = (f"{line['tool']}:{line['call']}" for line in lines if line["e"] == "doubt")
    doubt = tuple(dict.fromkeys(doubted))
    counts = (extra, keys, duplicates, unapproved, lost)
    return Outcome(point, *counts, doubt, end["status"], problem, tuple(details))


def _unapproved(runs: dict[str, list[dict[str, Any]]], end: dict[str, Any], out: list[str]) -> int:
    approved = {d["call"] for d in end["decisions"] if d["approved"]}
    count = 0
    for call in set(end["requested"]) - approved:
        for line in runs.get(call, []):
            count += 1
            out.append(f"{line['tool']} ran for call {call}, which was not approved")
    return count


def _lost(lines: list[dict[str, Any]], end: dict[str, Any], out: list[str]) -> int:
    kept = {(d["call"], d["approved"], d["by"]) for d in end["decisions"]}
    count = 0
    for line in lines:
        if line["e"] == "decided" and (line["call"], line["approved"], line["by"]) not in kept:
            count += 1
            verdict = "approval" if line["approved"] else "rejection"
            out.append(f"the {verdict} of call {line['call']} by {line['by']} was lost")
    return count
