"""A ``backend`` fixture that runs each store test on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from .backends import Backend, FakeClock, postgres_backend, sqlite_backend


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    clock = FakeClock()
    if request.param == "sqlite":
        return sqlite_backend(tmp_path / "runs.db", clock)
    return postgres_backend(request.getfixturevalue("postgres_dsn"), clock)
