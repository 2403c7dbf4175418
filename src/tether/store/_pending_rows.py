"""The ``pending`` table's rows (what the fold says each run waits on): written by an
append in its transaction (``_engine``), rebuilt by upkeep (``_upkeep``) and read back
in the same columns (``_reads``)."""

from __future__ import annotations

from datetime import datetime

from ._dialect import Dialect
from ._projection import Changes, PendingRow
from ._statements import Program, execute_many

__all__ = ["PENDING_COLUMNS", "pending_row", "stamp_or_none", "write"]

PENDING_COLUMNS = (
    "run_id",
    "call_id",
    "agent",
    "tool",
    "arguments",
    "requested_at",
    "expires_at",
    "kind",
    "required_approvals",
    "requested_by",
)


def write(d: Dialect, run_id: str, todo: Changes, now: datetime) -> Program[None]:
    """Apply an append's projection changes (in its transaction): a statement for each kind
    of change there is (a turn's commits change no pending call: none)."""
    if todo.put:
        stamp = d.stamp(now)
        yield execute_many(
            d.sql(d.replace_into("pending", PENDING_COLUMNS, ("run_id", "call_id"))),
            [pending_row(d, run_id, row, stamp) for row in todo.put],
        )
    if todo.update:
        yield execute_many(
            d.sql(
                "UPDATE {pending} SET arguments = :arguments, expires_at = :expires_at, "
                "required_approvals = :required WHERE run_id = :run_id AND call_id = :call_id"
            ),
            [
                {
                    "arguments": row.arguments,
                    "expires_at": stamp_or_none(d, row.expires_at),
                    "required": row.required_approvals,
                    "run_id": run_id,
                    "call_id": row.call_id,
                }
                for row in todo.update
            ],
        )
    if todo.drop:
        yield execute_many(
            d.sql("DELETE FROM {pending} WHERE run_id = :run_id AND call_id = :call_id"),
            [{"run_id": run_id, "call_id": call_id} for call_id in todo.drop],
        )
    # Calls in flight are the status column's business ('in_doubt') since version 7: the
    # in_flight table is no longer written (a page less for each start and completion).


def pending_row(
    d: Dialect, run_id: str, row: PendingRow, requested_at: object
) -> dict[str, object]:
    return dict(
        zip(
            PENDING_COLUMNS,
            row.values(run_id, requested_at, stamp_or_none(d, row.expires_at)),
            strict=True,
        )
    )


def stamp_or_none(d: Dialect, moment: datetime | None) -> object:
    return d.stamp(moment) if moment is not None else None
