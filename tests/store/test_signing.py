"""Run stores are signed by default: the key comes from the environment or from a key file
kept apart from the data, and a row edited behind the store's back is refused on load."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tether.errors import SigningKeyError, StoreIntegrityError, UserError
from tether.store import SQLiteRunStore

from .backends import Backend
from .test_conformance import asked, begun


@pytest.fixture
def key_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No key in the environment: the key file's default place, under a temporary home."""
    monkeypatch.delenv("TETHER_STORE_KEY")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "tether" / "store.key"


async def _write_run(store: object, run_id: str = "r1") -> None:
    await store.append(run_id, 0, begun(run_id, "c1"))  # type: ignore[attr-defined]
    await store.close()  # type: ignore[attr-defined]


def _edited(text: object) -> str:
    # The first event (run_started) as another agent's: still a valid journal event.
    text = text if isinstance(text, str) else json.dumps(text, separators=(",", ":"))
    assert '"Booker"' in text
    return text.replace('"Booker"', '"Mallory"')


def _edit_first_row(backend: Backend, run_id: str = "r1") -> None:
    query = "SELECT event FROM {events} WHERE run_id = ? AND seq = 1"
    (text,) = backend.raw(query, (run_id,))[0]
    backend.raw(
        "UPDATE {events} SET event = ? WHERE run_id = ? AND seq = 1", (_edited(text), run_id)
    )


async def test_a_store_opened_without_a_key_signs_and_refuses_an_edited_row(
    backend: Backend,
) -> None:
    await _write_run(backend.open())
    assert all(mac for (mac,) in backend.raw("SELECT mac FROM {events}", ()))
    _edit_first_row(backend)
    store = backend.open()
    try:
        with pytest.raises(StoreIntegrityError, match="event 1 does not match its MAC"):
            await store.load("r1")
    finally:
        await store.close()


async def test_the_key_file_is_made_0600_in_a_0700_directory_outside_the_data(
    tmp_path: Path, key_home: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    await _write_run(SQLiteRunStore(data / "runs.db"))
    assert stat.S_IMODE(key_home.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_home.parent.stat().st_mode) == 0o700
    assert {p.name for p in data.iterdir()} <= {
        "runs.db",
        "runs.db-wal",
        "runs.db-shm",
        "runs.db-wake",
    }
    keys = [line for line in key_home.read_text().splitlines() if not line.startswith("#")]
    assert len(keys) == 1 and len(keys[0]) >= 40

    # Edited behind the store's back: refused, by the key in the file.
    with closing(sqlite3.connect(data / "runs.db", isolation_level=None)) as raw:
        (text,) = raw.execute("SELECT event FROM tether_events WHERE seq = 1").fetchone()
        raw.execute("UPDATE tether_events SET event = ? WHERE seq = 1", (_edited(text),))
    store = SQLiteRunStore(data / "runs.db")
    try:
        with pytest.raises(StoreIntegrityError, match="does not match its MAC"):
            await store.load("r1")
    finally:
        await store.close()


def _read_in_child(db: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import asyncio, sys\n"
        "from tether.store import SQLiteRunStore\n"
        "async def main():\n"
        "    store = SQLiteRunStore(sys.argv[1])\n"
        "    try:\n"
        "        print([e.kind for e in (await store.load('r1')).events])\n"
        "    finally:\n"
        "        await store.close()\n"
        "asyncio.run(main())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


async def test_another_process_with_the_same_key_file_reads_the_store(
    tmp_path: Path, key_home: Path
) -> None:
    db = tmp_path / "runs.db"
    await _write_run(SQLiteRunStore(db))
    same = await asyncio.to_thread(_read_in_child, db, dict(os.environ))
    assert same.returncode == 0, same.stderr
    assert same.stdout.strip() == "['run_started', 'model_responded']"

    # With another key file, the same rows do not verify.
    other = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "elsewhere")}
    refused = await asyncio.to_thread(_read_in_child, db, other)
    assert refused.returncode != 0
    assert "StoreIntegrityError" in refused.stderr and "does not match its MAC" in refused.stderr


def test_processes_racing_to_make_the_key_file_all_get_the_same_key(
    tmp_path: Path, key_home: Path
) -> None:
    code = "from tether._signing import default_keys; print(default_keys().signing.decode())"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    outputs = [racer.communicate(timeout=120) for racer in racers]
    assert all(racer.returncode == 0 for racer in racers), outputs
    keys = {out.strip() for out, _ in outputs}
    assert len(keys) == 1 and keys <= set(key_home.read_text().split())
    assert sorted(p.name for p in key_home.parent.iterdir()) == ["store.key"]


def test_a_key_file_others_may_read_is_refused(tmp_path: Path, key_home: Path) -> None:
    key_home.parent.mkdir(parents=True)
    key_home.write_text("a-key\n")
    key_home.chmod(0o644)
    with pytest.raises(SigningKeyError, match=f"mode 0644.*chmod 600 {key_home}"):
        SQLiteRunStore(tmp_path / "runs.db")


async def test_a_key_file_beside_the_store_is_refused_unless_given_as_a_path(
    tmp_path: Path, key_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    beside = tmp_path / "store.key"
    monkeypatch.setenv("TETHER_KEY_FILE", str(beside))
    with pytest.raises(SigningKeyError, match="same directory as the run store"):
        SQLiteRunStore(tmp_path / "runs.db")
    assert not beside.exists()
    beside.write_text("chosen-on-purpose\n")
    beside.chmod(0o600)
    await _write_run(SQLiteRunStore(tmp_path / "runs.db", signing_key=beside))
    store = SQLiteRunStore(tmp_path / "runs.db", signing_key="chosen-on-purpose")
    try:
        assert (await store.load("r1")).seq == 2
    finally:
        await store.close()


async def test_opting_out_stores_forgeable_rows_and_a_signed_store_refuses_them(
    backend: Backend,
) -> None:
    await _write_run(backend.open(signing_key=False))
    assert backend.raw("SELECT mac FROM {events}", ()) == [(None,), (None,)]
    _edit_first_row(backend)
    unsigned = backend.open(signing_key=False)
    try:  # forgeable: the edit is loaded as if tether had written it
        assert (await unsigned.load("r1")).events[0].agent == "Mallory"  # type: ignore[union-attr]
    finally:
        await unsigned.close()
    signed = backend.open()
    try:
        with pytest.raises(StoreIntegrityError, match=r"carries no MAC.*tether store sign"):
            await signed.load("r1")
    finally:
        await signed.close()


async def test_an_unsigned_store_is_signed_once_and_then_protected(backend: Backend) -> None:
    await _write_run(backend.open(signing_key=False), "old")
    store = backend.open()
    try:
        # A run begun after the upgrade is signed from its first row.
        await store.append("new", 0, begun("new", "c1"))
        # The old run takes signed rows too, but loads only once signed.
        await store.append("old", 2, [asked("c1")])
        with pytest.raises(StoreIntegrityError, match="carries no MAC"):
            await store.load("old")
        assert await store.sign() == 1
        assert await store.sign() == 0
        assert (await store.load("old")).seq == 3
        assert (await store.load("new")).seq == 2
        tip = await store.tip("old")
        assert (
            tip.head
            == backend.raw("SELECT mac FROM {events} WHERE run_id = ? AND seq = 3", ("old",))[0][0]
        )
    finally:
        await store.close()
    _edit_first_row(backend, "old")
    again = backend.open()
    try:
        with pytest.raises(StoreIntegrityError, match="event 1 does not match its MAC"):
            await again.load("old")
    finally:
        await again.close()


async def test_tether_store_sign_signs_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    await _write_run(SQLiteRunStore(db, signing_key=False))
    signed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tether.cli", "store", "sign", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.strip() == f"{db}: signed 1 run."
    store = SQLiteRunStore(db)
    try:
        assert (await store.load("r1")).seq == 2
    finally:
        await store.close()


async def test_a_rotation_keeps_old_rows_readable(backend: Backend) -> None:
    await _write_run(backend.open(signing_key="old-key"))
    rotated = backend.open(signing_key=["new-key", "old-key"])
    try:
        await rotated.append("r1", 2, [asked("c1")])
        assert (await rotated.load("r1")).seq == 3
    finally:
        await rotated.close()
    # The new row is signed with the new key: the old key alone no longer verifies it.
    old_only = backend.open(signing_key="old-key")
    try:
        with pytest.raises(StoreIntegrityError, match="event 3 does not match its MAC"):
            await old_only.load("r1")
    finally:
        await old_only.close()


async def test_after_a_rotation_every_run_is_re_signed_and_the_old_key_can_go(
    backend: Backend,
) -> None:
    await _write_run(backend.open(signing_key="old-key"), "a")
    await _write_run(backend.open(signing_key="old-key"), "b")
    _edit_first_row(backend, "b")
    rotated = backend.open(signing_key=["new-key", "old-key"])
    try:
        # An edited run stops the re-signing before anything is written.
        with pytest.raises(StoreIntegrityError, match="'b', event 1 does not match"):
            await rotated.sign(every=True)
        await rotated.delete("b")
        assert await rotated.sign(every=True) == 1
    finally:
        await rotated.close()
    new_only = backend.open(signing_key="new-key")
    try:
        assert (await new_only.load("a")).seq == 2
    finally:
        await new_only.close()


async def test_a_key_file_of_several_keys_signs_with_the_first(
    tmp_path: Path, key_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "data" / "runs.db"
    db.parent.mkdir()
    await _write_run(SQLiteRunStore(db, signing_key="old-key"))
    key_home.parent.mkdir(parents=True, mode=0o700)
    key_home.write_text("# newest first\nnew-key\nold-key\n")
    key_home.chmod(0o600)
    store = SQLiteRunStore(db)
    try:
        await store.append("r1", 2, [asked("c1")])
        assert (await store.load("r1")).seq == 3
    finally:
        await store.close()
    monkeypatch.setenv("TETHER_STORE_KEY", "new-key old-key")
    from_env = SQLiteRunStore(db)
    try:
        assert (await from_env.load("r1")).seq == 3
    finally:
        await from_env.close()
    old_only = SQLiteRunStore(db, signing_key="old-key")
    try:
        with pytest.raises(StoreIntegrityError, match="event 3 does not match"):
            await old_only.load("r1")
    finally:
        await old_only.close()


@pytest.mark.parametrize("bad", [True, "", b"", [], ["k", ""], 42])
def test_a_signing_key_that_is_no_key_is_refused(tmp_path: Path, bad: object) -> None:
    with pytest.raises(UserError, match=r"signing_key|signing key"):
        SQLiteRunStore(tmp_path / "runs.db", signing_key=bad)  # type: ignore[arg-type]


def test_a_key_file_read_once_is_read_again_when_it_changes(key_home: Path) -> None:
    from tether._signing import default_keys

    key_home.parent.mkdir(parents=True, mode=0o700)
    key_home.write_text("first-key\n")
    key_home.chmod(0o600)
    assert default_keys().all == (b"first-key",)
    assert default_keys().all == (b"first-key",)  # the same file: kept, not read again
    key_home.write_text("second-key\nfirst-key\n")  # a rotation, in this process's lifetime
    assert default_keys().all == (b"second-key", b"first-key")
    key_home.chmod(0o640)  # a changed mode is checked again, though the keys are known
    with pytest.raises(SigningKeyError, match="mode 0640"):
        default_keys()
