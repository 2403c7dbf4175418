"""Errors of the approval inbox (``tether.server``).

TetherError
└── UserError
    ├── NotAllowedError         the approver may not decide this call (HTTP 403)
    └── ServerDependencyError   the ``server`` extra is not installed (also an ImportError)
"""

from __future__ import annotations

from .._exceptions import UserError

__all__ = ["NotAllowedError", "ServerDependencyError"]


class NotAllowedError(UserError):
    """The authenticated approver is not allowed to decide this call; nothing was recorded."""


class ServerDependencyError(UserError, ImportError):
    """The approval inbox needs ``pip install 'tether[server]'``."""


def need_server_extra(exc: ImportError) -> ServerDependencyError:
    return ServerDependencyError(
        f"The approval inbox needs the 'server' extra ({exc.name} is missing): "
        "pip install 'tether[server]'."
    )
