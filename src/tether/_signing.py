"""Where a run store's (or a saved state's) HMAC keys come from: signed unless opted out.

``signing_key=`` takes a key (``bytes`` or ``str``), several (the first signs, every one
verifies: a rotation), a ``pathlib.Path`` to a key file, ``False`` for unsigned, or
``None`` (the default) for the keys of the environment:

1. ``TETHER_STORE_KEY``: one key, or several separated by spaces (the first signs);
2. else the key file ``TETHER_KEY_FILE`` names, else ``$XDG_CONFIG_HOME/tether/store.key``
   (``~/.config/tether/store.key`` without it): one key a line, the first signs, ``#``
   starts a comment. A missing file is created with a new random key, mode 0600, in a
   directory created 0700.

A key file others may read, or one in the same directory as the store's file, is refused
(``SigningKeyError``): a copy of the data would carry its own key. A ``Path`` given as
``signing_key=`` is taken as the user's explicit choice and is not checked for place.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

from .errors import SigningKeyError, UserError

__all__ = ["KEY_ENV", "KEY_FILE_ENV", "Keys", "SigningKey", "default_key_file", "resolve_keys"]

KEY_ENV = "TETHER_STORE_KEY"
KEY_FILE_ENV = "TETHER_KEY_FILE"

SigningKey: TypeAlias = bytes | str | Path | Sequence[bytes | str] | Literal[False] | None
"""What ``signing_key=`` takes (see the module's docstring)."""


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys to use: ``all[0]`` signs, every one of ``all`` verifies."""

    all: tuple[bytes, ...]

    @property
    def signing(self) -> bytes:
        return self.all[0]


def resolve_keys(given: SigningKey, *, data_dir: str | None = None) -> Keys | None:
    """The keys ``signing_key=given`` stands for, or ``None`` for unsigned (``False``).

    ``data_dir`` is the directory of the store's file: a key file found by default there
    is refused."""
    if given is False:
        return None
    if given is None:
        return default_keys(data_dir)
    if isinstance(given, Path):
        return _read_key_file(given, create=False)
    if isinstance(given, bytes | bytearray | memoryview | str):
        return Keys((_key_bytes(given),))
    if isinstance(given, Sequence) and given and not isinstance(given, bool):
        return Keys(tuple(_key_bytes(key) for key in given))
    raise UserError(
        "signing_key is a key (bytes or str), a list of keys (the first signs), a "
        f"pathlib.Path to a key file, False for unsigned, or None for the default; not {given!r}."
    )


def default_keys(data_dir: str | None = None) -> Keys:
    """The environment's keys: ``TETHER_STORE_KEY``, else the key file (created if missing)."""
    env = os.environ
    text = env.get(KEY_ENV, "").strip()
    if text:
        return _keys_of(text)
    path, name = _env_key_file(env)
    if data_dir is not None and _same_dir(path.parent, Path(data_dir)):
        raise SigningKeyError(
            f"The signing key file {path} is in the same directory as the run store, so a "
            "copy of the data would carry its key. Keep it elsewhere (set "
            f"{KEY_FILE_ENV} or {KEY_ENV}), or pass signing_key=Path({str(path)!r}) to "
            "choose this place on purpose."
        )
    return _read_key_file(path, create=True, name=name)


@functools.lru_cache(maxsize=8)
def _keys_of(text: str) -> Keys:
    # ``TETHER_STORE_KEY``'s keys, made once per value (every save and load asks).
    return Keys(tuple(part.encode() for part in text.split()))


def default_key_file() -> Path:
    """``TETHER_KEY_FILE``, else ``$XDG_CONFIG_HOME/tether/store.key``, else
    ``~/.config/tether/store.key``."""
    return _env_key_file(os.environ)[0]


def _env_key_file(env: Mapping[str, str]) -> tuple[Path, str]:
    # The key file the environment names: its path, and the path as text.
    return _key_file(
        env.get(KEY_FILE_ENV, "").strip(), env.get("XDG_CONFIG_HOME", "").strip(), env.get("HOME")
    )


@functools.lru_cache(maxsize=8)
def _key_file(named: str, config: str, home: str | None) -> tuple[Path, str]:
    # Cached by the variables it reads (every save and load asks); ``home`` is the key only.
    # With the path as text: each save and load stats it, through no ``Path`` method.
    if named:
        path = Path(named).expanduser()
    else:
        base = Path(config) if config else Path.home() / ".config"
        path = base / "tether" / "store.key"
    return path, os.fspath(path)


def new_key_line() -> str:
    """A fresh random key, as a key file's line."""
    return secrets.token_urlsafe(32)


_READ: dict[str, tuple[tuple[int, int, int, int], Keys]] = {}
"""Key files read in this process, by path: what the file was (mtime, size, inode, mode) and
its keys. Every save and load asks for the keys; one ``stat`` tells whether the file changed
(a rotation), instead of reading it each time."""


def _read_key_file(path: Path, *, create: bool, name: str | None = None) -> Keys:
    name = os.fspath(path) if name is None else name  # ``path`` as text
    try:
        try:
            info = os.stat(name)
        except FileNotFoundError:
            if not create:
                raise
            _create_key_file(path)
            info = os.stat(name)
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino, info.st_mode)
        known = _READ.get(name)
        if known is not None and known[0] == stamp:
            return known[1]
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningKeyError(
            f"Cannot read the signing key file {path} ({exc}). Fix the file, or set "
            f"{KEY_ENV} to the key."
        ) from None
    if os.name != "nt" and info.st_mode & 0o077:
        raise SigningKeyError(
            f"The signing key file {path} may be read or written by others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); anyone who reads it can forge the store. "
            f"Run: chmod 600 {path}"
        )
    lines = [line.strip() for line in text.splitlines()]
    keys = tuple(line.encode() for line in lines if line and not line.startswith("#"))
    if not keys:
        raise SigningKeyError(
            f"The signing key file {path} holds no key. Put one key a line in it (the first "
            "signs), or delete the file to have a new one made."
        )
    _READ[name] = (stamp, Keys(keys))
    return _READ[name][1]


def _create_key_file(path: Path) -> None:
    # Written whole under another name, then linked into place: a process racing this one
    # either creates the file or finds it complete, never half written.
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write("# tether's run store signing keys: the first signs, all verify\n")
                file.write(new_key_line() + "\n")
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    except OSError as exc:
        raise SigningKeyError(
            f"Cannot create the signing key file {path} ({exc}). Set {KEY_FILE_ENV} to a "
            f"writable place or {KEY_ENV} to a key, or pass signing_key=False for an "
            "unsigned (forgeable) store."
        ) from None


def _key_bytes(key: object) -> bytes:
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, bytes | bytearray | memoryview) or not bytes(key):
        raise UserError(f"A signing key is non-empty bytes or str, not {key!r}.")
    return bytes(key)


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
