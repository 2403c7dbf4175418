"""Several writers on one session, in separate processes or connections: nothing is lost."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

from tether.sessions import PostgresSession, RedisSession, SQLiteSession

from .stores import new_id

BATCHES = 40
BATCH = 3

# Each worker says it is ready (imports done), then waits for the "go" file, so
# both really write at once and race to create the database file and its table.
_WORKER = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from tether.sessions import SQLiteSession

    db, worker, go, batches, size = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:])

    async def main():
        session = SQLiteSession("shared", db)
        print("ready", flush=True)
        while not os.path.exists(go):
            time.sleep(0.005)
        for b in range(batches):
            await session.add_items(
                [{"worker": worker, "batch": b, "part": p} for p in range(size)]
            )
        await session.close()

    asyncio.run(main())
    """
)


def expected(workers: list[str]) -> list[tuple[str, int, int]]:
    return sorted((w, b, p) for w in workers for b in range(BATCHES) for p in range(BATCH))


def assert_batches_contiguous(items: list[dict[str, object]]) -> None:
    for start in range(0, len(items), BATCH):
        batch = items[start : start + BATCH]
        assert len({(i["worker"], i["batch"]) for i in batch}) == 1, batch
        assert [i["part"] for i in batch] == list(range(BATCH))


async def test_two_processes_append_to_one_sqlite_file(tmp_path: Path) -> None:
    db, go = tmp_path / "shared.db", tmp_path / "go"
    workers = [
        await asyncio.create_subprocess_exec(
            *(sys.executable, "-c", _WORKER, str(db), name, str(go), str(BATCHES), str(BATCH)),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for name in ("a", "b")
    ]
    for worker in workers:
        assert worker.stdout is not None
        await asyncio.wait_for(worker.stdout.readline(), timeout=60)
    go.touch()
    for worker in workers:
        _, err = await asyncio.wait_for(worker.communicate(), timeout=120)
        assert worker.returncode == 0, err.decode()

    async with SQLiteSession("shared", db) as reader:
        items = await reader.get_items()
    assert sorted((i["worker"], i["batch"], i["part"]) for i in items) == expected(["a", "b"])
    assert_batches_contiguous(items)
    # Each writer's batches are in the order it wrote them.
    for name in ("a", "b"):
        mine = [i["batch"] for i in items if i["worker"] == name and i["part"] == 0]
        assert mine == list(range(BATCHES))


async def _append_all(session: PostgresSession | RedisSession, worker: str) -> None:
    for b in range(BATCHES):
        await session.add_items([{"worker": worker, "batch": b, "part": p} for p in range(BATCH)])


async def test_two_clients_append_to_one_postgres_session(postgres_dsn: str) -> None:
    # A table no test has created yet: both clients also race to create it.
    table, sid = f"race_{new_id().replace('-', '_')}", new_id()
    a = PostgresSession(sid, postgres_dsn, table=table)
    b = PostgresSession(sid, postgres_dsn, table=table)
    try:
        await asyncio.gather(_append_all(a, "a"), _append_all(b, "b"))
        async with PostgresSession(sid, postgres_dsn, table=table) as reader:
            items = await reader.get_items()
        assert sorted((i["worker"], i["batch"], i["part"]) for i in items) == expected(["a", "b"])
        assert_batches_contiguous(items)
    finally:
        await a.close()
        await b.close()


async def test_many_sessions_create_one_postgres_table_at_once(postgres_dsn: str) -> None:
    table = f"create_{new_id().replace('-', '_')}"
    sessions = [PostgresSession(new_id(), postgres_dsn, table=table) for _ in range(6)]
    try:
        await asyncio.gather(*(s.add_items([{"n": i}]) for i, s in enumerate(sessions)))
        assert [await s.get_items() for s in sessions] == [[{"n": i}] for i in range(6)]
    finally:
        await asyncio.gather(*(s.close() for s in sessions))


async def test_concurrent_pops_from_two_postgres_clients_take_each_item_once(
    postgres_dsn: str,
) -> None:
    sid = new_id()
    a, b = PostgresSession(sid, postgres_dsn), PostgresSession(sid, postgres_dsn)
    try:
        await a.add_items([{"n": n} for n in range(30)])

        async def drain(session: PostgresSession) -> list[int]:
            taken = []
            while (item := await session.pop_item()) is not None:
                taken.append(item["n"])
            return taken

        got_a, got_b = await asyncio.gather(drain(a), drain(b))
        assert sorted(got_a + got_b) == list(range(30))
    finally:
        await a.close()
        await b.close()


async def test_two_redis_clients_append_and_pop_concurrently(redis_url: str) -> None:
    sid, prefix = new_id(), f"test:{new_id()}"
    a = RedisSession(sid, redis_url, key_prefix=prefix)
    b = RedisSession(sid, redis_url, key_prefix=prefix)
    try:
        await asyncio.gather(_append_all(a, "a"), _append_all(b, "b"))
        items = await a.get_items()
        assert sorted((i["worker"], i["batch"], i["part"]) for i in items) == expected(["a", "b"])
        assert_batches_contiguous(items)

        async def drain(session: RedisSession) -> list[dict[str, object]]:
            taken = []
            while (item := await session.pop_item()) is not None:
                taken.append(item)
            return taken

        got_a, got_b = await asyncio.gather(drain(a), drain(b))
        assert sorted(map(str, got_a + got_b)) == sorted(map(str, items))
    finally:
        await a.close()
        await b.close()
