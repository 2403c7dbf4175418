"""A ``backend`` fixture that runs each store test on SQLite and on PostgreSQL (and, for
the modules that ask, ``sqlite-inline``: a SQLite store whose transactions run on the
event loop's thread)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .backends import Backend, FakeClock, postgres_backend, sqlite_backend


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request, tmp_path)


def make_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The backend ``request.param`` names, on a fresh database."""
    clock = FakeClock()
    if request.param == "sqlite":
        return sqlite_backend(tmp_path / "runs.db", clock)
    if request.param == "sqlite-inline":
        return sqlite_backend(tmp_path / "runs.db", clock, inline=True)
    return postgres_backend(request.getfixturevalue("postgres_dsn"), clock)
