"""What the ``tether inbox`` options say: the review asked for, edited arguments, limits,
and the call a decision is about when no fingerprint was given."""

from __future__ import annotations

import argparse
import json
from typing import Any, Literal

from ..errors import UserError

__all__ = [
    "Verdict",
    "edited_arguments",
    "rules_limit",
    "shown_call",
    "verdict_of",
    "what",
    "withdrawn_call",
]

Verdict = Literal["released", "replaced", "withheld"]


def shown_call(args: argparse.Namespace, pending: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The pending call the decision is about, as a fresh read of the run shows it, when no
    ``--fingerprint`` was given (``None`` with one: the decision names what was seen)."""
    if args.fingerprint:
        return None
    kind = "output_review" if args.action == "review" else "approval"
    return next(
        (c for c in pending if c["call_id"] == args.call_id and c.get("kind", kind) == kind),
        None,
    )


def withdrawn_call(args: argparse.Namespace, run: dict[str, Any]) -> str | None:
    """The fingerprint of call ``args.call_id`` as a fresh read of the run shows it among the
    decisions that may be withdrawn (``None``: none there; the revoke then says why)."""
    return next(
        (w["fingerprint"] for w in run.get("withdrawable", ()) if w["call_id"] == args.call_id),
        None,
    )


def what(shown: dict[str, Any] | None) -> dict[str, Any]:
    """What a decision resolved from a fresh read applied to, for the user to see."""
    if shown is None:
        return {}
    return {k: shown[k] for k in ("agent", "tool", "arguments", "fingerprint") if k in shown}


def verdict_of(args: argparse.Namespace) -> tuple[Verdict, str | None]:
    """The review the options ask for, and what the model reads instead (if anything)."""
    if args.release:
        return "released", None
    if args.replace is not None:
        return "replaced", args.replace
    return "withheld", args.withhold or None  # a bare --withhold: the default message


def rules_limit(limit: int) -> int:
    """``--limit`` of ``inbox rules``, checked."""
    if not 1 <= limit <= 500:
        raise UserError(f"--limit is from 1 to 500, not {limit}.")
    return limit


def edited_arguments(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--arguments``: the JSON object an approval runs the call with (``None``: as asked)."""
    text = getattr(args, "arguments", None)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UserError(f"--arguments is not JSON ({exc}); pass a JSON object.") from None
    if not isinstance(value, dict):
        raise UserError("--arguments is a JSON object of the tool's parameters.")
    return value
