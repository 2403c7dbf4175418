"""The web page's templates, their filters, and an HTML response with its security headers."""

from __future__ import annotations

import json
import pathlib
import secrets
from datetime import datetime
from typing import Any

from .._errors import need_server_extra
from .._pending import PendingCall

try:
    import jinja2
    from fastapi.responses import HTMLResponse
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise need_server_extra(exc) from exc

__all__ = ["page"]

TEMPLATES = pathlib.Path(__file__).parent.parent / "templates"


def page(name: str, values: dict[str, Any], status: int = 200) -> HTMLResponse:
    """Template ``name`` rendered with ``values``, with a Content-Security-Policy."""
    # Only our own inline script runs (it carries this response's nonce): should anything
    # ever slip past escaping, the browser would not execute it.
    nonce = secrets.token_urlsafe(16)
    html = _ENV.get_template(name).render(**values, nonce=nonce)
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": f"default-src 'self'; script-src 'nonce-{nonce}'; "
            "img-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
            "form-action 'self'; base-uri 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


def _pretty(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except ValueError:
        return arguments


def _summary(arguments: str, width: int = 80) -> str:
    try:
        parsed = json.loads(arguments)
    except ValueError:
        text = arguments
    else:
        if isinstance(parsed, dict):
            text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in parsed.items())
        else:
            text = json.dumps(parsed, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def _left(call: PendingCall, now: datetime) -> str:
    """Time left before the call's approval expires, in words."""
    left = call.seconds_left(now)
    if left is None:
        return "no deadline"
    if left <= 0:
        return "expired"
    return f"{_span(int(left))} left"


def _age(moment: datetime, now: datetime) -> str:
    return _span(max(0, int((now - moment).total_seconds())))


def _span(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,  # everything from a model or a tool is escaped
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["pretty"] = _pretty
_ENV.filters["summary"] = _summary
_ENV.filters["age"] = _age
_ENV.filters["left"] = _left
