"""Errors of the approval inbox (``tether.server``).

TetherError
└── UserError
    └── ServerDependencyError   the ``server`` extra is not installed (also an ImportError)

An approver the governance policy does not allow gets ``tether.NotAuthorizedError``
(HTTP 403), as everywhere else in tether.
"""

from __future__ import annotations

from ..errors import UserError

__all__ = ["ServerDependencyError"]


class ServerDependencyError(UserError, ImportError):
    """The approval inbox needs ``pip install 'tether[server]'``."""


def need_server_extra(exc: ImportError) -> ServerDependencyError:
    return ServerDependencyError(
        f"The approval inbox needs the 'server' extra ({exc.name} is missing): "
        "pip install 'tether[server]'."
    )
