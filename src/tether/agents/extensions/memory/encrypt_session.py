"""``agents.extensions.memory.encrypt_session``: a session that stores each item encrypted in
another session, with a time to live. Needs ``pip install 'tether[encrypt]'``.

The cryptography is the ``cryptography`` package's: a key for the session is derived from
the program's key with HKDF-SHA256 (the session id as salt), and each item is a Fernet
token (AES-128-CBC with HMAC-SHA256, and the time it was written) over its JSON text.
The derivation's parameters are the reference SDK's, so that either SDK reads what the
other stored with the same key and session id.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any, Literal, TypedDict, TypeGuard

from ....errors import UserError
from ....items import Item
from ....sessions._codec import encode_items
from ....sessions._errors import MissingDependencyError, SessionError
from ....sessions._protocol import check_limit

try:
    from cryptography.fernet import Fernet, InvalidToken
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("EncryptedSession", "cryptography", "encrypt") from exc

__all__ = ["EncryptedEnvelope", "EncryptedSession"]

_KEY_ID = "hkdf-v1"
_HKDF_INFO = b"agents.session-store.hkdf.v1"


class EncryptedEnvelope(TypedDict):
    """What the underlying session stores for each item: a marker, the format's version,
    which key derivation made the key, and the Fernet token."""

    __enc__: Literal[1]
    v: int
    kid: str
    payload: str


def _is_envelope(item: object) -> TypeGuard[EncryptedEnvelope]:
    return isinstance(item, dict) and item.get("__enc__") == 1 and "payload" in item


def _master_key(encryption_key: str) -> bytes:
    """A Fernet key (32 bytes, URL-safe base64) as its bytes; any other string as its
    UTF-8 bytes (HKDF does not strengthen a password: give it a random key)."""
    if not isinstance(encryption_key, str) or not encryption_key:
        raise UserError("EncryptedSession needs encryption_key: a non-empty string.")
    try:
        raw = base64.urlsafe_b64decode(encryption_key)
    except (binascii.Error, ValueError):
        raw = b""
    return raw if len(raw) == 32 else encryption_key.encode("utf-8")


def _session_cipher(master: bytes, session_id: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=session_id.encode("utf-8"), info=_HKDF_INFO
    ).derive(master)
    return Fernet(base64.urlsafe_b64encode(derived))


class EncryptedSession:
    """Wraps ``underlying_session`` (any session: tether's, or one written for the
    reference): what it stores is an ``EncryptedEnvelope`` per item, and what is read
    back is the items, decrypted. An item older than ``ttl`` seconds, or one this key
    cannot open, is left out of what is read (and dropped by ``pop_item``); an item the
    underlying session holds unencrypted is read as it is.

    ``get_items(limit=n)`` reads the underlying session's latest items in growing
    windows until it has ``n`` it can open; ``max_scan_items`` caps how many it reads
    (a ``SessionError`` when that is not enough to answer).
    """

    def __init__(
        self,
        session_id: str,
        underlying_session: Any,
        encryption_key: str,
        ttl: int = 600,
        max_scan_items: int | None = None,
    ) -> None:
        if max_scan_items is not None and (
            isinstance(max_scan_items, bool)
            or not isinstance(max_scan_items, int)
            or max_scan_items <= 0
        ):
            raise UserError(f"max_scan_items takes None or an int > 0, not {max_scan_items!r}.")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
            raise UserError(f"EncryptedSession's ttl takes a number of seconds > 0, not {ttl!r}.")
        self.session_id = session_id
        self.underlying_session = underlying_session
        self.ttl = ttl
        self.max_scan_items = max_scan_items
        self._cipher = _session_cipher(_master_key(encryption_key), session_id)

    def __getattr__(self, name: str) -> Any:
        # What the wrapper does not define is the underlying session's (``close``, ...).
        if name == "underlying_session":  # not set yet: no recursion
            raise AttributeError(name)
        return getattr(self.underlying_session, name)

    async def get_items(self, limit: int | None = None) -> list[Item]:
        """The items this key opens, oldest first; with ``limit``, the latest ``limit``."""
        limit = check_limit(limit)
        if limit == 0:
            return []
        if limit is None:
            if self.max_scan_items is None:
                return self._open_all(await self.underlying_session.get_items())
            window = self.max_scan_items + 1  # one more: to tell "all" from "too many"
            raw = await self.underlying_session.get_items(limit=window)
            if len(raw) == window:
                raise self._over_budget()
            return self._open_all(raw)
        window = limit
        while True:
            if self.max_scan_items is not None:
                window = min(window, self.max_scan_items)
            raw = await self.underlying_session.get_items(limit=window)
            items = self._open_all(raw)
            if len(items) >= limit or len(raw) < window:  # enough, or the whole store
                return items[-limit:]
            if window == self.max_scan_items:
                raise self._over_budget()
            window = max(window * 2, math.ceil(window * limit / max(len(items), 1)))

    async def add_items(self, items: list[Item]) -> None:
        """Encrypt a batch and hand it to the underlying session in one ``add_items``."""
        texts = encode_items(items)  # checks the whole batch before anything is stored
        envelopes: list[Any] = [self._seal(text) for text in texts]
        if envelopes:
            await self.underlying_session.add_items(envelopes)

    async def pop_item(self) -> Item | None:
        """Remove and return the newest item this key opens (dropping newer ones it cannot:
        expired), or ``None`` when there is none."""
        while True:
            raw = await self.underlying_session.pop_item()
            if raw is None:
                return None
            item = self._open(raw)
            if item is not None:
                return item

    async def clear(self) -> None:
        """Remove every item of the underlying session."""
        clear = getattr(self.underlying_session, "clear", None)
        if clear is None:
            clear = self.underlying_session.clear_session
        await clear()

    async def clear_session(self) -> None:
        """The reference SDK's name for ``clear()``."""
        await self.clear()

    # -- inside --------------------------------------------------------------

    def _seal(self, text: str) -> EncryptedEnvelope:
        token = self._cipher.encrypt(text.encode("utf-8")).decode("ascii")
        return {"__enc__": 1, "v": 1, "kid": _KEY_ID, "payload": token}

    def _open(self, raw: Any) -> Item | None:
        """The item in ``raw``; ``None`` for one that expired or this key cannot open."""
        if not _is_envelope(raw):
            return raw if isinstance(raw, dict) else None
        try:
            text = self._cipher.decrypt(str(raw["payload"]).encode("ascii"), ttl=self.ttl)
        except (InvalidToken, UnicodeEncodeError):
            return None
        item = json.loads(text)
        return item if isinstance(item, dict) else None

    def _open_all(self, raw: list[Any]) -> list[Item]:
        return [item for item in map(self._open, raw) if item is not None]

    def _over_budget(self) -> SessionError:
        return SessionError(
            f"EncryptedSession {self.session_id!r} read max_scan_items={self.max_scan_items} "
            "stored items without finding enough it can open (expired, or under another "
            "key); raise max_scan_items, or clear the underlying session's old items."
        )
