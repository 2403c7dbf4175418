"""Real PostgreSQL and Redis servers on loopback, for tests.

Each context manager starts a private server in a fresh temporary directory
on a free port of 127.0.0.1, yields how to reach it, and stops it and
removes the directory afterwards::

    with postgres_server() as pg:
        connect(pg.dsn)
    with redis_server() as redis:
        connect(redis.url)
    with postgres_cluster() as cluster:     # a private server a test may stop and start
        cluster.stop(); cluster.start()

A missing binary raises ``ServiceUnavailable`` naming the install step
(``scripts/install-services.sh``); tests must fail on it, never skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PostgresCluster",
    "PostgresServer",
    "RedisServer",
    "ServiceUnavailable",
    "find_postgres_binary",
    "free_port",
    "postgres_cluster",
    "postgres_server",
    "redis_server",
]

INSTALL_HINT = "Run scripts/install-services.sh (it installs redis-server and checks PostgreSQL)."


class ServiceUnavailable(RuntimeError):
    """A server needed by the tests could not be found or started."""


@dataclass(frozen=True)
class PostgresServer:
    """A running PostgreSQL: superuser ``user``/``password`` and a fresh ``database``."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def dsn(self) -> str:
        """A libpq URL for the test database."""
        return self.dsn_for(password=self.password)

    def dsn_for(self, *, password: str, database: str | None = None) -> str:
        """The DSN with another password or database (to test refused logins, say)."""
        db = database or self.database
        return f"postgresql://{self.user}:{password}@{self.host}:{self.port}/{db}"


@dataclass
class PostgresCluster:
    """A private PostgreSQL that a test may stop and start again (on the same port)."""

    server: PostgresServer
    pg_ctl: str
    owner: pwd.struct_passwd | None
    root: Path
    data: Path

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: connections are cut, as in a restart)."""
        command = [self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"]
        _run(_as_owner(self.owner, command), cwd=self.root, what="pg_ctl stop")

    def start(self) -> None:
        """Start it again on its port (``ServiceUnavailable`` if it cannot)."""
        _start_postgres(self.pg_ctl, self.owner, self.root, self.data, self.server.port)


@dataclass(frozen=True)
class RedisServer:
    """A running Redis without password or persistence."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """A ``redis://`` URL for database 0."""
        return f"redis://{self.host}:{self.port}/0"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_postgres_binary(name: str, *, beside: str | None = None) -> str:
    """``name`` (``initdb``, ``pg_ctl``, ...) from PATH or the newest /usr/lib/postgresql/*/bin.

    With ``beside``, a binary in the same real directory wins, so that every
    tool comes from one installation (Debian's /usr/bin wrappers pick their own).
    """
    if beside is not None:
        sibling = Path(beside).resolve().parent / name
        if os.access(sibling, os.X_OK):
            return str(sibling)
    found = shutil.which(name)
    if found:
        return found
    # Debian installs the server binaries off PATH, one directory per version.
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    candidates.sort(
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0
    )
    if candidates:
        return candidates[-1]
    raise ServiceUnavailable(
        f"PostgreSQL's {name!r} was not found on PATH or under /usr/lib/postgresql/*/bin. "
        f"Install the PostgreSQL server (apt-get install -y postgresql). {INSTALL_HINT}"
    )


@contextlib.contextmanager
def postgres_server(
    *, password: str = "tether-test", database: str = "tether_test"
) -> Iterator[PostgresServer]:
    """Start a throwaway PostgreSQL cluster (initdb + pg_ctl) and drop it on exit."""
    with postgres_cluster(password=password, database=database) as cluster:
        yield cluster.server


@contextlib.contextmanager
def postgres_cluster(
    *, password: str = "tether-test", database: str = "tether_test"
) -> Iterator[PostgresCluster]:
    """``postgres_server``, yielding a ``PostgresCluster`` that can be stopped and started."""
    initdb = find_postgres_binary("initdb")
    pg_ctl = find_postgres_binary("pg_ctl", beside=initdb)
    createdb = find_postgres_binary("createdb", beside=initdb)
    root = Path(tempfile.mkdtemp(prefix="tether-pg-"))
    data = root / "data"
    try:
        owner = _postgres_owner()
        (root / "pwfile").write_text(password + "\n")
        if owner is not None:
            for path in (root, root / "pwfile"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        settings = "-U postgres -E UTF8 --no-locale --auth-local=trust --auth-host=scram-sha-256"
        command = [initdb, "-D", str(data), *settings.split(), f"--pwfile={root / 'pwfile'}"]
        _run(_as_owner(owner, [*command, "--no-sync"]), cwd=root, what="initdb")
        port = _start_postgres(pg_ctl, owner, root, data)
        try:
            env = {**os.environ, "PGPASSWORD": password}
            _run(
                [createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database],
                cwd=root,
                what="createdb",
                env=env,
            )
            server = PostgresServer("127.0.0.1", port, "postgres", password, database)
            yield PostgresCluster(server, pg_ctl, owner, root, data)
        finally:
            subprocess.run(
                _as_owner(owner, [pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]),
                cwd=root,
                capture_output=True,
                timeout=60,
                check=False,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Start a throwaway ``redis-server`` (no persistence) and stop it on exit."""
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if binary is None:
        raise ServiceUnavailable(
            f"'redis-server' was not found. apt-get install -y redis-server. {INSTALL_HINT}"
        )
    root = Path(tempfile.mkdtemp(prefix="tether-redis-"))
    try:
        for _attempt in range(3):  # a free port can be taken between probe and bind
            port = free_port()
            settings = f"--port {port} --bind 127.0.0.1 --appendonly no --daemonize no"
            command = [binary, *settings.split(), "--save", "", "--dir", str(root)]
            command += ["--logfile", str(root / "redis.log")]
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                if _wait_for_redis(proc, port):
                    yield RedisServer("127.0.0.1", port)
                    return
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        raise ServiceUnavailable(
            f"redis-server did not start on 127.0.0.1:\n{_tail(root / 'redis.log')}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _postgres_owner() -> pwd.struct_passwd | None:
    """The OS user to run the cluster as: ``postgres`` when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceUnavailable(
            "Running as root, but there is no 'postgres' OS user to run PostgreSQL as. "
            + INSTALL_HINT
        ) from None


def _as_owner(owner: pwd.struct_passwd | None, command: list[str]) -> list[str]:
    return command if owner is None else ["runuser", "-u", owner.pw_name, "--", *command]


def _start_postgres(
    pg_ctl: str, owner: pwd.struct_passwd | None, root: Path, data: Path, port: int | None = None
) -> int:
    log = root / "postgres.log"
    for _attempt in range(3 if port is None else 1):  # a probed port can be taken meanwhile
        chosen = port or free_port()
        # Durability settings off: the cluster is thrown away, and tests get faster.
        options = (
            f"-p {chosen} -c listen_addresses=127.0.0.1 -k '{root}' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        result = subprocess.run(
            _as_owner(
                owner,
                [pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"],
            ),
            cwd=root,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        if result.returncode == 0:
            return chosen
    raise ServiceUnavailable(
        f"PostgreSQL did not start on 127.0.0.1:\n{_tail(log) or result.stderr}"
    )


def _run(command: list[str], *, cwd: Path, what: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise ServiceUnavailable(
            f"{what} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )


def _wait_for_redis(proc: subprocess.Popen[bytes], port: int, timeout: float = 10.0) -> bool:
    """True once the server answers PING; False if it exited (port taken) or never answered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=1) as sock,
        ):
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return True
        time.sleep(0.05)
    return False


def _tail(log: Path) -> str:
    """The end of a server log, for the error message."""
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""
