"""The approval inbox's missing extra (``ServerDependencyError``, in ``tether.errors``).

An approver the governance policy does not allow gets ``tether.NotAuthorizedError``
(HTTP 403), as everywhere else in tether.
"""

from __future__ import annotations

from ..errors import ServerDependencyError

__all__ = ["ServerDependencyError"]


def need_server_extra(exc: ImportError) -> ServerDependencyError:
    return ServerDependencyError(
        f"The approval inbox needs the 'server' extra ({exc.name} is missing): "
        "pip install 'tether[server]'."
    )
